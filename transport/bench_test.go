package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/transport/v5/stdnet"
)

// BenchmarkDTLSLinkStopAndWait measures framed messages per second on one
// DTLS-UDP-SR-NO-ICE link on loopback: each message waits for the ACK of
// the previous one (stop-and-wait, ACK gap off). Compare with
// BenchmarkRawDTLSPingPong, one round trip per message as well.
func BenchmarkDTLSLinkStopAndWait(b *testing.B) {
	ctx := context.Background()
	ca := newTestCA(b)
	rc := ReliabilityConfig{Algorithm: SenderStopAndWait, NoAckGap: true}
	cfgA := &Config{Certificate: ca.node(b, nodeID(0xa)), Verifier: ca, Reliability: rc}
	cfgB := &Config{Certificate: ca.node(b, nodeID(0xb)), Verifier: ca, Reliability: rc}
	pa, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	pb, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	ma, mb := NewMux(pa), NewMux(pb)
	defer ma.Close()
	defer mb.Close()
	p, ea, eb := both(func() (*Link, error) {
		c, _ := ma.Conn(mb.LocalAddr())
		return NewDTLSLink(ctx, c, mb.LocalAddr(), Requester, nodeID(0xb), cfgA)
	}, func() (*Link, error) {
		c, _ := mb.Conn(ma.LocalAddr())
		return NewDTLSLink(ctx, c, ma.LocalAddr(), Responder, nodeID(0xa), cfgB)
	})
	if ea != nil || eb != nil {
		b.Fatal(ea, eb)
	}
	defer p.close()
	msg := pingMessage(b, 1, 100, nodeID(1), nodeID(2))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if p.a.Send(ctx, msg) != nil {
				return
			}
		}
	}()
	for range b.N {
		if _, err := p.b.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRawDTLSPingPong is the baseline: pion DTLS alone, one message
// there and one back per operation, on loopback.
func BenchmarkRawDTLSPingPong(b *testing.B) {
	ca2, cb := rawDTLSPair(b)
	defer ca2.Close()
	defer cb.Close()
	msg := pingMessage(b, 1, 100, nodeID(1), nodeID(2))
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := cb.Read(buf)
			if err != nil {
				return
			}
			if _, err := cb.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 8192)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ca2.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := ca2.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkICELinkSetup measures a whole link set-up on loopback: ICE
// gathering and connectivity checks, then the DTLS handshake.
func BenchmarkICELinkSetup(b *testing.B) {
	n, err := stdnet.NewNet()
	if err != nil {
		b.Fatal(err)
	}
	ic := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }}
	ca := newTestCA(b)
	cfgA := &Config{Certificate: ca.node(b, nodeID(0xa)), Verifier: ca}
	cfgB := &Config{Certificate: ca.node(b, nodeID(0xb)), Verifier: ca}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		sa, _ := NewICESession(Requester, ic)
		sb, _ := NewICESession(Responder, ic)
		ua, pwa, cla, err := sa.Gather(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ub, pwb, clb, err := sb.Gather(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p, ea, eb := both(func() (*Link, error) {
			return NewICELink(ctx, sa, ub, pwb, clb, nodeID(0xb), cfgA)
		}, func() (*Link, error) {
			return NewICELink(ctx, sb, ua, pwa, cla, nodeID(0xa), cfgB)
		})
		if ea != nil || eb != nil {
			b.Fatal(ea, eb)
		}
		p.close()
	}
}

// rawDTLSPair is two pion DTLS conns on loopback UDP with certificates of
// the test CA, handshaken, without RELOAD framing: the baseline of the
// link benchmarks. The first is the server end.
func rawDTLSPair(b *testing.B) (*dtls.Conn, *dtls.Conn) {
	b.Helper()
	ctx := context.Background()
	ca := newTestCA(b)
	ka, kb := ca.node(b, nodeID(0xa)), ca.node(b, nodeID(0xb))
	pa, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	pb, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	type r struct {
		c   *dtls.Conn
		err error
	}
	ch := make(chan r, 1)
	go func() {
		c, err := dtls.ServerWithOptions(pa, pb.LocalAddr(), dtls.WithCertificates(*ka), dtls.WithInsecureSkipVerify(true),
			dtls.WithClientAuth(dtls.RequireAnyClientCert))
		if err == nil {
			err = c.HandshakeContext(ctx)
		}
		ch <- r{c, err}
	}()
	cb, err := dtls.ClientWithOptions(pb, pa.LocalAddr(), dtls.WithCertificates(*kb), dtls.WithInsecureSkipVerify(true))
	if err != nil {
		b.Fatal(err)
	}
	if err := cb.HandshakeContext(ctx); err != nil {
		b.Fatal(err)
	}
	ra := <-ch
	if ra.err != nil {
		b.Fatal(ra.err)
	}
	return ra.c, cb
}
