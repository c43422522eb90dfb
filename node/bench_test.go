package node

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/usage/sip/sipptest"
	"github.com/goreload/reload/wire"
)

// BenchmarkPingRoundTrip: overlay Pings between two real peers on
// loopback, each signed by its origin and verified at its destination
// (RFC 6940 §6.5.3), over a TLS link and over a DTLS-over-ICE link (whose
// stop-and-wait framing waits 10 ms after each ACK, §6.6.3.1).
func BenchmarkPingRoundTrip(b *testing.B) {
	for _, tc := range []struct {
		name string
		mod  func(int, *Config)
	}{{"tls", nil}, {"dtls-ice", iceLoopback}} {
		b.Run(tc.name, func(b *testing.B) {
			// Three peers, and pings between the two that joined: each
			// joiner's link to the seed is its TLS bootstrap link, while the
			// link between the joiners is one that an Attach opened.
			c := startCluster(b, 3, tc.mod)
			c.waitConverged(b, 30*time.Second)
			ctx := context.Background()
			from, id := c.nodes[1], c.nodes[2].ID()
			if tc.mod != nil {
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
			dest := wire.NodeDest(&id)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := from.Ping(ctx, dest); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pings/s")
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
				if _, err := f.resourceAnswer(ctx, res, wire.CodeFetchReq, &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec}}, &ans); err != nil || len(ans.KindResponses[0].Values) != n {
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
