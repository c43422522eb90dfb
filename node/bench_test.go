package node

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/usage/sip/sipptest"
	"github.com/goreload/reload/wire"
)

// pingLinks are the links BenchmarkPingRoundTrip and
// BenchmarkPingsInFlight run over: TLS, and DTLS over ICE, between peers
// with ECDSA P-256 keys; and TLS between peers with Ed25519 keys
// (signature algorithm ed25519, RFC 8422 §5.1.3).
var pingLinks = []struct {
	name string
	mod  func(int, *Config)
	keys security.KeyAlgorithm
}{{"tls", nil, security.KeyECDSAP256}, {"dtls-ice", iceLoopback, security.KeyECDSAP256}, {"tls-ed25519", nil, security.KeyEd25519}}

// pingPair starts three peers and returns the two that joined: each
// joiner's link to the seed is its TLS bootstrap link, while the link
// between the joiners is one that an Attach opened (with mod, a DTLS
// link, waited for). Every peer's key is of algorithm keys.
func pingPair(b *testing.B, mod func(int, *Config), keys security.KeyAlgorithm) (from, to *Node) {
	ov, err := nodetest.NewOverlay("test.example.org", nil)
	if err != nil {
		b.Fatal(err)
	}
	ov.KeyAlgorithm = keys
	ids, err := ov.Identities(3)
	if err != nil {
		b.Fatal(err)
	}
	c := startNodes(b, ov, ids, mod)
	c.waitConverged(b, 30*time.Second)
	from, to = c.nodes[1], c.nodes[2]
	if mod != nil {
		id := to.ID()
		deadline := time.Now().Add(30 * time.Second)
		for {
			l, ok := from.eng.Table().Lookup(id)
			if ok && l.Type() == transport.LinkDTLSUDPSR {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no DTLS link in use: %v", from.Status().Links)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return from, to
}

// signVerify does the four public-key operations of a signed Ping round
// trip between two nodes, as their engines do them (RFC 6940 §6.3.4):
// the request signed by a and verified by b, the answer signed by b and
// verified by a. Its time is the bound of a round trip on one core.
type signVerify struct {
	a, b     *Node
	ov       uint32
	req, ans []byte
}

func newSignVerify(b *testing.B, from, to *Node) *signVerify {
	s := &signVerify{a: from, b: to, ov: from.cfg.Overlay.OverlayHash()}
	body, _ := (&wire.PingReq{}).Append(nil)
	s.req, _ = (&wire.MessageContents{Code: wire.CodePingReq, Body: body}).Append(nil)
	body, _ = (&wire.PingAns{ResponseID: 1, Time: 2}).Append(nil)
	s.ans, _ = (&wire.MessageContents{Code: wire.CodePingAns, Body: body}).Append(nil)
	return s
}

func (s *signVerify) run(b *testing.B) {
	now := time.Now()
	var s1, s2 wire.SecurityBlock
	if err := s.a.cfg.Identity.SignMessage(&s1, s.ov, 42, s.req); err != nil {
		b.Fatal(err)
	}
	if _, err := s.b.eng.Verifier().VerifyMessage(s.ov, 42, s.req, &s1, security.Expect{NodeID: s.a.ID()}, now); err != nil {
		b.Fatal(err)
	}
	if err := s.b.cfg.Identity.SignMessage(&s2, s.ov, 42, s.ans); err != nil {
		b.Fatal(err)
	}
	if _, err := s.a.eng.Verifier().VerifyMessage(s.ov, 42, s.ans, &s2, security.Expect{NodeID: s.b.ID()}, now); err != nil {
		b.Fatal(err)
	}
}

// cost is the mean time of n runs.
func (s *signVerify) cost(b *testing.B, n int) time.Duration {
	t0 := time.Now()
	for range n {
		s.run(b)
	}
	return time.Since(t0) / time.Duration(n)
}

// BenchmarkPingRoundTrip: overlay Pings between two real peers on
// loopback, each signed by its origin and verified at its destination
// (RFC 6940 §6.5.3), over a TLS link and over a DTLS-over-ICE link, and
// over TLS between Ed25519 peers. x-signverify is the round trip's time
// over that of its four public-key operations alone (signVerify, with
// the peers' own keys), measured in the same run,
// interleaved with the pings outside the timer.
func BenchmarkPingRoundTrip(b *testing.B) {
	for _, tc := range pingLinks {
		b.Run(tc.name, func(b *testing.B) {
			from, to := pingPair(b, tc.mod, tc.keys)
			id := to.ID()
			sv := newSignVerify(b, from, to)
			ctx := context.Background()
			dest := wire.NodeDest(&id)
			var svTime time.Duration
			svN, i := 0, 0
			b.ReportAllocs()
			start := time.Now()
			var pinged time.Duration
			for b.Loop() {
				i++
				if i%8 == 1 {
					// One bound measurement every eighth ping, outside
					// the timer.
					b.StopTimer()
					pinged += time.Since(start)
					t0 := time.Now()
					sv.run(b)
					svTime += time.Since(t0)
					svN++
					start = time.Now()
					b.StartTimer()
				}
				if _, err := from.Ping(ctx, dest); err != nil {
					b.Fatal(err)
				}
			}
			pinged += time.Since(start)
			b.ReportMetric(float64(b.N)/pinged.Seconds(), "pings/s")
			perPing := pinged / time.Duration(b.N)
			perSV := svTime / time.Duration(svN)
			b.ReportMetric(float64(perSV.Microseconds()), "µs-signverify")
			b.ReportMetric(float64(perPing)/float64(perSV), "x-signverify")
		})
	}
}

// BenchmarkPingsInFlight: 16 Pings in flight at all times between two
// real peers on loopback (16 goroutines, each pinging in a loop), over a
// TLS link and over a DTLS-over-ICE link. x-bound is the rate over the
// CPU bound of signing and verifying: GOMAXPROCS cores divided by the
// time of a round trip's four public-key operations (signVerify),
// measured in the same run before and after the pings.
func BenchmarkPingsInFlight(b *testing.B) {
	const inFlight = 16
	for _, tc := range pingLinks {
		b.Run(tc.name, func(b *testing.B) {
			from, to := pingPair(b, tc.mod, tc.keys)
			id := to.ID()
			sv := newSignVerify(b, from, to)
			ctx := context.Background()
			dest := wire.NodeDest(&id)
			before := sv.cost(b, 50)
			// Each iteration hands one Ping to a free worker: the send
			// completes when one of the 16 is idle, so 16 are in flight.
			tokens := make(chan struct{})
			var failed atomic.Pointer[error]
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					for range tokens {
						// A bound on each Ping, so that a lost one fails
						// the benchmark rather than hangs it.
						pctx, cancel := context.WithTimeout(ctx, time.Minute)
						if _, err := from.Ping(pctx, dest); err != nil {
							failed.CompareAndSwap(nil, &err)
						}
						cancel()
					}
				})
			}
			b.ReportAllocs()
			t0 := time.Now()
			for b.Loop() {
				tokens <- struct{}{}
			}
			close(tokens)
			wg.Wait()
			elapsed := time.Since(t0)
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			perSV := (before + sv.cost(b, 50)) / 2
			rate := float64(b.N) / elapsed.Seconds()
			bound := float64(runtime.GOMAXPROCS(0)) / perSV.Seconds()
			b.ReportMetric(rate, "pings/s")
			b.ReportMetric(bound, "bound-pings/s")
			b.ReportMetric(rate/bound, "x-bound")
		})
	}
}

