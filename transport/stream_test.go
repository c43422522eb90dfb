package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TestTLSLinkIdleTimers runs two TLS links over an in-memory pipe in
// virtual time: an idle link sends keepalives (empty data frames) whose
// ACKs give RTT samples (§6.6.5), and Send does not keep the message it
// was given.
func TestTLSLinkIdleTimers(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	nb, na := time.Unix(0, 0), time.Now().Add(time.Hour)
	certA, certB := ca.issue(t, nb, na, nodeID(0xa)), ca.issue(t, nb, na, nodeID(0xb))
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rc := ReliabilityConfig{Keepalive: 5 * time.Second}
		cfgA := &Config{Certificate: certA, Verifier: ca, Reliability: rc}
		cfgB := &Config{Certificate: certB, Verifier: ca, Reliability: rc}
		ca, cb := net.Pipe()
		p, ea, eb := both(func() (*Link, error) {
			return NewTLSLink(ctx, ca, Requester, nodeID(0xb), cfgA)
		}, func() (*Link, error) {
			return NewTLSLink(ctx, cb, Responder, nodeID(0xa), cfgB)
		})
		defer p.close()
		if ea != nil || eb != nil {
			t.Fatal(ea, eb)
		}
		msg := pingMessage(t, 1, 100, nodeID(1), nodeID(2))
		want := bytes.Clone(msg)
		if err := p.a.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		clear(msg)
		got, err := p.b.Receive(ctx)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("received %x, %v; want %x", got, err, want)
		}
		// Idle for a minute of the bubble's clock: the keepalive timer is
		// what is under test.
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, l := range []*Link{p.a, p.b} {
			st := l.Stats()
			if l.Err() != nil || st.Frames < 10 || st.Acks < 10 || st.Received < 10 || l.Suspect() {
				t.Fatalf("idle link: %v, suspect %v, %+v", l.Err(), l.Suspect(), st)
			}
			if st.RTO != DefaultMinRTO { // RTT samples of a pipe: 0
				t.Fatalf("RTO %v after RTT samples, want %v", st.RTO, DefaultMinRTO)
			}
		}
	})
}

// TestTLSLinkStalledPeer: a peer that completes the TLS handshake and
// then reads nothing. Send never blocks on the connection: it returns at
// once until QueueLimit messages wait for the writer (besides those the
// writer took and is blocked writing), then waits for
// room only as long as its context allows. No ACK comes, so the link
// turns suspect after an RTO and fails after FailAfter (§6.6.5), which
// ends a Send still waiting for room.
func TestTLSLinkStalledPeer(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	nb, na := time.Unix(0, 0), time.Now().Add(time.Hour)
	certA, certB := ca.issue(t, nb, na, nodeID(0xa)), ca.issue(t, nb, na, nodeID(0xb))
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx := context.Background()
		const limit = 8
		l := tlsLinkToSilentPeer(t, ca, certA, certB, limit)
		defer l.Close()
		msg := pingMessage(t, 1, 100, nodeID(1), nodeID(2))
		sent := 0
		for ; sent <= 2*limit+1; sent++ {
			c, cancel := context.WithTimeout(ctx, time.Second)
			err := l.Send(c, msg)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if sent <= limit || sent > 2*limit {
			t.Fatalf("%d messages queued before Send waited, want %d to %d", sent, limit+1, 2*limit)
		}
		if !l.Suspect() || l.Err() != nil {
			t.Fatalf("after a second without ACK: suspect %v, err %v", l.Suspect(), l.Err())
		}
		waiting := make(chan error, 1)
		go func() { waiting <- l.Send(ctx, msg) }()
		<-l.Done()
		if !errors.Is(l.Err(), ErrLinkFailed) {
			t.Fatalf("err %v, want ErrLinkFailed", l.Err())
		}
		if err := <-waiting; !errors.Is(err, ErrLinkFailed) {
			t.Fatalf("a Send waiting for room: %v, want ErrLinkFailed", err)
		}
		if err := l.Send(ctx, msg); !errors.Is(err, ErrLinkFailed) {
			t.Fatalf("Send after the failure: %v", err)
		}
		if d := time.Since(start); d < DefaultFailAfter {
			t.Fatalf("failed after %v, before FailAfter", d)
		}
	})
}

// tlsLinkToSilentPeer is a TLS link over an in-memory pipe (in a synctest
// bubble) to a peer that completes the handshake as node 0xb and then
// reads nothing: TLS 1.2, whose server session ticket is read in the
// handshake, so the peer need read nothing afterwards. The pipe's other
// end closes with the test.
func tlsLinkToSilentPeer(t *testing.T, ca *testCA, certA, certB *tls.Certificate, queueLimit int) *Link {
	t.Helper()
	cfgA := &Config{Certificate: certA, Verifier: ca, Reliability: ReliabilityConfig{QueueLimit: queueLimit}}
	pa, pb := net.Pipe()
	t.Cleanup(func() { pb.Close() })
	raw := tls.Client(pb, &tls.Config{Certificates: []tls.Certificate{*certB}, InsecureSkipVerify: true, //nolint:gosec // test peer
		MaxVersion: tls.VersionTLS12})
	hs := make(chan error, 1)
	go func() { hs <- raw.Handshake() }()
	l, err := NewTLSLink(context.Background(), pa, Requester, nodeID(0xb), cfgA)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		l.Close()
		t.Fatal(err)
	}
	return l
}
