package security

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/goreload/reload/wire"
)

// Verifier checks RELOAD signatures against one overlay's Trust, keeping
// the certificates it has validated in a CertCache. Safe for concurrent
// use.
type Verifier struct {
	trust *Trust
	cache *CertCache
}

// NewVerifier returns a Verifier for t with a cache of cacheSize
// certificates (0 means DefaultCacheSize).
func NewVerifier(t *Trust, cacheSize int) *Verifier {
	return &Verifier{trust: t, cache: NewCertCache(cacheSize)}
}

// Trust is the verifier's trust settings.
func (v *Verifier) Trust() *Trust { return v.trust }

// Cache is the verifier's certificate cache.
func (v *Verifier) Cache() *CertCache { return v.cache }

// AddCertificate validates a chain (DER, leaf first), for example one
// fetched from CERTIFICATE_BY_NODE or CERTIFICATE_BY_USER (RFC 6940 §8),
// and caches it.
func (v *Verifier) AddCertificate(chain [][]byte, now time.Time) (*NodeCert, error) {
	nc, err := v.trust.VerifyChainDER(chain, now)
	if err != nil {
		return nil, err
	}
	v.cache.Add(nc)
	return nc, nil
}

// Expect names the signer a caller requires, or knows to be the sender.
// A non-zero NodeID must be the Node-ID the signature was made with (the
// first via-list entry for a request, the destination for a response,
// the joining_peer_id of a JoinReq); a non-empty User must be the
// certificate's user name. They also say what to fetch when the
// certificate is missing (NodeID first).
type Expect struct {
	NodeID wire.NodeID
	User   string
}

// Signer is who made a valid signature: the Node-ID it signed as and its
// certificate.
type Signer struct {
	NodeID wire.NodeID
	Cert   *NodeCert
}

// VerifyMessage checks the signature of a message (RFC 6940 §6.3.4) over
// overlay || transaction_id || MessageContents || SignerIdentity, where
// contents is the encoded MessageContents and sb its SecurityBlock. The
// signer's certificate is taken from the cache or from sb.Certificates
// (validated then cached); if neither has it the error is a
// *CertificateNeededError. Every other failure is a *wire.ProtocolError
// with Error_Forbidden (see the package documentation).
func (v *Verifier) VerifyMessage(overlay uint32, txid uint64, contents []byte, sb *wire.SecurityBlock, want Expect, now time.Time) (Signer, error) {
	sig := &sb.Signature
	s, h, err := v.resolve(sig, sb.Certificates, want, now)
	if err != nil {
		return Signer{}, err
	}
	ok, err := verifyMessageInput(s.Cert.Cert.PublicKey, h, overlay, txid, contents, &sig.Identity, sig.Value)
	if err != nil {
		return Signer{}, forbiddenf("%w: %w", ErrBadIdentity, err)
	}
	if !ok {
		return Signer{}, forbiddenf("%w: message from %v", ErrBadSignature, s.NodeID)
	}
	return s, nil
}

// Verify is VerifyMessage for a decoded, unfragmented wire.Message.
func (v *Verifier) Verify(m *wire.Message, want Expect, now time.Time) (Signer, error) {
	return v.VerifyMessage(m.Header.Overlay, m.Header.TransactionID, m.RawContents, &m.Security, want, now)
}

// VerifyData checks the signature of one StoredData value (RFC 6940
// §7.1) over resource_id || kind || storage_time || StoredDataValue ||
// SignerIdentity; value is the encoded StoredDataValue and certs the
// certificates of the enclosing message's SecurityBlock. Errors are as
// for VerifyMessage. The synthetic signature of a Fetch answer for a
// missing value (identity none, algorithm {0,0}; §7.4.2.2) is rejected:
// test for it with IsSynthetic first where it is allowed.
func (v *Verifier) VerifyData(resourceID []byte, kind uint32, storageTime uint64, value []byte, sig *wire.Signature, certs []wire.GenericCertificate, want Expect, now time.Time) (Signer, error) {
	s, h, err := v.resolve(sig, certs, want, now)
	if err != nil {
		return Signer{}, err
	}
	ok, err := verifyDataInput(s.Cert.Cert.PublicKey, h, resourceID, kind, storageTime, value, &sig.Identity, sig.Value)
	if err != nil {
		return Signer{}, forbiddenf("%w: %w", ErrBadIdentity, err)
	}
	if !ok {
		return Signer{}, forbiddenf("%w: stored data from %v", ErrBadSignature, s.NodeID)
	}
	return s, nil
}

// Revoked reports whether id is revoked by a bad-node entry of the
// overlay's configuration (RFC 6940 §11.1), for callers that remember
// signatures this Verifier checked earlier.
func (v *Verifier) Revoked(id wire.NodeID) bool { return v.trust.IsBadNode(id) }

// VerifyBlob checks a SecurityBlock made by Identity.SignBlob over blob.
func (v *Verifier) VerifyBlob(blob []byte, sb *wire.SecurityBlock, want Expect, now time.Time) (Signer, error) {
	sig := &sb.Signature
	s, h, err := v.resolve(sig, sb.Certificates, want, now)
	if err != nil {
		return Signer{}, err
	}
	if !verifyBlobInput(s.Cert.Cert.PublicKey, h, blob, sig.Value) {
		return Signer{}, forbiddenf("%w: blob signed by %v", ErrBadSignature, s.NodeID)
	}
	return s, nil
}

// IsSynthetic reports whether sig is the empty signature of a synthesized
// value (RFC 6940 §7.4.2.2): identity none, algorithm {0, 0}, no value.
func IsSynthetic(sig *wire.Signature) bool {
	return sig.Identity.Type == wire.IdentityNone && sig.Algorithm == wire.AlgNone && len(sig.Value) == 0
}

