package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

func runCmd(t *testing.T, f func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := f(args, &out, &errb)
	return code, out.String(), errb.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadIdentity(t *testing.T, dir string) *security.Identity {
	t.Helper()
	id, err := security.LoadIdentity(readFile(t, filepath.Join(dir, fileCert)), readFile(t, filepath.Join(dir, fileKey)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func password(t *testing.T, dir, account string) string {
	t.Helper()
	for line := range strings.SplitSeq(string(readFile(t, filepath.Join(dir, filePasswords))), "\n") {
		if name, pw, ok := strings.Cut(line, " "); ok && name == account {
			return pw
		}
	}
	t.Fatalf("no password for %s", account)
	return ""
}

func TestOverlayInitServeEnroll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "test.example.org", "--nodes", "2",
		"--bootstrap", "192.0.2.1:6084", "--bootstrap", "[2001:db8::1]:6085")
	if code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	if _, err := c.VerifySignature(nil, time.Now()); err != nil {
		t.Fatalf("configuration signature: %v", err)
	}
	if _, err := c.VerifiedKinds(time.Now()); err != nil {
		t.Fatalf("kind signatures: %v", err)
	}
	if len(c.BootstrapNodes) != 2 || c.BootstrapNodes[1].Address != "2001:db8::1" || c.BootstrapNodes[1].Port != 6085 {
		t.Fatalf("bootstrap: %+v", c.BootstrapNodes)
	}
	trust, err := c.Trust()
	if err != nil {
		t.Fatal(err)
	}
	node1 := loadIdentity(t, filepath.Join(dir, dirNodes, "node1"))
	if _, err := trust.VerifyChainDER(node1.Chain, time.Now()); err != nil {
		t.Fatalf("node1 certificate: %v", err)
	}
	if !strings.Contains(out, node1.NodeID().String()) {
		t.Errorf("init output does not list node1's Node-ID:\n%s", out)
	}
	if st, _ := os.Stat(filepath.Join(dir, fileCAKey)); st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", st.Mode())
	}
	// A second init in the same directory fails.
	if code, _, _ := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "test.example.org"); code != 1 {
		t.Fatalf("second init: exit %d, want 1", code)
	}

	// Serve it and enroll node1 again: same Node-ID, new key.
	run, _, err := startOverlayServer(dir, "127.0.0.1:0", log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	outDir := filepath.Join(t.TempDir(), "node1")
	code, out, errs = runCmd(t, runEnroll, "--server", run.URL, "--user", "node1", "--password", password(t, dir, "node1"),
		"--out", outDir, "--ca-cert", filepath.Join(dir, fileCA), "--enroll-url", run.URL+"/enroll")
	if code != 0 {
		t.Fatalf("enroll: %d\n%s%s", code, out, errs)
	}
	again := loadIdentity(t, outDir)
	if again.NodeID() != node1.NodeID() {
		t.Fatalf("re-enrolled as %v, want %v", again.NodeID(), node1.NodeID())
	}
	if publicKeyEqual(again, node1) {
		t.Fatal("enroll reused the old key")
	}
	if !bytes.Equal(readFile(t, filepath.Join(outDir, fileConfig)), readFile(t, filepath.Join(dir, fileConfig))) {
		t.Fatal("enroll did not save the configuration")
	}
	// Wrong password: a readable failure, exit 1.
	code, _, errs = runCmd(t, runEnroll, "--server", run.URL, "--user", "node1", "--password", "wrong",
		"--out", filepath.Join(t.TempDir(), "x"), "--ca-cert", filepath.Join(dir, fileCA), "--enroll-url", run.URL+"/enroll")
	if code != 1 || !strings.Contains(errs, "failed_authentication") {
		t.Fatalf("wrong password: exit %d, %q", code, errs)
	}
	// Without --ca-cert the server is not trusted.
	code, _, _ = runCmd(t, runEnroll, "--server", run.URL, "--user", "node1", "--password", "x", "--out", filepath.Join(t.TempDir(), "y"))
	if code != 1 {
		t.Fatalf("untrusted server: exit %d", code)
	}
}

func publicKeyEqual(a, b *security.Identity) bool {
	ka, ok := a.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b.Key.Public())
}

func TestOverlayInitSelfSignedRSA(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "ss.example.org", "--nodes", "1", "--algo", "rsa", "--self-signed")
	if code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	if !c.SelfSignedPermitted || len(c.RootCerts) != 0 || len(c.EnrollmentServers) != 0 {
		t.Fatalf("self-signed configuration: %+v", c)
	}
	if _, err := c.VerifySignature(nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	trust, _ := c.Trust()
	node := loadIdentity(t, filepath.Join(dir, dirNodes, "node1"))
	nc, err := trust.VerifyChainDER(node.Chain, time.Now())
	if err != nil || !nc.SelfSigned {
		t.Fatalf("self-signed node: %v %+v", err, nc)
	}
}

