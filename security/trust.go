package security

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/goreload/reload/wire"
)

// Trust is what an overlay's configuration says about certificates
// (RFC 6940 §11.1): the overlay name every node certificate must name,
// the root-cert trust anchors, whether self-signed certificates are
// permitted and with which Node-ID digest, the Node-ID length, and the
// bad-node revocation list. Build it once per configuration; it is read
// only afterwards and safe for concurrent use.
type Trust struct {
	Overlay             string
	Roots               *x509.CertPool
	SelfSignedPermitted bool
	SelfSignedDigest    crypto.Hash // crypto.SHA1 or crypto.SHA256; 0 means SHA-256
	NodeIDLen           int         // 0 means 16
	BadNodes            map[wire.NodeID]struct{}
}

// NewTrust builds a Trust for overlay from DER root certificates.
func NewTrust(overlay string, rootsDER [][]byte) (*Trust, error) {
	t := &Trust{Overlay: overlay, Roots: x509.NewCertPool()}
	for i, der := range rootsDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("security: root-cert %d: %w", i, err)
		}
		t.Roots.AddCert(c)
	}
	return t, nil
}

func (t *Trust) nodeIDLen() int {
	if t.NodeIDLen == 0 {
		return wire.DefaultNodeIDLen
	}
	return t.NodeIDLen
}

// IsBadNode reports whether id is revoked by a bad-node entry.
func (t *Trust) IsBadNode(id wire.NodeID) bool {
	_, bad := t.BadNodes[id]
	return bad
}

// VerifyChainDER is VerifyChain for DER certificates, leaf first.
func (t *Trust) VerifyChainDER(chain [][]byte, now time.Time) (*NodeCert, error) {
	if len(chain) == 0 {
		return nil, forbiddenf("%w: no certificate", ErrUntrusted)
	}
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, forbiddenf("%w: certificate %d: %w", ErrInvalidCert, i, err)
		}
		certs[i] = c
	}
	return t.VerifyChain(certs, now)
}

// VerifyChain validates a node certificate chain (leaf first, then any
// intermediates in any order) at time now: the leaf must be a well-formed
// node certificate (ParseNodeCert) naming this overlay with Node-IDs of
// the overlay's length, none of them a bad-node; and either chain to one
// of Roots with PKIX path validation (basic constraints, validity of
// every certificate), or, when SelfSignedPermitted, be a valid
// self-signed certificate whose Node-IDs are the digest of its key
// (RFC 6940 §11.3.1). Failures are *wire.ProtocolError with
// Error_Forbidden wrapping ErrInvalidCert, ErrWrongOverlay, ErrBadNode,
// ErrCertExpired or ErrUntrusted.
func (t *Trust) VerifyChain(chain []*x509.Certificate, now time.Time) (*NodeCert, error) {
	if len(chain) == 0 {
		return nil, forbiddenf("%w: no certificate", ErrUntrusted)
	}
	leaf := chain[0]
	nc, err := ParseNodeCert(leaf)
	if err != nil {
		return nil, forbidden(err)
	}
	if nc.Overlay != t.Overlay {
		return nil, forbiddenf("%w: certificate names %q, overlay is %q", ErrWrongOverlay, nc.Overlay, t.Overlay)
	}
	if nc.NodeIDs[0].Len() != t.nodeIDLen() {
		return nil, forbiddenf("%w: Node-ID length %d, overlay uses %d", ErrInvalidCert, nc.NodeIDs[0].Len(), t.nodeIDLen())
	}
	for _, id := range nc.NodeIDs {
		if t.IsBadNode(id) {
			return nil, forbiddenf("%w: %v", ErrBadNode, id)
		}
	}
	if !nc.ValidAt(now) {
		return nil, forbiddenf("%w: valid %v to %v, now %v", ErrCertExpired, nc.NotBefore, nc.NotAfter, now)
	}
	if nc.SelfSigned && t.SelfSignedPermitted {
		digest := t.SelfSignedDigest
		if digest == 0 {
			digest = crypto.SHA256
		}
		want, err := selfSignedNodeIDs(leaf.RawSubjectPublicKeyInfo, digest, len(nc.NodeIDs), t.nodeIDLen())
		if err != nil {
			return nil, forbidden(err)
		}
		for i := range want {
			if want[i] != nc.NodeIDs[i] {
				return nil, forbiddenf("%w: self-signed Node-ID %v does not match the key", ErrUntrusted, nc.NodeIDs[i])
			}
		}
		return nc, nil
	}
	if t.Roots == nil {
		return nil, forbiddenf("%w: overlay has no root-cert", ErrUntrusted)
	}
	opts := x509.VerifyOptions{
		Roots:       t.Roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	if len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	paths, err := leaf.Verify(opts)
	if err != nil {
		if invalid, ok := errors.AsType[x509.CertificateInvalidError](err); ok && invalid.Reason == x509.Expired {
			return nil, forbiddenf("%w: %w", ErrCertExpired, err)
		}
		return nil, forbiddenf("%w: %w", ErrUntrusted, err)
	}
	// The chain is as good as its shortest-lived certificate; take the
	// intersection over the first path so cached entries expire in time.
	for _, c := range paths[0] {
		if c.NotBefore.After(nc.NotBefore) {
			nc.NotBefore = c.NotBefore
		}
		if c.NotAfter.Before(nc.NotAfter) {
			nc.NotAfter = c.NotAfter
		}
	}
	return nc, nil
}

// TLSConfig returns a crypto/tls configuration for RELOAD links (RFC 6940
// §6.6.1, §13.6.3: mutual certificate authentication): it presents id's
// chain, requires a certificate from the peer on both sides, and accepts
// it only if VerifyChain does at now(). Host name checks are replaced by
// this check. Recover the peer's Node-IDs after the handshake with
// PeerNodeCert. now must not be nil.
func (t *Trust) TLSConfig(id *Identity, now func() time.Time) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{id.TLSCertificate()},
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate below
		MinVersion:         tls.VersionTLS12,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := t.VerifyChainDER(raw, now())
			return err
		},
	}
}

// PeerNodeCert validates the peer chain of a finished TLS (or DTLS)
// handshake and returns the peer's node certificate (its Node-IDs and
// user name).
func (t *Trust) PeerNodeCert(cs *tls.ConnectionState, now time.Time) (*NodeCert, error) {
	return t.VerifyChain(cs.PeerCertificates, now)
}
