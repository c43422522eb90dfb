package storage_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// BenchmarkStoreFetch is one Store of a single value followed by one
// Fetch of it, on the in-memory backend: "rules" behind a verifier that
// accepts a marker signature (the cost of the storage rules and the
// backend), "ecdsa" with real ECDSA P-256 signature verification (signing
// is outside the timer).
func BenchmarkStoreFetch(b *testing.B) {
	res := fuzzRes
	fetch := &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindSmall, Model: wire.ModelSingle}}}
	b.Run("rules", func(b *testing.B) {
		s, _, _ := fuzzStore(b)
		from := fuzzRequester()
		t0 := st.Millis(st.Now)
		var i uint64
		b.ReportAllocs()
		for b.Loop() {
			i++
			req := st.Req(res, st.KindSmall, 0, fakeSigned(t0+i, 60, st.Single("sip:a@192.0.2.1")))
			if _, err := s.HandleStore(req, from, st.Now); err != nil {
				b.Fatal(err)
			}
			if _, err := s.HandleFetch(fetch, st.Now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("ecdsa", func(b *testing.B) {
		pki := st.NewPKI(b)
		alice := pki.Identity(b, "alice@"+st.Overlay, st.NodeID(1))
		ures := storage.UserResourceID(storage.ChordHash, "alice@"+st.Overlay)
		s, err := storage.New(storage.Config{Kinds: st.Kinds(b), Backend: mem.New(), Verifier: pki.Verifier()})
		if err != nil {
			b.Fatal(err)
		}
		from := st.Requester(alice)
		ufetch := &wire.FetchReq{Resource: ures, Specifiers: fetch.Specifiers}
		t0 := st.Millis(st.Now)
		var i uint64
		b.ReportAllocs()
		for b.Loop() {
			i++
			b.StopTimer()
			req := st.Req(ures, st.KindSmall, 0, st.Signed(b, alice, ures, st.KindSmall, t0+i, 60, st.Single("sip:a@192.0.2.1")))
			b.StartTimer()
			if _, err := s.HandleStore(req, from, st.Now); err != nil {
				b.Fatal(err)
			}
			if _, err := s.HandleFetch(ufetch, st.Now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkMemBytesPerValue stores perValueN dictionary entries (16-byte
// key, 64-byte value, a 72-byte signature value with a 32-byte
// certificate hash, as with ECDSA P-256 and SHA-256) through a Store into
// the in-memory backend and reports the heap they hold, per value,
// measured with runtime.MemStats. The signer's certificate is shared by
// all values and not counted.
func BenchmarkMemBytesPerValue(b *testing.B) {
	const perValueN = 20000
	kinds, err := storage.NewKindTable(storage.Kind{ID: st.KindDict, Model: wire.ModelDictionary, Policy: storage.PolicyUserMatch, MaxCount: perValueN})
	if err != nil {
		b.Fatal(err)
	}
	sig := st.FakeSignature(fuzzNode)
	sig.Identity.Hash = append(sig.Identity.Hash, make([]byte, 32-len(sig.Identity.Hash))...)
	sig.Value = append([]byte("ok"), make([]byte, 70)...)
	value := make([]byte, 64)
	t0 := st.Millis(st.Now)
	var perValue float64
	for b.Loop() {
		b.StopTimer()
		reqs := make([]*wire.StoreReq, perValueN)
		for i := range reqs {
			key := make([]byte, 16)
			key[0], key[1], key[2] = byte(i>>16), byte(i>>8), byte(i)
			sd := wire.StoredData{StorageTime: t0, Lifetime: 3600, Value: wire.StoredDataValue{Model: wire.ModelDictionary, Key: key,
				Value: wire.DataValue{Exists: true, Value: value}}, Signature: sig}
			reqs[i] = st.Req(fuzzRes, st.KindDict, 0, sd)
		}
		backend := mem.New()
		s, err := storage.New(storage.Config{Kinds: kinds, Backend: backend, Verifier: bigSigVerifier{}})
		if err != nil {
			b.Fatal(err)
		}
		from := fuzzRequester()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, r := range reqs {
			if _, err := s.HandleStore(r, from, st.Now); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if backend.Len() != perValueN {
			b.Fatalf("%d values stored", backend.Len())
		}
		perValue = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / perValueN
		runtime.KeepAlive(s)
		runtime.KeepAlive(reqs)
		b.StartTimer()
	}
	b.ReportMetric(perValue, "bytes/value")
	b.ReportMetric(0, "ns/op")
}

// bigSigVerifier is st.FakeVerifier for Node-IDs carried in the first 16
// bytes of a longer certificate hash.
type bigSigVerifier struct{}

func (bigSigVerifier) VerifyData(res []byte, kind uint32, t uint64, v []byte, sig *wire.Signature, certs []wire.GenericCertificate, want security.Expect, now time.Time) (security.Signer, error) {
	c := *sig
	c.Identity.Hash = c.Identity.Hash[:16]
	return st.FakeVerifier{User: fuzzUser}.VerifyData(res, kind, t, v, &c, certs, want, now)
}

func (bigSigVerifier) AddCertificate([][]byte, time.Time) (*security.NodeCert, error) {
	return nil, security.ErrUntrusted
}

// BenchmarkVerifyFetch: the fetching node's check of a FetchAns of 1 and
// of 100 dictionary values (RFC 6940 §7.4.2.2), ECDSA P-256 signed by one
// user: "cold" with the verified-signature cache empty (a public-key
// verification per value), "cached" for values fetched before.
func BenchmarkVerifyFetch(b *testing.B) {
	pki := st.NewPKI(b)
	alice := pki.Identity(b, "alice@"+st.Overlay, st.NodeID(1))
	res := storage.UserResourceID(storage.ChordHash, "alice@"+st.Overlay)
	const kind wire.KindID = 0xf0000010
	kinds, err := storage.NewKindTable(storage.Kind{ID: kind, Model: wire.ModelDictionary, Policy: storage.PolicyUserMatch, MaxCount: 128, MaxSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	verifier := pki.Verifier()
	newStore := func() *storage.Store {
		s, err := storage.New(storage.Config{Kinds: kinds, Backend: mem.New(), Verifier: verifier})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	for _, n := range []int{1, 100} {
		req := &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: kind, Model: wire.ModelDictionary}}}
		kr := wire.FetchKindResponse{Kind: kind, Generation: 1}
		for i := range n {
			key := []byte{byte(i)}
			kr.Values = append(kr.Values, st.Signed(b, alice, res, kind, st.Millis(st.Now), 600, st.Dict(key, "sip:alice@192.0.2.1")))
		}
		certs := alice.Certificates()
		run := func(b *testing.B, s func() *storage.Store) {
			b.ReportAllocs()
			for b.Loop() {
				ans := wire.FetchAns{KindResponses: []wire.FetchKindResponse{kr}}
				ans.KindResponses[0].Values = append([]wire.StoredData(nil), kr.Values...)
				if d := s().VerifyFetch(req, &ans, certs, st.Now); len(d) != 0 {
					b.Fatal(d)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1000, "µs/value")
		}
		b.Run(strconv.Itoa(n)+"/cold", func(b *testing.B) { run(b, newStore) })
		warm := newStore()
		b.Run(strconv.Itoa(n)+"/cached", func(b *testing.B) { run(b, func() *storage.Store { return warm }) })
	}
}
