package forwarding

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// AddLink puts an authenticated link in the connection table under its
// peer's Node-ID and starts reading from it. The engine owns it from then
// on. A link already there for the same peer is closed.
//
// A peer whose certificate has several Node-IDs and that was neither
// dialled nor Attached as one of them makes the one it runs as known by
// the first request it signs and sends over the link itself (§6.1.2:
// nodes normally learn it by an Attach; a Ping does as well, §4.2.1).
// Until then the link is tentative (ConnTable.AddTentative) and no link
// event is reported for it.
func (e *Engine) AddLink(l *transport.Link) {
	if e.ctx.Err() != nil {
		l.Close()
		return
	}
	if !l.PeerKnown() {
		if id, ok := e.awaited(l.PeerNodeIDs()); ok {
			_ = l.BindPeerNodeID(id)
		}
	}
	e.wg.Add(1)
	go e.readLoop(l)
	if !l.PeerKnown() {
		e.table.AddTentative(l.PeerNodeIDs(), l)
		e.logLink("link up, Node-ID not yet known", l, nil)
		return
	}
	e.register(l)
}

// awaited is the one Node-ID among ids whose link an Attach of ours waits
// for (waitLink: we answered or sent an Attach and are the TLS server the
// other end connects to, §6.5.1.13): a link authenticated with a
// certificate that carries it is that link.
func (e *Engine) awaited(ids []wire.NodeID) (wire.NodeID, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var found wire.NodeID
	n := 0
	for _, id := range ids {
		if len(e.linkWaiters[id]) > 0 {
			found = id
			n++
		}
	}
	return found, n == 1
}

// register puts a link whose peer's Node-ID is known in the table.
func (e *Engine) register(l *transport.Link) {
	id := l.PeerNodeID()
	if old, ok := e.table.Lookup(id); ok && old != l && !e.prefer(l, old) {
		// Both ends opened a link at once: keep the one both agree on and
		// retire this one once what is in flight on it has arrived.
		e.retire(l)
	} else {
		for _, old := range e.table.Add([]wire.NodeID{id}, l) {
			if old.Role() != l.Role() {
				e.retire(old)
			} else {
				old.Close()
			}
		}
		e.logLink("link up", l, nil)
		e.event(LinkEvent{NodeID: id, Link: l, Up: true})
	}
	e.mu.Lock()
	for _, ch := range e.linkWaiters[id] {
		ch <- l
	}
	delete(e.linkWaiters, id)
	e.mu.Unlock()
}

// learnPeer binds a tentative link to the Node-ID its peer signed a
// request as, when the request came from the peer itself (an empty via
// list, §6.1.2: a node forwarding a request adds itself to it) and the
// Node-ID is one of the certificate the link authenticated. It reports
// whether the link is bound.
func (e *Engine) learnPeer(l *transport.Link, raw []byte, m *wire.Message) bool {
	if _, err := m.Decode(raw); err != nil || m.Header.IsFragment() || len(m.Header.Via) != 0 || !m.Contents.Code.IsRequest() {
		return false
	}
	signer, err := e.opts.Verifier.Verify(m, security.Expect{}, e.clock.Now())
	if err != nil {
		return false
	}
	if err := l.BindPeerNodeID(signer.NodeID); err != nil {
		return false
	}
	e.register(l)
	return true
}

// prefer reports whether link a is the one to keep over b when both join
// this node to the same peer. A link opened from the same end as b, or
// more than the twin window after it, replaces it. Two links opened from
// opposite ends within the window are settled by rules both ends apply
// alike, so that they agree without talking:
//
//   - links of different types were not set up by two Attaches that
//     crossed (§6.5.1.2): they are a bootstrap TLS link (§11.5) and the
//     datagram link an Attach then negotiated, as when a joining node
//     Attaches to its bootstrap peer as its admitting peer (§10.5). The
//     Attach was asked for its link, so the datagram link is kept;
//   - otherwise both ends keep the link whose (D)TLS client is the node
//     with the smaller Node-ID.
func (e *Engine) prefer(a, b *transport.Link) bool {
	if a.Role() == b.Role() || a.Since().Sub(b.Since()) > e.opts.twinWindow {
		return true
	}
	if ra, rb := attachRank(a.Type()), attachRank(b.Type()); ra != rb {
		return ra > rb
	}
	self, peer := e.Self(), a.PeerNodeID()
	smallerIsSelf := self.Compare(peer) < 0
	aClientIsSelf := a.Role() == transport.Responder
	return aClientIsSelf == smallerIsSelf
}

