package storage_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// TestUnknownKind: RFC 6940 §7.4.1.2, a request naming unknown Kinds
// fails with Error_Unknown_Kind whose error_info lists every one of them
// (KindId unknown_kinds<0..2^8-1>); Fetch and Stat do the same (§7.4.2.1).
func TestUnknownKind(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	good := st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("x"))
	req := &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
		{Kind: 0xf00000aa, RawValues: []byte{1, 2, 3}},
		{Kind: st.KindSmall, Values: []wire.StoredData{good}},
		{Kind: 0xf00000bb},
	}}
	want := []wire.KindID{0xf00000aa, 0xf00000bb}
	check := func(t *testing.T, err error) {
		t.Helper()
		pe := wantCode(t, err, wire.ErrCodeUnknownKind, storage.ErrUnknownKind)
		if !bytes.Equal(pe.Info, []byte{8, 0xf0, 0, 0, 0xaa, 0xf0, 0, 0, 0xbb}) {
			t.Errorf("error_info %x", pe.Info)
		}
		got, err := storage.UnknownKinds(pe.Info)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("UnknownKinds = %v, %v; want %v", got, err, want)
		}
	}
	t.Run("store", func(t *testing.T) {
		_, err := e.store(alice, req)
		check(t, err)
	})
	unknown := wire.StoredDataSpecifier{Kind: 0xf00000aa, Raw: []byte{}}
	unknown2 := wire.StoredDataSpecifier{Kind: 0xf00000bb}
	specs := []wire.StoredDataSpecifier{unknown, spec(st.KindSmall, wire.ModelSingle), unknown2, unknown}
	t.Run("fetch", func(t *testing.T) {
		_, err := e.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: specs}, now)
		check(t, err)
	})
	t.Run("stat", func(t *testing.T) {
		_, err := e.s.HandleStat(&wire.StatReq{Resource: res, Specifiers: specs}, now)
		check(t, err)
	})
}

// TestDuplicateKind: RFC 6940 §7.4.1.1, "The same Kind-ID MUST NOT be
// used twice in a given store request".
func TestDuplicateKind(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	req := &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: st.KindSmall}, {Kind: st.KindSmall}}}
	_, err := e.store(alice, req)
	wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrDuplicateKind)
}

// TestGenerationCounter: RFC 6940 §7.4.1.1–2. A successful original
// Store that changes data increases the counter; a non-zero counter that
// differs from the stored one fails the whole request with
// Error_Generation_Counter_Too_Low, whose error_info is a StoreAns with
// the current counter of every Kind of the request and no replicas.
func TestGenerationCounter(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	val := func(d time.Duration, v string) wire.StoredData {
		return st.Signed(t, alice, res, st.KindSmall, ms(d*time.Millisecond), 60, st.Single(v))
	}
	gens := func(r storage.StoreResult) []uint64 {
		var g []uint64
		for _, k := range r.Answer.KindResponses {
			g = append(g, k.Generation)
		}
		return g
	}
	if g := gens(e.mustStore(alice, st.Req(res, st.KindSmall, 0, val(0, "a")))); !reflect.DeepEqual(g, []uint64{1}) {
		t.Fatalf("first store: generation %v, want [1]", g)
	}
	if g := gens(e.mustStore(alice, st.Req(res, st.KindSmall, 1, val(1, "b")))); !reflect.DeepEqual(g, []uint64{2}) {
		t.Fatalf("store with the current counter: %v, want [2]", g)
	}
	if g := gens(e.mustStore(alice, st.Req(res, st.KindSmall, 0, val(2, "c")))); !reflect.DeepEqual(g, []uint64{3}) {
		t.Fatalf("store with counter 0 (ignore): %v, want [3]", g)
	}
	// A second Kind in the request, never stored: its counter is 0.
	list := st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(0, "l"))
	for _, stale := range []uint64{1, 2, 4} {
		req := &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
			{Kind: st.KindSmall, Generation: stale, Values: []wire.StoredData{val(3, "d")}},
			{Kind: st.KindList, Values: []wire.StoredData{list}},
		}}
		_, err := e.store(alice, req)
		pe := wantCode(t, err, wire.ErrCodeGenerationCounterTooLow, storage.ErrGeneration)
		var info wire.StoreAns
		if _, err := info.Decode(pe.Info); err != nil {
			t.Fatalf("error_info: %v", err)
		}
		want := []wire.StoreKindResponse{{Kind: st.KindSmall, Generation: 3}, {Kind: st.KindList, Generation: 0}}
		for i := range info.KindResponses {
			info.KindResponses[i].Replicas = nil
		}
		if !reflect.DeepEqual(info.KindResponses, want) {
			t.Errorf("generation %d: error_info %+v, want %+v", stale, info.KindResponses, want)
		}
	}
	// Nothing of the failed requests was stored.
	got := e.fetch(res, spec(st.KindSmall, wire.ModelSingle), arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: wire.ArrayAppendIndex}))
	if v := values(got.KindResponses[0]); !reflect.DeepEqual(v, []string{"c"}) || len(got.KindResponses[1].Values) != 0 {
		t.Errorf("after failed stores: %v %v", v, values(got.KindResponses[1]))
	}
	// Storing the same value again changes nothing.
	if g := gens(e.mustStore(alice, st.Req(res, st.KindSmall, 0, val(2, "c")))); !reflect.DeepEqual(g, []uint64{3}) {
		t.Errorf("repeated store: generation %v, want [3]", g)
	}
}

