package sip

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/wire"
)

const (
	viaStreamParam = "rl-s"   // our Via: the stream a request came in on
	rrNodeParam    = "rlnode" // our Record-Route: this peer's Node-ID
	targetCacheTTL = 32 * time.Second
)

// hop is where a request goes next: a stream (link or UA TCP connection)
// or a UDP address.
type hop struct {
	transport string // tUDP, tTCP or tLink
	addr      string // UDP/TCP address
	dests     []wire.Destination
}

func (f *Frontend) handleRequest(req *sip.Request, src source) {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
	defer cancel()
	to := req.To()
	if req.IsAck() && strings.HasPrefix(to.Params.GetOr("tag", ""), f.tag) {
		return // the ACK of a final response this front end made
	}
	// Route processing (RFC 3261 §16.4): drop the Route entries naming us.
	for r := req.Route(); r != nil && f.isOwnURI(&r.Address); r = req.Route() {
		req.RemoveHeader("Route")
	}
	if f.upstreamFork(req, src) {
		return // a retransmission, ACK or CANCEL of a forked INVITE
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 {
		f.reply(req, src, 483, "Too Many Hops")
		return
	}
	// Requests of local user agents that start something are
	// authenticated before they are routed anywhere (RFC 3261 §22.3).
	if f.needsProxyAuth(req, src) {
		if _, ok := f.authenticate(req, src, true, req.From().Address.User); !ok {
			return
		}
	}
	if r := req.Route(); r != nil {
		f.forward(ctx, req, src, f.hopForURI(&r.Address))
		return
	}
	u := &req.Recipient
	own := f.isOwnAddress(u)
	if req.Method == sip.REGISTER {
		if src.transport == tLink {
			f.reply(req, src, 403, "Forbidden")
			return
		}
		f.register(ctx, req, src)
		return
	}
	if own && u.User == "" {
		// A request for the front end itself.
		if req.Method == sip.OPTIONS {
			f.reply(req, src, 200, "OK", sip.NewHeader("Allow", allowed))
		} else if !req.IsAck() {
			f.reply(req, src, 404, "Not Found")
		}
		return
	}
	if u.UriParams.Has("gr") {
		g, _, err := ParseGRUU(u.String())
		if err != nil {
			f.reply(req, src, 404, "Not Found")
			return
		}
		if n, ok := g.Node(); ok && n == f.self {
			f.toLocal(ctx, req, src, g.AOR)
			return
		}
		f.forward(ctx, req, src, hop{transport: tLink, dests: g.Destinations})
		return
	}
	if !own && (net.ParseIP(strings.Trim(u.Host, "[]")) != nil || u.Port != 0) {
		// A contact address (the remote target of a dialog): plain SIP.
		f.forward(ctx, req, src, uriHop(u))
		return
	}
	aor := u.User + "@" + u.Host
	if own {
		aor = u.User + "@" + f.domain
	}
	aor, err := NormalizeAOR(aor)
	if err != nil {
		f.reply(req, src, 404, "Not Found")
		return
	}
	f.routeAOR(ctx, req, src, aor)
}

const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, MESSAGE, PRACK, SUBSCRIBE, NOTIFY, REFER"

// routeAOR sends a request for an AOR to a local contact, or resolves the
// AOR in the overlay and sends it to the peer of the first target.
func (f *Frontend) routeAOR(ctx context.Context, req *sip.Request, src source, aor string) {
	if src.transport != tLink && !f.cfg.NoForeignDomains && !req.Recipient.UriParams.Has("gr") {
		if err := f.policy.Allows(aor); errors.Is(err, ErrDomainNotAllowed) {
			// Not an overlay AOR: the domain's own SIP server (RFC 3263).
			f.toForeign(ctx, req, src)
			return
		}
	}
	if f.hasBinding(aor) {
		if isForking(req) && src.transport != tLink {
			// Other peers may have registered the AOR as well: ring
			// them together with the local contacts.
			if targets, err := f.resolver.Resolve(ctx, aor); err == nil {
				if bt := f.forkTargets(targets, aor); len(bt) > 1 {
					f.startFork(req, src, bt)
					return
				}
			}
		}
		f.toLocal(ctx, req, src, aor)
		return
	}
	if src.transport == tLink {
		// The caller's peer resolved the AOR to us, but no UA is bound
		// here (any more).
		f.reply(req, src, 480, "Temporarily Unavailable")
		return
	}
	key := routeKey(req)
	f.mu.Lock()
	t, cached := f.targets.get(key)
	f.mu.Unlock()
	var targets []Target
	if cached {
		targets = []Target{t}
	} else {
		if req.IsAck() || req.IsCancel() {
			// Nothing to cancel or acknowledge that we forwarded.
			if req.IsCancel() {
				f.reply(req, src, 481, "Call/Transaction Does Not Exist")
			}
			return
		}
		var err error
		targets, err = f.resolver.Resolve(ctx, aor)
		if err != nil {
			code, reason := statusFor(err)
			f.log.Debug("sip: resolve", "aor", aor, "err", err)
			f.reply(req, src, code, reason)
			return
		}
		if isForking(req) {
			if bt := f.forkTargets(targets, ""); len(bt) > 1 {
				f.startFork(req, src, bt)
				return
			}
		}
	}
	for _, t := range targets {
		n, ok := t.Node()
		if !ok {
			continue
		}
		if n == f.self {
			if f.hasBinding(t.AOR) {
				f.remember(key, t)
				f.toLocal(ctx, req, src, t.AOR)
				return
			}
			continue
		}
		s, err := f.link(ctx, t.Destinations)
		if err != nil {
			f.log.Debug("sip: AppAttach", "node", n, "err", err)
			continue
		}
		f.remember(key, t)
		retarget(req, &t)
		f.send(ctx, req, src, hop{transport: tLink}, s)
		return
	}
	f.reply(req, src, 480, "Temporarily Unavailable")
}

func (f *Frontend) remember(key string, t Target) {
	f.mu.Lock()
	f.targets.put(key, t, time.Now())
	f.mu.Unlock()
}

// retarget points the Request-URI at the AOR (or GRUU) of the target
// (RFC 3261 §16.5), keeping the scheme.
func retarget(req *sip.Request, t *Target) {
	req.Recipient = retargetURI(&req.Recipient, t)
}

// retargetURI is the Request-URI u becomes for target t.
func retargetURI(u *sip.Uri, t *Target) sip.Uri {
	if t.GRUU {
		g := GRUU{AOR: t.AOR, Destinations: t.Destinations}
		var nu sip.Uri
		if err := sip.ParseUri(g.URI(), &nu); err == nil {
			nu.Scheme = u.Scheme
			return nu
		}
		return *u.Clone()
	}
	user, host, _ := strings.Cut(t.AOR, "@")
	return sip.Uri{Scheme: u.Scheme, User: user, Host: host}
}

// forkTargets turns resolved targets into fork branches (RFC 3261 §16.5):
// a link branch per other peer, a branch per local contact for targets of
// this peer. local, if set, is an AOR with local contacts to ring even if
// no target names this peer.
func (f *Frontend) forkTargets(targets []Target, local string) []branchTarget {
	var out []branchTarget
	seen := map[string]bool{}
	addLocal := func(aor string) {
		if !seen[aor] {
			seen[aor] = true
			out = append(out, f.localTargets(aor)...)
		}
	}
	for i := range targets {
		t := &targets[i]
		n, ok := t.Node()
		if !ok {
			continue
		}
		if n == f.self {
			addLocal(t.AOR)
			continue
		}
		u := retargetURI(&sip.Uri{Scheme: "sip"}, t)
		out = append(out, branchTarget{uri: u, h: hop{transport: tLink, dests: t.Destinations}})
	}
	if local != "" {
		addLocal(local)
	}
	return out
}

// localTargets is a branch per live local contact of aor, the highest q
// first.
func (f *Frontend) localTargets(aor string) []branchTarget {
	bs := f.Bindings(aor)
	slices.SortStableFunc(bs, func(a, b Binding) int { return cmp.Compare(b.Q, a.Q) })
	out := make([]branchTarget, 0, len(bs))
	for i := range bs {
		b := &bs[i]
		t := branchTarget{uri: *b.contact.Clone(), h: uriHop(&b.contact)}
		if b.streamID != 0 {
			f.mu.Lock()
			s := f.streams[b.streamID]
			f.mu.Unlock()
			if s != nil {
				t.h, t.sid = hop{transport: tTCP, addr: s.addr}, b.streamID
			}
		}
		out = append(out, t)
	}
	return out
}

func statusFor(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNoRegistration), errors.Is(err, ErrBadAOR):
		return 404, "Not Found"
	case errors.Is(err, ErrRedirectLoop):
		return 482, "Loop Detected"
	case errors.Is(err, ErrTooManyRedirects):
		return 483, "Too Many Hops"
	case errors.Is(err, ErrDomainNotAllowed):
		return 403, "Forbidden"
	case errors.Is(err, context.DeadlineExceeded):
		return 504, "Server Time-out"
	}
	return 503, "Service Unavailable"
}

