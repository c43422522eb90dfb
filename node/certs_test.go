package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// waitCond polls cond until it holds or d passes.
func waitCond(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetchedCert reports whether a Fetch of kind at res by n returns der.
func fetchedCert(ctx context.Context, t *testing.T, n *Node, res wire.ResourceID, kind wire.KindID, der []byte) bool {
	t.Helper()
	r, err := n.FetchAll(ctx, res, kind)
	if err != nil {
		t.Logf("fetch %v: %v", kind, err)
		return false
	}
	return certIndex(r, der, wire.ArrayAppendIndex) != wire.ArrayAppendIndex
}

// pingRecorder replaces n's Ping handler by one that records whether
// each Ping's SecurityBlock carried a certificate, then answers.
type pingRecorder struct {
	mu       sync.Mutex
	withCert []bool
	signers  []wire.NodeID
}

func (p *pingRecorder) install(n *Node) {
	n.Handle(wire.CodePingReq, func(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
		p.mu.Lock()
		p.withCert = append(p.withCert, len(in.Certificates) > 0)
		p.signers = append(p.signers, in.Signer.NodeID)
		p.mu.Unlock()
		return n.handlePing(ctx, in)
	})
}

func (p *pingRecorder) last() (bool, wire.NodeID, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.withCert) == 0 {
		return false, wire.NodeID{}, 0
	}
	return p.withCert[len(p.withCert)-1], p.signers[len(p.signers)-1], len(p.withCert)
}

// pingWith sends a Ping from a to b through Node.Request, which applies
// Config.OmitCertificates.
func pingWith(ctx context.Context, a, b *Node) (*forwarding.Answer, error) {
	body, err := (&wire.PingReq{}).Append(nil)
	if err != nil {
		return nil, err
	}
	id := b.ID()
	return a.Request(ctx, []wire.Destination{wire.NodeDest(&id)}, wire.CodePingReq, body)
}

