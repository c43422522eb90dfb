package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
)

// Counters add up the traffic and the life of every link that shares them
// through Config.Counters: handshakes, link ends, frames and
// retransmissions (§6.6.3). Every field is atomic and may be read at any
// time, for example by a metrics collector; a nil *Counters counts
// nothing. The per-link figures are Link.Stats.
type Counters struct {
	// Established counts the (D)TLS handshakes that gave a link, by
	// LinkType; HandshakeFailures those that did not (the peer's
	// certificate refused included), and for DTLS-UDP-SR the ICE
	// connectivity checks that found no pair.
	Established       [numLinkTypes]atomic.Uint64
	HandshakeFailures [numLinkTypes]atomic.Uint64
	// Closed counts the links that ended, by LinkType; Failed those of
	// them that ended in an error rather than a Close at either end: the
	// peer stopped acknowledging (ErrLinkFailed) or the connection broke.
	Closed [numLinkTypes]atomic.Uint64
	Failed [numLinkTypes]atomic.Uint64
	// FramesSent counts the DATA frames sent, retransmissions and
	// keepalives included; Retransmissions those that were resent
	// (§6.6.3.1); FramesReceived the DATA frames received.
	FramesSent      atomic.Uint64
	Retransmissions atomic.Uint64
	FramesReceived  atomic.Uint64
}

// numLinkTypes bounds the LinkType values the counters are indexed by.
const numLinkTypes = 8

// LinkTypes are the overlay link types this package implements, in the
// order a report would list them.
var LinkTypes = []LinkType{LinkTLSTCPFHNoICE, LinkDTLSUDPSRNoICE, LinkDTLSUDPSR}

func (c *Counters) handshake(t LinkType, err error) {
	if c == nil || int(t) >= numLinkTypes {
		return
	}
	if err != nil {
		c.HandshakeFailures[t].Add(1)
		return
	}
	c.Established[t].Add(1)
}

func (c *Counters) closed(t LinkType, err error) {
	if c == nil || int(t) >= numLinkTypes {
		return
	}
	c.Closed[t].Add(1)
	if linkFailed(err) {
		c.Failed[t].Add(1)
	}
}

// frames adds the difference between two snapshots of a sender's
// counters.
func (c *Counters) frames(old, cur SenderStats) {
	if c == nil {
		return
	}
	if d := cur.Frames - old.Frames; d > 0 {
		c.FramesSent.Add(d)
	}
	if d := cur.Retransmissions - old.Retransmissions; d > 0 {
		c.Retransmissions.Add(d)
	}
}

func (c *Counters) received() {
	if c != nil {
		c.FramesReceived.Add(1)
	}
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return discard
	}
	return c.Logger
}

var discard = slog.New(slog.DiscardHandler)

// handshakeFailed counts and logs a (D)TLS handshake that gave no link.
func (c *Config) handshakeFailed(t LinkType, remote net.Addr, err error) {
	c.handshakeFailedAt(slog.LevelWarn, t, remote, err)
}

// handshakeFailedAt is handshakeFailed logging at level lvl.
func (c *Config) handshakeFailedAt(lvl slog.Level, t LinkType, remote net.Addr, err error) {
	if c == nil {
		return
	}
	c.Counters.handshake(t, err)
	if log := c.logger(); log.Enabled(context.Background(), lvl) {
		log.Log(context.Background(), lvl, "link handshake failed", "type", t.String(), "remote", addrString(remote), "err", err)
	}
}

func (l *Link) logUp() {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var peer string
	if len(l.peer) > 0 {
		peer = l.PeerNodeID().String()
	}
	l.log.Debug("link established", "type", l.typ.String(), "role", l.role.String(), "peer", peer,
		"local", addrString(l.conn.LocalAddr()), "remote", addrString(l.conn.RemoteAddr()))
}

// logEnd logs why the link ended: at Warn when it failed, at Debug when
// it was closed.
func (l *Link) logEnd(err error) {
	lvl := slog.LevelDebug
	if linkFailed(err) {
		lvl = slog.LevelWarn
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, lvl) {
		return
	}
	var peer string
	if len(l.peer) > 0 {
		peer = l.PeerNodeID().String()
	}
	msg := "link closed"
	if lvl == slog.LevelWarn {
		msg = "link failed"
	}
	l.log.Log(ctx, lvl, msg, "type", l.typ.String(), "peer", peer, "remote", addrString(l.conn.RemoteAddr()), "err", err)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// linkFailed reports whether a link ended in failure rather than by Close
// at this end or an orderly close at the peer's.
func linkFailed(err error) bool {
	return err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed)
}
