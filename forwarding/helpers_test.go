package forwarding

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

const testOverlay = "fwd.example.org"

// testStart is the wall clock when the tests began: certificates are
// valid around it, and the pure values are driven from it.
var testStart = time.Now()

var testCA = sync.OnceValue(func() *security.CA {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		panic(err)
	}
	ca, err := security.NewCA(key, "forwarding test CA", testStart.Add(-time.Hour), testStart.Add(48*time.Hour))
	if err != nil {
		panic(err)
	}
	return ca
})

var (
	identMu    sync.Mutex
	identities = map[byte]*security.Identity{}
)

// nid is the test Node-ID made of 16 bytes b.
func nid(b byte) wire.NodeID { return wire.MustNodeID(bytes.Repeat([]byte{b}, 16)) }

// ident is the identity of test node b (cached: keys are slow-ish).
func ident(t testing.TB, b byte) *security.Identity {
	t.Helper()
	identMu.Lock()
	defer identMu.Unlock()
	if id, ok := identities[b]; ok {
		return id
	}
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := testCA().Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: []wire.NodeID{nid(b)}, User: "node@" + testOverlay,
		Overlay: testOverlay, NotBefore: testStart.Add(-time.Hour), NotAfter: testStart.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	identities[b] = id
	return id
}

func testTrust(t testing.TB) *security.Trust {
	t.Helper()
	tr, err := security.NewTrust(testOverlay, [][]byte{testCA().Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func testVerifier(t testing.TB) *security.Verifier {
	return security.NewVerifier(testTrust(t), 0)
}

func local(t testing.TB, b byte) Local {
	return Local{Identity: ident(t, b), Overlay: wire.OverlayHash(testOverlay), ConfigSequence: 7}
}

// staticRouter is a trivial topology: every id not in local goes to next.
type staticRouter struct {
	next  wire.NodeID
	local map[string]bool // Resource-IDs and Node-IDs this node is responsible for
	err   error
}

func (r *staticRouter) Route(d *wire.Destination) (wire.NodeID, bool, error) {
	if r.err != nil {
		return wire.NodeID{}, false, r.err
	}
	if r.local[string(d.ID)] {
		return wire.NodeID{}, true, nil
	}
	if r.next.IsZero() {
		return wire.NodeID{}, false, &wire.ProtocolError{Code: wire.ErrCodeNotFound, Info: []byte("no route")}
	}
	return r.next, false, nil
}

// fakeNeighbors is a connection table without links.
type fakeNeighbors struct {
	ids   map[wire.NodeID]uint16
	stale map[uint16]bool
}

func neighbors(ids ...wire.NodeID) *fakeNeighbors {
	n := &fakeNeighbors{ids: map[wire.NodeID]uint16{}, stale: map[uint16]bool{}}
	for i, id := range ids {
		n.ids[id] = 0x8000 | uint16(i+1)
	}
	return n
}

func (n *fakeNeighbors) Connected(id wire.NodeID) bool { _, ok := n.ids[id]; return ok }
func (n *fakeNeighbors) Compress(id wire.NodeID) (uint16, bool) {
	v, ok := n.ids[id]
	return v, ok
}
func (n *fakeNeighbors) Expand(v uint16) (wire.NodeID, bool) {
	if n.stale[v] {
		return wire.NodeID{}, false
	}
	for id, w := range n.ids {
		if w == v {
			return id, true
		}
	}
	return wire.NodeID{}, false
}

// newCore is the core of node self with the given router and neighbours.
func newCore(t testing.TB, self byte, r Router, n Neighbors) *Core {
	t.Helper()
	c, err := NewCore(CoreConfig{Local: local(t, self), Router: r, Neighbors: n})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request builds a signed request from node origin: its header is made by
// the defaults below and then changed by edit.
func request(t testing.TB, origin byte, code wire.MessageCode, body []byte, edit func(*wire.Message)) []byte {
	t.Helper()
	m := &wire.Message{
		Header: wire.ForwardingHeader{
			Overlay: wire.OverlayHash(testOverlay), ConfigSequence: 7, Version: wire.Version10, TTL: wire.DefaultTTL,
			Fragment: wire.FragmentUnfragmed, TransactionID: 0x1122334455667788,
		},
		Contents: wire.MessageContents{Code: code, Body: body},
	}
	if edit != nil {
		edit(m)
	}
	contents, err := m.Contents.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ident(t, origin).SignMessage(&m.Security, m.Header.Overlay, m.Header.TransactionID, contents); err != nil {
		t.Fatal(err)
	}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pingBody() []byte { return []byte{0, 0} }

func dests(ids ...wire.NodeID) []wire.Destination {
	out := make([]wire.Destination, len(ids))
	for i := range ids {
		id := ids[i]
		out[i] = wire.NodeDest(&id)
	}
	return out
}

// decode decodes a whole message, failing the test on error.
func decode(t testing.TB, b []byte) *wire.Message {
	t.Helper()
	var m wire.Message
	if _, err := m.Decode(b); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &m
}

// errorCode returns the code of an error response message.
func errorCode(t testing.TB, m *wire.Message) wire.ErrorCode {
	t.Helper()
	if m.Contents.Code != wire.CodeError {
		t.Fatalf("code %v, want error", m.Contents.Code)
	}
	var er wire.ErrorResponse
	if _, err := er.Decode(m.Contents.Body); err != nil {
		t.Fatal(err)
	}
	return er.Code
}

func protoCode(err error) (wire.ErrorCode, bool) {
	var pe *wire.ProtocolError
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return 0, false
}

func destIDs(ds []wire.Destination) []wire.NodeID {
	var out []wire.NodeID
	for i := range ds {
		id, _ := ds[i].NodeID()
		out = append(out, id)
	}
	return out
}

// linkThroughB makes the line A — B — C: A and C dial TLS links to B, and
// it waits until B has both.
func linkThroughB(ctx context.Context, t *testing.T, a, b, c *Engine) {
	t.Helper()
	for _, e := range []*Engine{a, c} {
		if _, err := e.DialTLS(ctx, tlsAddr(b), idB); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return b.Table().Connected(idA) && b.Table().Connected(idC) })
}
