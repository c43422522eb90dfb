package node

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkUISnapshot is the cost of one snapshot of the web page (one
// state event) on a peer of a 16-node overlay.
func BenchmarkUISnapshot(b *testing.B) {
	c := startCluster(b, 16, nil)
	c.waitConverged(b, 120*time.Second)
	u := newWebUI(c.nodes[0])
	ctx := context.Background()
	js, err := json.Marshal(u.snapshot(ctx))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = u.snapshot(ctx)
	}
	b.ReportMetric(float64(len(js)), "json-bytes")
}

// BenchmarkUIStateEvent is a snapshot and its JSON, as one state event.
func BenchmarkUIStateEvent(b *testing.B) {
	c := startCluster(b, 16, nil)
	c.waitConverged(b, 120*time.Second)
	u := newWebUI(c.nodes[0])
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := json.Marshal(u.snapshot(ctx)); err != nil {
			b.Fatal(err)
		}
	}
}
