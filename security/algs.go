package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers SHA-1 for verification of rsa-sha1 and ecdsa-sha1
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"

	"github.com/goreload/reload/wire"
)

// cryptoHash maps a TLS HashAlgorithm to crypto.Hash; MD5 and unknown
// values give 0.
func cryptoHash(h wire.HashAlgorithm) crypto.Hash {
	switch h {
	case wire.HashSHA1:
		return crypto.SHA1
	case wire.HashSHA224:
		return crypto.SHA224
	case wire.HashSHA256:
		return crypto.SHA256
	case wire.HashSHA384:
		return crypto.SHA384
	case wire.HashSHA512:
		return crypto.SHA512
	}
	return 0
}

// HashAlgorithmOf maps crypto.Hash back to the TLS value (HashNone for
// hashes RELOAD cannot name).
func HashAlgorithmOf(h crypto.Hash) wire.HashAlgorithm {
	switch h {
	case crypto.SHA1:
		return wire.HashSHA1
	case crypto.SHA224:
		return wire.HashSHA224
	case crypto.SHA256:
		return wire.HashSHA256
	case crypto.SHA384:
		return wire.HashSHA384
	case crypto.SHA512:
		return wire.HashSHA512
	}
	return wire.HashNone
}

// SupportedAlgorithm reports whether alg can be verified by this package:
// rsa or ecdsa with sha1, sha224, sha256, sha384 or sha512, and ed25519
// with the intrinsic hash (RFC 8422 §5.1.3).
func SupportedAlgorithm(alg wire.SignatureAndHashAlgorithm) bool {
	if alg == wire.AlgEd25519 {
		return true
	}
	if cryptoHash(alg.Hash) == 0 {
		return false
	}
	return alg.Signature == wire.SigRSA || alg.Signature == wire.SigECDSA
}

// checkKeyAlg verifies that alg fits the public key pub and returns the
// hash the input is digested with before signing: 0 for ed25519, which
// signs the whole input (PureEdDSA, RFC 8032 §5.1.6).
func checkKeyAlg(alg wire.SignatureAndHashAlgorithm, pub crypto.PublicKey) (crypto.Hash, error) {
	if alg.Signature == wire.SigEd25519 || alg.Hash == wire.HashIntrinsic {
		if _, ok := pub.(ed25519.PublicKey); ok && alg == wire.AlgEd25519 {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: %v with %T", ErrUnsupportedAlgorithm, alg, pub)
	}
	h := cryptoHash(alg.Hash)
	if h == 0 {
		return 0, fmt.Errorf("%w: hash %v", ErrUnsupportedAlgorithm, alg.Hash)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey:
		if alg.Signature == wire.SigECDSA {
			return h, nil
		}
	case *rsa.PublicKey:
		if alg.Signature == wire.SigRSA {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w: %v with %T", ErrUnsupportedAlgorithm, alg, pub)
}

// signDigest signs a digest made with h. ECDSA signatures are DER
// (ECDSA-Sig-Value) as in TLS; RSA signatures are RSASSA-PKCS1-v1_5.
func signDigest(key crypto.Signer, h crypto.Hash, digest []byte) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digest)
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(nil, k, h, digest)
	}
	// Other signers (HSMs, agents) get the generic interface; PSS would
	// be wrong for RELOAD's "rsa", so only accept what the key type says.
	return key.Sign(rand.Reader, digest, h)
}

// signPure signs the whole input msg with an Ed25519 key (PureEdDSA, RFC
// 8032 §5.1.6; the signature is the 64-byte R || S).
func signPure(key crypto.Signer, msg []byte) ([]byte, error) {
	if k, ok := key.(ed25519.PrivateKey); ok {
		return ed25519.Sign(k, msg), nil
	}
	// Other Ed25519 signers: crypto.Hash(0) asks for PureEdDSA.
	return key.Sign(rand.Reader, msg, crypto.Hash(0))
}

// verifyPure checks an Ed25519 signature over the whole input msg.
func verifyPure(pub crypto.PublicKey, msg, sig []byte) bool {
	k, ok := pub.(ed25519.PublicKey)
	return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig)
}

// verifyDigest checks sig over a digest made with h.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	}
	return false
}
