package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"

	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// TestSIPAppConnSecurity: the SIP connection over AppAttach is used only
// when the other end's certificate chains to the overlay's roots and
// carries the Node-ID of the AppAttach's other end (RFC 7904 §5.1); a
// certificate of another Node-ID, no certificate, or plain SIP instead of
// (D)TLS is refused and the connection closed, over TCP (TLS) and over a
// datagram connection as ICE gives (DTLS).
func TestSIPAppConnSecurity(t *testing.T) {
	ov, err := nodetest.NewOverlay("sipsec.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ov.Config.Trust()
	if err != nil {
		t.Fatal(err)
	}
	req, ans, other := coapIdentity(t, ov, "req"), coapIdentity(t, ov, "ans"), coapIdentity(t, ov, "other")
	const invite = "INVITE sip:alice@sipsec.example.org SIP/2.0\r\n\r\n"

	// secured is one side: secureAppConn, then a SIP message each way.
	secured := func(ctx context.Context, c net.Conn, id *security.Identity, peer wire.NodeID, server bool) error {
		sc, err := secureAppConn(ctx, c, id, tr, peer, server, "sip")
		if err != nil {
			return err
		}
		defer sc.Close()
		_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := sc.Write([]byte(invite)); err != nil {
			return err
		}
		buf := make([]byte, len(invite))
		_, err = io.ReadFull(sc, buf)
		return err
	}
	// plain is an attacker who speaks SIP without (D)TLS: it sends an
	// INVITE and reports what it reads back.
	plain := func(c net.Conn) (got []byte) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = c.Write([]byte(invite))
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return got
			}
		}
	}
	// noCert is a TLS (DTLS over udp) client without a certificate.
	noCert := func(network string) func(ctx context.Context, c net.Conn) error {
		return func(ctx context.Context, c net.Conn) error {
			var rw interface {
				io.ReadWriteCloser
				SetDeadline(time.Time) error
			}
			if network == "udp" {
				dc, err := dtls.ClientWithOptions(dtlsnet.PacketConnFromConn(c), c.RemoteAddr(), dtls.WithInsecureSkipVerify(true))
				if err != nil {
					return err
				}
				if err := dc.HandshakeContext(ctx); err != nil {
					dc.Close()
					return err
				}
				rw = dc
			} else {
				tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
				if err := tc.HandshakeContext(ctx); err != nil {
					tc.Close()
					return err
				}
				rw = tc
			}
			defer rw.Close()
			// TLS 1.3: the server's refusal of the client comes after the
			// client's handshake; the read shows it.
			_ = rw.SetDeadline(time.Now().Add(5 * time.Second))
			_, err := rw.Read(make([]byte, 1))
			return err
		}
	}

	type side func(ctx context.Context, c net.Conn) error
	good := func(id *security.Identity, peer wire.NodeID, server bool) side {
		return func(ctx context.Context, c net.Conn) error { return secured(ctx, c, id, peer, server) }
	}
	for _, network := range []string{"tcp", "udp"} {
		for _, tc := range []struct {
			name           string
			client, server side
			clientOK       bool // the requester (client) side must succeed
			serverOK       bool
		}{
			{"right Node-IDs", good(req, ans.NodeID(), false), good(ans, req.NodeID(), true), true, true},
			{"answerer presents another Node-ID", good(req, ans.NodeID(), false), good(other, req.NodeID(), true), false, false},
			{"requester presents another Node-ID", good(other, ans.NodeID(), false), good(ans, req.NodeID(), true), false, false},
			{"requester presents no certificate", noCert(network), good(ans, req.NodeID(), true), false, false},
		} {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c, s := connPair(t, network)
				// A side that refuses ends the other's handshake too, as a
				// node closing the connection does.
				srvErr := make(chan error, 1)
				go func() {
					err := tc.server(ctx, s)
					if err != nil {
						c.Close()
					}
					srvErr <- err
				}()
				cerr := tc.client(ctx, c)
				if cerr != nil {
					s.Close()
				}
				serr := <-srvErr
				if (cerr == nil) != tc.clientOK || (serr == nil) != tc.serverOK {
					t.Fatalf("requester: %v; answerer: %v", cerr, serr)
				}
			})
		}
		t.Run(network+"/plain SIP", func(t *testing.T) {
			// Over UDP a DTLS handshake with a peer that never answers in
			// DTLS ends only with its context.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			// An attacker answering in plain SIP: the requester refuses.
			c, s := connPair(t, network)
			got := make(chan []byte, 1)
			go func() { got <- plain(s) }()
			if err := secured(ctx, c, req, ans.NodeID(), false); err == nil {
				t.Fatal("requester accepted a plain SIP connection")
			}
			c.Close()
			if b := <-got; bytes.Contains(b, []byte("SIP/2.0")) {
				t.Fatalf("the attacker read SIP: %q", b)
			}
			// An attacker requesting in plain SIP: the answerer refuses.
			c, s = connPair(t, network)
			go func() { got <- plain(c) }()
			if err := secured(ctx, s, ans, req.NodeID(), true); err == nil {
				t.Fatal("answerer accepted a plain SIP connection")
			}
			s.Close()
			if b := <-got; bytes.Contains(b, []byte("SIP/2.0")) {
				t.Fatalf("the attacker read SIP: %q", b)
			}
		})
	}
}

// connPair is a connected pair of loopback sockets: TCP, or two connected
// UDP sockets (a datagram connection like the ICE pair).
func connPair(t *testing.T, network string) (client, server net.Conn) {
	t.Helper()
	if network == "udp" {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		b.Close()
		ca, err := net.DialUDP("udp", a.LocalAddr().(*net.UDPAddr), b.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		cb, err := net.DialUDP("udp", b.LocalAddr().(*net.UDPAddr), a.LocalAddr().(*net.UDPAddr))
		if err != nil {
			ca.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { ca.Close(); cb.Close() })
		return ca, cb
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}
