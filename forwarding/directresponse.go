package forwarding

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Direct response routing (DRR, RFC 7263) and relay peer routing (RPR,
// RFC 7264): a requester asks, with the extensive_routing_mode forwarding
// option, that the answer to its request not retrace the request's path
// (symmetric recursive routing, SRR, RFC 6940 §6.2.2) but go straight
// from the responder to the requester's own address (DRR) or to a relay
// peer the requester keeps a link to, which forwards it to the requester
// (RPR). Transit peers forward the option untouched (it is neither
// FORWARD_CRITICAL nor changed by the core); the requester matches the
// answer by transaction id and checks its signature whatever link it came
// by (§6.3.4), as for any answer.
//
// What the responder enforces (RFC 7263 §7, RFC 7264 §8, RFC 6940 §13.6):
//   - nothing is sent by DRR or RPR unless the policy allows it
//     (Options.ResponseRoutes, off by default: RFC 7263 §4.2 "DRR SHOULD
//     NOT be used in the open Internet");
//   - the node the option names as the sender must be the request's
//     verified signer, so no one can have answers sent on behalf of
//     another;
//   - the answer goes only over a link authenticated by (D)TLS with a
//     certificate that carries the Node-ID it goes to: the requester's
//     for DRR, the relay peer's for RPR. With ResponseRoutesLinked only a
//     link already in the connection table is used, so the address in the
//     option is never contacted and a requester cannot reflect anything
//     to a third party's address. With ResponseRoutesDial a TLS link is
//     also opened to that address, at most maxRouteDials at a time and
//     never again for an address that failed within routeRetryAfter; a
//     third party's address gets at most that TCP and TLS handshake,
//     which fails on the certificate check, and no RELOAD message;
//   - otherwise the answer goes by SRR (RFC 7263 §3.2.1, §5.4.2), as does
//     every answer to a retransmission: the requester retransmits without
//     the option (RFC 7263 §5.4.2), and a retransmitted request is
//     answered from the cache along its own path.

// FlagIgnoreStateKeeping is the IGNORE-STATE-KEEPING flag of a
// ForwardingOption (RFC 7263 §5.2.1): peers that are not the destination
// forward the message with its full via list and keep no state for it.
const FlagIgnoreStateKeeping = 0x08

// ResponseRoutePolicy is what this node does, as the destination of a
// request that carries an extensive_routing_mode option, with the answer.
type ResponseRoutePolicy uint8

// Response route policies.
const (
	// ResponseRoutesOff answers every request by SRR (RFC 6940 §6.2.2).
	ResponseRoutesOff ResponseRoutePolicy = iota
	// ResponseRoutesLinked sends the answer by DRR or RPR when this node
	// already has a link authenticated as the requester (DRR) or the
	// relay peer (RPR), else by SRR.
	ResponseRoutesLinked
	// ResponseRoutesDial is ResponseRoutesLinked that also opens a
	// TLS-TCP-FH-NO-ICE link to the address the option gives, whose
	// certificate must carry the Node-ID of the requester (DRR) or relay
	// peer (RPR), when there is no link yet (RFC 7263 §5.4.1).
	ResponseRoutesDial
)

func (p ResponseRoutePolicy) String() string {
	switch p {
	case ResponseRoutesOff:
		return "off"
	case ResponseRoutesLinked:
		return "linked"
	case ResponseRoutesDial:
		return "dial"
	}
	return fmt.Sprintf("ResponseRoutePolicy(%d)", uint8(p))
}

// ParseResponseRoutePolicy parses "off", "linked" or "dial".
func ParseResponseRoutePolicy(s string) (ResponseRoutePolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off", "":
		return ResponseRoutesOff, nil
	case "linked":
		return ResponseRoutesLinked, nil
	case "dial":
		return ResponseRoutesDial, nil
	}
	return 0, fmt.Errorf("forwarding: unknown response route policy %q (want off, linked or dial)", s)
}

// ResponseRoute asks for the answer to a request to be sent by DRR or RPR
// (RequestOptions.Route). Build it with Engine.DirectRoute or
// Engine.RelayRoute.
type ResponseRoute struct {
	// Mode is wire.RouteModeDRR or wire.RouteModeRPR.
	Mode wire.RouteMode
	// Link is the link type the responder should use, and Address where
	// it should send the answer: this node's for DRR, the relay peer's
	// for RPR (RFC 7263 §5.3.1, RFC 7264 §5.3.1).
	Link    transport.LinkType
	Address netip.AddrPort
	// Relay is the relay peer's Node-ID (RPR).
	Relay wire.NodeID
}

