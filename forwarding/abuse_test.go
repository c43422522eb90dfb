package forwarding

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goreload/reload/internal/flood"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Fault and abuse tests on real TLS links: an enrolled but hostile peer,
// junk connections, and a peer that stops answering. Each logs its
// figures; RELOAD_FLOOD=1 runs bigger floods.

// attacker is an enrolled node (its certificate is real) that talks to a
// target engine over a TLS link it drives by hand.
type attacker struct {
	t    *testing.T
	id   byte
	link *transport.Link
	seq  uint16 // the target's configuration sequence
}

// dialAttacker opens a TLS link from node b to target, as the TLS client.
func dialAttacker(t *testing.T, target *Engine, b byte) *attacker {
	t.Helper()
	cert := ident(t, b).TLSCertificate()
	cfg := &transport.Config{Certificate: &cert, Verifier: peerVerifier{v: testVerifier(t), clock: realClock{}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", tlsAddr(target))
	if err != nil {
		t.Fatal(err)
	}
	l, err := transport.NewTLSLink(ctx, conn, transport.Responder, target.Self(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	waitFor(t, func() bool { return target.Table().Connected(nid(b)) })
	return &attacker{t: t, id: b, link: l, seq: target.local.ConfigSequence}
}

// request is a signed request from the attacker with transaction id txid,
// its header then changed by edit.
func (a *attacker) request(code wire.MessageCode, body []byte, txid uint64, edit func(*wire.Message)) []byte {
	return request(a.t, a.id, code, body, func(m *wire.Message) {
		m.Header.ConfigSequence = a.seq
		m.Header.TransactionID = txid
		if edit != nil {
			edit(m)
		}
	})
}

func (a *attacker) send(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.link.Send(ctx, msg)
}

// answer waits for the answer to txid, skipping others.
func (a *attacker) answer(txid uint64) (*wire.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := a.link.Receive(ctx)
		if err != nil {
			return nil, err
		}
		var m wire.Message
		if _, err := m.Decode(b); err != nil {
			return nil, err
		}
		if m.Header.TransactionID == txid {
			return &m, nil
		}
	}
}

// engineState reads what the loop goroutine owns.
func engineState(t *testing.T, e *Engine) (incomplete, buffered, pending int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !e.call(ctx, func() {
		incomplete, buffered, pending = e.core.reasm.Incomplete(), e.core.reasm.Buffered(), e.tx.Pending()
	}) {
		t.Fatal("engine loop did not answer")
	}
	return
}

// An enrolled peer floods B with first fragments of huge messages it
// never completes and with one-byte fragments under fresh transaction
// ids (§6.7). B holds no more than its reassembly limits, and legitimate
// requests keep being answered: from another peer, and from the
// attacker's own link between its fragments.
func TestEngineFragmentFlood(t *testing.T) {
	checkLeaks(t)
	a, b, _ := threeNodes(t)
	ev := dialAttacker(t, b, 0xee)
	n := 5000
	if flood.Big() {
		n = 100_000
	}
	before := flood.HeapMiB()
	g0 := runtime.NumGoroutine()
	legit := startPinger(t, a, dests(idB), "legitimate ping during the flood")
	body := make([]byte, 1000)
	var own int
	for i := range n {
		txid := uint64(1<<32 + i)
		var h wire.ForwardingHeader
		h.Overlay, h.ConfigSequence, h.Version, h.TTL = b.local.Overlay, b.local.ConfigSequence, wire.Version10, wire.DefaultTTL
		h.TransactionID = txid
		h.Destinations = dests(idB)
		piece := body[:1]
		switch i % 2 {
		case 0: // the first kilobyte of a message that would be 4 MB
			h.Fragment = wire.FragmentHistoric
			piece = body
		default: // one byte somewhere in the middle
			h.Fragment = wire.FragmentHistoric | uint32(1+i%4000)
		}
		msg, err := h.AppendMessage(nil, piece)
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.send(msg); err != nil {
			t.Fatalf("flood fragment %d: %v", i, err)
		}
		if i%1000 == 999 { // a real request on the same link
			id := uint64(7<<40 + i)
			if err := ev.send(ev.request(wire.CodePingReq, pingBody(), id, func(m *wire.Message) { m.Header.Destinations = dests(idB) })); err != nil {
				t.Fatal(err)
			}
			m, err := ev.answer(id)
			if err != nil || m.Contents.Code != wire.CodePingAns {
				t.Fatalf("ping on the flooding link: %v %v", err, m)
			}
			own++
		}
	}
	inc, buf, _ := engineState(t, b)
	during := flood.HeapMiB()
	gDuring := runtime.NumGoroutine()
	legit.halt()
	t.Logf("%d fragments from one peer: B holds %d incomplete messages, %d bytes charged (limit %d); "+
		"legitimate pings answered: %d from another peer, %d on the flooding link, %d failed; "+
		"heap %.1f -> %.1f MiB; goroutines %d -> %d", n, inc, buf, 1<<20, legit.ok.Load(), own, legit.failed.Load(), before, during, g0, gDuring)
	if buf > 1<<20 {
		t.Fatalf("B holds %d bytes for one link", buf)
	}
	if legit.ok.Load() == 0 || own == 0 {
		t.Fatal("no legitimate ping went through during the flood")
	}
}

// Junk connections at B's TLS port: many that send nothing, and some
// that send garbage. B holds no more than its per-source limit of them
// pending (each newcomer evicts the source's oldest), ends the silent ones
// after the first-record timeout, and meanwhile a real peer from another
// address connects and pings. Afterwards no goroutine is left.
func TestEngineConnectionFlood(t *testing.T) {
	checkLeaks(t)
	b := startEngine(t, 2, &staticRouter{}, func(o *Options) {
		o.Link.HandshakeTimeout = time.Second
	})
	a := startEngine(t, 1, &staticRouter{next: idB}, nil)
	g0 := runtime.NumGoroutine()
	before := flood.HeapMiB()
	n := 300
	if flood.Big() {
		n = 3000
	}
	// The attacker connects from 127.0.0.2 (all of 127/8 is loopback on
	// Linux); the real peer from 127.0.0.1.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := d.Dial("tcp", tlsAddr(b))
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		if i%10 == 0 {
			_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		}
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatalf("real peer during the flood: %v", err)
	}
	pings := 0
	for range 20 {
		if _, _, err := a.Ping(ctx, dests(idB)); err != nil {
			t.Fatalf("ping during the flood: %v", err)
		}
		pings++
	}
	_, pending := b.hs.pending()
	evicted := b.Stats().HandshakesEvicted.Load()
	during := flood.HeapMiB()
	gDuring := runtime.NumGoroutine()
	if pending > DefaultMaxPendingHandshakesPerHost {
		t.Fatalf("%d handshakes pending from one host", pending)
	}
	// The silent connections are closed by B after the handshake timeout:
	// reading from them ends.
	closed := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	waitFor(t, func() bool { return b.PendingHandshakes() == 0 })
	after := flood.HeapMiB()
	t.Logf("%d junk TCP connections from one host: %d handshakes pending from it (limit %d), %d evicted, "+
		"%d closed by B; real peer joined and %d pings answered during the flood; heap %.1f -> %.1f -> %.1f MiB; goroutines %d -> %d -> %d",
		n, pending, DefaultMaxPendingHandshakesPerHost, evicted, closed, pings, before, during, after, g0, gDuring, runtime.NumGoroutine())
	if closed != n {
		t.Fatalf("%d of %d junk connections still open", n-closed, n)
	}
}

// Idle connections from many sources at B's TLS port, more than its
// table of pending handshakes holds (20 sources × 16, the per-source
// limit), that never send a byte. B evicts the busiest source's oldest
// for each newcomer instead of refusing it, so a real peer from another
// address still completes its handshake and pings while they are all
// open; each eviction is counted. Before, the table filled up and the
// real peer's connection was closed at once.
func TestEngineIdleConnectionsFromManySources(t *testing.T) {
	checkLeaks(t)
	b := startEngine(t, 2, &staticRouter{}, nil)
	a := startEngine(t, 1, &staticRouter{next: idB}, nil)
	sources := 20
	if flood.Big() {
		sources = 200
	}
	per := DefaultMaxPendingHandshakesPerHost
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for s := range sources {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+s))}}
		for range per {
			c, err := d.Dial("tcp", tlsAddr(b))
			if err != nil {
				t.Skipf("cannot dial from %v: %v", d.LocalAddr, err)
			}
			conns = append(conns, c)
		}
	}
	// The table is full of them.
	waitFor(t, func() bool { return b.PendingHandshakes() == DefaultMaxPendingHandshakes })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatalf("real peer with the table full: %v", err)
	}
	if _, _, err := a.Ping(ctx, dests(idB)); err != nil {
		t.Fatalf("ping with the table full: %v", err)
	}
	total, busiest := b.hs.pending()
	evicted := b.Stats().HandshakesEvicted.Load()
	t.Logf("%d idle connections from %d sources: %d handshakes pending (limit %d), at most %d from one source, %d evicted; the real peer got in",
		len(conns), sources, total, DefaultMaxPendingHandshakes, busiest, evicted)
	if want := uint64(len(conns) + 1 - DefaultMaxPendingHandshakes); evicted < want {
		t.Fatalf("%d evictions, want at least %d", evicted, want)
	}
}

