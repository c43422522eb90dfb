package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/internal/flood"
	"github.com/goreload/reload/wire"
)

// Fault and abuse tests on a real overlay (TLS or DTLS links on
// loopback, certificates from the overlay's CA). Each logs its figures;
// RELOAD_FLOOD=1 runs longer.

// flood reports whether the longer runs were asked for.
// checkLeaks, called before the cluster starts, verifies after every
// node is closed that no goroutine is left.
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// retry runs op up to four times, waiting 0.5, 1 and 2 s between tries
// (an application may retry a request that failed, RFC 6940 §6.2.1), and
// reports the tries it took. Each try is cut at 5 s; retries stop when
// stop is closed.
func retry(stop <-chan struct{}, op func(ctx context.Context) error) (int, error) {
	var err error
	wait := 500 * time.Millisecond
	for i := 1; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = op(ctx)
		cancel()
		if err == nil || i == 4 {
			return i, err
		}
		select {
		case <-time.After(wait):
		case <-stop:
			return i, errStopped
		}
		wait *= 2
	}
}

var errStopped = errors.New("stopped before the last try")

// Links between peers of a 5-peer ring are closed, one every few
// seconds, while every peer pings, stores and fetches. The overlay routes
// around each broken link (RFC 6940 §10.7.1, §10.7.2), operations succeed
// with retries, and no goroutine is left after the nodes close. With
// RELOAD_FLOOD=1 the test also waits for the ring to converge again and
// pings every pair.
func TestLinkFlaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(int, *Config)
	}{
		{"TLS", nil},
		{"DTLS", func(_ int, c *Config) { c.ListenUDP = "127.0.0.1:0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "TLS" && !flood.Big() {
				t.Skip("set RELOAD_FLOOD=1 for the DTLS run")
			}
			linkFlaps(t, tc.mod, 3, 2*time.Second)
		})
	}
}

// A storm of link closures (ten in three seconds) leaves peers with no
// link at all: such a peer is detached (§10.7.1) and rejoins through its
// bootstrap addresses. Long (the ring takes about a minute to converge
// again): set RELOAD_FLAP_STORM=1, and RELOAD_FLOOD=1 to wait for it.
func TestLinkFlapStorm(t *testing.T) {
	if os.Getenv("RELOAD_FLAP_STORM") == "" {
		t.Skip("set RELOAD_FLAP_STORM=1")
	}
	linkFlaps(t, nil, 10, 300*time.Millisecond)
}

func linkFlaps(t *testing.T, mod func(int, *Config), flaps int, every time.Duration) {
	checkLeaks(t)
	c := startCluster(t, 5, mod)
	c.waitConverged(t, 60*time.Second)
	before := flood.HeapMiB()
	g0 := runtime.NumGoroutine()

	var mu sync.Mutex
	ops, firstTry, retried, failed := 0, 0, 0, 0
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			user := fmt.Sprintf("node%d@%s", i+1, c.ov.Name)
			res := wire.ResourceIDFromName(user)
			self := nd.ID()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				peer := c.nodes[rng.IntN(len(c.nodes))].ID()
				var op func(ctx context.Context) error
				switch k % 3 {
				case 0:
					op = func(ctx context.Context) error { _, err := nd.Ping(ctx, wire.NodeDest(&peer)); return err }
				case 1:
					val := wire.DictionaryValue(self.Bytes(), fmt.Appendf(nil, "sip:%s %d", user, k))
					op = func(ctx context.Context) error {
						_, err := nd.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour)
						return err
					}
				default:
					op = func(ctx context.Context) error { _, err := nd.FetchAll(ctx, res, wire.KindSIPRegistration); return err }
				}
				tries, err := retry(stop, op)
				mu.Lock()
				ops++
				if errors.Is(err, errStopped) {
					ops--
				} else if err != nil {
					failed++
					failures = append(failures, err.Error())
				} else if tries == 1 {
					firstTry++
				} else {
					retried++
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(7, 7))
	closed := 0
	for range flaps {
		time.Sleep(every)
		nd := c.nodes[rng.IntN(len(c.nodes))]
		links := nd.Engine().Table().Links()
		if len(links) == 0 {
			continue
		}
		links[rng.IntN(len(links))].Close()
		closed++
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	during := flood.HeapMiB()
	gDuring := runtime.NumGoroutine()
	t.Logf("%d links closed in %d flaps: %d operations (ping/store/fetch), %d at the first try, %d after retries, %d failed after 4 tries; "+
		"heap %.1f -> %.1f MiB; goroutines %d -> %d", closed, flaps, ops, firstTry, retried, failed, before, during, g0, gDuring)
	if len(failures) > 3 {
		failures = failures[:3]
	}
	// A peer that lost its link to a neighbour takes over the neighbour's
	// range until the ring is repaired (§10.7.1), so a few requests to that
	// neighbour may fail through every retry; most must succeed.
	if failed*10 > ops {
		t.Errorf("%d of %d operations failed after four tries: %v", failed, ops, failures)
	}
	if !flood.Big() {
		return
	}
	// A closed link makes both ends hold the other as failed for 5
	// request timeouts (15 s) before gossip may bring it back, so full
	// convergence can take that long: measured only in the long run.
	start := time.Now()
	c.waitConverged(t, 120*time.Second)
	t.Logf("ring converged again %v after the last flap", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "after the flaps, ")
}

