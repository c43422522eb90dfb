package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/goreload/reload/internal/poll"
	"github.com/goreload/reload/wire"
)

const testOverlay = "test.example.org"

// eventually polls cond until it holds or timeout passes, and reports
// whether it held. Tests over real sockets poll for the event they need
// instead of sleeping a guessed time.
func eventually(timeout time.Duration, cond func() bool) bool {
	return poll.Until(timeout, 2*time.Millisecond, cond)
}

// testCA is a tiny enrollment server: it signs node certificates whose
// SAN URIs are reload:// node URIs (RFC 6940 §11.3).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	now  func() time.Time
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test overlay CA"},
		NotBefore:             time.Unix(0, 0), // valid inside synctest bubbles too
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, now: time.Now}
}

// issue returns a node certificate for ids valid from nb to na.
func (ca *testCA) issue(t testing.TB, nb, na time.Time, ids ...wire.NodeID) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "node"},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	for _, id := range ids {
		u, err := url.Parse(wire.NodeURI(id, testOverlay))
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func (ca *testCA) node(t testing.TB, id wire.NodeID) *tls.Certificate {
	return ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), id)
}

// VerifyPeer checks the chain against the CA (expiry included) and
// returns the Node-IDs of the leaf's reload:// URIs.
func (ca *testCA) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: ca.pool, Intermediates: inter, CurrentTime: ca.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, err
	}
	var ids []wire.NodeID
	for _, u := range chain[0].URIs {
		ru, err := wire.ParseURI(u.String())
		if err != nil || ru.Overlay != testOverlay {
			continue
		}
		for _, d := range ru.Destinations {
			if id, ok := d.NodeID(); ok {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("test CA: no node URI")
	}
	return ids, nil
}

func nodeID(b byte) wire.NodeID {
	return wire.MustNodeID(bytes.Repeat([]byte{b}, 16))
}

// pingMessage builds a whole RELOAD Ping request with a padding of pad
// bytes, from -> to, signed with a dummy ECDSA signature.
func pingMessage(t testing.TB, txid uint64, pad int, from, to wire.NodeID) []byte {
	t.Helper()
	body := wire.AppendU16(nil, uint16(pad))
	body = append(body, bytes.Repeat([]byte{byte(txid)}, pad)...)
	m := wire.Message{
		Header: wire.ForwardingHeader{
			Overlay:           wire.OverlayHash(testOverlay),
			Version:           wire.Version10,
			TTL:               wire.DefaultTTL,
			Fragment:          wire.FragmentUnfragmed,
			TransactionID:     txid,
			MaxResponseLength: 0,
			Via:               []wire.Destination{wire.NodeDest(&from)},
			Destinations:      []wire.Destination{wire.NodeDest(&to)},
		},
		Contents: wire.MessageContents{Code: wire.CodePingReq, Body: body},
		Security: wire.SecurityBlock{Signature: wire.Signature{
			Algorithm: wire.AlgECDSASHA256,
			Identity: wire.SignerIdentity{
				Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256,
				Hash: bytes.Repeat([]byte{0xab}, 32),
			},
			Value: bytes.Repeat([]byte{0x5a}, 64),
		}},
	}
	// Via lists start empty at the originator; keep one entry to make
	// the header a realistic size.
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var chk wire.Message
	if _, err := chk.Decode(b); err != nil {
		t.Fatal(err)
	}
	return b
}