// Errors of DirectRoute and RelayRoute.
var (
	ErrNoDirectAddress = errors.New("forwarding: no TLS listener address to offer for direct response routing")
	ErrNoRelayLink     = errors.New("forwarding: no link to the relay peer (RFC 7264 §4.1: a peer using RPR must keep one)")
	ErrNoRelayAddress  = errors.New("forwarding: the relay peer's address is not known (give it, or dial the relay)")
)

// DirectRoute is the ResponseRoute for DRR: answers to this node's TLS
// listener (Options.AdvertiseTLS, else the listener's address; for a
// listener on an unspecified address, the local address of a link this
// node has with the listener's port: the address its peers reach it at,
// unless a NAT is in between, RFC 7263 Appendix A).
func (e *Engine) DirectRoute() (*ResponseRoute, error) {
	ap := e.opts.AdvertiseTLS
	if !ap.IsValid() && e.opts.Listener != nil {
		ap = transport.AddrPortOf(e.opts.Listener.Addr())
	}
	if ap.IsValid() && ap.Addr().IsUnspecified() {
		port := ap.Port()
		ap = netip.AddrPort{}
		for _, l := range e.table.Links() {
			if l.Type() != transport.LinkTLSTCPFHNoICE {
				continue
			}
			if a := transport.AddrPortOf(l.LocalAddr()); a.IsValid() && !a.Addr().IsUnspecified() {
				ap = netip.AddrPortFrom(a.Addr(), port)
				break
			}
		}
	}
	if !ap.IsValid() || ap.Port() == 0 {
		return nil, ErrNoDirectAddress
	}
	return &ResponseRoute{Mode: wire.RouteModeDRR, Link: transport.LinkTLSTCPFHNoICE, Address: ap}, nil
}

// RelayRoute is the ResponseRoute for RPR through relay, a peer this node
// has a link to (RFC 7264 §4.1). addr is the relay's address for new
// links; when it is not valid, the remote address of the link is used if
// this node opened that link over TLS (it then is the relay's listener).
func (e *Engine) RelayRoute(relay wire.NodeID, addr netip.AddrPort) (*ResponseRoute, error) {
	l, ok := e.table.Lookup(relay)
	if !ok {
		return nil, ErrNoRelayLink
	}
	if !addr.IsValid() {
		if l.Type() != transport.LinkTLSTCPFHNoICE || l.Role() != transport.Responder {
			return nil, ErrNoRelayAddress
		}
		if a := l.RemoteAddr(); a != nil {
			addr = transport.AddrPortOf(a)
		}
		if !addr.IsValid() {
			return nil, ErrNoRelayAddress
		}
	}
	return &ResponseRoute{Mode: wire.RouteModeRPR, Link: transport.LinkTLSTCPFHNoICE, Address: addr, Relay: relay}, nil
}

// option is the extensive_routing_mode forwarding option asking for r on
// a request from self (RFC 7263 §5.3.1, RFC 7264 §5.3.1). It is not
// critical: a destination that does not know it answers by SRR, which is
// the fallback both RFCs require, rather than refusing the request.
func (r *ResponseRoute) option(self wire.NodeID) (wire.ForwardingOption, error) {
	ap := wire.IPAddressPortFrom(r.Address)
	addr, err := ap.Append(nil)
	if err != nil {
		return wire.ForwardingOption{}, fmt.Errorf("forwarding: response route address %v: %w", r.Address, err)
	}
	x := wire.ExtensiveRoutingModeOption{RouteMode: r.Mode, Transport: uint8(r.Link), IPAddressPort: addr}
	switch r.Mode {
	case wire.RouteModeDRR:
		x.Destinations = []wire.Destination{wire.NodeDest(&self)}
	case wire.RouteModeRPR:
		if r.Relay == (wire.NodeID{}) {
			return wire.ForwardingOption{}, errors.New("forwarding: RPR without a relay peer")
		}
		x.Destinations = []wire.Destination{wire.NodeDest(&r.Relay), wire.NodeDest(&self)}
	default:
		return wire.ForwardingOption{}, fmt.Errorf("forwarding: route mode %v", r.Mode)
	}
	v, err := x.Append(nil)
	if err != nil {
		return wire.ForwardingOption{}, err
	}
	return wire.ForwardingOption{Type: wire.OptionExtensiveRoutingMode, Flags: FlagIgnoreStateKeeping, Value: v}, nil
}

// withoutRouteOption returns msg, a whole unfragmented request this node
// built, with its extensive_routing_mode option removed: a retransmission
// goes by SRR (RFC 7263 §5.4.2). The forwarding header is not signed, so
// the signature stays valid; msg itself is unchanged.
func withoutRouteOption(msg []byte) []byte {
	var h wire.ForwardingHeader
	n, err := h.Decode(msg)
	if err != nil {
		return msg
	}
	kept := h.Options[:0]
	for _, o := range h.Options {
		if o.Type != wire.OptionExtensiveRoutingMode {
			kept = append(kept, o)
		}
	}
	h.Options = kept
	out, err := h.AppendMessage(make([]byte, 0, len(msg)), msg[n:])
	if err != nil {
		return msg
	}
	return out
}

