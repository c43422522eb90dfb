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
