package config

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const testOverlay = "overlay.example.org"

type testPKI struct {
	ca      *security.CA
	signer  *security.Identity // RSA: configuration and kind signer
	ecdsa   *security.Identity // ECDSA: kind signer
	outside *security.Identity // enrolled but not a signer
}

var pki = sync.OnceValue(func() *testPKI {
	caKey, _ := security.GenerateKey(security.KeyECDSAP256)
	ca, err := security.NewCA(caKey, "config test CA", testNow.Add(-time.Hour), testNow.Add(24*time.Hour))
	if err != nil {
		panic(err)
	}
	mk := func(alg security.KeyAlgorithm, user string) *security.Identity {
		key, _ := security.GenerateKey(alg)
		var b [16]byte
		_, _ = rand.Read(b[:])
		der, err := ca.Issue(security.CertRequest{PublicKey: key.Public(), NodeIDs: []wire.NodeID{wire.MustNodeID(b[:])},
			User: user, Overlay: testOverlay, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)})
		if err != nil {
			panic(err)
		}
		id, err := security.NewIdentity(key, [][]byte{der})
		if err != nil {
			panic(err)
		}
		return id
	}
	return &testPKI{ca: ca, signer: mk(security.KeyRSA2048, "admin@"+testOverlay),
		ecdsa: mk(security.KeyECDSAP256, "kinds@"+testOverlay), outside: mk(security.KeyECDSAP256, "eve@"+testOverlay)}
})

