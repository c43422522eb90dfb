package forwarding

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Roles of an AttachReqAns (§6.5.1.1): "passive" for the offerer, "active"
// for the answerer.
var (
	rolePassive = []byte("passive")
	roleActive  = []byte("active")
)

// ErrNoCandidate reports an Attach whose candidates offer no link type
// this node can use.
var ErrNoCandidate = errors.New("forwarding: no usable candidate in Attach")

// offer is one side's part of an Attach.
type offer struct {
	ufrag, pwd string
	cands      []wire.IceCandidate
	ice        *transport.ICESession
}

func (e *Engine) useICE() bool { return e.opts.ICE != nil && !e.cfg.NoICE }

// noICECandidates are this node's host candidates for the No-ICE link
// types it can serve (§6.5.1.11), in the overlay's order of preference.
func (e *Engine) noICECandidates() []wire.IceCandidate {
	var out []wire.IceCandidate
	for _, p := range e.cfg.LinkProtocols() {
		var ap netip.AddrPort
		var lt wire.OverlayLinkType
		switch p {
		case "TLS":
			if e.opts.Listener == nil {
				continue
			}
			ap = e.opts.AdvertiseTLS
			if !ap.IsValid() {
				ap = transport.AddrPortOf(e.opts.Listener.Addr())
			}
			lt = wire.OverlayLinkType(transport.LinkTLSTCPFHNoICE)
		case "DTLS":
			if e.opts.UDP == nil {
				continue
			}
			ap = e.opts.AdvertiseUDP
			if !ap.IsValid() {
				ap = transport.AddrPortOf(e.opts.UDP.LocalAddr())
			}
			lt = wire.OverlayLinkType(transport.LinkDTLSUDPSRNoICE)
		default:
			continue
		}
		if !ap.IsValid() {
			continue
		}
		out = append(out, wire.IceCandidate{
			AddrPort: wire.IPAddressPortFrom(ap), OverlayLink: lt, Foundation: []byte{'1'},
			Priority: 1 << 24, Type: wire.CandHost,
		})
	}
	return out
}

// makeOffer gathers this node's side of an Attach: ICE candidates and
// credentials when ICE is in use, else the No-ICE host candidates.
func (e *Engine) makeOffer(ctx context.Context, role transport.Role) (*offer, error) {
	if e.useICE() {
		s, err := transport.NewICESession(role, *e.opts.ICE)
		if err != nil {
			return nil, err
		}
		ufrag, pwd, cands, err := s.Gather(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		o := &offer{ufrag: ufrag, pwd: pwd, ice: s}
		for _, c := range cands {
			if w, err := c.WireCandidate(); err == nil {
				o.cands = append(o.cands, w)
			}
		}
		if len(o.cands) == 0 {
			// No address to gather on: a host with only a loopback
			// interface, whose addresses ICE leaves out (RFC 8445
			// §5.1.1.1) unless told to include them.
			s.Close()
			return nil, fmt.Errorf("%w: ICE gathered no candidate (loopback addresses are left out unless included)", ErrNoCandidate)
		}
		return o, nil
	}
	o := &offer{cands: e.noICECandidates()}
	if len(o.cands) == 0 {
		return nil, ErrNoCandidate
	}
	return o, nil
}

// errNoCandidateToOffer is the answer to an Attach or AppAttach that this
// node cannot offer a candidate for. §6.5.1.2: a peer that "detects some
// other kind of error ... MAY generate an error instead of an
// AttachReqAns"; an answer without candidates would leave the requester's
// checks to time out. The code is the one of a peer with no link type in
// common: this node cannot serve the overlay's link protocols.
func errNoCandidateToOffer() error {
	return &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay, Info: []byte("no candidate to offer"), Err: ErrNoCandidate}
}

// answerOffer is makeOffer on the answerer's side of an Attach or
// AppAttach: no candidate is answered with errNoCandidateToOffer.
func (e *Engine) answerOffer(ctx context.Context) (*offer, error) {
	o, err := e.makeOffer(ctx, transport.Responder)
	if errors.Is(err, ErrNoCandidate) {
		return nil, errNoCandidateToOffer()
	}
	return o, err
}

