package storage

import (
	"bytes"
	"crypto"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// The Certificate Store Usage (RFC 6940 §8) keeps each node's certificate
// in CERTIFICATE_BY_NODE at H(Node-ID) and in CERTIFICATE_BY_USER at
// H(user name), as array entries appended at the end. The value of an
// entry is the DER certificate.

// CertificateResource is where a certificate a verifier is missing is
// stored (RFC 6940 §8): CERTIFICATE_BY_NODE at H(Node-ID) when need names
// a Node-ID, else CERTIFICATE_BY_USER at H(user); ok is false when need
// names neither. Fetch it with the specifier CertificateSpecifier gives,
// pick the certificate with MatchCertificate, and add it to the verifier.
func CertificateResource(h HashFunc, need *security.CertificateNeededError) (res wire.ResourceID, kind wire.KindID, ok bool) {
	switch {
	case !need.NodeID.IsZero():
		return NodeResourceID(h, need.NodeID), wire.KindCertificateByNode, true
	case need.User != "":
		return UserResourceID(h, need.User), wire.KindCertificateByUser, true
	}
	return nil, 0, false
}

// CertificateSpecifier selects every certificate of kind (the whole
// array).
func CertificateSpecifier(kind wire.KindID) wire.StoredDataSpecifier {
	return wire.StoredDataSpecifier{Kind: kind, Model: wire.ModelArray,
		Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}}
}

// MatchCertificate returns the certificate among values (from a Fetch of
// CERTIFICATE_BY_NODE or CERTIFICATE_BY_USER) that sid names: by H(cert)
// for cert_hash, by H(Node-ID || cert) for one of its Node-IDs for
// cert_hash_node_id (RFC 6940 §6.3.4). The certificate is not validated:
// add it with security.Verifier.AddCertificate, which does.
func MatchCertificate(sid *wire.SignerIdentity, values []wire.StoredData) ([]byte, bool) {
	for i := range values {
		v := &values[i].Value.Value
		if v.Exists && certMatches(sid, v.Value) {
			return v.Value, true
		}
	}
	return nil, false
}

// certMatches reports whether der is the certificate sid names.
func certMatches(sid *wire.SignerIdentity, der []byte) bool {
	h := cryptoHash(sid.HashAlg)
	if h == 0 {
		return false
	}
	switch sid.Type {
	case wire.IdentityCertHash:
		return bytes.Equal(security.CertHash(h, der), sid.Hash)
	case wire.IdentityCertHashNodeID:
		ids, _, err := security.NodeIDsFromCert(der)
		if err != nil {
			return false
		}
		for _, n := range ids {
			if bytes.Equal(security.CertNodeIDHash(h, n, der), sid.Hash) {
				return true
			}
		}
	}
	return false
}

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

// LocalCertificate looks among the certificates this peer stores
// (CERTIFICATE_BY_NODE and CERTIFICATE_BY_USER values, unexpired) for the
// one sid names: a certificate-fetching verifier tries it before asking
// the overlay. The certificate is not validated.
func (s *Store) LocalCertificate(sid *wire.SignerIdentity, now time.Time) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.localCertificate(sid, now)
}

func (s *Store) localCertificate(sid *wire.SignerIdentity, now time.Time) ([]byte, bool, error) {
	nowMs := unixMillis(now)
	var slots []wire.ResourceID
	var kinds []wire.KindID
	if err := s.backend.Slots(func(res wire.ResourceID, kind wire.KindID, _ uint64) bool {
		if kind == wire.KindCertificateByNode || kind == wire.KindCertificateByUser {
			slots = append(slots, wire.ResourceID(bytes.Clone(res)))
			kinds = append(kinds, kind)
		}
		return true
	}); err != nil {
		return nil, false, err
	}
	var found []byte
	for i, res := range slots {
		if err := s.backend.Scan(res, kinds[i], func(r *Record) bool {
			v := &r.Data.Value.Value
			if r.Expires > nowMs && v.Exists && certMatches(sid, v.Value) {
				found = v.Value
				return false
			}
			return true
		}); err != nil {
			return nil, false, err
		}
		if found != nil {
			return found, true, nil
		}
	}
	return nil, false, nil
}
