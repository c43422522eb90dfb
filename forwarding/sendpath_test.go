package forwarding

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// An originated message whose header routing left as it was goes to the
// link as it is; a received one gets a header of the same length (or a
// shorter one) written in place; one whose header grew, or whose rest is
// not a tail of the message, goes to the link in two parts
// (Link.SendParts), nothing copied here.
func TestJoinHead(t *testing.T) {
	raw := []byte("HHHHrest of the message")
	rest := raw[4:]
	got, ok := joinHead([]byte("HHHH"), rest, raw, false)
	if !ok || &got[0] != &raw[0] || string(got) != string(raw) {
		t.Fatalf("unchanged header: %q %v", got, ok)
	}
	// A new header of the same length: written over the old one only
	// when the buffer may be written.
	if got, ok := joinHead([]byte("NNNN"), rest, raw, false); ok || string(raw[:4]) != "HHHH" {
		t.Fatalf("kept buffer: %q %v, raw %q", got, ok, raw)
	}
	got, ok = joinHead([]byte("NNNN"), rest, raw, true)
	if !ok || string(got) != "NNNNrest of the message" || &got[0] != &raw[0] {
		t.Fatalf("writable buffer: %q", got)
	}
	// A shorter header ends where the old one ended.
	got, ok = joinHead([]byte("SS"), rest, raw, true)
	if !ok || string(got) != "SSrest of the message" || &got[0] != &raw[2] {
		t.Fatalf("shorter header: %q", got)
	}
	// A longer one, or a rest that is not a tail of raw: in two parts.
	if _, ok := joinHead([]byte("LLLLLL"), rest, raw, true); ok {
		t.Fatal("longer header joined")
	}
	other := []byte("xrest of the message")
	if _, ok := joinHead([]byte("HHHH"), other[1:], raw, true); ok {
		t.Fatal("foreign rest joined")
	}
	// An error answer is its head alone.
	if got, ok := joinHead([]byte("answer"), nil, raw, true); !ok || string(got) != "answer" {
		t.Fatalf("answer: %q", got)
	}
}

// joinHead allocates nothing.
func TestJoinHeadZeroAlloc(t *testing.T) {
	raw := make([]byte, 300)
	head := make([]byte, 60)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = joinHead(head, raw[40:], raw, true)
		_, _ = joinHead(head, raw[100:], raw, true)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func TestLazyDeadline(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	c := newLazyDeadline(parent, time.Hour)
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v %v", d, ok)
	}
	if c.timed != nil {
		t.Fatal("timer made before use")
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	c.cancel()
	<-c.Done()
	<-child.Done()
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("after cancel: %v, child %v", c.Err(), child.Err())
	}

	// Cancelled before first use, and ended by its deadline or its
	// parent.
	c = newLazyDeadline(parent, time.Hour)
	c.cancel()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("cancelled before use: %v", c.Err())
	}
	c = newLazyDeadline(parent, time.Millisecond)
	<-c.Done()
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
		t.Fatalf("deadline: %v, cause %v", c.Err(), context.Cause(c))
	}
	c = newLazyDeadline(parent, time.Hour)
	cancelParent()
	<-c.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("parent cancelled: %v", c.Err())
	}
}

// RFC 6940 §6.2.1: the answer to a request from a neighbour goes out on
// its link from the handler's goroutine (Engine.sendAnswerDirect), and a
// retransmission of the request still gets that same answer, byte for
// byte, without the handler running again. A retransmission that arrives
// before the loop has remembered the answer is dropped as in progress,
// so the requester retransmits until it gets one, as a real one would.
func TestDirectAnswerRemembered(t *testing.T) {
	checkLeaks(t)
	b := startEngine(t, 2, &staticRouter{}, nil)
	var calls atomic.Int32
	b.Handle(wire.CodeExpAReq, func(context.Context, *Incoming) ([]byte, error) {
		calls.Add(1)
		return []byte("once"), nil
	})
	a := dialAttacker(t, b, 1)
	const txid = 0x77
	req := a.request(wire.CodeExpAReq, []byte("hello"), txid, func(m *wire.Message) {
		m.Header.Destinations = dests(idB)
	})
	if err := a.send(req); err != nil {
		t.Fatal(err)
	}
	first, err := a.answer(txid)
	if err != nil {
		t.Fatal(err)
	}
	var again *wire.Message
	for try := 0; again == nil && try < 5; try++ {
		if err := a.send(req); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if raw, err := a.link.Receive(ctx); err == nil {
			var m wire.Message
			if _, err := m.Decode(raw); err == nil && m.Header.TransactionID == txid {
				again = &m
			}
		}
		cancel()
	}
	if again == nil {
		t.Fatal("no answer to the retransmitted request")
	}
	if !bytes.Equal(again.RawContents, first.RawContents) || !bytes.Equal(again.Security.Signature.Value, first.Security.Signature.Value) {
		t.Fatal("the retransmission got a new answer, not the one remembered")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
}
