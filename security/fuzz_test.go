package security

import (
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

// FuzzNodeIDsFromCert feeds arbitrary DER to the node certificate parser.
// When it accepts a certificate, the result must obey the RFC 6940 §11.3
// rules it claims to check, and the certificate's URIs must re-encode to
// the same Node-IDs.
func FuzzNodeIDsFromCert(f *testing.F) {
	for _, der := range fuzzSeedCerts(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		ids, user, err := NodeIDsFromCert(der)
		if err != nil {
			return
		}
		if len(ids) == 0 {
			t.Fatal("accepted a certificate without Node-IDs")
		}
		if user != "" && !ValidUserName(user) {
			t.Fatalf("accepted illegal user %q", user)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ParseNodeCert(cert)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[wire.NodeID]bool{}
		for i, id := range ids {
			if !id.Valid() || id.Len() != ids[0].Len() || seen[id] {
				t.Fatalf("Node-ID %d: %v", i, id)
			}
			seen[id] = true
			u, err := wire.ParseURI(wire.NodeURI(id, nc.Overlay))
			if err != nil {
				t.Fatalf("Node-ID %d does not re-encode: %v", i, err)
			}
			if got, _ := u.Destinations[0].NodeID(); got != id {
				t.Fatalf("Node-ID %d: re-encoded to %v", i, got)
			}
		}
	})
}

// fuzzSeedCerts makes certificates of each shape the parser meets.
func fuzzSeedCerts(tb testing.TB) [][]byte {
	tb.Helper()
	nb, na := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	var out [][]byte
	for _, n := range []int{1, 2} {
		der, err := testCA().Issue(CertRequest{PublicKey: ecKeys()[1].Public(), NodeIDs: randomNodeIDs(tb, n),
			User: "alice@" + testOverlay, Overlay: testOverlay, NotBefore: nb, NotAfter: na})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, der)
	}
	ss, _, err := CreateSelfSigned(ecKeys()[2], "", testOverlay, 0x5 /* crypto.SHA256 */, 1, 20, nb, na)
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, ss, testCA().Cert.Raw)
}

// TestWriteFuzzCorpus rewrites testdata/fuzz/FuzzNodeIDsFromCert with
// -update.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzNodeIDsFromCert")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, der := range fuzzSeedCerts(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", der)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
