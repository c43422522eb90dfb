package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

type cluster struct {
	ov    *nodetest.Overlay
	nodes []*Node
}

// startCluster starts n nodes on loopback: the first seeds the ring, the
// others join through it.
func startCluster(t testing.TB, n int, mod func(i int, c *Config)) *cluster {
	t.Helper()
	return startClusterOverlay(t, nil, n, mod)
}

// startClusterOverlay is startCluster with an overlay configuration that
// mutate may change first.
func startClusterOverlay(t testing.TB, mutate func(*config.Configuration), n int, mod func(i int, c *Config)) *cluster {
	t.Helper()
	ov, err := nodetest.NewOverlay("test.example.org", mutate)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(n)
	if err != nil {
		t.Fatal(err)
	}
	return startNodes(t, ov, ids, mod)
}

// startNodes starts one node per identity of ov on loopback, in order:
// the first seeds the ring, the others join through it. mod may change
// each node's Config first.
func startNodes(t testing.TB, ov *nodetest.Overlay, ids []*security.Identity, mod func(i int, c *Config)) *cluster {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("NODE_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := &cluster{ov: ov}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range ids {
		cfg := Config{Overlay: ov.Config, Identity: ids[i], TickLength: 50 * time.Millisecond, Logger: log}
		if i == 0 {
			cfg.Seed = true
		} else {
			cfg.Bootstrap = []string{c.nodes[0].Addr()}
		}
		if mod != nil {
			mod(i, &cfg)
		}
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, nd)
		if err := nd.Start(ctx); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		select {
		case <-nd.Joined():
		case <-ctx.Done():
			t.Fatalf("node %d did not join", i)
		}
	}
	return c
}

// converged reports whether every node's first successor and predecessor
// match the sorted ring.
func (c *cluster) converged() error {
	ids := make([]wire.NodeID, len(c.nodes))
	for i, nd := range c.nodes {
		ids[i] = nd.ID()
	}
	slices.SortFunc(ids, func(a, b wire.NodeID) int { return a.Compare(b) })
	for _, nd := range c.nodes {
		st := nd.Status()
		i := slices.Index(ids, nd.ID())
		succ := ids[(i+1)%len(ids)].String()
		pred := ids[(i+len(ids)-1)%len(ids)].String()
		if len(st.Successors) == 0 || st.Successors[0] != succ || len(st.Predecessors) == 0 || st.Predecessors[0] != pred {
			return fmt.Errorf("node %s: succ %v pred %v, want %s / %s", st.NodeID, st.Successors, st.Predecessors, succ, pred)
		}
	}
	return nil
}

// pingAll pings every node from every node through the overlay and
// checks that each answer comes from the node pinged.
func (c *cluster) pingAll(ctx context.Context, t testing.TB, when string) {
	t.Helper()
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			id := b.ID()
			r, err := a.Ping(ctx, wire.NodeDest(&id))
			if err != nil {
				t.Fatalf("%s%s -> %s: %v", when, a.ID(), id, err)
			}
			if r.From != id {
				t.Fatalf("%s%s -> %s: answer from %s", when, a.ID(), id, r.From)
			}
		}
	}
}

