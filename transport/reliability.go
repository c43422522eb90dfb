package transport

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/goreload/reload/wire"
)

// Errors reported by a link.
var (
	// ErrLinkFailed reports that a message was not acknowledged after the
	// last transmission (DTLS/UDP with SR), or that no ACK came within the
	// failure timeout (TLS/TCP with FH).
	ErrLinkFailed = errors.New("transport: link failed: no acknowledgement")
	// ErrClosed reports that the link was closed locally.
	ErrClosed = errors.New("transport: link closed")
	// ErrQueueFull reports that the send queue is full.
	ErrQueueFull = errors.New("transport: send queue full")
	// ErrMessageTooLarge reports a frame larger than the configured maximum.
	ErrMessageTooLarge = errors.New("transport: message too large")
)

// Reliability parameters (RFC 6940 §6.6.3.1).
const (
	DefaultRTO              = 500 * time.Millisecond
	DefaultMinRTO           = 100 * time.Millisecond
	DefaultMaxRTO           = 60 * time.Second
	DefaultMaxTransmissions = 5
	DefaultAckGap           = 10 * time.Millisecond
	DefaultFailAfter        = 30 * time.Second
	DefaultQueueLimit       = 1024
	// DefaultMaxWindow bounds the data frames in flight of the windowed
	// sender, whatever its congestion window.
	DefaultMaxWindow = 256
)

// SenderAlgorithm is the sender side of simple reliability on a datagram
// link (RFC 6940 §6.6.3: the receiver only acknowledges, so "a wide
// variety of congestion control algorithms can be implemented on the
// sender side while using the same basic wire protocol").
type SenderAlgorithm uint8

// Sender algorithms.
const (
	// SenderDefault is DefaultSenderAlgorithm.
	SenderDefault SenderAlgorithm = iota
	// SenderWindowed keeps a congestion window of frames in flight:
	// slow start, congestion avoidance and multiplicative decrease as
	// NewReno does (RFC 5681, RFC 6582), loss detected from the ACKs'
	// received maps (§6.6.2) and from the RFC 6298 timer.
	SenderWindowed
	// SenderStopAndWait is the algorithm of §6.6.3.1: one message in
	// flight and a 10 ms wait after each ACK. It stays selectable for
	// interoperability experiments.
	SenderStopAndWait
)

// DefaultSenderAlgorithm is the algorithm of a datagram link whose
// ReliabilityConfig names none.
const DefaultSenderAlgorithm = SenderWindowed

func (a SenderAlgorithm) String() string {
	switch a {
	case SenderDefault:
		return "default"
	case SenderWindowed:
		return "windowed"
	case SenderStopAndWait:
		return "stop-and-wait"
	}
	return "SenderAlgorithm(" + strconv.Itoa(int(a)) + ")"
}

// ParseSenderAlgorithm parses "windowed", "stop-and-wait" or "default"
// (also the empty string).
func ParseSenderAlgorithm(s string) (SenderAlgorithm, error) {
	switch s {
	case "", "default":
		return SenderDefault, nil
	case "windowed":
		return SenderWindowed, nil
	case "stop-and-wait":
		return SenderStopAndWait, nil
	}
	return 0, fmt.Errorf("transport: unknown sender algorithm %q (want windowed or stop-and-wait)", s)
}

