package node

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// startRoutedClient starts peers on loopback that follow DRR and RPR
// requests (policy), and a client (RFC 6940 §3.2) that joins through the
// first: the client's requests go through its admitting peer, so an
// answer by symmetric routing takes two hops at least. Its relay peer is
// the second peer, which it opens a TLS link to (RFC 7264 §4.1) and whose
// listener address it is given, so that RPR answers take another path
// than the requests.
func startRoutedClient(t testing.TB, peers int, policy forwarding.ResponseRoutePolicy) (*cluster, *Node) {
	t.Helper()
	c := startCluster(t, peers, func(_ int, cfg *Config) { cfg.ResponseRoutes = policy })
	c.waitConverged(t, 60*time.Second)
	id, err := c.ov.Identity("routed-client")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := New(Config{Overlay: c.ov.Config, Identity: id, Client: true, TickLength: 50 * time.Millisecond,
		Bootstrap: []string{c.nodes[0].Addr()}, RelayPeer: c.nodes[1].ID(), RelayAddr: netip.MustParseAddrPort(c.nodes[1].Addr())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Joined():
	case <-ctx.Done():
		t.Fatal("client did not attach")
	}
	if _, err := cl.Engine().DialTLS(ctx, c.nodes[1].Addr(), c.nodes[1].ID()); err != nil {
		t.Fatal(err)
	}
	return c, cl
}

// pingRouted pings to with the answer asked by mode (0: SRR) and returns
// the answer's hops (via list + 1).
func pingRouted(ctx context.Context, t testing.TB, from *Node, to wire.NodeID, mode wire.RouteMode) int {
	t.Helper()
	body, _ := (&wire.PingReq{}).Append(nil)
	dest := []wire.Destination{wire.NodeDest(&to)}
	var a *forwarding.Answer
	var err error
	if mode == 0 {
		a, err = from.Request(ctx, dest, wire.CodePingReq, body)
	} else {
		a, err = from.RequestRouted(ctx, dest, wire.CodePingReq, body, mode)
	}
	if err != nil {
		t.Fatalf("ping %v by %v: %v", to, mode, err)
	}
	if a.Signer.NodeID != to {
		t.Fatalf("answer from %v, want %v", a.Signer.NodeID, to)
	}
	return len(a.Via) + 1
}

// farPeers are the peers the client has no link to.
func farPeers(c *cluster, cl *Node) []*Node {
	var out []*Node
	for _, p := range c.nodes {
		if !cl.Engine().Table().Connected(p.ID()) {
			out = append(out, p)
		}
	}
	return out
}

// routeTotals sums the peers' response route counters.
func routeTotals(c *cluster) (direct, relayed, fellBack uint64) {
	for _, p := range c.nodes {
		st := &p.Engine().Stats().Routes
		direct += st.Direct.Load()
		relayed += st.Relayed.Load()
		fellBack += st.FellBack.Load()
	}
	return
}

// routedToFar pings, by mode, peers the client has no link to until one
// is answered as want says (links come and go with the ring's upkeep, and
// a request that reaches its peer straight is answered straight whatever
// it asks), and returns the hops of that answer.
func routedToFar(ctx context.Context, t *testing.T, c *cluster, cl *Node, mode wire.RouteMode, want func() bool) int {
	t.Helper()
	for range 3 {
		far := farPeers(c, cl)
		if len(far) == 0 {
			t.Skip("the client is linked to every peer")
		}
		h := pingRouted(ctx, t, cl, far[len(far)-1].ID(), mode)
		if eventually(2*time.Second, want) {
			return h
		}
	}
	t.Fatalf("no %v answer counted", mode)
	return 0
}

// RFC 7263 and RFC 7264 on real nodes: a client asks a peer it has no link
// to for DRR, and gets the answer in one hop on a link the peer opened to
// it; then another for RPR, whose answer comes through the client's relay
// peer, the responder alone in its via list. The metrics count both.
func TestRoutedAnswersOnRealNodes(t *testing.T) {
	c, cl := startRoutedClient(t, 5, forwarding.ResponseRoutesDial)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if h := routedToFar(ctx, t, c, cl, 0, func() bool { return true }); h < 1 {
		t.Errorf("SRR answer in %d hops", h)
	}
	if h := routedToFar(ctx, t, c, cl, wire.RouteModeDRR, func() bool { d, _, _ := routeTotals(c); return d == 1 }); h != 1 {
		t.Errorf("DRR answer in %d hops, want 1", h)
	}
	if h := routedToFar(ctx, t, c, cl, wire.RouteModeRPR, func() bool { _, r, _ := routeTotals(c); return r == 1 }); h != 2 {
		t.Errorf("RPR answer in %d hops, want 2", h)
	}
	if d, r, f := routeTotals(c); d != 1 || r != 1 || f != 0 {
		t.Errorf("direct %d, relayed %d, fell back %d", d, r, f)
	}
}

// With the policy off (the default) the same requests are answered by
// symmetric routing, and counted as fallen back.
func TestRoutedAnswersPolicyOff(t *testing.T) {
	c, cl := startRoutedClient(t, 4, forwarding.ResponseRoutesOff)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, m := range []wire.RouteMode{wire.RouteModeDRR, wire.RouteModeRPR} {
		before := func() uint64 { _, _, f := routeTotals(c); return f }()
		if h := routedToFar(ctx, t, c, cl, m, func() bool { _, _, f := routeTotals(c); return f > before }); h < 2 {
			t.Errorf("%v with policy off: answer in %d hops", m, h)
		}
	}
	if d, r, _ := routeTotals(c); d+r != 0 {
		t.Errorf("direct %d, relayed %d with policy off", d, r)
	}
}

// The control API's ping with route=drr (reload ping --route drr) runs
// the RFC 7851 ping through DiagRouted.
func TestDiagRoutedPing(t *testing.T) {
	c, cl := startRoutedClient(t, 4, forwarding.ResponseRoutesDial)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range []string{"", "srr", "drr", "RPR"} {
		if _, err := ParseRouteMode(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseRouteMode("dr"); err == nil {
		t.Error("ParseRouteMode accepted dr")
	}
	for range 3 {
		far := farPeers(c, cl)
		if len(far) == 0 {
			t.Skip("the client is linked to every peer")
		}
		res, err := diag.Ping(ctx, cl.DiagRouted(wire.RouteModeDRR), wire.NodeDest(new(far[0].ID())))
		if err != nil {
			t.Fatal(err)
		}
		if res.From != far[0].ID() {
			t.Fatalf("answer from %v", res.From)
		}
		if eventually(2*time.Second, func() bool { d, _, _ := routeTotals(c); return d == 1 }) {
			return
		}
	}
	t.Error("no DRR answer counted")
}