// viaList is n via entries of Node-IDs that are none of the test nodes.
func viaList(n int) []wire.Destination {
	out := make([]wire.Destination, n)
	for i := range out {
		id := nid(0x40)
		b := id.Bytes()
		b[0], b[1] = byte(i>>8), byte(i)
		id = wire.MustNodeID(b)
		out[i] = wire.NodeDest(&id)
	}
	return out
}

// Header abuse from an enrolled peer, at a high rate (§6.1, §6.3.2,
// §13.6.5, RFC 7851 §6.2): a TTL of 0 for another node and a TTL above
// initial-ttl get Error_TTL_Exceeded; B's own Node-ID in the via list
// gets Error_Loop_Detected; duplicate destinations get
// Error_Invalid_Message; a via list that fills max-message-size is
// answered with Error_Message_Too_Large rather than forwarded too large
// for the next link. Memory stays flat, no link but the attacker's is
// touched, and pings from A to C keep working throughout.
func TestEngineHeaderAbuse(t *testing.T) {
	checkLeaks(t)
	a, b, c := threeNodes(t)
	ev := dialAttacker(t, b, 0xee)
	maxSize := int(b.cfg.MaxMessageSize)
	// A request to C whose via list brings it to exactly max-message-size.
	full := func(txid uint64) []byte {
		base := len(ev.request(wire.CodePingReq, pingBody(), txid, toC))
		n := (maxSize - base) / 18
		msg := ev.request(wire.CodePingReq, pingBody(), txid, func(m *wire.Message) {
			m.Header.Destinations = dests(idC)
			m.Header.Via = viaList(n)
		})
		return msg
	}
	if l := len(full(1)); l > maxSize || l < maxSize-18 {
		t.Fatalf("full message %d bytes, max %d", l, maxSize)
	}
	cases := []struct {
		name string
		edit func(*wire.Message)
		code wire.ErrorCode
	}{
		{"ttl 0", func(m *wire.Message) { m.Header.Destinations = dests(idC); m.Header.TTL = 0 }, wire.ErrCodeTTLExceeded},
		{"ttl above initial", func(m *wire.Message) { m.Header.Destinations = dests(idC); m.Header.TTL = 255 }, wire.ErrCodeTTLExceeded},
		{"own id in via", func(m *wire.Message) {
			m.Header.Destinations = dests(idC)
			m.Header.Via = append(viaList(100), dests(idB)...)
		}, wire.ErrCodeLoopDetected},
		{"duplicate destinations", func(m *wire.Message) { m.Header.Destinations = dests(idC, idA, idC) }, wire.ErrCodeInvalidMessage},
		{"via list at max-message-size", nil, wire.ErrCodeMessageTooLarge},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			txid := uint64(100 + i)
			msg := full(txid)
			if tc.edit != nil {
				msg = ev.request(wire.CodePingReq, pingBody(), txid, tc.edit)
			}
			if err := ev.send(msg); err != nil {
				t.Fatal(err)
			}
			m, err := ev.answer(txid)
			if err != nil {
				t.Fatal(err)
			}
			if got := errorCode(t, m); got != tc.code {
				t.Fatalf("answered %v, want %v", got, tc.code)
			}
		})
	}

	// The same at a high rate, with pings from A to C alongside.
	n := 2000
	if flood.Big() {
		n = 10_000
	}
	before := flood.HeapMiB()
	g0 := runtime.NumGoroutine()
	answers := map[wire.ErrorCode]int{}
	got := make(chan struct{})
	go func() {
		defer close(got)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for range n {
			bs, err := ev.link.Receive(ctx)
			if err != nil {
				return
			}
			var m wire.Message
			if _, err := m.Decode(bs); err != nil || m.Contents.Code != wire.CodeError {
				continue
			}
			var er wire.ErrorResponse
			if _, err := er.Decode(m.Contents.Body); err == nil {
				answers[er.Code]++
			}
		}
	}()
	legit := startPinger(t, a, dests(idC), "ping A -> C during the abuse")
	msgs := make([][]byte, len(cases))
	for i, tc := range cases {
		msgs[i] = full(uint64(1000 + i))
		if tc.edit != nil {
			msgs[i] = ev.request(wire.CodePingReq, pingBody(), uint64(1000+i), tc.edit)
		}
	}
	start := time.Now()
	for i := range n {
		if err := ev.send(msgs[i%len(msgs)]); err != nil {
			t.Fatalf("abusive message %d: %v", i, err)
		}
	}
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("answers did not all come back")
	}
	elapsed := time.Since(start)
	during := flood.HeapMiB()
	legit.halt()
	t.Logf("%d abusive requests in %v: answers %v; B still linked to C: %v; pings A -> C answered meanwhile: %d; heap %.1f -> %.1f MiB; goroutines %d -> %d",
		n, elapsed.Round(time.Millisecond), answers, b.Table().Connected(idC), legit.ok.Load(), before, during, g0, runtime.NumGoroutine())
	if !b.Table().Connected(idC) || !c.Table().Connected(idB) {
		t.Fatal("the abuse broke the B — C link")
	}
	if legit.ok.Load() == 0 {
		t.Fatal("no ping from A to C went through during the abuse")
	}
}