// Attach opens a direct link to the node that dest leads to (§6.5.1): an
// Attach request carrying this node's candidates goes through the overlay,
// and the answerer's candidates come back; then ICE and DTLS (or, without
// ICE, a TLS or DTLS handshake on the host candidates) set up the link, in
// which this node, the requester, is ICE-controlling and the (D)TLS
// server. The link is added to the connection table and returned. A node
// already connected gets the existing link.
func (e *Engine) Attach(ctx context.Context, dest []wire.Destination) (*transport.Link, error) {
	if len(dest) == 1 {
		if id, ok := dest[0].NodeID(); ok {
			if l, ok := e.table.Lookup(id); ok {
				return l, nil
			}
		}
	}
	o, err := e.makeOffer(ctx, transport.Requester)
	if err != nil {
		return nil, err
	}
	if o.ice != nil {
		defer func() {
			if o.ice != nil {
				o.ice.Close()
			}
		}()
	}
	req := wire.AttachReqAns{Ufrag: []byte(o.ufrag), Password: []byte(o.pwd), Role: rolePassive, Candidates: o.cands}
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	var target wire.NodeID
	if id, ok := dest[len(dest)-1].NodeID(); ok {
		target = id
		e.setAttaching(id, false)
		defer e.clearAttaching(id)
	}
	a, err := e.Request(ctx, dest, wire.CodeAttachReq, body)
	var re *wire.RemoteError
	if errors.As(err, &re) && re.Code == wire.ErrCodeInProgress && !target.IsZero() {
		// §6.5.1.2: the peer is attaching to us at the same time and won
		// the tie-break; its link will arrive.
		return e.waitLink(ctx, target)
	}
	if err != nil {
		return nil, err
	}
	peer := a.Signer.NodeID
	e.setAttaching(peer, true)
	defer e.clearAttaching(peer)
	var ans wire.AttachReqAns
	if _, err := ans.Decode(a.Body); err != nil {
		return nil, err
	}
	return e.connect(ctx, o, &ans, peer, transport.Requester)
}

// connect finishes an Attach on either side with the peer's candidates.
func (e *Engine) connect(ctx context.Context, o *offer, theirs *wire.AttachReqAns, peer wire.NodeID, role transport.Role) (*transport.Link, error) {
	if o.ice != nil {
		var remote []transport.Candidate
		for i := range theirs.Candidates {
			if c, ok := candidateFromWire(&theirs.Candidates[i]); ok && !wire.OverlayLinkType(c.LinkType).NoICE() {
				remote = append(remote, c)
			}
		}
		s := o.ice
		o.ice = nil // the link owns the session now, even on failure
		l, err := transport.NewICELink(ctx, s, string(theirs.Ufrag), string(theirs.Password), remote, peer, &e.linkCfg)
		if err != nil {
			return nil, err
		}
		e.AddLink(l)
		return l, nil
	}
	c, ok := e.pickNoICE(theirs.Candidates)
	if !ok {
		return nil, ErrNoCandidate
	}
	switch c.LinkType {
	case transport.LinkTLSTCPFHNoICE:
		if role == transport.Requester {
			// The answerer connects to our listener; we are the TLS
			// server (§6.5.1.13) and wait for its link.
			return e.waitLink(ctx, peer)
		}
		conn, err := e.opts.Dial(ctx, "tcp", c.Addr.String())
		if err != nil {
			return nil, err
		}
		l, err := transport.NewTLSLink(ctx, conn, role, peer, &e.linkCfg)
		if err != nil {
			return nil, err
		}
		e.AddLink(l)
		return l, nil
	case transport.LinkDTLSUDPSRNoICE:
		raddr := net.UDPAddrFromAddrPort(c.Addr)
		pc, err := e.opts.UDP.Conn(raddr)
		if errors.Is(err, transport.ErrRouted) {
			// The Mux routes one DTLS association per peer address:
			// either a link to this peer is up there already (the
			// bootstrap link of a node joining over DTLS, §11.4, which
			// then Attaches to its bootstrap peer as its admitting
			// peer, §10.5) and is the link asked for, or the peer's
			// ClientHello came first and the accept path is running
			// the handshake (acceptDTLSLoop), whose link will arrive.
			return e.waitLinkAt(ctx, peer, raddr)
		}
		if err != nil {
			return nil, err
		}
		l, err := transport.NewDTLSLink(ctx, pc, raddr, role, peer, &e.linkCfg)
		if err != nil {
			pc.Close()
			return nil, err
		}
		e.AddLink(l)
		return l, nil
	}
	return nil, ErrNoCandidate
}

