package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// kindTeam is the shared Kind of the tests: an array written under
// USER-CHAIN-ACL (RFC 8076 §6.6).
const kindTeam wire.KindID = 0xf0005a4e

func withShareKinds(c *config.Configuration) {
	c.RequiredKinds = append(c.RequiredKinds,
		config.KindBlock{Kind: config.Kind{Name: "ACCESS-CONTROL-LIST", DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 64, MaxSize: 1024}},
		config.KindBlock{Kind: config.Kind{ID: uint32(kindTeam), DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 64, MaxSize: 1024}},
	)
}

// TestShareDelegation: RFC 8076 end to end on four real nodes of four
// users. A owns a resource and grants B write access with delegation; B
// grants C; C stores and every node fetches and verifies C's value
// against the ACL. A revokes B's grant: C's next Store is refused with
// Error_Forbidden, as is D's, who never had a grant.
func TestShareDelegation(t *testing.T) {
	c := startClusterOverlay(t, withShareKinds, 4, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, b, cc, d := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[3]
	name := a.user()
	res := a.store.Hash()([]byte(name))
	store := func(n *Node, v string) error {
		_, err := n.Store(ctx, res, kindTeam, []wire.StoredDataValue{wire.ArrayValue(wire.ArrayAppendIndex, []byte(v))}, time.Minute)
		return err
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if code, ok := wire.ErrorCodeOf(err); !ok || code != wire.ErrCodeForbidden {
			t.Fatalf("%s: %v, want Error_Forbidden", what, err)
		}
	}

	if err := store(a, "from A"); err != nil {
		t.Fatalf("owner's store: %v", err)
	}
	forbidden("B before any grant", store(b, "from B"))
	if _, err := a.GrantWrite(ctx, name, kindTeam, b.user(), true, time.Minute); err != nil {
		t.Fatalf("A grants B: %v", err)
	}
	if _, err := b.GrantWrite(ctx, name, kindTeam, cc.user(), false, time.Minute); err != nil {
		t.Fatalf("B grants C: %v", err)
	}
	if _, err := cc.GrantWrite(ctx, name, kindTeam, d.user(), false, time.Minute); err == nil {
		t.Fatal("C, without delegation, granted D")
	} else {
		forbidden("C grants D", err)
	}
	if err := store(cc, "from C"); err != nil {
		t.Fatalf("C's store: %v", err)
	}
	forbidden("D without a grant", store(d, "from D"))

	for i, n := range c.nodes {
		r, err := n.FetchShared(ctx, res, kindTeam)
		if err != nil {
			t.Fatalf("node %d fetch: %v", i, err)
		}
		if r.Partial() {
			t.Fatalf("node %d: discarded %v", i, r.Discarded)
		}
		var got []string
		for _, kr := range r.KindResponses {
			for _, sd := range kr.Values {
				got = append(got, string(sd.Value.Value.Value))
			}
		}
		if !slices.Equal(got, []string{"from A", "from C"}) {
			t.Fatalf("node %d fetched %q", i, got)
		}
	}
	// A plain fetch of the Kind cannot check C's value (§6.5).
	if r, err := d.FetchAll(ctx, res, kindTeam); err != nil || len(r.Discarded) != 1 || !errors.Is(r.Discarded[0].Err, storage.ErrNoACL) {
		t.Fatalf("fetch without the ACL: %v, %+v", err, r)
	}

	items, err := d.ShareACL(ctx, res)
	if err != nil || len(items) != 3 {
		t.Fatalf("ACL: %+v, %v", items, err)
	}
	for _, it := range items {
		if !it.Valid {
			t.Fatalf("ACL item %+v not valid", it)
		}
	}
	if _, err := b.RevokeWrite(ctx, name, kindTeam, d.user()); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("revoking a grant that does not exist: %v", err)
	}
	// The owner revokes B's grant and overwrites B's grant to C, which
	// it invalidated (§6.2).
	if idx, err := a.RevokeWrite(ctx, name, kindTeam, b.user()); err != nil || len(idx) != 2 {
		t.Fatalf("A revokes B: %v, %v", idx, err)
	}
	if items, err := d.ShareACL(ctx, res); err != nil || len(items) != 1 || items[0].ToUser != a.user() || !items[0].Valid {
		t.Fatalf("ACL after revocation: %+v, %v", items, err)
	}
	forbidden("C after B's grant was revoked", store(cc, "again from C"))
	forbidden("B after revocation", store(b, "from B"))
	if err := store(a, "again from A"); err != nil {
		t.Fatalf("owner after revocation: %v", err)
	}
	// C's old value no longer has a valid chain: fetchers drop it.
	r, err := d.FetchShared(ctx, res, kindTeam)
	if err != nil || len(r.Discarded) != 1 {
		t.Fatalf("fetch after revocation: %v, %+v", err, r)
	}
}
