package forwarding

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// iceEdit gives an engine ICE on the host's loopback interface, with
// loopback candidates when loopback is set; without, it has no address to
// offer: a loopback-only host (RFC 8445 §5.1.1.1 leaves loopback
// addresses out of the host candidates).
func iceEdit(t *testing.T, loopback bool) func(*Options) {
	return func(o *Options) {
		n, err := stdnet.NewNet()
		if err != nil {
			t.Fatal(err)
		}
		o.ICE = &transport.ICEConfig{Net: n, IncludeLoopback: loopback, InterfaceFilter: func(name string) bool { return name == "lo" }}
		o.Config.OverlayLinkProtocols = []string{"DTLS"}
	}
}

// RFC 6940 §6.5.1.2: a node asked to Attach that has no ICE candidate to
// offer answers with an error ("If the peer ... detects some other kind of
// error, it MAY generate an error instead of an AttachReqAns"), here
// Error_Incompatible_with_Overlay as for a peer with no link type in
// common, rather than an AttachReqAns with no candidate, which leaves the
// requester's ICE checks to time out. A requester with no candidate fails
// before sending its Attach.
func TestEngineAttachWithoutCandidates(t *testing.T) {
	checkLeaks(t)
	t.Run("answerer", func(t *testing.T) {
		a := startEngine(t, 1, &staticRouter{next: idB}, iceEdit(t, true))
		b := startEngine(t, 2, &staticRouter{}, nil)
		c := startEngine(t, 3, &staticRouter{next: idB}, iceEdit(t, false))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		linkThroughB(ctx, t, a, b, c)
		_, err := a.Attach(ctx, dests(idC))
		if !isRemoteCode(err, wire.ErrCodeIncompatibleWithOverlay) {
			t.Fatalf("Attach to a node with no candidate: %v, want Error_Incompatible_with_Overlay", err)
		}
	})
	t.Run("requester", func(t *testing.T) {
		a := startEngine(t, 1, &staticRouter{next: idB}, iceEdit(t, false))
		b := startEngine(t, 2, &staticRouter{}, nil)
		c := startEngine(t, 3, &staticRouter{next: idB}, iceEdit(t, true))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		linkThroughB(ctx, t, a, b, c)
		if _, err := a.Attach(ctx, dests(idC)); !errors.Is(err, ErrNoCandidate) {
			t.Fatalf("Attach with no candidate to offer: %v, want ErrNoCandidate", err)
		}
		if _, _, err := a.AppAttach(ctx, dests(idC), 5060); !errors.Is(err, ErrNoCandidate) {
			t.Fatalf("AppAttach with no candidate to offer: %v, want ErrNoCandidate", err)
		}
	})
}
