package redir

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goreload/reload/wire"
)

var manyProviders = flag.Int("redir.providers", 200, "providers in TestManyProviders")

// ringSuccessor is what a lookup of key must answer (RFC 7374 §3, §4.5):
// the provider with the lowest Node-ID at or above key, or around the
// ring the lowest of all. ids is sorted.
func ringSuccessor(ids []wire.NodeID, key wire.NodeID) wire.NodeID {
	i, _ := slices.BinarySearchFunc(ids, key, func(a, b wire.NodeID) int { return a.Compare(b) })
	if i == len(ids) {
		return ids[0]
	}
	return ids[i]
}

func randomID(r *rand.Rand) wire.NodeID {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return wire.MustNodeID(b)
}

type manyResult struct {
	regMsgs, lookupMsgs, lookups, cached, entries int
}

// runMany registers n providers of one namespace over a memTree (rounds
// complete registration passes each, the later ones being the refreshes
// of §4.4), then looks up every provider's Node-ID and as many random
// keys, from fresh clients and from one client that keeps its lookup
// history (§4.2), and checks every answer against the ring successor.
func runMany(t *testing.T, seed uint64, n, branching, rounds int) manyResult {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	m := newMemTree()
	ctx := context.Background()
	const ns = "turn-server"
	ids := make([]wire.NodeID, n)
	clients := make([]*Client, n)
	for i := range ids {
		ids[i] = randomID(r)
		c, err := New(&fakeNode{t: m, id: ids[i]}, Config{Branching: branching})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	var res manyResult
	for range rounds {
		for _, i := range r.Perm(n) {
			reg, err := clients[i].Register(ctx, ns, nil)
			if err != nil {
				t.Fatal(err)
			}
			res.regMsgs += reg.Stats.Messages()
		}
	}
	res.entries = m.entries()
	sorted := slices.SortedFunc(slices.Values(ids), func(a, b wire.NodeID) int { return a.Compare(b) })
	keys := append(slices.Clone(ids), make([]wire.NodeID, n)...)
	for i := n; i < len(keys); i++ {
		keys[i] = randomID(r)
	}
	seeker, _ := New(&fakeNode{t: m, id: randomID(r)}, Config{Branching: branching})
	for _, k := range keys {
		fresh, _ := New(&fakeNode{t: m, id: k}, Config{Branching: branching})
		for _, c := range []*Client{fresh, seeker} {
			l, err := c.Lookup(ctx, ns, k)
			if err != nil {
				t.Fatalf("lookup %v: %v", k, err)
			}
			if want := ringSuccessor(sorted, k); l.Provider.NodeID != want {
				t.Errorf("lookup %v: got %v, want %v (levels %v)", k, l.Provider.NodeID, want, l.Stats.Levels)
			}
			res.lookups++
			res.lookupMsgs += l.Stats.Messages()
			if l.Cached {
				res.cached++
			}
		}
	}
	return res
}

// TestManyProviders: many providers and many lookups over an in-memory
// overlay; every lookup must return the closest successor by Node-ID
// (RFC 7374 §4.5). It logs the requests per registration and per lookup.
func TestManyProviders(t *testing.T) {
	for _, c := range []struct {
		n, b, rounds int
	}{
		{*manyProviders, 10, 1},
		{*manyProviders, 10, 2},
		{*manyProviders, 2, 2},
		{7, 10, 1},
	} {
		t.Run(fmt.Sprintf("n=%d/b=%d/rounds=%d", c.n, c.b, c.rounds), func(t *testing.T) {
			res := runMany(t, uint64(c.n*31+c.b), c.n, c.b, c.rounds)
			t.Logf("%d providers, branching %d, %d rounds: %.2f requests per registration pass, %.2f fetches per lookup (%d lookups, %d from the cache), %d records stored (%.2f per provider)",
				c.n, c.b, c.rounds, float64(res.regMsgs)/float64(c.n*c.rounds), float64(res.lookupMsgs)/float64(res.lookups),
				res.lookups, res.cached, res.entries, float64(res.entries)/float64(c.n))
		})
	}
}
