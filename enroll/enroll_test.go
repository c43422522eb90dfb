package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

const testOverlay = "overlay.example.org"

type fixture struct {
	srv     *Server
	run     *Running
	client  *Client
	conf    *config.Configuration
	confRaw []byte
}

// start runs a configuration and enrollment server on loopback with a
// signed configuration naming it.
func start(t *testing.T) *fixture {
	t.Helper()
	return startWith(t, nil)
}

// startWith is start with mod applied to the server before it starts.
func startWith(t *testing.T, mod func(*Server)) *fixture {
	t.Helper()
	now := time.Now()
	caKey, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := security.NewCA(caKey, "enroll test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	users := NewUserDB()
	users.Iterations = 1000
	for _, u := range []string{"alice", "admin", "bob@example.net"} {
		if err := users.SetPassword(u, "secret-"+u); err != nil {
			t.Fatal(err)
		}
	}
	srv := &Server{Overlay: testOverlay, CA: ca, Users: users, MaxNodeIDs: 4}
	if mod != nil {
		mod(srv)
	}
	cert, err := ServerCertificate(ca, []string{testOverlay, "127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	run, err := srv.Start("127.0.0.1:0", cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run.Close(); err != nil {
			t.Error(err)
		}
	})
	// The configuration signer is enrolled directly.
	signerKey, _ := security.GenerateKey(security.KeyRSA2048)
	csr, _ := security.CreateCSR(signerKey, "")
	der, err := srv.IssueAuthenticated("admin", 1, csr)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := security.NewIdentity(signerKey, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	c := config.New(testOverlay)
	c.RootCerts = [][]byte{ca.Cert.Raw}
	c.EnrollmentServers = []string{run.URL + DefaultEnrollPath}
	c.ConfigurationSigners = []string{signer.NodeID().String()}
	doc := &config.Document{Configurations: []*config.Configuration{c}}
	if err := doc.Sign(c, signer, config.AlgorithmRSASHA1); err != nil {
		t.Fatal(err)
	}
	raw, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	srv.SetConfig(raw)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return &fixture{srv: srv, run: run, client: NewClient(roots, ""), conf: c, confRaw: raw}
}

func TestEnrollRoundTrip(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	doc, raw, err := f.client.FetchConfig(ctx, f.run.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, f.confRaw) {
		t.Fatal("configuration changed in transit")
	}
	conf := doc.Configuration(testOverlay)
	if conf == nil {
		t.Fatal("no configuration for the overlay")
	}
	if _, err := conf.VerifySignature(nil, time.Now()); err != nil {
		t.Fatalf("configuration signature: %v", err)
	}
	enroll := func(alg security.KeyAlgorithm, n int) *security.Identity {
		t.Helper()
		key, err := security.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		id, err := f.client.EnrollIdentity(ctx, conf, "", "alice", "secret-alice", n, key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := enroll(security.KeyECDSAP256, 1)
	if first.Cert.User != "alice@"+testOverlay || len(first.Cert.NodeIDs) != 1 || first.Cert.Overlay != testOverlay {
		t.Fatalf("certificate: %+v", first.Cert)
	}
	if len(first.Cert.Cert.Subject.Names) != 0 {
		t.Fatalf("subject not empty: %v", first.Cert.Cert.Subject)
	}
	// Same user, new key: same Node-ID (RFC 6940 §11.3).
	again := enroll(security.KeyRSA2048, 1)
	if again.NodeID() != first.NodeID() {
		t.Fatalf("re-enrollment gave %v, first %v", again.NodeID(), first.NodeID())
	}
	three := enroll(security.KeyECDSAP256, 3)
	if len(three.Cert.NodeIDs) != 3 || three.Cert.NodeIDs[0] != first.NodeID() {
		t.Fatalf("three Node-IDs: %v", three.Cert.NodeIDs)
	}
	// Another user gets other Node-IDs, and a user name with a domain is
	// kept as is.
	key, _ := security.GenerateKey(security.KeyECDSAP256)
	bob, err := f.client.EnrollIdentity(ctx, conf, "", "bob@example.net", "secret-bob@example.net", 1, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if bob.Cert.User != "bob@example.net" || bob.NodeID() == first.NodeID() {
		t.Fatalf("bob: %+v", bob.Cert)
	}
	// The enrolled identity signs messages another node can verify with
	// the configuration's trust.
	trust, _ := conf.Trust()
	var sb wire.SecurityBlock
	if err := first.SignMessage(&sb, conf.OverlayHash(), 1, []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := security.NewVerifier(trust, 0).VerifyMessage(conf.OverlayHash(), 1, []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0}, &sb,
		security.Expect{NodeID: first.NodeID()}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// An Ed25519 node key enrolls with the ECDSA CA: the CSR and the
// certificate carry the Ed25519 key, and the identity signs with ed25519
// (RFC 8422 §5.1.3) verifiably next to an ECDSA node.
func TestEnrollEd25519(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	doc, _, err := f.client.FetchConfig(ctx, f.run.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := doc.Configuration(testOverlay)
	trust, err := conf.Trust()
	if err != nil {
		t.Fatal(err)
	}
	v := security.NewVerifier(trust, 0)
	contents := []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0}
	for i, alg := range []security.KeyAlgorithm{security.KeyEd25519, security.KeyECDSAP256} {
		key, err := security.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		id, err := f.client.EnrollIdentity(ctx, conf, "", "alice", "secret-alice", 1, key, time.Now())
		if err != nil {
			t.Fatalf("%v: %v", alg, err)
		}
		wantKey, wantAlg := x509.Ed25519, wire.AlgEd25519
		if alg != security.KeyEd25519 {
			wantKey, wantAlg = x509.ECDSA, wire.AlgECDSASHA256
		}
		if id.Cert.Cert.PublicKeyAlgorithm != wantKey || id.Algorithm() != wantAlg {
			t.Fatalf("%v: certificate key %v, algorithm %v", alg, id.Cert.Cert.PublicKeyAlgorithm, id.Algorithm())
		}
		var sb wire.SecurityBlock
		if err := id.SignMessage(&sb, conf.OverlayHash(), uint64(i), contents); err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyMessage(conf.OverlayHash(), uint64(i), contents, &sb, security.Expect{NodeID: id.NodeID()}, time.Now()); err != nil {
			t.Fatalf("%v: %v", alg, err)
		}
	}
}

func TestEnrollRefusals(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	url := f.run.URL + DefaultEnrollPath
	key, _ := security.GenerateKey(security.KeyECDSAP256)
	csr, _ := security.CreateCSR(key, "")
	otherUser, _ := security.CreateCSR(key, "mallory@"+testOverlay)
	for _, tc := range []struct {
		name  string
		req   Request
		token string
	}{
		{"wrong password", Request{Username: "alice", Password: "nope", CSR: csr}, TokenFailedAuthentication},
		{"unknown user", Request{Username: "carol", Password: "x", CSR: csr}, TokenFailedAuthentication},
		{"illegal user", Request{Username: "al\x00ice", Password: "secret-alice", CSR: csr}, TokenFailedAuthentication},
		{"too many node ids", Request{Username: "alice", Password: "secret-alice", NodeIDs: 5, CSR: csr}, TokenNodeIDsNotAvailable},
		{"bad csr", Request{Username: "alice", Password: "secret-alice", CSR: []byte("garbage")}, TokenBadCSR},
		{"other user name in csr", Request{Username: "alice", Password: "secret-alice", CSR: otherUser}, TokenUsernameNotAvailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.Enroll(ctx, url, tc.req)
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden || e.Token != tc.token {
				t.Fatalf("got %v, want 403 %s", err, tc.token)
			}
		})
	}
	// Accept must allow application/pkix-cert.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("username", "alice")
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "text/html")
	resp, err := f.client.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Fatalf("Accept text/html: %d", resp.StatusCode)
	}
	// GET on the enrollment URL is not allowed.
	resp, err = f.client.HTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET enroll: %d", resp.StatusCode)
	}
}

// A certificate from an enrollment server whose CA is not in root-cert
// is refused by the client.
func TestEnrollUntrustedCertificate(t *testing.T) {
	f := start(t)
	other := start(t)
	key, _ := security.GenerateKey(security.KeyECDSAP256)
	ctx := context.Background()
	// TLS itself fails: the other server's certificate is not trusted.
	if _, err := f.client.EnrollIdentity(ctx, f.conf, other.run.URL+DefaultEnrollPath, "alice", "secret-alice", 1, key, time.Now()); err == nil {
		t.Fatal("connected to a server with an untrusted TLS certificate")
	}
	// Trusting both for HTTPS, the certificate still fails the root-cert
	// check.
	roots := x509.NewCertPool()
	roots.AddCert(f.srv.CA.Cert)
	roots.AddCert(other.srv.CA.Cert)
	_, err := NewClient(roots, "").EnrollIdentity(ctx, f.conf, other.run.URL+DefaultEnrollPath, "alice", "secret-alice", 1, key, time.Now())
	if !errors.Is(err, security.ErrUntrusted) {
		t.Fatalf("got %v, want ErrUntrusted", err)
	}
}

func TestUserDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	db, err := LoadUserDB(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Iterations = 1000
	if err := db.SetPassword("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a b", "a\x00b", "a@b@c", "ü"} {
		if err := db.SetPassword(bad, "pw"); !errors.Is(err, ErrBadUserName) {
			t.Errorf("SetPassword(%q): %v", bad, err)
		}
	}
	ids, err := db.NodeIDs("alice", 2, 16, bytes.NewReader(bytes.Repeat([]byte{0x42}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	db2, err := LoadUserDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if !db2.Authenticate("alice", "pw") || db2.Authenticate("alice", "pW") || db2.Authenticate("bob", "pw") {
		t.Fatal("Authenticate")
	}
	ids2, err := db2.NodeIDs("alice", 2, 16, bytes.NewReader(nil))
	if err != nil || ids2[0] != ids[0] || ids2[1] != ids[1] {
		t.Fatalf("Node-IDs after reload: %v %v", ids2, err)
	}
	// A different node-id-length assigns new ones.
	ids3, err := db2.NodeIDs("alice", 1, 20, bytes.NewReader(bytes.Repeat([]byte{0x43}, 20)))
	if err != nil || ids3[0].Len() != 20 {
		t.Fatalf("20-byte Node-IDs: %v %v", ids3, err)
	}
	if _, err := db2.NodeIDs("nobody", 1, 16, bytes.NewReader(nil)); err == nil {
		t.Fatal("Node-IDs for unknown user")
	}
}