// generated builds a signed configuration document for the test PKI.
func generated(t *testing.T, seq uint16, algorithm string) (*Document, *Configuration) {
	t.Helper()
	p := pki()
	c := New(testOverlay)
	c.Sequence = seq
	c.Expiration = testNow.Add(24 * time.Hour)
	c.RootCerts = [][]byte{p.ca.Cert.Raw}
	c.EnrollmentServers = []string{"https://enroll.example.org/enroll"}
	c.BootstrapNodes = []BootstrapNode{{"192.0.2.1", 6084}, {"2001:db8::1", 6085}}
	c.ConfigurationSigners = []string{p.signer.NodeID().String()}
	c.KindSigners = []string{p.signer.NodeID().String(), p.ecdsa.NodeID().String()}
	c.RequiredKinds = []KindBlock{
		{Kind: Kind{Name: "SIP-REGISTRATION", DataModel: DataModelDictionary, AccessControl: AccessUserNodeMatch, MaxCount: 10, MaxSize: 1000}},
		{Kind: Kind{ID: 0xf0000001, DataModel: DataModelArray, AccessControl: AccessNodeMultiple, MaxNodeMultiple: 4, MaxCount: 5, MaxSize: 100}},
	}
	d := &Document{Configurations: []*Configuration{c}}
	if err := d.SignKind(c, &c.RequiredKinds[0], p.signer, "rsa-sha256"); err != nil {
		t.Fatal(err)
	}
	if err := d.SignKind(c, &c.RequiredKinds[1], p.ecdsa, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Sign(c, p.signer, algorithm); err != nil {
		t.Fatal(err)
	}
	return d, c
}

// reparse writes d and parses it again, as a receiver would.
func reparse(t *testing.T, d *Document) *Document {
	t.Helper()
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return d2
}

func TestSignVerifyConfiguration(t *testing.T) {
	for _, alg := range []string{AlgorithmRSASHA1, "rsa-sha256", "rsa-sha512", ""} {
		t.Run("alg="+alg, func(t *testing.T) {
			d, c := generated(t, 7, alg)
			if c.Signatures[0].Algorithm != alg {
				t.Fatalf("algorithm attribute %q", c.Signatures[0].Algorithm)
			}
			got := reparse(t, d).Configurations[0]
			s, err := got.VerifySignature(nil, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if s.NodeID != pki().signer.NodeID() {
				t.Fatalf("signer %v", s.NodeID)
			}
			kinds, err := got.VerifiedKinds(testNow)
			if err != nil {
				t.Fatal(err)
			}
			if k, ok := kinds.Lookup(0xf0000001); !ok || k.Signer != pki().ecdsa.NodeID() || k.MaxNodeMultiple != 4 {
				t.Fatalf("kind: %+v", k)
			}
		})
	}
}

func TestVerifyConfigurationRejects(t *testing.T) {
	p := pki()
	for _, tc := range []struct {
		name  string
		mod   func(*Document, *Configuration)
		cause error
	}{
		{"tampered byte", func(_ *Document, c *Configuration) {
			i := bytes.Index(c.Raw, []byte(`sequence="7"`))
			c.Raw[i+len(`sequence="`)] = '9'
		}, security.ErrBadSignature},
		{"unsigned", func(_ *Document, c *Configuration) { c.Signatures = nil }, ErrUnsigned},
		{"signer not listed", func(d *Document, c *Configuration) {
			if err := d.Sign(c, p.outside, ""); err != nil {
				t.Fatal(err)
			}
		}, ErrNotSigner},
		{"algorithm attribute lies", func(_ *Document, c *Configuration) { c.Signatures[0].Algorithm = "rsa-sha512" }, ErrAlgorithmMismatch},
		{"expired signer", func(_ *Document, _ *Configuration) {}, security.ErrCertExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c := generated(t, 7, AlgorithmRSASHA1)
			tc.mod(d, c)
			got := reparse(t, d).Configurations[0]
			now := testNow
			if tc.cause == security.ErrCertExpired {
				now = testNow.Add(2 * time.Hour)
			}
			_, err := got.VerifySignature(nil, now)
			pe, ok := errors.AsType[*wire.ProtocolError](err)
			if !ok || pe.Code != wire.ErrCodeForbidden || !errors.Is(err, tc.cause) {
				t.Fatalf("got %v, want Error_Forbidden wrapping %v", err, tc.cause)
			}
		})
	}
	// A configuration for another overlay, signed by a signer of this
	// one, fails the certificate's overlay check.
	d, c := generated(t, 7, "")
	c.InstanceName = "other.example.net"
	if err := d.Sign(c, p.signer, ""); err != nil {
		t.Fatal(err)
	}
	_, err := reparse(t, d).Configurations[0].VerifySignature(nil, testNow)
	if !errors.Is(err, security.ErrWrongOverlay) {
		t.Fatalf("other overlay: %v", err)
	}
}

func TestKindSignatureRejects(t *testing.T) {
	_, c := generated(t, 7, "")
	kb := c.RequiredKinds[1]
	raw := append([]byte(nil), kb.Kind.Raw...)
	raw[len(raw)-10] ^= 1
	kb.Kind.Raw = raw
	if _, err := c.VerifyKindSignature(&kb, testNow); !errors.Is(err, security.ErrBadSignature) {
		t.Fatalf("tampered kind: %v", err)
	}
	c.KindSigners = c.KindSigners[:1]
	if _, err := c.VerifyKindSignature(&c.RequiredKinds[1], testNow); !errors.Is(err, ErrNotKindSigner) {
		t.Fatalf("signer removed: %v", err)
	}
}

func TestAcceptConfigUpdate(t *testing.T) {
	_, cur := generated(t, 7, "")
	newer, _ := generated(t, 8, "")
	data, err := newer.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, c, err := AcceptConfigUpdate(cur, data, testNow); err != nil || c.Sequence != 8 {
		t.Fatalf("newer: %v", err)
	}
	older, _ := generated(t, 7, "")
	data, _ = older.Marshal()
	_, _, err = AcceptConfigUpdate(cur, data, testNow)
	if pe, ok := errors.AsType[*wire.ProtocolError](err); !ok || pe.Code != wire.ErrCodeConfigTooOld {
		t.Fatalf("same sequence: %v", err)
	}
	// Signed by someone who is not a configuration-signer of cur.
	evil, ec := generated(t, 9, "")
	if err := evil.Sign(ec, pki().outside, ""); err != nil {
		t.Fatal(err)
	}
	data, _ = evil.Marshal()
	_, _, err = AcceptConfigUpdate(cur, data, testNow)
	if pe, ok := errors.AsType[*wire.ProtocolError](err); !ok || pe.Code != wire.ErrCodeForbidden {
		t.Fatalf("bad signer: %v", err)
	}
	_, _, err = AcceptConfigUpdate(cur, []byte("<x"), testNow)
	if pe, ok := errors.AsType[*wire.ProtocolError](err); !ok || pe.Code != wire.ErrCodeInvalidMessage {
		t.Fatalf("garbage: %v", err)
	}
}

func TestAcceptKindUpdate(t *testing.T) {
	_, c := generated(t, 7, "")
	p := pki()
	kb := KindBlock{Kind: Kind{ID: 0xf0000002, DataModel: DataModelSingle, AccessControl: AccessUserMatch, MaxCount: 1, MaxSize: 10}}
	d := &Document{}
	if err := d.SignKind(c, &kb, p.ecdsa, ""); err != nil {
		t.Fatal(err)
	}
	desc := []byte("<kind-block>" + string(kb.Kind.Raw) + "<kind-signature>" +
		encodeB64(kb.Signature.Value) + "</kind-signature></kind-block>")
	known, err := c.VerifiedKinds(testNow)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := AcceptKindUpdate(c, known, [][]byte{desc}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := k2.Lookup(0xf0000002); !ok || info.Signer != p.ecdsa.NodeID() {
		t.Fatalf("kind not added: %+v", info)
	}
	// Redefining 0xf0000001 (signed by p.ecdsa) with another signer.
	kb.Kind = Kind{ID: 0xf0000001, DataModel: DataModelSingle, AccessControl: AccessUserMatch, MaxCount: 1, MaxSize: 10}
	if err := d.SignKind(c, &kb, p.signer, ""); err != nil {
		t.Fatal(err)
	}
	desc = []byte("<kind-block>" + string(kb.Kind.Raw) + "<kind-signature>" + encodeB64(kb.Signature.Value) + "</kind-signature></kind-block>")
	_, err = AcceptKindUpdate(c, known, [][]byte{desc}, testNow)
	if pe, ok := errors.AsType[*wire.ProtocolError](err); !ok || pe.Code != wire.ErrCodeForbidden {
		t.Fatalf("conflicting signer: %v", err)
	}
}

func TestTrustFromConfiguration(t *testing.T) {
	doc, err := Parse(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := doc.Configurations[0].Trust()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Overlay != "overlay.example.org" || tr.SelfSignedPermitted || tr.NodeIDLen != 16 {
		t.Fatalf("%+v", tr)
	}
	c := New("x.example")
	c.SelfSignedPermitted, c.SelfSignedDigest = true, "sha256"
	if tr, err := c.Trust(); err != nil || !tr.SelfSignedPermitted || tr.SelfSignedDigest != crypto.SHA256 {
		t.Fatalf("%+v %v", tr, err)
	}
	c.SelfSignedDigest = "md5"
	if _, err := c.Trust(); err == nil {
		t.Fatal("md5 digest accepted")
	}
	bad := randomBadNode()
	c.SelfSignedDigest = "sha1"
	c.BadNodes = []string{bad.String(), "47112162e84c69ba"}
	if tr, err := c.Trust(); err != nil || !tr.IsBadNode(bad) || len(tr.BadNodes) != 1 {
		t.Fatalf("bad nodes: %+v %v", tr, err)
	}
}

func randomBadNode() wire.NodeID {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return wire.MustNodeID(b[:])
}

func TestParseAlgorithm(t *testing.T) {
	for name, want := range map[string]wire.SignatureAndHashAlgorithm{
		"rsa-sha1": {Hash: wire.HashSHA1, Signature: wire.SigRSA}, "RSA-SHA256": wire.AlgRSASHA256,
		"ecdsa-sha256": wire.AlgECDSASHA256, "ecdsa-sha512": {Hash: wire.HashSHA512, Signature: wire.SigECDSA},
	} {
		if got, err := ParseAlgorithm(name); err != nil || got != want {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
	for _, bad := range []string{"", "rsa", "dsa-sha1", "rsa-md5", "rsa-sha256-x"} {
		if _, err := ParseAlgorithm(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
