package transport

import (
	"errors"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAckWindow(t *testing.T) {
	tests := []struct {
		name string
		recv []uint32
		want []uint32 // Received of each ACK
	}{
		{"first", []uint32{0}, []uint32{0}},
		{"in order", []uint32{0, 1, 2, 3}, []uint32{0, 0b1, 0b11, 0b111}},
		// a gap: 1 is lost, so the ACK of 2 has bit 1 (seq 0) but not bit 0
		{"gap", []uint32{0, 2}, []uint32{0, 0b10}},
		{"reordered", []uint32{1, 0, 2}, []uint32{0, 0, 0b11}},
		// 33 back is out of the window, 32 back is the top bit
		{"edge", []uint32{0, 32, 33}, []uint32{0, 1 << 31, 1}},
		{"wrap", []uint32{0xffffffff, 0}, []uint32{0, 1}},
		{"duplicate", []uint32{5, 5}, []uint32{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w AckWindow
			for i, seq := range tt.recv {
				a := w.Ack(seq)
				if a.Type != wire.FrameAck || a.Sequence != seq || a.Received != tt.want[i] {
					t.Errorf("ack %d of seq %d = %+v, want received %#b", i, seq, a, tt.want[i])
				}
			}
		})
	}
}

func TestAckWindowKeeps32(t *testing.T) {
	var w AckWindow
	for seq := uint32(0); seq < 100; seq++ {
		a := w.Ack(seq)
		want := uint32(1)<<min(seq, 32) - 1
		if seq >= 32 {
			want = 0xffffffff
		}
		if a.Received != want {
			t.Fatalf("seq %d: received %#x, want %#x", seq, a.Received, want)
		}
	}
}

func TestRTOEstimator(t *testing.T) {
	e := NewRTOEstimator(DefaultRTO, time.Millisecond, time.Minute)
	if e.RTO() != 500*time.Millisecond {
		t.Fatalf("initial RTO %v", e.RTO())
	}
	e.Sample(100 * time.Millisecond) // SRTT 100, RTTVAR 50, RTO 300
	if e.RTO() != 300*time.Millisecond {
		t.Fatalf("RTO after first sample %v, want 300ms", e.RTO())
	}
	e.Sample(100 * time.Millisecond) // RTTVAR 37.5, SRTT 100, RTO 250
	if e.RTO() != 250*time.Millisecond {
		t.Fatalf("RTO after second sample %v, want 250ms", e.RTO())
	}
	e.Sample(150 * time.Microsecond)
	if e.RTO()%time.Millisecond != 0 {
		t.Fatalf("RTO %v not rounded to a millisecond", e.RTO())
	}
	f := NewRTOEstimator(DefaultRTO, 10*time.Millisecond, time.Minute)
	f.Sample(10 * time.Microsecond)
	if f.RTO() != 10*time.Millisecond {
		t.Fatalf("RTO %v below minimum", f.RTO())
	}
}

// drain polls s at now and returns the data frames.
func drain(s *Sender, now time.Time) []wire.FramedMessage {
	var out []wire.FramedMessage
	for {
		f, ok := s.Poll(now)
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

func TestSenderRetransmitSchedule(t *testing.T) {
	for _, alg := range []SenderAlgorithm{SenderStopAndWait, SenderWindowed} {
		t.Run(alg.String(), func(t *testing.T) { testRetransmitSchedule(t, alg) })
	}
}

func testRetransmitSchedule(t *testing.T, alg SenderAlgorithm) {
	s := NewSender(ReliabilityConfig{Algorithm: alg}, false, t0)
	if err := s.Push([]byte("m")); err != nil {
		t.Fatal(err)
	}
	// §6.6.3.1: with RTO 500 ms, sent at 0, 500, 1500, 3500 and 7500 ms.
	var times []time.Duration
	var seqs []uint32
	now := t0
	for range 20 {
		for _, f := range drain(s, now) {
			times = append(times, now.Sub(t0))
			seqs = append(seqs, f.Sequence)
		}
		d := s.Deadline()
		if d.IsZero() {
			break
		}
		now = d
	}
	want := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond, 7500 * time.Millisecond}
	if len(times) != len(want) {
		t.Fatalf("sent at %v, want %v", times, want)
	}
	for i := range want {
		if times[i] != want[i] || seqs[i] != uint32(i) {
			t.Fatalf("transmission %d at %v seq %d, want %v seq %d", i, times[i], seqs[i], want[i], i)
		}
	}
	if !errors.Is(s.Err(), ErrLinkFailed) {
		t.Fatalf("err %v, want ErrLinkFailed", s.Err())
	}
	if got := now.Sub(t0); got != 15500*time.Millisecond {
		t.Fatalf("failed at %v, want 15.5s", got)
	}
	if !s.Suspect() {
		t.Fatal("not suspect after three unanswered retransmissions")
	}
	if err := s.Push([]byte("x")); !errors.Is(err, ErrLinkFailed) {
		t.Fatalf("push after failure: %v", err)
	}
}

func TestSenderStopAndWait(t *testing.T) {
	s := NewSender(ReliabilityConfig{MinRTO: 10 * time.Millisecond, Algorithm: SenderStopAndWait}, false, t0)
	var w AckWindow
	for _, m := range []string{"a", "b", "c"} {
		if err := s.Push([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	fs := drain(s, t0)
	if len(fs) != 1 || string(fs[0].Message) != "a" || fs[0].Sequence != 0 {
		t.Fatalf("first poll %+v, want only a/0", fs)
	}
	// Lost; the retransmission gets sequence 1 and is acknowledged.
	now := s.Deadline()
	fs = drain(s, now)
	if len(fs) != 1 || fs[0].Sequence != 1 || string(fs[0].Message) != "a" {
		t.Fatalf("retransmission %+v", fs)
	}
	now = now.Add(20 * time.Millisecond)
	s.OnAck(w.Ack(1), now)
	// The ACK gap keeps b back for 10 ms.
	if fs = drain(s, now); len(fs) != 0 {
		t.Fatalf("sent %+v inside the ACK gap", fs)
	}
	if d := s.Deadline(); d != now.Add(DefaultAckGap) {
		t.Fatalf("deadline %v, want end of gap", d.Sub(t0))
	}
	now = s.Deadline()
	fs = drain(s, now)
	if len(fs) != 1 || string(fs[0].Message) != "b" || fs[0].Sequence != 2 {
		t.Fatalf("after gap %+v", fs)
	}
	// The RTT sample of 20 ms brought the RTO down from 500 ms.
	if s.RTO() != 60*time.Millisecond {
		t.Fatalf("RTO %v, want 60ms", s.RTO())
	}
	// b is retransmitted as 3; the ACK of 3 is lost but the ACK of a
	// later frame of another connection does not count; the late ACK for
	// 2 acknowledges b.
	now = s.Deadline()
	if fs = drain(s, now); len(fs) != 1 || fs[0].Sequence != 3 {
		t.Fatalf("retransmission of b %+v", fs)
	}
	s.OnAck(wire.FramedMessage{Type: wire.FrameAck, Sequence: 99}, now)
	if s.Pending() != 2 {
		t.Fatalf("pending %d after a foreign ACK", s.Pending())
	}
	s.OnAck(w.Ack(2), now.Add(time.Millisecond))
	if s.Pending() != 1 {
		t.Fatalf("pending %d, want 1 (only c)", s.Pending())
	}
	// The bitmask alone acknowledges: ACK of 5 says 4 was received.
	now = now.Add(time.Second)
	if fs = drain(s, now); len(fs) != 1 || fs[0].Sequence != 4 || string(fs[0].Message) != "c" {
		t.Fatalf("c %+v", fs)
	}
	s.OnAck(wire.FramedMessage{Type: wire.FrameAck, Sequence: 5, Received: 0}, now)
	if s.Pending() != 1 {
		t.Fatal("ACK of an unsent sequence acknowledged c")
	}
	now = s.Deadline()
	if fs = drain(s, now); len(fs) != 1 || fs[0].Sequence != 5 {
		t.Fatalf("retransmission of c %+v", fs)
	}
	w.Ack(4)
	s.OnAck(w.Ack(5), now) // Received bit 0: seq 4
	if s.Pending() != 0 || s.Err() != nil {
		t.Fatalf("pending %d err %v", s.Pending(), s.Err())
	}
	st := s.Stats()
	if st.Messages != 3 || st.Frames != 6 || st.Retransmissions != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSenderSeedRTT(t *testing.T) {
	s := NewSender(ReliabilityConfig{}, false, t0)
	s.SeedRTT(2 * time.Millisecond)
	if s.RTO() != DefaultMinRTO {
		t.Fatalf("seeded RTO %v, want the 10ms floor", s.RTO())
	}
}

func TestSenderQueueLimit(t *testing.T) {
	s := NewSender(ReliabilityConfig{QueueLimit: 2}, false, t0)
	_ = s.Push(nil)
	_ = s.Push(nil)
	if err := s.Push(nil); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third push: %v", err)
	}
}

func TestSenderKeepalive(t *testing.T) {
	s := NewSender(ReliabilityConfig{Keepalive: time.Second}, false, t0)
	if d := s.Deadline(); d != t0.Add(time.Second) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	fs := drain(s, t0.Add(time.Second))
	if len(fs) != 1 || len(fs[0].Message) != 0 {
		t.Fatalf("keepalive %+v", fs)
	}
	// Unanswered keepalives fail a dead link like any message.
	var now time.Time
	for s.Err() == nil {
		now = s.Deadline()
		drain(s, now)
	}
	if !errors.Is(s.Err(), ErrLinkFailed) {
		t.Fatal(s.Err())
	}
}

func TestSenderStream(t *testing.T) {
	s := NewSender(ReliabilityConfig{Keepalive: 5 * time.Second}, true, t0)
	var w AckWindow
	for _, m := range []string{"a", "b", "c"} {
		_ = s.Push([]byte(m))
	}
	fs := drain(s, t0)
	if len(fs) != 3 || fs[2].Sequence != 2 {
		t.Fatalf("stream sends all at once: %+v", fs)
	}
	s.OnAck(w.Ack(0), t0.Add(10*time.Millisecond)) // 1 and 2 still unacknowledged
	// After RTO without the ACK of 1, the link is suspect; no retransmission.
	now := s.Deadline()
	if fs := drain(s, now); len(fs) != 0 {
		t.Fatalf("stream retransmitted %+v", fs)
	}
	if !s.Suspect() {
		t.Fatal("not suspect after RTO")
	}
	// A stream delivers in order: the ACK of 2 covers 1 as well.
	s.OnAck(w.Ack(2), now)
	if s.Suspect() || len(s.unacked) != 0 {
		t.Fatalf("after the ACK of 2: suspect %v, %d unacknowledged", s.Suspect(), len(s.unacked))
	}
	// Keepalive after idle, then failure after 30 s without an ACK.
	now = s.Deadline()
	if got := now.Sub(t0); got != 5*time.Second+10*time.Millisecond && now.Sub(t0) <= 5*time.Second {
		t.Fatalf("keepalive at %v", got)
	}
	if fs := drain(s, now); len(fs) != 1 || len(fs[0].Message) != 0 {
		t.Fatalf("keepalive %+v", fs)
	}
	sent := now
	for s.Err() == nil {
		now = s.Deadline()
		drain(s, now)
	}
	if now.Sub(sent) != DefaultFailAfter || !errors.Is(s.Err(), ErrLinkFailed) {
		t.Fatalf("failed after %v with %v", now.Sub(sent), s.Err())
	}
}