// TestGenerationRace: concurrent Stores carrying the same generation
// counter: exactly one wins, the others get
// Error_Generation_Counter_Too_Low (the ETag use of §7.4.1.1).
func TestGenerationRace(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("base"))))
	const n = 16
	reqs := make([]*wire.StoreReq, n)
	for i := range reqs {
		reqs[i] = st.Req(res, st.KindSmall, 1, st.Signed(t, alice, res, st.KindSmall, ms(time.Duration(i+1)*time.Millisecond), 60, st.Single("v")))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range reqs {
		wg.Go(func() { _, errs[i] = e.store(alice, reqs[i]) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantCode(t, err, wire.ErrCodeGenerationCounterTooLow, nil)
	}
	if won != 1 {
		t.Errorf("%d stores won, want 1", won)
	}
	if ans := e.fetch(res, spec(st.KindSmall, wire.ModelSingle)); ans.KindResponses[0].Generation != 2 {
		t.Errorf("generation %d, want 2", ans.KindResponses[0].Generation)
	}
}

// TestDataTooOld: RFC 6940 §7, a value whose storage_time is before that
// of the value it would replace gets Error_Data_Too_Old; so does a
// different value with the same storage_time (the check is "greater
// than", §7.4.1.1), while the same value again is accepted unchanged.
func TestDataTooOld(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	sign := func(kind wire.KindID, d time.Duration, v wire.StoredDataValue) wire.StoredData {
		return st.Signed(t, alice, res, kind, ms(d), 60, v)
	}
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, sign(st.KindSmall, time.Second, st.Single("new"))))
	e.mustStore(alice, st.Req(res, st.KindDict, 0, sign(st.KindDict, time.Second, st.Dict([]byte("k"), "new"))))
	e.mustStore(alice, st.Req(res, st.KindList, 0, sign(st.KindList, time.Second, st.Array(1, "new"))))
	tests := []struct {
		name string
		req  *wire.StoreReq
		ok   bool
	}{
		{"single older", st.Req(res, st.KindSmall, 0, sign(st.KindSmall, 0, st.Single("old"))), false},
		{"single same time other value", st.Req(res, st.KindSmall, 0, sign(st.KindSmall, time.Second, st.Single("other"))), false},
		{"single same value", st.Req(res, st.KindSmall, 0, sign(st.KindSmall, time.Second, st.Single("new"))), true},
		{"dictionary older", st.Req(res, st.KindDict, 0, sign(st.KindDict, 0, st.Dict([]byte("k"), "old"))), false},
		{"dictionary other key", st.Req(res, st.KindDict, 0, sign(st.KindDict, 0, st.Dict([]byte("j"), "old"))), true},
		{"array older", st.Req(res, st.KindList, 0, sign(st.KindList, 0, st.Array(1, "old"))), false},
		{"array other index", st.Req(res, st.KindList, 0, sign(st.KindList, 0, st.Array(0, "old"))), true},
		{"second value of the request older than the first", st.Req(res, st.KindSmall, 0,
			sign(st.KindSmall, 3*time.Second, st.Single("a")), sign(st.KindSmall, 2*time.Second, st.Single("b"))), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store(alice, tc.req)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			pe := wantCode(t, err, wire.ErrCodeDataTooOld, storage.ErrTooOld)
			if len(pe.Info) != 0 {
				t.Errorf("error_info %x", pe.Info)
			}
		})
	}
	if got := values(e.fetch(res, spec(st.KindSmall, wire.ModelSingle)).KindResponses[0]); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("single value %q", got)
	}
}

