package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
)

// The kit speaks DTLS-UDP-SR-NO-ICE to a real node: the node accepts the
// kit's DTLS link on its UDP port as it would a joining node's bootstrap
// link (RFC 6940 §11.4), with the certificate checks of TLS links, and
// answers over it; the framing checks run on the datagram link, and the
// kit joins the ring through the node.
func TestKitOverDTLSOwnNode(t *testing.T) {
	t.Parallel()
	ov, err := nodetest.NewOverlay("kit-dtls.example.org", func(c *config.Configuration) {
		c.OverlayLinkProtocols, c.NoICE = []string{"DTLS"}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := ov.Identity("target")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Overlay: ov.Config, Identity: id, ListenUDP: "127.0.0.1:0", Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tester, err := ov.Identity("tester")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, Options{
		Target: n.UDPAddr(), Transport: DTLS, Config: ov.Config, Identity: tester, Network: SystemNetwork{},
		Timeout: 6 * time.Second, Quiet: 300 * time.Millisecond, RetransmitWait: 3 * time.Second,
		Checks: []string{"link.", "ping.answer", "store.roundtrip", "frame.seq", "frame.ack", "frame.retransmit", "join.", "attach.no-ice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	expectStatuses(t, rep, map[string]Status{
		"link.cert": Pass, "link.reject-untrusted": Pass, "link.require-client-cert": Pass,
		"ping.answer": Pass, "store.roundtrip": Pass,
		"frame.seq": Pass, "frame.ack": Pass, "frame.retransmit": Pass,
		"join.forbidden-id": Pass, "join.attach": Pass, "join.join": Pass, "join.update": Pass,
		"attach.no-ice": Pass,
	})
}
