package transport

import (
	"time"

	"github.com/goreload/reload/wire"
)

// The windowed sender of simple reliability (RFC 6940 §6.6.3, §6.6.4:
// "Any compliant sender algorithm may be used").
//
// Congestion control is NewReno's (RFC 5681, RFC 6582) counted in bytes,
// as QUIC does (RFC 9002 §7): an initial window of ten segments (RFC
// 6928), slow start up to ssthresh, then one segment more per window
// acknowledged; on a loss event the window halves, once per window of
// data (the recovery period of RFC 6582 §3.2 and RFC 9002 §7.3.2); on a
// retransmission timeout it falls to one segment. RFC 8085 §3.1.2 asks a
// bulk sender over UDP for TCP-friendly congestion control, and NewReno
// needs only what the ACKs of §6.6.2 give. CUBIC (RFC 9438) would grow
// faster on long fat paths, which overlay links rarely are, for more
// state and a cubic root per ACK.
//
// Loss is detected three ways. The received map of an ACK says which of
// the 32 frames before the acknowledged one arrived (§6.6.2), which is a
// selective acknowledgement: a frame still unacknowledged when a frame
// sent three later has been acknowledged is lost (fast retransmit: the
// three duplicate ACKs of RFC 5681 §3.2, the packet threshold of RFC
// 9002 §6.1.1; a frame taken as lost whose ACK comes after all raises
// the threshold). So is one sent before an acknowledged frame more than
// 9/8 RTT ago (the time threshold of RFC 9002 §6.1.2 and RACK, RFC
// 8985), which finds losses in windows too small for three later
// frames. When no ACK comes for about an RTT after the last frame sent,
// one probe frame goes out beyond the window (the tail loss probe of RFC
// 8985 §7), so that its ACK shows what was lost before the RTO would.
// When the oldest frame in flight is unacknowledged for an RTO (RFC
// 6298, with the backoff of §6.6.3.1), everything in flight is lost (RFC
// 6298 §5.4–5.6, RFC 5681 §3.1).
//
// A lost message is sent again under a new sequence number (§6.6.3.1),
// so that every ACK is an RTT sample; an ACK of any of its transmissions
// acknowledges it. A message's fifth transmission (MaxTransmissions) is
// taken as lost only by the timer, after RTO·2^4 as stop-and-wait waits
// for its last one; the link then fails, as with stop-and-wait.

const (
	// windowMSS is the segment size of the window arithmetic: the
	// default link MTU. A frame counts its framed size.
	windowMSS = DefaultMTU
	// initialWindow is the window before any loss (RFC 6928).
	initialWindow = 10 * windowMSS
	// minWindow is the floor of a window halved on loss (RFC 5681 §3.1,
	// formula 4).
	minWindow = 2 * windowMSS
	// lossWindow is the window after a retransmission timeout (RFC 5681
	// §3.1: one segment).
	lossWindow = windowMSS
	// reorderThreshold is how many sequence numbers a frame may trail the
	// newest acknowledged one before it is taken as lost, at first; a
	// frame taken as lost and acknowledged later raises it, up to
	// maxReorder (the reach of the received map), as Linux TCP does with
	// its reordering metric.
	reorderThreshold = 3
	maxReorder       = 32
)

// wmsg is one message taken from the queue and not yet acknowledged.
type wmsg struct {
	data   []byte
	tx     int  // transmissions so far
	acked  bool // an ACK named one of its transmissions
	queued bool // waiting in retx
}

// Frame states.
const (
	frameInFlight uint8 = iota
	frameAcked
	frameLost
)

// wframe is one data frame sent.
type wframe struct {
	at     time.Time
	m      *wmsg
	size   int
	state  uint8
	lostBy uint32 // when lost by reordering: how far it trailed then
}

// window is the windowed sender's state.
type window struct {
	// frames[head:] are the frames from sequence number base on, one per
	// sequence number sent since; frames[fif] is the oldest in flight.
	// Frames taken as lost are kept for a while, so that a late ACK
	// still acknowledges their message.
	frames []wframe
	head   int
	fif    int
	base   uint32
	// reorder is the current reordering threshold.
	reorder uint32

	retx        []*wmsg // lost messages, to send again before new ones
	unackedMsgs int     // messages sent and not acknowledged
	inflight    int     // bytes in flight
	nInflight   int     // frames in flight

	cwnd, ssthresh int
	caAcked        int // bytes acknowledged towards the next increase

	// A loss of a frame up to recovery belongs to the loss event that
	// already reduced the window.
	recovery      uint32
	recoveryValid bool
	largest       uint32 // newest sequence number acknowledged
	anyAcked      bool

	// limited is set when the window held a frame back since the sender
	// last ran out of frames to send: only then does it grow (RFC 7661).
	limited bool

	latestRTT time.Duration
	lossAt    time.Time // when a frame may be lost by the time threshold

	// A probe timeout sends one frame beyond the window when no ACK came
	// for about an RTT after the last frame sent (the tail loss probe of
	// RFC 8985 §7, the PTO of RFC 9002 §6.2), so that the ACK it draws
	// reveals the losses before it instead of the RTO.
	lastSent time.Time
	ptoAt    time.Time
	ptoCount int
	probe    bool // the next frame is a probe

	rtoAt   time.Time // when the oldest frame in flight is lost; zero when none
	backoff int       // consecutive timeouts without an ACK
}

