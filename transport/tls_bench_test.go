package transport

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkTLSLinkPingPong measures one 200-byte message each way per
// operation on loopback TCP with TLS: "link" through two
// TLS-TCP-FH-NO-ICE links (framing and ACKs, §6.6.5), "raw-tls" through
// two bare crypto/tls connections with one goroutine per side, the
// baseline. The ratio of the two is the cost of the link.
func BenchmarkTLSLinkPingPong(b *testing.B) {
	const size = 200
	b.Run("link", func(b *testing.B) {
		ctx := context.Background()
		ca := newTestCA(b)
		cfgA := &Config{Certificate: ca.node(b, nodeID(0xa)), Verifier: ca}
		cfgB := &Config{Certificate: ca.node(b, nodeID(0xb)), Verifier: ca}
		ca1, cb1 := tcpPair(b)
		p, ea, eb := both(func() (*Link, error) {
			return NewTLSLink(ctx, ca1, Requester, nodeID(0xb), cfgA)
		}, func() (*Link, error) {
			return NewTLSLink(ctx, cb1, Responder, nodeID(0xa), cfgB)
		})
		if ea != nil || eb != nil {
			b.Fatal(ea, eb)
		}
		defer p.close()
		linkPingPong(b, p, size)
	})
	b.Run("raw-tls", func(b *testing.B) {
		ca := newTestCA(b)
		ka, kb := ca.node(b, nodeID(0xa)), ca.node(b, nodeID(0xb))
		c1, c2 := tcpPair(b)
		srv := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{*ka}, ClientAuth: tls.RequireAnyClientCert})
		cli := tls.Client(c2, &tls.Config{Certificates: []tls.Certificate{*kb}, InsecureSkipVerify: true}) //nolint:gosec // baseline
		errc := make(chan error, 1)
		go func() { errc <- srv.Handshake() }()
		if err := cli.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		defer cli.Close()
		msg := sizedMessage(b, size)
		go func() {
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(cli, buf); err != nil {
					return
				}
				if _, err := cli.Write(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, size)
		b.SetBytes(2 * size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := srv.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(srv, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rtt/s")
	})
}

// BenchmarkDTLSLinkPingPong is BenchmarkTLSLinkPingPong's "link" over
// two DTLS-UDP-SR-NO-ICE links with the windowed sender, each on a UDP
// socket of its own; BenchmarkRawDTLSPingPong is its baseline.
func BenchmarkDTLSLinkPingPong(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, done := benchDTLSLinks(b, ctx, SenderWindowed, 0, false)
	defer done()
	linkPingPong(b, p, 200)
}

// linkPingPong sends one message of size bytes from p.a to p.b and back
// per operation.
func linkPingPong(b *testing.B, p pair, size int) {
	ctx := context.Background()
	msg := sizedMessage(b, size)
	go func() {
		for {
			m, err := p.b.Receive(ctx)
			if err != nil {
				return
			}
			if p.b.Send(ctx, m) != nil {
				return
			}
		}
	}()
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := p.a.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := p.a.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rtt/s")
}

// tcpPair is the two ends of one loopback TCP connection.
func tcpPair(b testing.TB) (net.Conn, net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		ch <- c
	}()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c1 := <-ch
	if c1 == nil {
		b.Fatal("accept failed")
	}
	return c1, c2
}
