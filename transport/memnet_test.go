package transport

import (
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// memAddr is an address on the in-memory network.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// memConn is one end of an in-memory datagram pipe with loss and an MTU.
// It blocks only on channels, so it runs inside testing/synctest bubbles.
type memConn struct {
	local, remote memAddr
	in            chan []byte
	peer          *memConn
	closed        chan struct{}
	once          sync.Once

	mu   sync.Mutex
	rng  *rand.Rand
	loss float64 // probability of dropping a sent datagram
	mtu  int     // larger datagrams are dropped; 0: no limit
	// reorder is the probability that a datagram is held back and
	// delivered after the next one (or after reorderDelay if none comes);
	// dup that it is delivered twice.
	reorder, dup float64
	held         []byte
	heldTimer    *time.Timer

	dlMu      sync.Mutex
	dl        time.Time
	dlChanged chan struct{}
	sent      atomic.Uint64
	dropped   atomic.Uint64
}

// memPipe returns two connected ends; loss applies to both directions.
func memPipe(loss float64, mtu int, seed uint64) (*memConn, *memConn) {
	a := &memConn{local: "a:1", remote: "b:1", in: make(chan []byte, 512), closed: make(chan struct{}),
		rng: rand.New(rand.NewPCG(seed, 1)), loss: loss, mtu: mtu}
	b := &memConn{local: "b:1", remote: "a:1", in: make(chan []byte, 512), closed: make(chan struct{}),
		rng: rand.New(rand.NewPCG(seed, 2)), loss: loss, mtu: mtu}
	a.peer, b.peer = b, a
	a.dlChanged, b.dlChanged = make(chan struct{}), make(chan struct{})
	return a, b
}

func (c *memConn) setLoss(p float64) {
	c.mu.Lock()
	c.loss = p
	c.mu.Unlock()
}

// impair sets the loss, reordering and duplication probabilities.
func (c *memConn) impair(loss, reorder, dup float64) {
	c.mu.Lock()
	c.loss, c.reorder, c.dup = loss, reorder, dup
	c.mu.Unlock()
}

func (c *memConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.dlMu.Lock()
		dl, changed := c.dl, c.dlChanged
		c.dlMu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			timeout = t.C
			defer t.Stop()
		}
		select {
		case b := <-c.in:
			return copy(p, b), c.remote, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-changed:
		}
	}
}

func (c *memConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.sent.Add(1)
	c.mu.Lock()
	drop := (c.mtu > 0 && len(p) > c.mtu) || c.rng.Float64() < c.loss
	var out [][]byte
	if !drop {
		b := append([]byte(nil), p...)
		switch {
		case c.held == nil && c.rng.Float64() < c.reorder:
			c.held = b
			c.heldTimer = time.AfterFunc(reorderDelay, c.flush)
		case c.rng.Float64() < c.dup:
			out = [][]byte{b, b}
		default:
			out = [][]byte{b}
		}
		if c.held != nil && len(out) > 0 {
			c.heldTimer.Stop()
			out, c.held = append(out, c.held), nil
		}
	}
	c.mu.Unlock()
	if drop {
		c.dropped.Add(1)
		return len(p), nil
	}
	c.deliver(out)
	return len(p), nil
}

// reorderDelay is how long a datagram held back for reordering waits
// for the next one.
const reorderDelay = time.Millisecond

// flush delivers the datagram held back, if any.
func (c *memConn) flush() {
	c.mu.Lock()
	b := c.held
	c.held = nil
	c.mu.Unlock()
	if b != nil {
		c.deliver([][]byte{b})
	}
}

func (c *memConn) deliver(out [][]byte) {
	for _, b := range out {
		select {
		case c.peer.in <- b:
		case <-c.peer.closed:
		default: // queue full: dropped like a socket buffer overflow
			c.dropped.Add(1)
		}
	}
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return c.local }
func (c *memConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}
func (c *memConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.dl = t
	if c.dlChanged != nil {
		close(c.dlChanged)
	}
	c.dlChanged = make(chan struct{})
	c.dlMu.Unlock()
	return nil
}
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