// attachRank orders link types for prefer: only an Attach sets up a
// DTLS link (with ICE, or without it, §6.6.6); TLS links are also dialed
// directly to bootstrap peers.
func attachRank(t transport.LinkType) int {
	switch t {
	case transport.LinkDTLSUDPSR:
		return 2
	case transport.LinkDTLSUDPSRNoICE:
		return 1
	}
	return 0
}

// retireGrace is how long a link that lost to another one to the same
// peer stays open, so that messages already sent on it are still read.
const retireGrace = 2 * time.Second

// retire closes a link that lost to another one to the same peer after
// retireGrace (on the engine's clock).
func (e *Engine) retire(l *transport.Link) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case <-e.clock.After(retireGrace):
		case <-e.ctx.Done():
		}
		l.Close()
	}()
}

func (e *Engine) event(ev LinkEvent) {
	if e.opts.OnLinkEvent == nil {
		return
	}
	e.events.Lock()
	defer e.events.Unlock()
	e.opts.OnLinkEvent(ev)
}

func (e *Engine) readLoop(l *transport.Link) {
	defer e.wg.Done()
	var pm wire.Message // preVerify's, reused
	known := l.PeerKnown()
	for {
		b, err := l.Receive(e.ctx)
		if err != nil {
			peer := l.PeerNodeID()
			if errors.Is(err, transport.ErrMessageTooLarge) {
				// §6.6: the link refused a message larger than
				// max-message-size before reading it, so there is
				// nothing to answer; the session is closed.
				e.log.Warn("link closed: the peer sent a message larger than max-message-size",
					"peer", peer.String(), "remote", addrString(l), "max_message_size", e.linkCfg.MaxMessageSize, "err", err)
			}
			if e.table.Remove(l) {
				e.logLink("link down", l, err)
				if l.PeerKnown() {
					e.event(LinkEvent{NodeID: peer, Link: l, Err: err})
				}
			}
			l.Close()
			return
		}
		if e.opts.Observer != nil {
			e.opts.Observer.MessageReceived(l, b)
		}
		if !known {
			known = e.learnPeer(l, b, &pm)
		}
		in := inbound{link: l, from: l.PeerNodeID(), data: b}
		e.preVerify(&in, &pm)
		select {
		case e.inbox <- in:
		case <-e.ctx.Done():
			return
		}
	}
}

func (e *Engine) acceptLoop(ln net.Listener) {
	defer e.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		e.admitInbound(conn, func(ctx context.Context) (*transport.Link, error) {
			// §6.5.1.13: the sender of the Attach request is the TLS
			// server; a node accepting a connection is that sender (or a
			// bootstrap node accepting a joining node).
			l, err := transport.NewTLSLink(ctx, conn, transport.Requester, wire.NodeID{}, &e.linkCfg)
			if err != nil {
				e.log.Debug("inbound TLS link failed", "err", err)
			}
			return l, err
		})
	}
}

// admitInbound puts an inbound connection in the table of pending
// handshakes (evicting an older one as its limits say, §13) and runs
// handshake on a goroutine of its own within the accept timeout; the
// link it sets up enters the connection table.
func (e *Engine) admitInbound(conn net.Conn, handshake func(ctx context.Context) (*transport.Link, error)) {
	p, evicted, why := e.hs.admit(sourceOf(conn), conn)
	if evicted != nil {
		_ = evicted.conn.Close()
		e.evicted(conn, evicted, why)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.hs.done(p)
		d := e.linkCfg.HandshakeTimeout
		if d <= 0 {
			d = DefaultAcceptHandshakeTimeout
		}
		ctx, cancel := e.withTimeout(e.ctx, d)
		defer cancel()
		if l, err := handshake(ctx); err == nil {
			e.AddLink(l)
		}
	}()
}

