package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/topology/onehop"
	"github.com/goreload/reload/wire"
)

func oneHopOverlay(c *config.Configuration) { c.TopologyPlugin = onehop.Name }

// members is what Status lists of a node's tables, without duplicates.
func members(st Status) []string {
	var out []string
	for _, l := range [][]string{st.Predecessors, st.Successors, st.Fingers} {
		for _, id := range l {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// waitFullMembership waits until every node lists exactly the others and
// has a link to each of them.
func (c *cluster) waitFullMembership(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var bad string
	for time.Now().Before(deadline) {
		bad = ""
		for _, nd := range c.nodes {
			var want []string
			for _, o := range c.nodes {
				if o != nd {
					want = append(want, o.ID().String())
				}
			}
			slices.Sort(want)
			st := nd.Status()
			if got := members(st); !st.Joined || !slices.Equal(got, want) {
				bad = nd.ID().String() + " lists " + strings.Join(got, ",")
				break
			}
			// ONE-HOP sends every message straight to the responsible
			// member, so full membership includes a link to each one
			// (the host Attaches to a new member after it is listed).
			var linked []string
			for _, l := range st.Links {
				if slices.Contains(want, l.NodeID) && !slices.Contains(linked, l.NodeID) {
					linked = append(linked, l.NodeID)
				}
			}
			if len(linked) != len(want) {
				bad = nd.ID().String() + " has links to " + strings.Join(linked, ",")
				break
			}
		}
		if bad == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("membership did not become full: %s", bad)
}

// TestOneHopOverlay runs five real nodes (TLS links, enrolled
// certificates) with the ONE-HOP topology plugin named by the overlay
// configuration: they join, learn the whole membership, store and fetch
// through the overlay in one hop, and route around a peer that fails.
func TestOneHopOverlay(t *testing.T) {
	c := startClusterOverlay(t, oneHopOverlay, 5, nil)
	c.waitFullMembership(t, 60*time.Second)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, nd := range c.nodes {
		if _, ok := nd.ch.(*onehop.OneHop); !ok {
			t.Fatalf("node runs %T, not the configured ONE-HOP", nd.ch)
		}
	}
	c.pingAll(ctx, t, "")
	// A lookup of a Resource-ID goes straight to the responsible peer.
	for _, nd := range c.nodes {
		res := wire.ResourceIDFromName("lookup-" + nd.ID().String())
		r, err := nd.Ping(ctx, wire.ResourceDest(res))
		if err != nil {
			t.Fatal(err)
		}
		if r.Hops > 1 {
			t.Fatalf("ping of a Resource-ID took %d hops", r.Hops)
		}
	}
	storeFetchRegistration(t, ctx, c.nodes[1], c.nodes[4], "sip:node2@127.0.0.1:5060")

	// One peer fails abruptly; the others drop it and route around it.
	victim := c.nodes[3]
	victim.Close()
	c.nodes = slices.Delete(slices.Clone(c.nodes), 3, 4)
	c.waitFullMembership(t, 90*time.Second)
	c.waitConverged(t, 30*time.Second)
	c.pingAll(ctx, t, "after failure: ")
	storeFetchRegistration(t, ctx, c.nodes[1], c.nodes[3], "sip:node2@127.0.0.1:5061")
}

// TestUnknownTopologyPlugin: a configuration naming a plugin this node
// does not have is refused at start, naming the plugins it has.
func TestUnknownTopologyPlugin(t *testing.T) {
	ov, err := nodetest.NewOverlay("test.example.org", func(c *config.Configuration) { c.TopologyPlugin = "KADEMLIA-NOT-HERE" })
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Overlay: ov.Config, Identity: ids[0]})
	if err == nil || !strings.Contains(err.Error(), "KADEMLIA-NOT-HERE") || !strings.Contains(err.Error(), onehop.Name) {
		t.Fatalf("New: %v", err)
	}
}
