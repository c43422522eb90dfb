package security

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

var allHashes = []wire.HashAlgorithm{wire.HashSHA1, wire.HashSHA224, wire.HashSHA256, wire.HashSHA384, wire.HashSHA512}

func TestSignVerifyMessageRoundTrip(t *testing.T) {
	keys := map[string]crypto.Signer{"ecdsa": ecKeys()[1], "rsa": rsaKeys()[0]}
	sigs := map[string]wire.SignatureAlgorithm{"ecdsa": wire.SigECDSA, "rsa": wire.SigRSA}
	for name, key := range keys {
		for _, nIDs := range []int{1, 3} {
			for _, h := range allHashes {
				alg := wire.SignatureAndHashAlgorithm{Hash: h, Signature: sigs[name]}
				t.Run(fmt.Sprintf("%v/ids=%d", alg, nIDs), func(t *testing.T) {
					id := validIdentity(t, key, nIDs)
					if err := id.SetAlgorithm(alg); err != nil {
						t.Fatal(err)
					}
					if nIDs > 1 {
						if err := id.UseNodeID(id.Cert.NodeIDs[2]); err != nil {
							t.Fatal(err)
						}
					}
					m := pingMessage(t, id, randomNodeID(t))
					wantType := wire.IdentityCertHash
					if nIDs > 1 {
						wantType = wire.IdentityCertHashNodeID
					}
					if got := m.Security.Signature.Identity.Type; got != wantType {
						t.Fatalf("identity type %v, want %v", got, wantType)
					}
					v := NewVerifier(testTrust(t), 0)
					s, err := v.Verify(m, Expect{NodeID: id.NodeID(), User: id.Cert.User}, testNow)
					if err != nil {
						t.Fatal(err)
					}
					if s.NodeID != id.NodeID() {
						t.Fatalf("signer %v, want %v", s.NodeID, id.NodeID())
					}
					// Second time from the cache, without certificates.
					m.Security.Certificates = nil
					if _, err := v.Verify(m, Expect{NodeID: id.NodeID()}, testNow); err != nil {
						t.Fatalf("from cache: %v", err)
					}
				})
			}
		}
	}
}

func TestIdentityHashAlgorithms(t *testing.T) {
	for _, h := range allHashes {
		t.Run(h.String(), func(t *testing.T) {
			id := validIdentity(t, ecKeys()[1], 2)
			if err := id.SetIdentityHash(h); err != nil {
				t.Fatal(err)
			}
			v := NewVerifier(testTrust(t), 0)
			m := pingMessage(t, id, randomNodeID(t))
			if _, err := v.Verify(m, Expect{}, testNow); err != nil {
				t.Fatal(err)
			}
			// Cached under SHA-256 on insertion; a later lookup in h must
			// index the entry on demand.
			v2 := NewVerifier(testTrust(t), 0)
			if _, err := v2.AddCertificate(id.Chain, testNow); err != nil {
				t.Fatal(err)
			}
			m.Security.Certificates = nil
			if _, err := v2.Verify(m, Expect{}, testNow); err != nil {
				t.Fatalf("cache lookup in %v: %v", h, err)
			}
		})
	}
}

// The streamed digest must equal the digest of what
// wire.AppendMessageSignatureInput builds.
func TestMessageSignatureInput(t *testing.T) {
	id := validIdentity(t, ecKeys()[1], 1)
	sid := id.SignerIdentity()
	contents := []byte{0x00, 0x17, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}
	in, err := wire.AppendMessageSignatureInput(nil, 0xdeadbeef, 42, contents, &sid)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(in)
	got, err := hashMessageInput(crypto.SHA256, 0xdeadbeef, 42, contents, &sid)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want[:]) {
		t.Fatal("streamed message digest differs from wire.AppendMessageSignatureInput")
	}
}