// §6.6: a transit peer does not forward a message that its via entry
// would push past max-message-size (the next peer would close the link
// on it); the request is answered with Error_Message_Too_Large. One byte
// of room more and it is forwarded.
func TestForwardRespectsMaxMessageSize(t *testing.T) {
	raw := request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
		m.Header.Destinations = dests(idC)
		m.Header.Via = viaList(10)
	})
	grown := len(raw) + 18 // B appends A's Node-ID
	for _, tc := range []struct {
		max  int
		want ActionKind
	}{{grown - 1, ActAnswer}, {grown, ActForward}, {0, ActForward}} {
		l := local(t, 2)
		l.MaxMessageSize = tc.max
		c, err := NewCore(CoreConfig{Local: l, Router: &staticRouter{next: idC}, Neighbors: neighbors(idA)})
		if err != nil {
			t.Fatal(err)
		}
		a := c.Process(idA, raw, testStart)
		if a.Kind != tc.want {
			t.Fatalf("max %d: %v (%v), want %v", tc.max, a.Kind, a.Err, tc.want)
		}
		if a.Kind == ActAnswer {
			if code := errorCode(t, decode(t, a.Head)); code != wire.ErrCodeMessageTooLarge {
				t.Fatalf("answered %v", code)
			}
		}
	}
}

