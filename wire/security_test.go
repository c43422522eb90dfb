package wire

import "testing"

// ed25519 is code point 0x0807 in the TLS SignatureAndHashAlgorithm
// registry (RFC 8422 §5.1.3).
func TestAlgEd25519(t *testing.T) {
	sig := Signature{Algorithm: AlgEd25519, Identity: SignerIdentity{Type: IdentityCertHash, HashAlg: HashSHA256, Hash: make([]byte, 32)}, Value: make([]byte, 64)}
	b, err := sig.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x08 || b[1] != 0x07 {
		t.Fatalf("encoded as %#x %#x, want 0x08 0x07", b[0], b[1])
	}
	var dec Signature
	if _, err := dec.Decode(b); err != nil {
		t.Fatal(err)
	}
	if dec.Algorithm != AlgEd25519 {
		t.Fatalf("decoded %v", dec.Algorithm)
	}
	for _, tc := range []struct{ got, want string }{
		{AlgEd25519.String(), "ed25519"},
		{HashIntrinsic.String(), "intrinsic"},
		{SigEd25519.String(), "ed25519"},
		{AlgECDSASHA256.String(), "ecdsa-sha256"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
