package transport

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

func windowed(cfg ReliabilityConfig) *Sender {
	cfg.Algorithm = SenderWindowed
	cfg.MinRTO = 10 * time.Millisecond
	return NewSender(cfg, false, t0)
}

// segment is a message whose frame is exactly one windowMSS.
func segment(i int) []byte {
	b := make([]byte, windowMSS-frameOverhead)
	b[0] = byte(i)
	return b
}

// TestWindowedSlowStart: the first flight is the initial window of ten
// segments (RFC 6928); each acknowledged segment lets two more go (slow
// start, RFC 5681 §3.1).
func TestWindowedSlowStart(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	for i := range 100 {
		if err := s.Push(segment(i)); err != nil {
			t.Fatal(err)
		}
	}
	fs := drain(s, t0)
	if len(fs) != 10 {
		t.Fatalf("first flight %d frames, want 10", len(fs))
	}
	var w AckWindow
	now := t0.Add(time.Millisecond)
	for _, f := range fs {
		s.OnAck(w.Ack(f.Sequence), now)
	}
	if fs = drain(s, now); len(fs) != 20 {
		t.Fatalf("second flight %d frames, want 20", len(fs))
	}
	if s.Pending() != 100-10 {
		t.Fatalf("pending %d", s.Pending())
	}
}

// TestWindowedFastRetransmit: a frame missing from the received maps of
// the ACKs of three later frames is sent again under a new sequence
// number at once, and the window halves.
func TestWindowedFastRetransmit(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	for i := range 30 {
		_ = s.Push(segment(i))
	}
	fs := drain(s, t0)
	var w AckWindow
	now := t0.Add(time.Millisecond)
	for _, seq := range []uint32{0, 1, 3, 4} { // 2 is lost
		s.OnAck(w.Ack(seq), now)
	}
	cwnd := s.win.cwnd
	// The ACK of 5 is the third after the gap: 2 is lost.
	s.OnAck(w.Ack(5), now)
	if s.win.cwnd >= cwnd || s.win.cwnd != max(cwnd/2, minWindow) {
		t.Fatalf("window %d after a loss, was %d", s.win.cwnd, cwnd)
	}
	got := drain(s, now)
	if len(got) == 0 || !bytes.Equal(got[0].Message, fs[2].Message) || got[0].Sequence != 10 {
		t.Fatalf("first frame after the loss %+v, want message 2 as sequence 10", got[:min(1, len(got))])
	}
	if st := s.Stats(); st.Retransmissions != 1 || st.Messages != 5 {
		t.Fatalf("stats %+v", st)
	}
	// A second loss in the same window does not halve it again.
	cwnd = s.win.cwnd
	for _, seq := range []uint32{7, 8, 9} { // 6 is lost
		s.OnAck(w.Ack(seq), now)
	}
	if s.win.cwnd != cwnd {
		t.Fatalf("window %d after a second loss of the same event, want %d", s.win.cwnd, cwnd)
	}
}

// TestWindowedAckLossCovered: ACKs lost on the way back cost nothing when
// a later ACK's received map shows the frames arrived (§6.6.2).
func TestWindowedAckLossCovered(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	for i := range 10 {
		_ = s.Push(segment(i))
	}
	fs := drain(s, t0)
	var w AckWindow
	var last wire.FramedMessage
	for _, f := range fs {
		last = w.Ack(f.Sequence) // only the last ACK reaches the sender
	}
	s.OnAck(last, t0.Add(time.Millisecond))
	if s.Pending() != 0 || s.Stats().Messages != 10 {
		t.Fatalf("pending %d, stats %+v", s.Pending(), s.Stats())
	}
	if d := s.Deadline(); !d.IsZero() {
		t.Fatalf("timer still running at %v", d.Sub(t0))
	}
}

// TestWindowedTimeout: with no ACK at all, the RTO loses everything in
// flight and the window falls to one segment: only the oldest message
// goes again; a late ACK of its first transmission acknowledges it.
func TestWindowedTimeout(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	for i := range 5 {
		_ = s.Push(segment(i))
	}
	fs := drain(s, t0)
	if len(fs) != 5 {
		t.Fatalf("sent %d", len(fs))
	}
	now := s.Deadline()
	if now.Sub(t0) != DefaultRTO {
		t.Fatalf("timer %v", now.Sub(t0))
	}
	got := drain(s, now)
	if len(got) != 1 || got[0].Sequence != 5 || !bytes.Equal(got[0].Message, fs[0].Message) {
		t.Fatalf("after the timeout %+v", got)
	}
	if d := s.Deadline(); d.Sub(now) != 2*DefaultRTO {
		t.Fatalf("backoff %v, want 2 RTO", d.Sub(now))
	}
	var w AckWindow
	s.OnAck(w.Ack(5), now.Add(time.Millisecond))
	if s.Pending() != 4 || s.Stats().Messages != 1 {
		t.Fatalf("pending %d stats %+v", s.Pending(), s.Stats())
	}
	// The timeout is over: two segments go for the one acknowledged.
	if got = drain(s, now.Add(time.Millisecond)); len(got) != 2 {
		t.Fatalf("after the ACK %d frames, want 2", len(got))
	}
}