// BenchmarkJoin100: the time for one more peer to join an overlay of 100
// peers on loopback (TLS links), from Start to Joined (RFC 6940 §10.5).
func BenchmarkJoin100(b *testing.B) {
	c := startCluster(b, 100, nil)
	c.waitConverged(b, 120*time.Second)
	var total time.Duration
	joins := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id, err := c.ov.Identity("joiner" + strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		joins++
		n, err := New(Config{Overlay: c.ov.Config, Identity: id, TickLength: 50 * time.Millisecond,
			Bootstrap: []string{c.nodes[i%len(c.nodes)].Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		t0 := time.Now()
		if err := n.Start(ctx); err != nil {
			b.Fatal(err)
		}
		select {
		case <-n.Joined():
		case <-ctx.Done():
			b.Fatal("join timed out")
		}
		total += time.Since(t0)
		cancel()
		c.nodes = append(c.nodes, n)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(joins), "ms/join")
}

// BenchmarkStoreFetch16: a Store and a Fetch through a 16-peer overlay on
// loopback per iteration, from random peers (RFC 6940 §7.4.1, §7.4.2):
// each peer writes CERTIFICATE_BY_NODE values under its own Node-ID's
// Resource-ID (NODE-MATCH) and another peer fetches them.
func BenchmarkStoreFetch16(b *testing.B) {
	c := startCluster(b, 16, nil)
	c.waitConverged(b, 60*time.Second)
	ctx := context.Background()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		a, f := c.nodes[i%16], c.nodes[(i*7+3)%16]
		id := a.ID()
		res := storage.NodeResourceID(storage.ChordHash, id)
		v := wire.ArrayValue(uint32(i%4), []byte("value "+strconv.Itoa(i)))
		if _, err := a.Store(ctx, res, wire.KindCertificateByNode, []wire.StoredDataValue{v}, time.Hour); err != nil {
			b.Fatalf("store: %v", err)
		}
		if _, err := f.FetchAll(ctx, res, wire.KindCertificateByNode); err != nil {
			b.Fatalf("fetch: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "store+fetch/s")
}

// BenchmarkCallSetup16: call set-up time (INVITE to 200) with sipp through
// a 16-peer overlay, next to a direct sipp-to-sipp call in the same run.
func BenchmarkCallSetup16(b *testing.B) {
	sipptest.Require(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	calls := b.N
	if calls < 100 {
		calls = 100
	}
	// Direct, for the baseline.
	port := sipptest.FreePort(b)
	uas := sipptest.Start(ctx, b, "", "-sf", sipptest.Scenario(b, sippDir+"uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls))
	sipptest.WaitUDP(port, 5*time.Second)
	direct := callSetup(ctx, b, "127.0.0.1:"+strconv.Itoa(port), "bob", "example.com", calls)
	if err := uas.Wait(); err != nil {
		b.Fatal(err)
	}
	// Through the overlay.
	ports := make([]int, 16)
	c := startCluster(b, 16, func(i int, cfg *Config) {
		ports[i] = sipptest.FreePort(b)
		cfg.SIP = &SIPConfig{UDPAddr: "127.0.0.1:" + strconv.Itoa(ports[i])}
	})
	c.waitConverged(b, 60*time.Second)
	uasPort := sipptest.FreePort(b)
	uas = sipptest.Start(ctx, b, "", "-sf", sipptest.Scenario(b, sippDir+"uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", strconv.Itoa(calls))
	if _, err := sipptest.Run(ctx, b, "", "-sf", sipptest.Scenario(b, sippDir+"register.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(b)),
		"-key", "user", "node4", "-key", "domain", c.ov.Name, "-key", "contact_port", strconv.Itoa(uasPort),
		"-key", "expires", "600", "-m", "1", "-timeout", "15s", "-timeout_error",
		net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3]))); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	overlay := callSetup(ctx, b, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[11])), "node4", c.ov.Name, calls)
	elapsed := time.Since(t0)
	b.StopTimer()
	if err := uas.Wait(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(direct.P50.Microseconds())/1000, "direct-p50-ms")
	b.ReportMetric(float64(direct.P99.Microseconds())/1000, "direct-p99-ms")
	b.ReportMetric(float64(overlay.P50.Microseconds())/1000, "overlay-p50-ms")
	b.ReportMetric(float64(overlay.P99.Microseconds())/1000, "overlay-p99-ms")
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
}

// callSetup runs calls sequential sipp calls to user@domain via addr and
// returns the INVITE-to-200 times from sipp's message log.
func callSetup(ctx context.Context, tb testing.TB, addr, user, domain string, calls int) sipptest.Summary {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := sipptest.Run(ctx, tb, dir, "-sf", sipptest.Scenario(tb, sippDir+"uac.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(tb)),
		"-s", user, "-key", "domain", domain,
		"-m", strconv.Itoa(calls), "-l", "1", "-r", "10000", "-timer_resol", "1",
		"-trace_msg", "-message_file", "msg.log",
		"-timeout", "300s", "-timeout_error", "-recv_timeout", "10s", addr); err != nil {
		tb.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, "msg.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	d, err := sipptest.ReadSetupFromMessages(fh)
	if err != nil {
		tb.Fatal(err)
	}
	return sipptest.Summarize(d)
}

// BenchmarkFetchVerify: what RFC 6940 §7.4.2.2's MUST costs. A Fetch of
// 1 and of 100 values (CERTIFICATE_BY_NODE array entries signed by the
// storing peer) through a 3-peer overlay on loopback over TLS, answered
// by the responsible peer. "cached-vs-unverified" alternates a Fetch whose
// answer is only decoded (its message signature is checked, as for every
// answer) with Node.Fetch, which verifies every value, here values it has
// verified before; "verified-cold" is Node.Fetch of values the fetching
// node has not seen (re-stored with a new storage time, outside the
// timer, before each Fetch).
func BenchmarkFetchVerify(b *testing.B) {
	c := startClusterOverlay(b, func(cfg *config.Configuration) {
		cfg.MaxMessageSize = 64 << 10 // room for an answer of 100 values
		for i := range cfg.RequiredKinds {
			if cfg.RequiredKinds[i].Kind.Name == "CERTIFICATE_BY_NODE" {
				cfg.RequiredKinds[i].Kind.MaxCount = 128
			}
		}
	}, 3, nil)
	c.waitConverged(b, 30*time.Second)
	ctx := context.Background()
	a := c.nodes[0]
	aid := a.ID()
	res := storage.NodeResourceID(storage.ChordHash, aid)
	var f *Node
	for _, nd := range c.nodes[1:] {
		nd.onLoop(func() {
			if !nd.ch.Responsible(res) {
				f = nd
			}
		})
	}
	for _, n := range []int{1, 100} {
		vals := make([]wire.StoredDataValue, n)
		for i := range vals {
			vals[i] = wire.ArrayValue(uint32(i), []byte("value "+strconv.Itoa(i)))
		}
		store := func(b *testing.B) {
			for i := 0; i < n; i += 10 { // a Store of 10 values fits any max-message-size
				if _, err := a.Store(ctx, res, wire.KindCertificateByNode, vals[i:min(i+10, n)], time.Hour); err != nil {
					b.Fatalf("store: %v", err)
				}
			}
		}
		store(b)
		spec := wire.StoredDataSpecifier{Kind: wire.KindCertificateByNode, Model: wire.ModelArray,
			Indices: []wire.ArrayRange{{First: 0, Last: uint32(n - 1)}}}
		fetch := func(b *testing.B) {
			r, err := f.Fetch(ctx, res, []wire.StoredDataSpecifier{spec})
			if err != nil || r.Partial() || len(r.KindResponses[0].Values) != n {
				b.Fatalf("fetch: %v %v", err, r)
			}
		}
		// The two fetched alternately, so that both see the same load.
		b.Run(strconv.Itoa(n)+"/cached-vs-unverified", func(b *testing.B) {
			fetch(b)
			var tv, tu time.Duration
			for b.Loop() {
				t0 := time.Now()
				ans := wire.FetchAns{Models: f.kinds}
				if _, err := f.resourceAnswer(ctx, res, wire.CodeFetchReq, &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec}}, &ans, true); err != nil || len(ans.KindResponses[0].Values) != n {
					b.Fatalf("fetch: %v", err)
				}
				t1 := time.Now()
				fetch(b)
				tu, tv = tu+t1.Sub(t0), tv+time.Since(t1)
			}
			b.ReportMetric(float64(tu.Microseconds())/float64(b.N), "µs/unverified")
			b.ReportMetric(float64(tv.Microseconds())/float64(b.N), "µs/verified")
			b.ReportMetric(float64(tv)/float64(tu), "verified/unverified")
		})
		b.Run(strconv.Itoa(n)+"/verified-cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				store(b)
				b.StartTimer()
				fetch(b)
			}
		})
	}
}
