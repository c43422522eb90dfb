package forwarding

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// AddLink puts an authenticated link in the connection table under its
// peer's Node-IDs and starts reading from it. The engine owns it from then
// on. A link already there for the same peer is closed.
func (e *Engine) AddLink(l *transport.Link) {
	ids := l.PeerNodeIDs()
	if e.ctx.Err() != nil {
		l.Close()
		return
	}
	e.wg.Add(1)
	go e.readLoop(l, ids[0])
	if old, ok := e.table.Lookup(ids[0]); ok && old != l && !e.prefer(l, old) {
		// Both ends opened a link at once: keep the one both agree on and
		// retire this one once what is in flight on it has arrived.
		e.retire(l)
	} else {
		for _, old := range e.table.Add(ids, l) {
			if old.Role() != l.Role() {
				e.retire(old)
			} else {
				old.Close()
			}
		}
		e.logLink("link up", l, nil)
		e.event(LinkEvent{NodeID: ids[0], Link: l, Up: true})
	}
	e.mu.Lock()
	for _, id := range ids {
		for _, ch := range e.linkWaiters[id] {
			ch <- l
		}
		delete(e.linkWaiters, id)
	}
	e.mu.Unlock()
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

func (e *Engine) readLoop(l *transport.Link, peer wire.NodeID) {
	defer e.wg.Done()
	var pm wire.Message // preVerify's, reused
	for {
		b, err := l.Receive(e.ctx)
		if err != nil {
			if errors.Is(err, transport.ErrMessageTooLarge) {
				// §6.6: the link refused a message larger than
				// max-message-size before reading it, so there is
				// nothing to answer; the session is closed.
				e.log.Warn("link closed: the peer sent a message larger than max-message-size",
					"peer", peer.String(), "remote", addrString(l), "max_message_size", e.linkCfg.MaxMessageSize, "err", err)
			}
			if e.table.Remove(l) {
				e.logLink("link down", l, err)
				e.event(LinkEvent{NodeID: peer, Link: l, Err: err})
			}
			l.Close()
			return
		}
		if e.opts.Observer != nil {
			e.opts.Observer.MessageReceived(l, b)
		}
		in := inbound{link: l, from: peer, data: b}
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
			// §6.5.1.13: the sender of the Attach request is the TLS
			// server; a node accepting a connection is that sender (or a
			// bootstrap node accepting a joining node).
			l, err := transport.NewTLSLink(ctx, conn, transport.Requester, wire.NodeID{}, &e.linkCfg)
			if err != nil {
				e.log.Debug("inbound TLS link failed", "err", err)
				return
			}
			e.AddLink(l)
		}()
	}
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
	return l, nil
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
