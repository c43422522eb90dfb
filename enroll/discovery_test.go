package enroll

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goreload/reload/enroll/dnstest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// port is the port of a host:port address.
func port(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

// brokenServer accepts TCP connections and closes them at once, counting
// them: a configuration server that is up but does not answer.
func brokenServer(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String(), accepted
}

func discoveryClient(t *testing.T, f *fixture, dns *dnstest.Server) *Client {
	t.Helper()
	c := *f.client
	c.DNSServer = dns.Addr
	return &c
}

// RFC 6940 §11.2: with only the overlay name, the client finds the
// configuration server by SRV, trying the lowest priority first and the
// next target when one fails.
func TestDiscoverConfig(t *testing.T) {
	f := start(t)
	dns := dnstest.Start(t)
	broken, accepted := brokenServer(t)
	srvName := "_reload-config._tcp." + testOverlay
	dns.AddSRV(srvName, 10, 0, port(t, broken), "down."+testOverlay)
	dns.AddSRV(srvName, 20, 5, port(t, f.run.Addr.String()), "config."+testOverlay)
	dns.AddAddr("down."+testOverlay, loopback)
	dns.AddAddr("config."+testOverlay, loopback)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := discoveryClient(t, f, dns)
	doc, raw, err := c.DiscoverConfig(ctx, testOverlay)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, f.confRaw) || doc.Configuration(testOverlay) == nil {
		t.Fatal("discovered a different configuration")
	}
	if accepted.Load() == 0 {
		t.Fatal("the priority-10 target was not tried first")
	}
	// A trailing dot names the same overlay.
	if _, _, err := c.DiscoverConfig(ctx, testOverlay+"."); err != nil {
		t.Fatalf("rooted overlay name: %v", err)
	}
}

func TestDiscoverConfigErrors(t *testing.T) {
	f := start(t)
	dns := dnstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := discoveryClient(t, f, dns)
	realPort := port(t, f.run.Addr.String())

	t.Run("no SRV record", func(t *testing.T) {
		_, _, err := c.DiscoverConfig(ctx, "nosuch.example.org")
		if !errors.Is(err, ErrNoConfigServer) || !strings.Contains(err.Error(), "no SRV record for _reload-config._tcp.nosuch.example.org") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("service not available", func(t *testing.T) {
		dns.AddSRV("_reload-config._tcp.none.example.org", 0, 0, 0, ".")
		_, _, err := c.DiscoverConfig(ctx, "none.example.org")
		if !errors.Is(err, ErrNoConfigServer) || !strings.Contains(err.Error(), "not available") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("every target fails", func(t *testing.T) {
		broken, _ := brokenServer(t)
		name := "_reload-config._tcp.dead.example.org"
		dns.AddSRV(name, 1, 0, port(t, broken), "a.dead.example.org")
		dns.AddSRV(name, 2, 0, 9, "nxdomain.dead.example.org")
		dns.AddAddr("a.dead.example.org", loopback)
		_, _, err := c.DiscoverConfig(ctx, "dead.example.org")
		if err == nil || !strings.Contains(err.Error(), "no configuration server of dead.example.org answered") ||
			!strings.Contains(err.Error(), "a.dead.example.org:") || !strings.Contains(err.Error(), "nxdomain.dead.example.org:9") ||
			!strings.Contains(err.Error(), "on "+dns.Addr+": no such host") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("certificate not for the overlay", func(t *testing.T) {
		// §11.2: the certificate must match the overlay name; the
		// server's names only the test overlay.
		dns.AddSRV("_reload-config._tcp.other.example.org", 0, 0, realPort, "config.other.example.org")
		dns.AddAddr("config.other.example.org", loopback)
		_, _, err := c.DiscoverConfig(ctx, "other.example.org")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("instance-name differs", func(t *testing.T) {
		// A server with a certificate for the name it is asked for, but
		// serving another overlay's configuration: discarded (§11.2).
		cert, err := ServerCertificate(f.srv.CA, []string{"third.example.org"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		run, err := f.srv.Start("127.0.0.1:0", cert)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		dns.AddSRV("_reload-config._tcp.third.example.org", 0, 0, port(t, run.Addr.String()), "config.third.example.org")
		dns.AddAddr("config.third.example.org", loopback)
		_, _, err = c.DiscoverConfig(ctx, "third.example.org")
		if err == nil || !strings.Contains(err.Error(), `holds no overlay "third.example.org"`) {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("DNS server unreachable", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close() // nothing listens there now
		c := *c
		c.DNSServer = addr
		_, _, err = c.DiscoverConfig(ctx, testOverlay)
		if err == nil || errors.Is(err, ErrNoConfigServer) || !strings.Contains(err.Error(), "looking up the configuration server") ||
			!strings.Contains(err.Error(), " on "+addr+": ") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("bad overlay name", func(t *testing.T) {
		for _, name := range []string{"", ".", "https://overlay.example.org", "a..b", "host:443", "sp ace.org", strings.Repeat("a", 64) + ".org"} {
			if _, _, err := c.DiscoverConfig(ctx, name); err == nil || !strings.Contains(err.Error(), "is not a domain name") {
				t.Errorf("%q: err = %v", name, err)
			}
		}
	})
}

func TestNewResolverBadAddress(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1", ":53", "127.0.0.1:0", "127.0.0.1:dns", "127.0.0.1:70000"} {
		if _, err := NewResolver(addr); err == nil {
			t.Errorf("NewResolver(%q) accepted", addr)
		}
	}
}

// RFC 2782: lowest priority first; within a priority, weighted random
// order, weight 0 rarely first.
func TestOrderSRV(t *testing.T) {
	rec := func(prio, weight uint16, target string) *net.SRV {
		return &net.SRV{Target: target, Priority: prio, Weight: weight}
	}
	targets := func(rs []*net.SRV) string {
		s := make([]string, len(rs))
		for i, r := range rs {
			s[i] = r.Target
		}
		return strings.Join(s, ",")
	}
	in := []*net.SRV{rec(20, 0, "c"), rec(10, 0, "a"), rec(30, 5, "d"), rec(10, 0, "b")}
	if got := targets(orderSRV(in, func(int) int { return 0 })); got != "a,b,c,d" {
		t.Fatalf("priorities: %s", got)
	}
	// Weights 90, 10 and 0 in one priority: count which comes first.
	rnd := rand.New(rand.NewPCG(1, 2))
	first := map[string]int{}
	const n = 10000
	for range n {
		out := orderSRV([]*net.SRV{rec(1, 10, "light"), rec(1, 0, "zero"), rec(1, 90, "heavy")}, rnd.IntN)
		if len(out) != 3 {
			t.Fatalf("lost records: %s", targets(out))
		}
		first[out[0].Target]++
	}
	if first["heavy"] < n*80/100 || first["light"] < n*5/100 || first["zero"] > n*3/100 {
		t.Fatalf("first picks %v of %d, want about 90%% heavy, 10%% light, rarely zero", first, n)
	}
}
