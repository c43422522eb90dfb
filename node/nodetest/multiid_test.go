package nodetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// TestSeveralNodeIDs runs nodes as any Node-ID of a certificate with
// several (RFC 6940 §6.3.4 cert_hash_node_id; §6.1.2: the peer learns
// which one a node runs as from what it signs), on real TLS links:
//   - shared: one certificate, two nodes, one per Node-ID (the second
//     Node-ID first), joining through a seed with one Node-ID; the seed
//     keeps a link to each, and they reach each other by Node-ID;
//   - bootstrap: the seed itself runs as the second Node-ID of its
//     certificate, and a node joins through it.
func TestSeveralNodeIDs(t *testing.T) {
	t.Run("shared", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ov, err := nodetest.NewOverlay("multi.example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		seedID, err := ov.Identity("seed")
		if err != nil {
			t.Fatal(err)
		}
		base, err := ov.IdentityWithNodeIDs("twin", 2)
		if err != nil {
			t.Fatal(err)
		}
		second, err := base.WithNodeID(base.Cert.NodeIDs[1])
		if err != nil {
			t.Fatal(err)
		}
		first, err := base.WithNodeID(base.Cert.NodeIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		seed := startNode(ctx, t, ov, seedID, "")
		x := startNode(ctx, t, ov, second, seed.Addr())
		y := startNode(ctx, t, ov, first, seed.Addr())
		if x.ID() != base.Cert.NodeIDs[1] || y.ID() != base.Cert.NodeIDs[0] {
			t.Fatalf("nodes run as %v and %v, want %v", x.ID(), y.ID(), base.Cert.NodeIDs)
		}
		waitLink(ctx, t, seed, x.ID(), "")
		waitLink(ctx, t, seed, y.ID(), "")
		pingNode(ctx, t, x, y.ID())
		pingNode(ctx, t, y, x.ID())
		pingNode(ctx, t, seed, x.ID())
		storeFetch(ctx, t, x, second.Cert.User, y)
	})
	t.Run("bootstrap", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ov, err := nodetest.NewOverlay("multi.example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		base, err := ov.IdentityWithNodeIDs("seed", 3)
		if err != nil {
			t.Fatal(err)
		}
		seedID, err := base.WithNodeID(base.Cert.NodeIDs[1])
		if err != nil {
			t.Fatal(err)
		}
		joinID, err := ov.Identity("joiner")
		if err != nil {
			t.Fatal(err)
		}
		seed := startNode(ctx, t, ov, seedID, "")
		j := startNode(ctx, t, ov, joinID, seed.Addr())
		waitLink(ctx, t, j, seed.ID(), "")
		waitLink(ctx, t, seed, j.ID(), "")
		pingNode(ctx, t, j, seed.ID())
		pingNode(ctx, t, seed, j.ID())
		storeFetch(ctx, t, j, joinID.Cert.User, seed)
	})
}

// startNode starts a node on loopback: a seed when bootstrap is empty.
func startNode(ctx context.Context, t *testing.T, ov *nodetest.Overlay, id *security.Identity, bootstrap string) *node.Node {
	t.Helper()
	cfg := node.Config{Overlay: ov.Config, Identity: id, TickLength: 50 * time.Millisecond, ListenTLS: "127.0.0.1:0"}
	if bootstrap == "" {
		cfg.Seed = true
	} else {
		cfg.Bootstrap = []string{bootstrap}
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatalf("node %v: %v", id.NodeID(), err)
	}
	select {
	case <-n.Joined():
	case <-ctx.Done():
		t.Fatalf("node %v did not join", id.NodeID())
	}
	return n
}

// pingNode pings the Node-ID to from n and checks who answered.
func pingNode(ctx context.Context, t *testing.T, n *node.Node, to wire.NodeID) {
	t.Helper()
	res, err := n.Ping(ctx, wire.NodeDest(&to))
	if err != nil {
		t.Fatalf("ping %v from %v: %v", to, n.ID(), err)
	}
	if res.From != to {
		t.Fatalf("ping %v from %v answered by %v", to, n.ID(), res.From)
	}
}
