package transport

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5/packetio"
)

// Mux shares one UDP socket among several DTLS-UDP-SR-NO-ICE links: each
// peer address gets its own net.PacketConn (RFC 6940 §6.6.6 uses the
// node's one advertised port for all peers). Datagrams from addresses with
// no route are counted and dropped. Mux owns the socket.
type Mux struct {
	pc      net.PacketConn
	mu      sync.Mutex
	routes  map[string]*muxConn
	dropped uint64
	done    chan struct{}
	closed  bool
}

// NewMux starts demultiplexing pc.
func NewMux(pc net.PacketConn) *Mux {
	m := &Mux{pc: pc, routes: make(map[string]*muxConn), done: make(chan struct{})}
	go m.read()
	return m
}

// LocalAddr is the socket's address.
func (m *Mux) LocalAddr() net.Addr { return m.pc.LocalAddr() }

// Dropped is the number of datagrams that matched no route.
func (m *Mux) Dropped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// Conn returns the PacketConn for datagrams from and to raddr. Closing it
// removes the route.
func (m *Mux) Conn(raddr net.Addr) (net.PacketConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, net.ErrClosed
	}
	k := raddr.String()
	if _, ok := m.routes[k]; ok {
		return nil, errors.New("transport: mux already routes " + k)
	}
	c := &muxConn{m: m, raddr: raddr, buf: packetio.NewBuffer()}
	c.buf.SetLimitSize(1 << 20)
	m.routes[k] = c
	return c, nil
}

func (m *Mux) read() {
	defer close(m.done)
	b := make([]byte, 1<<16)
	for {
		n, addr, err := m.pc.ReadFrom(b)
		if err != nil {
			m.mu.Lock()
			rs := m.routes
			m.routes = map[string]*muxConn{}
			m.closed = true
			m.mu.Unlock()
			for _, c := range rs {
				_ = c.buf.Close()
			}
			return
		}
		m.mu.Lock()
		c := m.routes[addr.String()]
		if c == nil {
			m.dropped++
		}
		m.mu.Unlock()
		if c != nil {
			_, _ = c.buf.Write(b[:n], nil) // a full buffer drops, like a socket
		}
	}
}

// Close closes the socket and every route and waits for the reader.
func (m *Mux) Close() error {
	err := m.pc.Close()
	<-m.done
	return err
}

type muxConn struct {
	m     *Mux
	raddr net.Addr
	buf   *packetio.Buffer
	once  sync.Once
}

func (c *muxConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, _, err := c.buf.Read(p, nil)
	if errors.Is(err, io.EOF) {
		err = net.ErrClosed
	}
	return n, c.raddr, err
}

func (c *muxConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	return c.m.pc.WriteTo(p, c.raddr)
}

func (c *muxConn) Close() error {
	c.once.Do(func() {
		c.m.mu.Lock()
		if c.m.routes[c.raddr.String()] == c {
			delete(c.m.routes, c.raddr.String())
		}
		c.m.mu.Unlock()
		_ = c.buf.Close()
	})
	return nil
}

func (c *muxConn) LocalAddr() net.Addr                { return c.m.pc.LocalAddr() }
func (c *muxConn) SetDeadline(t time.Time) error      { return c.buf.SetReadDeadline(t) }
func (c *muxConn) SetReadDeadline(t time.Time) error  { return c.buf.SetReadDeadline(t) }
func (c *muxConn) SetWriteDeadline(_ time.Time) error { return nil }
