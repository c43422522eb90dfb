package config

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Errors of signature checks, wrapped in a *wire.ProtocolError with
// Error_Forbidden.
var (
	ErrUnsigned          = errors.New("config: not signed")
	ErrNotSigner         = errors.New("config: signer is not a configuration-signer")
	ErrNotKindSigner     = errors.New("config: signer is not a kind-signer")
	ErrAlgorithmMismatch = errors.New("config: signature algorithm attribute does not match the SecurityBlock")
)

// AlgorithmRSASHA1 is the one signature algorithm name RFC 6940 §11.1.1
// defines.
const AlgorithmRSASHA1 = "rsa-sha1"

// ParseAlgorithm maps a signature algorithm name to its TLS pair:
// "rsa-sha1" (RFC 6940), and as an extension "<rsa|ecdsa>-<sha1|sha224|
// sha256|sha384|sha512>".
func ParseAlgorithm(name string) (wire.SignatureAndHashAlgorithm, error) {
	sig, hash, ok := strings.Cut(strings.ToLower(strings.TrimSpace(name)), "-")
	var a wire.SignatureAndHashAlgorithm
	switch sig {
	case "rsa":
		a.Signature = wire.SigRSA
	case "ecdsa":
		a.Signature = wire.SigECDSA
	default:
		ok = false
	}
	switch hash {
	case "sha1":
		a.Hash = wire.HashSHA1
	case "sha224":
		a.Hash = wire.HashSHA224
	case "sha256":
		a.Hash = wire.HashSHA256
	case "sha384":
		a.Hash = wire.HashSHA384
	case "sha512":
		a.Hash = wire.HashSHA512
	default:
		ok = false
	}
	if !ok {
		return a, fmt.Errorf("%w: signature algorithm %q", security.ErrUnsupportedAlgorithm, name)
	}
	return a, nil
}

// signBlob signs blob with id using the named algorithm ("" means the
// identity's own).
func signBlob(id *security.Identity, algorithm string, blob []byte) (Signature, error) {
	alg := id.Algorithm()
	if algorithm != "" {
		var err error
		if alg, err = ParseAlgorithm(algorithm); err != nil {
			return Signature{}, err
		}
	}
	sb, err := id.SignBlobWith(alg, blob)
	if err != nil {
		return Signature{}, err
	}
	v, err := sb.Append(nil)
	if err != nil {
		return Signature{}, err
	}
	return Signature{Algorithm: algorithm, Value: v}, nil
}

// Sign encodes c with d's namespace prefixes, keeps the bytes in c.Raw
// and replaces c's signatures with one made by id (a configuration
// signer) with the named algorithm: AlgorithmRSASHA1 for RFC 6940, an
// extension name such as "ecdsa-sha256", or "" for the identity's own
// algorithm (the attribute is then left out). Sign the kinds first
// (SignKind): their bytes are inside the configuration.
func (d *Document) Sign(c *Configuration, id *security.Identity, algorithm string) error {
	c.Raw = nil
	raw, err := d.encodeConfiguration(c)
	if err != nil {
		return err
	}
	s, err := signBlob(id, algorithm, raw)
	if err != nil {
		return err
	}
	c.Raw = raw
	c.Signatures = []Signature{s}
	return nil
}

// SignKind encodes the kind of kb, keeps its bytes in kb.Kind.Raw and sets
// its kind-signature, made by id (a kind signer). The enclosing
// configuration's Raw is cleared.
func (d *Document) SignKind(c *Configuration, kb *KindBlock, id *security.Identity, algorithm string) error {
	p := newPrefixes(d)
	raw, err := kb.Kind.encode(p)
	if err != nil {
		return err
	}
	d.RootAttrs = append(d.RootAttrs, p.decls...)
	s, err := signBlob(id, algorithm, raw)
	if err != nil {
		return err
	}
	kb.Kind.Raw = raw
	kb.Signature = &s
	c.Raw = nil
	return nil
}