// evicted counts and logs a pending inbound handshake closed to make
// room for conn: each at Debug, and at most one notice every
// handshakeNoticeEvery at Info while the table overflows.
func (e *Engine) evicted(conn net.Conn, p *pendingHandshake, why string) {
	e.stats.HandshakesEvicted.Add(1)
	victim := p.conn.RemoteAddr().String()
	e.log.Debug("pending inbound TLS handshake evicted", "reason", why, "evicted", victim, "for", conn.RemoteAddr().String())
	if _, ok := e.hsNotice.allow(e.clock.Now()); !ok {
		return
	}
	total, busiest := e.hs.pending()
	e.log.Info("too many inbound TLS handshakes pending: evicting the oldest of the busiest sources",
		"reason", why, "source", p.source.String(), "pending", total, "from_busiest_source", busiest,
		"evicted_total", e.stats.HandshakesEvicted.Load())
}

// handshakeNoticeEvery spaces the Info notices of evictions.
const handshakeNoticeEvery = 10 * time.Second

// PendingHandshakes is the number of inbound TLS handshakes in progress.
func (e *Engine) PendingHandshakes() int {
	n, _ := e.hs.pending()
	return n
}

// DialTLS opens a TLS-TCP-FH-NO-ICE link to address as the TLS client (a
// joining node connecting to a bootstrap node, §11.5) and adds it to the
// table. When expect is not zero the peer's certificate must carry it.
func (e *Engine) DialTLS(ctx context.Context, address string, expect wire.NodeID) (*transport.Link, error) {
	conn, err := e.opts.Dial(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	l, err := transport.NewTLSLink(ctx, conn, transport.Responder, expect, &e.linkCfg)
	if err != nil {
		return nil, err
	}
	e.AddLink(l)
	if err := e.probePeer(ctx, l); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ErrPeerUnknown is probePeer's error when no Node-ID of the peer's
// certificate answered.
var ErrPeerUnknown = errors.New("forwarding: the peer answered as none of its certificate's Node-IDs")

// probePeer learns which Node-ID of its certificate the peer of a
// tentative link runs as (RFC 6940 §4.2.1: "a Ping ... to probe the
// Node-ID of the node to which it is connected"): a Ping with TTL 0 to
// each Node-ID the link holds in the table, which only the peer itself
// can answer, and only the one it runs as (§6.3.4: the answer to a
// Node-ID must be signed by it). The first answer binds the link.
func (e *Engine) probePeer(ctx context.Context, l *transport.Link) error {
	if l.PeerKnown() {
		return nil
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := (&wire.PingReq{}).Append(nil)
	if err != nil {
		return err
	}
	found := make(chan wire.NodeID, 1)
	var wg sync.WaitGroup
	for _, id := range l.PeerNodeIDs() {
		if held, ok := e.table.Lookup(id); !ok || held != l {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := e.RequestWith(pctx, []wire.Destination{wire.NodeDest(&id)}, wire.CodePingReq, body, RequestOptions{NeighbourOnly: true})
			if err == nil && a.Signer.NodeID == id {
				select {
				case found <- id:
				default:
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	select {
	case id := <-found:
		if err := l.BindPeerNodeID(id); err != nil {
			return err
		}
		e.register(l)
		return nil
	default:
	}
	if l.PeerKnown() {
		// The peer's own first request bound it meanwhile.
		return nil
	}
	return fmt.Errorf("%w (%v)", ErrPeerUnknown, ctx.Err())
}

// peerVerifier checks a (D)TLS peer's chain against the overlay's trust
// (RFC 6940 §11.3) and caches the validated certificate for the
// signature checks that follow.
type peerVerifier struct {
	v     *security.Verifier
	clock Clock
}

func (p peerVerifier) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	nc, err := p.v.Trust().VerifyChain(chain, p.clock.Now())
	if err != nil {
		return nil, err
	}
	p.v.Cache().Add(nc)
	return nc.NodeIDs, nil
}

// ListenAddr is the address of the TLS listener ("" without one).
func (e *Engine) ListenAddr() string {
	if e.opts.Listener == nil {
		return ""
	}
	return e.opts.Listener.Addr().String()
}

// logLink logs a link entering (err nil) or leaving the connection table
// at Info.
func (e *Engine) logLink(msg string, l *transport.Link, err error) {
	if !e.log.Enabled(e.ctx, slog.LevelInfo) {
		return
	}
	attrs := []any{"peer", l.PeerNodeID().String(), "type", l.Type().String(), "remote", addrString(l)}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	e.log.Info(msg, attrs...)
}

func addrString(l *transport.Link) string {
	if a := l.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}
