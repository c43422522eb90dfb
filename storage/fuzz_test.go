package storage_test

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora")

// The fuzz targets run the handlers behind st.FakeVerifier, which takes a
// signature value "ok" naming a Node-ID as valid, so that hostile but
// decodable requests reach every rule behind the signature check.
const fuzzUser = "fuzz@" + st.Overlay

var (
	fuzzNode = st.NodeID(0xf1)
	fuzzRes  = storage.UserResourceID(storage.ChordHash, fuzzUser)
)

func fuzzStore(t testing.TB) (*storage.Store, *mem.Backend, *st.Ring) {
	ring := &st.Ring{Replicas: []wire.NodeID{st.NodeID(0xf2), st.NodeID(0xf3)}, Senders: []wire.NodeID{fuzzNode}}
	b := mem.New()
	s, err := storage.New(storage.Config{Kinds: st.Kinds(t), Backend: b, Verifier: st.FakeVerifier{User: fuzzUser}, Topology: ring})
	if err != nil {
		t.Fatal(err)
	}
	return s, b, ring
}

func fuzzRequester() storage.Requester {
	return storage.Requester{Signer: security.Signer{NodeID: fuzzNode, Cert: &security.NodeCert{NodeIDs: []wire.NodeID{fuzzNode}, User: fuzzUser}}}
}

func fakeSigned(st_ uint64, lifetime uint32, v wire.StoredDataValue) wire.StoredData {
	return wire.StoredData{StorageTime: st_, Lifetime: lifetime, Value: v, Signature: st.FakeSignature(fuzzNode)}
}

// storeSeeds are encoded StoreReqs exercising each model and rule.
func storeSeeds() [][]byte {
	t0 := st.Millis(st.Now)
	turn := storage.NodeMultipleResourceID(storage.ChordHash, fuzzNode, 2)
	reqs := []*wire.StoreReq{
		st.Req(fuzzRes, st.KindSmall, 0, fakeSigned(t0, 60, st.Single("value"))),
		st.Req(fuzzRes, st.KindList, 0, fakeSigned(t0, 60, st.Array(wire.ArrayAppendIndex, "a")), fakeSigned(t0+1, 60, st.Array(2, "b"))),
		st.Req(fuzzRes, st.KindDict, 7, fakeSigned(t0, 60, st.Dict([]byte("k"), "v")), fakeSigned(t0, 0, wire.StoredDataValue{Model: wire.ModelDictionary, Key: []byte("k")})),
		st.Req(fuzzRes, wire.KindSIPRegistration, 0, fakeSigned(t0, 3600, st.Dict(fuzzNode.Bytes(), "sip:fuzz@192.0.2.1"))),
		st.Req(turn, wire.KindTURNService, 0, fakeSigned(t0, 60, st.Single("turn"))),
		st.Req(storage.NodeResourceID(storage.ChordHash, fuzzNode), wire.KindCertificateByNode, 0, fakeSigned(t0, 60, st.Array(0, "cert"))),
		{Resource: fuzzRes, ReplicaNumber: 1, KindData: []wire.StoreKindData{
			{Kind: st.KindSmall, Generation: 5, Values: []wire.StoredData{fakeSigned(t0, 60, st.Single("replica"))}},
			{Kind: st.KindList, Generation: 3, Values: []wire.StoredData{fakeSigned(t0, 60, st.Array(0, "r"))}},
		}},
		{Resource: fuzzRes, KindData: []wire.StoreKindData{{Kind: 0xf00000aa, RawValues: []byte{0, 0, 0, 0}}, {Kind: st.KindSmall}}},
	}
	var out [][]byte
	for _, r := range reqs {
		b, err := r.Append(nil)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// populate stores a few values of every test Kind.
func populate(t testing.TB, s *storage.Store) {
	t0 := st.Millis(st.Now)
	for _, r := range []*wire.StoreReq{
		st.Req(fuzzRes, st.KindSmall, 0, fakeSigned(t0, 60, st.Single("v"))),
		st.Req(fuzzRes, st.KindList, 0, fakeSigned(t0, 60, st.Array(0, "a")), fakeSigned(t0, 30, st.Array(2, "c"))),
		st.Req(fuzzRes, st.KindDict, 0, fakeSigned(t0, 60, st.Dict([]byte("a"), "A")), fakeSigned(t0, 60, st.Dict([]byte("b"), "B"))),
	} {
		if _, err := s.HandleStore(r, fuzzRequester(), st.Now); err != nil {
			t.Fatal(err)
		}
	}
}

func fetchSeeds() [][]byte {
	all := wire.ArrayRange{First: 0, Last: wire.ArrayAppendIndex}
	reqs := []*wire.FetchReq{
		{Resource: fuzzRes, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindSmall, Model: wire.ModelSingle}}},
		{Resource: fuzzRes, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindList, Model: wire.ModelArray, Indices: []wire.ArrayRange{all}}}},
		{Resource: fuzzRes, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindList, Model: wire.ModelArray, Generation: 1,
			Indices: []wire.ArrayRange{{First: 1, Last: 1}, {First: 2, Last: 0xfffffff0}}}}},
		{Resource: fuzzRes, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindDict, Model: wire.ModelDictionary},
			{Kind: st.KindDict, Model: wire.ModelDictionary, Keys: []wire.DictionaryKey{[]byte("a"), []byte("zz")}}}},
		{Resource: fuzzRes, Specifiers: []wire.StoredDataSpecifier{{Kind: 0xf00000aa, Raw: []byte{1}}}},
	}
	var out [][]byte
	for _, r := range reqs {
		b, err := r.Append(nil)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFuzzSeeds keeps the committed corpora in step with the seeds
// (go test -run TestFuzzSeeds -update rewrites them).
func TestFuzzSeeds(t *testing.T) {
	for name, seeds := range map[string][][]byte{"FuzzHandleStore": storeSeeds(), "FuzzHandleFetch": fetchSeeds()} {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			var content string
			if name == "FuzzHandleStore" {
				content = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\nuint32(%d)\n", s, false, 1000)
			} else {
				content = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint32(%d)\n", s, 1000)
			}
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("%s is missing or stale (run with -update)", path)
			}
		}
	}
}