// Trust is the certificate trust this configuration sets up (RFC 6940
// §11.1): its instance name, root-certs (entries that are not
// certificates are skipped), self-signed permission and digest,
// node-id-length and bad-nodes.
func (c *Configuration) Trust() (*security.Trust, error) {
	var roots [][]byte
	for _, der := range c.RootCerts {
		if _, err := x509.ParseCertificate(der); err == nil {
			roots = append(roots, der)
		}
	}
	t, err := security.NewTrust(c.InstanceName, roots)
	if err != nil {
		return nil, err
	}
	t.NodeIDLen = c.NodeIDLength
	if c.SelfSignedPermitted {
		t.SelfSignedPermitted = true
		switch c.SelfSignedDigest {
		case "sha1", "":
			t.SelfSignedDigest = crypto.SHA1
		case "sha256":
			t.SelfSignedDigest = crypto.SHA256
		default:
			return nil, fmt.Errorf("%w: self-signed digest %q", security.ErrUnsupportedAlgorithm, c.SelfSignedDigest)
		}
	}
	if bad := c.BadNodeIDs(); len(bad) > 0 {
		t.BadNodes = make(map[wire.NodeID]struct{}, len(bad))
		for _, id := range bad {
			t.BadNodes[id] = struct{}{}
		}
	}
	return t, nil
}

// verifySignatureBlob checks one Signature element over blob under
// trust and returns the signer.
func verifySignatureBlob(v *security.Verifier, s *Signature, blob []byte, now time.Time) (security.Signer, error) {
	var sb wire.SecurityBlock
	n, err := sb.Decode(s.Value)
	if err != nil || n != len(s.Value) {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: errors.Join(security.ErrBadIdentity, err)}
	}
	if s.Algorithm != "" {
		a, err := ParseAlgorithm(s.Algorithm)
		if err != nil {
			return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: err}
		}
		if a != sb.Signature.Algorithm {
			return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: ErrAlgorithmMismatch}
		}
	}
	return v.VerifyBlob(blob, &sb, security.Expect{}, now)
}

// VerifySignature checks that c (its Raw bytes) is signed by a
// configuration-signer of prev, with a certificate valid at now under
// prev's trust (RFC 6940 §11.1: "signed by one of the
// configuration-signer elements from the previous extant
// configuration"). With prev nil, c is checked against its own signers
// and roots, as when a node first loads a configuration fetched over
// HTTPS. Any one valid signature suffices. Failures are
// *wire.ProtocolError with Error_Forbidden.
func (c *Configuration) VerifySignature(prev *Configuration, now time.Time) (security.Signer, error) {
	if prev == nil {
		prev = c
	}
	if len(c.Signatures) == 0 || c.Raw == nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: ErrUnsigned}
	}
	t, err := prev.Trust()
	if err != nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: err}
	}
	v := security.NewVerifier(t, 16)
	var errs []error
	for i := range c.Signatures {
		s, err := verifySignatureBlob(v, &c.Signatures[i], c.Raw, now)
		if err == nil && !prev.IsConfigurationSigner(s.NodeID) {
			err = &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: fmt.Errorf("%w: %v", ErrNotSigner, s.NodeID)}
		}
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return security.Signer{}, errs[0]
}

// VerifyKindSignature checks that the kind of kb (its Raw bytes) is
// signed by a kind-signer of c (RFC 6940 §11.1, §6.5.4.2).
func (c *Configuration) VerifyKindSignature(kb *KindBlock, now time.Time) (security.Signer, error) {
	if kb.Signature == nil || kb.Kind.Raw == nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: ErrUnsigned}
	}
	t, err := c.Trust()
	if err != nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: err}
	}
	s, err := verifySignatureBlob(security.NewVerifier(t, 16), kb.Signature, kb.Kind.Raw, now)
	if err != nil {
		return s, err
	}
	if !c.IsKindSigner(s.NodeID) {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: fmt.Errorf("%w: %v", ErrNotKindSigner, s.NodeID)}
	}
	return s, nil
}

// Configuration returns the configuration for overlay, or nil.
func (d *Document) Configuration(overlay string) *Configuration {
	for _, c := range d.Configurations {
		if c.InstanceName == overlay {
			return c
		}
	}
	return nil
}
