package bolt_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/bolt"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// TestRestart: a peer restarted on the same bolt file still holds what
// it stored: values (byte for byte, signatures included), generation
// counters, lifetimes and the signers' certificates.
func TestRestart(t *testing.T) {
	pki := st.NewPKI(t)
	kinds := st.Kinds(t)
	path := filepath.Join(t.TempDir(), "node.db")
	newStore := func(b storage.Backend) *storage.Store {
		s, err := storage.New(storage.Config{Kinds: kinds, Backend: b, Verifier: pki.Verifier(), Topology: &st.Ring{Replicas: []wire.NodeID{st.NodeID(9)}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := storage.UserResourceID(storage.ChordHash, "alice@"+st.Overlay)
	specs := []wire.StoredDataSpecifier{
		{Kind: st.KindDict, Model: wire.ModelDictionary},
		{Kind: st.KindList, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}},
		{Kind: st.KindSmall, Model: wire.ModelSingle},
	}

	b := open(t, path)
	s := newStore(b)
	for i, v := range []string{"one", "two"} {
		req := &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
			{Kind: st.KindDict, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindDict, st.Millis(st.Now)+uint64(i), 300, st.Dict([]byte(v), v))}},
			{Kind: st.KindList, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindList, st.Millis(st.Now)+uint64(i), 300, st.Array(wire.ArrayAppendIndex, v))}},
			{Kind: st.KindSmall, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindSmall, st.Millis(st.Now)+uint64(i), 300, st.Single(v))}},
		}}
		if _, err := s.HandleStore(req, st.Requester(alice), st.Now); err != nil {
			t.Fatal(err)
		}
	}
	at := st.Now.Add(10 * time.Second)
	before, err := s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: specs}, at)
	if err != nil {
		t.Fatal(err)
	}
	hBefore, _ := s.Handover(st.NodeID(8), 1, func(wire.ResourceID) bool { return true }, at)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, path)
	defer b.Close()
	s = newStore(b)
	after, err := s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: specs}, at)
	if err != nil {
		t.Fatal(err)
	}
	encBefore, _ := before.Append(nil)
	encAfter, _ := after.Append(nil)
	if !reflect.DeepEqual(encBefore, encAfter) {
		t.Errorf("fetch after restart differs:\n%x\n%x", encBefore, encAfter)
	}
	for _, kr := range after.KindResponses {
		if kr.Generation != 2 {
			t.Errorf("kind %v: generation %d after restart", kr.Kind, kr.Generation)
		}
	}
	hAfter, _ := s.Handover(st.NodeID(8), 1, func(wire.ResourceID) bool { return true }, at)
	if len(hAfter) != 1 || !reflect.DeepEqual(hAfter[0].Certificates, hBefore[0].Certificates) {
		t.Error("signer certificates lost in the restart")
	}
	// The counters continue: a Store with the old counter is too low.
	_, err = s.HandleStore(st.Req(res, st.KindSmall, 1, st.Signed(t, alice, res, st.KindSmall, st.Millis(at), 300, st.Single("three"))), st.Requester(alice), at)
	if pe, ok := err.(*wire.ProtocolError); !ok || pe.Code != wire.ErrCodeGenerationCounterTooLow {
		t.Errorf("stale generation after restart: %v", err)
	}
	if n, err := s.Expire(st.Now.Add(time.Hour)); err != nil || n != 5 {
		t.Errorf("Expire = %d, %v", n, err)
	}
	if err := b.Slots(func(wire.ResourceID, wire.KindID, uint64) bool { t.Error("slot left after expiry"); return true }); err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(path, &bolt.Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Error("a second Open of a file in use succeeded")
	}
}