// pickNoICE is the first No-ICE candidate whose link type this node
// serves, in the peer's order.
func (e *Engine) pickNoICE(ws []wire.IceCandidate) (transport.Candidate, bool) {
	for i := range ws {
		c, ok := candidateFromWire(&ws[i])
		if !ok {
			continue
		}
		switch c.LinkType {
		case transport.LinkTLSTCPFHNoICE:
			return c, true
		case transport.LinkDTLSUDPSRNoICE:
			if e.opts.UDP != nil {
				return c, true
			}
		}
	}
	return transport.Candidate{}, false
}

// waitLink waits for a link from peer to enter the connection table.
func (e *Engine) waitLink(ctx context.Context, peer wire.NodeID) (*transport.Link, error) {
	l, err := e.awaitLink(ctx, peer, func() (*transport.Link, bool) { return e.table.Lookup(peer) },
		func(*transport.Link) bool { return true })
	if err == nil && !l.PeerKnown() && l.BindPeerNodeID(peer) == nil {
		// A tentative link (AddLink) that came before we waited: the
		// Attach names the Node-ID its peer runs as.
		e.register(l)
	}
	return l, err
}

// awaitLink returns the link to peer that found (called with e.mu held)
// finds, or else the first link that enters the table for peer and that
// want accepts, waiting for it until ctx or the engine ends.
func (e *Engine) awaitLink(ctx context.Context, peer wire.NodeID, found func() (*transport.Link, bool), want func(*transport.Link) bool) (*transport.Link, error) {
	for {
		ch := make(chan *transport.Link, 1)
		e.mu.Lock()
		if l, ok := found(); ok {
			e.mu.Unlock()
			return l, nil
		}
		e.linkWaiters[peer] = append(e.linkWaiters[peer], ch)
		e.mu.Unlock()
		select {
		case l := <-ch:
			if want(l) {
				return l, nil
			}
			continue
		case <-ctx.Done():
		case <-e.ctx.Done():
		}
		e.mu.Lock()
		ws := e.linkWaiters[peer]
		if i := slices.Index(ws, ch); i >= 0 {
			e.linkWaiters[peer] = slices.Delete(ws, i, i+1)
		}
		e.mu.Unlock()
		select {
		case l := <-ch:
			if want(l) {
				return l, nil
			}
		default:
		}
		if e.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, ctx.Err()
	}
}

// attachState is an outgoing Attach: whether it was answered, and when
// it was sent.
type attachState struct {
	answered bool
	since    time.Time
}

// crossingWindow is how long an unanswered Attach of ours counts as
// crossing one from its target (§6.5.1.2's tie-break). The tie-break
// assumes the target gets our request too; one unanswered for longer is
// likely lost on the way (sent to a process that has since restarted with
// the same Node-ID, say), and answering the target's Attach with
// Error_In_Progress until ours times out would hold the target off for
// that long: a restarted node's join Attach was refused for 27 s. Two
// links that both Attaches may then set up are settled by Engine.prefer.
const crossingWindow = 2 * time.Second

// answeredWindow is how long an answered Attach of ours whose link is not
// up yet makes us answer the target's own Attach with Error_In_Progress
// (§6.5.1.2). ICE and (D)TLS finish well within it when the target is
// alive; past it, ours is most likely connecting to a process that has
// died (its checks run on until ICE gives up, about 20 s), and the target
// that Attaches now is a new process with the same Node-ID, whose join
// must not wait for that. Two links that both Attaches may then set up are
// settled by Engine.prefer.
const answeredWindow = 5 * time.Second

func (e *Engine) setAttaching(id wire.NodeID, answered bool) {
	e.mu.Lock()
	e.attaching[id] = attachState{answered: answered, since: e.clock.Now()}
	e.mu.Unlock()
}