// RFC 6940 §8: every node stores its certificate under
// CERTIFICATE_BY_NODE at H(Node-ID) and CERTIFICATE_BY_USER at H(user
// name), where any node can fetch it. §6.3.4: a node that receives a
// message whose signer's certificate is not in the SecurityBlock fetches
// it from there, verifies it and then the signature. Both directions, on
// real TLS links: A and B each send requests without their certificate,
// the other fetches it (its cache emptied first) and answers.
func TestCertificateStoreUsage(t *testing.T) {
	c := startClusterOverlay(t, nil, 6, func(_ int, cfg *Config) { cfg.OmitCertificates = true })
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, nd := range c.nodes {
		waitCond(t, 60*time.Second, "node "+nd.ID().String()+" to store its certificate", nd.CertificateStored)
	}
	// The stored certificates can be fetched by anyone.
	for _, owner := range c.nodes {
		id := owner.cfg.Identity
		h := owner.store.Hash()
		for _, by := range []*Node{c.nodes[0], c.nodes[len(c.nodes)-1]} {
			// Polled: the user's Store follows the Node-ID's.
			waitCond(t, 30*time.Second, "CERTIFICATE_BY_NODE of "+id.NodeID().String(), func() bool {
				return fetchedCert(ctx, t, by, storage.NodeResourceID(h, id.NodeID()), wire.KindCertificateByNode, id.Chain[0])
			})
			waitCond(t, 30*time.Second, "CERTIFICATE_BY_USER of "+id.Cert.User, func() bool {
				return fetchedCert(ctx, t, by, storage.UserResourceID(h, id.Cert.User), wire.KindCertificateByUser, id.Chain[0])
			})
		}
	}

	// What `reload fetch node:HEX CERTIFICATE_BY_NODE` asks the control
	// API of a node.
	const token = "0123456789abcdef0123456789abcdef"
	srv := httptest.NewServer(c.nodes[0].ControlHandler(ControlOptions{Token: token}))
	defer srv.Close()
	owner := c.nodes[len(c.nodes)-1]
	for _, q := range []string{"node:" + owner.ID().String() + "&kind=CERTIFICATE_BY_NODE", owner.cfg.Identity.Cert.User + "&kind=CERTIFICATE_BY_USER"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/fetch?resource="+q, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Values []struct {
				ValueHex string `json:"value_hex"`
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /fetch?resource=%s: %d %v", q, resp.StatusCode, err)
		}
		found := false
		for _, v := range out.Values {
			found = found || v.ValueHex == hex.EncodeToString(owner.cfg.Identity.Chain[0])
		}
		if !found {
			t.Fatalf("GET /fetch?resource=%s: %d values, none the certificate", q, len(out.Values))
		}
	}

	// Pairs (A, B) where B does not hold A's certificate in its own
	// storage (not the responsible peer nor a replica), so that B must
	// fetch it through the overlay: one each way when the ring allows.
	holds := func(b, a *Node) bool {
		sid := a.cfg.Identity.SignerIdentity()
		_, ok, err := b.store.LocalCertificate(&sid, time.Now())
		return err == nil && ok
	}
	var pairs [][2]*Node
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a != b && !holds(b, a) && len(pairs) == 0 {
				pairs = append(pairs, [2]*Node{a, b})
			}
		}
	}
	if len(pairs) == 0 {
		t.Fatal("every node holds every certificate")
	}
	if a, b := pairs[0][0], pairs[0][1]; !holds(a, b) {
		pairs = append(pairs, [2]*Node{b, a})
	}
	for _, p := range pairs {
		a, b := p[0], p[1]
		rec := &pingRecorder{}
		rec.install(b)
		// B forgets A's certificate: it must come from the overlay.
		if !b.verifier.Cache().Remove(a.cfg.Identity.Chain[0]) {
			t.Fatalf("%v did not have %v's certificate cached", b.ID(), a.ID())
		}
		before := b.certs.fetched.Load()
		ans, err := pingWith(ctx, a, b)
		if err != nil {
			t.Fatalf("%v -> %v without certificate: %v", a.ID(), b.ID(), err)
		}
		if ans.Signer.NodeID != b.ID() {
			t.Fatalf("answer signed by %v, want %v", ans.Signer.NodeID, b.ID())
		}
		withCert, signer, count := rec.last()
		if count == 0 || withCert || signer != a.ID() {
			t.Fatalf("ping seen by %v: count %d, with certificate %v, signer %v; want a certificate-less ping from %v", b.ID(), count, withCert, signer, a.ID())
		}
		if b.certs.fetched.Load() == before {
			t.Fatalf("%v verified %v's ping without fetching its certificate", b.ID(), a.ID())
		}
		// Now cached: the next one goes straight through.
		if _, err := pingWith(ctx, a, b); err != nil {
			t.Fatal(err)
		}
	}

	// Stored data: A's SIP registration (keyed by A's Node-ID, RFC 7904
	// §3.2) comes back in FetchAns messages without A's certificate; the
	// fetching node B gets it from CERTIFICATE_BY_NODE, verifies the value
	// and keeps it.
	// A must not answer the Fetch itself (its own certificate would go
	// in its answer), and B must not hold A's certificate in storage.
	var a, b *Node
	var res wire.ResourceID
	for _, x := range c.nodes {
		r := wire.ResourceIDFromName(x.cfg.Identity.Cert.User)
		var mine bool
		x.onLoop(func() { mine = x.ch.Responsible(r) })
		for _, y := range c.nodes {
			if a == nil && !mine && x != y && !holds(y, x) {
				a, b, res = x, y, r
			}
		}
	}
	if a == nil {
		t.Fatal("no node pair for the stored-data case")
	}
	contact := "sip:a@192.0.2.1"
	aid := a.ID()
	if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(aid.Bytes(), []byte(contact))}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		nd.Handle(wire.CodeFetchReq, fetchWithoutCertificates(nd))
	}
	b.verifier.Cache().Remove(a.cfg.Identity.Chain[0])
	before := b.certs.fetched.Load()
	r, err := b.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatal(err)
	}
	if r.Partial() || len(r.KindResponses) != 1 || len(r.KindResponses[0].Values) != 1 || string(r.KindResponses[0].Values[0].Value.Value.Value) != contact {
		t.Fatalf("fetched %+v, discarded %v", r.KindResponses, r.Discarded)
	}
	if b.certs.fetched.Load() == before {
		t.Fatal("value verified without fetching its signer's certificate")
	}
}