func newWindow() *window {
	return &window{cwnd: initialWindow, ssthresh: 1 << 30, reorder: reorderThreshold}
}

// seqAfter reports whether a is later than b in sequence number space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// frame is the frame with sequence number seq, nil when it is older than
// the oldest in flight or was never sent.
func (w *window) frame(seq uint32) *wframe {
	d := seq - w.base
	if d >= uint32(len(w.frames)-w.head) {
		return nil
	}
	return &w.frames[w.head+int(d)]
}

// trim finds the oldest frame in flight and drops the frames before it,
// except lost ones among the keep newest sequence numbers (next is the
// next to send).
func (w *window) trim(next uint32, keep int) {
	for w.fif < len(w.frames) && w.frames[w.fif].state != frameInFlight {
		w.fif++
	}
	for w.head < w.fif {
		if w.frames[w.head].state == frameLost && int(next-w.base) <= keep {
			break
		}
		w.frames[w.head] = wframe{}
		w.head++
		w.base++
	}
	switch {
	case w.head == len(w.frames):
		w.frames, w.head, w.fif = w.frames[:0], 0, 0
	case w.head > 64 && 2*w.head > len(w.frames):
		n := copy(w.frames, w.frames[w.head:])
		clear(w.frames[n:])
		w.frames, w.fif, w.head = w.frames[:n], w.fif-w.head, 0
	}
}

// keepLost is how many of the newest sequence numbers the lost frames
// are remembered for.
func (s *Sender) keepLost() int { return 2 * s.cfg.MaxWindow }

// maxCwnd caps the window at the frames the sender may have in flight.
func (s *Sender) maxCwnd() int { return s.cfg.MaxWindow * windowMSS }

// rtoBackoff is the RTO doubled for each timeout since the last ACK
// (RFC 6298 §5.5), capped at MaxRTO.
func (s *Sender) rtoBackoff() time.Duration {
	d := s.rto.RTO()
	for i := 0; i < s.win.backoff && d < s.cfg.MaxRTO; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxRTO)
}

func (s *Sender) pollWindow(now time.Time) (f wire.FramedMessage, ok bool) {
	w := s.win
	if !w.lossAt.IsZero() && !now.Before(w.lossAt) {
		s.detectLosses(now)
		s.armTimer()
	}
	if !w.rtoAt.IsZero() && !now.Before(w.rtoAt) {
		s.onTimeout(now)
	}
	if s.err != nil {
		return f, false
	}
	if !w.ptoAt.IsZero() && !now.Before(w.ptoAt) {
		w.ptoAt = time.Time{}
		w.ptoCount++
		w.probe = true
		if len(w.retx) == 0 && len(s.queue) == 0 {
			// Nothing new to send: the probe is the newest message in
			// flight again, if it was sent only once (a probe spends
			// at most one of a message's transmissions).
			for i := len(w.frames) - 1; i >= w.fif; i-- {
				if g := &w.frames[i]; g.state == frameInFlight && !g.m.acked && !g.m.queued && g.m.tx == 1 {
					g.m.queued = true
					w.retx = append(w.retx, g.m)
					break
				}
			}
		}
	}
	for len(w.retx) > 0 && w.retx[0].acked {
		w.retx[0] = nil
		w.retx = w.retx[1:]
	}
	var size int
	switch {
	case len(w.retx) > 0:
		size = len(w.retx[0].data)
	case len(s.queue) > 0:
		size = len(s.queue[0])
	case w.unackedMsgs == 0 && s.keepaliveDue(now):
		size = 0
	default:
		w.limited = false
		return f, false
	}
	size += frameOverhead
	if !w.probe && (w.nInflight >= s.cfg.MaxWindow || (w.nInflight > 0 && w.inflight+size > w.cwnd)) {
		w.limited = true
		return f, false
	}
	w.probe = false
	var m *wmsg
	switch {
	case len(w.retx) > 0:
		m = w.retx[0]
		w.retx[0] = nil
		w.retx = w.retx[1:]
		m.queued = false
		s.stats.Retransmissions++
	case len(s.queue) > 0:
		m = &wmsg{data: s.queue[0]}
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.msgNum++
		w.unackedMsgs++
	default:
		m = &wmsg{data: []byte{}} // keepalive
		s.msgNum++
		w.unackedMsgs++
	}
	m.tx++
	if len(w.frames) == w.head {
		w.base = s.next
	}
	w.frames = append(w.frames, wframe{at: now, m: m, size: size})
	w.inflight += size
	w.nInflight++
	w.lastSent = now
	if w.rtoAt.IsZero() {
		s.armTimer()
	}
	s.armProbe()
	f = wire.FramedMessage{Type: wire.FrameData, Sequence: s.next, Message: m.data}
	s.next++
	s.stats.Frames++
	s.lastActivity = now
	return f, true
}

