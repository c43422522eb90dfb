package chord

import (
	"math"
	"slices"
	"time"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// Self-tuning CHORD-RELOAD (RFC 7363). With Config.SelfTuning a peer
// estimates the overlay size from the density of its neighbourhood set
// (§6.1), the per-peer failure rate from the failures it observes (§6.3)
// and the join rate from the uptimes of the peers in its routing table
// (§6.4); it shares the estimates with number-of-peers-to-probe random
// fingers in Probe requests and answers carrying a self_tuning_data
// message extension (§6.5), and at the end of every stabilisation period
// it sizes its neighbour sets and finger table (§6.2) and sets the next
// stabilisation interval (§6.6) from the 75th percentiles of its own and
// the received estimates.

// Self-tuning defaults.
const (
	// DefaultPeersToProbe is number-of-peers-to-probe (RFC 7363 §7).
	DefaultPeersToProbe = 4
	// DefaultMinUpdateInterval is the lower limit of the stabilisation
	// interval RFC 7363 §6.6 recommends.
	DefaultMinUpdateInterval = 15 * time.Second
)

// secondsPerDay converts the rates of SelfTuningData, "joins or failures
// per 24 hours" (RFC 7363 §6.5), to and from rates per second.
const secondsPerDay = 24 * 60 * 60

// maxShared bounds the estimates kept from others in one period,
// maxUptimes the peers whose uptime is remembered.
const (
	maxShared  = 64
	maxUptimes = 256
)

// SelfTuning is a self-tuning peer's view (RFC 7363 §6): its own
// estimates, the ones it uses (the 75th percentiles of its own and those
// received in the last period, §6.5), and the parameters they set.
type SelfTuning struct {
	// LocalSize is the network size estimate from the neighbourhood
	// density (§6.1); NetworkSize the shared estimate in use.
	LocalSize, NetworkSize float64
	// FailureRate is U (§6.3), failures per peer per second; JoinRate L
	// (§6.4), joins per second in the whole overlay. Both are the shared
	// estimates in use; a zero JoinRate is no estimate yet.
	FailureRate, JoinRate float64
	// Failures is the number of failures in the history (§6.3).
	Failures int
	// Received counts the estimates received from other peers in the
	// current period (§6.5), Shared all received since New.
	Received int
	Shared   uint64
	// UpdateInterval is the stabilisation interval Tstab (§6.6).
	UpdateInterval time.Duration
	// Successors, Predecessors and Fingers are the table sizes (§6.2).
	Successors, Predecessors, Fingers int
	// Recalculations counts the ends of stabilisation periods at which
	// the parameters were recalculated (§6).
	Recalculations uint64
}

// uptimeSeen is a routing-table peer's uptime as last reported and when
// (§6.4).
type uptimeSeen struct {
	uptime uint32
	at     int64
}

// tuner is the self-tuning state of a Chord.
type tuner struct {
	probe    int   // number-of-peers-to-probe
	min, max int64 // bounds of the interval, ticks
	history  []int64
	joinMark bool // history[0] is the join time, not a failure
	uptimes  map[wire.NodeID]uptimeSeen
	// shared estimates received this period (§6.5), one per sender, so
	// that no peer weighs in more than once (§8)
	size, join, leave []float64
	from              []wire.NodeID
	// own holds this peer's own latest estimates, which it shares: sharing
	// the percentiles instead would feed each peer's bias back to others
	// until a high value no longer decays.
	own struct{ size, join, leave float64 }
	st  SelfTuning
}

func newTuner(c *Chord) *tuner {
	t := &tuner{probe: c.cfg.PeersToProbe, min: c.cfg.ticks(c.cfg.MinUpdateInterval), max: c.cfg.ticks(c.cfg.MaxUpdateInterval)}
	t.min = min(t.min, t.max)
	t.st.UpdateInterval = time.Duration(c.updateEvery) * c.cfg.TickLength
	t.st.NetworkSize, t.st.LocalSize = 1, 1
	return t
}

// UpdateInterval is the current stabilisation interval: the configured
// one, or with self-tuning the one it set (RFC 7363 §6.6).
func (c *Chord) UpdateInterval() time.Duration {
	return time.Duration(c.updateEvery) * c.cfg.TickLength
}

// SelfTuning returns the self-tuning state; ok is false when self-tuning
// is off.
func (c *Chord) SelfTuning() (s SelfTuning, ok bool) {
	if c.tune == nil {
		return SelfTuning{}, false
	}
	s = c.tune.st
	s.Received = len(c.tune.size)
	s.Failures = len(c.tune.history)
	if c.tune.joinMark {
		s.Failures--
	}
	s.Successors, s.Predecessors, s.Fingers = c.cfg.Successors, c.cfg.Predecessors, len(c.fingers)
	return s, true
}

// tuneJoined starts the failure history: "The current time is inserted
// into the history when the peer joins the overlay" (§6.3).
func (c *Chord) tuneJoined() {
	if c.tune == nil {
		return
	}
	c.tune.history, c.tune.joinMark = []int64{c.now}, true
	// §6.1: "a joining peer immediately has enough information at its
	// disposal to calculate an estimate of the network size": the first
	// period is set from it too, not from the configured interval.
	c.retune()
	c.nextUpdate = c.now + 1 + c.cfg.Rand.Int64N(c.updateEvery)
}

// tuneFailure inserts a failure of routing-table peer n into the history
// (§6.3.1: a Leave from a neighbour, an unanswered request, a lost link).
func (c *Chord) tuneFailure(n wire.NodeID) {
	t := c.tune
	if t == nil || c.state != statePeer || !c.inTable(n) {
		return
	}
	t.history = append(t.history, c.now)
	if k := t.historySize(c); len(t.history) > k {
		t.history = slices.Delete(t.history, 0, len(t.history)-k)
		t.joinMark = false
	}
	delete(t.uptimes, n)
}

// tuneUptime records the uptime a peer reported in an Update or a Probe
// answer (§5.1, §6.4).
func (c *Chord) tuneUptime(n wire.NodeID, up uint32) {
	if c.tune == nil {
		return
	}
	if c.tune.uptimes == nil {
		c.tune.uptimes = make(map[wire.NodeID]uptimeSeen)
	}
	if _, known := c.tune.uptimes[n]; !known && len(c.tune.uptimes) >= maxUptimes {
		return // pruned to the routing table at the next recalculation
	}
	c.tune.uptimes[n] = uptimeSeen{uptime: up, at: c.now}
}

// historySize is K, 25% of the routing table size (§6.3, RECOMMENDED),
// at least 1.
func (t *tuner) historySize(c *Chord) int {
	return max(1, int(math.Ceil(0.25*float64(c.routingTableSize()))))
}

// routingTableSize is M, the number of unique peers in the routing table.
func (c *Chord) routingTableSize() int {
	ids := c.neighbors()
	for _, f := range c.fingers {
		if !f.IsZero() && !slices.Contains(ids, f) {
			ids = append(ids, f)
		}
	}
	return len(ids)
}

// ringFraction is the clockwise distance from a to b as a fraction of the
// ring (0 for a == b).
func ringFraction(a, b wire.NodeID) float64 {
	d := ringKeyOf(b).sub(ringKeyOf(a))
	return (float64(d[0]) + float64(d[1])/(1<<64)) / (1 << 64)
}

// estimateSize is N = 2^numBitsInNodeId / d, d being the average distance
// between successive peers from the most distant predecessor to the most
// distant successor (§6.1). When the neighbour sets overlap, the ring is
// small enough to be seen whole, and the count is exact.
func (c *Chord) estimateSize() float64 {
	if len(c.succ) == 0 && len(c.pred) == 0 {
		return 1
	}
	uniq := len(c.neighbors())
	if uniq < len(c.succ)+len(c.pred) || len(c.succ) < c.cfg.Successors || len(c.pred) < c.cfg.Predecessors {
		return float64(uniq + 1)
	}
	first, last := c.pred[len(c.pred)-1], c.succ[len(c.succ)-1]
	span := ringFraction(first, last)
	if topology.InOO(first, last, c.id) || span <= 0 {
		// The sets wrap round the ring: every peer is in them.
		return float64(uniq + 1)
	}
	return float64(len(c.succ)+len(c.pred)) / span
}

// estimateFailureRate is U = k / (M·Tk) (§6.3): k failures in the
// history, Tk the time between its first and last entry; with fewer than
// K failures, as if one happened now.
func (c *Chord) estimateFailureRate() float64 {
	t := c.tune
	h := t.history
	k := len(h)
	if t.joinMark {
		k--
	}
	if len(h) == 0 {
		return 0
	}
	last := h[len(h)-1]
	if k < t.historySize(c) {
		k++
		last = c.now
	}
	m := c.routingTableSize()
	tk := float64(last-h[0]) * c.cfg.TickLength.Seconds()
	if m == 0 || k == 0 {
		return 0
	}
	// No rate is measured over less than the shortest stabilisation
	// period: at the join, Tk would be 0.
	tk = max(tk, float64(t.min)*c.cfg.TickLength.Seconds())
	return float64(k) / (float64(m) * tk)
}

// estimateJoinRate is L = N / Ages[floor(rsize/2)] (§6.4), over the
// routing-table peers whose uptime is known; 0 while none is.
func (c *Chord) estimateJoinRate(n float64) float64 {
	t := c.tune
	var ages []float64
	for id, u := range t.uptimes {
		if !c.inTable(id) {
			delete(t.uptimes, id)
			continue
		}
		ages = append(ages, float64(u.uptime)+float64(c.now-u.at)*c.cfg.TickLength.Seconds())
	}
	if len(ages) == 0 {
		return 0
	}
	slices.Sort(ages)
	a := ages[len(ages)/2]
	if a < 1 {
		a = 1
	}
	return n / a
}

// percentile75 is the 75th percentile of v as RFC 7363 §2 defines a
// percentile: the value of rank round(0.75·len(v)), counted from 1.
func percentile75(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	r := int(math.Round(0.75 * float64(len(s))))
	r = min(max(r, 1), len(s))
	return s[r-1]
}

// log2Sq is square(log2(N)), at least 1.
func log2Sq(n float64) float64 {
	l := math.Log2(max(n, 2))
	return l * l
}

// stabInterval is Tstab in seconds for overlay size n, per-peer failure
// rate u and join rate l (per second; 0: no estimate), RFC 7363 §6.6:
// Tstab-1 = Tf / square(log2(N)) with Tf = 1/(2U), the time in which N/2
// peers fail; Tstab-2 = N / (L·square(log2(N))), the time in which N
// peers join; Tstab = min(Tstab-1, Tstab-2). +Inf without estimates.
func stabInterval(n, u, l float64) float64 {
	stab := math.Inf(1)
	if u > 0 {
		stab = 1 / (2 * u) / log2Sq(n)
	}
	if l > 0 {
		stab = min(stab, n/(l*log2Sq(n)))
	}
	return stab
}

// retune recalculates the parameters at the end of a stabilisation
// period, before the timer restarts (§6).
func (c *Chord) retune() {
	t := c.tune
	local := c.estimateSize()
	u := c.estimateFailureRate()
	l := c.estimateJoinRate(local)
	t.own.size, t.own.join, t.own.leave = local, l, u
	// §6.5: the 75th percentile of a data set of the peer's own estimate
	// and those received in the period.
	n := percentile75(append(t.size, local))
	u = percentile75(append(t.leave, u))
	if l > 0 || len(t.join) > 0 {
		l = percentile75(append(t.join, l))
	}
	t.size, t.join, t.leave, t.from = t.size[:0], t.join[:0], t.leave[:0], t.from[:0]
	t.st.LocalSize, t.st.NetworkSize, t.st.FailureRate, t.st.JoinRate = local, n, u, l
	t.st.Recalculations++

	// Bounded below (15 s RECOMMENDED, §6.6) and above by the
	// configured maximum.
	stab := stabInterval(n, u, l)
	ticks := t.max
	if s := stab / c.cfg.TickLength.Seconds(); s < float64(t.max) {
		ticks = max(int64(math.Ceil(s)), t.min)
	}
	if math.IsInf(stab, 1) && c.routingTableSize() == 0 {
		// Alone (the first peer): no estimate yet, and nobody to send
		// to; the shortest period recalculates as soon as peers come.
		ticks = t.min
	}
	if ticks != c.updateEvery {
		c.updateEvery = ticks
	}
	t.st.UpdateInterval = time.Duration(c.updateEvery) * c.cfg.TickLength

	// §6.2: fingers max(ceiling(log2(N)), 16); successor list at most
	// ceiling(log2(N)) and at least 3 (our lower limit, which RFC 6940
	// §10.7 sets for CHORD-RELOAD); predecessors ceiling(log2(N)), at
	// least 3 for the same reason.
	lg := int(math.Ceil(math.Log2(max(n, 2))))
	c.resizeFingers(min(max(lg, DefaultFingers), 8*c.idLen))
	size := max(lg, 3)
	if size != c.cfg.Successors || size != c.cfg.Predecessors {
		c.cfg.Successors, c.cfg.Predecessors = size, size
		c.cfg.Replicas = min(c.cfg.Replicas, size)
		c.recompute()
	}
}

// resizeFingers sets the finger table size to n slots, keeping the
// entries of the slots that remain (§5.4, §6.2).
func (c *Chord) resizeFingers(n int) {
	if n == len(c.fingers) {
		return
	}
	old := len(c.fingers)
	c.fingers = resized(c.fingers, n)
	c.searching = resized(c.searching, n)
	c.fingerStart = resized(c.fingerStart, n)
	c.fingerKey = resized(c.fingerKey, n)
	bits := 8 * c.idLen
	for i := old; i < n; i++ {
		c.fingerStart[i] = topology.AddPow2(c.id, bits-(i+1))
		c.fingerKey[i] = ringKeyOf(c.fingerStart[i])
		c.refillFinger(i)
	}
	c.reqs = slices.DeleteFunc(c.reqs, func(r request) bool { return r.kind == reqFingerPing && r.finger >= n })
}

func resized[T any](s []T, n int) []T {
	out := make([]T, n)
	copy(out, s)
	return out
}

// tuneData is this peer's SelfTuningData (§6.5): "the latest ...
// estimate calculated by the sender", its own, rates per 24 hours rounded
// up. leave_rate is the overlay's rate of failures, U·N, like join_rate an
// overlay-wide figure.
func (c *Chord) tuneData() wire.MessageExtension {
	o := c.tune.own
	d := wire.SelfTuningData{
		NetworkSize: clampU32(math.Round(o.size)),
		JoinRate:    clampU32(math.Ceil(o.join * secondsPerDay)),
		LeaveRate:   clampU32(math.Ceil(o.leave * o.size * secondsPerDay)),
	}
	b, _ := d.Append(nil)
	return wire.MessageExtension{Type: wire.ExtSelfTuningData, Critical: false, Contents: b}
}

func clampU32(v float64) uint32 {
	switch {
	case v <= 0 || math.IsNaN(v):
		return 0
	case v >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}

// tuneReceive stores the estimates of a self_tuning_data extension in ext
// from peer 'from' (§6.5). A malformed one is ignored: the extension is
// not critical.
func (c *Chord) tuneReceive(from wire.NodeID, ext []wire.MessageExtension) {
	t := c.tune
	if t == nil || slices.Contains(t.from, from) {
		return
	}
	for _, e := range ext {
		if e.Type != wire.ExtSelfTuningData {
			continue
		}
		var d wire.SelfTuningData
		if _, err := d.Decode(e.Contents); err != nil || d.NetworkSize == 0 || len(t.size) >= maxShared {
			continue
		}
		n := float64(d.NetworkSize)
		t.st.Shared++
		t.from = append(t.from, from)
		t.size = append(t.size, n)
		t.leave = append(t.leave, float64(d.LeaveRate)/secondsPerDay/n)
		if d.JoinRate > 0 {
			t.join = append(t.join, float64(d.JoinRate)/secondsPerDay)
		}
		return
	}
}

// tuneProbe sends a Probe for the uptime with this peer's estimates to
// number-of-peers-to-probe random fingers (§5.3, §6.5); the finger table
// rather than the neighbour table, whose peers make similar errors.
func (c *Chord) tuneProbe() {
	fs := c.Fingers()
	c.cfg.Rand.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	ext := []wire.MessageExtension{c.tuneData()}
	for _, f := range fs[:min(len(fs), c.tune.probe)] {
		if c.outstanding(reqTuneProbe, f) {
			continue
		}
		c.request(topology.Outgoing{To: f, Code: wire.CodeProbeReq,
			Body: encode(&wire.ProbeReq{RequestedInfo: []wire.ProbeInformationType{wire.ProbeUptime}}), Ext: ext}, reqTuneProbe, 0)
	}
}

// tuneProbeAnswer takes a Probe answer's estimates and uptime.
func (c *Chord) tuneProbeAnswer(in *topology.Incoming) {
	if c.tune == nil || in.Code != wire.CodeProbeAns {
		return
	}
	c.tuneReceive(in.From, in.Ext)
	var a wire.ProbeAns
	if _, err := a.Decode(in.Body); err != nil {
		return
	}
	for _, p := range a.ProbeInfo {
		if p.Type == wire.ProbeUptime {
			c.tuneUptime(in.From, p.Value)
		}
	}
}

// tuneAnswerProbe takes the estimates of a Probe request and puts ours
// into its answer, the last message queued (§6.5: "Both the Probe request
// and the answer ... MUST contain" the extension).
func (c *Chord) tuneAnswerProbe(in *topology.Incoming) {
	if c.tune == nil || c.state != statePeer || len(c.msgs) == 0 {
		return
	}
	if !slices.ContainsFunc(in.Ext, func(e wire.MessageExtension) bool { return e.Type == wire.ExtSelfTuningData }) {
		return
	}
	c.tuneReceive(in.From, in.Ext)
	c.msgs[len(c.msgs)-1].Ext = []wire.MessageExtension{c.tuneData()}
}
