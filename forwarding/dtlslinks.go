package forwarding

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// ErrNoUDP is DialDTLS's error on an engine without a UDP socket
// (Options.UDP).
var ErrNoUDP = errors.New("forwarding: no UDP socket for DTLS-UDP-SR-NO-ICE links")

// DialDTLS opens a DTLS-UDP-SR-NO-ICE link (§6.6.6) to address, from the
// engine's UDP socket, as the DTLS client: a joining node contacting a
// bootstrap node over DTLS (§11.4), which authenticates the link as over
// TLS (the certificate chains to the overlay's CA and carries a Node-ID,
// §11.3). The link is added to the table. When expect is not zero the
// peer's certificate must carry it. A link to the same peer at that
// address is returned as it is: the Mux routes one association per peer
// address.
func (e *Engine) DialDTLS(ctx context.Context, address string, expect wire.NodeID) (*transport.Link, error) {
	if e.opts.UDP == nil {
		return nil, ErrNoUDP
	}
	raddr, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, err
	}
	pc, err := e.opts.UDP.Conn(raddr)
	if errors.Is(err, transport.ErrRouted) {
		if l, ok := e.linkAt(raddr, expect); ok {
			return l, nil
		}
		if !expect.IsZero() {
			// The peer is opening a link to us from that address.
			return e.waitLinkAt(ctx, expect, raddr)
		}
	}
	if err != nil {
		return nil, err
	}
	l, err := transport.NewDTLSLink(ctx, pc, raddr, transport.Responder, expect, &e.linkCfg)
	if err != nil {
		return nil, err // NewDTLSLink closed pc
	}
	e.AddLink(l)
	return l, nil
}

// linkAt is the DTLS-UDP-SR-NO-ICE link in the table whose peer is at
// raddr (and carries expect, when not zero).
func (e *Engine) linkAt(raddr *net.UDPAddr, expect wire.NodeID) (*transport.Link, bool) {
	for _, l := range e.table.Links() {
		if l.Type() != transport.LinkDTLSUDPSRNoICE || addrString(l) != raddr.String() {
			continue
		}
		if expect.IsZero() || l.PeerNodeID() == expect {
			return l, true
		}
	}
	return nil, false
}

// waitLinkAt returns the DTLS-UDP-SR-NO-ICE link to peer at raddr: the
// one in the table, or the one the accept path is setting up. Links of
// other types or addresses that come up meanwhile (a bootstrap TLS link
// to the same peer, say) are not it.
func (e *Engine) waitLinkAt(ctx context.Context, peer wire.NodeID, raddr *net.UDPAddr) (*transport.Link, error) {
	return e.awaitLink(ctx, peer, func() (*transport.Link, bool) { return e.linkAt(raddr, peer) },
		func(l *transport.Link) bool {
			return l.Type() == transport.LinkDTLSUDPSRNoICE && addrString(l) == raddr.String()
		})
}

// acceptDTLSLoop accepts the DTLS-UDP-SR-NO-ICE links peers open to the
// engine's UDP socket: joining nodes bootstrapping through this node over
// DTLS (§11.4), and the answerer of an Attach whose ClientHello came
// before this node's side of the Attach made its route. They are admitted
// as inbound TLS connections are: the same table of pending handshakes
// bounds them in total and per source (§13), this node is the DTLS server
// and requires a certificate that chains to the overlay's CA and carries
// a Node-ID (§6.5.1.13, §11.3), and the handshake has the accept
// timeout. A source whose first ClientHello is not followed by a second
// datagram within the first-record timeout (the ClientHello that returns
// the server's cookie, RFC 6347 §4.2.1) is dropped sooner: a spoofed
// source address never sees the cookie.
func (e *Engine) acceptDTLSLoop(m *transport.Mux) {
	defer e.wg.Done()
	for {
		pc, raddr, err := m.Accept()
		if err != nil {
			return
		}
		rc := &routeConn{PacketConn: pc, raddr: raddr}
		e.admitInbound(rc, func(ctx context.Context) (*transport.Link, error) {
			first := e.linkCfg.FirstRecordTimeout
			if first <= 0 {
				first = transport.DefaultFirstRecordTimeout
			}
			stop := e.clock.AfterFunc(first, func() {
				if rc.datagrams.Load() < 2 {
					_ = rc.Close()
				}
			})
			defer func() { stop() }()
			l, err := transport.NewDTLSLink(ctx, rc, raddr, transport.Requester, wire.NodeID{}, &e.linkCfg)
			if err != nil {
				e.log.Debug("inbound DTLS link failed", "remote", raddr.String(), "datagrams", rc.datagrams.Load(), "err", err)
			}
			return l, err
		})
	}
}

// routeConn is one Mux route as the table of pending handshakes sees an
// inbound connection (a net.Conn with its remote address), counting the
// datagrams read from it. Closing it closes the route.
type routeConn struct {
	net.PacketConn
	raddr     net.Addr
	datagrams atomic.Int64
	once      sync.Once
	err       error
}

func (c *routeConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.datagrams.Add(1)
	}
	return n, a, err
}

func (c *routeConn) Read(p []byte) (int, error) {
	n, _, err := c.ReadFrom(p)
	return n, err
}

func (c *routeConn) Write(p []byte) (int, error) { return c.WriteTo(p, c.raddr) }

func (c *routeConn) Close() error {
	c.once.Do(func() { c.err = c.PacketConn.Close() })
	return c.err
}

func (c *routeConn) RemoteAddr() net.Addr { return c.raddr }

func (c *routeConn) String() string { return fmt.Sprintf("udp route %s", c.raddr) }

var _ net.Conn = (*routeConn)(nil)
