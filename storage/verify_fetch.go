package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// ErrFetchedValue is wrapped by every reason VerifyFetch gives for
// discarding a fetched value.
var ErrFetchedValue = errors.New("storage: fetched value discarded")

// Discarded is a value of a FetchAns that failed verification and was
// removed from the answer (RFC 6940 §7.4.2.2).
type Discarded struct {
	Kind wire.KindID
	// Model, Index and Key locate the value (Index for arrays, Key for
	// dictionaries).
	Model wire.DataModel
	Index uint32
	Key   wire.DictionaryKey
	// Signer is the Node-ID the value's signature names when its
	// certificate was found, else zero.
	Signer wire.NodeID
	// Err says why; it wraps ErrFetchedValue, and the security error
	// (a *wire.ProtocolError, or a *security.CertificateNeededError when
	// the signer's certificate was neither in the answer nor known here).
	Err error
}

// String describes d for logs.
func (d Discarded) String() string {
	switch d.Model {
	case wire.ModelArray:
		return fmt.Sprintf("kind %v index %d: %v", d.Kind, d.Index, d.Err)
	case wire.ModelDictionary:
		return fmt.Sprintf("kind %v key %x: %v", d.Kind, []byte(d.Key), d.Err)
	}
	return fmt.Sprintf("kind %v: %v", d.Kind, d.Err)
}

// VerifyFetch checks every value of ans, the answer to req, and removes
// those that fail, returning them (RFC 6940 §7.4.2.2: "Upon receipt of a
// FetchAns message, nodes MUST verify the signatures on all the received
// values. Any values with invalid signatures (including expired
// certificates) MUST be discarded."). certs are the certificates of the
// answer's SecurityBlock.
//
// A value is kept only when:
//   - its Kind is one the request asked for and this node knows, and
//     its data model is the Kind's;
//   - it lies within what the request selected (an array index in a
//     requested range, a requested dictionary key when keys were named):
//     the signature of an array entry does not cover its index (§7.1), so
//     a responder could otherwise move a value;
//   - it is a synthetic nonexistent value (§7.4.2.2: exists false, empty,
//     the empty signature), or its signature over resource_id, kind,
//     storage_time and value verifies with a certificate that chains to
//     the overlay's trust anchors and is valid now (§7.1, §13.3);
//   - its signer may write it there under the Kind's access control
//     policy, the rule the storing peer applies (§7.3);
//   - it is no larger than the Kind's max-size.
//
// A certificate missing from certs and the verifier's cache is looked
// for among the certificates this peer stores. VerifyFetch is safe for
// concurrent use; it does not hold the Store's lock while verifying.
func (s *Store) VerifyFetch(req *wire.FetchReq, ans *wire.FetchAns, certs []wire.GenericCertificate, now time.Time) []Discarded {
	var out []Discarded
	var buf []byte
	// The ACL the answer carries, for USER-CHAIN-ACL Kinds (RFC 8076 §6.5).
	var acl *ACL
	aclDone := false
	for i := range ans.KindResponses {
		kr := &ans.KindResponses[i]
		spec := findSpecifier(req, kr.Kind)
		k, known := s.kinds.Lookup(kr.Kind)
		var kindErr error
		switch {
		case spec == nil:
			kindErr = fmt.Errorf("%w: kind %v was not requested", ErrFetchedValue, kr.Kind)
		case !known:
			kindErr = fmt.Errorf("%w: kind %v is unknown here, its policy cannot be checked", ErrFetchedValue, kr.Kind)
		}
		if kindErr != nil {
			for _, sd := range kr.Values {
				out = append(out, discarded(kr.Kind, &sd, wire.NodeID{}, kindErr))
			}
			out = append(out, rawDiscard(kr, kindErr)...)
			kr.Values, kr.RawValues = nil, nil
			continue
		}
		if k.Policy == PolicyUserChainACL && !aclDone {
			acl, aclDone = s.FetchedACL(req, ans, certs, now), true
		}
		kept := kr.Values[:0]
		for j := range kr.Values {
			sd := &kr.Values[j]
			signer, err := s.checkFetched(&buf, req.Resource, k, spec, sd, certs, acl, now)
			if err != nil {
				out = append(out, discarded(kr.Kind, sd, signer, err))
				continue
			}
			kept = append(kept, *sd)
		}
		clear(kr.Values[len(kept):])
		kr.Values = kept
		if len(kr.RawValues) > 0 {
			// Values decoded without their model cannot be checked.
			out = append(out, rawDiscard(kr, fmt.Errorf("%w: kind %v: values not decoded with the kind's model", ErrFetchedValue, kr.Kind))...)
			kr.RawValues = nil
		}
	}
	return out
}

