package capture

import (
	"context"
	"net"
	"sync"

	pionnet "github.com/pion/transport/v5"
)

// Conn records a TCP connection's payloads. client says whether this end
// opened the connection: the handshake is recorded from client to server.
func (c *Capture) Conn(conn net.Conn, client bool) net.Conn {
	if c == nil || conn == nil {
		return conn
	}
	if client {
		c.tcpOpen(conn.LocalAddr(), conn.RemoteAddr())
	} else {
		c.tcpOpen(conn.RemoteAddr(), conn.LocalAddr())
	}
	return &tcpConn{Conn: conn, cap: c}
}

// Dial wraps a dial function (such as net.Dialer.DialContext) so that
// the TCP connections it opens are recorded.
func (c *Capture) Dial(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	if c == nil || dial == nil {
		return dial
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c.Conn(conn, true), nil
	}
}

// Listener records the connections ln accepts, and notes its port for
// ServerPorts once it accepted one.
func (c *Capture) Listener(ln net.Listener) net.Listener {
	if c == nil || ln == nil {
		return ln
	}
	return &listener{Listener: ln, cap: c}
}

// PacketConn records a UDP socket's datagrams.
func (c *Capture) PacketConn(pc net.PacketConn) net.PacketConn {
	if c == nil || pc == nil {
		return pc
	}
	return &packetConn{PacketConn: pc, cap: c}
}

// Net wraps a pion network (stdnet for real sockets) so that the UDP
// sockets ICE gathers on are recorded: STUN connectivity checks and the
// DTLS records of the link.
func (c *Capture) Net(n pionnet.Net) pionnet.Net {
	if c == nil || n == nil {
		return n
	}
	return &pionNet{Net: n, cap: c}
}

type tcpConn struct {
	net.Conn
	cap  *Capture
	once sync.Once
}

func (t *tcpConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 && t.cap.dir == SentAndReceived {
		t.cap.tcp(t.RemoteAddr(), t.LocalAddr(), p[:n])
	}
	return n, err
}

func (t *tcpConn) Write(p []byte) (int, error) {
	// Record first, so that the capture keeps cause before effect.
	t.cap.tcp(t.LocalAddr(), t.RemoteAddr(), p)
	return t.Conn.Write(p)
}

func (t *tcpConn) Close() error {
	t.once.Do(func() { t.cap.tcpClose(t.LocalAddr(), t.RemoteAddr()) })
	return t.Conn.Close()
}

type listener struct {
	net.Listener
	cap *Capture
}

func (l *listener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if ap := addrPortOf(conn.LocalAddr()); ap.IsValid() {
		l.cap.mu.Lock()
		l.cap.ports[ap.Port()] = true
		l.cap.mu.Unlock()
	}
	return l.cap.Conn(conn, false), nil
}

type packetConn struct {
	net.PacketConn
	cap *Capture
}

func (p *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := p.PacketConn.ReadFrom(b)
	if n > 0 && p.cap.dir == SentAndReceived {
		p.cap.udp(addr, p.LocalAddr(), b[:n])
	}
	return n, addr, err
}

func (p *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	p.cap.udp(p.LocalAddr(), addr, b)
	return p.PacketConn.WriteTo(b, addr)
}

type pionNet struct {
	pionnet.Net
	cap *Capture
}

func (n *pionNet) ListenPacket(network, address string) (net.PacketConn, error) {
	pc, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return n.cap.PacketConn(pc), nil
}

func (n *pionNet) ListenUDP(network string, laddr *net.UDPAddr) (pionnet.UDPConn, error) {
	u, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: u, cap: n.cap}, nil
}

func (n *pionNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (pionnet.UDPConn, error) {
	u, err := n.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: u, cap: n.cap}, nil
}

// udpConn records a pion UDP socket's datagrams, whichever of its
// methods carries them.
type udpConn struct {
	pionnet.UDPConn
	cap *Capture
}

func (u *udpConn) recv(n int, b []byte, from net.Addr) {
	if n > 0 && u.cap.dir == SentAndReceived {
		u.cap.udp(from, u.LocalAddr(), b[:n])
	}
}

func (u *udpConn) Read(b []byte) (int, error) {
	n, err := u.UDPConn.Read(b)
	u.recv(n, b, u.RemoteAddr())
	return n, err
}

func (u *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := u.UDPConn.ReadFrom(b)
	u.recv(n, b, addr)
	return n, addr, err
}

func (u *udpConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := u.UDPConn.ReadFromUDP(b)
	u.recv(n, b, addr)
	return n, addr, err
}

func (u *udpConn) ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	n, oobn, flags, addr, err = u.UDPConn.ReadMsgUDP(b, oob)
	u.recv(n, b, addr)
	return n, oobn, flags, addr, err
}

func (u *udpConn) Write(b []byte) (int, error) {
	u.cap.udp(u.LocalAddr(), u.RemoteAddr(), b)
	return u.UDPConn.Write(b)
}

func (u *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	u.cap.udp(u.LocalAddr(), addr, b)
	return u.UDPConn.WriteTo(b, addr)
}

func (u *udpConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	u.cap.udp(u.LocalAddr(), addr, b)
	return u.UDPConn.WriteToUDP(b, addr)
}

func (u *udpConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (int, int, error) {
	to := net.Addr(addr)
	if addr == nil {
		to = u.RemoteAddr()
	}
	u.cap.udp(u.LocalAddr(), to, b)
	return u.UDPConn.WriteMsgUDP(b, oob, addr)
}
