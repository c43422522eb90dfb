package forwarding

import (
	"context"
	"errors"
	"testing"
	"time"
)

// An originated message whose header routing left as it was goes to the
// link as it is; a received one gets a header of the same length written
// in place; one whose header grew is copied once.
func TestJoinHead(t *testing.T) {
	raw := []byte("HHHHrest of the message")
	rest := raw[4:]
	var buf []byte
	got := joinHead([]byte("HHHH"), rest, raw, false, &buf)
	if &got[0] != &raw[0] || string(got) != string(raw) || buf != nil {
		t.Fatalf("unchanged header: %q copied=%v", got, buf != nil)
	}
	// A new header of the same length: written over the old one only
	// when the buffer may be written.
	got = joinHead([]byte("NNNN"), rest, raw, false, &buf)
	if string(got) != "NNNNrest of the message" || string(raw[:4]) != "HHHH" || &got[0] == &raw[0] {
		t.Fatalf("kept buffer: %q, raw %q", got, raw)
	}
	got = joinHead([]byte("NNNN"), rest, raw, true, &buf)
	if string(got) != "NNNNrest of the message" || &got[0] != &raw[0] {
		t.Fatalf("writable buffer: %q", got)
	}
	// A shorter header ends where the old one ended.
	got = joinHead([]byte("SS"), rest, raw, true, &buf)
	if string(got) != "SSrest of the message" || &got[0] != &raw[2] {
		t.Fatalf("shorter header: %q", got)
	}
	// A longer one: copied into buf.
	got = joinHead([]byte("LLLLLL"), rest, raw, true, &buf)
	if string(got) != "LLLLLLrest of the message" || &got[0] != &buf[0] {
		t.Fatalf("longer header: %q", got)
	}
	// rest not a tail of raw: copied.
	other := []byte("xrest of the message")
	got = joinHead([]byte("HHHH"), other[1:], raw, true, &buf)
	if string(got) != "HHHHrest of the message" || &got[0] != &buf[0] {
		t.Fatalf("foreign rest: %q", got)
	}
	// An error answer is its head alone.
	if got := joinHead([]byte("answer"), nil, raw, true, &buf); string(got) != "answer" {
		t.Fatalf("answer: %q", got)
	}
}

// joinHead allocates nothing once buf has room.
func TestJoinHeadZeroAlloc(t *testing.T) {
	raw := make([]byte, 300)
	head := make([]byte, 60)
	buf := make([]byte, 0, 400)
	allocs := testing.AllocsPerRun(100, func() {
		_ = joinHead(head, raw[40:], raw, true, &buf)
		_ = joinHead(head, raw[100:], raw, true, &buf)
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
