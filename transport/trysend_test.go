package transport

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TrySend never waits for room (RFC 6940 §13: a node's routing loop
// must not be stalled by a neighbour that stops reading): a TLS link
// whose peer reads nothing, and a DTLS link whose peer acknowledges
// nothing, take messages until their queue is full and then refuse each
// at once with ErrQueueFull. In virtual time, so "at once" is exact: no
// TrySend lets the bubble's clock move.
func TestTrySendNeverWaits(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	nb, na := time.Unix(0, 0), time.Now().Add(time.Hour)
	certA, certB := ca.issue(t, nb, na, nodeID(0xa)), ca.issue(t, nb, na, nodeID(0xb))
	const limit = 8
	msg := pingMessage(t, 1, 100, nodeID(1), nodeID(2))
	fill := func(t *testing.T, l *Link) {
		t.Helper()
		start := time.Now()
		refused := 0
		for range 4 * (limit + sendBuffer + writeQueue) {
			err := l.TrySend(msg)
			if errors.Is(err, ErrQueueFull) {
				refused++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("TrySend waited %v", time.Since(start))
		}
		if refused == 0 {
			t.Fatal("a link whose peer takes nothing never refused a message")
		}
	}
	t.Run("tls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := tlsLinkToSilentPeer(t, ca, certA, certB, limit)
			defer l.Close()
			fill(t, l)
		})
	})
	t.Run("dtls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rc := ReliabilityConfig{QueueLimit: limit}
			cfgA := &Config{Certificate: certA, Verifier: ca, Reliability: rc}
			cfgB := &Config{Certificate: certB, Verifier: ca, Reliability: rc}
			ca, cb := memPipe(0, 0, 9)
			defer ca.Close()
			defer cb.Close()
			p, ea, eb := both(func() (*Link, error) {
				return NewDTLSLink(context.Background(), ca, cb.local, Requester, nodeID(0xb), cfgA)
			}, func() (*Link, error) {
				return NewDTLSLink(context.Background(), cb, ca.local, Responder, nodeID(0xa), cfgB)
			})
			defer p.close()
			if ea != nil || eb != nil {
				t.Fatal(ea, eb)
			}
			cb.setLoss(1) // B's ACKs no longer reach A
			fill(t, p.a)
		})
	})
}
