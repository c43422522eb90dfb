package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/goreload/reload/wire"
)

// The Sign/VerifyPing benchmarks measure a whole message signature (input
// built and hashed, signed, SignerIdentity and certificates attached;
// certificate found in the cache and checked, signature verified); the
// Raw benchmarks measure the bare crypto operation on a SHA-256 digest
// (for Ed25519, on 32 bytes of the same size).
// The difference is this package's overhead.

type benchCase struct {
	name string
	key  func() crypto.Signer
}

var benchCases = []benchCase{
	{"ecdsa-p256", func() crypto.Signer { return ecKeys()[1] }},
	{"rsa-2048", func() crypto.Signer { return rsaKeys()[0] }},
	{"ed25519", func() crypto.Signer { return edKeys()[0] }},
}

// pingContents is an encoded Ping request MessageContents.
var pingContents = []byte{0x00, 0x17, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}

func BenchmarkSignPing(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			id := validIdentity(b, bc.key(), 1)
			var sb wire.SecurityBlock
			b.ReportAllocs()
			for b.Loop() {
				if err := id.SignMessage(&sb, 0x12345678, 42, pingContents); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyPing(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			id := validIdentity(b, bc.key(), 1)
			var sb wire.SecurityBlock
			if err := id.SignMessage(&sb, 0x12345678, 42, pingContents); err != nil {
				b.Fatal(err)
			}
			v := NewVerifier(testTrust(b), 0)
			want := Expect{NodeID: id.NodeID()}
			if _, err := v.VerifyMessage(0x12345678, 42, pingContents, &sb, want, testNow); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.VerifyMessage(0x12345678, 42, pingContents, &sb, want, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var benchDigest = sha256.Sum256([]byte("RELOAD ping signature input"))

func BenchmarkRawECDSASign(b *testing.B) {
	key := ecKeys()[1].(*ecdsa.PrivateKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, benchDigest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawECDSAVerify(b *testing.B) {
	key := ecKeys()[1].(*ecdsa.PrivateKey)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, benchDigest[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, benchDigest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkRawRSASign(b *testing.B) {
	key := rsaKeys()[0].(*rsa.PrivateKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, benchDigest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawRSAVerify(b *testing.B) {
	key := rsaKeys()[0].(*rsa.PrivateKey)
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, benchDigest[:])
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, benchDigest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawEd25519Sign(b *testing.B) {
	key := edKeys()[0].(ed25519.PrivateKey)
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(key, benchDigest[:])
	}
}

func BenchmarkRawEd25519Verify(b *testing.B) {
	key := edKeys()[0].(ed25519.PrivateKey)
	pub := key.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(key, benchDigest[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, benchDigest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}