func TestSignVerifyData(t *testing.T) {
	res := wire.ResourceIDFromName("alice@" + testOverlay)
	value := []byte{1, 0, 0, 0, 3, 'a', 'b', 'c'} // exists=true, value "abc"
	const kind, st = 1, uint64(1700000000000)
	for _, key := range []crypto.Signer{ecKeys()[1], rsaKeys()[0]} {
		id := validIdentity(t, key, 1)
		t.Run(id.Algorithm().String(), func(t *testing.T) {
			sig, err := id.SignData(res, kind, st, value)
			if err != nil {
				t.Fatal(err)
			}
			// Round-trip the Signature through its encoding.
			enc, _ := sig.Append(nil)
			var dec wire.Signature
			if _, err := dec.Decode(enc); err != nil {
				t.Fatal(err)
			}
			v := NewVerifier(testTrust(t), 0)
			certs := id.Certificates()
			if _, err := v.VerifyData(res, kind, st, value, &dec, certs, Expect{User: id.Cert.User}, testNow); err != nil {
				t.Fatal(err)
			}
			tampered := []struct {
				name  string
				res   []byte
				kind  uint32
				st    uint64
				value []byte
			}{
				{"resource", append([]byte{0xff}, res[1:]...), kind, st, value},
				{"kind", res, kind + 1, st, value},
				{"storage_time", res, kind, st + 1, value},
				{"value", res, kind, st, append(append([]byte(nil), value[:7]...), 'x')},
			}
			for _, tc := range tampered {
				_, err := v.VerifyData(tc.res, tc.kind, tc.st, tc.value, &dec, certs, Expect{}, testNow)
				t.Run(tc.name, func(t *testing.T) { wantForbidden(t, err, ErrBadSignature) })
			}
		})
	}
}

func TestSyntheticSignature(t *testing.T) {
	sig := wire.Signature{Algorithm: wire.AlgNone, Identity: wire.SignerIdentity{Type: wire.IdentityNone}}
	if !IsSynthetic(&sig) {
		t.Fatal("IsSynthetic = false")
	}
	v := NewVerifier(testTrust(t), 0)
	_, err := v.VerifyData([]byte{1}, 1, 1, nil, &sig, nil, Expect{}, testNow)
	wantForbidden(t, err, ErrBadIdentity)
}