// routeRequest is a request's extensive_routing_mode option, checked.
type routeRequest struct {
	mode    wire.RouteMode
	link    transport.LinkType
	addr    netip.AddrPort
	via     wire.NodeID // where the answer goes first: requester (DRR) or relay (RPR)
	sender  wire.NodeID
	present bool
}

// parseRouteOption reads the extensive_routing_mode option of h, if any.
// An option this node cannot use as RFC 7263 §5.4.1 and RFC 7264 §5.4.1
// define it (an unknown mode, a wrong number of destinations, entries
// that are not Node-IDs) gives the Error_Unknown_Extension the RFCs say
// to answer by SRR.
func parseRouteOption(h *wire.ForwardingHeader) (routeRequest, *wire.ProtocolError) {
	var r routeRequest
	for i := range h.Options {
		o := &h.Options[i]
		if o.Type != wire.OptionExtensiveRoutingMode {
			continue
		}
		r.present = true
		bad := func(why string) (routeRequest, *wire.ProtocolError) {
			return r, &wire.ProtocolError{Code: wire.ErrCodeUnknownExtension, Info: []byte("extensive_routing_mode: " + why)}
		}
		var x wire.ExtensiveRoutingModeOption
		if _, err := x.Decode(o.Value); err != nil {
			return bad("malformed")
		}
		want := 0
		switch x.RouteMode {
		case wire.RouteModeDRR:
			want = 1
		case wire.RouteModeRPR:
			want = 2
		default:
			return bad("unknown route mode " + x.RouteMode.String())
		}
		if len(x.Destinations) != want {
			return bad(fmt.Sprintf("%v needs %d destinations, got %d", x.RouteMode, want, len(x.Destinations)))
		}
		for j := range x.Destinations {
			d := &x.Destinations[j]
			if d.Compressed || d.Type != wire.DestNode {
				return bad("destination is not a node")
			}
		}
		r.mode, r.link = x.RouteMode, transport.LinkType(x.Transport)
		r.via, _ = x.Destinations[0].NodeID()
		r.sender, _ = x.Destinations[len(x.Destinations)-1].NodeID()
		if a, err := x.Address(); err == nil {
			r.addr, _ = a.AddrPort()
		}
		return r, nil
	}
	return r, nil
}

// RouteStats counts the answers this node sent for requests that asked
// for DRR or RPR, and the requests it sent asking for them.
type RouteStats struct {
	// Direct counts answers sent by DRR straight to the requester,
	// Relayed those sent by RPR to the relay peer, and FellBack those
	// sent by SRR instead (policy off, no usable link, refused).
	Direct, Relayed, FellBack atomic.Uint64
	// Refused counts, among FellBack, options naming a sender other than
	// the request's signer or a link type this node cannot open, and
	// DialFailed the links to the option's address that failed (timeout,
	// refused, or a certificate without the expected Node-ID).
	Refused, DialFailed atomic.Uint64
	// Asked counts the requests this node sent with the option, and
	// RetriedSRR their retransmissions, sent without it.
	Asked, RetriedSRR atomic.Uint64
}

// Bounds of the links opened for DRR and RPR (ResponseRoutesDial).
const (
	maxRouteDials   = 8
	routeDialTime   = 3 * time.Second
	routeRetryAfter = time.Minute
)

// routeDialer bounds the links opened for DRR and RPR answers and
// remembers the addresses that failed (RFC 7263 §3.2.1: "keep a list of
// unreachable peers ... and then would use only SRR for those peers").
type routeDialer struct {
	mu      sync.Mutex
	active  int
	failed  map[netip.AddrPort]time.Time
	pending map[wire.NodeID]chan struct{}
}

