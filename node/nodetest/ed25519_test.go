package nodetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// TestEd25519Nodes runs real peers on loopback whose identities have
// Ed25519 keys (signature algorithm ed25519, RFC 8422 §5.1.3), alone and
// next to ECDSA peers, over a TLS link and over a DTLS link that ICE set
// up (RFC 6940 §6.5.1): the links authenticate with the Ed25519
// certificates, and Pings and a Store/Fetch, whose messages and
// StoredData are signed with ed25519, succeed in both directions.
func TestEd25519Nodes(t *testing.T) {
	ed, ec := security.KeyEd25519, security.KeyECDSAP256
	for _, tc := range []struct {
		name string
		algs []security.KeyAlgorithm // the last two are the pair tested
		ice  bool
	}{
		{"tls", []security.KeyAlgorithm{ed, ed}, false},
		{"tls-mixed", []security.KeyAlgorithm{ec, ed}, false},
		// With three peers the two joiners attach to each other over DTLS.
		{"dtls", []security.KeyAlgorithm{ec, ed, ed}, true},
		{"dtls-mixed", []security.KeyAlgorithm{ed, ec, ed}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			nodes, users := startNodes(ctx, t, tc.algs, tc.ice)
			a, b := nodes[len(nodes)-2], nodes[len(nodes)-1]
			user := map[*node.Node]string{a: users[len(nodes)-2], b: users[len(nodes)-1]}
			if tc.ice {
				waitLink(ctx, t, a, b.ID(), "DTLS-UDP-SR")
				waitLink(ctx, t, b, a.ID(), "DTLS-UDP-SR")
			}
			for _, p := range [][2]*node.Node{{a, b}, {b, a}} {
				from, to := p[0], p[1]
				id := to.ID()
				r, err := from.Ping(ctx, wire.NodeDest(&id))
				if err != nil {
					t.Fatalf("ping %v -> %v: %v", from.ID(), id, err)
				}
				if r.From != id {
					t.Fatalf("ping answered by %v, want %v", r.From, id)
				}
				storeFetch(ctx, t, from, user[from], to)
			}
			if tc.ice {
				// The pings went over the DTLS links, not around them.
				waitLink(ctx, t, a, b.ID(), "DTLS-UDP-SR")
			}
		})
	}
}

// startNodes starts one peer per algorithm on loopback: the first seeds
// the ring, the others join through it over TLS. It returns the peers and
// their user names.
func startNodes(ctx context.Context, t *testing.T, algs []security.KeyAlgorithm, ice bool) ([]*node.Node, []string) {
	t.Helper()
	ov, err := nodetest.NewOverlay("ed.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*node.Node
	var users []string
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	for i, alg := range algs {
		id, err := ov.IdentityWith(fmt.Sprintf("node%d", i+1), alg)
		if err != nil {
			t.Fatal(err)
		}
		cfg := node.Config{Overlay: ov.Config, Identity: id, TickLength: 50 * time.Millisecond}
		if i == 0 {
			cfg.Seed, cfg.ListenTLS = true, "127.0.0.1:0"
		} else {
			cfg.Bootstrap = []string{nodes[0].Addr()}
		}
		if ice {
			cfg.ICE, cfg.ICELoopback = true, true
			cfg.ICEInterfaces = func(name string) bool { return name == "lo" }
		}
		if alg == security.KeyEd25519 && id.Algorithm() != wire.AlgEd25519 {
			t.Fatalf("node %d signs with %v, want ed25519", i+1, id.Algorithm())
		}
		users = append(users, id.Cert.User)
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		if err := n.Start(ctx); err != nil {
			t.Fatalf("node %d (%v): %v", i+1, alg, err)
		}
		select {
		case <-n.Joined():
		case <-ctx.Done():
			t.Fatalf("node %d (%v) did not join", i+1, alg)
		}
	}
	return nodes, users
}

// waitLink polls until from has a link to the Node-ID to, of type typ
// ("" for any).
func waitLink(ctx context.Context, t *testing.T, from *node.Node, to wire.NodeID, typ string) {
	t.Helper()
	want := to.String()
	for {
		st := from.Status()
		for _, l := range st.Links {
			if l.NodeID == want && (typ == "" || l.Type == typ) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s link from %v to %s: %+v", typ, from.ID(), want, st.Links)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// storeFetch stores from's SIP registration (a dictionary entry under
// its user name keyed by its Node-ID, RFC 7904) through from and fetches
// it through to, which verifies the StoredData signature.
func storeFetch(ctx context.Context, t *testing.T, from *node.Node, user string, to *node.Node) {
	t.Helper()
	res := wire.ResourceIDFromName(user)
	key := from.ID()
	want := "sip:" + user
	val := wire.DictionaryValue(key.Bytes(), []byte(want))
	if _, err := from.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour); err != nil {
		t.Fatalf("store by %s: %v", user, err)
	}
	fa, err := to.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatalf("fetch of %s: %v", user, err)
	}
	for _, kr := range fa.KindResponses {
		for _, sd := range kr.Values {
			if string(sd.Value.Value.Value) == want {
				return
			}
		}
	}
	t.Fatalf("fetch of %s: %q not among %+v", user, want, fa.KindResponses)
}
