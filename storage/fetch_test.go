package storage_test

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// TestArrayAppend: RFC 6940 §7.4.1.1, a Store at index 0xffffffff puts
// the value at the end of the array, and the fetched StoredData has its
// real index; its signature still verifies (§7.4.2.2: the index is zero in
// the signature input).
func TestArrayAppend(t *testing.T) {
	e := newEnv(t)
	n := st.NodeID(0x61)
	id := e.pki.Identity(t, "node@"+st.Overlay, n)
	res := nodeRes(n)
	cert := string(id.Cert.Cert.Raw)
	for i := range 3 {
		sd := st.Signed(t, id, res, wire.KindCertificateByNode, ms(time.Duration(i)*time.Millisecond), 600, st.Array(wire.ArrayAppendIndex, cert+string(rune('a'+i))))
		e.mustStore(id, st.Req(res, wire.KindCertificateByNode, 0, sd))
	}
	ans := e.fetch(res, storage.CertificateSpecifier(wire.KindCertificateByNode))
	kr := ans.KindResponses[0]
	if len(kr.Values) != 3 {
		t.Fatalf("%d values", len(kr.Values))
	}
	v := e.pki.Verifier()
	for i, sd := range kr.Values {
		if sd.Value.Index != uint32(i) {
			t.Errorf("value %d has index %d", i, sd.Value.Index)
		}
		if _, err := storage.Verify(v, res, wire.KindCertificateByNode, &sd, id.Certificates(), now); err != nil {
			t.Errorf("value %d: %v", i, err)
		}
	}
	// Encoded and decoded as a peer would receive it.
	enc, err := ans.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := wire.FetchAns{Models: e.s.Kinds()}
	if _, err := dec.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values(dec.KindResponses[0]), values(kr)) {
		t.Error("fetch answer does not round-trip")
	}
}

// TestFetchSpecifiers: RFC 6940 §7.4.2: the model specifier variants,
// sparse arrays and synthesised nonexistent values (§7.2.2, §7.4.2.2),
// the generation shortcut, and invalid ranges.
func TestFetchSpecifiers(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	sign := func(kind wire.KindID, v wire.StoredDataValue) wire.StoredData {
		return st.Signed(t, alice, res, kind, ms(0), 60, v)
	}
	e.mustStore(alice, &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
		{Kind: st.KindList, Values: []wire.StoredData{sign(st.KindList, st.Array(2, "two")), sign(st.KindList, st.Array(0, "zero"))}},
		{Kind: st.KindDict, Values: []wire.StoredData{sign(st.KindDict, st.Dict([]byte("b"), "B")), sign(st.KindDict, st.Dict([]byte("a"), "A")),
			sign(st.KindDict, wire.StoredDataValue{Model: wire.ModelDictionary, Key: []byte("gone")})}},
	}})
	all := wire.ArrayRange{First: 0, Last: wire.ArrayAppendIndex}
	tests := []struct {
		name string
		spec wire.StoredDataSpecifier
		want []string
	}{
		{"single absent", spec(st.KindSmall, wire.ModelSingle), []string{"-"}},
		{"array all (sparse)", arraySpec(st.KindList, all), []string{"zero", "-", "two"}},
		{"array one gap", arraySpec(st.KindList, wire.ArrayRange{First: 1, Last: 1}), []string{"-"}},
		{"array two ranges", arraySpec(st.KindList, wire.ArrayRange{First: 2, Last: 9}, wire.ArrayRange{First: 0, Last: 0}), []string{"two", "zero"}},
		{"array past the end", arraySpec(st.KindList, wire.ArrayRange{First: 3, Last: 10}), nil},
		{"array no ranges", arraySpec(st.KindList), nil},
		{"array never stored", arraySpec(wire.KindCertificateByUser, all), nil},
		{"dictionary wildcard", dictSpec(st.KindDict), []string{"A", "B", "-"}},
		{"dictionary keys", dictSpec(st.KindDict, []byte("b"), []byte("zz"), []byte("gone")), []string{"B", "-", "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kr := e.fetch(res, tc.spec).KindResponses[0]
			if got := values(kr); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("values %q, want %q", got, tc.want)
			}
			for _, v := range kr.Values {
				// A removed value keeps its owner's signature; an
				// unknown one is synthetic (§7.4.2.2).
				if got, want := security.IsSynthetic(&v.Signature), v.Value.Value.Exists == false && string(v.Value.Key) != "gone"; got != want {
					t.Errorf("value %q: synthetic %v, want %v", v.Value.Value.Value, got, want)
				}
			}
		})
	}
	t.Run("synthetic keys and indices", func(t *testing.T) {
		kr := e.fetch(res, dictSpec(st.KindDict, []byte("zz"))).KindResponses[0]
		if string(kr.Values[0].Value.Key) != "zz" {
			t.Errorf("synthetic key %q", kr.Values[0].Value.Key)
		}
		kr = e.fetch(res, arraySpec(st.KindList, wire.ArrayRange{First: 1, Last: 1})).KindResponses[0]
		if kr.Values[0].Value.Index != 1 {
			t.Errorf("synthetic index %d", kr.Values[0].Value.Index)
		}
	})
	t.Run("generation", func(t *testing.T) {
		s := dictSpec(st.KindDict)
		gen := e.fetch(res, s).KindResponses[0].Generation
		s.Generation = gen
		kr := e.fetch(res, s).KindResponses[0]
		if len(kr.Values) != 0 || kr.Generation != gen {
			t.Errorf("up-to-date fetch: %d values, generation %d", len(kr.Values), kr.Generation)
		}
		s.Generation = gen - 1
		if kr := e.fetch(res, s).KindResponses[0]; len(kr.Values) != 3 {
			t.Errorf("stale fetch: %d values", len(kr.Values))
		}
	})
	t.Run("one response per specifier", func(t *testing.T) {
		ans := e.fetch(res, spec(st.KindSmall, wire.ModelSingle), dictSpec(st.KindDict), spec(st.KindSmall, wire.ModelSingle))
		if len(ans.KindResponses) != 3 || ans.KindResponses[2].Kind != st.KindSmall {
			t.Errorf("%d responses", len(ans.KindResponses))
		}
	})
	for _, bad := range []struct {
		name   string
		ranges []wire.ArrayRange
	}{
		{"first > last", []wire.ArrayRange{{First: 3, Last: 2}}},
		{"overlap", []wire.ArrayRange{{First: 0, Last: 4}, {First: 4, Last: 6}}},
		{"overlap unsorted", []wire.ArrayRange{{First: 5, Last: 9}, {First: 0, Last: 0}, {First: 1, Last: 5}}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, err := e.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{arraySpec(st.KindList, bad.ranges...)}}, now)
			wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrBadRequest)
		})
	}
}