// proxy relays TCP connections to target; blackhole makes it swallow
// everything in both directions from then on, like a peer that stopped
// answering without closing anything.
type proxy struct {
	ln        net.Listener
	target    string
	blackhole atomic.Bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) pipe(from, to net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			to.Close()
			return
		}
		if p.blackhole.Load() {
			continue
		}
		if _, err := to.Write(buf[:n]); err != nil {
			from.Close()
			return
		}
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A peer that stops answering in the middle of transactions (§6.2.1):
// B's link to A goes silent (a proxy swallows everything) just as B
// receives A's requests. Each of A's requests fails with
// Error_Request_Timeout after five transmissions instead of hanging; A's
// transaction table empties; A's link to B is declared failed and
// removed; requests to C, on another link, keep working throughout; and
// once the path is back, a new link to B carries requests again. Then a
// node whose handler never answers (C) gives the same timeouts.
func TestEnginePeerStopsAnswering(t *testing.T) {
	checkLeaks(t)
	const timer = 100 * time.Millisecond
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) {
		o.Config.OverlayReliabilityTimer = timer
		o.Link.Reliability.FailAfter = 2 * time.Second
	})
	b := startEngine(t, 2, &staticRouter{}, nil)
	c := startEngine(t, 3, &staticRouter{}, nil)
	px := startProxy(t, tlsAddr(b))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, px.ln.Addr().String(), idB); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DialTLS(ctx, tlsAddr(c), idC); err != nil {
		t.Fatal(err)
	}
	b.Handle(wire.CodeExpAReq, func(context.Context, *Incoming) ([]byte, error) {
		px.blackhole.Store(true) // the answer will not get out
		return []byte("late"), nil
	})
	g0 := runtime.NumGoroutine()
	n := 50
	start := time.Now()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := a.Request(ctx, dests(idB), wire.CodeExpAReq, nil)
			errs <- err
		}()
	}
	cPings := 0
	timeouts := 0
	for range n {
		select {
		case err := <-errs:
			switch {
			case errors.Is(err, ErrRequestTimeout):
				timeouts++
			case err == nil:
				t.Error("a request was answered through the black hole")
			default:
				t.Logf("request failed otherwise: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("requests to the silent peer hang")
		}
		if _, _, err := a.Ping(ctx, dests(idC)); err != nil {
			t.Fatalf("ping C while B is silent: %v", err)
		}
		cPings++
	}
	failedAfter := time.Since(start)
	_, _, pending := engineState(t, a)
	waitFor(t, func() bool { return !a.Table().Connected(idB) })
	linkDown := time.Since(start)
	t.Logf("%d requests to a peer gone silent mid-transaction: %d Error_Request_Timeout after %v (timer %v), %d pending after; "+
		"link to it declared failed after %v; %d pings to another peer answered meanwhile; goroutines %d -> %d",
		n, timeouts, failedAfter.Round(time.Millisecond), timer, pending, linkDown.Round(time.Millisecond), cPings, g0, runtime.NumGoroutine())
	if timeouts == 0 || pending != 0 {
		t.Fatalf("%d timeouts, %d requests still pending", timeouts, pending)
	}
	// The path comes back: a new link carries requests again.
	px.blackhole.Store(false)
	b.Handle(wire.CodeExpAReq, func(context.Context, *Incoming) ([]byte, error) { return []byte("ok"), nil })
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	if ans, err := a.Request(ctx, dests(idB), wire.CodeExpAReq, nil); err != nil || string(ans.Body) != "ok" {
		t.Fatalf("after recovery: %v", err)
	}

	// A node whose handler never answers: the same timeouts, and the
	// table empties.
	c.Handle(wire.CodeExpAReq, func(ctx context.Context, _ *Incoming) ([]byte, error) {
		<-ctx.Done()
		return nil, ErrNoAnswer
	})
	for range 10 {
		go func() {
			_, err := a.Request(ctx, dests(idC), wire.CodeExpAReq, nil)
			errs <- err
		}()
	}
	for range 10 {
		if err := <-errs; !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("request to a node that never answers: %v", err)
		}
	}
	if _, _, p := engineState(t, a); p != 0 {
		t.Fatalf("%d requests pending", p)
	}
	if _, _, err := a.Ping(ctx, dests(idC)); err != nil {
		t.Fatalf("ping C after: %v", err)
	}
}

// pinger pings a destination over and over, as the legitimate traffic
// during an attack, until halt. A ping that fails fails the test and ends
// the loop.
type pinger struct {
	stop       chan struct{}
	wg         sync.WaitGroup
	ok, failed atomic.Int64
}

func startPinger(t *testing.T, from *Engine, dest []wire.Destination, what string) *pinger {
	p := &pinger{stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _, err := from.Ping(ctx, dest)
			cancel()
			if err != nil {
				p.failed.Add(1)
				t.Errorf("%s: %v", what, err)
				return
			}
			p.ok.Add(1)
		}
	}()
	return p
}

// halt stops the pings and waits for the last one.
func (p *pinger) halt() {
	close(p.stop)
	p.wg.Wait()
}
