package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// BenchmarkPingRoundTrip measures what the monitor costs a node: one Ping
// over a TLS link between two nodes, both monitored or neither.
func BenchmarkPingRoundTrip(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			ov, err := nodetest.NewOverlay("test.example.org", nil)
			if err != nil {
				b.Fatal(err)
			}
			ids, err := ov.Identities(2)
			if err != nil {
				b.Fatal(err)
			}
			nodes, _ := startNodes(b, ov, ids, func(c *node.Config) {
				if !on {
					c.ConformanceLog = nil
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			id := nodes[0].ID()
			dest := wire.NodeDest(&id)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nodes[1].Ping(ctx, dest); err != nil {
					b.Fatal(err)
				}
			}
			if on && nodes[0].Conformance().Total() != 0 {
				b.Fatalf("%d deviations", nodes[0].Conformance().Total())
			}
		})
	}
}
