package security

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// Ed25519 node keys sign with ed25519 (hash intrinsic 8, signature 7;
// RFC 8422 §5.1.3) over the whole signature input.

func TestEd25519Identity(t *testing.T) {
	for _, nIDs := range []int{1, 3} {
		id := validIdentity(t, edKeys()[0], nIDs)
		if got := id.Algorithm(); got != wire.AlgEd25519 {
			t.Fatalf("algorithm %v, want %v", got, wire.AlgEd25519)
		}
		if id.SignerIdentity().HashAlg != wire.HashSHA256 {
			t.Fatalf("identity hash %v, want sha256", id.SignerIdentity().HashAlg)
		}
		if nIDs > 1 {
			if err := id.UseNodeID(id.Cert.NodeIDs[2]); err != nil {
				t.Fatal(err)
			}
		}
		m := pingMessage(t, id, randomNodeID(t))
		if got := m.Security.Signature.Algorithm; got != (wire.SignatureAndHashAlgorithm{Hash: 8, Signature: 7}) {
			t.Fatalf("algorithm on the wire %v, want {8, 7}", got)
		}
		if n := len(m.Security.Signature.Value); n != ed25519.SignatureSize {
			t.Fatalf("signature of %d bytes, want %d", n, ed25519.SignatureSize)
		}
		// The signature is PureEdDSA over the input of RFC 6940 §6.3.4.
		sid := m.Security.Signature.Identity
		in, err := wire.AppendMessageSignatureInput(nil, m.Header.Overlay, m.Header.TransactionID, m.RawContents, &sid)
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(id.Key.Public().(ed25519.PublicKey), in, m.Security.Signature.Value) {
			t.Fatal("signature is not ed25519 over overlay || transaction_id || MessageContents || SignerIdentity")
		}
		v := NewVerifier(testTrust(t), 0)
		s, err := v.Verify(m, Expect{NodeID: id.NodeID(), User: id.Cert.User}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if s.NodeID != id.NodeID() {
			t.Fatalf("signer %v, want %v", s.NodeID, id.NodeID())
		}
		m.Security.Certificates = nil
		if _, err := v.Verify(m, Expect{NodeID: id.NodeID()}, testNow); err != nil {
			t.Fatalf("from cache: %v", err)
		}
	}
}

// A message with contents too large for a small buffer grows the pooled
// input buffer; signing and verifying must still agree, again and again.
func TestEd25519LargeMessage(t *testing.T) {
	id := validIdentity(t, edKeys()[1], 1)
	v := NewVerifier(testTrust(t), 0)
	for _, n := range []int{0, 10, 5000, 100 << 10, 10} {
		contents := make([]byte, n)
		for i := range contents {
			contents[i] = byte(i)
		}
		var sb wire.SecurityBlock
		if err := id.SignMessage(&sb, 7, uint64(n), contents); err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyMessage(7, uint64(n), contents, &sb, Expect{}, testNow); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if n > 0 {
			contents[n-1] ^= 1
			_, err := v.VerifyMessage(7, uint64(n), contents, &sb, Expect{}, testNow)
			wantForbidden(t, err, ErrBadSignature)
		}
	}
}

func TestEd25519Rejects(t *testing.T) {
	good := validIdentity(t, edKeys()[0], 1)
	other := validIdentity(t, edKeys()[1], 1)
	ec := validIdentity(t, ecKeys()[1], 1)
	tests := []struct {
		name  string
		msg   func() *wire.Message
		cause error
	}{
		{"tampered signature byte", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			v := append([]byte(nil), m.Security.Signature.Value...)
			v[len(v)/2] ^= 0x80
			m.Security.Signature.Value = v
			return m
		}, ErrBadSignature},
		{"truncated signature", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Value = m.Security.Signature.Value[:ed25519.SignatureSize-1]
			return m
		}, ErrBadSignature},
		{"tampered contents byte", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			raw := append([]byte(nil), m.RawContents...)
			raw[len(raw)-1] ^= 0x01
			m.RawContents = raw
			return m
		}, ErrBadSignature},
		{"tampered transaction id", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Header.TransactionID++
			return m
		}, ErrBadSignature},
		{"wrong key", func() *wire.Message {
			m := pingMessage(t, other, randomNodeID(t))
			m.Security.Signature.Identity = good.SignerIdentity()
			m.Security.Certificates = good.Certificates()
			return m
		}, ErrBadSignature},
		{"ed25519 signature naming an ecdsa certificate", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Identity = ec.SignerIdentity()
			m.Security.Certificates = ec.Certificates()
			return m
		}, ErrUnsupportedAlgorithm},
		{"ecdsa-sha256 with an ed25519 certificate", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Algorithm = wire.AlgECDSASHA256
			return m
		}, ErrUnsupportedAlgorithm},
		{"ecdsa signature claiming ed25519", func() *wire.Message {
			m := pingMessage(t, ec, randomNodeID(t))
			m.Security.Signature.Algorithm = wire.AlgEd25519
			return m
		}, ErrUnsupportedAlgorithm},
		{"ed25519 with sha256", func() *wire.Message {
			m := pingMessage(t, good, randomNodeID(t))
			m.Security.Signature.Algorithm.Hash = wire.HashSHA256
			return m
		}, ErrUnsupportedAlgorithm},
		{"ecdsa with the intrinsic hash", func() *wire.Message {
			m := pingMessage(t, ec, randomNodeID(t))
			m.Security.Signature.Algorithm.Hash = wire.HashIntrinsic
			return m
		}, ErrUnsupportedAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(testTrust(t), 0).Verify(tc.msg(), Expect{}, testNow)
			wantForbidden(t, err, tc.cause)
		})
	}
}

