package main

import (
	"testing"
	"time"
)

// Both systems start a small overlay and complete every pair, one after
// another and concurrently, with the fetched value checked.
func TestSideBySideSmall(t *testing.T) {
	for _, sys := range []string{"reload", "libp2p"} {
		t.Run(sys, func(t *testing.T) {
			o := options{system: sys, nodes: 4, pairs: 12, workers: 4, size: 64, timeout: time.Minute}
			if err := o.check(); err != nil {
				t.Fatal(err)
			}
			var s system = &reloadSystem{}
			if sys == "libp2p" {
				s = &libp2pSystem{}
			}
			r, err := measure(o, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Phases) != 2 {
				t.Fatalf("phases %+v", r.Phases)
			}
			for _, p := range r.Phases {
				if p.Failed != 0 || p.Pairs != o.pairs {
					t.Fatalf("%s: %d of %d pairs failed: %s", p.Name, p.Failed, p.Pairs, p.FirstError)
				}
				if p.MedianMs <= 0 || p.P99Ms < p.MedianMs {
					t.Fatalf("%s: median %v ms, p99 %v ms", p.Name, p.MedianMs, p.P99Ms)
				}
			}
			if r.RSSMiB <= 0 || r.HeapMiB <= 0 {
				t.Fatalf("memory: RSS %v MiB, heap %v MiB", r.RSSMiB, r.HeapMiB)
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	good := options{system: "both", nodes: 16, pairs: 10, workers: 16, size: 64, timeout: time.Second}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*options){
		func(o *options) { o.system = "kad" },
		func(o *options) { o.nodes = 1 },
		func(o *options) { o.pairs = 0 },
		func(o *options) { o.workers = 0 },
		func(o *options) { o.size = 4 },
		func(o *options) { o.size = 1000 },
		func(o *options) { o.timeout = 0 },
	} {
		o := good
		bad(&o)
		if err := o.check(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// pairNodes never pairs a node with itself and spreads both ends.
func TestPairNodes(t *testing.T) {
	const n = 16
	seen := map[[2]int]bool{}
	for j := range n * (n - 1) {
		f, to := pairNodes(j, n)
		if f == to || f < 0 || to < 0 || f >= n || to >= n {
			t.Fatalf("pair %d: %d -> %d", j, f, to)
		}
		seen[[2]int{f, to}] = true
	}
	if len(seen) != n*(n-1) {
		t.Fatalf("%d distinct (from, to), want %d", len(seen), n*(n-1))
	}
}
