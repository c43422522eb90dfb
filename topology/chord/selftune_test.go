package chord

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// TestStabInterval checks RFC 7363 §6.6's formulas against the examples
// of §3.2: 500 peers with a join and a leave every 30 s call for an
// interval "on the order of 93 s", twice the churn for 46 s, and six
// times the churn in 2000 peers for 42 s.
func TestStabInterval(t *testing.T) {
	for _, tc := range []struct {
		n, perSec, want float64
	}{
		{500, 1.0 / 30, 93},
		{500, 2.0 / 30, 46},
		{2000, 6.0 / 30, 42},
	} {
		// U is per peer (§6.3): the overlay's failures over N.
		got := stabInterval(tc.n, tc.perSec/tc.n, tc.perSec)
		if math.Abs(got-tc.want) > 1 {
			t.Errorf("N=%v, %v/s: Tstab %.1f s, want about %v s", tc.n, tc.perSec, got, tc.want)
		}
	}
	if !math.IsInf(stabInterval(100, 0, 0), 1) {
		t.Error("no estimates: want no bound")
	}
}

// TestPercentile75 follows RFC 7363 §2's definition: rank
// round(P/100·N), counted from 1.
func TestPercentile75(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{9, 1, 8, 2, 7, 3, 6, 4, 5}, 7}, // rank round(6.75) = 7
		{[]float64{4, 3, 2, 1}, 3},
		{[]float64{5}, 5},
		{nil, 0},
	} {
		if got := percentile75(tc.v); got != tc.want {
			t.Errorf("percentile75(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestEstimateSize: RFC 7363 §6.1's density estimate over neighbour sets
// of ceiling(log2(N)) tracks N in a ring of random Node-IDs (the RFC
// cites 15% for its estimator; the median here is well within it), and
// is exact when the sets cover a small ring.
func TestEstimateSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{5, 1000} {
		ids := make([]wire.NodeID, n)
		for i := range ids {
			var b [16]byte
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			ids[i], _ = wire.NodeIDFromBytes(b[:])
		}
		slices.SortFunc(ids, wire.NodeID.Compare)
		k := max(3, int(math.Ceil(math.Log2(float64(n)))))
		var est []float64
		for i := 0; i < n; i += max(1, n/100) {
			c, err := New(Config{ID: ids[i], Rand: r, SelfTuning: true, Successors: k, Predecessors: k})
			if err != nil {
				t.Fatal(err)
			}
			for j := 1; j <= k && j < n; j++ {
				if s := ids[(i+j)%n]; !slices.Contains(c.succ, s) && s != c.id {
					c.succ = append(c.succ, s)
				}
				if p := ids[(i-j+n)%n]; !slices.Contains(c.pred, p) && p != c.id {
					c.pred = append(c.pred, p)
				}
			}
			est = append(est, c.estimateSize())
		}
		slices.Sort(est)
		med := est[len(est)/2]
		if n <= 2*k+1 {
			if est[0] != float64(n) || est[len(est)-1] != float64(n) {
				t.Errorf("N=%d: estimates %v, want exactly %d", n, est, n)
			}
			continue
		}
		if math.Abs(med-float64(n))/float64(n) > 0.15 {
			t.Errorf("N=%d: median estimate %.0f", n, med)
		}
		t.Logf("N=%d: estimates min %.0f median %.0f max %.0f", n, est[0], med, est[len(est)-1])
	}
}

// TestSelfTuningConfigDefaults: self-tuning is periodic recovery (RFC 7363 §5)
// with RFC 7363's defaults, and a negative number-of-peers-to-probe is
// refused.
func TestSelfTuningConfigDefaults(t *testing.T) {
	var b [16]byte
	b[0] = 0x40
	id := wire.MustNodeID(b[:])
	c, err := New(Config{ID: id, Rand: rand.New(rand.NewPCG(1, 1)), Reactive: true, SelfTuning: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Reactive || c.cfg.PeersToProbe != DefaultPeersToProbe || c.cfg.MinUpdateInterval != 15*time.Second || c.cfg.MaxUpdateInterval != DefaultUpdateInterval {
		t.Fatalf("config %+v", c.cfg)
	}
	if _, ok := c.SelfTuning(); !ok {
		t.Fatal("SelfTuning not ok")
	}
	if _, err := New(Config{ID: id, Rand: rand.New(rand.NewPCG(1, 1)), SelfTuning: true, PeersToProbe: -1}); err == nil {
		t.Fatal("PeersToProbe -1 accepted")
	}
}

// TestTuneReceive: a malformed self_tuning_data extension is ignored (it
// is not critical), and a peer's estimates count once per period (RFC
// 7363 §6.5, §8).
func TestTuneReceive(t *testing.T) {
	var b [16]byte
	b[0] = 0x40
	c, err := New(Config{ID: wire.MustNodeID(b[:]), Rand: rand.New(rand.NewPCG(1, 1)), SelfTuning: true})
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 0x80
	from := wire.MustNodeID(b[:])
	good, _ := (&wire.SelfTuningData{NetworkSize: 1000, JoinRate: 86400, LeaveRate: 86400}).Append(nil)
	for _, bad := range [][]byte{nil, {1, 2, 3}, append(slices.Clone(good), 0)} {
		c.tuneReceive(from, []wire.MessageExtension{{Type: wire.ExtSelfTuningData, Contents: bad}})
	}
	if st, _ := c.SelfTuning(); st.Received != 0 {
		t.Fatalf("malformed extensions counted: %d", st.Received)
	}
	for range 3 {
		c.tuneReceive(from, []wire.MessageExtension{{Type: wire.ExtSelfTuningData, Contents: good}})
	}
	if st, _ := c.SelfTuning(); st.Received != 1 || st.Shared != 1 {
		t.Fatalf("received %d, shared %d; want 1", st.Received, st.Shared)
	}
	if c.tune.join[0] != 1 || c.tune.leave[0] != 1.0/1000 {
		t.Fatalf("join %v leave %v: want 1/s and 1/1000 per peer per second", c.tune.join, c.tune.leave)
	}
}
