package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// group is the responsible peer of res on the ring of ids and its next
// k successors (RFC 6940 §10.4), in that order.
func group(ids []wire.NodeID, res wire.ResourceID, k int) []wire.NodeID {
	ring := slices.SortedFunc(slices.Values(ids), wire.NodeID.Compare)
	for i, id := range ring {
		pred := ring[(i+len(ring)-1)%len(ring)]
		if (topology.Range{Start: pred, End: id}).Contains(res) {
			var out []wire.NodeID
			for j := range min(k+1, len(ring)) {
				out = append(out, ring[(i+j)%len(ring)])
			}
			return out
		}
	}
	return nil
}

// TestOldReplicaPrunesAfterJoin_Sec10_7_3: four real nodes (TLS links,
// enrolled certificates) hold a SIP registration on its responsible peer
// and two replicas (§10.4). A fifth node joins just before that
// Resource-ID, becoming its responsible peer: the old second replica is
// no longer among the three, hands the data to the new responsible peer
// and deletes it once that peer has acknowledged it (§10.7.3), which
// reload_storage_pruned_values_total counts. At no time are fewer than
// three copies on the nodes.
func TestOldReplicaPrunesAfterJoin_Sec10_7_3(t *testing.T) {
	c := startCluster(t, 0, nil)
	// Five identities such that the Resource-ID of one of the first
	// four users lies in the range of one of them (the joiner) on the
	// ring of five.
	var ids []*security.Identity
	var joiner int
	var res wire.ResourceID
	var owner int
	for try := 0; res == nil; try++ {
		if try == 20 {
			t.Fatal("no layout with a Resource-ID in a joiner's range")
		}
		var err error
		if ids, err = c.ov.Identities(5); err != nil {
			t.Fatal(err)
		}
		all := make([]wire.NodeID, len(ids))
		for i, id := range ids {
			all[i] = id.NodeID()
		}
		for j := 1; j < 5 && res == nil; j++ {
			for o := range ids {
				r := wire.ResourceIDFromName(ids[o].Cert.User)
				if o != j && group(all, r, 0)[0] == all[j] {
					joiner, owner, res = j, o, r
					break
				}
			}
		}
	}
	first := slices.Delete(slices.Clone(ids), joiner, joiner+1)
	c = startNodes(t, c.ov, first, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	st := c.nodes[slices.IndexFunc(c.nodes, func(n *Node) bool { return n.ID() == ids[owner].NodeID() })]
	sid := st.ID()
	key := sid.Bytes()
	if _, err := st.Store(ctx, res, wire.KindSIPRegistration,
		[]wire.StoredDataValue{wire.DictionaryValue(key, []byte("sip:owner@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatal(err)
	}
	holders := func() []wire.NodeID {
		var out []wire.NodeID
		for _, nd := range c.nodes {
			if n, _, err := nd.store.Backend().Count(res, wire.KindSIPRegistration); err == nil && n > 0 {
				out = append(out, nd.ID())
			}
		}
		slices.SortFunc(out, wire.NodeID.Compare)
		return out
	}
	nodeIDs := func() []wire.NodeID {
		var out []wire.NodeID
		for _, nd := range c.nodes {
			out = append(out, nd.ID())
		}
		return out
	}
	sorted := func(s []wire.NodeID) []wire.NodeID { return slices.SortedFunc(slices.Values(s), wire.NodeID.Compare) }
	waitFor := func(what string, strict bool, cond func() bool) {
		t.Helper()
		for !cond() {
			if got := holders(); strict && len(got) < 3 {
				t.Fatalf("%s: only %d copies: %v", what, len(got), got)
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: not reached; holders %v", what, holders())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	before := group(nodeIDs(), res, 2)
	waitFor("replicated", false, func() bool { return slices.Equal(holders(), sorted(before)) })
	old := before[2]

	// The fifth node joins: the responsible peer of res.
	nd, err := New(Config{Overlay: c.ov.Config, Identity: ids[joiner], TickLength: 50 * time.Millisecond, Bootstrap: []string{c.nodes[0].Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes = append(c.nodes, nd)
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	after := group(nodeIDs(), res, 2)
	if after[0] != nd.ID() || slices.Contains(after, old) {
		t.Fatalf("layout: group %v before, %v after, joiner %v", before, after, nd.ID())
	}
	waitFor("pruned", true, func() bool { return slices.Equal(holders(), sorted(after)) })
	var oldNode *Node
	for _, n := range c.nodes {
		if n.ID() == old {
			oldNode = n
		}
	}
	// (The nodes' certificates, §8, may have moved with it.)
	pruned := oldNode.store.Pruned()
	if pruned == 0 {
		t.Error("old replica pruned nothing")
	}
	mfs, err := oldNode.MetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "reload_storage_pruned_values_total" {
			found = true
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != float64(pruned) {
				t.Errorf("reload_storage_pruned_values_total %v, want %d", v, pruned)
			}
		}
	}
	if !found {
		t.Error("no reload_storage_pruned_values_total")
	}
	// The value is still found through the overlay.
	fa, err := c.nodes[0].FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil || len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 || fa.From != nd.ID() {
		t.Fatalf("fetch after pruning: %+v, %v", fa, err)
	}
}