// toLocal retargets a request to the best local contact of aor.
func (f *Frontend) toLocal(ctx context.Context, req *sip.Request, src source, aor string) {
	if isForking(req) {
		if bt := f.localTargets(aor); len(bt) > 1 {
			f.startFork(req, src, bt)
			return
		}
	}
	b, ok := f.bestBinding(aor)
	if !ok {
		if !req.IsAck() {
			f.reply(req, src, 480, "Temporarily Unavailable")
		}
		return
	}
	req.Recipient = *b.contact.Clone()
	h := uriHop(&b.contact)
	if b.streamID != 0 {
		f.mu.Lock()
		s := f.streams[b.streamID]
		f.mu.Unlock()
		if s != nil {
			f.send(ctx, req, src, hop{transport: tTCP, addr: s.addr}, s)
			return
		}
	}
	f.forward(ctx, req, src, h)
}

// uriHop is the network hop for a SIP URI with an address.
func uriHop(u *sip.Uri) hop {
	t := tUDP
	if tp, ok := u.UriParams.Get("transport"); ok && strings.EqualFold(tp, "tcp") {
		t = tTCP
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return hop{transport: t, addr: net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))}
}

// hopForURI is the next hop for a Route entry: a peer when it carries our
// rlnode parameter, otherwise its address.
func (f *Frontend) hopForURI(u *sip.Uri) hop {
	if v, ok := u.UriParams.Get(rrNodeParam); ok {
		if id, err := wire.ParseNodeID(v); err == nil {
			return hop{transport: tLink, dests: []wire.Destination{wire.NodeDest(&id)}}
		}
	}
	return uriHop(u)
}

