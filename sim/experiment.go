package sim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/goreload/reload/wire"
)

// Experiment describes one measured run: Nodes peers join, the ring
// converges to the brute-force ring, lookups measure routing; then, with
// Churn, a fraction of the peers fails at once and lookups continue
// while the survivors repair the ring. Zero values take the defaults
// given.
type Experiment struct {
	// Nodes is the number of peers (at least 2).
	Nodes int
	// JoinRate is the number of joins started per tick (default 1), each
	// through a random peer of the ring.
	JoinRate int
	// Seed seeds the whole run.
	Seed uint64
	// Lookups is the number of lookups for random Resource-IDs from random
	// peers on the converged ring, and again after repair (default
	// 10000).
	Lookups int
	// Churn is the fraction of the peers (0 <= Churn < 1) that fail
	// abruptly, all at one tick, after convergence; 0 skips the churn
	// phase.
	Churn float64
	// ChurnRate is the number of lookups started per tick from 'Baseline'
	// ticks before the failures until 'Window' ticks after (defaults 10,
	// 50 and 600). An attempt that has not reached the responsible peer
	// Timeout ticks (default 30) after it started, because it was lost
	// or ended at the wrong peer, is retried from the same peer, up to
	// Tries attempts in all (default 3), as a transaction would be.
	ChurnRate        int
	Baseline, Window int64
	Timeout          int64
	Tries            int
	// Bucket is the width in ticks of a Timeline sample (default 10).
	Bucket int64
	// MaxTicks bounds each wait for convergence (default 100000).
	MaxTicks int64
	// Progress, when set, is called every ProgressEvery ticks (default
	// 100) while peers join, while the ring converges and while it
	// repairs.
	Progress      func(Progress)
	ProgressEvery int64
	// Sim is the simulator configuration; its Seed is replaced by Seed.
	Sim Config
}

// Progress is a snapshot of a running Experiment.
type Progress struct {
	// Phase is "join", "converge", "churn" (lookups before the failures),
	// "repair" or "lookups".
	Phase string
	// Tick is the virtual time; in the churn and repair phases it counts
	// from the failures.
	Tick int64
	// Peers is the number of live peers, Target the number expected.
	Peers, Target int
	// Converged is the number of peers with the brute-force neighbour
	// sets, -1 when not computed for this snapshot.
	Converged int
	// LookupsDone and LookupsOK count the churn phase's finished lookups
	// so far.
	LookupsDone, LookupsOK int
	// Elapsed is the wall-clock time since the experiment started.
	Elapsed time.Duration
}

// Report is the outcome of an Experiment. Ticks are of the plugins'
// tick length (100 ms by default); *Wall fields are wall-clock seconds.
type Report struct {
	Nodes    int    `json:"nodes"`
	Seed     uint64 `json:"seed"`
	JoinRate int    `json:"join_rate"`
	// TickMillis is the length of one tick in virtual milliseconds.
	TickMillis float64 `json:"tick_ms"`
	// Converged says whether every peer reached the brute-force
	// successor and predecessor sets; ConvergeTicks is the tick at which
	// it was first seen (checked every 10 ticks after the last join),
	// LastJoinTick the tick the last join started.
	Converged     bool    `json:"converged"`
	LastJoinTick  int64   `json:"last_join_tick"`
	ConvergeTicks int64   `json:"converge_ticks"`
	ConvergeWall  float64 `json:"converge_wall_s"`
	// Messages counts what the plugins sent from the first join to
	// convergence.
	Messages MessageReport `json:"messages"`
	// HeapBytes is the live heap growth (runtime.MemStats.HeapAlloc after
	// a GC) from before the first node to convergence: the plugins and
	// the simulator's own state; MemoryPerPeer is HeapBytes / Nodes.
	HeapBytes     uint64  `json:"heap_bytes"`
	MemoryPerPeer float64 `json:"memory_per_peer_bytes"`
	// Lookups are measured on the converged ring.
	Lookups LookupReport `json:"lookups"`
	// Churn is nil when Experiment.Churn is 0.
	Churn *ChurnReport `json:"churn,omitempty"`
	// Wall is the duration of the whole run.
	Wall float64 `json:"wall_s"`
}

