package node

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/wire"
)

// startRoutedClient starts peers on loopback that follow DRR and RPR
// requests (policy), and a client (RFC 6940 §3.2) that joins through the
// first: the client's requests go through its admitting peer, so an
// answer by symmetric routing takes two hops at least. Its relay peer is
// the second peer, which it opens a TLS link to (RFC 7264 §4.1), so that
// RPR answers take another path than the requests.
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
		Bootstrap: []string{c.nodes[0].Addr()}, RelayPeer: c.nodes[1].ID()})
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

// RFC 7263 and RFC 7264 on real nodes: a client asks a peer it has no link
// to for DRR, and gets the answer in one hop on a link the peer opened to
// it; then another for RPR, whose answer comes through the client's relay
// peer, the responder alone in its via list. The metrics count both.
func TestRoutedAnswersOnRealNodes(t *testing.T) {
	c, cl := startRoutedClient(t, 5, forwarding.ResponseRoutesDial)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	far := farPeers(c, cl)
	if len(far) < 2 {
		t.Skipf("the client is linked to all but %d peers", len(far))
	}
	x, y := far[0], far[1]
	if h := pingRouted(ctx, t, cl, x.ID(), 0); h < 2 {
		t.Errorf("SRR answer in %d hops", h)
	}
	if h := pingRouted(ctx, t, cl, x.ID(), wire.RouteModeDRR); h != 1 {
		t.Errorf("DRR answer in %d hops, want 1", h)
	}
	// The responder counts after it has sent: poll.
	if st := &x.Engine().Stats().Routes; !eventually(10*time.Second, func() bool { return st.Direct.Load() == 1 }) {
		t.Errorf("responder sent %d direct, fell back %d", st.Direct.Load(), st.FellBack.Load())
	}
	if h := pingRouted(ctx, t, cl, y.ID(), wire.RouteModeRPR); h != 2 {
		t.Errorf("RPR answer in %d hops, want 2", h)
	}
	if st := &y.Engine().Stats().Routes; !eventually(10*time.Second, func() bool { return st.Relayed.Load() == 1 }) {
		t.Errorf("responder relayed %d, fell back %d", st.Relayed.Load(), st.FellBack.Load())
	}
	if n := cl.Engine().Stats().Routes.Asked.Load(); n != 2 {
		t.Errorf("client asked %d", n)
	}
}

// With the policy off (the default) the same requests are answered by
// symmetric routing, and counted as fallen back.
func TestRoutedAnswersPolicyOff(t *testing.T) {
	c, cl := startRoutedClient(t, 4, forwarding.ResponseRoutesOff)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	far := farPeers(c, cl)
	if len(far) == 0 {
		t.Skip("the client is linked to every peer")
	}
	x := far[0]
	for _, m := range []wire.RouteMode{wire.RouteModeDRR, wire.RouteModeRPR} {
		if h := pingRouted(ctx, t, cl, x.ID(), m); h < 2 {
			t.Errorf("%v with policy off: answer in %d hops", m, h)
		}
	}
	if st := &x.Engine().Stats().Routes; !eventually(10*time.Second, func() bool { return st.FellBack.Load() == 2 }) || st.Direct.Load()+st.Relayed.Load() != 0 {
		t.Errorf("fell back %d, direct %d, relayed %d", st.FellBack.Load(), st.Direct.Load(), st.Relayed.Load())
	}
}
