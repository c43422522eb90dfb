package transport

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/goreload/reload/wire"
	"go.uber.org/goleak"
)

// TestLossMatrix runs DTLS-UDP-SR-NO-ICE links over an in-memory network
// that drops datagrams at random and above the path MTU, in virtual time.
// Every message must arrive, reassembled and in order, or the sender must
// report the link failed after delivering an in-order prefix.
func TestLossMatrix(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	// synctest's clock starts in 2000: make the certificates valid then.
	nb, na := time.Unix(0, 0), time.Now().Add(time.Hour)
	certA, certB := ca.issue(t, nb, na, nodeID(0xa)), ca.issue(t, nb, na, nodeID(0xb))
	for _, loss := range []float64{0, 0.1, 0.3} {
		for _, mtu := range []int{576, 1400} {
			name := fmt.Sprintf("loss=%.0f%%/mtu=%d", loss*100, mtu)
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					cfgA := &Config{Certificate: certA, Verifier: ca, MTU: mtu}
					cfgB := &Config{Certificate: certB, Verifier: ca, MTU: mtu}
					lossyRun(t, loss, mtu, cfgA, cfgB)
				})
			})
			if loss < 0.3 {
				continue
			}
			// At 30% loss each way, five transmissions fail one message in
			// 30; with twelve the link carries all of them.
			t.Run(name+"/tx=12", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rc := ReliabilityConfig{MaxTransmissions: 12}
					cfgA := &Config{Certificate: certA, Verifier: ca, MTU: mtu, Reliability: rc}
					cfgB := &Config{Certificate: certB, Verifier: ca, MTU: mtu, Reliability: rc}
					lossyRun(t, loss, mtu, cfgA, cfgB)
				})
			})
		}
	}
}

func lossyRun(t *testing.T, loss float64, mtu int, cfgA, cfgB *Config) {
	const n = 30
	sizes := []int{50, 700, 3000}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ca, cb := memPipe(loss, mtu, uint64(mtu)*1000+uint64(loss*100))
	defer ca.Close()
	defer cb.Close()
	p, ea, eb := both(func() (*Link, error) {
		return NewDTLSLink(ctx, ca, cb.local, Requester, nodeID(0xb), cfgA)
	}, func() (*Link, error) {
		return NewDTLSLink(ctx, cb, ca.local, Responder, nodeID(0xa), cfgB)
	})
	defer p.close()
	if ea != nil || eb != nil {
		// The handshake has its own retransmissions; under this loss it
		// must complete.
		t.Fatalf("handshake: %v / %v", ea, eb)
	}
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			msg := pingMessage(t, uint64(i), sizes[i%len(sizes)], nodeID(1), nodeID(2))
			if err := p.a.Send(ctx, msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// Stop receiving when the sender's link fails.
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.a.Done():
		case <-rctx.Done():
		}
		rcancel()
	}()
	r := NewReassembler(ReassemblyConfig{})
	next := uint64(0)
	dups := 0
	for next < n {
		m, err := p.b.Receive(rctx)
		if err != nil {
			break
		}
		w, err := r.Add(1, m, time.Now())
		if err != nil {
			t.Fatalf("reassembly: %v", err)
		}
		if w == nil {
			continue
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(w); err != nil {
			t.Fatal(err)
		}
		switch {
		case h.TransactionID < next:
			dups++ // a spurious retransmission, allowed by §6.6.3
		case h.TransactionID == next:
			want := pingMessage(t, next, sizes[next%uint64(len(sizes))], nodeID(1), nodeID(2))
			if string(w) != string(want) {
				t.Fatalf("message %d differs", next)
			}
			next++
		default:
			t.Fatalf("message %d arrived before %d", h.TransactionID, next)
		}
	}
	rcancel()
	if err := <-sent; err != nil && !errors.Is(err, ErrLinkFailed) {
		t.Fatalf("send: %v", err)
	}
	st := p.a.Stats()
	if next < n {
		if !errors.Is(p.a.Err(), ErrLinkFailed) {
			t.Fatalf("delivered %d of %d without a failure report (err %v)", next, n, p.a.Err())
		}
		if loss < 0.2 {
			t.Fatalf("link failed at %.0f%% loss after %d of %d messages", loss*100, next, n)
		}
		t.Logf("link failed after %d of %d messages, as reported: %v", next, n, p.a.Err())
	}
	t.Logf("%d/%d messages, %d duplicates, %d frames, %d retransmissions, %d datagrams dropped, virtual %v",
		next, n, dups, st.Frames, st.Retransmissions, ca.dropped.Load()+cb.dropped.Load(), time.Since(start))
}

// TestKeepaliveDetectsDeadLink: an idle link with keepalives notices, in
// virtual time, that the peer went silent, and reports it.
func TestKeepaliveDetectsDeadLink(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	nb, na := time.Unix(0, 0), time.Now().Add(time.Hour)
	certA, certB := ca.issue(t, nb, na, nodeID(0xa)), ca.issue(t, nb, na, nodeID(0xb))
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rc := ReliabilityConfig{Keepalive: 5 * time.Second}
		cfgA := &Config{Certificate: certA, Verifier: ca, Reliability: rc}
		cfgB := &Config{Certificate: certB, Verifier: ca, Reliability: rc}
		ca, cb := memPipe(0, 0, 7)
		defer ca.Close()
		defer cb.Close()
		p, ea, eb := both(func() (*Link, error) {
			return NewDTLSLink(ctx, ca, cb.local, Requester, nodeID(0xb), cfgA)
		}, func() (*Link, error) {
			return NewDTLSLink(ctx, cb, ca.local, Responder, nodeID(0xa), cfgB)
		})
		defer p.close()
		if ea != nil || eb != nil {
			t.Fatal(ea, eb)
		}
		// Idle for a minute: keepalives flow and are acknowledged. The
		// sleep is virtual (the bubble's clock), and the keepalive timer is
		// what is under test.
		time.Sleep(time.Minute)
		synctest.Wait()
		if p.a.Err() != nil || p.b.Err() != nil || p.a.Stats().Frames < 10 {
			t.Fatalf("idle link: %v / %v, %+v", p.a.Err(), p.b.Err(), p.a.Stats())
		}
		start := time.Now()
		cb.setLoss(1) // b's datagrams, ACKs included, vanish
		<-p.a.Done()
		if !errors.Is(p.a.Err(), ErrLinkFailed) {
			t.Fatalf("err %v", p.a.Err())
		}
		// Next keepalive within 5 s, then five transmissions from RTO 100 ms
		// (the floor, after loopback RTT samples): 0.1+0.2+0.4+0.8+1.6 s.
		if d := time.Since(start); d > 5*time.Second+3100*time.Millisecond {
			t.Fatalf("failure noticed after %v", d)
		}
	})
}
