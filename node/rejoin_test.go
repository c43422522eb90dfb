package node

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/node/nodetest"
)

// TestJoinRedialsBootstrap: when the bootstrap peer goes away while a node
// is joining and comes back at the same address (a restarted process), the
// join's retry dials the bootstrap address again instead of routing
// through a link that is gone forever. Seen with real processes under
// churn, where a restarted node stayed unjoined for good.
func TestJoinRedialsBootstrap(t *testing.T) {
	ov, err := nodetest.NewOverlay("redial.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tick := 50 * time.Millisecond
	// A node that takes TLS links but is not in any ring: the Join routed
	// through it goes nowhere.
	idle, err := New(Config{Overlay: ov.Config, Identity: ids[0], TickLength: tick})
	if err != nil {
		t.Fatal(err)
	}
	addr := idle.Addr()
	joiner, err := New(Config{Overlay: ov.Config, Identity: ids[1], TickLength: tick, Bootstrap: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.Close()
	if err := joiner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	idle.Close()
	// A ring's seed now answers at the bootstrap address.
	var seed *Node
	for seed == nil {
		if seed, err = New(Config{Overlay: ov.Config, Identity: ids[2], TickLength: tick, ListenTLS: addr, Seed: true}); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("listen again on %s: %v", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer seed.Close()
	if err := seed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-joiner.Joined():
	case <-ctx.Done():
		t.Fatal("the joining node did not join through the bootstrap address once a peer answered there again")
	}
}

// TestRejoinAfterAllLinksLost: a peer that loses every link at once (its
// neighbours are gone, §10.7.1) is detached; it dials its bootstrap
// address again and joins anew, and the ring converges with it. Before,
// it tried to join through the bootstrap peer's Node-ID over a link that
// no longer existed, and stayed out of the ring.
func TestRejoinAfterAllLinksLost(t *testing.T) {
	c := startCluster(t, 5, nil)
	c.waitConverged(t, 30*time.Second)
	lost := c.nodes[3]
	for _, l := range lost.eng.Table().Links() {
		l.Close()
	}
	time.Sleep(200 * time.Millisecond)
	c.waitConverged(t, 60*time.Second)
	if n := len(lost.eng.Table().Links()); n == 0 {
		t.Fatal("the peer has no links after the rejoin")
	}
}
