package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// Direct response routing (RFC 7263) and relay peer routing (RFC 7264)
// at the node: RequestRouted asks for an answer by one of them, and
// Config.ResponseRoutes says whether this node follows such a request as
// its destination (forwarding.ResponseRoutePolicy).

// ErrNoRelay is ResponseRoute's error for RPR when this node has no relay
// peer: none configured (Config.RelayPeer) and no TLS link it opened
// itself, such as the one to its bootstrap peer (RFC 7264 §3.2.2).
var ErrNoRelay = errors.New("node: no relay peer for RPR (set Config.RelayPeer, or keep a TLS link to a bootstrap peer)")

// ResponseRoute is the forwarding.ResponseRoute that asks for answers by
// mode: for DRR, to this node's TLS listener; for RPR, through
// Config.RelayPeer or else the peer of the first TLS link this node
// opened itself (its bootstrap peer, RFC 7264 §3.2.2), which it keeps a
// link to as RFC 7264 §4.1 requires.
func (n *Node) ResponseRoute(mode wire.RouteMode) (*forwarding.ResponseRoute, error) {
	switch mode {
	case wire.RouteModeDRR:
		return n.eng.DirectRoute()
	case wire.RouteModeRPR:
		if n.cfg.RelayPeer != (wire.NodeID{}) {
			return n.eng.RelayRoute(n.cfg.RelayPeer, n.cfg.RelayAddr)
		}
		for _, l := range n.eng.Table().Links() {
			if l.Type() != transport.LinkTLSTCPFHNoICE || l.Role() != transport.Responder || !l.PeerKnown() {
				continue
			}
			if r, err := n.eng.RelayRoute(l.PeerNodeID(), n.cfg.RelayAddr); err == nil {
				return r, nil
			}
		}
		return nil, ErrNoRelay
	}
	return nil, fmt.Errorf("node: route mode %v", mode)
}

// RequestRouted is Request asking for the answer by DRR or RPR (mode). The
// answer is matched and verified as any (RFC 6940 §6.3.4) whichever link
// it comes by; when the responder does not follow the option, or the
// first transmission goes unanswered, it comes by symmetric recursive
// routing (RFC 7263 §5.4.2: retransmissions go without the option).
func (n *Node) RequestRouted(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, mode wire.RouteMode) (*forwarding.Answer, error) {
	r, err := n.ResponseRoute(mode)
	if err != nil {
		return nil, err
	}
	n.sent.Add(1)
	opt := n.requestOptions(code, true)
	opt.Route = r
	return n.eng.RequestWith(ctx, dest, code, body, opt)
}

// ParseRouteMode reads a response route for the control API and the CLI:
// "srr" or "" (symmetric routing, 0), "drr" or "rpr".
func ParseRouteMode(s string) (wire.RouteMode, error) {
	switch s {
	case "", "srr", "SRR":
		return 0, nil
	case "drr", "DRR":
		return wire.RouteModeDRR, nil
	case "rpr", "RPR":
		return wire.RouteModeRPR, nil
	}
	return 0, fmt.Errorf("node: unknown route %q (want srr, drr or rpr)", s)
}

// DiagRouted is Diag whose requests ask for their answers by mode (DRR or
// RPR; 0 is Diag itself).
func (n *Node) DiagRouted(mode wire.RouteMode) diag.Overlay {
	if mode == 0 {
		return n.Diag()
	}
	return routedDiag{diagOverlay{n}, mode}
}

type routedDiag struct {
	diagOverlay
	mode wire.RouteMode
}

func (o routedDiag) Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (diag.Answer, error) {
	r, err := o.n.ResponseRoute(o.mode)
	if err != nil {
		return diag.Answer{}, err
	}
	o.n.sent.Add(1)
	ans, err := o.n.eng.RequestWith(ctx, dest, code, body, forwarding.RequestOptions{Extensions: exts, Route: r})
	var re *wire.RemoteError
	if ans == nil || (err != nil && !errors.As(err, &re)) {
		return diag.Answer{}, err
	}
	return diag.Answer{From: ans.Signer.NodeID, Code: ans.Code, Body: ans.Body, Extensions: ans.Extensions}, nil
}

var (
	descRouteAnswers = desc("response_route_answers_total",
		"Answers to requests that asked for direct response or relay peer routing (RFC 7263, RFC 7264), by how they were sent: direct, relayed, or fallback (by symmetric routing: policy off, no usable link, refused).", "route")
	descRouteRefused = desc("response_route_refused_total",
		"Requests whose extensive_routing_mode option was refused (a sender other than the signer, a link type this node cannot open) or whose link to the given address failed, by reason.", "reason")
	descRouteAsked = desc("response_route_requests_total",
		"Requests this node sent asking for DRR or RPR (asked), and their retransmissions sent by symmetric routing instead (retried_srr, RFC 7263 section 5.4.2).", "kind")
)

// routeCollector exports forwarding.Stats.Routes.
type routeCollector struct{ n *Node }

func (c routeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRouteAnswers
	ch <- descRouteRefused
	ch <- descRouteAsked
}

func (c routeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.n.eng == nil {
		return
	}
	st := &c.n.eng.Stats().Routes
	counter := func(d *prometheus.Desc, v uint64, lv string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv)
	}
	counter(descRouteAnswers, st.Direct.Load(), "direct")
	counter(descRouteAnswers, st.Relayed.Load(), "relayed")
	counter(descRouteAnswers, st.FellBack.Load(), "fallback")
	counter(descRouteRefused, st.Refused.Load(), "refused")
	counter(descRouteRefused, st.DialFailed.Load(), "dial_failed")
	counter(descRouteAsked, st.Asked.Load(), "asked")
	counter(descRouteAsked, st.RetriedSRR.Load(), "retried_srr")
}