// forward sends a request to a hop, opening the stream it needs.
func (f *Frontend) forward(ctx context.Context, req *sip.Request, src source, h hop) {
	var s *stream
	var err error
	switch h.transport {
	case tLink:
		s, err = f.link(ctx, h.dests)
	case tTCP:
		s, err = f.tcpTo(ctx, h.addr)
	}
	if err != nil {
		f.log.Debug("sip: next hop", "hop", h, "err", err)
		if !req.IsAck() {
			f.reply(req, src, 503, "Service Unavailable")
		}
		return
	}
	f.send(ctx, req, src, h, s)
}

// send adds this proxy's Via (and Record-Route for a dialog-creating
// request), decrements Max-Forwards and writes the request to the hop
// (RFC 3261 §16.6, §16.11).
func (f *Frontend) send(_ context.Context, req *sip.Request, src source, h hop, s *stream) {
	out := f.prepare(req, src, h, f.branch(req.Via(), req))
	if s != nil {
		if err := s.send(out); err != nil {
			f.log.Debug("sip: send", "err", err)
		}
		return
	}
	f.writeUDP(h.addr, out)
}

// prepare makes req ready to go to hop h with our Via branch (RFC 3261
// §16.6 steps 3, 7 and 8) and returns its bytes.
func (f *Frontend) prepare(req *sip.Request, src source, h hop, branch string) []byte {
	if mf := req.MaxForwards(); mf != nil {
		// A new header, not *mf-1 in place: sipgo's Clone shares the
		// Max-Forwards header between a request and its clones, and the
		// branches of a fork are clones.
		m := *mf - 1
		req.ReplaceHeader(&m)
	} else {
		m := sip.MaxForwardsHeader(70)
		req.AppendHeader(&m)
	}
	if createsDialog(req) {
		req.PrependHeader(&sip.RecordRouteHeader{Address: f.rrURI(src, h)})
	}
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Params: sip.NewParams()}
	if h.transport == tLink {
		v.Transport, v.Host = tLink, f.selfHex+".reload.invalid"
	} else {
		v.Transport, v.Host, v.Port = h.transport, f.host, f.portFor(h.transport)
	}
	v.Params.Add("branch", branch)
	if src.s != nil {
		v.Params.Add(viaStreamParam, strconv.FormatUint(src.s.id, 10))
	}
	req.PrependHeader(v)
	return []byte(req.String())
}

