package forwarding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
	"go.uber.org/goleak"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

func testConfig(t testing.TB) *config.Configuration {
	t.Helper()
	c := config.New(testOverlay)
	c.RootCerts = [][]byte{testCA().Cert.Raw}
	return c
}

// startEngine starts node b with a TLS listener on loopback and the given
// router.
func startEngine(t *testing.T, b byte, r Router, edit func(*Options)) *Engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Identity: ident(t, b), Verifier: testVerifier(t), Config: testConfig(t), Router: r,
		Listener: ln, Rand: newSeeded(b),
	}
	if edit != nil {
		edit(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// checkLeaks verifies, after every cleanup of t (engines closed), that
// the test left no goroutine behind.
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func tlsAddr(e *Engine) string { return e.opts.Listener.Addr().String() }

// threeNodes starts A — B — C over real TLS links on loopback: A and C
// route everything through B.
func threeNodes(t *testing.T) (a, b, c *Engine) {
	t.Helper()
	a = startEngine(t, 1, &staticRouter{next: idB}, nil)
	b = startEngine(t, 2, &staticRouter{}, nil)
	c = startEngine(t, 3, &staticRouter{next: idB}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	// B learns of both links when their handshakes finish.
	waitFor(t, func() bool { return b.Table().Connected(idA) && b.Table().Connected(idC) })
	return a, b, c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// End to end on real sockets (RFC 6940 §6.2): A pings C through B, the
// answer comes back along the reversed via list, every signature is
// checked at its destination. Then an Attach through B opens a direct
// A — C link (§6.5.1, TLS-TCP-FH-NO-ICE) and A pings C directly.
func TestEngineEndToEndTLS(t *testing.T) {
	checkLeaks(t)
	a, _, c := threeNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// C echoes the via list its requests arrive with.
	c.Handle(wire.CodeExpAReq, func(_ context.Context, in *Incoming) ([]byte, error) {
		var out []byte
		for _, d := range in.Via {
			out = append(out, d.ID...)
		}
		if in.Signer.NodeID != idA || in.From != idB {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeForbidden}
		}
		return out, nil
	})
	ans, err := a.Request(ctx, dests(idC), wire.CodeExpAReq, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ans.Body, idA.Bytes()) {
		t.Errorf("request reached C with via %x, want [A]", ans.Body)
	}
	if ans.Signer.NodeID != idC {
		t.Errorf("answer signed by %v", ans.Signer.NodeID)
	}
	pa, pans, err := a.Ping(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	if got := destIDs(pans.Via); len(got) != 1 || got[0] != idC {
		t.Errorf("ping answer via %v, want [C] (through B)", got)
	}
	if d := time.Since(time.UnixMilli(int64(pa.Time))); d < -time.Minute || d > time.Minute {
		t.Errorf("ping time %v", pa.Time)
	}
	if a.Table().Connected(idC) {
		t.Fatal("A already connected to C")
	}
	link, err := a.Attach(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	if link.PeerNodeID() != idC || !a.Table().Connected(idC) {
		t.Fatalf("attach gave a link to %v", link.PeerNodeID())
	}
	waitFor(t, func() bool { return c.Table().Connected(idA) })
	_, pans, err = a.Ping(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	if len(pans.Via) != 0 {
		t.Errorf("direct ping answer via %v, want none", destIDs(pans.Via))
	}
	// An unknown request code is answered, not ignored.
	if _, err := a.Request(ctx, dests(idC), wire.CodeExpBReq, nil); !isRemoteCode(err, wire.ErrCodeInvalidMessage) {
		t.Errorf("unhandled request: %v", err)
	}
	a.Close()
	c.Close()
}

// A handler whose own request failed downstream does not answer with the
// downstream peer's code as its own (RFC 6940 §6.3.3.1: the code is the
// answering node's verdict on the request it got): A asks B, B asks C, C
// answers Error_Not_Found; B's answer to A is Error_Invalid_Message naming
// the downstream code, unless B relays the code explicitly. A timeout of
// B's request is answered Error_Request_Timeout.
func TestHandlerDownstreamRemoteError(t *testing.T) {
	checkLeaks(t)
	a, b, c := threeNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.Handle(wire.CodeExpAReq, func(context.Context, *Incoming) ([]byte, error) {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeNotFound, Info: []byte("nothing here")}
	})
	downstream := make(chan error, 1)
	b.Handle(wire.CodeExpBReq, func(ctx context.Context, in *Incoming) ([]byte, error) {
		_, err := b.Request(ctx, dests(idC), wire.CodeExpAReq, nil)
		downstream <- err
		switch string(in.Body) {
		case "wrapped":
			return nil, fmt.Errorf("asking C: %w", err)
		case "relay":
			if re, ok := errors.AsType[*wire.RemoteError](err); ok {
				return nil, re.Relay()
			}
		case "timeout":
			return nil, fmt.Errorf("asking C: %w", ErrRequestTimeout)
		}
		return nil, err
	})
	for _, tc := range []struct {
		body string
		code wire.ErrorCode
		info string
	}{
		{"bare", wire.ErrCodeInvalidMessage, "downstream request failed: Error_Not_Found"},
		{"wrapped", wire.ErrCodeInvalidMessage, "downstream request failed: Error_Not_Found"},
		{"relay", wire.ErrCodeNotFound, "nothing here"},
		{"timeout", wire.ErrCodeRequestTimeout, "downstream request timed out"},
	} {
		_, err := a.Request(ctx, dests(idB), wire.CodeExpBReq, []byte(tc.body))
		re, ok := errors.AsType[*wire.RemoteError](err)
		if !ok {
			t.Fatalf("%s: %v (%T), want a *wire.RemoteError", tc.body, err, err)
		}
		if re.From != idB || re.Code != tc.code || string(re.Info) != tc.info || re.Err != nil {
			t.Errorf("%s: B answered %v from %v, info %q; want %v, info %q", tc.body, re.Code, re.From, re.Info, tc.code, tc.info)
		}
		if code, ok := wire.ErrorCodeOf(err); !ok || code != tc.code {
			t.Errorf("%s: ErrorCodeOf = %v, %v", tc.body, code, ok)
		}
		// B saw C's answer as a RemoteError, not as a code to answer with.
		derr := <-downstream
		if dre, ok := errors.AsType[*wire.RemoteError](derr); !ok || dre.From != idC || dre.Code != wire.ErrCodeNotFound || string(dre.Info) != "nothing here" {
			t.Errorf("%s: B's request to C failed with %v, want C's Error_Not_Found", tc.body, derr)
		}
		if _, ok := errors.AsType[*wire.ProtocolError](derr); ok {
			t.Errorf("%s: B's request to C failed with a *wire.ProtocolError: %v", tc.body, derr)
		}
	}
}

// isRemoteCode reports whether err is a peer's error answer with code (a
// *wire.RemoteError, not a local refusal).
func isRemoteCode(err error, code wire.ErrorCode) bool {
	re, ok := errors.AsType[*wire.RemoteError](err)
	return ok && re.Err == nil && re.Code == code
}

// RFC 6940 §6.5.2: AppAttach hands the connection to the application
// registered for the Application-ID; an unknown one is Error_Not_Found.
func TestEngineAppAttach(t *testing.T) {
	checkLeaks(t)
	a, _, c := threeNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	c.HandleApp(5060, func(peer wire.NodeID, conn net.Conn) {
		defer conn.Close()
		b, _ := io.ReadAll(conn)
		if peer != idA {
			b = nil
		}
		got <- b
	})
	conn, peer, err := a.AppAttach(ctx, dests(idC), 5060)
	if err != nil {
		t.Fatal(err)
	}
	if peer != idC {
		t.Errorf("peer %v", peer)
	}
	conn.Write([]byte("INVITE"))
	conn.Close()
	select {
	case b := <-got:
		if string(b) != "INVITE" {
			t.Errorf("application got %q", b)
		}
	case <-ctx.Done():
		t.Fatal("application connection never came")
	}
	if _, _, err := a.AppAttach(ctx, dests(idC), 9999); !isRemoteCode(err, wire.ErrCodeNotFound) {
		t.Errorf("unknown application: %v", err)
	}
}

// A request nobody can route fails at once with the topology's error; a
// request to a node that never answers times out with
// Error_Request_Timeout after five transmissions (§6.2.1; here with a
// 200 ms reliability timer).
func TestEngineRequestFailures(t *testing.T) {
	checkLeaks(t)
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) {
		o.Config.OverlayReliabilityTimer = 200 * time.Millisecond
	})
	// B drops what it cannot route: C is a node it is responsible for
	// but not connected to (§6.1.1).
	b := startEngine(t, 2, &staticRouter{local: map[string]bool{string(idC.Bytes()): true}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := a.Ping(ctx, dests(idC)); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("ping without a link: %v, want ErrNoRoute", err)
	}
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := a.Ping(ctx, dests(idC))
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("err %v, want Error_Request_Timeout", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("timed out after %v, want 5 x 200 ms", d)
	}
	// A cancelled request returns at once.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, _, err := a.Ping(cctx, dests(idC)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	a.Close()
	if _, _, err := a.Ping(ctx, dests(idB)); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
}

// attachVia runs A — B — C (TLS links to B) with the Options edit for A
// and C, attaches A to C through B, pings C directly and returns the new
// link.
func attachVia(t *testing.T, edit func(*Options)) *transport.Link {
	t.Helper()
	a := startEngine(t, 1, &staticRouter{next: idB}, edit)
	b := startEngine(t, 2, &staticRouter{}, nil)
	c := startEngine(t, 3, &staticRouter{next: idB}, edit)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	linkThroughB(ctx, t, a, b, c)
	link, err := a.Attach(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.Table().Connected(idA) })
	_, pans, err := a.Ping(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	if len(pans.Via) != 0 {
		t.Errorf("ping after attach went via %v", destIDs(pans.Via))
	}
	return link
}

// RFC 6940 §6.5.1.11, §6.6.6: Attach with a DTLS-UDP-SR-NO-ICE host
// candidate; the requester is the DTLS server.
func TestEngineAttachDTLSNoICE(t *testing.T) {
	checkLeaks(t)
	lt := attachVia(t, func(o *Options) { dtlsNoICE(t, o) }).Type()
	if lt != transport.LinkDTLSUDPSRNoICE {
		t.Errorf("link type %v", lt)
	}
}

// RFC 6940 §6.5.1.3–§6.5.1.14: Attach with ICE (loopback candidates) and
// DTLS-UDP-SR; the requester is ICE-controlling and the DTLS server.
func TestEngineAttachICE(t *testing.T) {
	checkLeaks(t)
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	lt := attachVia(t, func(o *Options) {
		o.ICE = &transport.ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }}
		o.Config.OverlayLinkProtocols = []string{"DTLS"}
	}).Type()
	if lt != transport.LinkDTLSUDPSR {
		t.Errorf("link type %v", lt)
	}
}

// A link that goes down leaves the connection table and is reported.
func TestEngineLinkDownEvent(t *testing.T) {
	checkLeaks(t)
	events := make(chan LinkEvent, 8)
	a := startEngine(t, 1, &staticRouter{}, func(o *Options) {
		o.OnLinkEvent = func(ev LinkEvent) { events <- ev }
	})
	b := startEngine(t, 2, &staticRouter{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	if ev := <-events; !ev.Up || ev.NodeID != idB {
		t.Fatalf("event %+v, want B up", ev)
	}
	b.Close()
	select {
	case ev := <-events:
		if ev.Up || ev.NodeID != idB || ev.Err == nil {
			t.Fatalf("event %+v, want B down", ev)
		}
	case <-ctx.Done():
		t.Fatal("no link-down event")
	}
	if a.Table().Connected(idB) {
		t.Error("B still in the table")
	}
}

// RFC 6940 §6.3.2.1, §6.5.4: a destination with a newer configuration
// answers an older requester with Error_Config_Too_Old and sends it a
// ConfigUpdate (configuration_sequence 65535), which the requester checks
// and applies; its next request is accepted.
func TestEngineConfigUpdate(t *testing.T) {
	checkLeaks(t)
	v1 := func(o *Options) {
		o.Config.Sequence = 1
		o.Config.ConfigurationSigners = []string{idD.String()}
	}
	data := signedConfig(t, 2)
	applied := make(chan *config.Configuration, 1)
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) {
		v1(o)
		o.OnConfig = func(c *config.Configuration) { applied <- c }
	})
	b := startEngine(t, 2, &staticRouter{}, v1)
	c := startEngine(t, 3, &staticRouter{next: idB}, func(o *Options) {
		parsed, err := config.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		o.Config = parsed.Configuration(testOverlay)
		o.ConfigDocument = data
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	linkThroughB(ctx, t, a, b, c)
	if _, _, err := a.Ping(ctx, dests(idC)); !isRemoteCode(err, wire.ErrCodeConfigTooOld) {
		t.Fatalf("ping with the old configuration: %v, want Error_Config_Too_Old", err)
	}
	select {
	case got := <-applied:
		if got.Sequence != 2 || got.OverlayReliabilityTimer != 2*time.Second {
			t.Errorf("applied sequence %d timer %v", got.Sequence, got.OverlayReliabilityTimer)
		}
	case <-ctx.Done():
		t.Fatal("ConfigUpdate never applied")
	}
	if _, _, err := a.Ping(ctx, dests(idC)); err != nil {
		t.Fatalf("ping after the update: %v", err)
	}
}

// signedConfig is a configuration document with sequence seq, signed by
// D, a configuration signer of the ones startEngine edits with
// ConfigurationSigners D.
func signedConfig(t *testing.T, seq uint16) []byte {
	t.Helper()
	newDoc := testConfig(t)
	newDoc.Sequence = seq
	newDoc.ConfigurationSigners = []string{idD.String()}
	newDoc.OverlayReliabilityTimer = 2 * time.Second
	doc := &config.Document{Configurations: []*config.Configuration{newDoc}}
	if err := doc.Sign(newDoc, ident(t, 4), "ecdsa-sha256"); err != nil {
		t.Fatal(err)
	}
	data, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The ConfigUpdate a node sends to a requester with an older
// configuration carries configuration_sequence 65535 (§6.3.2.1), and
// only it: requests the node originates meanwhile, and after it, carry
// the node's own sequence.
func TestEngineConfigUpdateSequence(t *testing.T) {
	checkLeaks(t)
	data := signedConfig(t, 2)
	c := startEngine(t, 3, &staticRouter{}, func(o *Options) {
		parsed, err := config.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		o.Config = parsed.Configuration(testOverlay)
		o.ConfigDocument = data
	})
	ev := dialAttacker(t, c, 0xee)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// C pings the peer over and over (it never answers) while the peer's
	// request with sequence 1 makes C send its ConfigUpdate.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for pctx.Err() == nil {
			ping, done := context.WithTimeout(pctx, 20*time.Millisecond)
			_, _, _ = c.Ping(ping, dests(nid(0xee)))
			done()
		}
	}()
	ev.seq = 1
	if err := ev.send(ev.request(wire.CodePingReq, pingBody(), 42, func(m *wire.Message) { m.Header.Destinations = dests(idC) })); err != nil {
		t.Fatal(err)
	}
	var updates, pingsAfter int
	for updates == 0 || pingsAfter < 3 {
		b, err := ev.link.Receive(ctx)
		if err != nil {
			t.Fatalf("receiving from C: %v (ConfigUpdates %d, pings after one %d)", err, updates, pingsAfter)
		}
		m := decode(t, b)
		switch m.Contents.Code {
		case wire.CodeConfigUpdateReq:
			if m.Header.ConfigSequence != config.SequenceUpdate {
				t.Fatalf("ConfigUpdate with configuration_sequence %d, want %d", m.Header.ConfigSequence, config.SequenceUpdate)
			}
			updates++
		case wire.CodePingReq:
			if m.Header.ConfigSequence != 2 {
				t.Fatalf("Ping with configuration_sequence %d, want C's own 2", m.Header.ConfigSequence)
			}
			if updates > 0 {
				pingsAfter++
			}
		case wire.CodeError:
			if m.Header.TransactionID == 42 && errorCode(t, m) != wire.ErrCodeConfigTooOld {
				t.Fatalf("answer to the old request: %v, want Error_Config_Too_Old", errorCode(t, m))
			}
		}
	}
	stop()
	<-pinged
}

// Hostile bytes on a real link: B answers or drops each, never panics,
// and keeps routing.
func TestEngineHostileInput(t *testing.T) {
	checkLeaks(t)
	a, b, _ := threeNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, ok := a.Table().Lookup(idB)
	if !ok {
		t.Fatal("no link to B")
	}
	valid := request(t, 1, wire.CodePingReq, pingBody(), toC)
	inputs := [][]byte{
		[]byte("garbage"),
		valid[:len(valid)/2],
		request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { toC(m); m.Header.TTL = 0 }),
		request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { toC(m); m.Header.Via = dests(idB) }),
		request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = nil }),
		request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
			m.Header.Destinations = dests(idB)
			m.Contents.Body = []byte{0xff}
		}),
	}
	for i := 0; i < 200; i++ {
		b := append([]byte(nil), valid...)
		b[i%len(b)] ^= byte(i*37 + 1)
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		if err := l.Send(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.Ping(ctx, dests(idC)); err != nil {
		t.Fatalf("ping after hostile input: %v", err)
	}
	if !b.Table().Connected(idA) {
		t.Error("B dropped A's link")
	}
}

// A peer that restarts with the same Node-ID dials a node that still has
// a link to its old process. The simultaneous-Attach tie-break would keep
// the old link (the node with the smaller Node-ID is its TLS client), but
// the old link came up long before the new one: they are not twins, and
// the new link replaces the old. Links that come up close together are
// still settled by the tie-break.
func TestEngineLaterLinkReplacesOlder(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name     string
		window   time.Duration
		keepsNew bool
	}{
		{"twins", time.Hour, false},
		{"restart", time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startEngine(t, 2, &staticRouter{}, func(o *Options) { o.twinWindow = tc.window })
			c := startEngine(t, 3, &staticRouter{}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			old, err := b.DialTLS(ctx, tlsAddr(c), idC)
			if err != nil {
				t.Fatal(err)
			}
			if tc.keepsNew {
				// The new process comes up after the twin window.
				waitFor(t, func() bool { return time.Since(old.Since()) > tc.window })
			}
			c2 := startEngine(t, 3, &staticRouter{}, nil) // C's new process
			if _, err := c2.DialTLS(ctx, tlsAddr(b), idB); err != nil {
				t.Fatal(err)
			}
			if !tc.keepsNew {
				// B's end of the handshake: B entered it in its table of
				// pending handshakes when it accepted the connection, before
				// c2's end could finish, and leaves it after AddLink.
				waitFor(t, func() bool { return b.PendingHandshakes() == 0 })
				if l, _ := b.Table().Lookup(idC); l != old {
					t.Fatal("B replaced its twin link: the tie-break keeps the old one")
				}
				return
			}
			waitFor(t, func() bool { l, _ := b.Table().Lookup(idC); return l != nil && l != old })
			// The old process dies: B and the new one still talk.
			c.Close()
			select {
			case <-old.Done(): // B saw the old process go
			case <-ctx.Done():
				t.Fatal("B's link to the old process did not end")
			}
			if _, _, err := c2.Ping(ctx, []wire.Destination{wire.NodeDest(&idB)}); err != nil {
				t.Fatalf("ping over the new link: %v", err)
			}
		})
	}
}