// TestWindowedMemoryBound: messages queued and in flight together never
// exceed QueueLimit, and frames in flight never exceed MaxWindow.
func TestWindowedMemoryBound(t *testing.T) {
	s := windowed(ReliabilityConfig{QueueLimit: 50, MaxWindow: 8})
	n := 0
	for s.Push(segment(n)) == nil {
		n++
		drain(s, t0)
	}
	if n != 50 || s.Pending() != 50 {
		t.Fatalf("accepted %d, pending %d", n, s.Pending())
	}
	if s.win.nInflight != 8 {
		t.Fatalf("%d frames in flight, want MaxWindow 8", s.win.nInflight)
	}
}

// TestWindowedSimulated runs a windowed sender against the receiver of
// §6.6.2 over a simulated path that loses, duplicates and reorders
// frames and ACKs, and checks that every message arrives (duplicates
// allowed: an ACK lost for the last frames in flight makes the sender
// send them again) or that the sender reports failure.
func TestWindowedSimulated(t *testing.T) {
	for _, loss := range []float64{0, 0.01, 0.05, 0.1, 0.3} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("loss=%v/seed=%d", loss, seed), func(t *testing.T) {
				simulate(t, loss, seed, 500)
			})
		}
	}
}

type simPacket struct {
	at   time.Time
	f    wire.FramedMessage
	toRx bool
}

