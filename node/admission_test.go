package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// strangerUpdate is what a malicious member sends: an Update (RFC 6940
// §10.7) naming the victim as both its predecessor and its successor,
// that is claiming to be the victim's successor and predecessor, from a
// node that never joined the victim's ring.
func strangerUpdate(t *testing.T, victim wire.NodeID) []byte {
	t.Helper()
	u := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, Predecessors: []wire.NodeID{victim},
		Successors: []wire.NodeID{victim}, IDLen: victim.Len()}
	body, err := u.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// replicaStore is a replica Store (replica_number 1, RFC 6940 §10.4) of a
// SIP registration of the attacker's own user name, signed by the
// attacker: valid data that the storage policy accepts (USER-NODE-MATCH),
// so that only the topology's AcceptReplica stands in its way.
func replicaStore(t *testing.T, atk *Node, user string) []byte {
	t.Helper()
	res := wire.ResourceIDFromName(user)
	id := atk.ID()
	sd := wire.StoredData{StorageTime: uint64(time.Now().UnixMilli()), Lifetime: 3600,
		Value: wire.DictionaryValue(id.Bytes(), []byte("sip:"+user))}
	if err := storage.Sign(atk.cfg.Identity, res, wire.KindSIPRegistration, &sd); err != nil {
		t.Fatal(err)
	}
	req := wire.StoreReq{Resource: res, ReplicaNumber: 1,
		KindData: []wire.StoreKindData{{Kind: wire.KindSIPRegistration, Generation: 1, Values: []wire.StoredData{sd}}}}
	body, err := req.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// inNeighbourSets reports whether id is among n's predecessors or
// successors (Status, as `reload status` shows them).
func inNeighbourSets(n *Node, id wire.NodeID) bool {
	st := n.Status()
	return slices.Contains(st.Predecessors, id.String()) || slices.Contains(st.Successors, id.String())
}

// TestStrangerUpdateDoesNotMakeNeighbour_Sec10_5_Sec10_7_3: an enrolled
// node of the overlay that never joined the ring (here a peer of its own
// one-node ring, which answers Updates as a peer would) opens a TLS link
// to a joined peer, as a joining node does to its bootstrap peer, and
// sends it an Update claiming to be its successor and predecessor. The
// Update is answered, but the sender is neither a predecessor nor a
// successor: it did not join through the peer (§10.5) and no member of
// the ring knows it (§10.7.3). A replica Store it sends then is refused
// with Error_Forbidden (§10.4: replicas come from neighbours).
func TestStrangerUpdateDoesNotMakeNeighbour_Sec10_5_Sec10_7_3(t *testing.T) {
	c := startCluster(t, 3, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	aid, err := c.ov.Identity("mallory")
	if err != nil {
		t.Fatal(err)
	}
	atk, err := New(Config{Overlay: c.ov.Config, Identity: aid, TickLength: 50 * time.Millisecond, Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { atk.Close() })
	if err := atk.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-atk.Joined()

	victim := c.nodes[1]
	vid, aID := victim.ID(), atk.ID()
	if _, err := atk.Engine().DialTLS(ctx, victim.Addr(), vid); err != nil {
		t.Fatalf("link to the victim: %v", err)
	}
	dest := []wire.Destination{wire.NodeDest(&vid)}
	ans, err := atk.Request(ctx, dest, wire.CodeUpdateReq, strangerUpdate(t, vid))
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if ans.Code != wire.CodeUpdateAns {
		t.Fatalf("Update answered with %v", ans.Code)
	}
	// The victim handles the Update before it answers: a neighbour taken
	// on the sender's word would be listed now.
	if inNeighbourSets(victim, aID) {
		t.Fatalf("the stranger is a neighbour of the victim: %+v", victim.Status())
	}

	user := "mallory@" + c.ov.Name
	_, err = atk.Request(ctx, dest, wire.CodeStoreReq, replicaStore(t, atk, user))
	var re *wire.RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeForbidden {
		t.Fatalf("replica Store from the stranger: %v, want Error_Forbidden", err)
	}
	spec, err := victim.allOf(wire.KindSIPRegistration)
	if err != nil {
		t.Fatal(err)
	}
	fa, err := victim.Storage().HandleFetch(&wire.FetchReq{Resource: wire.ResourceIDFromName(user),
		Specifiers: []wire.StoredDataSpecifier{spec}}, time.Now())
	if err != nil {
		t.Fatalf("fetch at the victim: %v", err)
	}
	for _, kr := range fa.KindResponses {
		for _, v := range kr.Values {
			if v.Value.Value.Exists {
				t.Fatalf("the victim stored the stranger's replica: %+v", v)
			}
		}
	}

	// The Update made the victim ask the members around the claimed place
	// whether they know the stranger; none does. Their answers come back
	// within milliseconds on loopback: neither they nor the stabilisation
	// (chord-update-interval 5 s here) nor a repeated claim bring it in.
	stabilized := func(n *Node) (k uint64) {
		n.onLoop(func() { k = pluginStats(n.ch).Stabilizations })
		return k
	}
	before := make([]uint64, len(c.nodes))
	for i, n := range c.nodes {
		before[i] = stabilized(n)
	}
	if _, err := atk.Request(ctx, dest, wire.CodeUpdateReq, strangerUpdate(t, vid)); err != nil {
		t.Fatalf("second Update: %v", err)
	}
	// Until every member has run a whole stabilisation since the claim
	// (two counted: the first may have begun before it), the event that
	// would bring the stranger in, rather than a fixed time.
	for pending, end := true, time.Now().Add(60*time.Second); pending; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the members did not stabilise within 60 s")
		}
		pending = false
		for i, n := range c.nodes {
			if inNeighbourSets(n, aID) {
				t.Fatalf("the stranger became a neighbour of %s: %+v", n.ID(), n.Status())
			}
			pending = pending || stabilized(n) < before[i]+2
		}
	}
	if err := c.converged(); err != nil {
		t.Fatalf("ring disturbed: %v", err)
	}
}