// resolve finds and checks the signer's certificate and returns the
// signer and the signature's hash (pureEdDSA for ed25519).
func (v *Verifier) resolve(sig *wire.Signature, certs []wire.GenericCertificate, want Expect, now time.Time) (Signer, crypto.Hash, error) {
	sid := &sig.Identity
	if sid.Type != wire.IdentityCertHash && sid.Type != wire.IdentityCertHashNodeID {
		return Signer{}, 0, forbiddenf("%w: identity type %v", ErrBadIdentity, sid.Type)
	}
	if !SupportedAlgorithm(sig.Algorithm) {
		return Signer{}, 0, forbiddenf("%w: %v", ErrUnsupportedAlgorithm, sig.Algorithm)
	}
	if cryptoHash(sid.HashAlg) == 0 {
		return Signer{}, 0, forbiddenf("%w: identity hash %v", ErrUnsupportedAlgorithm, sid.HashAlg)
	}
	nc, nodeID, ok := v.cache.Lookup(sid)
	if !ok {
		var err error
		nc, nodeID, ok, err = v.fromBlock(sid, certs, now)
		if err != nil {
			return Signer{}, 0, err
		}
	}
	if !ok {
		e := &CertificateNeededError{Identity: cloneIdentity(sid), NodeID: want.NodeID, User: want.User}
		switch {
		case !want.NodeID.IsZero():
			e.Kind = KindCertificateByNode
		case want.User != "":
			e.Kind = KindCertificateByUser
		}
		return Signer{}, 0, e
	}
	if sid.Type == wire.IdentityCertHash && len(nc.NodeIDs) != 1 {
		return Signer{}, 0, forbiddenf("%w: cert_hash names a certificate with %d Node-IDs", ErrBadIdentity, len(nc.NodeIDs))
	}
	if !nc.ValidAt(now) {
		return Signer{}, 0, forbiddenf("%w: valid %v to %v, now %v", ErrCertExpired, nc.NotBefore, nc.NotAfter, now)
	}
	if v.trust.IsBadNode(nodeID) {
		return Signer{}, 0, forbiddenf("%w: %v", ErrBadNode, nodeID)
	}
	if !want.NodeID.IsZero() && want.NodeID != nodeID {
		return Signer{}, 0, forbiddenf("%w: signed as %v, expected %v", ErrNodeIDNotInCert, nodeID, want.NodeID)
	}
	if want.User != "" && want.User != nc.User {
		return Signer{}, 0, forbiddenf("%w: certificate is %q, expected %q", ErrUserMismatch, nc.User, want.User)
	}
	h, err := checkKeyAlg(sig.Algorithm, nc.Cert.PublicKey)
	if err != nil {
		return Signer{}, 0, forbidden(err)
	}
	return Signer{NodeID: nodeID, Cert: nc}, h, nil
}

// fromBlock looks for the certificate named by sid among certs; when
// found it validates the chain (the other certificates serving as
// intermediates) and caches it.
func (v *Verifier) fromBlock(sid *wire.SignerIdentity, certs []wire.GenericCertificate, now time.Time) (*NodeCert, wire.NodeID, bool, error) {
	h := cryptoHash(sid.HashAlg)
	for i := range certs {
		gc := &certs[i]
		if gc.Type != wire.CertX509 {
			continue
		}
		var nodeID wire.NodeID
		var leaf *x509.Certificate
		switch sid.Type {
		case wire.IdentityCertHash:
			if string(CertHash(h, gc.Certificate)) != string(sid.Hash) {
				continue
			}
		case wire.IdentityCertHashNodeID:
			ids, c, ok := certNodeIDs(gc.Certificate)
			if !ok {
				continue
			}
			found := false
			for _, n := range ids {
				if string(CertNodeIDHash(h, n, gc.Certificate)) == string(sid.Hash) {
					nodeID, found = n, true
					break
				}
			}
			if !found {
				continue
			}
			leaf = c
		}
		chain := make([]*x509.Certificate, 0, len(certs))
		if leaf == nil {
			c, err := x509.ParseCertificate(gc.Certificate)
			if err != nil {
				return nil, wire.NodeID{}, false, forbiddenf("%w: %w", ErrInvalidCert, err)
			}
			leaf = c
		}
		chain = append(chain, leaf)
		for j := range certs {
			if j == i || certs[j].Type != wire.CertX509 {
				continue
			}
			if c, err := x509.ParseCertificate(certs[j].Certificate); err == nil && c.IsCA {
				chain = append(chain, c)
			}
		}
		nc, err := v.trust.VerifyChain(chain, now)
		if err != nil {
			return nil, wire.NodeID{}, false, err
		}
		v.cache.Add(nc)
		if sid.Type == wire.IdentityCertHash {
			nodeID = nc.NodeIDs[0]
		}
		return nc, nodeID, true, nil
	}
	return nil, wire.NodeID{}, false, nil
}

// certNodeIDs parses a DER certificate for its Node-IDs.
func certNodeIDs(der []byte) ([]wire.NodeID, *x509.Certificate, bool) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, false
	}
	nc, err := ParseNodeCert(c)
	if err != nil {
		return nil, nil, false
	}
	return nc.NodeIDs, c, true
}

func cloneIdentity(s *wire.SignerIdentity) wire.SignerIdentity {
	c := *s
	c.Hash = append([]byte(nil), s.Hash...)
	c.Raw = append([]byte(nil), s.Raw...)
	return c
}

// String is a short description of the signer.
func (s Signer) String() string { return fmt.Sprintf("%v (%s)", s.NodeID, s.Cert.User) }