// MessageReport counts messages of the join phase. Hops counts each
// message once per overlay hop; Originated once per message (requests
// and answers). The per-join figures divide by the number of joins
// (Nodes-1: the first peer starts the ring);
// RequestsPerJoin splits the requests delivered to a plugin by message
// code.
type MessageReport struct {
	Hops              int                `json:"hops"`
	Originated        int                `json:"originated"`
	HopsPerJoin       float64            `json:"hops_per_join"`
	OriginatedPerJoin float64            `json:"originated_per_join"`
	RequestsPerJoin   map[string]float64 `json:"requests_per_join"`
}

// LookupReport summarises lookups for random Resource-IDs from random
// peers, each a single attempt: Success is the fraction that reached the
// peer responsible on the brute-force ring; hop counts are over those.
type LookupReport struct {
	Count     int     `json:"count"`
	OK        int     `json:"ok"`
	Success   float64 `json:"success"`
	MeanHops  float64 `json:"mean_hops"`
	P50Hops   int     `json:"p50_hops"`
	P99Hops   int     `json:"p99_hops"`
	MaxHops   int     `json:"max_hops"`
	HalfLog2N float64 `json:"half_log2_n"`
}

// ChurnReport is the churn phase: Failed peers crash at tick 0; lookups
// (with retries) run from Baseline ticks before to Window ticks after.
type ChurnReport struct {
	Failed    int `json:"failed"`
	Survivors int `json:"survivors"`
	// During covers the lookups started in [0, Window).
	During AttemptReport `json:"during"`
	// Reconverged says whether the survivors reached the brute-force
	// ring; RepairTicks is when, counted from the failures (checked every
	// 10 ticks), and RepairWall the wall-clock seconds it took.
	Reconverged bool    `json:"reconverged"`
	RepairTicks int64   `json:"repair_ticks"`
	RepairWall  float64 `json:"repair_wall_s"`
	// Repair999Ticks is when at least 99.9% of the survivors first had
	// the brute-force sets (-1: never seen).
	Repair999Ticks int64 `json:"repair_999_ticks"`
	// RepairHops is the number of protocol message hops (lookups
	// excluded) from the failures to reconvergence, RepairOriginated the
	// messages.
	RepairHops       int `json:"repair_hops"`
	RepairOriginated int `json:"repair_originated"`
	// After is measured on the repaired ring.
	After LookupReport `json:"after"`
	// Timeline buckets the lookups by the tick their first attempt
	// started, relative to the failures, Bucket ticks a sample.
	Bucket   int64    `json:"bucket_ticks"`
	Timeline []Sample `json:"timeline"`
}

// AttemptReport counts lookups with retries: OK reached the responsible
// peer within Tries attempts, FirstTry at the first; WrongPeer counts
// lookups of which an attempt ended at a peer that was not responsible
// (a retry may still have succeeded).
type AttemptReport struct {
	Lookups         int     `json:"lookups"`
	OK              int     `json:"ok"`
	FirstTry        int     `json:"first_try"`
	WrongPeer       int     `json:"wrong_peer"`
	Success         float64 `json:"success"`
	FirstTrySuccess float64 `json:"first_try_success"`
}

// Sample is one bucket of the churn timeline: lookups whose first
// attempt started in [Tick, Tick+Bucket), relative to the failures.
type Sample struct {
	Tick     int64 `json:"tick"`
	Lookups  int   `json:"lookups"`
	OK       int   `json:"ok"`
	FirstTry int   `json:"first_try"`
}