// ReliabilityConfig tunes the sender. Zero fields take the defaults.
type ReliabilityConfig struct {
	// InitialRTO is the RTO before the first RTT sample (500 ms). The
	// shell seeds the estimator with the ICE RTT when it has one.
	InitialRTO time.Duration
	// MinRTO and MaxRTO bound the RFC 6298 estimate and the backoff.
	MinRTO, MaxRTO time.Duration
	// MaxTransmissions is the number of times one message is sent before
	// the link is declared failed (5).
	MaxTransmissions int
	// AckGap is the wait between receipt of an ACK and the next new message
	// (10 ms, a MUST of §6.6.3.1). NoAckGap turns it off, for benchmarks
	// and tests only.
	AckGap   time.Duration
	NoAckGap bool
	// FailAfter is, on a stream (TLS/TCP FH) link, how long a frame may go
	// unacknowledged before the link is declared failed (30 s, §6.6.5).
	FailAfter time.Duration
	// Keepalive, when positive, sends an empty data frame after that much
	// idle time; its ACK (or its absence) proves the link alive (or dead).
	Keepalive time.Duration
	// QueueLimit bounds the messages queued or in flight (1024). Every
	// message is at most one frame's worth (larger ones are fragmented,
	// §6.7), so it bounds the sender's memory.
	QueueLimit int
	// Algorithm is the sender of a datagram link (DefaultSenderAlgorithm
	// when zero). Stream links ignore it.
	Algorithm SenderAlgorithm
	// MaxWindow bounds the windowed sender's data frames in flight
	// (DefaultMaxWindow).
	MaxWindow int
}

