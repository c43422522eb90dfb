package forwarding

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// RFC 6940 §10.5, §6.5.1.2: a joining node J dials its bootstrap peer B
// over TLS and, moments later, Attaches to B as its admitting peer; the
// Attach sets up a DTLS link. The two links to one peer are not the
// halves of two crossing Attaches, so §6.5.1.2's tie-break does not
// apply: both ends keep the DTLS link the Attach was asked for and retire
// the bootstrap TLS link. J has the smaller Node-ID, the order in which
// the tie-break would keep the TLS link.
func TestEngineAttachLinkReplacesBootstrapLink(t *testing.T) {
	t.Run("ice", func(t *testing.T) {
		testAttachLinkReplacesBootstrapLink(t, transport.LinkDTLSUDPSR, func(o *Options) {
			o.ICE = &transport.ICEConfig{IncludeLoopback: true}
			o.Config.OverlayLinkProtocols = []string{"DTLS"}
		})
	})
	t.Run("no-ice", func(t *testing.T) {
		testAttachLinkReplacesBootstrapLink(t, transport.LinkDTLSUDPSRNoICE, func(o *Options) { dtlsNoICE(t, o) })
	})
}

func testAttachLinkReplacesBootstrapLink(t *testing.T, typ transport.LinkType, dtls func(*Options)) {
	checkLeaks(t)
	// J has A's identity.
	j := startEngine(t, 1, &staticRouter{next: idB}, dtls)
	b := startEngine(t, 2, &staticRouter{local: map[string]bool{string(idB.Bytes()): true}}, dtls)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	boot, err := j.DialTLS(ctx, tlsAddr(b), idB)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.Table().Connected(idA) })
	bootB, _ := b.Table().Lookup(idA)
	// The join's Attach to the admitting peer goes to a Resource-ID (here
	// B's own), so that it is routed, not answered by the existing link.
	link, err := j.Attach(ctx, []wire.Destination{wire.ResourceDest(wire.ResourceID(idB.Bytes()))})
	if err != nil {
		t.Fatal(err)
	}
	if link.Type() != typ {
		t.Fatalf("Attach set up a %v link", link.Type())
	}
	// Both ends retire the bootstrap link once its grace period is over.
	for _, l := range []*transport.Link{boot, bootB} {
		select {
		case <-l.Done():
		case <-link.Done():
			t.Fatalf("the Attach's DTLS link was closed: %v", link.Err())
		case <-ctx.Done():
			t.Fatal("the bootstrap TLS link was kept over the Attach's DTLS link")
		}
	}
	select {
	case <-link.Done():
		t.Fatalf("the Attach's DTLS link was closed: %v", link.Err())
	default:
	}
	for _, e := range []*Engine{j, b} {
		peer := idB
		if e == b {
			peer = idA
		}
		l, ok := e.Table().Lookup(peer)
		if !ok || l.Type() != typ {
			t.Fatalf("node %v does not use the DTLS link", e.Self())
		}
	}
	// B answers J's ping over the DTLS link.
	if _, pans, err := j.Ping(ctx, dests(idB)); err != nil || len(pans.Via) != 0 {
		t.Fatalf("ping over the DTLS link: %v", err)
	}
}
