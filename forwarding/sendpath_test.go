package forwarding

import (
	"context"
	"errors"
	"testing"
	"time"
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