// routeAnswer sends a, the answer to in, by DRR or RPR when in asks for it
// and the policy allows it (on the handler's goroutine; it may open a
// link). false leaves the answer to SRR.
func (e *Engine) routeAnswer(in *Incoming, a builtAnswer) bool {
	if a.err != nil || len(in.Header.Options) == 0 {
		return false
	}
	r, pe := parseRouteOption(&in.Header)
	if !r.present || pe != nil {
		return false
	}
	st := &e.stats.Routes
	if len(in.Via) == 0 {
		// The request came straight from the requester: the answer
		// goes straight back by SRR, one hop, which no route beats.
		return false
	}
	if e.opts.ResponseRoutes == ResponseRoutesOff {
		st.FellBack.Add(1)
		return false
	}
	self := e.Self()
	if r.sender != in.Signer.NodeID || r.via == self || (r.mode == wire.RouteModeDRR && r.via != r.sender) {
		// Answers go to the request's signer only (no answering on
		// another's behalf), and never back to this node.
		st.Refused.Add(1)
		st.FellBack.Add(1)
		e.log.Debug("response route refused", "txid", in.TxID, "mode", r.mode.String(), "sender", r.sender.String(),
			"signer", in.Signer.NodeID.String())
		return false
	}
	if _, ok := e.table.Lookup(r.via); !ok {
		if e.opts.ResponseRoutes != ResponseRoutesDial || !e.dialRoute(&r) {
			st.FellBack.Add(1)
			return false
		}
	}
	dests := []wire.Destination{wire.NodeDest(&r.via)}
	if r.mode == wire.RouteModeRPR {
		dests = append(dests, wire.NodeDest(&r.sender))
	}
	msg, err := rerouted(a.msg, a.rest, dests)
	if err != nil {
		st.FellBack.Add(1)
		return false
	}
	to := r.via
	return e.post(func() {
		l, ok := e.table.Lookup(to)
		if !ok || l.TrySend(msg) != nil {
			// The link went (or is full) meanwhile: by SRR.
			st.FellBack.Add(1)
			e.sendAnswer(in, a)
			return
		}
		if e.opts.Observer != nil {
			e.opts.Observer.MessageOriginated(msg)
		}
		e.tx.answered(in, a.rest)
		e.stats.sent(in.Code.Answer(), a.res)
		if r.mode == wire.RouteModeRPR {
			st.Relayed.Add(1)
		} else {
			st.Direct.Add(1)
		}
	})
}

// rerouted is msg, an answer whose signed part is rest, with its
// destination list replaced by dests (RFC 7263 §5.4.1: the requester
// alone; RFC 7264 §5.4.1: the relay peer, then the requester).
func rerouted(msg, rest []byte, dests []wire.Destination) ([]byte, error) {
	var h wire.ForwardingHeader
	if _, err := h.Decode(msg); err != nil {
		return nil, err
	}
	h.Destinations = dests
	return h.AppendMessage(make([]byte, 0, h.Len()+len(rest)+16), rest)
}

// dialRoute opens a TLS link to the option's address authenticated as
// r.via (ResponseRoutesDial), waiting for one another answer opens to the
// same peer; it reports whether a link to r.via is up.
func (e *Engine) dialRoute(r *routeRequest) bool {
	st := &e.stats.Routes
	if r.link != transport.LinkTLSTCPFHNoICE || !r.addr.IsValid() || r.addr.Port() == 0 || r.addr.Addr().IsUnspecified() {
		st.Refused.Add(1)
		return false
	}
	d := &e.routes
	now := e.clock.Now()
	d.mu.Lock()
	if t, ok := d.failed[r.addr]; ok && now.Before(t) {
		d.mu.Unlock()
		return false
	}
	if ch, ok := d.pending[r.via]; ok {
		d.mu.Unlock()
		select {
		case <-ch:
		case <-e.ctx.Done():
			return false
		}
		_, ok := e.table.Lookup(r.via)
		return ok
	}
	if d.active >= maxRouteDials {
		d.mu.Unlock()
		return false
	}
	if d.pending == nil {
		d.pending = make(map[wire.NodeID]chan struct{})
		d.failed = make(map[netip.AddrPort]time.Time)
	}
	ch := make(chan struct{})
	d.pending[r.via] = ch
	d.active++
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, routeDialTime)
	err := e.dialRouteLink(ctx, r.addr, r.via)
	cancel()

	d.mu.Lock()
	d.active--
	delete(d.pending, r.via)
	if err != nil {
		d.failed[r.addr] = now.Add(routeRetryAfter)
		for a, t := range d.failed {
			if !now.Before(t) {
				delete(d.failed, a)
			}
		}
	}
	d.mu.Unlock()
	close(ch)
	if err != nil {
		st.DialFailed.Add(1)
		e.log.Debug("response route link failed", "to", r.via.String(), "addr", r.addr.String(), "err", err)
		return false
	}
	return true
}

// dialRouteLink opens a TLS-TCP-FH-NO-ICE link to addr as the TLS client
// (§6.6.5), whose certificate must carry peer, and adds it bound to peer.
func (e *Engine) dialRouteLink(ctx context.Context, addr netip.AddrPort, peer wire.NodeID) error {
	conn, err := e.opts.Dial(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	l, err := transport.NewTLSLink(ctx, conn, transport.Responder, peer, &e.linkCfg)
	if err != nil {
		conn.Close()
		return err
	}
	if !l.PeerKnown() {
		if err := l.BindPeerNodeID(peer); err != nil {
			l.Close()
			return err
		}
	}
	e.AddLink(l)
	return nil
}
