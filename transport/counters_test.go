package transport

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Counters shared by the links of a Config add up their handshakes,
// frames and ends; a refused peer counts as a handshake failure.
func TestCounters(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the Muxes close
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	var ca, cb Counters
	cfgA.Counters, cfgB.Counters = &ca, &cb
	p, ea, eb := dtlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	if ea != nil || eb != nil {
		p.close()
		t.Fatalf("handshake: %v / %v", ea, eb)
	}
	exchange(t, ctx, p, 10, []int{10, 3000})
	p.close()
	if n := ca.Established[LinkDTLSUDPSRNoICE].Load(); n != 1 {
		t.Errorf("established %d, want 1", n)
	}
	if ca.FramesSent.Load() == 0 || ca.FramesReceived.Load() == 0 || cb.FramesReceived.Load() == 0 {
		t.Errorf("frames sent %d received %d/%d", ca.FramesSent.Load(), ca.FramesReceived.Load(), cb.FramesReceived.Load())
	}
	if n := ca.Closed[LinkDTLSUDPSRNoICE].Load(); n != 1 {
		t.Errorf("closed %d, want 1", n)
	}
	if n := ca.Failed[LinkDTLSUDPSRNoICE].Load(); n != 0 {
		t.Errorf("failed %d after Close, want 0", n)
	}

	// A peer that must carry another Node-ID is refused.
	var cc Counters
	_, cfgC, cfgD := testConfigs(t)
	cfgC.Counters = &cc
	q, ec, _ := tlsPair(t, ctx, cfgC, cfgD, nodeID(0x77), nodeID(0xa))
	q.close()
	if ec == nil {
		t.Fatal("handshake with the wrong Node-ID succeeded")
	}
	if n := cc.HandshakeFailures[LinkTLSTCPFHNoICE].Load(); n != 1 {
		t.Errorf("handshake failures %d, want 1", n)
	}
}