func simulate(t *testing.T, loss float64, seed uint64, n int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	s := windowed(ReliabilityConfig{MaxTransmissions: 8})
	var w AckWindow
	var net []simPacket
	const delay = 5 * time.Millisecond
	send := func(now time.Time, f wire.FramedMessage, toRx bool) {
		if rng.Float64() < loss {
			return
		}
		copies := 1
		if rng.Float64() < loss {
			copies = 2 // duplicated
		}
		for range copies {
			d := delay
			if rng.Float64() < loss {
				d += time.Duration(rng.Int64N(int64(3 * delay))) // reordered
			}
			net = append(net, simPacket{now.Add(d), f, toRx})
		}
	}
	for i := range n {
		if err := s.Push(fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	now := t0
	for steps := 0; steps < 1e6; steps++ {
		for _, f := range drain(s, now) {
			send(now, f, true)
		}
		if s.Err() != nil || s.Pending() == 0 {
			break
		}
		// Advance to the next event: a packet's arrival or the timer.
		next := s.Deadline()
		slices.SortStableFunc(net, func(a, b simPacket) int { return a.at.Compare(b.at) })
		if len(net) > 0 && (next.IsZero() || net[0].at.Before(next)) {
			p := net[0]
			net = net[1:]
			now = p.at
			if p.toRx {
				got[string(p.f.Message)]++
				send(now, w.Ack(p.f.Sequence), false)
			} else {
				s.OnAck(p.f, now)
			}
			continue
		}
		if next.IsZero() {
			t.Fatalf("stalled with %d pending", s.Pending())
		}
		now = next
	}
	if err := s.Err(); err != nil {
		if !errors.Is(err, ErrLinkFailed) || loss < 0.2 {
			t.Fatalf("failed at %v loss: %v", loss, err)
		}
		return
	}
	if s.Pending() != 0 {
		t.Fatalf("%d pending", s.Pending())
	}
	dups := 0
	for i := range n {
		c := got[fmt.Sprintf("m%d", i)]
		if c == 0 {
			t.Fatalf("message %d acknowledged but never received", i)
		}
		dups += c - 1
	}
	st := s.Stats()
	t.Logf("%d messages in %v, %d frames, %d retransmissions, %d duplicates delivered, cwnd %d",
		n, now.Sub(t0), st.Frames, st.Retransmissions, dups, s.win.cwnd)
}

// TestThinAcks: of a batch of ACKs, those whose frames the newest one's
// received map covers are dropped; the others stay, in order.
func TestThinAcks(t *testing.T) {
	var w AckWindow
	var batch []wire.FramedMessage
	for _, seq := range []uint32{1, 2, 3, 100, 4} {
		batch = append(batch, w.Ack(seq))
	}
	got := thinAcks(batch)
	var seqs []uint32
	for _, a := range got {
		seqs = append(seqs, a.Sequence)
	}
	// 1, 2 and 3 are in the map of the ACK of 4; 100 is not.
	if !slices.Equal(seqs, []uint32{100, 4}) {
		t.Fatalf("kept %v, want [100 4]", seqs)
	}
	if one := thinAcks([]wire.FramedMessage{w.Ack(5)}); len(one) != 1 || one[0].Sequence != 5 {
		t.Fatalf("single ACK %+v", one)
	}
}

// TestWindowedTimeThreshold: in a window too small for three later
// frames, a frame sent before an acknowledged one is lost once 9/8 of
// the RTT has passed (RFC 9002 §6.1.2), long before the RTO.
func TestWindowedTimeThreshold(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	_ = s.Push(segment(0))
	_ = s.Push(segment(1))
	fs := drain(s, t0)
	var w AckWindow
	now := t0.Add(4 * time.Millisecond)
	s.OnAck(w.Ack(fs[1].Sequence), now) // 0 is missing
	d := s.Deadline()
	if want := t0.Add(4*time.Millisecond + 4*time.Millisecond/8); !d.Equal(want) {
		t.Fatalf("deadline %v, want the time threshold %v", d.Sub(t0), want.Sub(t0))
	}
	got := drain(s, d)
	if len(got) != 1 || !bytes.Equal(got[0].Message, fs[0].Message) {
		t.Fatalf("at the time threshold %+v, want message 0 again", got)
	}
}

// TestWindowedLastTransmission: the last transmission of a message is
// not taken as lost while ACKs of later frames come in; the link fails
// when it stays unacknowledged for its final wait, even though the rest
// of the traffic flows.
func TestWindowedLastTransmission(t *testing.T) {
	s := windowed(ReliabilityConfig{MaxTransmissions: 2})
	for i := range 10 {
		_ = s.Push(segment(i))
	}
	fs := drain(s, t0)
	var w AckWindow
	now := t0.Add(time.Millisecond)
	for _, f := range fs[1:] { // 0 is lost
		s.OnAck(w.Ack(f.Sequence), now)
	}
	re := drain(s, now)
	if len(re) == 0 || !bytes.Equal(re[0].Message, fs[0].Message) {
		t.Fatalf("no retransmission of 0: %+v", re)
	}
	final := re[0].Sequence
	// Traffic goes on; everything but the retransmission is acknowledged.
	for i := 10; s.Err() == nil && i < 10000; i++ {
		_ = s.Push(segment(i))
		now = now.Add(time.Millisecond)
		for _, f := range append(re, drain(s, now)...) {
			if f.Sequence != final {
				s.OnAck(w.Ack(f.Sequence), now)
			} else if i > 10 && bytes.Equal(f.Message, fs[0].Message) {
				t.Fatal("message 0 sent a third time")
			}
		}
		re = nil
	}
	if !errors.Is(s.Err(), ErrLinkFailed) {
		t.Fatalf("err %v", s.Err())
	}
	// RTO after 1 ms samples is the 10 ms floor; the last transmission
	// waits 2·RTO.
	if d := now.Sub(t0); d < 20*time.Millisecond || d > 25*time.Millisecond {
		t.Fatalf("failed after %v, want about 20 ms", d)
	}
}

// TestWindowedProbe: when no ACK comes for about an RTT after the last
// frame, one probe goes beyond the window (RFC 8985 §7): the newest
// message again when there is nothing new; its ACK then shows the
// earlier frames lost, long before the RTO.
func TestWindowedProbe(t *testing.T) {
	s := windowed(ReliabilityConfig{})
	s.SeedRTT(time.Millisecond) // SRTT 1 ms, RTTVAR 0.5 ms: probe after 3 ms
	for i := range 3 {
		_ = s.Push(segment(i))
	}
	fs := drain(s, t0)
	d := s.Deadline()
	if d.Sub(t0) != 3*time.Millisecond {
		t.Fatalf("probe at %v, want 3ms", d.Sub(t0))
	}
	p := drain(s, d)
	if len(p) != 1 || !bytes.Equal(p[0].Message, fs[2].Message) || p[0].Sequence != 3 {
		t.Fatalf("probe %+v, want message 2 as sequence 3", p)
	}
	// The probe's ACK shows 0 and 1 lost (sent 9/8 RTT before).
	var w AckWindow
	s.OnAck(w.Ack(3), d.Add(time.Millisecond))
	re := drain(s, d.Add(time.Millisecond))
	if len(re) != 2 || !bytes.Equal(re[0].Message, fs[0].Message) || !bytes.Equal(re[1].Message, fs[1].Message) {
		t.Fatalf("after the probe's ACK %+v, want messages 0 and 1 again", re)
	}
	if st := s.Stats(); st.Timeouts != 0 || st.Messages != 1 {
		t.Fatalf("stats %+v", st)
	}
}
