package security

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// createCASignedBy re-signs the CA certificate tmpl with parent.
func createCASignedBy(tmpl *x509.Certificate, parent *CA) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.Cert, tmpl.PublicKey, parent.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func TestNodeIDsFromCert(t *testing.T) {
	ids := randomNodeIDs(t, 3)
	der, err := testCA().Issue(CertRequest{PublicKey: ecKeys()[1].Public(), NodeIDs: ids, User: "alice@" + testOverlay,
		Overlay: testOverlay, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, user, err := NodeIDsFromCert(der)
	if err != nil {
		t.Fatal(err)
	}
	if user != "alice@"+testOverlay || len(got) != 3 {
		t.Fatalf("got %v %q", got, user)
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("Node-ID %d: %v, want %v", i, got[i], ids[i])
		}
	}
	c, _ := x509.ParseCertificate(der)
	if len(c.Subject.Names) != 0 || len(c.RawSubject) != 2 {
		t.Fatalf("subject not empty: %v", c.Subject)
	}
	for _, e := range c.Extensions {
		if e.Id.Equal([]int{2, 5, 29, 17}) && !e.Critical {
			t.Fatal("subjectAltName must be critical with an empty subject")
		}
	}
}

func TestParseNodeCertRejects(t *testing.T) {
	key := ecKeys()[1]
	id := randomNodeID(t)
	good, _ := url.Parse(wire.NodeURI(id, testOverlay))
	other, _ := url.Parse(wire.NodeURI(randomNodeID(t), "other.example.net"))
	res, _ := url.Parse("reload://0210" + "00112233445566778899aabbccddeeff" + "@" + testOverlay + "/")
	http, _ := url.Parse("https://example.org/")
	tests := []struct {
		name string
		mod  func(*x509.Certificate)
	}{
		{"no uri", func(c *x509.Certificate) { c.URIs = nil }},
		{"dns name", func(c *x509.Certificate) { c.DNSNames = []string{"x.example.org"} }},
		{"ip", func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.IPv4(192, 0, 2, 1)} }},
		{"two users", func(c *x509.Certificate) { c.EmailAddresses = []string{"a@b.c", "d@e.f"} }},
		{"bad user", func(c *x509.Certificate) { c.EmailAddresses = []string{"a b@c.d"} }},
		{"two overlays", func(c *x509.Certificate) { c.URIs = append(c.URIs, other) }},
		{"duplicate node id", func(c *x509.Certificate) { c.URIs = append(c.URIs, good) }},
		{"resource destination", func(c *x509.Certificate) { c.URIs = []*url.URL{res} }},
		{"not reload", func(c *x509.Certificate) { c.URIs = []*url.URL{http} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: testNow, NotAfter: testNow.Add(time.Hour),
				URIs: []*url.URL{good}, EmailAddresses: []string{"alice@" + testOverlay}}
			tc.mod(tmpl)
			der, err := x509.CreateCertificate(rand.Reader, tmpl, testCA().Cert, key.Public(), testCA().Key)
			if err != nil {
				t.Skipf("crypto/x509 refuses the template: %v", err)
			}
			if _, _, err := NodeIDsFromCert(der); !errors.Is(err, ErrInvalidCert) {
				t.Fatalf("got %v, want ErrInvalidCert", err)
			}
		})
	}
	if _, _, err := NodeIDsFromCert([]byte("not a certificate")); !errors.Is(err, ErrInvalidCert) {
		t.Fatalf("garbage: got %v", err)
	}
}