// RFC 6940 §6.5.1.2's tie-break between crossing Attaches: C, with the
// larger Node-ID, answers A's Attach with Error_In_Progress while its own
// Attach to A is in flight. An Attach of C's unanswered for longer than
// the crossing window is taken for lost (A never saw it: it went to an
// earlier process with A's Node-ID), and A's Attach goes through instead
// of being refused until C's times out.
func TestEngineStaleAttachDoesNotBlock(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name    string
		age     time.Duration
		refused bool
	}{
		{"crossing", 0, true},
		{"stale", time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startEngine(t, 1, &staticRouter{next: idB}, nil)
			b := startEngine(t, 2, &staticRouter{next: idC}, nil) // Resource-IDs: C's
			c := startEngine(t, 3, &staticRouter{next: idB, local: map[string]bool{string(idC.Bytes()): true}}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			linkThroughB(ctx, t, a, b, c)
			c.mu.Lock()
			c.attaching[idA] = attachState{since: c.clock.Now().Add(-tc.age)}
			c.mu.Unlock()
			_, err := a.Attach(ctx, []wire.Destination{wire.NodeDest(&idB), wire.ResourceDest(wire.ResourceID(idC.Bytes()))})
			if tc.refused {
				if !isRemoteCode(err, wire.ErrCodeInProgress) {
					t.Fatalf("a crossing Attach: %v, want Error_In_Progress", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Attach refused for a stale one of C's: %v", err)
			}
			waitFor(t, func() bool { return c.Table().Connected(idA) })
		})
	}
}