// TestExpiry: RFC 6940 §7, lifetimes count from the Store's arrival;
// values are returned with the lifetime left, vanish when it ends, and
// Expire removes them (§7.4.1.3).
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	e.mustStore(alice, &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{
		{Kind: st.KindDict, Values: []wire.StoredData{
			st.Signed(t, alice, res, st.KindDict, ms(0), 10, st.Dict([]byte("short"), "s")),
			st.Signed(t, alice, res, st.KindDict, ms(0), 100, st.Dict([]byte("long"), "l")),
		}},
		{Kind: st.KindSmall, Values: []wire.StoredData{st.Signed(t, alice, res, st.KindSmall, ms(0), 10, st.Single("x"))}},
	}})
	fetchAt := func(d time.Duration) wire.FetchAns {
		ans, err := e.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{dictSpec(st.KindDict), spec(st.KindSmall, wire.ModelSingle)}}, now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return ans
	}
	ans := fetchAt(4 * time.Second)
	if lt := ans.KindResponses[0].Values[1].Lifetime; lt != 6 {
		t.Errorf("lifetime left after 4s of 10s: %d", lt)
	}
	ans = fetchAt(10 * time.Second)
	if got := values(ans.KindResponses[0]); !reflect.DeepEqual(got, []string{"l"}) {
		t.Errorf("at expiry: %q", got)
	}
	if got := values(ans.KindResponses[1]); !reflect.DeepEqual(got, []string{"-"}) {
		t.Errorf("single at expiry: %q", got)
	}
	gen := ans.KindResponses[0].Generation
	n, err := e.s.Expire(now.Add(10 * time.Second))
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want 2", n, err)
	}
	if e.mem.Len() != 1 {
		t.Errorf("%d values left", e.mem.Len())
	}
	ans = fetchAt(11 * time.Second)
	if g := ans.KindResponses[0].Generation; g <= gen {
		t.Errorf("generation %d after expiry, was %d", g, gen)
	}
	if g := ans.KindResponses[1].Generation; g != 0 {
		t.Errorf("emptied slot keeps generation %d", g)
	}
	if n, _ := e.s.Expire(now.Add(11 * time.Second)); n != 0 {
		t.Errorf("second Expire removed %d", n)
	}
	// An expired value is gone: an older storage_time is accepted again.
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(-time.Second), 10, st.Single("y"))))
}

