package node

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/internal/flood"
	"github.com/goreload/reload/node/nodetest"
)

// newTogether creates n nodes on loopback without starting them; the
// first bootNodes are the bootstrap nodes of the overlay's configuration,
// and boot gives node i its Config (bootstrap addresses, Seed) once every
// address is known.
func newTogether(t *testing.T, n, bootNodes int, boot func(i int, addrs []string, c *Config)) *cluster {
	t.Helper()
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = freeAddr(t, "tcp")
	}
	ov, err := nodetest.NewOverlay("test.example.org", func(c *config.Configuration) {
		for _, a := range addrs[:bootNodes] {
			host, port, _ := net.SplitHostPort(a)
			p, _ := strconv.Atoi(port)
			c.BootstrapNodes = append(c.BootstrapNodes, config.BootstrapNode{Address: host, Port: p})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(n)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{ov: ov}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.Close()
		}
	})
	for i := range n {
		cfg := Config{Overlay: ov.Config, Identity: ids[i], TickLength: 50 * time.Millisecond, ListenTLS: addrs[i]}
		boot(i, addrs, &cfg)
		nd, err := New(cfg)
		for try := 0; err != nil && errors.Is(err, syscall.EADDRINUSE) && i >= bootNodes && try < 5; try++ {
			// Another socket took the free port in the meantime; only
			// the bootstrap nodes' addresses are known to others.
			addrs[i] = freeAddr(t, "tcp")
			cfg.ListenTLS = addrs[i]
			nd, err = New(cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, nd)
	}
	return c
}

// startTogether starts every node at once and returns when all have
// joined.
func (c *cluster) startTogether(t *testing.T) {
	t.Helper()
	// Joins refused while the bootstrap nodes are still starting are
	// retried with backoff; under the race detector on two loaded cores
	// one node once took more than 60 s.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Go(func() {
			if err := nd.Start(ctx); err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	start := time.Now()
	for i, nd := range c.nodes {
		select {
		case <-nd.Joined():
			if testing.Verbose() {
				t.Logf("node %d joined at %v", i, time.Since(start).Round(time.Millisecond))
			}
		case <-ctx.Done():
			st := nd.Status()
			t.Fatalf("node %d did not join: %d links %+v, sent %d, received %d", i, len(st.Links), st.Links, st.Sent, st.Received)
		}
	}
}

// Nodes started all at the same moment converge as fast as nodes started
// one by one: 8 (16 with RELOAD_FLOOD=1) joining through one seed, and 8
// (16) that are not seeds, joining through the configuration's three
// bootstrap nodes, one of which founds the ring (RFC 6940 §6.4.2.1,
// §10.5) while the others' Joins are refused at once (not dropped) until
// then.
func TestSimultaneousStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
		boot  func(i int, addrs []string, c *Config)
	}{
		{"OneSeed", 8, func(i int, addrs []string, c *Config) {
			if i == 0 {
				c.Seed = true
			} else {
				c.Bootstrap = addrs[:1]
			}
		}},
		// The configuration's three bootstrap nodes are potential first
		// nodes (RFC 6940 §6.4.2.1); every node joins through them.
		{"ThreeBootstrapNodes", 8, func(int, []string, *Config) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.nodes
			if flood.Big() {
				n = 16
			}
			c := newTogether(t, n, 3, tc.boot)
			start := time.Now()
			c.startTogether(t)
			t.Logf("%d nodes started together: all joined after %v", n, time.Since(start).Round(time.Millisecond))
			c.waitConverged(t, 60*time.Second)
			t.Logf("converged after %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// Two halves of an overlay started apart (two seeds, four peers joining
// each, eight with RELOAD_FLOOD=1, over real TLS links) are two rings
// until the partition checks (RFC 6940 §10.7.4.4: each peer Pings its own
// Node-ID through a bootstrap node) find the other ring; the rings then
// merge into one. Two-sided: the configuration lists both seeds, so the
// peers of either ring can find the other. One-sided: it lists only the
// first seed, so only the second ring's peers (which bootstrapped through
// the second seed) check through a node of the other ring, as after a
// seed lost every link and founded a ring of its own.
func TestPartitionHeals_Sec10_7_4_4(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nboot int
	}{{"two-sided", 2}, {"one-sided", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			half := 4
			if flood.Big() {
				half = 8
			}
			c := newTogether(t, 2*half, tc.nboot, func(i int, addrs []string, c *Config) {
				c.PartitionCheck = time.Second
				if i < 2 {
					c.Seed = true
				} else {
					c.Bootstrap = addrs[i%2 : i%2+1] // even nodes: ring 0, odd ones: ring 1
				}
			})
			start := time.Now()
			c.startTogether(t)
			// A few seconds, more under the race detector.
			c.waitConverged(t, 150*time.Second)
			t.Logf("two rings of %d healed into one after %v", half, time.Since(start).Round(time.Millisecond))
			// The merge came from partition checks that found the other
			// ring (reload_ring_partitions_found_total).
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var found uint64
			for _, nd := range c.nodes {
				if err := nd.do(ctx, func() { found += pluginStats(nd.ch).PartitionsFound }); err != nil {
					t.Fatal(err)
				}
			}
			if found == 0 {
				t.Error("healed, but no partition check found the other ring")
			}
			c.pingAll(ctx, t, "")
		})
	}
}
