package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check.
type Status string

// Outcomes. A check that does not apply to the target (a transport without
// link-layer retransmission, a peer without storage) is skipped with the
// reason, never failed.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is the outcome of one check of the catalogue.
type Result struct {
	ID      string `json:"id"`
	Section string `json:"section"`
	Title   string `json:"title"`
	Status  Status `json:"status"`
	// Sent and Got say what was sent and what came back, in a line each.
	Sent string `json:"sent,omitempty"`
	Got  string `json:"got,omitempty"`
	// Detail is why the check passed, failed or was skipped.
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// SchemaVersion is the version of the JSON report (Report.WriteJSON;
// doc.go documents the schema). It goes up when a field is renamed or
// removed or changes meaning; fields may be added without a change.
const SchemaVersion = 1

// Report is what Run found out about a target.
type Report struct {
	Schema     int       `json:"schema_version"`
	Target     string    `json:"target"`
	Transport  string    `json:"transport"`
	Overlay    string    `json:"overlay"`
	Self       string    `json:"self_node_id"`
	Second     string    `json:"second_node_id,omitempty"`
	PeerNodeID string    `json:"peer_node_id,omitempty"`
	Started    time.Time `json:"started"`
	Results    []Result  `json:"results"`
	Summary    Summary   `json:"summary"`
}

// Summary counts the results by status.
type Summary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Skip  int `json:"skip"`
	Total int `json:"total"`
}

// Counts returns the number of passed, failed and skipped checks.
func (r *Report) Counts() (pass, fail, skip int) {
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
	}
	return pass, fail, skip
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	_, f, _ := r.Counts()
	return f > 0
}

// Result returns the result of check id.
func (r *Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// WriteJSON writes the report as indented JSON, in the schema doc.go
// describes (version SchemaVersion).
func (r *Report) WriteJSON(w io.Writer) error {
	r.Schema = SchemaVersion
	p, f, s := r.Counts()
	r.Summary = Summary{Pass: p, Fail: f, Skip: s, Total: len(r.Results)}
	if r.Results == nil {
		r.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a readable table: one row per check
// (id, status, RFC section, what was sent, what came back), then the
// details of every check that did not pass.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "RELOAD conformance of %s over %s (overlay %s)\n", r.Target, r.Transport, r.Overlay)
	if r.PeerNodeID != "" {
		fmt.Fprintf(w, "peer Node-ID %s, tester Node-ID %s\n", r.PeerNodeID, r.Self)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tRFC\tSENT\tGOT")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.ID, strings.ToUpper(string(res.Status)), res.Section,
			cell(res.Sent), cell(res.Got))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []Result
	for _, res := range r.Results {
		if res.Status != Pass && res.Detail != "" {
			notes = append(notes, res)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nFailed and skipped checks:")
		for _, res := range notes {
			fmt.Fprintf(w, "  %-26s %s: %s\n", res.ID, strings.ToUpper(string(res.Status)), res.Detail)
		}
	}
	p, f, s := r.Counts()
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", p, f, s)
	return err
}

// cell shortens a table cell.
func cell(s string) string {
	const max = 60
	s = strings.ReplaceAll(s, "\t", " ")
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
