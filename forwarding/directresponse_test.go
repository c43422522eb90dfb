package forwarding

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// routeOptionOf decodes the extensive_routing_mode option of a message.
func routeOptionOf(t *testing.T, h *wire.ForwardingHeader) (wire.ForwardingOption, wire.ExtensiveRoutingModeOption, bool) {
	t.Helper()
	for _, o := range h.Options {
		if o.Type == wire.OptionExtensiveRoutingMode {
			var x wire.ExtensiveRoutingModeOption
			if _, err := x.Decode(o.Value); err != nil {
				t.Fatal(err)
			}
			return o, x, true
		}
	}
	return wire.ForwardingOption{}, wire.ExtensiveRoutingModeOption{}, false
}

// RFC 7263 §5.3.1 and RFC 7264 §5.3.1: the option a DRR or RPR request
// carries (mode, transport, address, destinations, IGNORE-STATE-KEEPING),
// forwarded by a transit peer byte for byte (§6.3.2.3), and removed from
// a retransmission without breaking the signature (RFC 7263 §5.4.2).
func TestRouteOptionOnTheWire(t *testing.T) {
	l := local(t, 1)
	addr := netip.MustParseAddrPort("192.0.2.7:6084")
	for _, tc := range []struct {
		name  string
		route ResponseRoute
		dests []wire.NodeID
	}{
		{"DRR", ResponseRoute{Mode: wire.RouteModeDRR, Link: transport.LinkTLSTCPFHNoICE, Address: addr}, []wire.NodeID{idA}},
		{"RPR", ResponseRoute{Mode: wire.RouteModeRPR, Link: transport.LinkTLSTCPFHNoICE, Address: addr, Relay: idD}, []wire.NodeID{idD, idA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, expect, err := requestMessage(&l, 42, dests(idC), wire.CodePingReq, pingBody(), RequestOptions{Route: &tc.route}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !expect.routed {
				t.Error("request not marked routed")
			}
			m := decode(t, msg)
			o, x, ok := routeOptionOf(t, &m.Header)
			if !ok {
				t.Fatal("no extensive_routing_mode option")
			}
			if o.Flags != FlagIgnoreStateKeeping {
				t.Errorf("flags %#x, want IGNORE-STATE-KEEPING only", o.Flags)
			}
			got, _ := x.Address()
			if ap, _ := got.AddrPort(); x.RouteMode != tc.route.Mode || x.LinkType() != wire.OverlayLinkType(transport.LinkTLSTCPFHNoICE) || ap != addr {
				t.Errorf("option %v %v %v", x.RouteMode, x.LinkType(), ap)
			}
			if ids := destIDs(x.Destinations); len(ids) != len(tc.dests) || ids[0] != tc.dests[0] || ids[len(ids)-1] != tc.dests[len(tc.dests)-1] {
				t.Errorf("destinations %v, want %v", ids, tc.dests)
			}

			// A transit peer forwards the option untouched.
			b := newCore(t, 2, &staticRouter{next: idC}, neighbors(idA, idC))
			act := b.Process(idA, msg, testStart)
			if act.Kind != ActForward || act.To != idC {
				t.Fatalf("transit: %v to %v (%v)", act.Kind, act.To, act.Err)
			}
			fwd := decode(t, append(append([]byte(nil), act.Head...), act.Rest...))
			fo, _, ok := routeOptionOf(t, &fwd.Header)
			if !ok || fo.Flags != o.Flags || !bytes.Equal(fo.Value, o.Value) {
				t.Errorf("transit changed the option: %+v, was %+v", fo, o)
			}

			// The responder reads what the requester meant.
			r, pe := parseRouteOption(&fwd.Header)
			if pe != nil || !r.present || r.mode != tc.route.Mode || r.sender != idA || r.via != tc.dests[0] || r.addr != addr {
				t.Errorf("parsed %+v, %v", r, pe)
			}

			// The retransmission goes by SRR, still validly signed.
			plain := decode(t, withoutRouteOption(msg))
			if _, _, ok := routeOptionOf(t, &plain.Header); ok {
				t.Error("retransmission still carries the option")
			}
			if _, err := testVerifier(t).Verify(plain, security.Expect{NodeID: idA}, testStart); err != nil {
				t.Errorf("retransmission signature: %v", err)
			}
		})
	}
}

// RFC 7263 §5.4.1, RFC 7264 §5.4.1: an option with the wrong number of
// destinations (or an unknown mode) is answered with
// Error_Unknown_Extension by SRR.
func TestRouteOptionMalformed(t *testing.T) {
	mk := func(mode wire.RouteMode, ids ...wire.NodeID) wire.ForwardingHeader {
		ap := wire.IPAddressPortFrom(netip.MustParseAddrPort("192.0.2.1:1"))
		raw, _ := ap.Append(nil)
		x := wire.ExtensiveRoutingModeOption{RouteMode: mode, Transport: uint8(transport.LinkTLSTCPFHNoICE), IPAddressPort: raw, Destinations: dests(ids...)}
		v, err := x.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return wire.ForwardingHeader{Options: []wire.ForwardingOption{{Type: wire.OptionExtensiveRoutingMode, Value: v}}}
	}
	for name, h := range map[string]wire.ForwardingHeader{
		"DRR with two":  mk(wire.RouteModeDRR, idA, idB),
		"RPR with one":  mk(wire.RouteModeRPR, idA),
		"unknown mode":  mk(7, idA),
		"bad encoding":  {Options: []wire.ForwardingOption{{Type: wire.OptionExtensiveRoutingMode, Value: []byte{1}}}},
		"RPR with none": {Options: []wire.ForwardingOption{{Type: wire.OptionExtensiveRoutingMode, Value: []byte{2, 4, 1, 4, 192, 0, 2, 1, 0, 1, 0}}}},
	} {
		if _, pe := parseRouteOption(&h); pe == nil || pe.Code != wire.ErrCodeUnknownExtension {
			t.Errorf("%s: %v, want Error_Unknown_Extension", name, pe)
		}
	}
}

// pingVia pings dest from e with route r and returns the answer.
func pingVia(t *testing.T, e *Engine, dest wire.NodeID, r *ResponseRoute) *Answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := e.RequestWith(ctx, dests(dest), wire.CodePingReq, pingBody(), RequestOptions{Route: r})
	if err != nil {
		t.Fatal(err)
	}
	if a.Signer.NodeID != dest {
		t.Fatalf("answer signed by %v", a.Signer.NodeID)
	}
	return a
}