// snapshot is the whole content of a mem backend, encoded.
func snapshot(t *testing.T, b *mem.Backend) string {
	var buf bytes.Buffer
	type slot struct {
		res  wire.ResourceID
		kind wire.KindID
		gen  uint64
	}
	var slots []slot
	_ = b.Slots(func(res wire.ResourceID, kind wire.KindID, gen uint64) bool {
		slots = append(slots, slot{bytes.Clone(res), kind, gen})
		return true
	})
	slices.SortFunc(slots, func(a, b slot) int {
		if c := bytes.Compare(a.res, b.res); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
	for _, s := range slots {
		fmt.Fprintf(&buf, "%x/%v/%d:", []byte(s.res), s.kind, s.gen)
		_ = b.Scan(s.res, s.kind, func(r *storage.Record) bool {
			enc, err := r.Data.Append(nil)
			if err != nil {
				t.Fatalf("stored record does not encode: %v", err)
			}
			fmt.Fprintf(&buf, "%x@%d,", enc, r.Expires)
			return true
		})
		buf.WriteByte(';')
	}
	return buf.String()
}

// checkProtocolError checks the error_info of the codes that have one.
func checkProtocolError(t *testing.T, err error) {
	var pe *wire.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error is not a ProtocolError: %v", err)
	}
	switch pe.Code {
	case wire.ErrCodeGenerationCounterTooLow:
		var ans wire.StoreAns
		if _, err := ans.Decode(pe.Info); err != nil {
			t.Fatalf("Generation_Counter_Too_Low info: %v", err)
		}
	case wire.ErrCodeUnknownKind:
		if ks, err := storage.UnknownKinds(pe.Info); err != nil || len(ks) == 0 {
			t.Fatalf("Unknown_Kind info %x: %v", pe.Info, err)
		}
	case wire.ErrCodeForbidden, wire.ErrCodeDataTooOld, wire.ErrCodeDataTooLarge, wire.ErrCodeInvalidMessage, wire.ErrCodeNotFound:
	default:
		t.Fatalf("unexpected code %v", pe.Code)
	}
}

// FuzzHandleStore feeds decodable, hostile StoreReqs to HandleStore
// twice. It checks: no panic; errors are ProtocolErrors with well-formed
// error_info; a failed Store changes nothing; a successful one answers a
// StoreAns that encodes, with one response per Kind, and leaves the store
// within every Kind's limits.
func FuzzHandleStore(f *testing.F) {
	for _, s := range storeSeeds() {
		f.Add(s, false, uint32(1000))
	}
	kinds := st.Kinds(f)
	f.Fuzz(func(t *testing.T, body []byte, asReplica bool, delta uint32) {
		req := wire.StoreReq{Models: kinds}
		if _, err := req.Decode(body); err != nil {
			return
		}
		if asReplica && req.ReplicaNumber == 0 {
			req.ReplicaNumber = 1
		}
		s, b, _ := fuzzStore(t)
		populate(t, s)
		at := st.Now.Add(time.Duration(delta) * time.Millisecond)
		for range 2 {
			before := snapshot(t, b)
			res, err := s.HandleStore(&req, fuzzRequester(), at)
			if err != nil {
				checkProtocolError(t, err)
				if after := snapshot(t, b); after != before {
					t.Fatalf("failed store %v changed the store", err)
				}
				continue
			}
			if len(res.Answer.KindResponses) != len(req.KindData) {
				t.Fatalf("%d kind responses for %d kinds", len(res.Answer.KindResponses), len(req.KindData))
			}
			if _, err := res.Answer.Append(nil); err != nil {
				t.Fatalf("answer does not encode: %v", err)
			}
			for _, o := range res.Replicas {
				if o.Req.ReplicaNumber == 0 {
					t.Fatal("replica store with replica number 0")
				}
				if _, err := o.Req.Append(nil); err != nil {
					t.Fatalf("replica store does not encode: %v", err)
				}
			}
			checkLimits(t, s, req.Resource, at)
		}
	})
}

// checkLimits fetches every Kind at res and checks max-count and
// max-size.
func checkLimits(t *testing.T, s *storage.Store, res wire.ResourceID, at time.Time) {
	kt := s.Kinds()
	var specs []wire.StoredDataSpecifier
	for _, id := range kt.IDs() {
		k, _ := kt.Lookup(id)
		sp := wire.StoredDataSpecifier{Kind: id, Model: k.Model}
		if k.Model == wire.ModelArray {
			sp.Indices = []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}
		}
		specs = append(specs, sp)
	}
	ans, err := s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: specs}, at)
	if err != nil {
		t.Fatalf("fetch after store: %v", err)
	}
	for _, kr := range ans.KindResponses {
		k, _ := kt.Lookup(kr.Kind)
		n := 0
		for _, v := range kr.Values {
			if v.Value.Value.Exists {
				n++
			}
			if len(v.Value.Value.Value) > k.MaxSize {
				t.Fatalf("kind %v holds a value of %d bytes", kr.Kind, len(v.Value.Value.Value))
			}
		}
		if n > k.MaxCount || len(kr.Values) > k.MaxCount {
			t.Fatalf("kind %v holds %d values (%d with gaps), max-count %d", kr.Kind, n, len(kr.Values), k.MaxCount)
		}
	}
	if _, err := ans.Append(nil); err != nil {
		t.Fatalf("fetch answer does not encode: %v", err)
	}
}

