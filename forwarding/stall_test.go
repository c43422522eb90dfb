package forwarding

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// RFC 6940 §13 (a node holds against its members): an enrolled peer that
// stops reading its TLS link must not stall the node. The attacker sends
// one signed Ping to B and replays it thousands of times without reading
// anything back; B answers every replay from its transaction cache
// (§6.2.1), on its loop, until the attacker's socket buffers and B's send
// queue for that link are full. B must then drop what does not fit
// (RELOAD's end-to-end retransmission makes that a loss like any other)
// and keep routing for everyone else: A's Pings to B keep being answered
// while the attack runs.
func TestEngineStalledPeerDoesNotStallNode(t *testing.T) {
	checkLeaks(t)
	b := startEngine(t, 2, &staticRouter{}, func(o *Options) {
		o.Link.Reliability.QueueLimit = 64
		// The link to the attacker is not failed for the whole test:
		// the defence must not depend on it.
		o.Link.Reliability.FailAfter = 10 * time.Minute
	})
	a := startEngine(t, 1, &staticRouter{next: idB}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}

	// The attacker (node 3, enrolled) speaks TLS and the framing layer
	// by hand, so that it can write and never read.
	cert := ident(t, 3).TLSCertificate()
	conn, err := tls.Dial("tcp", tlsAddr(b), &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}) //nolint:gosec // the attacker does not care who B is
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, func() bool { return b.Table().Connected(idC) })
	req := request(t, 3, wire.CodePingReq, pingBody(), func(m *wire.Message) {
		m.Header.ConfigSequence = b.local.ConfigSequence
		m.Header.Destinations = dests(idB)
	})
	attackDone := make(chan struct{})
	go func() {
		defer close(attackDone)
		var buf []byte
		for seq := uint32(0); ctx.Err() == nil; seq++ {
			f := wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: req}
			buf, _ = f.Append(buf[:0])
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write(buf); err != nil {
				var ne net.Error
				if ok := asNetErr(err, &ne); ok && ne.Timeout() {
					continue // B is not reading either: keep trying
				}
				return
			}
		}
	}()

	// Meanwhile A pings B: every Ping must be answered.
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		_, _, err := a.Ping(pctx, dests(idB))
		pcancel()
		if err != nil {
			t.Fatalf("ping %d during the attack: %v", n, err)
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	full := b.Stats().QueueFull.Load()
	t.Logf("%d pings answered during the attack; B dropped %d messages for the attacker's full queue", n, full)
	if full == 0 {
		t.Fatal("the attack never filled the attacker's queue: the test tested nothing")
	}
	cancel()
	conn.Close()
	<-attackDone
}

func asNetErr(err error, target *net.Error) bool {
	ne, ok := err.(net.Error) //nolint:errorlint // a write error is a net.Error as is
	if ok {
		*target = ne
	}
	return ok
}
