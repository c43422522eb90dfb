package security

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/goreload/reload/wire"
)

// Identity is a node's credential: its private key, its certificate chain
// and the Node-ID it signs as. It signs messages, StoredData values and
// blobs. An Identity is read-only after setup and safe for concurrent
// use.
type Identity struct {
	Key   crypto.Signer
	Chain [][]byte // DER, leaf first, then intermediates (not the root)
	Cert  *NodeCert

	nodeID   wire.NodeID
	alg      wire.SignatureAndHashAlgorithm
	hash     crypto.Hash
	identity wire.SignerIdentity
	certs    []wire.GenericCertificate
}

// NewIdentity builds an Identity from a key and its chain (DER, leaf
// first). It signs as the leaf's first Node-ID with DefaultAlgorithm and
// names its certificate with a SHA-256 SignerIdentity.
func NewIdentity(key crypto.Signer, chain [][]byte) (*Identity, error) {
	if len(chain) == 0 {
		return nil, errors.New("security: identity without certificate")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCert, err)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, errors.New("security: private key does not match certificate")
	}
	nc, err := ParseNodeCert(leaf)
	if err != nil {
		return nil, err
	}
	alg, err := DefaultAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	id := &Identity{Key: key, Chain: chain, Cert: nc, nodeID: nc.NodeIDs[0]}
	id.certs = make([]wire.GenericCertificate, len(chain))
	for i, der := range chain {
		id.certs[i] = wire.GenericCertificate{Type: wire.CertX509, Certificate: der}
	}
	if err := id.SetAlgorithm(alg); err != nil {
		return nil, err
	}
	if err := id.setIdentity(wire.HashSHA256); err != nil {
		return nil, err
	}
	return id, nil
}

// LoadIdentity reads an Identity from PEM files' contents: the chain
// (leaf first) and the private key.
func LoadIdentity(certPEM, keyPEM []byte) (*Identity, error) {
	chain, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	return NewIdentity(key, chain)
}

// NodeID is the Node-ID this identity signs as.
func (id *Identity) NodeID() wire.NodeID { return id.nodeID }

// Algorithm is the signature algorithm this identity uses.
func (id *Identity) Algorithm() wire.SignatureAndHashAlgorithm { return id.alg }

// SignerIdentity is the SignerIdentity put in this identity's signatures:
// cert_hash when the certificate has one Node-ID, cert_hash_node_id
// otherwise (RFC 6940 §6.3.4). Its Hash is shared; do not modify it.
func (id *Identity) SignerIdentity() wire.SignerIdentity { return id.identity }

// Certificates is the SecurityBlock certificate list for this identity's
// chain. The slice is shared and capacity-limited, so appending copies.
func (id *Identity) Certificates() []wire.GenericCertificate {
	return id.certs[:len(id.certs):len(id.certs)]
}

// UseNodeID makes the identity sign as n, which must be one of its
// certificate's Node-IDs.
func (id *Identity) UseNodeID(n wire.NodeID) error {
	if !id.Cert.HasNodeID(n) {
		return ErrNodeIDNotInCert
	}
	id.nodeID = n
	return id.setIdentity(id.identity.HashAlg)
}

// WithNodeID returns a copy of the identity that signs as n, one of its
// certificate's Node-IDs (RFC 6940 §6.3.4: cert_hash_node_id names it).
// Several nodes can run with one certificate, one per Node-ID, each with
// its own copy.
func (id *Identity) WithNodeID(n wire.NodeID) (*Identity, error) {
	c := *id
	if err := c.UseNodeID(n); err != nil {
		return nil, err
	}
	return &c, nil
}

// SetAlgorithm changes the signature algorithm (for example to
// rsa-sha384 or ecdsa-sha512). It must fit the key.
func (id *Identity) SetAlgorithm(alg wire.SignatureAndHashAlgorithm) error {
	h, err := checkKeyAlg(alg, id.Key.Public())
	if err != nil {
		return err
	}
	id.alg, id.hash = alg, h
	return nil
}

// SetIdentityHash changes the hash used in the SignerIdentity (SHA-256 by
// default).
func (id *Identity) SetIdentityHash(h wire.HashAlgorithm) error { return id.setIdentity(h) }

func (id *Identity) setIdentity(h wire.HashAlgorithm) error {
	ch := cryptoHash(h)
	if ch == 0 {
		return fmt.Errorf("%w: identity hash %v", ErrUnsupportedAlgorithm, h)
	}
	if len(id.Cert.NodeIDs) == 1 {
		id.identity = wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: h, Hash: CertHash(ch, id.Chain[0])}
	} else {
		id.identity = wire.SignerIdentity{Type: wire.IdentityCertHashNodeID, HashAlg: h, Hash: CertNodeIDHash(ch, id.nodeID, id.Chain[0])}
	}
	return nil
}

// CertHash is H(certificate) for a cert_hash SignerIdentity (RFC 6940
// §6.3.4).
func CertHash(h crypto.Hash, der []byte) []byte {
	w := h.New()
	w.Write(der)
	return w.Sum(nil)
}

// CertNodeIDHash is H(NodeId || certificate) for a cert_hash_node_id
// SignerIdentity (RFC 6940 §6.3.4); the Node-ID is its raw bytes.
func CertNodeIDHash(h crypto.Hash, n wire.NodeID, der []byte) []byte {
	w := h.New()
	w.Write(n.Bytes())
	w.Write(der)
	return w.Sum(nil)
}

// TLSCertificate is the chain and key in crypto/tls form.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: id.Chain, PrivateKey: id.Key, Leaf: id.Cert.Cert}
}
