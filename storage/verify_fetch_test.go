package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// TestVerifyFetch: RFC 6940 §7.4.2.2, a fetching node verifies every
// value of a FetchAns and discards those that fail: bad signatures,
// expired certificates, values their signer may not write (§7.3), values
// the request did not select, and synthetic values that claim to exist.
// Each case tampers with an honest answer as a malicious responding peer
// could.
func TestVerifyFetch(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0xa1))
	mallory := e.pki.Identity(t, "mallory@"+st.Overlay, st.NodeID(0xb2))
	oldAlice := e.pki.IdentityValid(t, "alice@"+st.Overlay, now.Add(-48*time.Hour), now.Add(-time.Hour), st.NodeID(0xa3))
	res := userRes("alice@" + st.Overlay)
	for i, v := range []string{"one", "two"} {
		e.mustStore(alice, st.Req(res, st.KindList, 0, st.Signed(t, alice, res, st.KindList, ms(time.Duration(i)), 600, st.Array(wire.ArrayAppendIndex, v))))
	}
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 600, st.Single("hi"))))
	certs := alice.Certificates()

	type tamper func(ans *wire.FetchAns) []wire.GenericCertificate
	cases := []struct {
		name    string
		specs   []wire.StoredDataSpecifier
		tamper  tamper
		kept    int
		dropped int
		cause   error
	}{
		{name: "honest", specs: []wire.StoredDataSpecifier{arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: 5}), spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(*wire.FetchAns) []wire.GenericCertificate { return nil }, kept: 3},
		{name: "value changed under the signature", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0].Value.Value.Value = []byte("evil")
				return nil
			}, dropped: 1, cause: security.ErrBadSignature},
		{name: "storage time changed", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0].StorageTime++
				return nil
			}, dropped: 1, cause: security.ErrBadSignature},
		{name: "signed by another user (USER-MATCH)", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0] = st.Signed(t, mallory, res, st.KindSmall, ms(time.Second), 600, st.Single("evil"))
				return mallory.Certificates()
			}, dropped: 1, cause: storage.ErrFetchedValue},
		{name: "expired certificate", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0] = st.Signed(t, oldAlice, res, st.KindSmall, ms(time.Second), 600, st.Single("old"))
				return oldAlice.Certificates()
			}, dropped: 1, cause: security.ErrCertExpired},
		{name: "array value moved to another index", specs: []wire.StoredDataSpecifier{arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: 0})},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0].Value.Index = 7 // outside the requested range; the index is not signed
				return nil
			}, dropped: 1, cause: storage.ErrFetchedValue},
		{name: "kind not requested", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Kind = st.KindList
				a.KindResponses[0].Values[0].Value.Model = wire.ModelArray
				return nil
			}, dropped: 1, cause: storage.ErrFetchedValue},
		{name: "synthetic signature on an existing value", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				sd := storage.Synthetic(wire.ModelSingle, 0, nil)
				sd.Value.Value = wire.DataValue{Exists: true, Value: []byte("evil")}
				a.KindResponses[0].Values[0] = sd
				return nil
			}, dropped: 1, cause: storage.ErrFetchedValue},
		{name: "synthetic nonexistent value is kept", specs: []wire.StoredDataSpecifier{arraySpec(st.KindList, wire.ArrayRange{First: 0, Last: 0})},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				a.KindResponses[0].Values[0] = storage.Synthetic(wire.ModelArray, 0, nil)
				return nil
			}, kept: 1},
		{name: "certificate unknown", specs: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)},
			tamper: func(a *wire.FetchAns) []wire.GenericCertificate {
				stranger := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0xa4))
				a.KindResponses[0].Values[0] = st.Signed(t, stranger, res, st.KindSmall, ms(time.Second), 600, st.Single("x"))
				return nil
			}, dropped: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &wire.FetchReq{Resource: res, Specifiers: c.specs}
			ans, acerts, err := e.s.HandleFetchCerts(req, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(acerts) != 1 || string(acerts[0].Certificate) != string(alice.Cert.Cert.Raw) {
				t.Fatalf("answer certificates %d, want alice's", len(acerts))
			}
			extra := c.tamper(&ans)
			// Decoded as the fetching node receives it.
			enc, err := ans.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			got := wire.FetchAns{Models: e.s.Kinds()}
			if _, err := got.Decode(enc); err != nil {
				t.Fatal(err)
			}
			// A fresh verifier: nothing cached from the stores above.
			fetcher := e.newStore(e.mem, e.pki.Verifier())
			d := fetcher.VerifyFetch(req, &got, append(append([]wire.GenericCertificate{}, certs...), extra...), now)
			kept := 0
			for _, kr := range got.KindResponses {
				kept += len(kr.Values)
			}
			if kept != c.kept || len(d) != c.dropped {
				t.Fatalf("kept %d, discarded %v; want %d kept, %d discarded", kept, d, c.kept, c.dropped)
			}
			for _, x := range d {
				if !errors.Is(x.Err, storage.ErrFetchedValue) || (c.cause != nil && !errors.Is(x.Err, c.cause)) {
					t.Errorf("discard %v, want it to wrap %v", x, c.cause)
				}
			}
		})
	}
}

// TestVerifyFetchCache: a value that verified once is recognised again
// without a public-key operation, but only the very same bytes: a changed
// value, storage time or signature misses the cache and fails, and a
// certificate that has expired since is refused on a hit too (RFC 6940
// §7.4.2.2).
func TestVerifyFetchCache(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0xa1))
	res := userRes("alice@" + st.Overlay)
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(0), 600, st.Single("hi"))))
	req := &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec(st.KindSmall, wire.ModelSingle)}}
	counting := &countingVerifier{Verifier: e.pki.Verifier()}
	fetcher := e.newStore(e.mem, counting)
	fetch := func(at time.Time, tamper func(*wire.StoredData)) []storage.Discarded {
		t.Helper()
		ans, certs, err := e.s.HandleFetchCerts(req, now)
		if err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			tamper(&ans.KindResponses[0].Values[0])
		}
		return fetcher.VerifyFetch(req, &ans, certs, at)
	}
	for i := range 3 {
		if d := fetch(now, nil); len(d) != 0 {
			t.Fatalf("fetch %d: discarded %v", i, d)
		}
	}
	if counting.n != 1 {
		t.Fatalf("%d signature verifications for 3 fetches of one value, want 1", counting.n)
	}
	for name, tamper := range map[string]func(*wire.StoredData){
		"value":        func(sd *wire.StoredData) { sd.Value.Value.Value = []byte("ho") },
		"storage time": func(sd *wire.StoredData) { sd.StorageTime++ },
		"signature":    func(sd *wire.StoredData) { sd.Signature.Value[len(sd.Signature.Value)-1] ^= 1 },
	} {
		if d := fetch(now, tamper); len(d) != 1 || !errors.Is(d[0].Err, security.ErrBadSignature) {
			t.Errorf("%s changed after a cached verification: discarded %v", name, d)
		}
	}
	later := alice.Cert.NotAfter.Add(time.Hour)
	if d := fetch(later, nil); len(d) != 1 {
		t.Errorf("cached value of an expired certificate kept: %v", d)
	}
}

// countingVerifier counts the StoredData signatures it checks.
type countingVerifier struct {
	*security.Verifier
	n int
}

func (c *countingVerifier) VerifyData(res []byte, kind uint32, st uint64, value []byte, sig *wire.Signature, certs []wire.GenericCertificate, want security.Expect, now time.Time) (security.Signer, error) {
	c.n++
	return c.Verifier.VerifyData(res, kind, st, value, sig, certs, want, now)
}
