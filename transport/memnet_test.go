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
	c.mu.Unlock()
	if drop {
		c.dropped.Add(1)
		return len(p), nil
	}
	select {
	case c.peer.in <- append([]byte(nil), p...):
	case <-c.peer.closed:
	default: // queue full: dropped like a socket buffer overflow
		c.dropped.Add(1)
	}
	return len(p), nil
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