// rawDiscard reports the raw (undecoded) values of kr as one discard.
func rawDiscard(kr *wire.FetchKindResponse, err error) []Discarded {
	if len(kr.RawValues) == 0 {
		return nil
	}
	return []Discarded{{Kind: kr.Kind, Err: err}}
}

func discarded(kind wire.KindID, sd *wire.StoredData, signer wire.NodeID, err error) Discarded {
	return Discarded{Kind: kind, Model: sd.Value.Model, Index: sd.Value.Index, Key: bytes.Clone(sd.Value.Key), Signer: signer, Err: err}
}

// findSpecifier is the specifier of req for kind, or nil.
func findSpecifier(req *wire.FetchReq, kind wire.KindID) *wire.StoredDataSpecifier {
	for i := range req.Specifiers {
		if req.Specifiers[i].Kind == kind {
			return &req.Specifiers[i]
		}
	}
	return nil
}

// checkFetched checks one fetched value of kind k against spec; see
// VerifyFetch.
func (s *Store) checkFetched(buf *[]byte, res wire.ResourceID, k *Kind, spec *wire.StoredDataSpecifier, sd *wire.StoredData, certs []wire.GenericCertificate, acl *ACL, now time.Time) (wire.NodeID, error) {
	v := &sd.Value
	if v.Model != k.Model {
		return wire.NodeID{}, fmt.Errorf("%w: model %v, kind %v is %v", ErrFetchedValue, v.Model, k.ID, k.Model)
	}
	if !selected(spec, v) {
		return wire.NodeID{}, fmt.Errorf("%w: not selected by the request", ErrFetchedValue)
	}
	if security.IsSynthetic(&sd.Signature) {
		// §7.4.2.2: what a peer answers for a value it does not have.
		if v.Value.Exists || len(v.Value.Value) > 0 {
			return wire.NodeID{}, fmt.Errorf("%w: unsigned value claims to exist", ErrFetchedValue)
		}
		return wire.NodeID{}, nil
	}
	if len(v.Value.Value) > k.MaxSize {
		return wire.NodeID{}, fmt.Errorf("%w: %d bytes, max-size %d", ErrFetchedValue, len(v.Value.Value), k.MaxSize)
	}
	signer, err := s.verifyFetched(buf, res, k, sd, certs, now)
	if err != nil {
		return signer.NodeID, err
	}
	if k.Policy == PolicyUserChainACL {
		if err := s.permitFetchedShared(k, res, v, signer, acl); err != nil {
			return signer.NodeID, fmt.Errorf("%w: %w", ErrFetchedValue, err)
		}
		return signer.NodeID, nil
	}
	if !permitted(s.hash, k, res, v, signer) {
		return signer.NodeID, fmt.Errorf("%w: %v may not write it (policy %v)", ErrFetchedValue, signer.NodeID, k.Policy)
	}
	return signer.NodeID, nil
}