func (c *cluster) waitConverged(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = c.converged(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ring did not converge: %v", err)
}

func TestRingOverTLS(t *testing.T) {
	c := startCluster(t, 6, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "")
}

func iceLoopback(_ int, c *Config) {
	c.ICE, c.ICELoopback = true, true
	c.ICEInterfaces = func(name string) bool { return name == "lo" }
}

func TestRingOverDTLSICE(t *testing.T) {
	c := startCluster(t, 8, iceLoopback)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dtls := 0
	for _, nd := range c.nodes {
		for _, l := range nd.Status().Links {
			if l.Type == "DTLS-UDP-SR" {
				dtls++
				// Status shows the pair ICE selected: host candidates on
				// loopback, the remote one being the link's remote address.
				if l.ICE == nil || l.ICE.LocalType != "host" || l.ICE.RemoteType != "host" || l.ICE.Remote != l.Remote {
					t.Errorf("link to %s: remote %s, ICE pair %+v", l.NodeID, l.Remote, l.ICE)
				}
			}
		}
	}
	if dtls == 0 {
		t.Fatal("no DTLS-UDP-SR links")
	}
	c.pingAll(ctx, t, "")
}

// 32 peers on loopback over DTLS (ICE) form a ring; every peer pings
// every other through the overlay; a killed peer is routed around.
func TestRing32(t *testing.T) {
	if testing.Short() {
		t.Skip("32 peers")
	}
	c := startCluster(t, 32, iceLoopback)
	c.waitConverged(t, 120*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pingAll := func(nodes []*Node) {
		t.Helper()
		for _, a := range nodes {
			for _, b := range nodes {
				id := b.ID()
				if r, err := a.Ping(ctx, wire.NodeDest(&id)); err != nil || r.From != id {
					t.Fatalf("%s -> %s: %v %v", a.ID(), id, r.From, err)
				}
			}
		}
	}
	pingAll(c.nodes)
	// Kill one peer abruptly; the others route around it.
	victim := c.nodes[7]
	victim.Close()
	rest := append(slices.Clone(c.nodes[:7]), c.nodes[8:]...)
	c.nodes = rest
	// The survivors notice the failure (link closed, or ICE consent and
	// keepalives time out) and repair the ring (RFC 6940 §10.7.2).
	c.waitConverged(t, 120*time.Second)
	pingAll(rest)
}

func TestStoreFetchThroughOverlay(t *testing.T) {
	c := startCluster(t, 6, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := c.nodes[1], c.nodes[4]
	// CERTIFICATE_BY_NODE-like array kind? Use SIP-REGISTRATION: a
	// dictionary keyed by the storing Node-ID under the AOR's Resource-ID
	// (USER-NODE-MATCH: the resource is the hash of the user name).
	res := storeFetchRegistration(t, ctx, a, b, "sip:node2@127.0.0.1:5060")
	// Another node may not write under node2's name: Error_Forbidden.
	bid := b.ID()
	_, err := b.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(bid.Bytes(), []byte("x"))}, time.Hour)
	var re *wire.RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeForbidden {
		t.Fatalf("store under another user's name: %v", err)
	}
}

// A client (RFC 6940 §3.2) attaches to its responsible peer, does not
// route, and can still store, fetch and ping.
func TestClient(t *testing.T) {
	c := startCluster(t, 5, nil)
	c.waitConverged(t, 30*time.Second)
	id, err := c.ov.Identity("client1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := New(Config{Overlay: c.ov.Config, Identity: id, Client: true, TickLength: 50 * time.Millisecond,
		Bootstrap: []string{c.nodes[0].Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Joined():
	case <-ctx.Done():
		t.Fatal("client did not attach")
	}
	if st := cl.Status(); !st.Client || len(st.Successors) != 0 {
		t.Fatalf("client status %+v", st)
	}
	for _, p := range c.nodes {
		pid := p.ID()
		if r, err := cl.Ping(ctx, wire.NodeDest(&pid)); err != nil || r.From != pid {
			t.Fatalf("client ping %s: %v %v", pid, r.From, err)
		}
	}
	res := wire.ResourceIDFromName("client1@" + c.ov.Name)
	cid := cl.ID()
	if _, err := cl.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(cid.Bytes(), []byte("sip:client1@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatalf("client store: %v", err)
	}
	fa, err := c.nodes[3].FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil || len(fa.KindResponses) == 0 || len(fa.KindResponses[0].Values) != 1 {
		t.Fatalf("fetch of the client's value: %+v %v", fa, err)
	}
	// The peers do not route through the client: it is in nobody's ring.
	for _, p := range c.nodes {
		st := p.Status()
		for _, s := range append(st.Successors, st.Predecessors...) {
			if s == cid.String() {
				t.Fatalf("client %s in the ring of %s", cid, st.NodeID)
			}
		}
	}
}

// A peer restarted with the same identity and data directory still holds
// what it stored (durable backend).
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ov, err := nodetest.NewOverlay("restart.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ov.Identity("node1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := wire.ResourceIDFromName("node1@" + ov.Name)
	self := id.NodeID()
	start := func() *Node {
		n, err := New(Config{Overlay: ov.Config, Identity: id, Seed: true, DataDir: dir, TickLength: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		<-n.Joined()
		return n
	}
	n := start()
	if _, err := n.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(self.Bytes(), []byte("kept"))}, time.Hour); err != nil {
		t.Fatal(err)
	}
	n.Close()
	n = start()
	defer n.Close()
	fa, err := n.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil || len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 || string(fa.KindResponses[0].Values[0].Value.Value.Value) != "kept" {
		t.Fatalf("after restart: %+v %v", fa, err)
	}
}

// RFC 7851 §4.3: the traceroute path equals the route the topology
// computes hop by hop, on a real ring.
func TestTracerouteFollowsRoute(t *testing.T) {
	c := startCluster(t, 10, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	byID := map[wire.NodeID]*Node{}
	for _, n := range c.nodes {
		byID[n.ID()] = n
	}
	for _, a := range c.nodes[:3] {
		for _, b := range c.nodes {
			dest := wire.ResourceDest(wire.ResourceIDFromName("trace-" + b.ID().String()))
			// The route as the topology computes it, hop by hop.
			var want []wire.NodeID
			cur := a
			for range 20 {
				next, local, err := router{cur}.Route(&dest)
				if err != nil {
					t.Fatal(err)
				}
				if local {
					break
				}
				want = append(want, next)
				cur = byID[next]
			}
			hops, err := diag.Traceroute(ctx, a.Diag(), dest)
			if err != nil {
				t.Fatalf("traceroute: %v", err)
			}
			var got []wire.NodeID
			for _, h := range hops {
				if h.Node != a.ID() {
					got = append(got, h.Node)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("traceroute from %s: %v, route %v", a.ID(), got, want)
			}
		}
	}
}

// onLoop runs f on the node's loop, which owns the host and the plugin.
func (n *Node) onLoop(f func()) {
	if err := n.do(context.Background(), f); err != nil {
		panic(err)
	}
}

// storeFetchRegistration stores a SIP-REGISTRATION of node2's user
// (USER-NODE-MATCH: a is node2) with contact at a and fetches it at b,
// and returns its Resource-ID.
func storeFetchRegistration(t *testing.T, ctx context.Context, a, b *Node, contact string) wire.ResourceID {
	t.Helper()
	user := "node2@test.example.org"
	res := wire.ResourceIDFromName(user)
	aid := a.ID()
	val := wire.DictionaryValue(aid.Bytes(), []byte(contact))
	if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour); err != nil {
		t.Fatalf("store: %v", err)
	}
	fa, err := b.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 ||
		string(fa.KindResponses[0].Values[0].Value.Value.Value) != contact {
		t.Fatalf("fetched %+v", fa)
	}
	return res
}
