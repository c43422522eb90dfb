package node

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// rawStore sends a StoreReq of values signed by n's identity, with the
// storage_time and lifetime given (what node.Store would not send), to
// the peer responsible for res, and returns its answer.
func rawStore(ctx context.Context, t *testing.T, n *Node, res wire.ResourceID, kind wire.KindID, stime uint64, lifetime uint32, v wire.StoredDataValue) error {
	t.Helper()
	sd := wire.StoredData{StorageTime: stime, Lifetime: lifetime, Value: v}
	if err := storage.Sign(n.cfg.Identity, res, kind, &sd); err != nil {
		t.Fatal(err)
	}
	req := wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: kind, Values: []wire.StoredData{sd}}}}
	body, err := req.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Request(ctx, []wire.Destination{wire.ResourceDest(res)}, wire.CodeStoreReq, body)
	return err
}

// storedRecords lists the records every node of c holds for (res, kind).
func (c *cluster) storedRecords(t *testing.T, res wire.ResourceID, kind wire.KindID) []*storage.Record {
	t.Helper()
	var out []*storage.Record
	for _, nd := range c.nodes {
		if err := nd.store.Backend().Scan(res, kind, func(r *storage.Record) bool {
			out = append(out, r)
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestFarFutureStorageTimeRefused: a StoredData's storage_time is the
// floor for every later Store of the value (RFC 6940 §7.4.1.1), so a
// credential holder (a leaked key, a node with a broken clock) storing
// storage_time 2^64-1 would lock the value against its owner for its
// whole lifetime: every normal Store would get Error_Data_Too_Old. The
// responsible peer refuses storage_times more than a day ahead of its
// clock with Error_Invalid_Message, no node keeps the value, and the
// owner's normal Store afterwards succeeds. A lifetime of 0xffffffff
// (136 years) is kept for at most 30 days, on the responsible peer and
// its replicas.
func TestFarFutureStorageTimeRefused(t *testing.T) {
	c := startCluster(t, 4, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	attacker := c.nodes[2]
	user := attacker.cfg.Identity.Cert.User
	res := wire.ResourceIDFromName(user)
	self := attacker.ID()
	key := self.Bytes()

	// SIP-REGISTRATION (USER-NODE-MATCH, dictionary keyed by Node-ID)
	// under the attacker's own user name: permitted by the access policy.
	err := rawStore(ctx, t, attacker, res, wire.KindSIPRegistration, math.MaxUint64, 3600,
		wire.DictionaryValue(key, []byte("sip:locked@127.0.0.1")))
	var re *wire.RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeInvalidMessage {
		t.Fatalf("store with storage_time 2^64-1: %v, want Error_Invalid_Message", err)
	}
	for _, r := range c.storedRecords(t, res, wire.KindSIPRegistration) {
		t.Fatalf("a node keeps the refused value: storage_time %d", r.Data.StorageTime)
	}

	// The owner's normal Store (storage_time from its clock) succeeds.
	if _, err := attacker.Store(ctx, res, wire.KindSIPRegistration,
		[]wire.StoredDataValue{wire.DictionaryValue(key, []byte("sip:owner@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatalf("owner's normal store after the refused one: %v", err)
	}

	// A lifetime of 0xffffffff is capped at 30 days on the responsible
	// peer, as a Stat shows, and on the replicas it sends the value to.
	// (storage_time a second ahead, within the bound: newer than the
	// Store above even if both fall in one millisecond.)
	stime := uint64(time.Now().Add(time.Second).UnixMilli())
	if err := rawStore(ctx, t, attacker, res, wire.KindSIPRegistration, stime, math.MaxUint32,
		wire.DictionaryValue(key, []byte("sip:forever@127.0.0.1"))); err != nil {
		t.Fatalf("store with lifetime 0xffffffff: %v", err)
	}
	sa, err := c.nodes[0].Stat(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatal(err)
	}
	capSec := uint32(storage.DefaultMaxLifetime / time.Second)
	if len(sa.KindResponses) != 1 || len(sa.KindResponses[0].Values) != 1 {
		t.Fatalf("stat: %+v", sa)
	}
	if got := sa.KindResponses[0].Values[0].Lifetime; got > capSec || got < capSec-120 {
		t.Fatalf("stat lifetime %d s, want the %d s cap", got, capSec)
	}
	latest := time.Now().Add(storage.DefaultMaxLifetime).UnixMilli()
	deadline := time.Now().Add(30 * time.Second)
	for {
		copies := 0
		for _, r := range c.storedRecords(t, res, wire.KindSIPRegistration) {
			if string(r.Data.Value.Value.Value) != "sip:forever@127.0.0.1" {
				continue
			}
			copies++
			if r.Expires > latest {
				t.Fatalf("a node keeps the value until %v, past the 30-day cap", time.UnixMilli(r.Expires))
			}
		}
		// The responsible peer and its two replicas (RFC 6940 §10.4).
		if copies >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d copies of the value, want 3 (responsible peer and replicas)", copies)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
