package security

import (
	"crypto/sha256"
	"slices"
	"sync"

	"github.com/goreload/reload/wire"
)

// DefaultCacheSize is the number of certificates a CertCache keeps when
// given no size.
const DefaultCacheSize = 4096

// cacheKey is a SignerIdentity value: its type, hash algorithm and hash.
type cacheKey struct {
	typ wire.SignerIdentityType
	alg wire.HashAlgorithm
	n   uint8
	h   [64]byte
}

func makeKey(typ wire.SignerIdentityType, alg wire.HashAlgorithm, h []byte) (cacheKey, bool) {
	k := cacheKey{typ: typ, alg: alg, n: uint8(len(h))}
	if len(h) > len(k.h) {
		return k, false
	}
	copy(k.h[:], h)
	return k, true
}

type cacheHit struct {
	cert   *NodeCert
	nodeID wire.NodeID
}

type cacheEntry struct {
	cert *NodeCert
	keys []cacheKey
}

// CertCache holds validated node certificates, found by the SignerIdentity
// that names them (cert_hash: H(certificate); cert_hash_node_id:
// H(NodeId || certificate)), for every hash algorithm a lookup has used
// (SHA-256 up front, others indexed on first use). It keeps at most its
// size in certificates and drops the oldest first. Safe for concurrent
// use.
//
// Only add certificates that have passed Trust.VerifyChain: a hit is
// trusted without validating the chain again (the verifier still checks
// the validity period against now).
type CertCache struct {
	mu      sync.RWMutex
	max     int
	byKey   map[cacheKey]cacheHit
	byCert  map[[sha256.Size]byte]*cacheEntry
	order   [][sha256.Size]byte
	indexed map[wire.HashAlgorithm]bool
}

// NewCertCache returns an empty cache for size certificates (0 means
// DefaultCacheSize).
func NewCertCache(size int) *CertCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &CertCache{
		max:     size,
		byKey:   make(map[cacheKey]cacheHit),
		byCert:  make(map[[sha256.Size]byte]*cacheEntry),
		indexed: map[wire.HashAlgorithm]bool{wire.HashSHA256: true},
	}
}

// Len is the number of certificates held.
func (c *CertCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byCert)
}

// Add stores a validated certificate (replacing an older copy of the same
// certificate).
func (c *CertCache) Add(nc *NodeCert) {
	sum := sha256.Sum256(nc.Cert.Raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byCert[sum]; ok {
		old.cert = nc
		for _, k := range old.keys {
			h := c.byKey[k]
			h.cert = nc
			c.byKey[k] = h
		}
		return
	}
	for len(c.order) >= c.max {
		c.evictOldest()
	}
	e := &cacheEntry{cert: nc}
	c.byCert[sum] = e
	c.order = append(c.order, sum)
	for alg := range c.indexed {
		c.index(e, alg)
	}
}

// Lookup finds the certificate named by a cert_hash or cert_hash_node_id
// SignerIdentity, and the Node-ID it names (for cert_hash, the
// certificate's only Node-ID; a cert_hash for a certificate with several
// Node-IDs gives the first).
func (c *CertCache) Lookup(sid *wire.SignerIdentity) (*NodeCert, wire.NodeID, bool) {
	k, ok := makeKey(sid.Type, sid.HashAlg, sid.Hash)
	if !ok || cryptoHash(sid.HashAlg) == 0 {
		return nil, wire.NodeID{}, false
	}
	c.mu.RLock()
	indexed := c.indexed[sid.HashAlg]
	h, found := c.byKey[k]
	c.mu.RUnlock()
	if !indexed {
		c.mu.Lock()
		if !c.indexed[sid.HashAlg] {
			c.indexed[sid.HashAlg] = true
			for _, e := range c.byCert {
				c.index(e, sid.HashAlg)
			}
		}
		h, found = c.byKey[k]
		c.mu.Unlock()
	}
	return h.cert, h.nodeID, found
}

// index adds e's keys for alg; c.mu must be held for writing.
func (c *CertCache) index(e *cacheEntry, alg wire.HashAlgorithm) {
	ch := cryptoHash(alg)
	der := e.cert.Cert.Raw
	if k, ok := makeKey(wire.IdentityCertHash, alg, CertHash(ch, der)); ok {
		c.byKey[k] = cacheHit{cert: e.cert, nodeID: e.cert.NodeIDs[0]}
		e.keys = append(e.keys, k)
	}
	for _, n := range e.cert.NodeIDs {
		if k, ok := makeKey(wire.IdentityCertHashNodeID, alg, CertNodeIDHash(ch, n, der)); ok {
			c.byKey[k] = cacheHit{cert: e.cert, nodeID: n}
			e.keys = append(e.keys, k)
		}
	}
}

// Remove drops the certificate der (DER) and reports whether it was
// held: a signature naming it needs the certificate again, from the
// message or fetched (RFC 6940 §6.3.4).
func (c *CertCache) Remove(der []byte) bool {
	sum := sha256.Sum256(der)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byCert[sum]
	if !ok {
		return false
	}
	for _, k := range e.keys {
		delete(c.byKey, k)
	}
	delete(c.byCert, sum)
	if i := slices.Index(c.order, sum); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
	return true
}

// evictOldest drops the oldest certificate; c.mu must be held for
// writing.
func (c *CertCache) evictOldest() {
	sum := c.order[0]
	c.order = c.order[1:]
	if e, ok := c.byCert[sum]; ok {
		for _, k := range e.keys {
			delete(c.byKey, k)
		}
		delete(c.byCert, sum)
	}
}