func TestValidUserName(t *testing.T) {
	for s, want := range map[string]bool{
		"alice@example.org": true, "a.b-c_d+e@x-y.example": true,
		"": false, "alice": false, "@example.org": false, "alice@": false, "al ice@x.y": false,
		"alice@x..y": false, "alice@.x": false, "a\x00b@x.y": false, "a@b@c": false, "ü@x.y": false,
	} {
		if got := ValidUserName(s); got != want {
			t.Errorf("ValidUserName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSelfSigned(t *testing.T) {
	for _, digest := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		for _, n := range []int{1, 3} {
			t.Run(digest.String(), func(t *testing.T) {
				key := ecKeys()[1]
				der, ids, err := CreateSelfSigned(key, "carol@example.net", testOverlay, digest, n, 16, testNow.Add(-time.Hour), testNow.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				spki, _ := x509.MarshalPKIXPublicKey(key.Public())
				h := digest.New()
				if n > 1 {
					h.Write([]byte{0, 0, 0, 1})
				}
				h.Write(spki)
				if want := h.Sum(nil)[:16]; string(ids[0].Bytes()) != string(want) {
					t.Fatalf("Node-ID %v, want %x", ids[0], want)
				}
				tr := &Trust{Overlay: testOverlay, SelfSignedPermitted: true, SelfSignedDigest: digest}
				nc, err := tr.VerifyChainDER([][]byte{der}, testNow)
				if err != nil {
					t.Fatal(err)
				}
				if !nc.SelfSigned || len(nc.NodeIDs) != n {
					t.Fatalf("got %+v", nc)
				}
				// Signing and verifying with it.
				id, err := NewIdentity(key, [][]byte{der})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := NewVerifier(tr, 0).Verify(pingMessage(t, id, randomNodeID(t)), Expect{NodeID: ids[0]}, testNow); err != nil {
					t.Fatal(err)
				}
				// Not permitted: no root to chain to.
				_, err = (&Trust{Overlay: testOverlay, Roots: x509.NewCertPool()}).VerifyChainDER([][]byte{der}, testNow)
				wantForbidden(t, err, ErrUntrusted)
				// Other digest: Node-IDs do not match.
				other := crypto.SHA1
				if digest == crypto.SHA1 {
					other = crypto.SHA256
				}
				_, err = (&Trust{Overlay: testOverlay, SelfSignedPermitted: true, SelfSignedDigest: other}).VerifyChainDER([][]byte{der}, testNow)
				wantForbidden(t, err, ErrUntrusted)
			})
		}
	}
}

// A self-signed certificate whose Node-ID is not the digest of its key
// (Node-ID theft, RFC 6940 §11.3.1) is rejected.
func TestSelfSignedStolenNodeID(t *testing.T) {
	key := ecKeys()[1]
	tmpl, err := nodeTemplate(&CertRequest{PublicKey: key.Public(), NodeIDs: randomNodeIDs(t, 1), Overlay: testOverlay,
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Trust{Overlay: testOverlay, SelfSignedPermitted: true}).VerifyChainDER([][]byte{der}, testNow)
	wantForbidden(t, err, ErrUntrusted)
}

func TestCSR(t *testing.T) {
	for _, key := range []crypto.Signer{ecKeys()[1], rsaKeys()[0]} {
		csrDER, err := CreateCSR(key, "dave@"+testOverlay)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{csrDER, pemEncode(pemCSR, csrDER)} {
			csr, user, err := ParseCSR(in)
			if err != nil {
				t.Fatal(err)
			}
			if user != "dave@"+testOverlay {
				t.Fatalf("user %q", user)
			}
			der, err := testCA().IssueFromCSR(csr, randomNodeIDs(t, 1), user, testOverlay, testNow.Add(-time.Hour), testNow.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := testTrust(t).VerifyChainDER([][]byte{der}, testNow); err != nil {
				t.Fatal(err)
			}
		}
		bad := append([]byte(nil), csrDER...)
		bad[len(bad)-3] ^= 1
		if _, _, err := ParseCSR(bad); err == nil {
			t.Fatal("tampered CSR accepted")
		}
	}
}

func TestPEM(t *testing.T) {
	for _, key := range []crypto.Signer{ecKeys()[0], rsaKeys()[0]} {
		p, err := MarshalKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParseKeyPEM(p)
		if err != nil {
			t.Fatal(err)
		}
		if !publicKeysEqual(key.Public(), k2.Public()) {
			t.Fatal("key changed")
		}
	}
	id := validIdentity(t, ecKeys()[1], 1)
	certPEM := MarshalCertsPEM(append(id.Chain, testCA().Cert.Raw)...)
	keyPEM, _ := MarshalKeyPEM(id.Key)
	id2, err := LoadIdentity(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if id2.NodeID() != id.NodeID() || len(id2.Chain) != 2 {
		t.Fatal("identity changed")
	}
	caPEM := MarshalCertsPEM(testCA().Cert.Raw)
	caKey, _ := MarshalKeyPEM(testCA().Key)
	if _, err := LoadCA(caPEM, caKey); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(caPEM, keyPEM); err == nil {
		t.Fatal("LoadCA accepted a key of another certificate")
	}
	if _, err := ParseKeyPEM([]byte("nothing")); err == nil {
		t.Fatal("ParseKeyPEM accepted garbage")
	}
}

func TestTLSConfig(t *testing.T) {
	a := validIdentity(t, ecKeys()[1], 1)
	b := validIdentity(t, rsaKeys()[0], 2)
	tr := testTrust(t)
	now := func() time.Time { return testNow }
	ca, cb := net.Pipe()
	client := tls.Client(ca, tr.TLSConfig(a, now))
	server := tls.Server(cb, tr.TLSConfig(b, now))
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	cs := client.ConnectionState()
	nc, err := tr.PeerNodeCert(&cs, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !nc.HasNodeID(b.Cert.NodeIDs[1]) || len(nc.NodeIDs) != 2 {
		t.Fatalf("client sees %v", nc.NodeIDs)
	}
	ss := server.ConnectionState()
	if nc, err := tr.PeerNodeCert(&ss, testNow); err != nil || nc.NodeIDs[0] != a.NodeID() {
		t.Fatalf("server sees %v, %v", nc, err)
	}
	client.Close()
	server.Close()

	// A peer from another overlay fails the handshake.
	evil := issue(t, testCA(), ecKeys()[2], "other.example.net", 1, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	ca, cb = net.Pipe()
	client = tls.Client(ca, tr.TLSConfig(a, now))
	server = tls.Server(cb, tr.TLSConfig(evil, now))
	go func() { errc <- server.Handshake() }()
	err = client.Handshake()
	if !errors.Is(err, ErrWrongOverlay) {
		t.Fatalf("handshake with foreign peer: %v", err)
	}
	ca.Close()
	cb.Close()
	<-errc
}