func (e *Engine) clearAttaching(id wire.NodeID) {
	e.mu.Lock()
	delete(e.attaching, id)
	e.mu.Unlock()
}

// attachConnectTimeout bounds the answerer's side of an Attach or
// AppAttach, from its answer to the link or connection being up (ICE
// checks and the (D)TLS handshake).
const attachConnectTimeout = 30 * time.Second

// handleAttach answers an Attach request (§6.5.1.2) and then sets up the
// link as the answerer: ICE-controlled and (D)TLS client.
func (e *Engine) handleAttach(ctx context.Context, in *Incoming) ([]byte, error) {
	var req wire.AttachReqAns
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed attach"), Err: err}
	}
	peer := in.Signer.NodeID
	e.mu.Lock()
	st, mine := e.attaching[peer]
	e.mu.Unlock()
	// §6.5.1.2: an Attach of ours to this peer is under way: once it was
	// answered (and recently), or when our Node-ID is the larger and the
	// two crossed, Error_In_Progress.
	age := e.clock.Now().Sub(st.since)
	if mine && (st.answered && age < answeredWindow || !st.answered && age < crossingWindow && e.Self().Compare(peer) > 0) {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInProgress, Info: []byte("attach in progress")}
	}
	ice := false
	for i := range req.Candidates {
		if !req.Candidates[i].OverlayLink.NoICE() {
			ice = true
		}
	}
	var o *offer
	var err error
	switch {
	case ice && e.useICE():
		o, err = e.answerOffer(ctx)
		if err != nil {
			return nil, err
		}
	case !ice:
		if _, ok := e.pickNoICE(req.Candidates); !ok {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay, Info: []byte("no common link type")}
		}
		o = &offer{cands: e.noICECandidates()}
		if len(o.cands) == 0 {
			return nil, errNoCandidateToOffer()
		}
	default:
		return nil, &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay, Info: []byte("ICE not supported")}
	}
	ans := wire.AttachReqAns{Ufrag: []byte(o.ufrag), Password: []byte(o.pwd), Role: roleActive, Candidates: o.cands}
	body, err := ans.Append(nil)
	if err != nil {
		if o.ice != nil {
			o.ice.Close()
		}
		return nil, err
	}
	theirs := req.Clone()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := e.withTimeout(e.ctx, attachConnectTimeout)
		defer cancel()
		if _, err := e.connect(ctx, o, &theirs, peer, transport.Responder); err != nil {
			e.log.Debug("attach (answerer) failed", "peer", peer.String(), "err", err)
		}
		if o.ice != nil {
			o.ice.Close()
		}
	}()
	return body, nil
}

// AppAttach opens a connection for application app to the node dest leads
// to (§6.5.2). With ICE the connection is the selected ICE pair; without,
// this node listens (role passive) and the answerer connects to it. The
// application secures the connection itself.
func (e *Engine) AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, wire.NodeID, error) {
	var ln net.Listener
	var o *offer
	if e.useICE() {
		var err error
		if o, err = e.makeOffer(ctx, transport.Requester); err != nil {
			return nil, wire.NodeID{}, err
		}
		// Closed on failure only: once connected, the session belongs to
		// the returned connection (o.ice is then nil).
		defer func() {
			if o.ice != nil {
				o.ice.Close()
			}
		}()
	} else {
		var err error
		if ln, err = e.opts.ListenApp(ctx); err != nil {
			return nil, wire.NodeID{}, err
		}
		defer ln.Close()
		o = &offer{cands: []wire.IceCandidate{{
			AddrPort: wire.IPAddressPortFrom(transport.AddrPortOf(ln.Addr())), OverlayLink: wire.OverlayLinkType(transport.LinkTLSTCPFHNoICE),
			Foundation: []byte{'1'}, Priority: 1 << 24, Type: wire.CandHost,
		}}}
	}
	req := wire.AppAttachReq{Ufrag: []byte(o.ufrag), Password: []byte(o.pwd), Application: app, Role: rolePassive, Candidates: o.cands}
	body, err := req.Append(nil)
	if err != nil {
		return nil, wire.NodeID{}, err
	}
	a, err := e.Request(ctx, dest, wire.CodeAppAttachReq, body)
	if err != nil {
		return nil, wire.NodeID{}, err
	}
	peer := a.Signer.NodeID
	var ans wire.AppAttachAns
	if _, err := ans.Decode(a.Body); err != nil {
		return nil, peer, err
	}
	if o.ice != nil {
		s := o.ice
		o.ice = nil
		conn, err := s.Connect(ctx, string(ans.Ufrag), string(ans.Password), remoteICE(ans.Candidates))
		if err != nil {
			s.Close()
			return nil, peer, err
		}
		return &iceConn{Conn: conn, s: s}, peer, nil
	}
	conn, err := acceptCtx(ctx, ln)
	return conn, peer, err
}