// final reports whether f is the last transmission of a message not yet
// acknowledged: only the retransmission timer takes it as lost, after
// finalWait, and then the link fails.
func (s *Sender) final(f *wframe) bool {
	return f.m.tx >= s.cfg.MaxTransmissions && !f.m.acked
}

// finalWait is how long the last transmission of a message waits for
// its ACK: RTO doubled for each transmission before it, as the
// stop-and-wait sender waits (§6.6.3.1: with RTO 500 ms, sent at 0, 0.5,
// 1.5, 3.5 and 7.5 s, failed at 15.5 s).
func (s *Sender) finalWait() time.Duration {
	d := s.rto.RTO()
	for i := 1; i < s.cfg.MaxTransmissions && d < s.cfg.MaxRTO; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxRTO)
}

// armTimer sets the retransmission timer for the oldest frame in flight:
// its transmission time plus the RTO with its backoff, or finalWait for
// a last transmission. The timer covers the oldest frame as TCP's covers
// the oldest unacknowledged byte (RFC 6298 §5), so that one frame cannot
// stay unacknowledged while ACKs of later ones keep restarting it.
func (s *Sender) armTimer() {
	w := s.win
	w.trim(s.next, s.keepLost())
	if w.nInflight == 0 {
		w.rtoAt = time.Time{}
		return
	}
	f := &w.frames[w.fif]
	if s.final(f) {
		w.rtoAt = f.at.Add(s.finalWait())
	} else {
		w.rtoAt = f.at.Add(s.rtoBackoff())
	}
}

// onTimeout handles the expiry of the retransmission timer: everything in
// flight is lost, the window falls to one segment and the timer backs
// off (RFC 6298 §5.4–5.6, RFC 5681 §3.1). A last transmission is lost
// only once it is finalWait old; the link then fails.
func (s *Sender) onTimeout(now time.Time) {
	w := s.win
	w.backoff++
	s.stats.Timeouts++
	// §6.6.3.1 early failure: a whole RTO without an ACK, then three
	// retransmissions without one either.
	if w.backoff >= 3 {
		s.suspect = true
	}
	w.ssthresh = max(w.inflight/2, minWindow)
	w.cwnd = lossWindow
	w.caAcked = 0
	wait := s.finalWait()
	for i := w.fif; i < len(w.frames); i++ {
		f := &w.frames[i]
		if f.state != frameInFlight {
			continue
		}
		if s.final(f) {
			if !now.Before(f.at.Add(wait)) {
				s.err = ErrLinkFailed
				return
			}
			continue
		}
		s.lose(f)
	}
	w.recovery, w.recoveryValid = s.next-1, true
	w.lossAt = time.Time{}
	s.armTimer()
	s.armProbe()
}

// lose marks f lost and queues its message for retransmission.
func (s *Sender) lose(f *wframe) {
	w := s.win
	f.state = frameLost
	w.inflight -= f.size
	w.nInflight--
	m := f.m
	if m.acked || m.queued {
		return
	}
	m.queued = true
	w.retx = append(w.retx, m)
}

// ackFrame marks f acknowledged and returns the bytes it took out of
// flight.
func (s *Sender) ackFrame(f *wframe) int {
	w := s.win
	n := 0
	switch f.state {
	case frameAcked:
		return 0
	case frameInFlight:
		w.inflight -= f.size
		w.nInflight--
		n = f.size
	case frameLost:
		if f.lostBy > 0 {
			// Reordered, not lost: tolerate that much from now on.
			w.reorder = max(w.reorder, min(f.lostBy+1, maxReorder))
		}
	}
	f.state = frameAcked
	if m := f.m; !m.acked {
		m.acked = true
		m.data = nil
		w.unackedMsgs--
		s.stats.Messages++
	}
	return n
}