// lineWithPolicy is A — B — C on real TLS links, C answering with policy.
func lineWithPolicy(t *testing.T, policy ResponseRoutePolicy) (a, b, c *Engine) {
	t.Helper()
	a = startEngine(t, 1, &staticRouter{next: idB}, nil)
	b = startEngine(t, 2, &staticRouter{}, nil)
	c = startEngine(t, 3, &staticRouter{next: idB}, func(o *Options) { o.ResponseRoutes = policy })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	linkThroughB(ctx, t, a, b, c)
	return a, b, c
}

// RFC 7263 §3.1.2: with DRR the answer comes straight from C to A over a
// link C opens to A's address and authenticates as A; B carries only the
// request. Without the option, or with the policy off or "linked" and no
// link to A, the answer goes back through B (SRR, §3.2.1).
func TestDRRRoundTrip(t *testing.T) {
	checkLeaks(t)
	a, b, c := lineWithPolicy(t, ResponseRoutesDial)
	r, err := a.DirectRoute()
	if err != nil {
		t.Fatal(err)
	}
	if ans := pingVia(t, a, idC, nil); len(ans.Via) != 1 {
		t.Fatalf("SRR answer via %v, want B", ans.Via)
	}
	fwd := b.Stats().Forwarded.Load()
	ans := pingVia(t, a, idC, r)
	if len(ans.Via) != 0 {
		t.Errorf("DRR answer via %v, want none (direct)", destIDs(ans.Via))
	}
	if n := b.Stats().Forwarded.Load() - fwd; n != 1 {
		t.Errorf("B forwarded %d messages, want 1 (the request only)", n)
	}
	if !c.Table().Connected(idA) {
		t.Error("C has no link to A")
	}
	st := &c.Stats().Routes
	if st.Direct.Load() != 1 || st.FellBack.Load() != 0 {
		t.Errorf("C direct %d fell back %d", st.Direct.Load(), st.FellBack.Load())
	}
	if a.Stats().Routes.Asked.Load() != 1 {
		t.Errorf("A asked %d", a.Stats().Routes.Asked.Load())
	}
}

