package security

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/goreload/reload/wire"
)

// NodeCert is a parsed RELOAD node certificate (RFC 6940 §11.3): the
// Node-IDs of its reload:// subjectAltName URIs, the overlay they name
// and its one rfc822Name user name.
//
// NotBefore and NotAfter are the leaf's validity period after
// ParseNodeCert, and the intersection over the whole verified chain after
// Trust.VerifyChain.
type NodeCert struct {
	Cert       *x509.Certificate
	NodeIDs    []wire.NodeID
	User       string
	Overlay    string
	SelfSigned bool
	NotBefore  time.Time
	NotAfter   time.Time
	// CoAPURIs are the coap: and coaps: subjectAltName URIs, the names
	// the holder may store under with URI-MATCH and URI-NODE-MATCH (RFC
	// 7650 §9).
	CoAPURIs []string
}

// HasNodeID reports whether id is one of the certificate's Node-IDs.
func (c *NodeCert) HasNodeID(id wire.NodeID) bool {
	for _, n := range c.NodeIDs {
		if n == id {
			return true
		}
	}
	return false
}

// ValidAt reports whether now lies in [NotBefore, NotAfter].
func (c *NodeCert) ValidAt(now time.Time) bool {
	return !now.Before(c.NotBefore) && !now.After(c.NotAfter)
}

// ParseNodeCert reads the RELOAD identities of cert. The subjectAltName
// must hold one or more reload:// URIs, each a destination list with one
// node_id entry and no specifier, all naming the same overlay with
// Node-IDs of one length; at most one rfc822Name (the user name); and
// nothing else. Errors wrap ErrInvalidCert. It does not check the
// signature, the validity period or the overlay name: see
// Trust.VerifyChain.
func ParseNodeCert(cert *x509.Certificate) (*NodeCert, error) {
	nc := &NodeCert{Cert: cert, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}
	if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 {
		return nil, fmt.Errorf("%w: subjectAltName holds DNS names or IP addresses", ErrInvalidCert)
	}
	switch len(cert.EmailAddresses) {
	case 0:
	case 1:
		if !ValidUserName(cert.EmailAddresses[0]) {
			return nil, fmt.Errorf("%w: illegal user name %q", ErrInvalidCert, cert.EmailAddresses[0])
		}
		nc.User = cert.EmailAddresses[0]
	default:
		return nil, fmt.Errorf("%w: more than one rfc822Name", ErrInvalidCert)
	}
	nc.NodeIDs = make([]wire.NodeID, 0, len(cert.URIs))
	for i, u := range cert.URIs {
		if u.Scheme == "coap" || u.Scheme == "coaps" {
			// RFC 7650 §9: a CoAP URI the holder may register and cache
			// under (URI-MATCH, URI-NODE-MATCH); it names no Node-ID.
			nc.CoAPURIs = append(nc.CoAPURIs, u.String())
			continue
		}
		id, overlay, err := nodeIDFromURL(u)
		if err != nil {
			return nil, fmt.Errorf("%w: URI %d: %w", ErrInvalidCert, i, err)
		}
		if len(nc.NodeIDs) == 0 {
			nc.Overlay = overlay
		} else if overlay != nc.Overlay {
			return nil, fmt.Errorf("%w: URIs name overlays %q and %q", ErrInvalidCert, nc.Overlay, overlay)
		} else if id.Len() != nc.NodeIDs[0].Len() {
			return nil, fmt.Errorf("%w: Node-IDs of different lengths", ErrInvalidCert)
		}
		if nc.HasNodeID(id) {
			return nil, fmt.Errorf("%w: Node-ID %v listed twice", ErrInvalidCert, id)
		}
		nc.NodeIDs = append(nc.NodeIDs, id)
	}
	if len(nc.NodeIDs) == 0 {
		return nil, fmt.Errorf("%w: no reload URI", ErrInvalidCert)
	}
	nc.SelfSigned = bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
	return nc, nil
}

// NodeIDsFromCert returns the Node-IDs and user name of a node
// certificate given in DER; see ParseNodeCert.
func NodeIDsFromCert(der []byte) (ids []wire.NodeID, user string, err error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidCert, err)
	}
	nc, err := ParseNodeCert(cert)
	if err != nil {
		return nil, "", err
	}
	return nc.NodeIDs, nc.User, nil
}