func TestVerifyRejects(t *testing.T) {
	key := ecKeys()[1]
	good := validIdentity(t, key, 1)
	other := validIdentity(t, ecKeys()[2], 1)
	multi := validIdentity(t, key, 2)
	expired := issue(t, testCA(), key, testOverlay, 1, testNow.Add(-48*time.Hour), testNow.Add(-time.Hour))
	future := issue(t, testCA(), key, testOverlay, 1, testNow.Add(time.Hour), testNow.Add(48*time.Hour))
	otherOverlay := issue(t, testCA(), key, "other.example.net", 1, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	foreignCA := mustCA(ecKeys()[2])
	untrusted := issue(t, foreignCA, key, testOverlay, 1, testNow.Add(-time.Hour), testNow.Add(time.Hour))

	tests := []struct {
		name   string
		msg    func() *wire.Message
		trust  func(*Trust)
		expect Expect
		now    time.Time
		cause  error
	}{
		{name: "wrong key", cause: ErrBadSignature, msg: func() *wire.Message {
			// Signed by other's key but claiming good's certificate.
			m := pingMessage(t, other, randomNodeID(t))
			m.Security.Signature.Identity = good.SignerIdentity()
			m.Security.Certificates = good.Certificates()
			return m
		}},
		{name: "tampered contents byte", cause: ErrBadSignature, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			raw := append([]byte(nil), m.RawContents...)
			raw[len(raw)-5] ^= 0x01
			m.RawContents = raw
			return m
		}},
		{name: "tampered transaction id", cause: ErrBadSignature, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Header.TransactionID++
			return m
		}},
		{name: "tampered signature byte", cause: ErrBadSignature, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			v := append([]byte(nil), m.Security.Signature.Value...)
			v[len(v)/2] ^= 0x80
			m.Security.Signature.Value = v
			return m
		}},
		{name: "overlay hash", cause: ErrBadSignature, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Header.Overlay ^= 1
			return m
		}},
		{name: "algorithm does not fit key", cause: ErrUnsupportedAlgorithm, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Algorithm = wire.AlgRSASHA256
			return m
		}},
		{name: "md5", cause: ErrUnsupportedAlgorithm, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Algorithm.Hash = wire.HashMD5
			return m
		}},
		{name: "expired certificate", cause: ErrCertExpired, msg: func() *wire.Message { return pingMessage(t, expired, randomNodeID(t)) }},
		{name: "not yet valid certificate", cause: ErrCertExpired, msg: func() *wire.Message { return pingMessage(t, future, randomNodeID(t)) }},
		{name: "valid certificate, verified after expiry", cause: ErrCertExpired, now: testNow.Add(48 * time.Hour),
			msg: func() *wire.Message { return pingMessage(t, good, randomNodeID(t)) }},
		{name: "certificate from another overlay", cause: ErrWrongOverlay, msg: func() *wire.Message { return pingMessage(t, otherOverlay, randomNodeID(t)) }},
		{name: "untrusted CA", cause: ErrUntrusted, msg: func() *wire.Message { return pingMessage(t, untrusted, randomNodeID(t)) }},
		{name: "node id not in certificate", cause: ErrNodeIDNotInCert, expect: Expect{NodeID: other.NodeID()},
			msg: func() *wire.Message { return pingMessage(t, good, randomNodeID(t)) }},
		{name: "other node id of same certificate", cause: ErrNodeIDNotInCert, expect: Expect{NodeID: multi.Cert.NodeIDs[1]},
			msg: func() *wire.Message { return pingMessage(t, multi, randomNodeID(t)) }},
		{name: "cert_hash_node_id for no node id", cause: ErrUntrustedOrNeeded, msg: func() *wire.Message {
			m := pingMessage(t, multi, randomNodeID(t))
			sid := m.Security.Signature.Identity
			sid.Hash = CertNodeIDHash(crypto.SHA256, randomNodeID(t), multi.Chain[0])
			m.Security.Signature.Identity = sid
			return m
		}},
		{name: "cert_hash for multi node cert", cause: ErrBadIdentity, msg: func() *wire.Message {
			m := pingMessage(t, multi, randomNodeID(t))
			m.Security.Signature.Identity = wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256, Hash: CertHash(crypto.SHA256, multi.Chain[0])}
			return m
		}},
		{name: "identity none", cause: ErrBadIdentity, msg: func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Identity = wire.SignerIdentity{Type: wire.IdentityNone}
			return m
		}},
		{name: "user mismatch", cause: ErrUserMismatch, expect: Expect{User: "bob@" + testOverlay},
			msg: func() *wire.Message { return pingMessage(t, good, randomNodeID(t)) }},
		{name: "bad-node", cause: ErrBadNode,
			trust: func(tr *Trust) { tr.BadNodes = map[wire.NodeID]struct{}{good.NodeID(): {}} },
			msg:   func() *wire.Message { return pingMessage(t, good, randomNodeID(t)) }},
		{name: "wrong node id length", cause: ErrInvalidCert, trust: func(tr *Trust) { tr.NodeIDLen = 20 },
			msg: func() *wire.Message { return pingMessage(t, good, randomNodeID(t)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := testTrust(t)
			if tc.trust != nil {
				tc.trust(tr)
			}
			now := testNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			v := NewVerifier(tr, 0)
			_, err := v.Verify(tc.msg(), tc.expect, now)
			if tc.cause == ErrUntrustedOrNeeded {
				// The hash names no certificate in the block: the verifier
				// has to ask for it.
				if _, ok := errors.AsType[*CertificateNeededError](err); !ok {
					t.Fatalf("got %v, want *CertificateNeededError", err)
				}
				return
			}
			wantForbidden(t, err, tc.cause)
		})
	}
}

// ErrUntrustedOrNeeded marks a TestVerifyRejects case that expects a
// *CertificateNeededError.
var ErrUntrustedOrNeeded = errors.New("test: certificate needed")

