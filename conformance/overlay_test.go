package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// startNode starts our own node as the seed of a ring on loopback, TLS
// links, ICE on loopback for Attach.
func startNode(t *testing.T, ov *nodetest.Overlay) *node.Node {
	t.Helper()
	id, err := ov.Identity("target")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{
		Overlay: ov.Config, Identity: id, ListenTLS: "127.0.0.1:0", Seed: true,
		ICE: true, ICELoopback: true, ICEInterfaces: func(name string) bool { return name == "lo" },
		SIP: &node.SIPConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", NoAuth: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func expectStatuses(t *testing.T, rep *Report, want map[string]Status) {
	t.Helper()
	seen := map[string]bool{}
	for _, res := range rep.Results {
		w, ok := want[res.ID]
		if !ok {
			continue
		}
		seen[res.ID] = true
		if res.Status != w {
			t.Errorf("%s: %s (%s; sent %s; got %s), want %s", res.ID, res.Status, res.Detail, res.Sent, res.Got, w)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("%s did not run", id)
		}
	}
}

// The kit joins through our own node (§10.5), exchanges Updates, leaves,
// attaches with and without ICE, AppAttaches for SIP, sends fragments and
// asks for every diagnostic kind; every check passes over TLS.
func TestOverlayChecksOwnNode(t *testing.T) {
	t.Parallel()
	ov, err := nodetest.NewOverlay("kit.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, ov)
	tester, err := ov.Identity("tester")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{
		Target: n.Addr(), Transport: TLS, Config: ov.Config, Identity: tester,
		Timeout: 3 * time.Second, Quiet: 300 * time.Millisecond,
		Checks: []string{"update.", "join.", "leave.", "attach.no-ice", "attach.ice", "appattach.", "frag.", "diag.kinds", "fh.", "sec.answer-signature"},
	})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	want := map[string]Status{}
	for _, c := range overlayChecks {
		if !strings.HasPrefix(c.id, "frame.") { // not selected: DTLS only
			want[c.id] = Pass
		}
	}
	want["frag.answer"] = Skip // DTLS only
	for _, id := range []string{"fh.version", "fh.fragment", "fh.ttl", "fh.txid", "fh.destination", "sec.answer-signature"} {
		want[id] = Pass
	}
	expectStatuses(t, rep, want)
}

// Over DTLS, against our own link layer (the engine of startTarget): the
// framing checks under loss, duplicates and reordering on the kit's link,
// and fragments both ways.
func TestOverlayChecksDTLS(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, true)
	rep := runAgainst(t, tg.addr, DTLS, tg.net, "frame.loss-retransmit", "frame.duplicate", "frame.reorder", "frag.", "attach.", "appattach.", "diag.kinds")
	expectStatuses(t, rep, map[string]Status{
		"appattach.sip":         Pass, // Error_Not_Found: no SIP here
		"frame.loss-retransmit": Pass, "frame.duplicate": Pass, "frame.reorder": Pass,
		"frag.in-order": Pass, "frag.out-of-order": Pass, "frag.answer": Pass,
		"attach.no-ice": Pass, "attach.ice": Skip, // a DTLS no-ice overlay
		"diag.kinds": Pass,
	})
}

// A peer whose topology handlers take whatever comes: Join and Leave for
// any Node-ID, Updates answered with a body, no Update after a Join. Each
// of these fails its check; what it does right still passes.
func TestOverlayChecksLaxTopology(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, false)
	empty := func(context.Context, *forwarding.Incoming) ([]byte, error) { return nil, nil }
	tg.e.Handle(wire.CodeJoinReq, func(context.Context, *forwarding.Incoming) ([]byte, error) {
		return (&wire.JoinAns{}).Append(nil)
	})
	tg.e.Handle(wire.CodeLeaveReq, empty)
	tg.e.Handle(wire.CodeUpdateReq, func(context.Context, *forwarding.Incoming) ([]byte, error) { return []byte{0}, nil })
	rep := runAgainst(t, tg.addr, TLS, tg.net, "update.", "join.", "leave.")
	expectStatuses(t, rep, map[string]Status{
		"update.peer-ready": Fail, "join.forbidden-id": Fail, "leave.forbidden-id": Fail,
		"join.attach": Pass, "join.join": Pass, "join.update": Fail, "update.answer": Fail, "leave.answer": Pass,
	})
}

func logReport(t *testing.T, rep *Report) {
	t.Helper()
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Logf("\n%s", b.String())
}