func createsDialog(req *sip.Request) bool {
	switch req.Method {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER:
		return !req.To().Params.Has("tag")
	}
	return false
}

// branch is the stateless branch of RFC 3261 §16.11: the same for
// retransmissions, for the CANCEL and for the non-2xx ACK of a request,
// different for other requests; prefixed so that responses are known as
// ours.
func (f *Frontend) branch(top *sip.ViaHeader, req *sip.Request) string {
	hsh := sha256.New()
	hsh.Write([]byte(top.Params.GetOr("branch", "")))
	hsh.Write([]byte{0})
	hsh.Write([]byte(top.SentBy()))
	hsh.Write([]byte{0})
	hsh.Write([]byte(req.CallID().Value()))
	hsh.Write([]byte{0})
	hsh.Write([]byte(strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)))
	return "z9hG4bK" + f.tag + "." + hex.EncodeToString(hsh.Sum(nil)[:10])
}

// rrURI is this front end's Record-Route entry: the address a local user
// agent reaches it at, with the Node-ID other peers use (rlnode).
func (f *Frontend) rrURI(src source, h hop) sip.Uri {
	t := src.transport
	if t == tLink {
		t = h.transport
	}
	if t == tLink || f.portFor(t) == 0 {
		t = tUDP
		if f.udpPort == 0 {
			t = tTCP
		}
	}
	p := sip.NewParams()
	p.Add("transport", strings.ToLower(t))
	p.Add("lr", "")
	p.Add(rrNodeParam, f.selfHex)
	return sip.Uri{Scheme: "sip", Host: f.host, Port: f.portFor(t), UriParams: p}
}

func (f *Frontend) portFor(t string) int {
	if t == tTCP {
		return f.tcpPort
	}
	return f.udpPort
}

// isOwnURI reports whether a Route URI names this front end.
func (f *Frontend) isOwnURI(u *sip.Uri) bool {
	if v, ok := u.UriParams.Get(rrNodeParam); ok {
		return strings.EqualFold(v, f.selfHex)
	}
	return u.User == "" && f.isOwnAddress(u)
}