// verifyFetched checks the signature of a fetched value sd of kind k at
// res, remembering signatures that verified.
func (s *Store) verifyFetched(buf *[]byte, res wire.ResourceID, k *Kind, sd *wire.StoredData, certs []wire.GenericCertificate, now time.Time) (security.Signer, error) {
	var err error
	*buf, err = SignatureInput((*buf)[:0], &sd.Value)
	if err != nil {
		return security.Signer{}, fmt.Errorf("%w: %w", ErrFetchedValue, err)
	}
	key := verifiedKey(res, k.ID, sd, *buf)
	signer, ok := s.fetched.get(key)
	if !ok || !s.stillTrusted(signer, now) {
		// Not under the Store's lock: LocalCertificate takes it.
		if signer, err = s.verifyInput(res, k.ID, sd, *buf, certs, now, s.LocalCertificate); err != nil {
			return signer, fmt.Errorf("%w: %w", ErrFetchedValue, err)
		}
		s.fetched.put(key, signer)
	}
	return signer, nil
}

// selected reports whether spec selects v: an array index within one of
// its ranges; for a dictionary, one of its keys (every key when it names
// none). A single value is always selected.
func selected(spec *wire.StoredDataSpecifier, v *wire.StoredDataValue) bool {
	switch v.Model {
	case wire.ModelArray:
		for _, r := range spec.Indices {
			if r.First <= v.Index && v.Index <= r.Last {
				return true
			}
		}
		return false
	case wire.ModelDictionary:
		if len(spec.Keys) == 0 {
			return true
		}
		for _, k := range spec.Keys {
			if bytes.Equal(k, v.Key) {
				return true
			}
		}
		return false
	}
	return true
}

// stillTrusted re-checks, for a signature that verified earlier, what can
// change since: the certificate's validity period and the overlay's
// bad-node list.
func (s *Store) stillTrusted(signer security.Signer, now time.Time) bool {
	if signer.Cert == nil || !signer.Cert.ValidAt(now) {
		return false
	}
	if r, ok := s.verifier.(interface{ Revoked(wire.NodeID) bool }); ok && r.Revoked(signer.NodeID) {
		return false
	}
	return true
}

// verifiedCacheSize bounds the verified-signature cache: about 100 bytes
// an entry, so at most about 100 KiB a node.
const verifiedCacheSize = 1024

// verifiedCache remembers StoredData signatures that verified, so that a
// value fetched again (a SIP registration looked up for every call) costs
// a SHA-256 instead of a public-key operation. An entry is keyed by a
// digest of everything the signature covers and of the signature itself
// (verifiedKey), so a hit is the very value that verified before; what
// can change since (certificate validity, revocation, the access policy)
// is checked again on every hit. Entries are evicted oldest first.
type verifiedCache struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]security.Signer
	order [][sha256.Size]byte // ring of keys in insertion order
	next  int
}

func (c *verifiedCache) get(key [sha256.Size]byte) (security.Signer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *verifiedCache) put(key [sha256.Size]byte, s security.Signer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]security.Signer)
		c.order = make([][sha256.Size]byte, 0, verifiedCacheSize)
	}
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.order) < verifiedCacheSize {
		c.order = append(c.order, key)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % verifiedCacheSize
	}
	c.m[key] = s
}

// verifiedKey digests the signature input of sd (RFC 6940 §7.1:
// resource_id, kind, storage_time, the StoredDataValue with an array
// index of zero, and the SignerIdentity) with the signature's algorithm
// and value, each field length-prefixed.
func verifiedKey(res wire.ResourceID, kind wire.KindID, sd *wire.StoredData, input []byte) [sha256.Size]byte {
	h := sha256.New()
	var b [8]byte
	field := func(p []byte) {
		binary.BigEndian.PutUint32(b[:4], uint32(len(p)))
		h.Write(b[:4])
		h.Write(p)
	}
	field(res)
	binary.BigEndian.PutUint32(b[:4], uint32(kind))
	h.Write(b[:4])
	binary.BigEndian.PutUint64(b[:], sd.StorageTime)
	h.Write(b[:])
	field(input)
	sig := &sd.Signature
	h.Write([]byte{byte(sig.Algorithm.Hash), byte(sig.Algorithm.Signature), byte(sig.Identity.Type), byte(sig.Identity.HashAlg)})
	field(sig.Identity.Hash)
	field(sig.Identity.Raw)
	field(sig.Value)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
