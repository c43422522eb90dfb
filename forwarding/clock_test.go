package forwarding

import (
	"context"
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock that moves only when Advance is called. It starts
// at the real time, since certificates are checked against it.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at time.Time
	d  time.Duration
	f  func()
}

func newManualClock() *manualClock { return &manualClock{now: time.Now()} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), d: d, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, u := range c.timers {
			if u == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return true
			}
		}
		return false
	}
}

// waiting reports whether a timer of duration d is pending.
func (c *manualClock) waiting(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if t.d == d {
			return true
		}
	}
	return false
}

// Advance moves the clock d ahead and fires the timers then due, each on
// a goroutine of its own.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		go t.f()
	}
	c.timers = kept
}

// A link that loses the simultaneous-Attach tie-break to an older twin is
// retired: it stays open for retireGrace by the engine's clock, so that
// what is in flight on it still arrives, and is closed then.
func TestEngineRetireOnClock(t *testing.T) {
	checkLeaks(t)
	clk := newManualClock()
	b := startEngine(t, 2, &staticRouter{}, func(o *Options) {
		o.Clock = clk
		o.twinWindow = time.Hour
	})
	c := startEngine(t, 3, &staticRouter{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old, err := b.DialTLS(ctx, tlsAddr(c), idC)
	if err != nil {
		t.Fatal(err)
	}
	c2 := startEngine(t, 3, &staticRouter{}, nil)
	twin, err := c2.DialTLS(ctx, tlsAddr(b), idB)
	if err != nil {
		t.Fatal(err)
	}
	// B keeps the link whose TLS client has the smaller Node-ID (its
	// own) and retires the twin.
	waitFor(t, func() bool { return clk.waiting(retireGrace) })
	if l, _ := b.Table().Lookup(idC); l != old {
		t.Fatal("B did not keep the older twin")
	}
	clk.Advance(retireGrace - time.Millisecond)
	select {
	case <-twin.Done():
		t.Fatalf("the retired link closed before its grace period: %v", twin.Err())
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case <-twin.Done():
	case <-ctx.Done():
		t.Fatal("the retired link was not closed after its grace period")
	}
}