// TestStat: RFC 6940 §7.4.3, metadata of the values a Fetch would return;
// hash_value is the digest of the value with its 4-byte length.
func TestStat(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	e.mustStore(alice, st.Req(res, st.KindList, 0, st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(1, "hello"))))
	ans, err := e.s.HandleStat(&wire.StatReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{
		arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: wire.ArrayAppendIndex}),
	}}, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	kr := ans.KindResponses[0]
	if kr.Generation != 1 || len(kr.Values) != 2 {
		t.Fatalf("generation %d, %d values", kr.Generation, len(kr.Values))
	}
	m := kr.Values[1]
	sum := sha256.Sum256(append([]byte{0, 0, 0, 5}, "hello"...))
	if m.Metadata.Index != 1 || !m.Metadata.Value.Exists || m.Metadata.Value.ValueLength != 5 ||
		m.Metadata.Value.HashAlgorithm != wire.HashSHA256 || !bytes.Equal(m.Metadata.Value.HashValue, sum[:]) ||
		m.StorageTime != ms(0) || m.Lifetime != 59 {
		t.Errorf("metadata %+v", m)
	}
	if kr.Values[0].Metadata.Value.Exists || kr.Values[0].Metadata.Index != 0 {
		t.Errorf("gap metadata %+v", kr.Values[0])
	}
	enc, err := ans.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := wire.StatAns{Models: e.s.Kinds()}
	if _, err := dec.Decode(enc); err != nil {
		t.Fatal(err)
	}
}

// TestFind: RFC 6940 §7.4.4, the closest Resource-ID with values of each
// Kind, in ring order; 0 for an unknown Kind; Error_Not_Found when not
// responsible; repeated Kinds rejected.
func TestFind(t *testing.T) {
	e := newEnv(t)
	turnAt := func(b byte) (wire.ResourceID, *wire.StoreReq) {
		n := st.NodeID(b)
		id := e.pki.Identity(t, "", n)
		res := storage.NodeMultipleResourceID(storage.ChordHash, n, 1)
		e.mustStore(id, st.Req(res, wire.KindTURNService, 0, st.Signed(t, id, res, wire.KindTURNService, ms(0), 60, st.Single("turn"))))
		return res, nil
	}
	var ids []wire.ResourceID
	for _, b := range []byte{0x71, 0x72, 0x73} {
		r, _ := turnAt(b)
		ids = append(ids, r)
	}
	sorted := append([]wire.ResourceID(nil), ids...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if bytes.Compare(sorted[j], sorted[i]) < 0 {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	find := func(res wire.ResourceID, kinds ...wire.KindID) (wire.FindAns, error) {
		return e.s.HandleFind(&wire.FindReq{Resource: res, Kinds: kinds}, now)
	}
	plusOne := func(r wire.ResourceID) wire.ResourceID {
		c := bytes.Clone(r)
		for i := len(c) - 1; i >= 0; i-- {
			c[i]++
			if c[i] != 0 {
				break
			}
		}
		return c
	}
	// Walking R(n+1) = closest(1 + R(n)) visits every resource in order.
	cur := wire.ResourceID(make([]byte, 16))
	for i := range 4 {
		ans, err := find(cur, wire.KindTURNService)
		if err != nil {
			t.Fatal(err)
		}
		got := ans.Results[0].Closest
		if want := sorted[i%3]; !bytes.Equal(got, want) {
			t.Fatalf("step %d: closest %x, want %x", i, got, want)
		}
		cur = plusOne(got)
	}
	ans, err := find(sorted[1], wire.KindTURNService, 0xf00000aa, st.KindSmall)
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 16)
	if !bytes.Equal(ans.Results[0].Closest, sorted[1]) || !bytes.Equal(ans.Results[1].Closest, zero) ||
		!bytes.Equal(ans.Results[2].Closest, zero) || ans.Results[1].Kind != 0xf00000aa {
		t.Errorf("results %+v", ans.Results)
	}
	_, err = find(sorted[0], wire.KindTURNService, wire.KindTURNService)
	wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrDuplicateKind)
	// Only resources this peer is responsible for count.
	e.ring.Owns = func(r wire.ResourceID) bool { return !bytes.Equal(r, sorted[1]) }
	if ans, _ := find(sorted[0], wire.KindTURNService); !bytes.Equal(ans.Results[0].Closest, sorted[0]) {
		t.Error("closest to an own resource")
	}
	if ans, _ := find(plusOne(sorted[0]), wire.KindTURNService); !bytes.Equal(ans.Results[0].Closest, sorted[2]) {
		t.Errorf("skipping a resource not responsible for: %x", ans.Results[0].Closest)
	}
	_, err = find(sorted[1], wire.KindTURNService)
	wantCode(t, err, wire.ErrCodeNotFound, storage.ErrNotResponsible)
	// Expired values do not count.
	e.ring.Owns = nil
	if ans, _ := find(sorted[0], wire.KindTURNService); bytes.Equal(ans.Results[0].Closest, zero) {
		t.Error("nothing found before expiry")
	}
	if ans, _ := e.s.HandleFind(&wire.FindReq{Resource: sorted[0], Kinds: []wire.KindID{wire.KindTURNService}}, now.Add(time.Hour)); !bytes.Equal(ans.Results[0].Closest, zero) {
		t.Error("expired resource found")
	}
}
