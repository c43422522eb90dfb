package node

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/wire"
)

// BenchmarkRoutedAnswers measures, on 8 real peers on loopback and a
// client joined through the first, a Ping from the client to the peers it
// has no link to, with the answer by symmetric routing (srr), direct
// response routing (drr, RFC 7263) or relay peer routing through another
// peer the client keeps a TLS link to (rpr, RFC 7264). Reported: answer-hops (via list
// + 1), fwd/op (messages all peers forwarded per ping: the load on
// intermediate peers these modes save), and for drr first-ms, the round
// trip of the first ping to each peer, which includes the TLS link the
// responder opens to the client. That link stays up, so later requests
// to that peer go to it directly as well.
//
//	go test ./node -run '^$' -bench RoutedAnswers -benchtime 200x
func BenchmarkRoutedAnswers(b *testing.B) {
	for _, m := range []struct {
		name string
		mode wire.RouteMode
	}{{"srr", 0}, {"drr", wire.RouteModeDRR}, {"rpr", wire.RouteModeRPR}} {
		b.Run(m.name, func(b *testing.B) {
			c, cl := startRoutedClient(b, 8, forwarding.ResponseRoutesDial)
			far := farPeers(c, cl)
			if len(far) == 0 {
				b.Skip("the client is linked to every peer")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var first time.Duration
			for _, p := range far {
				start := time.Now()
				pingRouted(ctx, b, cl, p.ID(), m.mode)
				first += time.Since(start)
			}
			forwarded := func() uint64 {
				var n uint64
				for _, p := range c.nodes {
					n += p.Engine().Stats().Forwarded.Load()
				}
				return n
			}
			fwd0 := forwarded()
			hops, i := 0, 0
			b.ResetTimer()
			for b.Loop() {
				hops += pingRouted(ctx, b, cl, far[i%len(far)].ID(), m.mode)
				i++
			}
			b.StopTimer()
			b.ReportMetric(float64(hops)/float64(i), "answer-hops")
			b.ReportMetric(float64(forwarded()-fwd0)/float64(i), "fwd/op")
			b.ReportMetric(float64(first.Microseconds())/1000/float64(len(far)), "first-ms")
			b.ReportMetric(float64(len(far)), "far-peers")
		})
	}
}
