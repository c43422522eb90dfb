package sim

import (
	"errors"
	"time"

	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// ChurnPhase is one phase of a PhasedChurn: for Ticks ticks, Rate peers
// per tick fail abruptly (a fraction accumulates), each replaced at once
// by a new node joining through a random live peer, so that the overlay
// keeps its size while its membership turns over.
type ChurnPhase struct {
	Name  string
	Ticks int64
	Rate  float64
}

// PhasedChurn measures maintenance cost and lookup success under churn
// that varies over time (RFC 7363 §3.2: a fixed stabilisation rate tuned
// for the worst case costs too much when churn is lower). Nodes peers
// join and converge; then the phases run while every tick LookupsPerTick
// lookups for random keys start at random peers.
type PhasedChurn struct {
	Nodes  int
	Seed   uint64
	Phases []ChurnPhase
	// LookupsPerTick (default 2) lookups start every tick; one counts as
	// a success when it reaches the peer responsible for its key in the
	// live ring within Timeout ticks (default the simulator's
	// transaction timeout).
	LookupsPerTick int
	Timeout        int64
	// Bucket is the width in ticks of a sample (default 100). Settle is
	// how long the ring runs after the joins before the phases start.
	Bucket, Settle int64
	// Sim is the simulator configuration (its Chord hook sets the
	// stabilisation mode); its Seed is replaced by Seed.
	Sim Config
}

// PhasedSample is one bucket of a PhasedChurn, Tick its end counted from
// the start of the first phase.
type PhasedSample struct {
	Tick int64
	// Lookups started in the bucket and how many succeeded.
	Lookups, OK int
	// Maintenance is the number of topology maintenance requests
	// delivered in the bucket (Update, Probe, Ping for fingers,
	// RouteQuery), Failures the peers failed in it.
	Maintenance, Failures int
	// Interval is the mean stabilisation interval of the live peers at
	// the bucket's end, in seconds; Size their mean self-tuning network
	// size estimate (0 when self-tuning is off); Peers their number.
	Interval, Size float64
	Peers          int
}

// maintenance counts the topology maintenance requests delivered.
func (s *Sim) maintenance() int {
	return s.Stats.ByCode[wire.CodeUpdateReq] + s.Stats.ByCode[wire.CodeProbeReq] +
		s.Stats.ByCode[wire.CodePingReq] + s.Stats.ByCode[wire.CodeRouteQueryReq]
}

// Run runs the experiment and returns its samples.
func (e PhasedChurn) Run() ([]PhasedSample, error) {
	if e.Nodes < 2 || len(e.Phases) == 0 {
		return nil, errors.New("sim: PhasedChurn needs at least 2 nodes and one phase")
	}
	if e.LookupsPerTick <= 0 {
		e.LookupsPerTick = 2
	}
	if e.Bucket <= 0 {
		e.Bucket = 100
	}
	cfg := e.Sim
	cfg.Seed = e.Seed
	cfg.DropEvents = true
	cfg.Rejoin = true
	s := New(cfg)
	if e.Timeout <= 0 {
		e.Timeout = s.Timeout()
	}
	join := func(first bool) error {
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			return err
		}
		if first {
			return s.Start(id)
		}
		peers := s.Peers()
		if len(peers) == 0 {
			return errors.New("sim: no peer left to join through")
		}
		return s.Join(id, peers[s.Rand.IntN(len(peers))])
	}
	for i := 0; i < e.Nodes; i++ {
		if err := join(i == 0); err != nil {
			return nil, err
		}
		s.Tick()
	}
	s.RunUntil(100000, 50, func() bool { return len(s.Peers()) == e.Nodes })
	// Time to settle: a few stabilisation periods of either arm.
	s.Run(e.Settle)

	type pending struct {
		l      *Lookup
		due    int64
		bucket int
	}
	var (
		out     []PhasedSample
		cur     PhasedSample
		waiting []pending
		acc     float64
		t       int64
		m0      = s.maintenance()
	)
	settle := func(final bool) {
		k := 0
		for _, p := range waiting {
			if !final && !p.l.Done && s.Now < p.due {
				waiting[k] = p
				k++
				continue
			}
			if p.l.Done && p.l.OK {
				if p.bucket < len(out) {
					out[p.bucket].OK++
				} else {
					cur.OK++
				}
			}
		}
		waiting = waiting[:k]
	}
	for _, ph := range e.Phases {
		for range ph.Ticks {
			acc += ph.Rate
			for acc >= 1 {
				acc--
				peers := s.Peers()
				if len(peers) > 2 {
					s.Fail(peers[s.Rand.IntN(len(peers))])
					cur.Failures++
					if err := join(false); err != nil {
						return nil, err
					}
				}
			}
			peers := s.Peers()
			for range e.LookupsPerTick {
				if len(peers) == 0 {
					break
				}
				var key [wire.MaxNodeIDLen]byte
				for j := range key {
					key[j] = byte(s.Rand.Uint32())
				}
				l := s.Lookup(peers[s.Rand.IntN(len(peers))], key[:s.cfg.IDLen])
				waiting = append(waiting, pending{l: l, due: s.Now + e.Timeout, bucket: len(out)})
				cur.Lookups++
			}
			s.Tick()
			t++
			settle(false)
			if t%e.Bucket == 0 {
				m := s.maintenance()
				cur.Tick, cur.Maintenance, m0 = t, m-m0, m
				cur.Interval, cur.Size, cur.Peers = s.meanTuning()
				out = append(out, cur)
				cur = PhasedSample{}
			}
		}
	}
	s.Run(e.Timeout)
	settle(true)
	return out, nil
}

// meanTuning is the mean stabilisation interval (seconds) and self-tuning
// size estimate of the live peers, and their number.
func (s *Sim) meanTuning() (interval, size float64, peers int) {
	for _, n := range s.Nodes {
		if !n.Alive || n.Chord.State() != "peer" {
			continue
		}
		peers++
		interval += n.Chord.UpdateInterval().Seconds()
		if st, ok := n.Chord.SelfTuning(); ok {
			size += st.NetworkSize
		}
	}
	if peers > 0 {
		interval /= float64(peers)
		size /= float64(peers)
	}
	return interval, size, peers
}

// SelfTuningArms returns the chord.Config hooks of the two arms of the
// RFC 7363 comparison: periodic recovery with the interval fixed (tuned
// for the worst case) and neighbour sets of the given size (RFC 7363
// §3.2: on the order of log2(N) for N peers, the size self-tuning picks,
// §6.2), and self-tuning between lo and hi. Both refresh fingers every
// fingerRefresh.
func SelfTuningArms(fixed time.Duration, neighbors int, lo, hi, fingerRefresh time.Duration) (fixedArm, tunedArm func(*chord.Config)) {
	fixedArm = func(c *chord.Config) {
		c.Reactive = false
		c.Successors, c.Predecessors = neighbors, neighbors
		c.UpdateInterval = fixed
		c.PingInterval = fingerRefresh
	}
	tunedArm = func(c *chord.Config) {
		c.SelfTuning = true
		c.UpdateInterval, c.MinUpdateInterval, c.MaxUpdateInterval = hi, lo, hi
		c.PingInterval = fingerRefresh
	}
	return fixedArm, tunedArm
}
