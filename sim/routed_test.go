package sim

import (
	"flag"
	"strconv"
	"strings"
	"testing"
)

var routedSizes = flag.String("routed.sizes", "", "ring sizes for TestRoutedAnswerHops, comma-separated (default 100)")

// TestRoutedAnswerHops compares, on CHORD-RELOAD rings of growing size,
// how many hops an answer takes back to the requester with symmetric
// recursive routing (RFC 6940 §6.2: the answer retraces the request's via
// list), direct response routing (RFC 7263: one hop, straight to the
// requester's address, after a connection the responder may first have
// to open) and relay peer routing (RFC 7264: the responder's link to the
// requester's relay peer, then the relay's link to the requester; here
// the relay is the requester's first successor, a peer it keeps a link
// to). The simulator routes every request hop by hop with each peer's
// routing table; the answer's hops follow from the request's path. With
// per-hop latency uniform in [MinLatency, MaxLatency] the answer's
// latency is proportional to its hops. RFC 7263 Appendix B and RFC 7264
// Appendix B make the same comparison analytically.
func TestRoutedAnswerHops(t *testing.T) {
	sizes := []int{100}
	if *routedSizes != "" {
		sizes = parseSizes(t, *routedSizes)
	}
	t.Logf("%6s %8s %10s %10s %10s", "peers", "lookups", "SRR hops", "DRR hops", "RPR hops")
	for _, n := range sizes {
		s := New(Config{Seed: 7})
		s.Grow(n, 5)
		if !s.Settle(3, 3, 20000) {
			t.Fatalf("%d peers: ring did not settle", n)
		}
		ls := s.Lookups(2000, 5000)
		var ok, srr, drr, rpr int
		for _, l := range ls {
			if !l.OK {
				continue
			}
			ok++
			srr += l.Hops
			if l.Hops == 0 {
				continue // answered by the requester itself
			}
			drr++
			relay := s.Node(l.From).Plugin.Successors()[0]
			if relay == l.At {
				rpr++ // the responder is the relay: one link
			} else {
				rpr += 2
			}
		}
		if ok < len(ls)*99/100 {
			t.Fatalf("%d peers: %d of %d lookups reached the responsible peer", n, ok, len(ls))
		}
		f := func(h int) float64 { return float64(h) / float64(ok) }
		t.Logf("%6d %8d %10.2f %10.2f %10.2f", n, ok, f(srr), f(drr), f(rpr))
		if f(drr) > 1 || f(rpr) > 2 {
			t.Errorf("%d peers: DRR %.2f, RPR %.2f hops", n, f(drr), f(rpr))
		}
	}
}

func parseSizes(t *testing.T, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			t.Fatalf("bad size %q", f)
		}
		out = append(out, n)
	}
	return out
}
