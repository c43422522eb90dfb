package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/wire"
)

// copyStats accumulates copies per value over the samples of a run.
type copyStats struct {
	samples  int
	sum, n   int
	min, max int
}

func (c *copyStats) add(counts []int) {
	if c.samples == 0 {
		c.min, c.max = counts[0], counts[0]
	}
	c.samples++
	for _, k := range counts {
		c.sum += k
		c.n++
		c.min = min(c.min, k)
		c.max = max(c.max, k)
	}
}

func (c *copyStats) String() string {
	return fmt.Sprintf("copies per value over %d samples: mean %.3f, min %d, max %d", c.samples, float64(c.sum)/float64(c.n), c.min, c.max)
}

// TestCopiesPerValueUnderChurn_Sec10_4_Sec10_7_3: 300 values on a
// ring of 20 peers that goes through three rounds of churn: three peers
// join, two leave, two crash. After each round has settled every value
// is on exactly 1 + replicas = 3 peers of the ring: the responsible peer
// and its two successors (§10.4). Handover (§10.5 step 6, §10.7.1,
// §10.9) brings a value back to three after a failure or leave, and
// pruning removes the copies of peers that are no longer among the three
// once the responsible peer has acknowledged them (§10.7.3), so there
// are never more once the ring has settled. The copies per value on the
// peers of the ring over the whole run (sampled every tick of a join or
// leave and every 10 ticks while settling) are logged; a leaving peer's
// copies no longer count, so they dip while its handover is under way.
func TestCopiesPerValueUnderChurn_Sec10_4_Sec10_7_3(t *testing.T) {
	w := newWorld(t, 7, 20, false)
	w.makeData(t, 30)
	w.storeAll(t, 20)
	w.replicate(t, 2000)
	var run copyStats
	phase := map[string]*copyStats{"join": {}, "leave": {}, "failure": {}}
	cur := "join"
	sample := func() {
		c := w.s.CopyCounts(w.vals)
		run.add(c)
		phase[cur].add(c)
	}
	// settle runs until the ring has converged, every value is on its
	// three peers and no copy is left elsewhere.
	settle := func(what string) {
		t.Helper()
		var rep AuditReport
		if !w.s.RunUntil(3000, 10, func() bool {
			sample()
			rep = w.s.Audit(w.vals)
			return rep.OK() && rep.Excess == 0 && w.converged()
		}) {
			ok, bad := w.s.Converged(3, 3)
			var state string
			if bad != nil {
				state = fmt.Sprintf("; %v %s pred=%v succ=%v", bad.ID, bad.Chord.State(), bad.Chord.Predecessors(), bad.Chord.Successors())
			}
			t.Fatalf("%s: tick %d: not settled: %v; %q; %d peers converged%s", what, w.s.Now, rep, rep.Examples, ok, state)
		}
		counts := w.s.CopyCounts(w.vals)
		if lo, hi := slices.Min(counts), slices.Max(counts); lo != 3 || hi != 3 {
			t.Fatalf("%s: copies per value between %d and %d, want 3", what, lo, hi)
		}
	}
	settle("stored")
	before := snapshot(w.s.Stats)
	pruned0 := w.pruned()
	for round := range 3 {
		cur = "join"
		for range 3 {
			w.s.Grow(1, 0)
			for range 5 {
				w.s.Run(1)
				sample()
			}
		}
		settle(fmt.Sprintf("round %d: joins", round))
		cur = "leave"
		ring := slices.Clone(w.s.Peers())
		w.s.Rand.Shuffle(len(ring), func(i, j int) { ring[i], ring[j] = ring[j], ring[i] })
		for _, id := range ring[:2] {
			if err := w.s.Leave(id); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				w.s.Run(1)
				sample()
			}
			// A node that has left closes: its backend goes with it.
			w.s.Fail(id)
		}
		settle(fmt.Sprintf("round %d: leaves", round))
		cur = "failure"
		ring = slices.Clone(w.s.Peers())
		// Two peers that are not neighbours crash: every value keeps
		// a copy on a live peer.
		a := w.s.Rand.IntN(len(ring))
		w.s.FailMany([]wire.NodeID{ring[a], ring[(a+len(ring)/2)%len(ring)]})
		settle(fmt.Sprintf("round %d: failures", round))
	}
	w.logStores(t, "churn", before)
	t.Logf("%d peers now; %d values pruned after confirmed handover", len(w.s.Peers()), w.pruned()-pruned0)
	t.Logf("%d values over the run: %v", len(w.vals), &run)
	for _, p := range []string{"join", "leave", "failure"} {
		t.Logf("  during and after %ss: %v", p, phase[p])
	}
	if w.s.Stats.Stores[host.Prune].Sent == 0 || w.pruned() == pruned0 {
		t.Error("nothing pruned")
	}
	w.check(t, "after churn")
	if len(w.s.Errors) > 0 {
		t.Errorf("storage errors: %v", w.s.Errors[:min(5, len(w.s.Errors))])
	}
}

// pruned is the number of values the live peers have pruned.
func (w *world) pruned() uint64 {
	var n uint64
	for _, p := range w.s.Nodes {
		n += p.Host.Store().Pruned()
	}
	return n
}