func (e *Experiment) defaults() error {
	if e.Nodes < 2 {
		return errors.New("sim: an experiment needs at least 2 nodes")
	}
	if e.Churn < 0 || e.Churn >= 1 {
		return fmt.Errorf("sim: churn %v is not in [0, 1)", e.Churn)
	}
	if e.Churn > 0 && e.Nodes-int(math.Round(e.Churn*float64(e.Nodes))) < 2 {
		return fmt.Errorf("sim: churn %v of %d nodes leaves fewer than 2", e.Churn, e.Nodes)
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	if e.JoinRate <= 0 {
		e.JoinRate = 1
	}
	if e.Lookups <= 0 {
		e.Lookups = 10000
	}
	if e.ChurnRate <= 0 {
		e.ChurnRate = 10
	}
	if e.Tries <= 0 {
		e.Tries = 3
	}
	def(&e.Baseline, 50)
	def(&e.Window, 600)
	def(&e.Timeout, 30)
	def(&e.Bucket, 10)
	def(&e.MaxTicks, 100000)
	def(&e.ProgressEvery, 100)
	return nil
}

// runner is the state of a running Experiment.
type runner struct {
	e     Experiment
	s     *Sim
	start time.Time
	// onCheck, when set, sees the number of converged peers at each check
	// of settle.
	onCheck func(ok int)
}

func (r *runner) progress(p Progress) {
	if r.e.Progress != nil {
		p.Elapsed = time.Since(r.start)
		r.e.Progress(p)
	}
}

// converged reports whether every live peer has the brute-force sets,
// and how many do.
func (r *runner) converged() (bool, int) {
	ok, bad := r.s.Converged(3, 3)
	return bad == nil && ok > 0, ok
}

// settle runs until the ring converges, at most max ticks, checking every
// 10 ticks and reporting progress as phase (ticks relative to t0).
func (r *runner) settle(phase string, target int, t0, max int64) bool {
	s := r.s
	for end := s.Now + max; ; {
		done, ok := r.converged()
		if r.onCheck != nil {
			r.onCheck(ok)
		}
		if done {
			return true
		}
		if s.Now >= end {
			return false
		}
		if (s.Now-t0)%r.e.ProgressEvery < 10 {
			r.progress(Progress{Phase: phase, Tick: s.Now - t0, Peers: len(s.Peers()), Target: target, Converged: ok})
		}
		s.Run(10)
	}
}

// Run runs an Experiment. The error reports a configuration that cannot
// run; a ring that does not converge is reported in the Report.
func (e Experiment) Run() (*Report, error) {
	if err := e.defaults(); err != nil {
		return nil, err
	}
	r := &runner{e: e, start: time.Now()}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)

	cfg := e.Sim
	cfg.Seed = e.Seed
	cfg.DropEvents = true
	s := New(cfg)
	r.s = s
	rep := &Report{Nodes: e.Nodes, Seed: e.Seed, JoinRate: e.JoinRate}

	// Joins, JoinRate per tick, each through a random peer.
	for joined := 0; joined < e.Nodes; {
		for k := 0; k < e.JoinRate && joined < e.Nodes; k++ {
			id := s.RandomID()
			if _, err := s.Add(id); err != nil {
				return nil, err
			}
			peers := s.Peers()
			var err error
			if joined == 0 {
				err = s.Start(id)
			} else {
				if len(peers) == 0 {
					return nil, errors.New("sim: no peer left to join through")
				}
				err = s.Join(id, peers[s.Rand.IntN(len(peers))])
			}
			if err != nil {
				return nil, err
			}
			joined++
		}
		rep.LastJoinTick = s.Now
		s.Tick()
		if s.Now%e.ProgressEvery == 0 || joined == e.Nodes {
			r.progress(Progress{Phase: "join", Tick: s.Now, Peers: len(s.Peers()), Target: e.Nodes, Converged: -1})
		}
	}
	rep.Converged = r.settle("converge", e.Nodes, 0, e.MaxTicks)
	rep.ConvergeTicks = s.Now
	rep.ConvergeWall = time.Since(r.start).Seconds()
	rep.TickMillis = float64(s.TickLength().Microseconds()) / 1000

	joins := float64(e.Nodes - 1) // the first peer starts the ring
	rep.Messages = MessageReport{
		Hops:              s.Stats.Sent - s.Stats.Probes,
		Originated:        s.Stats.Originated,
		HopsPerJoin:       float64(s.Stats.Sent-s.Stats.Probes) / joins,
		OriginatedPerJoin: float64(s.Stats.Originated) / joins,
		RequestsPerJoin:   map[string]float64{},
	}
	for code, k := range s.Stats.ByCode {
		rep.Messages.RequestsPerJoin[code.String()] = float64(k) / joins
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if m1.HeapAlloc > m0.HeapAlloc {
		rep.HeapBytes = m1.HeapAlloc - m0.HeapAlloc
	}
	rep.MemoryPerPeer = float64(rep.HeapBytes) / float64(e.Nodes)

	r.progress(Progress{Phase: "lookups", Tick: s.Now, Peers: len(s.Peers()), Target: e.Nodes, Converged: -1})
	rep.Lookups = Summarise(s.Lookups(e.Lookups, 1000), len(s.Peers()))

	if e.Churn > 0 {
		rep.Churn = r.churn()
	}
	rep.Wall = time.Since(r.start).Seconds()
	return rep, nil
}

// attempt is a lookup with retries in the churn phase.
type attempt struct {
	l         *Lookup
	from, key wire.NodeID
	tries     int
	issued    int64 // first attempt, relative to the failures
	ok        bool
	abandoned bool // its peer failed: not counted
	wrong     bool // an attempt reached a peer that is not responsible
}

// churn fails a fraction of the peers and measures lookups and repair.
func (r *runner) churn() *ChurnReport {
	e, s := r.e, r.s
	cr := &ChurnReport{Bucket: e.Bucket, Repair999Ticks: -1}
	peers := slices.Clone(s.Peers())
	s.Rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	victims := peers[:int(math.Round(e.Churn*float64(len(peers))))]
	cr.Failed, cr.Survivors = len(victims), len(peers)-len(victims)

	t0 := s.Now + e.Baseline
	var all, active []*attempt
	done, okCount := 0, 0
	finish := func(a *attempt) {
		done++
		if a.ok {
			okCount++
		}
	}
	step := func(issue bool) {
		if issue {
			live := s.Peers()
			for range e.ChurnRate {
				k := s.RandomID()
				from := live[s.Rand.IntN(len(live))]
				a := &attempt{l: s.Lookup(from, k.Bytes()), from: from, key: k, tries: 1, issued: s.Now - t0}
				all = append(all, a)
				active = append(active, a)
			}
		}
		s.Tick()
		active = slices.DeleteFunc(active, func(a *attempt) bool {
			if a.l.OK {
				a.ok = true
				finish(a)
				return true
			}
			if a.l.Done && !a.l.OK && !a.wrong {
				a.wrong = true
			}
			if s.Now-a.l.Issued < e.Timeout {
				return false // the originator learns of a failure by its timeout
			}
			if a.tries >= e.Tries {
				finish(a)
				return true
			}
			if n := s.Node(a.from); n == nil || !n.Alive {
				a.abandoned = true
				return true
			}
			a.tries++
			a.l = s.Lookup(a.from, a.key.Bytes())
			return false
		})
	}
	var hops0, orig0 int
	var wall0 time.Time
	checkRepair := func() {
		if (s.Now-t0)%10 != 0 {
			return
		}
		if cr.Reconverged {
			if (s.Now-t0)%e.ProgressEvery == 0 {
				r.progress(Progress{Phase: "repair", Tick: s.Now - t0, Peers: len(s.Peers()), Target: cr.Survivors,
					Converged: len(s.Peers()), LookupsDone: done, LookupsOK: okCount})
			}
			return
		}
		conv, ok := r.converged()
		if cr.Repair999Ticks < 0 && 1000*ok >= 999*cr.Survivors {
			cr.Repair999Ticks = s.Now - t0
		}
		if conv {
			cr.Reconverged, cr.RepairTicks = true, s.Now-t0
			cr.RepairWall = time.Since(wall0).Seconds()
			cr.RepairHops = s.Stats.Sent - s.Stats.Probes - hops0
			cr.RepairOriginated = s.Stats.Originated - orig0
		}
		if (s.Now-t0)%e.ProgressEvery == 0 {
			r.progress(Progress{Phase: "repair", Tick: s.Now - t0, Peers: len(s.Peers()), Target: cr.Survivors,
				Converged: ok, LookupsDone: done, LookupsOK: okCount})
		}
	}

	for s.Now < t0 {
		step(true)
		if (s.Now-t0)%e.ProgressEvery == 0 {
			r.progress(Progress{Phase: "churn", Tick: s.Now - t0, Peers: len(s.Peers()), Target: e.Nodes,
				Converged: -1, LookupsDone: done, LookupsOK: okCount})
		}
	}
	// The failures, counted from the probes' share of traffic excluded.
	hops0, orig0, wall0 = s.Stats.Sent-s.Stats.Probes, s.Stats.Originated, time.Now()
	s.FailMany(victims)
	for s.Now < t0+e.Window {
		step(true)
		checkRepair()
	}
	for len(active) > 0 {
		step(false)
		checkRepair()
	}
	if !cr.Reconverged {
		r.onCheck = func(ok int) {
			if cr.Repair999Ticks < 0 && 1000*ok >= 999*cr.Survivors {
				cr.Repair999Ticks = s.Now - t0
			}
		}
		ok := r.settle("repair", cr.Survivors, t0, e.MaxTicks)
		r.onCheck = nil
		if ok {
			cr.Reconverged, cr.RepairTicks = true, s.Now-t0
			cr.RepairWall = time.Since(wall0).Seconds()
			cr.RepairHops = s.Stats.Sent - s.Stats.Probes - hops0
			cr.RepairOriginated = s.Stats.Originated - orig0
		}
	}

	// Timeline and the lookups started during the window.
	first := -e.Baseline
	samples := map[int64]*Sample{}
	for _, a := range all {
		if a.abandoned {
			continue
		}
		b := floorDiv(a.issued-first, e.Bucket)*e.Bucket + first
		sm := samples[b]
		if sm == nil {
			sm = &Sample{Tick: b}
			samples[b] = sm
		}
		sm.Lookups++
		if a.ok {
			sm.OK++
			if a.tries == 1 {
				sm.FirstTry++
			}
		}
		if a.issued >= 0 && a.issued < e.Window {
			cr.During.Lookups++
			if a.wrong {
				cr.During.WrongPeer++
			}
			if a.ok {
				cr.During.OK++
				if a.tries == 1 {
					cr.During.FirstTry++
				}
			}
		}
	}
	for _, sm := range samples {
		cr.Timeline = append(cr.Timeline, *sm)
	}
	slices.SortFunc(cr.Timeline, func(a, b Sample) int { return int(a.Tick - b.Tick) })
	if cr.During.Lookups > 0 {
		cr.During.Success = float64(cr.During.OK) / float64(cr.During.Lookups)
		cr.During.FirstTrySuccess = float64(cr.During.FirstTry) / float64(cr.During.Lookups)
	}
	r.progress(Progress{Phase: "lookups", Tick: s.Now - t0, Peers: len(s.Peers()), Target: cr.Survivors, Converged: -1})
	cr.After = Summarise(s.Lookups(e.Lookups, 1000), len(s.Peers()))
	return cr
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Summarise reports on single-attempt lookups on a ring of n peers.
func Summarise(ls []*Lookup, n int) LookupReport {
	lr := LookupReport{Count: len(ls), HalfLog2N: math.Log2(float64(n)) / 2}
	var hops []int
	for _, l := range ls {
		if l.OK {
			hops = append(hops, l.Hops)
		}
	}
	lr.OK = len(hops)
	if lr.Count > 0 {
		lr.Success = float64(lr.OK) / float64(lr.Count)
	}
	if len(hops) == 0 {
		return lr
	}
	slices.Sort(hops)
	sum := 0
	for _, h := range hops {
		sum += h
	}
	lr.MeanHops = float64(sum) / float64(len(hops))
	lr.P50Hops = percentile(hops, 0.50)
	lr.P99Hops = percentile(hops, 0.99)
	lr.MaxHops = hops[len(hops)-1]
	return lr
}

// percentile is the smallest value with at least fraction p of the
// sorted values at or below it.
func percentile(sorted []int, p float64) int {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// SweepPoint is the routing measured on a converged ring of N peers.
type SweepPoint struct {
	N             int     `json:"n"`
	MeanHops      float64 `json:"mean_hops"`
	P99Hops       int     `json:"p99_hops"`
	HalfLog2N     float64 `json:"half_log2_n"`
	Success       float64 `json:"success"`
	Converged     bool    `json:"converged"`
	ConvergeTicks int64   `json:"converge_ticks"`
}

// Sweep grows and measures a ring for each size in sizes, with lookups
// lookups each (seed+size seeds each run); done, when set, is called
// after each size.
func Sweep(sizes []int, seed uint64, lookups int, done func(SweepPoint)) ([]SweepPoint, error) {
	var out []SweepPoint
	for _, n := range sizes {
		rep, err := Experiment{Nodes: n, Seed: seed + uint64(n), Lookups: lookups}.Run()
		if err != nil {
			return out, err
		}
		p := SweepPoint{N: n, MeanHops: rep.Lookups.MeanHops, P99Hops: rep.Lookups.P99Hops,
			HalfLog2N: rep.Lookups.HalfLog2N, Success: rep.Lookups.Success,
			Converged: rep.Converged, ConvergeTicks: rep.ConvergeTicks}
		out = append(out, p)
		if done != nil {
			done(p)
		}
	}
	return out, nil
}
