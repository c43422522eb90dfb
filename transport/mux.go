package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5/packetio"
)

// Mux shares one UDP socket among several DTLS-UDP-SR-NO-ICE links: each
// peer address gets its own net.PacketConn (RFC 6940 §6.6.6 uses the
// node's one advertised port for all peers). Routes are made by Conn, for
// a peer this node expects (the Attach it negotiated), and, once Accept
// has been called, by the DTLS ClientHello of a peer that opens a link
// itself (a joining node contacting its bootstrap node, RFC 6940 §11.4).
// Other datagrams from addresses with no route are counted and dropped.
// Mux owns the socket.
type Mux struct {
	pc        net.PacketConn
	mu        sync.Mutex
	routes    map[string]*muxConn
	dropped   uint64
	accepting bool
	accepts   chan *muxConn
	done      chan struct{}
	closed    bool
}

// AcceptBacklog is how many inbound routes wait for Accept; beyond it a
// ClientHello from a new address is dropped (its sender retransmits,
// RFC 6347 §4.2.4).
const AcceptBacklog = 64

// ErrRouted is Conn's error for an address the Mux already routes: a link
// (or an inbound handshake Accept has taken) has it.
var ErrRouted = errors.New("transport: mux already routes this address")

// NewMux starts demultiplexing pc.
func NewMux(pc net.PacketConn) *Mux {
	m := &Mux{pc: pc, routes: make(map[string]*muxConn), accepts: make(chan *muxConn, AcceptBacklog), done: make(chan struct{})}
	go m.read()
	return m
}

// Accept waits for a peer to open a link: a DTLS ClientHello (RFC 6347
// §4.2.2) from an address with no route makes a route for that address,
// which Accept returns with the address, the ClientHello waiting in it.
// The caller runs the DTLS server's side of the handshake on it (the
// peer's certificate decides whether the link is kept) and closes it when
// done. The first call turns accepting on: until then such datagrams are
// dropped like any other unrouted one. Accept fails with net.ErrClosed
// once the Mux is closed.
func (m *Mux) Accept() (net.PacketConn, net.Addr, error) {
	m.mu.Lock()
	m.accepting = true
	m.mu.Unlock()
	select {
	case c := <-m.accepts:
		return c, c.raddr, nil
	case <-m.done:
		// A route queued as the socket closed has its buffer closed.
		return nil, nil, net.ErrClosed
	}
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
		return nil, fmt.Errorf("%w: %s", ErrRouted, k)
	}
	return m.route(k, raddr), nil
}

// route makes the route for raddr, keyed k; m.mu is held.
func (m *Mux) route(k string, raddr net.Addr) *muxConn {
	c := &muxConn{m: m, raddr: raddr, buf: packetio.NewBuffer()}
	c.buf.SetLimitSize(1 << 20)
	m.routes[k] = c
	return c
}

// isClientHello reports whether b is a DTLS record carrying the start of
// a ClientHello: a handshake record (type 22) of a DTLS version (major
// 0xfe), in epoch 0, whose handshake message type is client_hello (1)
// (RFC 6347 §4.1 and §4.2.2: a 13-byte record header, then the 12-byte
// handshake header).
func isClientHello(b []byte) bool {
	return len(b) >= 13+12 && b[0] == 22 && b[1] == 0xfe && b[3] == 0 && b[4] == 0 && b[13] == 1
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
		k := addr.String()
		c := m.routes[k]
		if c == nil && m.accepting && isClientHello(b[:n]) {
			c = m.route(k, addr)
			select {
			case m.accepts <- c:
			default: // the backlog is full
				delete(m.routes, k)
				c = nil
			}
		}
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