// isOwnAddress reports whether a URI's host and port are this front end's.
func (f *Frontend) isOwnAddress(u *sip.Uri) bool {
	host := strings.Trim(u.Host, "[]")
	if host != f.host && !(f.host == "127.0.0.1" && host == "localhost") {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return port == f.udpPort || port == f.tcpPort
}

func (f *Frontend) handleResponse(res *sip.Response, src source) {
	v := res.Via()
	if v == nil || !strings.HasPrefix(v.Params.GetOr("branch", ""), "z9hG4bK"+f.tag+".") {
		return // not ours: a stateless proxy drops it (RFC 3261 §16.11)
	}
	if f.forkResponse(res, v.Params.GetOr("branch", "")) {
		return
	}
	sid, hasSID := v.Params.Get(viaStreamParam)
	res.RemoveHeader("Via")
	next := res.Via()
	if next == nil {
		return
	}
	out := []byte(res.String())
	if hasSID {
		id, _ := strconv.ParseUint(sid, 10, 64)
		f.mu.Lock()
		s := f.streams[id]
		f.mu.Unlock()
		if s != nil {
			_ = s.send(out)
		}
		return
	}
	addr := viaAddr(next)
	if strings.EqualFold(next.Transport, tTCP) {
		ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
		defer cancel()
		if s, err := f.tcpTo(ctx, addr); err == nil {
			_ = s.send(out)
		}
		return
	}
	f.writeUDP(addr, out)
}

// viaAddr is where a response goes for a Via (RFC 3261 §18.2.2, RFC 3581).
func viaAddr(v *sip.ViaHeader) string {
	host := v.Params.GetOr("received", v.Host)
	port := v.Port
	if rp, ok := v.Params.Get("rport"); ok && rp != "" {
		if n, err := strconv.Atoi(rp); err == nil {
			port = n
		}
	}
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// reply answers a request statelessly, on the stream it came on or to its
// Via.
func (f *Frontend) reply(req *sip.Request, src source, code int, reason string, hdrs ...sip.Header) {
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && code != 100 && !req.To().Params.Has("tag") {
		sum := sha256.Sum256([]byte(req.CallID().Value() + "|" + req.From().Params.GetOr("tag", "")))
		to.Params.Add("tag", f.tag+hex.EncodeToString(sum[:6]))
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	f.sendTo(src, []byte(res.String()))
}

// sendTo writes bytes back to where a message came from.
func (f *Frontend) sendTo(src source, b []byte) {
	if src.s != nil {
		_ = src.s.send(b)
		return
	}
	f.writeUDP(src.addr, b)
}

func (f *Frontend) writeUDP(addr string, b []byte) {
	if f.udp == nil {
		return
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		f.log.Debug("sip: udp address", "addr", addr, "err", err)
		return
	}
	if _, err := f.udp.WriteTo(b, ua); err != nil {
		f.log.Debug("sip: udp write", "addr", addr, "err", err)
	}
}

// link returns the SIP connection to the peer at the end of dests,
// opening it with AppAttach when there is none (RFC 7904 §5.1: an existing
// SIP connection may be reused).
func (f *Frontend) link(ctx context.Context, dests []wire.Destination) (*stream, error) {
	node, ok := TerminalNode(dests)
	if !ok {
		return nil, errors.New("sip: destination list does not end in a node")
	}
	for {
		f.mu.Lock()
		if s := f.byNode[node]; s != nil {
			f.mu.Unlock()
			return s, nil
		}
		if w := f.dialing[node]; w != nil {
			f.mu.Unlock()
			select {
			case <-w.done:
				if w.err != nil {
					return nil, w.err
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		w := &dialWait{done: make(chan struct{})}
		f.dialing[node] = w
		f.mu.Unlock()

		c, err := f.ov.AppAttach(ctx, dests, f.cfg.Application)
		var s *stream
		if err == nil {
			s, err = f.addStream(c, node, true)
			if err != nil {
				c.Close()
			}
		}
		f.mu.Lock()
		delete(f.dialing, node)
		w.s, w.err = s, err
		close(w.done)
		f.mu.Unlock()
		return s, err
	}
}

// tcpTo returns the TCP connection to a user agent, dialing it if needed.
func (f *Frontend) tcpTo(ctx context.Context, addr string) (*stream, error) {
	f.mu.Lock()
	s := f.byAddr[addr]
	f.mu.Unlock()
	if s != nil {
		return s, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return f.addStream(c, wire.NodeID{}, false)
}