func TestDRRFallback(t *testing.T) {
	checkLeaks(t)
	closed := func() netip.AddrPort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ap := transport.AddrPortOf(ln.Addr())
		ln.Close()
		return ap
	}()
	for _, tc := range []struct {
		name   string
		policy ResponseRoutePolicy
		addr   netip.AddrPort // zero: A's own
		dialed bool
	}{
		{"policy off", ResponseRoutesOff, netip.AddrPort{}, false},
		{"linked without link", ResponseRoutesLinked, netip.AddrPort{}, false},
		{"unreachable", ResponseRoutesDial, closed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, c := lineWithPolicy(t, tc.policy)
			r, err := a.DirectRoute()
			if err != nil {
				t.Fatal(err)
			}
			if tc.addr.IsValid() {
				r.Address = tc.addr
			}
			if ans := pingVia(t, a, idC, r); len(ans.Via) != 1 {
				t.Errorf("answer via %v, want B (SRR)", destIDs(ans.Via))
			}
			st := &c.Stats().Routes
			if st.FellBack.Load() != 1 || st.Direct.Load() != 0 {
				t.Errorf("fell back %d direct %d", st.FellBack.Load(), st.Direct.Load())
			}
			if got := st.DialFailed.Load() == 1; got != tc.dialed {
				t.Errorf("dial failed %d", st.DialFailed.Load())
			}
			if c.Table().Connected(idA) {
				t.Error("C linked to A")
			}
		})
	}
}

// countingListener counts the TCP connections made to it and closes them.
func countingListener(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return transport.AddrPortOf(ln.Addr()), &n
}