func TestEd25519AlgorithmMismatch(t *testing.T) {
	ed := validIdentity(t, edKeys()[0], 1)
	for _, alg := range []wire.SignatureAndHashAlgorithm{wire.AlgECDSASHA256, wire.AlgRSASHA256, {Hash: wire.HashSHA512, Signature: wire.SigEd25519}} {
		if err := ed.SetAlgorithm(alg); err == nil {
			t.Errorf("ed25519 key accepted %v", alg)
		}
		if _, err := ed.SignBlobWith(alg, []byte("x")); err == nil {
			t.Errorf("ed25519 key signed a blob with %v", alg)
		}
	}
	for _, key := range []crypto.Signer{ecKeys()[1], rsaKeys()[0]} {
		id := validIdentity(t, key, 1)
		if err := id.SetAlgorithm(wire.AlgEd25519); err == nil {
			t.Errorf("%T accepted ed25519", key)
		}
	}
	if !SupportedAlgorithm(wire.AlgEd25519) {
		t.Error("ed25519 not supported")
	}
	if SupportedAlgorithm(wire.SignatureAndHashAlgorithm{Hash: wire.HashSHA256, Signature: wire.SigEd25519}) {
		t.Error("ed25519-sha256 supported")
	}
	if err := ed.SetIdentityHash(wire.HashIntrinsic); err == nil {
		t.Error("SignerIdentity hash intrinsic accepted")
	}
}

