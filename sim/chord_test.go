package sim

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// ringSize is the size of the large simulations; -short shrinks it.
func ringSize(t testing.TB, n int) int {
	if testing.Short() {
		return n / 4
	}
	return n
}

func grow(t testing.TB, seed uint64, n int) *Sim {
	t.Helper()
	s := New(Config{Seed: seed})
	s.Grow(n, 1)
	if !s.Settle(3, 3, 20000) {
		ok, bad := s.Converged(3, 3)
		succ, pred := s.Expected(bad.ID, 3, 3)
		t.Fatalf("ring of %d did not converge by tick %d: %d ok; %v has succ %v pred %v, want %v %v",
			n, s.Now, ok, bad.ID, bad.Chord.Successors(), bad.Chord.Predecessors(), succ, pred)
	}
	return s
}

// TestJoin1000Converges_Sec10_5_Sec10_7_3: 1,000 peers join one after the
// other through random peers (§10.5); the neighbour tables converge to the
// brute-force sorted ring (§10.7.3), every lookup from a random peer for a
// random Resource-ID reaches the responsible peer (§10.1, §10.3), and the
// mean hop count is within 10% of ½·log2 N.
func TestJoin1000Converges_Sec10_5_Sec10_7_3(t *testing.T) {
	n := ringSize(t, 1000)
	s := grow(t, 1, n)
	t.Logf("%d peers converged at tick %d; %d messages", n, s.Now, s.Stats.Sent)
	ls := s.Lookups(10000, 500)
	ok, mean := LookupStats(ls)
	want := math.Log2(float64(n)) / 2
	t.Logf("lookups %d/%d reached the responsible peer; mean hops %.3f, ½·log2 N = %.3f (%+.1f%%)",
		ok, len(ls), mean, want, 100*(mean-want)/want)
	if ok != len(ls) {
		for _, l := range ls {
			if !l.OK {
				t.Fatalf("lookup %v from %v: done=%v at %v lost %q path %v", l.Key, l.From, l.Done, l.At, l.Lost, l.Path)
			}
		}
	}
	if math.Abs(mean-want) > 0.1*want {
		t.Errorf("mean hops %.3f not within 10%% of %.3f", mean, want)
	}
	if s.Stats.TTLExceeded != 0 {
		t.Errorf("%d messages exceeded their TTL", s.Stats.TTLExceeded)
	}
}

// TestChurn20PercentFail_Sec10_7_1: a fifth of a 1,000-peer ring fails at
// once. While the survivors repair their tables (§10.7.1, §10.7.2) at
// least 99% of lookups succeed (each is retried twice after a timeout, as
// a transaction would be), and after repair every lookup succeeds and the
// ring is again the brute-force ring.
func TestChurn20PercentFail_Sec10_7_1(t *testing.T) {
	n := ringSize(t, 1000)
	s := grow(t, 2, n)
	peers := slices.Clone(s.Peers())
	s.Rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	t0 := s.Now
	for _, id := range peers[:n/5] {
		s.Fail(id)
	}
	const timeout, tries = 30, 3
	type attempt struct {
		l    *Lookup
		from wire.NodeID
		key  wire.NodeID
		left int
	}
	var all, active []*attempt
	first, total := 0, 0
	for s.Now < t0+300 {
		live := s.Peers()
		for range 10 {
			k := s.RandomID()
			from := live[s.Rand.IntN(len(live))]
			a := &attempt{l: s.Lookup(from, k.Bytes()), from: from, key: k, left: tries - 1}
			all = append(all, a)
			active = append(active, a)
		}
		s.Tick()
		active = slices.DeleteFunc(active, func(a *attempt) bool {
			if a.l.OK {
				return true
			}
			if s.Now-a.l.Issued < timeout && !a.l.Done && a.l.Lost == "" {
				return false
			}
			if a.left == 0 {
				return true
			}
			a.left--
			a.l = s.Lookup(a.from, a.key.Bytes())
			return false
		})
	}
	s.Run(3 * timeout * tries)
	for _, a := range all {
		if a.l.OK {
			total++
			if a.left == tries-1 {
				first++
			}
		}
	}
	rate := float64(total) / float64(len(all))
	t.Logf("during repair: %d lookups, %.2f%% succeeded (%.2f%% at the first attempt)",
		len(all), 100*rate, 100*float64(first)/float64(len(all)))
	if rate < 0.99 {
		t.Errorf("only %.2f%% of lookups succeeded during repair", 100*rate)
	}
	if !s.Settle(3, 3, 20000) {
		ok, bad := s.Converged(3, 3)
		succ, pred := s.Expected(bad.ID, 3, 3)
		t.Fatalf("ring did not reconverge: %d ok; %v has succ %v pred %v, want %v %v",
			ok, bad.ID, bad.Chord.Successors(), bad.Chord.Predecessors(), succ, pred)
	}
	t.Logf("ring of %d reconverged %d ticks after the failures", len(s.Peers()), s.Now-t0)
	ls := s.Lookups(5000, 500)
	if ok, mean := LookupStats(ls); ok != len(ls) {
		t.Errorf("after repair %d/%d lookups succeeded", ok, len(ls))
	} else {
		t.Logf("after repair: %d/%d lookups succeeded, mean hops %.3f", ok, len(ls), mean)
	}
}

// TestPeriodicRecovery_Sec10_7_4_1: with chord-reactive false the ring
// still converges and survives failures through the Updates sent every
// chord-update-interval.
func TestPeriodicRecovery_Sec10_7_4_1(t *testing.T) {
	s := New(Config{Seed: 3, Chord: func(c *chord.Config) {
		c.Reactive = false
		c.UpdateInterval = 60 * time.Second
	}})
	s.Grow(ringSize(t, 200), 2)
	if !s.Settle(3, 3, 20000) {
		t.Fatal("periodic ring did not converge")
	}
	peers := slices.Clone(s.Peers())
	for _, id := range peers[:len(peers)/10] {
		s.Fail(id)
	}
	t0 := s.Now
	if !s.Settle(3, 3, 20000) {
		t.Fatal("periodic ring did not reconverge")
	}
	t.Logf("reconverged %d ticks after 10%% failed", s.Now-t0)
	if ok, _ := LookupStats(s.Lookups(1000, 500)); ok != 1000 {
		t.Fatalf("%d/1000 lookups", ok)
	}
}

// TestDeterministic: the same seed gives the same run.
func TestDeterministic(t *testing.T) {
	run := func() (int, int64) {
		s := New(Config{Seed: 9, MaxLatency: 3})
		s.Grow(100, 1)
		s.Settle(3, 3, 5000)
		return s.Stats.Sent, s.Now
	}
	a, at := run()
	b, bt := run()
	if a != b || at != bt {
		t.Fatalf("runs differ: %d/%d messages, %d/%d ticks", a, b, at, bt)
	}
}