// TestDataTooLarge: RFC 6940 §7.4.1.1–2, values beyond max-size, or more
// values than max-count, get Error_Data_Too_Large.
func TestDataTooLarge(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	sign := func(kind wire.KindID, i int, v wire.StoredDataValue) wire.StoredData {
		return st.Signed(t, alice, res, kind, ms(time.Duration(i)*time.Millisecond), 60, v)
	}
	e.mustStore(alice, st.Req(res, st.KindList, 0, sign(st.KindList, 0, st.Array(0, "a")), sign(st.KindList, 1, st.Array(1, "b")), sign(st.KindList, 2, st.Array(2, "c"))))
	e.mustStore(alice, st.Req(res, st.KindDict, 0, sign(st.KindDict, 0, st.Dict([]byte("a"), "a")), sign(st.KindDict, 1, st.Dict([]byte("b"), "b")), sign(st.KindDict, 2, st.Dict([]byte("c"), "c"))))
	tests := []struct {
		name string
		req  *wire.StoreReq
		ok   bool
	}{
		{"max-size+1", st.Req(res, st.KindSmall, 0, sign(st.KindSmall, 0, st.Single("0123456789abcdefX"))), false},
		{"max-size", st.Req(res, st.KindSmall, 0, sign(st.KindSmall, 0, st.Single("0123456789abcdef"))), true},
		{"array index max-count", st.Req(res, st.KindList, 0, sign(st.KindList, 5, st.Array(3, "d"))), false},
		{"array append past max-count", st.Req(res, st.KindList, 0, sign(st.KindList, 5, st.Array(wire.ArrayAppendIndex, "d"))), false},
		{"array replace within", st.Req(res, st.KindList, 0, sign(st.KindList, 5, st.Array(2, "C"))), true},
		{"dictionary fourth key", st.Req(res, st.KindDict, 0, sign(st.KindDict, 5, st.Dict([]byte("d"), "d"))), false},
		{"dictionary fourth key after deleting one (nonexistent values count, §7.4.1.3)", st.Req(res, st.KindDict, 0,
			sign(st.KindDict, 6, wire.StoredDataValue{Model: wire.ModelDictionary, Key: []byte("a")}),
			sign(st.KindDict, 7, st.Dict([]byte("d"), "d"))), false},
		{"dictionary replacing a key by a nonexistent value", st.Req(res, st.KindDict, 0,
			sign(st.KindDict, 6, wire.StoredDataValue{Model: wire.ModelDictionary, Key: []byte("a")})), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store(alice, tc.req)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, wire.ErrCodeDataTooLarge, storage.ErrTooLarge)
		})
	}
}

// TestAtomicStore: RFC 6940 §7.4.1.1, "If any operation fails, the state
// MUST be rolled back": a request whose last value fails stores nothing.
func TestAtomicStore(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	req := &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
		{Kind: st.KindList, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(0, "a"))}},
		{Kind: st.KindSmall, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("too large for the kind"))}},
	}}
	_, err := e.store(alice, req)
	wantCode(t, err, wire.ErrCodeDataTooLarge, nil)
	if e.mem.Len() != 0 {
		t.Errorf("%d values stored by a failed request", e.mem.Len())
	}
}

// TestNotResponsible: RFC 6940 §7.4.1.1, a peer rejects an original Store
// for a resource it is not responsible for.
func TestNotResponsible(t *testing.T) {
	e := newEnv(t)
	e.ring.Owns = func(wire.ResourceID) bool { return false }
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	_, err := e.store(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("x"))))
	wantCode(t, err, wire.ErrCodeNotFound, storage.ErrNotResponsible)
}

// TestModelMismatch: a value of another data model than its Kind's is
// refused.
func TestModelMismatch(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	_, err := e.store(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Array(0, "x"))))
	wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrBadRequest)
}

// TestRawValuesRedecoded: values of a private Kind decoded without the
// KindTable (kept raw by wire) are decoded again with the Kind's model.
func TestRawValuesRedecoded(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	enc, err := st.Req(res, st.KindList, 0, st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(0, "x"))).Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var req wire.StoreReq // Models nil: IANA Kinds only
	if _, err := req.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if len(req.KindData[0].RawValues) == 0 {
		t.Fatal("expected raw values")
	}
	e.mustStore(alice, &req)
	var freq wire.FetchReq
	fenc, _ := (&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: 0})}}).Append(nil)
	if _, err := freq.Decode(fenc); err != nil {
		t.Fatal(err)
	}
	ans, err := e.s.HandleFetch(&freq, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(ans.KindResponses[0]); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("fetched %q", got)
	}
}