// nodeIDFromURL checks that u is reload://<node dest>@overlay/ and
// returns the Node-ID and overlay.
func nodeIDFromURL(u *url.URL) (wire.NodeID, string, error) {
	if u.Scheme != "reload" || u.User == nil || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return wire.NodeID{}, "", wire.ErrBadURI
	}
	if _, hasPw := u.User.Password(); hasPw || u.Port() != "" {
		return wire.NodeID{}, "", wire.ErrBadURI
	}
	pu, err := wire.ParseURI("reload://" + u.User.Username() + "@" + u.Host + u.EscapedPath())
	if err != nil {
		return wire.NodeID{}, "", err
	}
	if len(pu.Destinations) != 1 || len(pu.Specifier) != 0 {
		return wire.NodeID{}, "", fmt.Errorf("%w: want one node_id destination", wire.ErrBadURI)
	}
	id, ok := pu.Destinations[0].NodeID()
	if !ok || !id.Valid() {
		return wire.NodeID{}, "", fmt.Errorf("%w: not a node_id destination", wire.ErrBadURI)
	}
	return id, pu.Overlay, nil
}

// ValidUserName reports whether s is acceptable as a RELOAD user name in
// an rfc822Name: local@domain, where local is letters, digits and
// ".-_+" and domain is letters, digits, "-" and "." (RFC 6940 §11.3:
// "only legal characters in the name (e.g., no embedded NULs)"). At most
// 254 bytes.
func ValidUserName(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || len(s) > 254 {
		return false
	}
	for _, c := range local {
		if !isAlnum(c) && c != '.' && c != '-' && c != '_' && c != '+' {
			return false
		}
	}
	if domain[0] == '.' || domain[len(domain)-1] == '.' || strings.Contains(domain, "..") {
		return false
	}
	for _, c := range domain {
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// nodeURLs makes the subjectAltName URIs for ids in overlay.
func nodeURLs(ids []wire.NodeID, overlay string) ([]*url.URL, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no Node-IDs", ErrInvalidCert)
	}
	out := make([]*url.URL, len(ids))
	for i, id := range ids {
		if !id.Valid() {
			return nil, fmt.Errorf("%w: Node-ID %d invalid", ErrInvalidCert, i)
		}
		u, err := url.Parse(wire.NodeURI(id, overlay))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidCert, err)
		}
		out[i] = u
	}
	return out, nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// CA is an enrollment authority for one overlay: the root (or
// intermediate) certificate and its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed CA certificate named commonName, valid from
// notBefore to notAfter.
func NewCA(key crypto.Signer, commonName string, notBefore, notAfter time.Time) (*CA, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA from a certificate PEM and a private key PEM.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	ders, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, err
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("security: CA key does not match CA certificate")
	}
	return &CA{Cert: cert, Key: key}, nil
}

// CertRequest describes a node certificate to issue.
type CertRequest struct {
	PublicKey crypto.PublicKey
	NodeIDs   []wire.NodeID
	User      string // rfc822Name; "" for none
	Overlay   string
	NotBefore time.Time
	NotAfter  time.Time
	// CoAPURIs are coap: or coaps: URIs added to the subjectAltName
	// (RFC 7650 §9); optional.
	CoAPURIs []string
}

func nodeTemplate(req *CertRequest) (*x509.Certificate, error) {
	uris, err := nodeURLs(req.NodeIDs, req.Overlay)
	if err != nil {
		return nil, err
	}
	for _, c := range req.CoAPURIs {
		u, err := url.Parse(c)
		if err != nil || (u.Scheme != "coap" && u.Scheme != "coaps") || u.Host == "" {
			return nil, fmt.Errorf("%w: not a coap URI: %q", ErrInvalidCert, c)
		}
		uris = append(uris, u)
	}
	if req.User != "" && !ValidUserName(req.User) {
		return nil, fmt.Errorf("%w: illegal user name %q", ErrInvalidCert, req.User)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ku := x509.KeyUsageDigitalSignature
	if _, ok := req.PublicKey.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	t := &x509.Certificate{
		SerialNumber: serial,
		// RFC 6940 §11.3: the subject distinguished name MUST be empty;
		// crypto/x509 then marks the subjectAltName critical.
		Subject:     pkix.Name{},
		NotBefore:   req.NotBefore,
		NotAfter:    req.NotAfter,
		KeyUsage:    ku,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        uris,
	}
	if req.User != "" {
		t.EmailAddresses = []string{req.User}
	}
	return t, nil
}

// Issue signs a node certificate for req and returns its DER.
func (ca *CA) Issue(req CertRequest) ([]byte, error) {
	t, err := nodeTemplate(&req)
	if err != nil {
		return nil, err
	}
	return x509.CreateCertificate(rand.Reader, t, ca.Cert, req.PublicKey, ca.Key)
}

// ParseCSR parses a PKCS #10 request in DER (or one PEM block) and checks
// its self-signature. It returns the request and the user name it asks
// for (its one rfc822Name, or "").
func ParseCSR(b []byte) (*x509.CertificateRequest, string, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, "", errors.New("security: bad CSR PEM")
		}
		b = blk.Bytes
	}
	csr, err := x509.ParseCertificateRequest(b)
	if err != nil {
		return nil, "", fmt.Errorf("security: CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("security: CSR signature: %w", err)
	}
	switch len(csr.EmailAddresses) {
	case 0:
		return csr, "", nil
	case 1:
		return csr, csr.EmailAddresses[0], nil
	}
	return nil, "", errors.New("security: CSR asks for more than one user name")
}

