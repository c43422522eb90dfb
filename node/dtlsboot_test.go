package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
	"github.com/pion/dtls/v3"
)

// dtlsOverlay is an overlay whose only link protocol is
// DTLS-UDP-SR-NO-ICE (overlay-link-protocol DTLS, RFC 6940 §11.1).
func dtlsOverlay(t *testing.T) *nodetest.Overlay {
	t.Helper()
	ov, err := nodetest.NewOverlay("dtls.example.org", func(c *config.Configuration) {
		c.OverlayLinkProtocols = []string{"DTLS"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

// Nodes that speak only DTLS-UDP-SR-NO-ICE join our overlay: each
// contacts the bootstrap node over DTLS (§11.4; the overlay's link
// protocol list chooses it), the bootstrap node accepts the link on its
// UDP port with the certificate checks of a TLS bootstrap link, and every
// later link (Attach to the admitting peer, neighbours, fingers) is DTLS
// too. They ping, store and fetch across the ring, and no TLS link is
// ever set up.
func TestJoinOverDTLSOnly(t *testing.T) {
	t.Parallel()
	ov := dtlsOverlay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var nodes []*Node
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	})
	for i := range 3 {
		id, err := ov.Identity("dtls" + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Overlay: ov.Config, Identity: id, ListenUDP: "127.0.0.1:0", TickLength: 50 * time.Millisecond}
		if i == 0 {
			cfg.Seed = true
		} else {
			cfg.Bootstrap = []string{nodes[0].UDPAddr()}
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-n.Joined():
		case <-ctx.Done():
			t.Fatalf("node %d did not join over DTLS", i)
		}
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	// The ring settles: each joiner has a link to the others.
	for _, from := range []*Node{b, c} {
		for _, to := range nodes {
			if from == to {
				continue
			}
			for {
				if _, ok := from.Engine().Table().Lookup(to.ID()); ok {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("no link from %v to %v", from.ID(), to.ID())
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}
	cid, aid := c.ID(), a.ID()
	if _, err := b.Ping(ctx, wire.NodeDest(&cid)); err != nil {
		t.Fatalf("ping b→c: %v", err)
	}
	if _, err := c.Ping(ctx, wire.NodeDest(&aid)); err != nil {
		t.Fatalf("ping c→a: %v", err)
	}
	for _, pr := range [][2]*Node{{b, c}, {c, a}, {a, b}} {
		from, to := pr[0], pr[1]
		user := from.cfg.Identity.Cert.User
		res := wire.ResourceIDFromName(user)
		want := "sip:" + user
		key := from.ID()
		val := wire.DictionaryValue(key.Bytes(), []byte(want))
		if _, err := from.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour); err != nil {
			t.Fatalf("store by %s: %v", user, err)
		}
		fa, err := to.FetchAll(ctx, res, wire.KindSIPRegistration)
		if err != nil {
			t.Fatalf("fetch of %s: %v", user, err)
		}
		found := false
		for _, kr := range fa.KindResponses {
			for _, sd := range kr.Values {
				found = found || string(sd.Value.Value.Value) == want
			}
		}
		if !found {
			t.Fatalf("fetch of %s: %q not among %+v", user, want, fa.KindResponses)
		}
	}
	for _, n := range nodes {
		for _, l := range n.Engine().Table().Links() {
			if l.Type() != transport.LinkDTLSUDPSRNoICE {
				t.Errorf("%v has a %v link to %v", n.ID(), l.Type(), l.PeerNodeID())
			}
		}
	}
}

// The bootstrap node's UDP port authenticates as its TLS listener does
// (RFC 6940 §11.3, §13.3): a DTLS client with a certificate from another
// overlay's CA, or with none, gets no link, even one that takes whatever
// certificate the node shows.
func TestDTLSBootstrapRefusesForeignCertificate(t *testing.T) {
	t.Parallel()
	ov := dtlsOverlay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := ov.Identity("seed")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := New(Config{Overlay: ov.Config, Identity: id, ListenUDP: "127.0.0.1:0", Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	if err := seed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := nodetest.NewOverlay("dtls.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	oid, err := other.Identity("intruder")
	if err != nil {
		t.Fatal(err)
	}
	foreign := oid.TLSCertificate()
	raddr, err := net.ResolveUDPAddr("udp", seed.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
	}{{"foreign CA", &foreign}, {"no certificate", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			opts := []dtls.ClientOption{dtls.WithInsecureSkipVerify(true), dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret)}
			if tc.cert != nil {
				opts = append(opts, dtls.WithCertificates(*tc.cert))
			}
			conn, err := dtls.ClientWithOptions(pc, raddr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
			defer hcancel()
			if err := conn.HandshakeContext(hctx); err == nil {
				t.Fatal("DTLS handshake succeeded")
			} else {
				t.Logf("handshake: %v", err)
			}
			if n := len(seed.Engine().Table().Links()); n != 0 {
				t.Fatalf("the bootstrap node has %d links", n)
			}
		})
	}
}

// BootstrapDTLS needs a UDP socket; the transport flag parses.
func TestBootstrapTransportConfig(t *testing.T) {
	ov := dtlsOverlay(t)
	id, err := ov.Identity("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Overlay: ov.Config, Identity: id, BootstrapTransport: BootstrapDTLS}); err == nil {
		t.Fatal("BootstrapDTLS without ListenUDP accepted")
	}
	for in, want := range map[string]BootstrapTransport{"auto": BootstrapAuto, "": BootstrapAuto, "tls": BootstrapTLS, "dtls": BootstrapDTLS} {
		if got, err := ParseBootstrapTransport(in); err != nil || got != want {
			t.Errorf("ParseBootstrapTransport(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseBootstrapTransport("quic"); err == nil {
		t.Error("quic accepted")
	}
	// Without a UDP socket, auto falls back to TLS even in a DTLS overlay.
	n, err := New(Config{Overlay: ov.Config, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.bootstrapTransport(); got != BootstrapTLS {
		t.Fatalf("auto without ListenUDP: %q", got)
	}
	if _, err := n.Engine().DialDTLS(context.Background(), "127.0.0.1:1", wire.NodeID{}); !errors.Is(err, forwarding.ErrNoUDP) {
		t.Fatalf("DialDTLS without UDP: %v", err)
	}
}