// While one host opens hundreds of TCP connections to a peer's TLS port
// that never start a handshake (and some that send garbage), a new peer
// joins the overlay through that very peer and pings every node. The
// junk is refused beyond the pending-handshake limit; memory and
// goroutines return to their level once it goes.
func TestJoinDuringConnectionFlood(t *testing.T) {
	checkLeaks(t)
	c := startCluster(t, 3, nil)
	c.waitConverged(t, 60*time.Second)
	g0 := runtime.NumGoroutine()
	before := flood.HeapMiB()
	n := 500
	if flood.Big() {
		n = 5000
	}
	target := c.nodes[0].Addr()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var junk []net.Conn
	closeJunk := func() {
		for _, j := range junk {
			j.Close()
		}
		junk = nil
	}
	defer closeJunk()
	for i := range n {
		j, err := d.Dial("tcp", target)
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		if i%10 == 0 {
			_, _ = j.Write([]byte("\x16\x03\x01\x00\x05hello"))
		}
		junk = append(junk, j)
	}
	// UDP junk at the peers' addresses too does no harm.
	pc, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err == nil {
		ua, _ := net.ResolveUDPAddr("udp", target)
		for range n {
			_, _ = pc.WriteTo([]byte("junk"), ua)
		}
		pc.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	late, start := c.startLate(ctx, t, target)
	select {
	case <-late.Joined():
	case <-ctx.Done():
		t.Fatal("did not join during the flood")
	}
	joinTime := time.Since(start)
	pings := 0
	for _, b := range c.nodes {
		bid := b.ID()
		if _, err := late.Ping(ctx, wire.NodeDest(&bid)); err != nil {
			t.Fatalf("ping %s during the flood: %v", bid, err)
		}
		pings++
	}
	during := flood.HeapMiB()
	gDuring := runtime.NumGoroutine()
	closeJunk()
	c.waitConverged(t, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	after := flood.HeapMiB()
	t.Logf("%d junk TCP connections and %d junk datagrams from one host: a new peer joined through the flooded peer in %v and %d pings answered; "+
		"heap %.1f -> %.1f -> %.1f MiB; goroutines %d -> %d -> %d",
		n, n, joinTime.Round(time.Millisecond), pings, before, during, after, g0, gDuring, runtime.NumGoroutine())
}

// startLate starts one more peer, enrolled as "late", that joins through
// the bootstrap address (a flooded peer's) and becomes part of c; it
// returns the node and when it started.
func (c *cluster) startLate(ctx context.Context, t *testing.T, bootstrap string) (*Node, time.Time) {
	t.Helper()
	id, err := c.ov.Identity("late")
	if err != nil {
		t.Fatal(err)
	}
	late, err := New(Config{Overlay: c.ov.Config, Identity: id, TickLength: 50 * time.Millisecond, Bootstrap: []string{bootstrap}})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes = append(c.nodes, late)
	start := time.Now()
	if err := late.Start(ctx); err != nil {
		t.Fatalf("join during the flood: %v", err)
	}
	return late, start
}

// idleFlood is an outsider that keeps TCP connections open to a TLS port
// without ever sending a byte: perSource of them from each source
// address, and a new one each time the target closes one (its
// first-record timeout, an eviction), as long as it runs.
type idleFlood struct {
	ctx             context.Context
	cancel          context.CancelFunc
	wg              sync.WaitGroup
	opened, dropped atomic.Int64
}

// startIdleFlood starts the flood from 127.0.0.2 onwards (Linux routes all
// of 127/8 to the loopback interface) and skips the test where such
// addresses cannot be bound.
func startIdleFlood(t *testing.T, target string, sources, perSource int) *idleFlood {
	t.Helper()
	f := &idleFlood{}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	t.Cleanup(f.halt)
	for s := range sources {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(s/250), byte(2+s%250))}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Skipf("cannot dial from %v: %v", d.LocalAddr, err)
		}
		for range perSource {
			f.wg.Add(1)
			go f.hold(d, target, c)
			c = nil
		}
	}
	return f
}

