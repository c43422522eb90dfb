package security

import (
	"crypto"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

const testOverlay = "overlay.example.org"

// testNow is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Keys are slow to make (RSA), so tests share them.
var (
	ecKeys  = sync.OnceValue(func() []crypto.Signer { return makeKeys(KeyECDSAP256, 3) })
	rsaKeys = sync.OnceValue(func() []crypto.Signer { return makeKeys(KeyRSA2048, 2) })
	edKeys  = sync.OnceValue(func() []crypto.Signer { return makeKeys(KeyEd25519, 2) })
	testCA  = sync.OnceValue(func() *CA { return mustCA(ecKeys()[0]) })
)

func makeKeys(alg KeyAlgorithm, n int) []crypto.Signer {
	out := make([]crypto.Signer, n)
	for i := range out {
		k, err := GenerateKey(alg)
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
}

func mustCA(key crypto.Signer) *CA {
	ca, err := NewCA(key, "test RELOAD CA", testNow.Add(-time.Hour), testNow.Add(365*24*time.Hour))
	if err != nil {
		panic(err)
	}
	return ca
}

func randomNodeID(t testing.TB) wire.NodeID {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return wire.MustNodeID(b[:])
}

func randomNodeIDs(t testing.TB, n int) []wire.NodeID {
	t.Helper()
	ids := make([]wire.NodeID, n)
	for i := range ids {
		ids[i] = randomNodeID(t)
	}
	return ids
}

// issue makes an identity for key with n Node-IDs in overlay, valid
// for [nb, na], signed by ca.
func issue(t testing.TB, ca *CA, key crypto.Signer, overlay string, n int, nb, na time.Time) *Identity {
	t.Helper()
	der, err := ca.Issue(CertRequest{
		PublicKey: key.Public(), NodeIDs: randomNodeIDs(t, n), User: "alice@" + testOverlay,
		Overlay: overlay, NotBefore: nb, NotAfter: na,
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func validIdentity(t testing.TB, key crypto.Signer, n int) *Identity {
	t.Helper()
	return issue(t, testCA(), key, testOverlay, n, testNow.Add(-time.Hour), testNow.Add(24*time.Hour))
}

func testTrust(t testing.TB) *Trust {
	t.Helper()
	tr, err := NewTrust(testOverlay, [][]byte{testCA().Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// pingMessage encodes a signed Ping request from id to dst and decodes it
// again, as the receiver sees it.
func pingMessage(t testing.TB, id *Identity, dst wire.NodeID) *wire.Message {
	t.Helper()
	m := &wire.Message{
		Header: wire.ForwardingHeader{
			Overlay: wire.OverlayHash(testOverlay), Version: wire.Version10, TTL: wire.DefaultTTL,
			Fragment: wire.FragmentUnfragmed, TransactionID: 0x0102030405060708, MaxResponseLength: 0,
			Destinations: []wire.Destination{wire.NodeDest(&dst)},
		},
		Contents: wire.MessageContents{Code: wire.CodePingReq, Body: []byte{0, 0}},
	}
	contents, err := m.Contents.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.SignMessage(&m.Security, m.Header.Overlay, m.Header.TransactionID, contents); err != nil {
		t.Fatal(err)
	}
	enc, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.Message
	if _, err := got.Decode(enc); err != nil {
		t.Fatal(err)
	}
	return &got
}

// wantForbidden checks that err is an Error_Forbidden protocol error
// wrapping cause.
func wantForbidden(t *testing.T, err, cause error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want Error_Forbidden wrapping %v", cause)
	}
	pe, ok := errors.AsType[*wire.ProtocolError](err)
	if !ok {
		t.Fatalf("got %v (%T), want *wire.ProtocolError", err, err)
	}
	if pe.Code != wire.ErrCodeForbidden {
		t.Fatalf("code %v, want Error_Forbidden (%v)", pe.Code, err)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("got %v, want cause %v", err, cause)
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
