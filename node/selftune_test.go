package node

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/topology/chord"
)

// TestSelfTuningNodes runs real nodes (TLS links, enrolled certificates)
// of an overlay whose configuration turns on self-tuning CHORD-RELOAD
// (RFC 7363 §7): each peer's network size estimate (§6.1, shared in
// Probes with the self_tuning_data extension, §6.5) tracks the real
// size, and Status and the metrics expose it.
func TestSelfTuningNodes(t *testing.T) {
	const n = 10
	c := startClusterOverlay(t, func(c *config.Configuration) { c.SetSelfTuning(4) }, n, nil)
	c.waitConverged(t, 60*time.Second)
	// Each peer recalculates at the end of its stabilisation period, at
	// least 15 s (§6.6), and needs an estimate from a peer that joined
	// after it: wait for two periods or so.
	tuning := func(nd *Node) (chord.SelfTuning, bool) {
		var st chord.SelfTuning
		var ok bool
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := nd.do(ctx, func() { st, ok = pluginSelfTuning(nd.ch) }); err != nil {
			return st, false
		}
		return st, ok
	}
	deadline := time.Now().Add(120 * time.Second)
	var bad string
	for time.Now().Before(deadline) {
		bad = ""
		var sizes []float64
		for _, nd := range c.nodes {
			st, ok := tuning(nd)
			if !ok {
				t.Fatalf("node %s does not self-tune", nd.ID())
			}
			// §6.1 finds the estimate within 15% in large overlays; with
			// 10 peers and neighbour sets of 4 it rests on 8 random gaps
			// of the ring: each within a factor of 3 (a peer beside two
			// gaps that together span three quarters of the ring is out
			// of it about once in 5000 runs), their median within 60%.
			if st.Recalculations < 2 || st.Shared == 0 || st.NetworkSize < n/3 || st.NetworkSize > 3*n || st.LocalSize < n/3 || st.LocalSize > 3*n {
				bad = nd.ID().String() + ": " + fmtTuning(st)
				break
			}
			sizes = append(sizes, st.NetworkSize)
		}
		if bad == "" {
			slices.Sort(sizes)
			if m := sizes[len(sizes)/2]; m < 0.5*n || m > 1.6*n {
				bad = "median estimate " + ftoa(m)
			}
		}
		if bad == "" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if bad != "" {
		t.Fatalf("estimates do not track the size %d: %s", n, bad)
	}
	for _, nd := range c.nodes {
		st, _ := tuning(nd)
		t.Logf("%s", fmtTuning(st))
	}

	st := c.nodes[3].Status()
	if st.SelfTuning == nil || st.SelfTuning.NetworkSize < n/2 || st.SelfTuning.Successors < 3 || st.SelfTuning.UpdateInterval == "" {
		t.Fatalf("Status.SelfTuning = %+v", st.SelfTuning)
	}
	rec := httptest.NewRecorder()
	c.nodes[3].Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, m := range []string{"reload_selftune_network_size ", "reload_selftune_update_interval_seconds ", "reload_selftune_failure_rate "} {
		if !strings.Contains(string(body), m) {
			t.Fatalf("metrics lack %q", m)
		}
	}
}

func fmtTuning(st chord.SelfTuning) string {
	return strings.Join([]string{
		"size", ftoa(st.NetworkSize), "own", ftoa(st.LocalSize), "interval", st.UpdateInterval.String(),
		"recalculations", ftoa(float64(st.Recalculations)), "shared", ftoa(float64(st.Shared)),
	}, " ")
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
