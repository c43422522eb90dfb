package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimChurnJSON runs "reload sim --nodes 200 --churn 0.2 --json
// --plot-dir DIR" and checks the report and the plots.
func TestSimChurnJSON(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := runSim([]string{"--nodes", "200", "--churn", "0.2", "--json", "--lookups", "2000", "--plot-dir", dir}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"joining:", "repairing:", "sweep: N=128"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
	var r struct {
		Nodes        int     `json:"nodes"`
		Converged    bool    `json:"converged"`
		ConvergeTick int64   `json:"converge_ticks"`
		MemPerPeer   float64 `json:"memory_per_peer_bytes"`
		Messages     struct {
			HopsPerJoin     float64            `json:"hops_per_join"`
			RequestsPerJoin map[string]float64 `json:"requests_per_join"`
		} `json:"messages"`
		Lookups struct {
			Count, OK int
			MeanHops  float64 `json:"mean_hops"`
			P99Hops   int     `json:"p99_hops"`
			HalfLog2N float64 `json:"half_log2_n"`
			Success   float64
		} `json:"lookups"`
		Churn struct {
			Failed, Survivors int
			During            struct {
				Lookups int
				Success float64
			}
			Reconverged bool
			RepairTicks int64 `json:"repair_ticks"`
			After       struct{ Count, OK int }
			Timeline    []struct{ Tick, Lookups int64 }
		} `json:"churn"`
		Sweep []struct {
			N        int
			MeanHops float64 `json:"mean_hops"`
		} `json:"sweep"`
		Plots []string `json:"plots"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	if r.Nodes != 200 || !r.Converged || r.ConvergeTick < 200 {
		t.Errorf("nodes %d converged %v at %d", r.Nodes, r.Converged, r.ConvergeTick)
	}
	if l := r.Lookups; l.Count != 2000 || l.OK != 2000 || l.MeanHops < 0.8*l.HalfLog2N || l.MeanHops > 1.2*l.HalfLog2N || l.P99Hops < 1 {
		t.Errorf("lookups on the converged ring: %+v", l)
	}
	if r.MemPerPeer <= 0 || r.Messages.HopsPerJoin <= 0 || r.Messages.RequestsPerJoin["join_req"] < 1 {
		t.Errorf("memory/peer %v, messages %+v", r.MemPerPeer, r.Messages)
	}
	c := r.Churn
	if c.Failed != 40 || c.Survivors != 160 || !c.Reconverged || c.RepairTicks <= 0 {
		t.Errorf("churn: %+v", c)
	}
	if c.During.Lookups == 0 || c.During.Success < 0.99 || c.After.OK != c.After.Count || len(c.Timeline) == 0 {
		t.Errorf("lookups under churn: during %+v, after %+v, %d samples", c.During, c.After, len(c.Timeline))
	}
	if len(r.Sweep) != 5 || r.Sweep[0].N != 16 || r.Sweep[4].N != 200 {
		t.Errorf("sweep: %+v", r.Sweep)
	}
	if len(r.Plots) != 2 {
		t.Fatalf("plots: %v", r.Plots)
	}
	for _, name := range []string{"hops.svg", "churn.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		polylines := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
				polylines++
			}
		}
		if polylines < 2 {
			t.Errorf("%s has %d lines", name, polylines)
		}
	}
}

func TestSimText(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runSim([]string{"--nodes", "50", "--lookups", "200", "--quiet"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet printed progress: %s", stderr.String())
	}
	for _, want := range []string{"50 peers", "converged:      yes", "messages/join:", "memory/peer:", "200/200 reached the responsible peer"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestSimUsage(t *testing.T) {
	if code, out, _ := runReload(t, "sim", "--help"); code != exitOK || !strings.Contains(out, "--churn") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{{"--nodes", "1"}, {"--churn", "1"}, {"--nodes", "3", "--churn", "0.5"}, {"--bogus"}, {"extra"}, {"--lookups", "0"}} {
		stdout.Reset()
		stderr.Reset()
		if code := runSim(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