// hold keeps one connection open from d's address: c (when not nil),
// then a new one each time the target closes the last.
func (f *idleFlood) hold(d *net.Dialer, target string, c net.Conn) {
	defer f.wg.Done()
	var buf [1]byte
	for f.ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = d.DialContext(f.ctx, "tcp", target); err != nil {
				pause(f.ctx, 50*time.Millisecond)
				continue
			}
		}
		f.opened.Add(1)
		conn := c
		unhook := context.AfterFunc(f.ctx, func() { conn.Close() })
		// A TLS server sends nothing before the ClientHello: this
		// returns when the target closes the connection.
		_, _ = c.Read(buf[:])
		if unhook() {
			f.dropped.Add(1)
		}
		c.Close()
		c = nil
		pause(f.ctx, 100*time.Millisecond)
	}
	if c != nil {
		c.Close()
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// halt ends the flood and closes its connections.
func (f *idleFlood) halt() {
	f.cancel()
	f.wg.Wait()
}

// TestJoinDuringIdleFloodFromManySources: outsiders hold hundreds of idle
// TCP connections to a peer's TLS port from several addresses (9 × 32,
// more with RELOAD_FLOOD=1), as many as fill its table of pending
// handshakes, and open new ones as fast as the peer closes them. A new
// node with an enrolled identity still joins through that peer within
// bounded time while the flood holds: no source holds more than its
// share of pending handshakes, silent connections are closed after the
// first-record timeout, and a newcomer evicts the busiest source's oldest
// instead of being refused (RFC 6940 §13). Before, the table filled up,
// the newcomer's connection was reset, and Start failed with "no
// bootstrap peer reachable".
func TestJoinDuringIdleFloodFromManySources(t *testing.T) {
	checkLeaks(t)
	c := startCluster(t, 3, nil)
	c.waitConverged(t, 60*time.Second)
	sources, perSource := 9, 32
	if flood.Big() {
		sources = 64
	}
	target := c.nodes[0]
	g0 := runtime.NumGoroutine()
	f := startIdleFlood(t, target.Addr(), sources, perSource)
	// The flood holds: every source has its share of handshakes pending at
	// the target (and, before the fix, the table was full).
	full := min(sources*min(perSource, forwarding.DefaultMaxPendingHandshakesPerHost), forwarding.DefaultMaxPendingHandshakes)
	deadline := time.Now().Add(30 * time.Second)
	for target.eng.PendingHandshakes() < full {
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not take hold: %d handshakes pending at the target, want %d", target.eng.PendingHandshakes(), full)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pendingBefore := target.eng.PendingHandshakes()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	late, start := c.startLate(ctx, t, target.Addr())
	select {
	case <-late.Joined():
	case <-time.After(30 * time.Second):
		t.Fatalf("did not join within 30 s during the flood (%d connections opened, %d closed by the target, %d handshakes evicted)",
			f.opened.Load(), f.dropped.Load(), target.eng.Stats().HandshakesEvicted.Load())
	}
	joinTime := time.Since(start)
	tid := target.ID()
	if _, err := late.Ping(ctx, wire.NodeDest(&tid)); err != nil {
		t.Fatalf("ping the flooded peer during the flood: %v", err)
	}
	pendingDuring := target.eng.PendingHandshakes()
	opened, dropped := f.opened.Load(), f.dropped.Load()
	evicted := target.eng.Stats().HandshakesEvicted.Load()
	gDuring := runtime.NumGoroutine()
	if got := gatheredValue(t, target, "reload_inbound_handshakes_evicted_total"); got < 1 {
		t.Fatalf("reload_inbound_handshakes_evicted_total = %v during the flood", got)
	}
	f.halt()
	c.waitConverged(t, 60*time.Second)
	t.Logf("%d sources × %d idle connections: %d handshakes pending at the target (limits %d per source, %d in all); "+
		"a new peer joined through it in %v; the flood opened %d connections, the target closed %d (%d evictions); goroutines %d -> %d -> %d",
		sources, perSource, max(pendingBefore, pendingDuring), forwarding.DefaultMaxPendingHandshakesPerHost, forwarding.DefaultMaxPendingHandshakes,
		joinTime.Round(time.Millisecond), opened, dropped, evicted, g0, gDuring, runtime.NumGoroutine())
}

// gatheredValue is the value of the node's unlabelled metric name.
func gatheredValue(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	mfs, err := n.MetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
