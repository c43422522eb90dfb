package sim

import (
	"fmt"
	"math"
	"testing"
)

// BenchmarkHops builds a ring of N peers by joins, lets it converge, and
// then routes lookups for random Resource-IDs from random peers, reporting
// the mean overlay hop count (½·log2 N is the CHORD expectation) as
// hops/lookup. The time per op is the simulated cost of one lookup.
func BenchmarkHops(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			s := New(Config{Seed: uint64(n)})
			s.Grow(n, 1)
			if !s.Settle(3, 3, 40000) {
				b.Fatalf("ring of %d did not converge", n)
			}
			hops, ok := 0, 0
			for b.Loop() {
				ls := s.Lookups(16, 200)
				for _, l := range ls {
					if l.OK {
						ok++
						hops += l.Hops
					}
				}
			}
			b.ReportMetric(float64(hops)/float64(ok), "hops/lookup")
			b.ReportMetric(math.Log2(float64(n))/2, "half-log2N")
		})
	}
}

// BenchmarkExperiment is the run of "reload sim --nodes N" without the
// churn phase: N peers join, one a tick, the ring converges and 10,000
// lookups are measured. It reports the memory per simulated peer (live
// heap growth after a GC, hosts and their storage included), the virtual
// ticks to convergence and the mean hops. Select a size with -bench, e.g.
// -bench 'Experiment/N=10000$' -benchtime 1x.
func BenchmarkExperiment(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var rep *Report
			for b.Loop() {
				var err error
				if rep, err = (Experiment{Nodes: n, Seed: 1, JoinRate: max(1, n/10000)}).Run(); err != nil {
					b.Fatal(err)
				}
				if !rep.Converged {
					b.Fatalf("%d peers did not converge", n)
				}
			}
			b.ReportMetric(rep.MemoryPerPeer/1024, "KiB/peer")
			b.ReportMetric(float64(rep.ConvergeTicks), "ticks")
			b.ReportMetric(rep.ConvergeWall, "converge-s")
			b.ReportMetric(rep.Lookups.MeanHops, "hops/lookup")
			b.ReportMetric(rep.Lookups.Success, "success")
		})
	}
}
