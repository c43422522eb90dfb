package storage

import (
	"bytes"
	"crypto/sha1"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// HashFunc is an overlay's hash from resource names to Resource-IDs, the
// "hash function for the overlay" of the access control policies (RFC
// 6940 §7.3).
type HashFunc func(name []byte) wire.ResourceID

// ChordHash is CHORD-RELOAD's hash (RFC 6940 §10.2): SHA-1 truncated to
// its most significant 128 bits. It agrees with wire.ResourceIDFromName.
func ChordHash(name []byte) wire.ResourceID {
	sum := sha1.Sum(name)
	return wire.ResourceID(append([]byte(nil), sum[:16]...))
}

// UserResourceID is where USER-MATCH and USER-NODE-MATCH let a user
// store, and where CERTIFICATE_BY_USER keeps the user's certificate: the
// hash of the user name (RFC 6940 §7.3.1, §8).
func UserResourceID(h HashFunc, user string) wire.ResourceID { return h([]byte(user)) }

// NodeResourceID is where NODE-MATCH lets a node store, and where
// CERTIFICATE_BY_NODE keeps its certificate: the hash of the Node-ID's
// bytes (RFC 6940 §7.3.2, §8).
func NodeResourceID(h HashFunc, id wire.NodeID) wire.ResourceID { return h(id.Bytes()) }

// NodeMultipleResourceID is H(Node-ID || i), the i-th Resource-ID
// NODE-MULTIPLE lets a node store at (RFC 6940 §7.3.4); for TURN-SERVICE,
// i is the iteration d from 1 to turn-density (§9). The RFC does not say
// how i is encoded; it is taken here as one octet, the encoding of the
// TurnServer.iteration field that carries the same number, so i must be
// 1 to 255.
func NodeMultipleResourceID(h HashFunc, id wire.NodeID, i int) wire.ResourceID {
	var buf [wire.MaxNodeIDLen + 1]byte
	n := copy(buf[:], id.Bytes())
	buf[n] = byte(i)
	return h(buf[:n+1])
}

// permitted reports whether signer may write value v of kind k at res
// (RFC 6940 §7.3). signer.NodeID is the Node-ID the signature was made
// with (the one its SignerIdentity names).
func permitted(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	if signer.Cert == nil || signer.NodeID.IsZero() {
		return false
	}
	switch k.Policy {
	case PolicyUserMatch:
		return signer.Cert.User != "" && bytes.Equal(UserResourceID(h, signer.Cert.User), res)
	case PolicyNodeMatch:
		return signer.Cert.HasNodeID(signer.NodeID) && bytes.Equal(NodeResourceID(h, signer.NodeID), res)
	case PolicyUserNodeMatch:
		return v.Model == wire.ModelDictionary && signer.Cert.User != "" &&
			signer.Cert.HasNodeID(signer.NodeID) &&
			bytes.Equal(UserResourceID(h, signer.Cert.User), res) &&
			bytes.Equal(v.Key, signer.NodeID.Bytes())
	case PolicyNodeMultiple:
		if !signer.Cert.HasNodeID(signer.NodeID) {
			return false
		}
		for i := 1; i <= min(k.MaxNodeMultiple, 255); i++ {
			if bytes.Equal(NodeMultipleResourceID(h, signer.NodeID, i), res) {
				return true
			}
		}
	case PolicyNodeIDMatch:
		return permitNodeIDMatch(h, k, res, v, signer)
	case PolicyUserChainACL:
		return permitUserChainACL(h, k, res, v, signer)
	case PolicyURIMatch, PolicyURINodeMatch:
		return permitURIMatch(h, k, res, v, signer)
	}
	return false
}

// SignatureInput appends the StoredDataValue part of a StoredData
// signature's input (RFC 6940 §7.1) to dst: the encoded value, with the
// index of an array entry set to zero (§7.4.2.2, so that a value stored
// with the append index 0xffffffff still verifies once it has its real
// index).
func SignatureInput(dst []byte, v *wire.StoredDataValue) ([]byte, error) {
	c := *v
	if c.Model == wire.ModelArray {
		c.Index = 0
	}
	return c.Append(dst)
}

// Sign signs sd for storage at res under kind with id (RFC 6940 §7.1),
// setting sd.Signature; sd.StorageTime and sd.Value must be final.
func Sign(id *security.Identity, res wire.ResourceID, kind wire.KindID, sd *wire.StoredData) error {
	in, err := SignatureInput(nil, &sd.Value)
	if err != nil {
		return err
	}
	sig, err := id.SignData(res, uint32(kind), sd.StorageTime, in)
	if err != nil {
		return err
	}
	sd.Signature = sig
	return nil
}

// Verify checks the signature of a StoredData found at res under kind
// (RFC 6940 §7.1, §7.4.2.2), for example one returned by a Fetch. certs
// are the certificates of the enclosing message's SecurityBlock. The
// synthetic signature of a nonexistent value is rejected: test with
// security.IsSynthetic first where it is allowed.
func Verify(v Verifier, res wire.ResourceID, kind wire.KindID, sd *wire.StoredData, certs []wire.GenericCertificate, now timeT) (security.Signer, error) {
	in, err := SignatureInput(nil, &sd.Value)
	if err != nil {
		return security.Signer{}, protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "value: %v", err)
	}
	return v.VerifyData(res, uint32(kind), sd.StorageTime, in, &sd.Signature, certs, security.Expect{}, now)
}