// A certificate that the overlay's CA did not issue is refused when
// fetched, even though it is stored where the signer's Node-ID says
// (RFC 6940 §6.3.4: the fetched certificate is verified like one in a
// SecurityBlock), and the signer's messages are not accepted.
func TestFetchedCertificateFromOtherCARefused(t *testing.T) {
	c := startCluster(t, 3, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := c.nodes[1]

	// A rogue identity from another CA, with a Node-ID of its own.
	rogueOv, err := nodetest.NewOverlay(c.ov.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rogueOv.Identity("mallory")
	if err != nil {
		t.Fatal(err)
	}
	// Every peer answers Fetches of H(rogue Node-ID) with the rogue
	// certificate stored there, signed by the rogue and with its
	// certificate in the answer's SecurityBlock, as a peer that took the
	// Store unchecked would answer.
	h := b.store.Hash()
	res := storage.NodeResourceID(h, rogue.NodeID())
	sd := wire.StoredData{StorageTime: uint64(time.Now().UnixMilli()), Lifetime: 3600,
		Value: wire.StoredDataValue{Model: wire.ModelArray, Index: 0, Value: wire.DataValue{Exists: true, Value: rogue.Chain[0]}}}
	if err := storage.Sign(rogue, res, wire.KindCertificateByNode, &sd); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		nd.Handle(wire.CodeFetchReq, forgingFetch(nd, func(req *wire.FetchReq, ans *wire.FetchAns) []wire.GenericCertificate {
			if string(req.Resource) != string(res) {
				return nil
			}
			ans.KindResponses = []wire.FetchKindResponse{{Kind: wire.KindCertificateByNode, Values: []wire.StoredData{sd}}}
			return rogue.Certificates()
		}))
	}
	// Fetching it through the overlay fails verification; FetchCertificate
	// reports it and caches nothing.
	sig := rogue.SignerIdentity()
	need := &security.CertificateNeededError{Identity: sig, Kind: security.KindCertificateByNode, NodeID: rogue.NodeID()}
	err = b.FetchCertificate(ctx, need)
	if code, ok := wire.ErrorCodeOf(err); !ok || code != wire.ErrCodeForbidden {
		t.Fatalf("certificate of another CA: %v, want Error_Forbidden", err)
	}
	if _, _, ok := b.verifier.Cache().Lookup(&sig); ok {
		t.Fatal("rogue certificate cached")
	}
	// Asked again at once: refused without a new Fetch.
	if err := b.FetchCertificate(ctx, need); !errors.Is(err, ErrCertificateRecent) {
		t.Fatalf("second fetch: %v, want ErrCertificateRecent", err)
	}

	// The same rogue certificate when found in local storage is refused
	// by validation too.
	if _, err := b.verifier.AddCertificate([][]byte{rogue.Chain[0]}, time.Now()); err == nil {
		t.Fatal("AddCertificate accepted a certificate of another CA")
	}
}

// fetchWithoutCertificates answers Fetches with the values n stores but
// without their signers' certificates in the answer's SecurityBlock (only
// n's own goes), as an implementation that leaves them to be fetched
// would.
func fetchWithoutCertificates(n *Node) forwarding.Handler {
	return func(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
		req := wire.FetchReq{Models: n.kinds}
		if _, err := req.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
		}
		ans, err := n.store.HandleFetch(&req, time.Now())
		if err != nil {
			return nil, err
		}
		return ans.Append(nil)
	}
}
