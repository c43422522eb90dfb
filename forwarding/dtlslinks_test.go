package forwarding

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

func udpAddr(e *Engine) string { return e.opts.UDP.LocalAddr().String() }

// RFC 6940 §11.4: a joining node may contact its bootstrap node over
// DTLS. DialDTLS opens a DTLS-UDP-SR-NO-ICE link from the engine's UDP
// socket; the other engine accepts it there as the DTLS server; both
// tables hold the link under the authenticated Node-ID, a Ping crosses
// it, and a second dial returns the same link.
func TestDialDTLSBootstrap(t *testing.T) {
	checkLeaks(t)
	edit := func(o *Options) { dtlsNoICE(t, o) }
	a := startEngine(t, 1, &staticRouter{}, edit)
	b := startEngine(t, 2, &staticRouter{}, edit)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := b.DialDTLS(ctx, udpAddr(a), idA)
	if err != nil {
		t.Fatal(err)
	}
	if l.Type() != transport.LinkDTLSUDPSRNoICE || l.PeerNodeID() != idA {
		t.Fatalf("link %v to %v", l.Type(), l.PeerNodeID())
	}
	la, err := a.waitLink(ctx, idB)
	if err != nil {
		t.Fatal(err)
	}
	if la.Type() != transport.LinkDTLSUDPSRNoICE || la.Role() != transport.Requester {
		t.Fatalf("accepted link %v, %v", la.Type(), la.Role())
	}
	if _, err := b.Request(ctx, dests(idA), wire.CodePingReq, pingBody()); err != nil {
		t.Fatalf("ping over the DTLS bootstrap link: %v", err)
	}
	again, err := b.DialDTLS(ctx, udpAddr(a), idA)
	if err != nil || again != l {
		t.Fatalf("second dial: %v, %v (same link: %v)", again, err, again == l)
	}
}

// An inbound DTLS handshake is admitted like a TLS one, in the table of
// pending handshakes, and a source that sends a ClientHello and nothing
// after it (a spoofed source never sees the cookie of the
// HelloVerifyRequest, RFC 6347 §4.2.1) is dropped after the first-record
// timeout, long before the handshake timeout.
func TestDTLSAcceptDropsSilentClientHello(t *testing.T) {
	checkLeaks(t)
	a := startEngine(t, 1, &staticRouter{}, func(o *Options) {
		dtlsNoICE(t, o)
		o.Link.FirstRecordTimeout = 500 * time.Millisecond
		o.Link.HandshakeTimeout = time.Minute
	})
	hello := firstClientHello(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	raddr, err := net.ResolveUDPAddr("udp", udpAddr(a))
	if err != nil {
		t.Fatal(err)
	}
	// Until the engine's accept loop runs, a ClientHello is dropped; send
	// until one is admitted.
	admitted := false
	for i := 0; i < 100 && !admitted; i++ {
		if _, err := pc.WriteTo(hello, raddr); err != nil {
			t.Fatal(err)
		}
		admitted = pollFor(100*time.Millisecond, func() bool { return a.PendingHandshakes() == 1 })
	}
	if !admitted {
		t.Fatal("the ClientHello was not admitted as a pending handshake")
	}
	// Well within the minute of the handshake timeout.
	if !pollFor(20*time.Second, func() bool { return a.PendingHandshakes() == 0 }) {
		t.Fatal("the silent handshake is still pending")
	}
	if n := len(a.Table().Links()); n != 0 {
		t.Fatalf("%d links", n)
	}
}

// firstClientHello is the first datagram a DTLS client sends.
func firstClientHello(t *testing.T) []byte {
	t.Helper()
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cert := ident(t, 9).TLSCertificate()
	conn, err := dtls.ClientWithOptions(pc, sink.LocalAddr(), dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _ = conn.HandshakeContext(ctx) }()
	b := make([]byte, 2048)
	if err := sink.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := sink.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	return b[:n]
}

// pollFor polls cond every 10 ms for up to d.
func pollFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
