package node

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"time"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// errNoBootstrapPeer is the error of a round of dials that reached no
// bootstrap peer: retrying may fix it (the peers may be starting,
// restarting, or flooded), unlike a malformed address.
var errNoBootstrapPeer = errors.New("node: no bootstrap peer reachable")

// Join retry timing: the wait after the first round that reached no
// bootstrap peer, doubled after each (with jitter) up to the last value.
const (
	joinRetryMin = time.Second
	joinRetryMax = 30 * time.Second
	// bootstrapDialTimeout bounds one dial and TLS handshake with one
	// bootstrap address, so that an address that swallows packets does
	// not hold the rounds up.
	bootstrapDialTimeout = 10 * time.Second
	// firstNodeRounds is how many rounds of dials that reach no other
	// bootstrap node a potential first node makes before it starts the
	// overlay itself (about 4 to 7 s with the waits above): nodes
	// started together have their listeners up by then.
	firstNodeRounds = 3
)

// joinRetryWait is the wait after the failed round number attempt (from
// 1): joinRetryMin doubled attempt-1 times, capped at joinRetryMax, and
// drawn uniformly from its upper half so that nodes restarted together
// do not dial their bootstrap peers in step.
func joinRetryWait(attempt int) time.Duration {
	d := joinRetryMax
	if attempt < 16 {
		d = min(joinRetryMin<<(attempt-1), joinRetryMax)
	}
	return d/2 + mrand.N(d/2+1)
}

// checkBootstrapAddr rejects an address no retry can reach: one that is
// not host:port or whose port is not a port.
func checkBootstrapAddr(ctx context.Context, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.DefaultResolver.LookupPort(ctx, "tcp", port)
	}
	if err != nil {
		return fmt.Errorf("node: bootstrap address %q: %w", addr, err)
	}
	return nil
}

// startJoin makes the first attempt to join through the bootstrap peers.
// When it reaches none, it logs why and goes on trying in the background
// with exponential backoff until one answers, ctx is cancelled or the node
// is closed; it returns an error only for what retrying cannot fix.
func (n *Node) startJoin(ctx context.Context) error {
	err := n.joinThroughBootstrap(ctx)
	if err == nil || !errors.Is(err, errNoBootstrapPeer) || ctx.Err() != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(n.ctx, cancel)
	n.async(func() {
		defer cancel()
		defer stop()
		if err := n.joinRetrying(rctx, err); err != nil && rctx.Err() == nil {
			n.log.Error("join failed", "err", err)
		}
	})
	return nil
}

// joinRetrying goes on after a round of bootstrap dials that failed with
// err: it waits, dials again and starts the join once a bootstrap peer
// answers, logging each failed round. It returns nil once the join has
// begun, ctx's error once ctx ends, or an error retrying cannot fix.
func (n *Node) joinRetrying(ctx context.Context, err error) error {
	for attempt := 1; ; attempt++ {
		if n.firstNode && attempt > firstNodeRounds {
			// §6.4.2.1: "the first node in the overlay can obviously
			// not connect to other nodes". A potential first node that
			// reached no other bootstrap node in several rounds starts
			// the overlay; should the others come up with a ring of
			// their own, partition checks merge the two (§10.7.4.4).
			n.log.Warn("no other bootstrap node reachable; starting the overlay as its first node", "attempts", attempt)
			var serr error
			if derr := n.do(ctx, func() { serr = n.h.Start() }); derr != nil {
				return derr
			}
			return serr
		}
		wait := joinRetryWait(attempt)
		n.log.Warn("no bootstrap peer reachable; retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		err = n.joinThroughBootstrap(ctx)
		switch {
		case err == nil:
			n.log.Info("bootstrap peer reached; joining", "attempts", attempt+1)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, errNoBootstrapPeer):
			return err
		}
	}
}

// BootstrapTransport is the overlay link protocol a node contacts its
// bootstrap peers with (RFC 6940 §11.4: "the DTLS or TLS connection").
type BootstrapTransport string

// Bootstrap transports.
const (
	// BootstrapAuto follows the overlay's overlay-link-protocol list:
	// its first entry this node can use.
	BootstrapAuto BootstrapTransport = ""
	// BootstrapTLS dials TLS-TCP-FH-NO-ICE links (§6.6.5).
	BootstrapTLS BootstrapTransport = "tls"
	// BootstrapDTLS sends DTLS-UDP-SR-NO-ICE links (§6.6.6) from the
	// node's ListenUDP socket.
	BootstrapDTLS BootstrapTransport = "dtls"
)

// ParseBootstrapTransport reads "auto", "tls" or "dtls".
func ParseBootstrapTransport(s string) (BootstrapTransport, error) {
	switch BootstrapTransport(s) {
	case "auto", BootstrapAuto:
		return BootstrapAuto, nil
	case BootstrapTLS, BootstrapDTLS:
		return BootstrapTransport(s), nil
	}
	return "", fmt.Errorf("node: bootstrap transport %q: want auto, tls or dtls", s)
}

// bootstrapTransport is the link protocol of this node's next bootstrap
// dials: Config.BootstrapTransport, or, for BootstrapAuto, the first
// entry of the overlay's overlay-link-protocol list (in the configuration
// now in force) that the node can use.
func (n *Node) bootstrapTransport() BootstrapTransport {
	if n.cfg.BootstrapTransport != BootstrapAuto {
		return n.cfg.BootstrapTransport
	}
	c, _ := n.eng.Configuration()
	for _, p := range c.LinkProtocols() {
		switch {
		case p == "TLS":
			return BootstrapTLS
		case p == "DTLS" && n.udp != nil:
			return BootstrapDTLS
		}
	}
	return BootstrapTLS
}

// dialBootstrapPeer opens a link to the bootstrap peer at addr over the
// bootstrap transport. Either way the peer must present a certificate
// from the overlay's CA with a Node-ID (§11.3), and the link is this
// node's to send its Attach or Join through (§11.4, §10.5).
func (n *Node) dialBootstrapPeer(ctx context.Context, addr string) (*transport.Link, error) {
	if n.bootstrapTransport() == BootstrapDTLS {
		return n.eng.DialDTLS(ctx, addr, wire.NodeID{})
	}
	return n.eng.DialTLS(ctx, addr, wire.NodeID{})
}