// FuzzHandleFetch feeds decodable, hostile FetchReqs (and the same
// specifiers as StatReqs) to a populated store. It checks: no panic;
// errors are ProtocolErrors; answers have one response per specifier,
// encode and decode back; no more values than the request can name.
func FuzzHandleFetch(f *testing.F) {
	for _, s := range fetchSeeds() {
		f.Add(s, uint32(1000))
	}
	kinds := st.Kinds(f)
	s, _, _ := fuzzStore(f)
	populate(f, s)
	f.Fuzz(func(t *testing.T, body []byte, delta uint32) {
		req := wire.FetchReq{Models: kinds}
		if _, err := req.Decode(body); err != nil {
			return
		}
		at := st.Now.Add(time.Duration(delta) * time.Millisecond)
		ans, err := s.HandleFetch(&req, at)
		if err != nil {
			checkProtocolError(t, err)
		} else {
			if len(ans.KindResponses) != len(req.Specifiers) {
				t.Fatalf("%d responses for %d specifiers", len(ans.KindResponses), len(req.Specifiers))
			}
			for i, kr := range ans.KindResponses {
				sp := &req.Specifiers[i]
				k, _ := kinds.Lookup(sp.Kind)
				limit := k.MaxCount
				if sp.Model == wire.ModelDictionary && len(sp.Keys) > 0 {
					limit = len(sp.Keys)
				}
				if len(kr.Values) > limit {
					t.Fatalf("specifier %d: %d values, at most %d possible", i, len(kr.Values), limit)
				}
			}
			enc, err := ans.Append(nil)
			if err != nil {
				t.Fatalf("answer does not encode: %v", err)
			}
			dec := wire.FetchAns{Models: kinds}
			if _, err := dec.Decode(enc); err != nil {
				t.Fatalf("answer does not decode: %v", err)
			}
		}
		stat := wire.StatReq(req)
		sans, serr := s.HandleStat(&stat, at)
		if (serr == nil) != (err == nil) {
			t.Fatalf("fetch error %v, stat error %v", err, serr)
		}
		if serr == nil {
			if _, err := sans.Append(nil); err != nil {
				t.Fatalf("stat answer does not encode: %v", err)
			}
		}
	})
}