// IssueFromCSR issues a node certificate for the key of a PKCS #10
// request (whose signature has been checked by ParseCSR). The Node-IDs,
// user name and overlay come from the enrollment server, not from the
// request.
func (ca *CA) IssueFromCSR(csr *x509.CertificateRequest, nodeIDs []wire.NodeID, user, overlay string, notBefore, notAfter time.Time) ([]byte, error) {
	return ca.Issue(CertRequest{PublicKey: csr.PublicKey, NodeIDs: nodeIDs, User: user, Overlay: overlay, NotBefore: notBefore, NotAfter: notAfter})
}

// IssueServerCert issues an ordinary TLS server certificate (for the
// configuration and enrollment HTTPS servers, RFC 6940 §11.2–11.3), with
// hosts as DNS names or IP addresses.
func (ca *CA) IssueServerCert(pub crypto.PublicKey, hosts []string, notBefore, notAfter time.Time) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(hosts) > 0 {
		t.Subject.CommonName = hosts[0]
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return x509.CreateCertificate(rand.Reader, t, ca.Cert, pub, ca.Key)
}

// CreateCSR makes a PKCS #10 request (DER) for key with an empty subject
// and user as its rfc822Name ("" for none).
func CreateCSR(key crypto.Signer, user string) ([]byte, error) {
	t := &x509.CertificateRequest{}
	if user != "" {
		if !ValidUserName(user) {
			return nil, fmt.Errorf("%w: illegal user name %q", ErrInvalidCert, user)
		}
		t.EmailAddresses = []string{user}
	}
	return x509.CreateCertificateRequest(rand.Reader, t, key)
}

// SelfSignedNodeIDs computes the n Node-IDs a self-signed certificate for
// pub must carry (RFC 6940 §11.3.1): for one Node-ID, the first idLen
// bytes of digest(subjectPublicKeyInfo); for several, the i-th (from 1)
// is digest(uint32 i || subjectPublicKeyInfo), i big-endian.
func SelfSignedNodeIDs(pub crypto.PublicKey, digest crypto.Hash, n, idLen int) ([]wire.NodeID, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return selfSignedNodeIDs(spki, digest, n, idLen)
}

func selfSignedNodeIDs(spki []byte, digest crypto.Hash, n, idLen int) ([]wire.NodeID, error) {
	if idLen == 0 {
		idLen = wire.DefaultNodeIDLen
	}
	if n < 1 || !digest.Available() || digest.Size() < idLen {
		return nil, fmt.Errorf("%w: self-signed Node-ID digest %v for %d bytes", ErrUnsupportedAlgorithm, digest, idLen)
	}
	ids := make([]wire.NodeID, n)
	for i := range ids {
		h := digest.New()
		if n > 1 {
			var idx [4]byte
			binary.BigEndian.PutUint32(idx[:], uint32(i+1))
			h.Write(idx[:])
		}
		h.Write(spki)
		id, err := wire.NodeIDFromBytes(h.Sum(nil)[:idLen])
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// CreateSelfSigned makes a self-signed node certificate (RFC 6940
// §11.3.1) with n Node-IDs derived from key's public key with digest
// (SHA-1 or SHA-256, the self-signed-permitted digest) and idLen bytes
// long. It returns the DER and the Node-IDs.
func CreateSelfSigned(key crypto.Signer, user, overlay string, digest crypto.Hash, n, idLen int, notBefore, notAfter time.Time) ([]byte, []wire.NodeID, error) {
	ids, err := SelfSignedNodeIDs(key.Public(), digest, n, idLen)
	if err != nil {
		return nil, nil, err
	}
	t, err := nodeTemplate(&CertRequest{PublicKey: key.Public(), NodeIDs: ids, User: user, Overlay: overlay, NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	return der, ids, err
}

// publicKeysEqual compares two public keys.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