// TestKindTableFromConfig builds the registry from the configuration's
// Kinds table.
func TestKindTableFromConfig(t *testing.T) {
	ks := config.NewKinds(
		config.KindInfo{ID: 1, Name: "SIP-REGISTRATION", DataModel: config.DataModelDictionary, AccessControl: config.AccessUserNodeMatch, MaxCount: 10, MaxSize: 1000},
		config.KindInfo{ID: 2, Name: "TURN-SERVICE", DataModel: config.DataModelSingle, AccessControl: config.AccessNodeMultiple, MaxNodeMultiple: 5},
		config.KindInfo{ID: 4, Name: "ACCESS-CONTROL-LIST", DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL},
		config.KindInfo{ID: 0xf0000009, DataModel: "EXP-DATA", AccessControl: config.AccessUserMatch},
	)
	kt, err := storage.KindTableFromConfig(ks)
	if err != nil {
		t.Fatal(err)
	}
	if got := kt.IDs(); !reflect.DeepEqual(got, []wire.KindID{1, 2, 4}) {
		t.Errorf("IDs %v", got)
	}
	sip, _ := kt.Lookup(1)
	if sip.Model != wire.ModelDictionary || sip.Policy != storage.PolicyUserNodeMatch || sip.MaxCount != 10 || sip.MaxSize != 1000 {
		t.Errorf("SIP-REGISTRATION %+v", sip)
	}
	turn, _ := kt.Lookup(2)
	if turn.Policy != storage.PolicyNodeMultiple || turn.MaxNodeMultiple != 5 || turn.MaxCount != storage.DefaultMaxCount {
		t.Errorf("TURN-SERVICE %+v", turn)
	}
	if acl, _ := kt.Lookup(4); acl.Policy != storage.PolicyUserChainACL {
		t.Errorf("ACL policy %v", acl.Policy)
	}
	if m, ok := kt.Model(1); !ok || m != wire.ModelDictionary {
		t.Error("Model(1)")
	}
	if _, err := storage.NewKindTable(storage.Kind{ID: 9, Model: wire.ModelArray, Policy: storage.PolicyUserNodeMatch}); err == nil {
		t.Error("USER-NODE-MATCH on an array accepted")
	}
	if _, err := storage.New(storage.Config{}); err == nil {
		t.Error("New accepted an empty Config")
	}
	if !errors.Is(storage.ErrTooLarge, storage.ErrTooLarge) {
		t.Fatal()
	}
}