func (s *Sender) ackWindow(a wire.FramedMessage, now time.Time) {
	w := s.win
	f := w.frame(a.Sequence)
	if f == nil {
		return // not ours, or no longer in flight
	}
	s.acked(f.at, now)
	acked := s.ackFrame(f)
	for k := uint32(1); k <= 32; k++ {
		if a.Received&(1<<(k-1)) != 0 {
			if g := w.frame(a.Sequence - k); g != nil {
				acked += s.ackFrame(g)
			}
		}
	}
	if !w.anyAcked || seqAfter(a.Sequence, w.largest) {
		w.largest, w.anyAcked = a.Sequence, true
	}
	w.latestRTT = now.Sub(f.at)
	shrank := s.detectLosses(now)
	inRecovery := w.recoveryValid && !seqAfter(a.Sequence, w.recovery)
	if !shrank && acked > 0 && !inRecovery && w.limited {
		// Grow only a window that was in use (RFC 7661).
		if w.cwnd < w.ssthresh {
			w.cwnd += acked // slow start, counting bytes (RFC 3465)
		} else if w.caAcked += acked; w.caAcked >= w.cwnd {
			w.caAcked -= w.cwnd
			w.cwnd += windowMSS // congestion avoidance
		}
		w.cwnd = min(w.cwnd, s.maxCwnd())
	}
	if acked > 0 {
		// The backoff lasts until an RTT sample (Karn's algorithm, RFC
		// 6298 §5); every ACK is one here (§6.6.3.1).
		w.backoff = 0
		w.ptoCount = 0
	}
	s.armTimer()
	s.armProbe()
}

// maxProbes is how many probes go out before the retransmission timer
// takes over (RFC 8985 §7 sends one; two ride out the loss of one).
const maxProbes = 2

// armProbe sets the probe timeout: the RTT estimate plus four times its
// variation, at least the clock granularity (RFC 9002 §6.2.1, with no
// ACK delay: the receiver of §6.6.2 acknowledges at once), doubled for
// each probe already sent, after the last frame sent.
func (s *Sender) armProbe() {
	w := s.win
	w.ptoAt = time.Time{}
	if w.nInflight == 0 || !s.rto.sampled || w.ptoCount >= maxProbes {
		return
	}
	d := s.rto.srtt + max(4*s.rto.rttvar, time.Millisecond)
	d <<= w.ptoCount
	if t := w.lastSent.Add(d); w.rtoAt.IsZero() || t.Before(w.rtoAt) {
		w.ptoAt = t
	}
}

// detectLosses takes as lost the frames in flight sent before the newest
// acknowledged one that trail it by the reordering threshold (fast
// retransmit) or were sent longer than lossDelay ago (the time threshold
// of RFC 9002 §6.1.2, which finds a loss in a window too small for three
// later frames). On a new loss event the window halves, once per window
// of data (RFC 6582 §3.2). It reports whether the window shrank; it
// arms lossAt for the frames that may yet be lost by time.
func (s *Sender) detectLosses(now time.Time) bool {
	w := s.win
	w.lossAt = time.Time{}
	if !w.anyAcked {
		return false
	}
	delay := s.lossDelay()
	lost, lostSeq := false, uint32(0)
	for i := w.fif; i < len(w.frames); i++ {
		seq := w.base + uint32(i-w.head)
		by := w.largest - seq
		if int32(by) <= 0 {
			break
		}
		f := &w.frames[i]
		if f.state != frameInFlight || s.final(f) {
			continue
		}
		if int32(by) >= int32(w.reorder) || !now.Before(f.at.Add(delay)) {
			if int32(by) >= int32(w.reorder) {
				f.lostBy = by
			}
			s.lose(f)
			lost, lostSeq = true, seq
		} else if t := f.at.Add(delay); w.lossAt.IsZero() || t.Before(w.lossAt) {
			w.lossAt = t
		}
	}
	if !lost || (w.recoveryValid && !seqAfter(lostSeq, w.recovery)) {
		return false
	}
	// A new loss event: multiplicative decrease.
	w.cwnd = max(w.cwnd/2, minWindow)
	w.ssthresh = w.cwnd
	w.caAcked = 0
	w.recovery, w.recoveryValid = s.next-1, true
	return true
}

// lossDelay is the time threshold: 9/8 of the larger of the smoothed and
// the latest RTT, at least the clock granularity (RFC 9002 §6.1.2).
func (s *Sender) lossDelay() time.Duration {
	r := max(s.rto.SRTT(), s.win.latestRTT)
	return max(r+r/8, time.Millisecond)
}

func (s *Sender) deadlineWindow() time.Time {
	w := s.win
	var d time.Time
	for _, t := range []time.Time{w.lossAt, w.ptoAt, w.rtoAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if !d.IsZero() {
		return d
	}
	if s.cfg.Keepalive > 0 && w.unackedMsgs == 0 && len(s.queue) == 0 {
		return s.lastActivity.Add(s.cfg.Keepalive)
	}
	return time.Time{}
}