func TestEd25519SignData(t *testing.T) {
	id := validIdentity(t, edKeys()[0], 1)
	res := wire.ResourceIDFromName("alice@" + testOverlay)
	value := []byte{1, 0, 0, 0, 3, 'a', 'b', 'c'}
	const kind, st = 1, uint64(1700000000000)
	sig, err := id.SignData(res, kind, st, value)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Algorithm != wire.AlgEd25519 {
		t.Fatalf("algorithm %v", sig.Algorithm)
	}
	// PureEdDSA over resource_id || kind || storage_time ||
	// StoredDataValue || SignerIdentity (RFC 6940 §7.1).
	in, err := appendDataInput(nil, res, kind, st, value, &sig.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(id.Key.Public().(ed25519.PublicKey), in, sig.Value) {
		t.Fatal("signature is not ed25519 over the StoredData input")
	}
	v := NewVerifier(testTrust(t), 0)
	if _, err := v.VerifyData(res, kind, st, value, &sig, id.Certificates(), Expect{User: id.Cert.User}, testNow); err != nil {
		t.Fatal(err)
	}
	_, err = v.VerifyData(res, kind, st+1, value, &sig, id.Certificates(), Expect{}, testNow)
	wantForbidden(t, err, ErrBadSignature)
	_, err = v.VerifyData(res, kind, st, append(append([]byte(nil), value[:7]...), 'x'), &sig, id.Certificates(), Expect{}, testNow)
	wantForbidden(t, err, ErrBadSignature)
}

func TestEd25519SignBlob(t *testing.T) {
	id := validIdentity(t, edKeys()[1], 1)
	blob := []byte("<configuration instance-name=\"overlay.example.org\"></configuration>")
	sb, err := id.SignBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(id.Key.Public().(ed25519.PublicKey), blob, sb.Signature.Value) {
		t.Fatal("blob signature is not ed25519 over the blob")
	}
	v := NewVerifier(testTrust(t), 0)
	if _, err := v.VerifyBlob(blob, &sb, Expect{NodeID: id.NodeID()}, testNow); err != nil {
		t.Fatal(err)
	}
	blob[3] ^= 1
	_, err = v.VerifyBlob(blob, &sb, Expect{}, testNow)
	wantForbidden(t, err, ErrBadSignature)
}

// A mixed overlay: ECDSA and Ed25519 nodes verify each other with one
// Verifier.
func TestMixedAlgorithms(t *testing.T) {
	ids := []*Identity{validIdentity(t, edKeys()[0], 1), validIdentity(t, ecKeys()[1], 1), validIdentity(t, edKeys()[1], 2)}
	v := NewVerifier(testTrust(t), 0)
	for range 2 {
		for _, id := range ids {
			if _, err := v.Verify(pingMessage(t, id, randomNodeID(t)), Expect{NodeID: id.NodeID()}, testNow); err != nil {
				t.Fatalf("%v: %v", id.Algorithm(), err)
			}
		}
	}
}

func TestEd25519KeyPEM(t *testing.T) {
	k, err := ParseKeyAlgorithm("ed25519")
	if err != nil || k != KeyEd25519 || k.String() != "ed25519" {
		t.Fatalf("ParseKeyAlgorithm: %v %v", k, err)
	}
	key := edKeys()[0]
	p, err := MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(key.Public(), back.Public()) {
		t.Fatal("key changed in PEM round trip")
	}
	id := validIdentity(t, key, 1)
	loaded, err := LoadIdentity(MarshalCertsPEM(id.Chain...), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(testTrust(t), 0).Verify(pingMessage(t, loaded, randomNodeID(t)), Expect{}, testNow); err != nil {
		t.Fatal(err)
	}
	// A CSR made with the key carries it (enrollment, RFC 6940 §11.3).
	der, err := CreateCSR(key, "alice@"+testOverlay)
	if err != nil {
		t.Fatal(err)
	}
	csr, user, err := ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	if csr.PublicKeyAlgorithm != x509.Ed25519 || user != "alice@"+testOverlay {
		t.Fatalf("CSR %v for %q", csr.PublicKeyAlgorithm, user)
	}
}

// A self-signed Ed25519 node certificate (RFC 6940 §11.3.1) verifies.
func TestEd25519SelfSigned(t *testing.T) {
	key := edKeys()[1]
	der, _, err := CreateSelfSigned(key, "", testOverlay, crypto.SHA256, 1, 16, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	tr := &Trust{Overlay: testOverlay, SelfSignedPermitted: true}
	if _, err := NewVerifier(tr, 0).Verify(pingMessage(t, id, randomNodeID(t)), Expect{NodeID: id.NodeID()}, testNow); err != nil {
		t.Fatal(err)
	}
}