// TestFutureStorageTime: a stored storage_time is the floor of every later
// Store of the value (RFC 6940 §7.4.1.1), so one far ahead of the local
// clock would lock the slot against its owner. Beyond
// Config.MaxStorageTimeAhead (default a day) the Store is refused with
// Error_Invalid_Message, for original and replica Stores alike, and the
// owner's next Store with its correct clock succeeds.
func TestFutureStorageTime(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	for _, stime := range []uint64{math.MaxUint64, ms(storage.DefaultMaxStorageTimeAhead + time.Millisecond)} {
		far := st.Signed(t, alice, res, st.KindSmall, stime, 60, st.Single("locked"))
		_, err := e.store(alice, st.Req(res, st.KindSmall, 0, far))
		pe := wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrFutureStorageTime)
		if len(pe.Info) == 0 {
			t.Error("no error_info describing the refusal")
		}
	}
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("mine"))))
	if got := values(e.fetch(res, spec(st.KindSmall, wire.ModelSingle)).KindResponses[0]); !reflect.DeepEqual(got, []string{"mine"}) {
		t.Fatalf("after the refused Stores the slot holds %v", got)
	}
	// Exactly at the bound is accepted (a clock up to a day fast).
	edge := st.Signed(t, alice, res, st.KindSmall, ms(storage.DefaultMaxStorageTimeAhead), 60, st.Single("fast clock"))
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, edge))

	// Replica Stores: the same bound.
	owner := e.pki.Identity(t, "bob@"+st.Overlay, st.NodeID(2))
	sender := e.pki.Identity(t, "", st.NodeID(3))
	e.ring.Senders = []wire.NodeID{sender.NodeID()}
	bres := userRes("bob@" + st.Overlay)
	far := st.Signed(t, owner, bres, st.KindSmall, math.MaxUint64, 60, st.Single("locked"))
	rq := st.Requester(sender)
	rq.Certificates = append(rq.Certificates, owner.Certificates()...)
	req := &wire.StoreReq{Resource: bres, ReplicaNumber: 1, KindData: []wire.StoreKindData{{Kind: st.KindSmall, Generation: 1, Values: []wire.StoredData{far}}}}
	_, err := e.s.HandleStore(req, rq, now)
	wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrFutureStorageTime)

	// The bound is configurable, and a negative one disables it.
	for _, tc := range []struct {
		ahead time.Duration
		stime uint64
		ok    bool
	}{
		{time.Minute, ms(time.Minute), true},
		{time.Minute, ms(time.Minute + time.Millisecond), false},
		{-1, math.MaxUint64, true},
	} {
		s, err := storage.New(storage.Config{Kinds: st.Kinds(t), Backend: mem.New(), Verifier: e.pki.Verifier(), MaxStorageTimeAhead: tc.ahead})
		if err != nil {
			t.Fatal(err)
		}
		sd := st.Signed(t, alice, res, st.KindSmall, tc.stime, 60, st.Single("x"))
		_, err = s.HandleStore(st.Req(res, st.KindSmall, 0, sd), st.Requester(alice), now)
		if tc.ok && err != nil {
			t.Errorf("MaxStorageTimeAhead %v, storage_time %d: %v", tc.ahead, tc.stime, err)
		}
		if !tc.ok {
			wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrFutureStorageTime)
		}
	}
}

// TestLifetimeCap: a lifetime above Config.MaxLifetime (default 30 days)
// is clamped to it, not refused: the storing peer may keep data for less
// time than asked (RFC 6940 §7 "garbage collect"; §7.4.1.1 adjusts
// lifetimes downward). Fetch, Stat and replicas report the capped
// remaining lifetime, and the value expires at the cap.
func TestLifetimeCap(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	r1 := st.NodeID(0x91)
	e.ring.Replicas = []wire.NodeID{r1}
	capSec := uint32(storage.DefaultMaxLifetime / time.Second)
	out := e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), math.MaxUint32, st.Single("forever"))))
	if len(out.Replicas) != 1 {
		t.Fatalf("%d replica stores", len(out.Replicas))
	}
	if got := out.Replicas[0].Req.KindData[0].Values[0].Lifetime; got != capSec {
		t.Fatalf("replica store with lifetime %d, want %d", got, capSec)
	}
	kr := e.fetch(res, spec(st.KindSmall, wire.ModelSingle)).KindResponses[0]
	if len(kr.Values) != 1 || kr.Values[0].Lifetime != capSec {
		t.Fatalf("fetched %d values, lifetime %d; want one with lifetime %d", len(kr.Values), kr.Values[0].Lifetime, capSec)
	}
	// Gone once the cap has passed (a Fetch synthesizes a nonexistent
	// value, §7.4.2.2).
	ans, err := e.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)}}, now.Add(storage.DefaultMaxLifetime))
	if err != nil || !reflect.DeepEqual(values(ans.KindResponses[0]), []string{"-"}) {
		t.Fatalf("after the cap: %+v, %v", ans.KindResponses, err)
	}

	// Configurable; negative disables the cap.
	for _, tc := range []struct {
		max  time.Duration
		want uint32
	}{
		{time.Hour, 3600},
		{-1, math.MaxUint32},
	} {
		s, err := storage.New(storage.Config{Kinds: st.Kinds(t), Backend: mem.New(), Verifier: e.pki.Verifier(), MaxLifetime: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		sd := st.Signed(t, alice, res, st.KindSmall, ms(0), math.MaxUint32, st.Single("x"))
		if _, err := s.HandleStore(st.Req(res, st.KindSmall, 0, sd), st.Requester(alice), now); err != nil {
			t.Fatal(err)
		}
		ans, err := s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)}}, now)
		if err != nil || len(ans.KindResponses[0].Values) != 1 || ans.KindResponses[0].Values[0].Lifetime != tc.want {
			t.Errorf("MaxLifetime %v: %+v, %v; want lifetime %d", tc.max, ans.KindResponses, err, tc.want)
		}
	}
}