func remoteICE(ws []wire.IceCandidate) []transport.Candidate {
	var out []transport.Candidate
	for i := range ws {
		if c, ok := candidateFromWire(&ws[i]); ok && !wire.OverlayLinkType(c.LinkType).NoICE() {
			out = append(out, c)
		}
	}
	return out
}

// iceConn closes its ICE session with the connection.
type iceConn struct {
	net.Conn
	s *transport.ICESession
}

func (c *iceConn) Close() error {
	err := c.Conn.Close()
	c.s.Close()
	return err
}

func acceptCtx(ctx context.Context, ln net.Listener) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		ln.Close()
		r := <-ch
		if r.c != nil {
			r.c.Close()
		}
		return nil, ctx.Err()
	}
}

// handleAppAttach answers an AppAttach (§6.5.2.2): Error_Not_Found for an
// Application-ID nobody registered; otherwise the answer, then the
// connection is made and handed to the application's handler.
func (e *Engine) handleAppAttach(ctx context.Context, in *Incoming) ([]byte, error) {
	var req wire.AppAttachReq
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed app attach"), Err: err}
	}
	e.mu.Lock()
	h := e.apps[req.Application]
	e.mu.Unlock()
	if h == nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeNotFound, Info: []byte("application not supported")}
	}
	peer := in.Signer.NodeID
	theirs := req.Clone()
	ice := len(remoteICE(theirs.Candidates)) > 0
	var o *offer
	switch {
	case ice && e.useICE():
		var err error
		if o, err = e.answerOffer(ctx); err != nil {
			return nil, err
		}
	case !ice:
		o = &offer{}
	default:
		return nil, &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay, Info: []byte("ICE not supported")}
	}
	ans := wire.AppAttachAns{Ufrag: []byte(o.ufrag), Password: []byte(o.pwd), Application: req.Application, Role: roleActive, Candidates: o.cands}
	body, err := ans.Append(nil)
	if err != nil {
		if o.ice != nil {
			o.ice.Close()
		}
		return nil, err
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := e.withTimeout(e.ctx, attachConnectTimeout)
		defer cancel()
		var conn net.Conn
		var err error
		if o.ice != nil {
			var c net.Conn
			c, err = o.ice.Connect(ctx, string(theirs.Ufrag), string(theirs.Password), remoteICE(theirs.Candidates))
			if err != nil {
				o.ice.Close()
			} else {
				conn = &iceConn{Conn: c, s: o.ice}
			}
		} else {
			err = ErrNoCandidate
			for i := range theirs.Candidates {
				c, ok := candidateFromWire(&theirs.Candidates[i])
				if !ok {
					continue
				}
				if conn, err = e.opts.Dial(ctx, "tcp", c.Addr.String()); err == nil {
					break
				}
			}
		}
		if err != nil {
			e.log.Debug("app attach (answerer) failed", "peer", peer.String(), "err", err)
			return
		}
		// The engine's Close ends the application connections it handed
		// out, so that it never waits on a handler blocked in a read.
		stop := context.AfterFunc(e.ctx, func() { conn.Close() })
		defer stop()
		h(peer, conn)
	}()
	return body, nil
}

// candidateFromWire is transport.CandidateFromWire with a flag for
// "usable".
func candidateFromWire(w *wire.IceCandidate) (transport.Candidate, bool) {
	c, err := transport.CandidateFromWire(w)
	return c, err == nil
}
