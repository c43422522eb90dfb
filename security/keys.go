package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"

	"github.com/goreload/reload/wire"
)

// KeyAlgorithm is the kind of key a node uses.
type KeyAlgorithm uint8

// Key algorithms. ECDSA P-256 is the default; RSA-2048 is what RFC 6940
// §6.3.4 makes mandatory to implement; Ed25519 (signature algorithm
// ed25519, RFC 8422 §5.1.3) is an option whose signing and verification
// are cheap in time and allocations.
const (
	KeyECDSAP256 KeyAlgorithm = iota
	KeyRSA2048
	KeyEd25519
)

func (a KeyAlgorithm) String() string {
	switch a {
	case KeyECDSAP256:
		return "ecdsa"
	case KeyRSA2048:
		return "rsa"
	case KeyEd25519:
		return "ed25519"
	}
	return "KeyAlgorithm(" + strconv.Itoa(int(a)) + ")"
}

// ParseKeyAlgorithm maps "ecdsa" (or "ecdsa-p256", ""), "rsa" (or
// "rsa-2048") and "ed25519" to a KeyAlgorithm.
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch s {
	case "", "ecdsa", "ecdsa-p256", "p256":
		return KeyECDSAP256, nil
	case "rsa", "rsa-2048", "rsa2048":
		return KeyRSA2048, nil
	case "ed25519":
		return KeyEd25519, nil
	}
	return 0, fmt.Errorf("security: unknown key algorithm %q (want ecdsa, rsa or ed25519)", s)
}

// GenerateKey makes a new private key from the system's secure random
// source.
func GenerateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, ErrUnsupportedAlgorithm
}

// DefaultAlgorithm is the signature algorithm this package uses with key:
// ecdsa-sha256 for ECDSA keys, rsa-sha256 for RSA keys, ed25519 for
// Ed25519 keys.
func DefaultAlgorithm(key crypto.PublicKey) (wire.SignatureAndHashAlgorithm, error) {
	switch key.(type) {
	case *ecdsa.PublicKey:
		return wire.AlgECDSASHA256, nil
	case *rsa.PublicKey:
		return wire.AlgRSASHA256, nil
	case ed25519.PublicKey:
		return wire.AlgEd25519, nil
	}
	return wire.SignatureAndHashAlgorithm{}, ErrUnsupportedAlgorithm
}

// PEM block types written by this package.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
	pemCSR         = "CERTIFICATE REQUEST"
)

// MarshalKeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
func MarshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParseKeyPEM decodes the first private key PEM block of b (PKCS #8,
// PKCS #1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY").
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("security: no private key PEM block")
		}
		var key any
		var err error
		switch blk.Type {
		case pemPrivateKey:
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("security: private key: %w", err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, ErrUnsupportedAlgorithm
		}
		return s, nil
	}
}

// MarshalCertsPEM encodes DER certificates as consecutive CERTIFICATE PEM
// blocks.
func MarshalCertsPEM(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: d})...)
	}
	return out
}

// ParseCertsPEM returns the DER bytes of every CERTIFICATE block in b, in
// order. It fails when there is none.
func ParseCertsPEM(b []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == pemCertificate {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("security: no CERTIFICATE PEM block")
	}
	return out, nil
}