func (c ReliabilityConfig) withDefaults() ReliabilityConfig {
	if c.InitialRTO <= 0 {
		c.InitialRTO = DefaultRTO
	}
	if c.MinRTO <= 0 {
		c.MinRTO = DefaultMinRTO
	}
	if c.MaxRTO <= 0 {
		c.MaxRTO = DefaultMaxRTO
	}
	if c.MaxTransmissions <= 0 {
		c.MaxTransmissions = DefaultMaxTransmissions
	}
	if c.AckGap <= 0 {
		c.AckGap = DefaultAckGap
	}
	if c.NoAckGap {
		c.AckGap = 0
	}
	if c.FailAfter <= 0 {
		c.FailAfter = DefaultFailAfter
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	if c.Algorithm == SenderDefault {
		c.Algorithm = DefaultSenderAlgorithm
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	return c
}

// RTOEstimator computes the retransmission timeout of RFC 6298 §2, with
// the RFC 6940 §6.6.3.1 change that the RTO is rounded up to the next
// millisecond rather than to one second.
type RTOEstimator struct {
	srtt, rttvar time.Duration
	rto          time.Duration
	min, max     time.Duration
	sampled      bool
}

// NewRTOEstimator returns an estimator whose RTO is initial until the first
// sample.
func NewRTOEstimator(initial, lo, hi time.Duration) RTOEstimator {
	e := RTOEstimator{min: lo, max: hi}
	e.rto = e.clamp(initial)
	return e
}

func (e *RTOEstimator) clamp(d time.Duration) time.Duration {
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond) // round up to 1 ms
	return min(max(d, e.min), e.max)
}

// Sample adds one RTT measurement (formula 2.2 for the first, 2.3 after).
func (e *RTOEstimator) Sample(r time.Duration) {
	if r < 0 {
		return
	}
	const g = time.Millisecond // clock granularity G
	if !e.sampled {
		e.srtt, e.rttvar, e.sampled = r, r/2, true
	} else {
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar = (3*e.rttvar + d) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.rto = e.clamp(e.srtt + max(g, 4*e.rttvar))
}

// RTO is the current retransmission timeout.
func (e *RTOEstimator) RTO() time.Duration { return e.rto }

// SRTT is the smoothed RTT, zero before the first sample.
func (e *RTOEstimator) SRTT() time.Duration { return e.srtt }

// AckWindow is the receiver side of §6.6.2: it remembers the 32 most
// recently received sequence numbers and builds the ACK for each data
// frame.
type AckWindow struct {
	recent  [32]uint32
	n, head int
}

// Ack records seq as received and returns the ACK to send for it. Bit k-1
// of Received is set when seq-k (k = 1..32) is among the 32 most recently
// received sequence numbers before this one.
func (w *AckWindow) Ack(seq uint32) wire.FramedMessage {
	var mask uint32
	for i := 0; i < w.n; i++ {
		if d := seq - w.recent[i]; d >= 1 && d <= 32 {
			mask |= 1 << (d - 1)
		}
	}
	w.recent[w.head] = seq
	w.head = (w.head + 1) % len(w.recent)
	if w.n < len(w.recent) {
		w.n++
	}
	return wire.FramedMessage{Type: wire.FrameAck, Sequence: seq, Received: mask}
}

// sentFrame remembers one transmission for RTT samples and to map ACKs to
// messages.
type sentFrame struct {
	seq  uint32
	at   time.Time
	msg  uint64 // message number; 0 for none
	used bool
}

// Sender is the sending side of simple reliability (§6.6.3) as a pure
// value: the caller feeds it messages, ACKs and the current time and
// transmits the frames it returns. It owns no goroutine and reads no
// clock.
//
// On a datagram link (stream false) it is either the windowed sender of
// window.go (SenderWindowed) or the stop-and-wait sender of §6.6.3.1
// (SenderStopAndWait): one message in flight, each retransmission under a new
// sequence number after RTO, 2·RTO, 4·RTO, …, and failure after
// MaxTransmissions. On a stream link (TLS/TCP with FH, §6.6.5) it sends
// every message at once, never retransmits, uses the ACKs for the RTT, and
// declares failure when a frame stays unacknowledged for FailAfter.
type Sender struct {
	cfg    ReliabilityConfig
	stream bool
	rto    RTOEstimator

	next    uint32   // next sequence number
	queue   [][]byte // messages not yet sent
	msgNum  uint64   // number of the last message taken from the queue
	history []sentFrame
	hpos    int

	// stop-and-wait state
	inflight     []byte
	inflightNum  uint64
	tx           int       // transmissions of inflight so far
	retransmitAt time.Time // when to retransmit inflight
	firstSent    time.Time // first transmission of inflight
	gapUntil     time.Time // no new message before this

	// stream state: oldest unacknowledged frames in order
	unacked []sentFrame

	// windowed state (window.go); nil for the other algorithms
	win *window

	lastAck      time.Time
	lastActivity time.Time
	suspect      bool
	err          error

	// statistics
	stats SenderStats
}

// SenderStats counts what the sender did.
type SenderStats struct {
	Messages        uint64 // messages acknowledged (datagram) or sent (stream)
	Frames          uint64 // data frames sent, retransmissions included
	Retransmissions uint64
	Acks            uint64 // ACK frames processed
	Timeouts        uint64 // retransmission timer expiries (windowed sender)
}

// NewSender returns a sender. stream selects the TLS/TCP FH behaviour.
func NewSender(cfg ReliabilityConfig, stream bool, now time.Time) *Sender {
	cfg = cfg.withDefaults()
	s := &Sender{
		cfg:          cfg,
		stream:       stream,
		rto:          NewRTOEstimator(cfg.InitialRTO, cfg.MinRTO, cfg.MaxRTO),
		lastAck:      now,
		lastActivity: now,
	}
	if !stream && cfg.Algorithm == SenderWindowed {
		s.win = newWindow()
	} else {
		s.history = make([]sentFrame, 64)
	}
	return s
}

// Algorithm is the sender algorithm in use; SenderDefault on a stream
// link.
func (s *Sender) Algorithm() SenderAlgorithm {
	if s.stream {
		return SenderDefault
	}
	return s.cfg.Algorithm
}

// SeedRTT gives the sender a first RTT measurement, such as the RTT of the
// ICE connectivity check (§6.6.3.1: "used as the initial measurement for
// formula 2.2").
func (s *Sender) SeedRTT(r time.Duration) {
	if r > 0 {
		s.rto.Sample(r)
	}
}

// RTO is the current retransmission timeout.
func (s *Sender) RTO() time.Duration { return s.rto.RTO() }

// SRTT is the smoothed round-trip time (RFC 6298 §2), zero before the
// first acknowledgement gave a sample.
func (s *Sender) SRTT() time.Duration { return s.rto.SRTT() }

// Stats returns the counters.
func (s *Sender) Stats() SenderStats { return s.stats }

// Err is the failure that ended the link, or nil.
func (s *Sender) Err() error { return s.err }

// Suspect reports the early-failure signal of §6.6.3.1: no ACK arrived
// during three retransmissions that followed a whole RTO without an ACK.
// The layer above should take the link out of its routing table; it
// becomes false again when an ACK arrives.
func (s *Sender) Suspect() bool { return s.suspect }

// Pending is the number of messages queued or in flight.
func (s *Sender) Pending() int {
	if s.win != nil {
		return len(s.queue) + s.win.unackedMsgs
	}
	n := len(s.queue)
	if s.inflight != nil {
		n++
	}
	return n
}

// Push queues one message. It fails when QueueLimit messages are queued
// or in flight, or when the sender has failed.
func (s *Sender) Push(msg []byte) error {
	if s.err != nil {
		return s.err
	}
	if s.Pending() >= s.cfg.QueueLimit {
		return ErrQueueFull
	}
	s.queue = append(s.queue, msg)
	return nil
}

func (s *Sender) record(seq uint32, now time.Time, msg uint64) {
	s.history[s.hpos] = sentFrame{seq: seq, at: now, msg: msg, used: true}
	s.hpos = (s.hpos + 1) % len(s.history)
}

func (s *Sender) lookup(seq uint32) *sentFrame {
	for i := range s.history {
		if h := &s.history[i]; h.used && h.seq == seq {
			return h
		}
	}
	return nil
}

func (s *Sender) frame(msg []byte, now time.Time, num uint64) wire.FramedMessage {
	f := wire.FramedMessage{Type: wire.FrameData, Sequence: s.next, Message: msg}
	s.record(s.next, now, num)
	if s.stream {
		s.unacked = append(s.unacked, sentFrame{seq: s.next, at: now, msg: num, used: true})
	}
	s.next++
	s.stats.Frames++
	s.lastActivity = now
	return f
}

// Poll returns the next frame to transmit at time now, if any, and
// advances the timers. Call it until ok is false, then again at
// Deadline().
func (s *Sender) Poll(now time.Time) (f wire.FramedMessage, ok bool) {
	if s.err != nil {
		return f, false
	}
	if s.win != nil {
		return s.pollWindow(now)
	}
	if s.stream {
		if len(s.unacked) > 0 {
			old := s.unacked[0].at
			if !now.Before(old.Add(s.cfg.FailAfter)) {
				s.err = ErrLinkFailed
				return f, false
			}
			s.suspect = !now.Before(old.Add(s.rto.RTO()))
		}
		if len(s.queue) > 0 {
			msg := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.msgNum++
			s.stats.Messages++
			return s.frame(msg, now, s.msgNum), true
		}
		if s.keepaliveDue(now) && len(s.unacked) == 0 {
			s.msgNum++
			return s.frame(nil, now, s.msgNum), true
		}
		return f, false
	}

	if s.inflight != nil {
		if now.Before(s.retransmitAt) {
			return f, false
		}
		if s.tx >= s.cfg.MaxTransmissions {
			s.err = ErrLinkFailed
			return f, false
		}
		// §6.6.3.1 early failure: no ACK for a whole RTO before the first
		// of three retransmissions that also went unanswered.
		if s.tx >= 3 && !s.lastAck.After(s.firstSent) {
			s.suspect = true
		}
		s.tx++
		s.stats.Retransmissions++
		s.retransmitAt = now.Add(s.backoff())
		return s.frame(s.inflight, now, s.inflightNum), true
	}
	if now.Before(s.gapUntil) {
		return f, false
	}
	var msg []byte
	switch {
	case len(s.queue) > 0:
		msg = s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
	case s.keepaliveDue(now):
		msg = []byte{}
	default:
		return f, false
	}
	s.msgNum++
	s.inflight, s.inflightNum, s.tx = msg, s.msgNum, 1
	s.firstSent = now
	s.retransmitAt = now.Add(s.backoff())
	return s.frame(msg, now, s.inflightNum), true
}

// sendStream numbers msg as the next data frame of a stream link, which
// sends every message at once (§6.6.5); the caller has checked Err.
func (s *Sender) sendStream(msg []byte, now time.Time) wire.FramedMessage {
	s.msgNum++
	s.stats.Messages++
	return s.frame(msg, now, s.msgNum)
}

// backoff is the wait after transmission number s.tx: RTO doubled for each
// earlier transmission, capped at MaxRTO.
func (s *Sender) backoff() time.Duration {
	d := s.rto.RTO()
	for i := 1; i < s.tx && d < s.cfg.MaxRTO; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxRTO)
}

func (s *Sender) keepaliveDue(now time.Time) bool {
	return s.cfg.Keepalive > 0 && !now.Before(s.lastActivity.Add(s.cfg.Keepalive))
}

// OnAck processes one ACK frame received at now.
func (s *Sender) OnAck(a wire.FramedMessage, now time.Time) {
	if s.err != nil || a.Type != wire.FrameAck {
		return
	}
	s.stats.Acks++
	if s.win != nil {
		s.ackWindow(a, now)
		return
	}
	h := s.lookup(a.Sequence)
	if h == nil {
		return // not ours, or too old to remember
	}
	s.acked(h.at, now)
	if s.stream {
		s.ackStream(a)
		return
	}
	if s.inflight == nil {
		return
	}
	acked := h.msg == s.inflightNum
	for k := uint32(1); k <= 32 && !acked; k++ {
		if a.Received&(1<<(k-1)) != 0 {
			if o := s.lookup(a.Sequence - k); o != nil && o.msg == s.inflightNum {
				acked = true
			}
		}
	}
	if acked {
		s.inflight, s.inflightNum, s.tx = nil, 0, 0
		s.stats.Messages++
		s.gapUntil = now.Add(s.cfg.AckGap)
	}
}

// ackStream removes what a acknowledges. A stream delivers frames in
// order, so an ACK also covers every frame sent before the one it names
// (the receiver may send only its newest ACK when it falls behind).
func (s *Sender) ackStream(a wire.FramedMessage) {
	isAcked := func(seq uint32) bool {
		return int32(a.Sequence-seq) >= 0
	}
	j := 0
	for _, u := range s.unacked {
		if !isAcked(u.seq) {
			s.unacked[j] = u
			j++
		}
	}
	clear(s.unacked[j:])
	s.unacked = s.unacked[:j]
}

// Deadline is the time at which Poll next has something to do; the zero
// time means only a Push or an ACK can make progress.
func (s *Sender) Deadline() time.Time {
	if s.err != nil {
		return time.Time{}
	}
	var d time.Time
	earliest := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if s.win != nil {
		return s.deadlineWindow()
	}
	if s.stream {
		if len(s.unacked) > 0 {
			old := s.unacked[0].at
			if !s.suspect {
				earliest(old.Add(s.rto.RTO()))
			}
			earliest(old.Add(s.cfg.FailAfter))
		} else if s.cfg.Keepalive > 0 {
			earliest(s.lastActivity.Add(s.cfg.Keepalive))
		}
		if len(s.queue) > 0 {
			earliest(s.lastActivity) // now
		}
		return d
	}
	switch {
	case s.inflight != nil:
		earliest(s.retransmitAt)
	case len(s.queue) > 0:
		earliest(s.gapUntil)
	case s.cfg.Keepalive > 0:
		k := s.lastActivity.Add(s.cfg.Keepalive)
		if k.Before(s.gapUntil) {
			k = s.gapUntil
		}
		earliest(k)
	}
	return d
}

// Fail marks the sender failed with err (a transport error from the shell).
func (s *Sender) Fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// acked takes an ACK, at now, of a frame sent at: an RTT sample (RFC
// 6298), and the link is alive.
func (s *Sender) acked(at, now time.Time) {
	s.rto.Sample(now.Sub(at))
	s.lastAck = now
	s.lastActivity = now
	s.suspect = false
}