// --algo ed25519 gives the nodes Ed25519 keys (signature algorithm
// ed25519, RFC 8422 §5.1.3) under an ECDSA CA.
func TestOverlayInitEd25519(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "ed.example.org", "--nodes", "1", "--algo", "ed25519")
	if code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	ca, err := security.LoadCA(readFile(t, filepath.Join(dir, fileCA)), readFile(t, filepath.Join(dir, fileCAKey)))
	if err != nil {
		t.Fatal(err)
	}
	if ca.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("CA key %v, want ECDSA", ca.Cert.PublicKeyAlgorithm)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	if _, err := c.VerifySignature(nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	node := loadIdentity(t, filepath.Join(dir, dirNodes, "node1"))
	if node.Algorithm() != wire.AlgEd25519 {
		t.Fatalf("node signs with %v, want ed25519", node.Algorithm())
	}
	trust, err := c.Trust()
	if err != nil {
		t.Fatal(err)
	}
	contents := []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0}
	var sb wire.SecurityBlock
	if err := node.SignMessage(&sb, c.OverlayHash(), 1, contents); err != nil {
		t.Fatal(err)
	}
	if _, err := security.NewVerifier(trust, 0).VerifyMessage(c.OverlayHash(), 1, contents, &sb, security.Expect{NodeID: node.NodeID()}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestOverlayUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		f    func([]string, io.Writer, io.Writer) int
		args []string
		code int
	}{
		{"no command", runOverlay, nil, 2},
		{"unknown command", runOverlay, []string{"frobnicate"}, 2},
		{"help", runOverlay, []string{"--help"}, 0},
		{"init help", runOverlay, []string{"init", "--help"}, 0},
		{"init no dir", runOverlay, []string{"init", "--name", "x.example"}, 2},
		{"init no name", runOverlay, []string{"init", "--dir", dir}, 2},
		{"init bad name", runOverlay, []string{"init", "--dir", dir, "--name", "a b"}, 2},
		{"init bad algo", runOverlay, []string{"init", "--dir", dir, "--name", "x.example", "--algo", "dsa"}, 2},
		{"init bad bootstrap", runOverlay, []string{"init", "--dir", dir, "--name", "x.example", "--bootstrap", "example.org:6084"}, 2},
		{"init extra arg", runOverlay, []string{"init", "--dir", dir, "--name", "x.example", "extra"}, 2},
		{"init unknown flag", runOverlay, []string{"init", "--bogus"}, 2},
		{"serve no dir", runOverlay, []string{"serve"}, 2},
		{"serve missing dir", runOverlay, []string{"serve", "--dir", filepath.Join(dir, "none"), "--addr", "127.0.0.1:0"}, 1},
		{"enroll no server", runEnroll, []string{"--user", "u", "--out", dir}, 2},
		{"enroll http", runEnroll, []string{"--server", "http://x.example", "--user", "u", "--out", dir}, 2},
		{"enroll help", runEnroll, []string{"--help"}, 0},
		{"dispatcher", run, []string{"nope"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCmd(t, tc.f, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, errs)
			}
			if code == 2 && !strings.Contains(errs, "usage") {
				t.Fatalf("usage error without usage text: %q", errs)
			}
		})
	}
}

// --kind defines the extension Kinds, signed like the base ones: REDIR
// with its branching factor (RFC 7374 §8), ACCESS-CONTROL-LIST and the
// CoAP Kinds with the registry's models and policies; an unknown name is
// a usage error.
func TestOverlayInitExtensionKinds(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "ext.example.org", "--nodes", "1",
		"--kind", "redir", "--kind", "ACCESS-CONTROL-LIST", "--kind", "CoAP-REGISTRATION", "--kind", "coap-caching", "--kind", "REDIR")
	if code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	if _, err := c.VerifySignature(nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	kinds, err := c.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range config.RegisteredKinds {
		info, ok := kinds.Lookup(want.ID)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if info.DataModel != want.DataModel || info.AccessControl != want.AccessControl {
			t.Errorf("%s: %s %s, want %s %s", name, info.DataModel, info.AccessControl, want.DataModel, want.AccessControl)
		}
		if name == "REDIR" && info.BranchingFactor != 10 {
			t.Errorf("REDIR branching factor %d", info.BranchingFactor)
		}
	}
	if code, _, errs := runCmd(t, runOverlay, "init", "--dir", t.TempDir(), "--name", "x.example.org", "--kind", "NOPE"); code != 2 || !strings.Contains(errs, "REDIR") {
		t.Errorf("unknown kind: exit %d, %q", code, errs)
	}
}
