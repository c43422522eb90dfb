package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/goreload/reload/wire"
)

// scrape GETs /metrics from a node's control API over real HTTP and
// returns its samples by series ("name{labels}" as exposed).
func scrape(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	const token = "metrics-test-token-0123456789abcdef"
	srv := httptest.NewServer(n.ControlHandler(ControlOptions{Token: token}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A small ring pings and stores; scraping /metrics through the control
// API shows the messages by method and result, the links, the hops of
// answers, the stored values and the ring, and the metrics pass promlint.
func TestMetricsScrape(t *testing.T) {
	c := startCluster(t, 4, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "")
	a, b := c.nodes[1], c.nodes[3]
	res := wire.ResourceIDFromName("node2@test.example.org")
	aid, bid := a.ID(), b.ID()
	if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(aid.Bytes(), []byte("sip:node2@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FetchAll(ctx, res, wire.KindSIPRegistration); err != nil {
		t.Fatal(err)
	}
	_, err := b.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(bid.Bytes(), []byte("x"))}, time.Hour)
	var re *wire.RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeForbidden {
		t.Fatalf("store under another user's name: %v", err)
	}

	sum := map[string]float64{}
	for i, nd := range c.nodes {
		m := scrape(t, nd)
		for k, v := range m {
			sum[k] += v
		}
		for _, s := range []string{
			`reload_links{transport="TLS-TCP-FH-NO-ICE"}`,
			`reload_link_establishments_total{transport="TLS-TCP-FH-NO-ICE"}`,
			`reload_messages_sent_total{method="ping_req",result="ok"}`,
			`reload_messages_received_total{method="ping_ans",result="ok"}`,
			`reload_answer_hops_count`,
			`reload_ring_joined`,
			`reload_ring_successors`,
			`reload_ring_predecessors`,
			`reload_link_frames_sent_total`,
		} {
			if m[s] <= 0 {
				t.Errorf("node %d: %s = %v, want > 0", i, s, m[s])
			}
		}
		if m[`reload_node_info{node_id="`+nd.ID().String()+`",overlay="test.example.org"}`] != 1 {
			t.Errorf("node %d: no reload_node_info", i)
		}
		problems, err := testutil.GatherAndLint(nd.MetricsRegistry())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	for s, min := range map[string]float64{
		`reload_messages_sent_total{method="ping_req",result="ok"}`:                   16,
		`reload_messages_received_total{method="ping_req",result="ok"}`:               16,
		`reload_messages_sent_total{method="ping_ans",result="ok"}`:                   16,
		`reload_messages_received_total{method="ping_ans",result="ok"}`:               16,
		`reload_messages_sent_total{method="store_req",result="ok"}`:                  2,
		`reload_messages_received_total{method="store_ans",result="ok"}`:              1,
		`reload_messages_sent_total{method="store_ans",result="Error_Forbidden"}`:     1,
		`reload_messages_received_total{method="store_ans",result="Error_Forbidden"}`: 1,
		`reload_messages_received_total{method="fetch_ans",result="ok"}`:              1,
		`reload_storage_values{kind="SIP-REGISTRATION"}`:                              1,
		`reload_ring_updates_received_total`:                                          1,
	} {
		if sum[s] < min {
			t.Errorf("%s = %v over the ring, want >= %v", s, sum[s], min)
		}
	}
	if sum[`reload_storage_bytes{kind="SIP-REGISTRATION"}`] <= 0 {
		t.Error("no storage bytes")
	}
	if sum[`reload_answer_hops_bucket{le="+Inf"}`] != sum[`reload_answer_hops_count`] || sum[`reload_answer_hops_sum`] < sum[`reload_answer_hops_count`] {
		t.Errorf("hops histogram: +Inf %v count %v sum %v", sum[`reload_answer_hops_bucket{le="+Inf"}`], sum[`reload_answer_hops_count`], sum[`reload_answer_hops_sum`])
	}
}

// lockedBuffer is a bytes.Buffer safe for the handler's writes while the
// test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) records(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(l.b.Bytes()))
	for {
		var r map[string]any
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

// The node's logger is handed down: forwarding, transport, storage and the
// topology events log with structured attributes naming the node, the
// peer, the link address, the message code and the transaction id.
func TestLogAttributes(t *testing.T) {
	var buf lockedBuffer
	c := startCluster(t, 3, func(i int, cfg *Config) {
		if i == 1 {
			cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := c.nodes[1]
	id := c.nodes[2].ID()
	if _, err := a.Ping(ctx, wire.NodeDest(&id)); err != nil {
		t.Fatal(err)
	}
	res := wire.ResourceIDFromName("node2@test.example.org")
	aid := a.ID()
	if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(aid.Bytes(), []byte("sip:node2@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatal(err)
	}
	self := a.ID().String()
	want := []struct {
		msg, level string
		attrs      []string
	}{
		{"link up", "INFO", []string{"node", "peer", "type", "remote"}},
		{"link established", "DEBUG", []string{"node", "peer", "type", "local", "remote", "role"}},
		{"topology", "INFO", []string{"node", "event", "successors"}},
		{"request", "DEBUG", []string{"node", "code", "txid", "from"}},
		{"answer", "DEBUG", []string{"node", "code", "txid"}},
	}
	recs := buf.records(t)
	for _, w := range want {
		found := false
		for _, r := range recs {
			if r["msg"] != w.msg || r["level"] != w.level {
				continue
			}
			ok := r["node"] == self
			for _, k := range w.attrs {
				if _, has := r[k]; !has {
					ok = false
				}
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no %s record %q with %v for node %s", w.level, w.msg, w.attrs, self)
		}
	}
	// The store may be handled by any node; the one holding it logs it.
	// Node 1 always logs its own request's answer with the code.
	sawStoreAnswer := false
	for _, r := range recs {
		if r["msg"] == "answer" && r["code"] == "store_req" {
			sawStoreAnswer = true
		}
	}
	if !sawStoreAnswer {
		t.Error("no answer record for the store request")
	}
}
