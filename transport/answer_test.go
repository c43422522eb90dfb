package transport

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RFC 6940 §6.6.3, §6.6.4: over DTLS-UDP-SR the answer to a request goes
// out as soon as it is ready. The 10 ms wait "between receipt of an ACK
// and transmission of the next message" is a rule of the stop-and-wait
// sender of §6.6.3.1 ("one possible implementation"); the default sender
// (SenderWindowed, §6.6.4: "Any compliant sender algorithm may be used")
// does not hold a message for it. Without that, in a request/answer
// exchange the answerer's every answer waits out the gap that the ACK of
// its previous answer started (the ACK arrives just before the next
// request): 10–11 ms per answer where the round trip takes 0.5 ms.
//
// The answerer's gap is set to an hour so that a held answer shows
// without measuring time: the second answer never comes.
func TestDTLSAnswerNotHeldByAckGap(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the Muxes close
	ca := newTestCA(t)
	cfgA := &Config{Certificate: ca.node(t, nodeID(0xa)), Verifier: ca, Reliability: ReliabilityConfig{NoAckGap: true}}
	cfgB := &Config{Certificate: ca.node(t, nodeID(0xb)), Verifier: ca, Reliability: ReliabilityConfig{AckGap: time.Hour}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, errA, errB := dtlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	defer p.close()
	// B answers each request at once.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := p.b.Receive(ctx)
			if err != nil {
				return
			}
			if err := p.b.Send(ctx, m); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		if err := p.a.Send(ctx, pingMessage(t, uint64(i), 10, nodeID(0xa), nodeID(0xb))); err != nil {
			t.Fatal(err)
		}
		if _, err := p.a.Receive(ctx); err != nil {
			t.Fatalf("answer %d: %v (B's link: %+v)", i, err, p.b.Stats())
		}
	}
	p.close()
	<-done
}