func TestCertificateNeeded(t *testing.T) {
	id := validIdentity(t, ecKeys()[1], 1)
	m := pingMessage(t, id, randomNodeID(t))
	m.Security.Certificates = nil
	v := NewVerifier(testTrust(t), 0)
	for _, tc := range []struct {
		name   string
		expect Expect
		kind   uint32
	}{
		{"by node", Expect{NodeID: id.NodeID(), User: id.Cert.User}, KindCertificateByNode},
		{"by user", Expect{User: id.Cert.User}, KindCertificateByUser},
		{"unknown", Expect{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(m, tc.expect, testNow)
			need, ok := errors.AsType[*CertificateNeededError](err)
			if !ok {
				t.Fatalf("got %v, want *CertificateNeededError", err)
			}
			if need.Kind != tc.kind || need.NodeID != tc.expect.NodeID || need.User != tc.expect.User {
				t.Fatalf("got %+v", need)
			}
			if string(need.Identity.Hash) != string(m.Security.Signature.Identity.Hash) {
				t.Fatal("identity not carried")
			}
		})
	}
	if _, err := v.AddCertificate(id.Chain, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(m, Expect{NodeID: id.NodeID()}, testNow); err != nil {
		t.Fatalf("after AddCertificate: %v", err)
	}
}

func TestIntermediateCA(t *testing.T) {
	root := testCA()
	ikey := ecKeys()[2]
	// An intermediate CA signed by the root.
	ica := mustCA(ikey)
	tmpl := *ica.Cert
	der, err := createCASignedBy(&tmpl, root)
	if err != nil {
		t.Fatal(err)
	}
	ica.Cert = der
	leaf := issue(t, ica, ecKeys()[1], testOverlay, 1, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	id, err := NewIdentity(leaf.Key, [][]byte{leaf.Chain[0], ica.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(testTrust(t), 0)
	if _, err := v.Verify(pingMessage(t, id, randomNodeID(t)), Expect{}, testNow); err != nil {
		t.Fatal(err)
	}
	// Without the intermediate the chain does not build.
	m := pingMessage(t, leaf, randomNodeID(t))
	_, err = NewVerifier(testTrust(t), 0).Verify(m, Expect{}, testNow)
	wantForbidden(t, err, ErrUntrusted)
}

func TestSignBlob(t *testing.T) {
	for _, key := range []crypto.Signer{ecKeys()[1], rsaKeys()[1]} {
		id := validIdentity(t, key, 1)
		blob := []byte("<configuration instance-name=\"overlay.example.org\"></configuration>")
		sb, err := id.SignBlob(blob)
		if err != nil {
			t.Fatal(err)
		}
		v := NewVerifier(testTrust(t), 0)
		if _, err := v.VerifyBlob(blob, &sb, Expect{NodeID: id.NodeID()}, testNow); err != nil {
			t.Fatal(err)
		}
		blob[3] ^= 1
		_, err = v.VerifyBlob(blob, &sb, Expect{}, testNow)
		wantForbidden(t, err, ErrBadSignature)
	}
}

func TestSignMessageKeepsCertificates(t *testing.T) {
	a := validIdentity(t, ecKeys()[1], 1)
	b := validIdentity(t, ecKeys()[2], 1)
	sb := wire.SecurityBlock{Certificates: b.Certificates()}
	if err := a.SignMessage(&sb, 1, 2, []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if len(sb.Certificates) != 2 {
		t.Fatalf("%d certificates, want 2", len(sb.Certificates))
	}
	if len(b.Certificates()) != 1 {
		t.Fatal("identity's certificate list was modified")
	}
	if err := a.SignMessage(&sb, 1, 2, nil); err != nil || len(sb.Certificates) != 2 {
		t.Fatalf("re-sign duplicated certificates: %d, %v", len(sb.Certificates), err)
	}
}

// Verifiers are shared by connection goroutines; run with -race.
func TestVerifierConcurrent(t *testing.T) {
	v := NewVerifier(testTrust(t), 2) // small: forces eviction
	ids := []*Identity{validIdentity(t, ecKeys()[1], 1), validIdentity(t, ecKeys()[2], 2), validIdentity(t, ecKeys()[1], 1)}
	msgs := make([]*wire.Message, len(ids))
	for i, id := range ids {
		msgs[i] = pingMessage(t, id, randomNodeID(t))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				k := (g + i) % len(msgs)
				if _, err := v.Verify(msgs[k], Expect{NodeID: ids[k].NodeID()}, testNow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v.Cache().Len() > 2 {
		t.Fatalf("cache holds %d, limit 2", v.Cache().Len())
	}
}