// RFC 7263 §7, RFC 6940 §13: an enrolled node asking for DRR to a third
// party's address cannot make the responder send anything there. With
// "linked" nothing is ever sent to the address in the option. With
// "dial" the link must authenticate as the requester: the third party
// gets at most one connection attempt, which fails, never a RELOAD
// message, and its address is not tried again for a while. An option
// naming another node as the sender is refused outright.
func TestDRRReflectionRefused(t *testing.T) {
	checkLeaks(t)
	victim, accepts := countingListener(t)
	t.Run("linked", func(t *testing.T) {
		a, _, c := lineWithPolicy(t, ResponseRoutesLinked)
		r := &ResponseRoute{Mode: wire.RouteModeDRR, Link: transport.LinkTLSTCPFHNoICE, Address: victim}
		for range 2 {
			if ans := pingVia(t, a, idC, r); len(ans.Via) != 1 {
				t.Errorf("answer via %v, want B", destIDs(ans.Via))
			}
		}
		if n := accepts.Load(); n != 0 {
			t.Errorf("third party got %d connections", n)
		}
		if n := c.Stats().Routes.FellBack.Load(); n != 2 {
			t.Errorf("fell back %d", n)
		}
	})
	t.Run("dial", func(t *testing.T) {
		accepts.Store(0)
		a, _, c := lineWithPolicy(t, ResponseRoutesDial)
		r := &ResponseRoute{Mode: wire.RouteModeDRR, Link: transport.LinkTLSTCPFHNoICE, Address: victim}
		for range 2 {
			if ans := pingVia(t, a, idC, r); len(ans.Via) != 1 {
				t.Errorf("answer via %v, want B", destIDs(ans.Via))
			}
		}
		if n := accepts.Load(); n > 1 {
			t.Errorf("third party got %d connections, want at most one", n)
		}
		if st := &c.Stats().Routes; st.Direct.Load() != 0 || st.FellBack.Load() != 2 {
			t.Errorf("direct %d fell back %d", st.Direct.Load(), st.FellBack.Load())
		}
	})
	t.Run("other sender", func(t *testing.T) {
		accepts.Store(0)
		a, _, c := lineWithPolicy(t, ResponseRoutesDial)
		// A signs the request but names D as the sender in the option.
		l := a.localNow.Load()
		x := wire.ExtensiveRoutingModeOption{RouteMode: wire.RouteModeDRR, Transport: uint8(transport.LinkTLSTCPFHNoICE)}
		ap := wire.IPAddressPortFrom(victim)
		x.IPAddressPort, _ = ap.Append(nil)
		x.Destinations = dests(idD)
		v, err := x.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		b := builder{local: l}
		h := b.requestHeader(99, dests(idC), 0)
		h.Options = []wire.ForwardingOption{{Type: wire.OptionExtensiveRoutingMode, Flags: FlagIgnoreStateKeeping, Value: v}}
		msg, _, err := b.sealMessage(&h, wire.CodePingReq, pingBody(), RequestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan result, 2)
		if !a.call(context.Background(), func() {
			a.tx.track(99, msg, answerer{node: idC}, a.clock.Now())
			a.waiters[99] = ch
			if err := a.originate(msg); err != nil {
				t.Error(err)
			}
		}) {
			t.Fatal("engine closed")
		}
		select {
		case res := <-ch:
			if res.err != nil || len(res.ans.Via) != 1 {
				t.Errorf("answer %+v %v, want one by SRR", res.ans, res.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no answer")
		}
		if st := &c.Stats().Routes; st.Refused.Load() != 1 || st.FellBack.Load() != 1 {
			t.Errorf("refused %d fell back %d", st.Refused.Load(), st.FellBack.Load())
		}
		if n := accepts.Load(); n != 0 {
			t.Errorf("third party got %d connections", n)
		}
	})
}

// RFC 7264 §3.1: A, linked to its relay peer R, asks C (reached through
// B) for RPR; C sends the answer to R, over a link it opens to R's address
// and authenticates as R, and R forwards it to A on their link. The
// answer's via list is C alone; B carries only the request.
func TestRPRRoundTrip(t *testing.T) {
	checkLeaks(t)
	a, b, c := lineWithPolicy(t, ResponseRoutesDial)
	rl := startEngine(t, 4, &staticRouter{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(rl), idD); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return rl.Table().Connected(idA) })
	r, err := a.RelayRoute(idD, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Address.String() != tlsAddr(rl) {
		t.Fatalf("relay address %v, want %v", r.Address, tlsAddr(rl))
	}
	if _, err := a.RelayRoute(idC, netip.AddrPort{}); err == nil {
		t.Error("relay route through a node without a link")
	}
	fwdB, fwdR := b.Stats().Forwarded.Load(), rl.Stats().Forwarded.Load()
	ans := pingVia(t, a, idC, r)
	if ids := destIDs(ans.Via); len(ids) != 1 || ids[0] != idC {
		t.Errorf("RPR answer via %v, want [C]", ids)
	}
	if n := b.Stats().Forwarded.Load() - fwdB; n != 1 {
		t.Errorf("B forwarded %d, want 1 (the request)", n)
	}
	if n := rl.Stats().Forwarded.Load() - fwdR; n != 1 {
		t.Errorf("relay forwarded %d, want 1 (the answer)", n)
	}
	if st := &c.Stats().Routes; st.Relayed.Load() != 1 || st.FellBack.Load() != 0 {
		t.Errorf("C relayed %d fell back %d", st.Relayed.Load(), st.FellBack.Load())
	}
}

// RFC 7263 §5.4.2: a request that asked for DRR and got no answer is
// retransmitted by SRR, without the option; the same transaction.
func TestRouteRetransmissionBySRR(t *testing.T) {
	tx, err := NewTransactions(TxConfig{Local: local(t, 1), Verifier: testVerifier(t), Rand: newSeeded(1), Timer: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &ResponseRoute{Mode: wire.RouteModeDRR, Link: transport.LinkTLSTCPFHNoICE, Address: netip.MustParseAddrPort("192.0.2.7:6084")}
	txid, msg, err := tx.StartWith(dests(idC), wire.CodePingReq, pingBody(), RequestOptions{Route: r}, 0, testStart)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := routeOptionOf(t, &decode(t, msg).Header); !ok {
		t.Fatal("first transmission without the option")
	}
	for i := 1; i <= 2; i++ {
		ev := tx.Tick(testStart.Add(time.Duration(i)*time.Second), nil)
		if len(ev) != 1 || ev[0].TxID != txid || ev[0].Resend == nil {
			t.Fatalf("tick %d: %+v", i, ev)
		}
		m := decode(t, ev[0].Resend)
		if _, _, ok := routeOptionOf(t, &m.Header); ok {
			t.Errorf("retransmission %d carries the option", i)
		}
		if m.Header.TransactionID != txid {
			t.Errorf("transaction id changed")
		}
	}
	if tx.RetriedSRR != 1 {
		t.Errorf("RetriedSRR %d, want 1", tx.RetriedSRR)
	}
}

// A listener on an unspecified address offers, for DRR, the local address
// of a link with the listener's port; with no link, nothing.
func TestDirectRouteUnspecifiedListener(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	port := transport.AddrPortOf(ln.Addr()).Port()
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) { o.Listener.Close(); o.Listener = ln })
	b := startEngine(t, 2, &staticRouter{}, nil)
	if _, err := a.DirectRoute(); err == nil {
		t.Error("DirectRoute without a link or a specific address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	r, err := a.DirectRoute()
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port); r.Address != want {
		t.Errorf("address %v, want %v", r.Address, want)
	}
}
