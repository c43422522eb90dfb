package sip

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/enroll/dnstest"
	"github.com/goreload/reload/usage/sip/sipptest"
)

// TestLocateServers is RFC 3263 §4.1–4.2 against a real DNS server on
// loopback: SRV for _sip._udp before _sip._tcp, SRV priority order, the
// transport parameter choosing the service, A records on 5060 without
// SRV, numeric hosts and explicit ports without SRV, and the failures.
func TestLocateServers(t *testing.T) {
	dns := dnstest.Start(t)
	lo := netip.MustParseAddr("127.0.0.1")
	// udp.test: UDP and TCP services; UDP is taken, priority 10 first.
	dns.AddSRV("_sip._udp.udp.test", 20, 1, 5070, "b.udp.test")
	dns.AddSRV("_sip._udp.udp.test", 10, 1, 5060, "a.udp.test")
	dns.AddSRV("_sip._tcp.udp.test", 10, 1, 5080, "a.udp.test")
	dns.AddAddr("a.udp.test", lo)
	dns.AddAddr("b.udp.test", netip.MustParseAddr("127.0.0.2"))
	// tcp.test: only a TCP service.
	dns.AddSRV("_sip._tcp.tcp.test", 10, 1, 5090, "srv.tcp.test")
	dns.AddAddr("srv.tcp.test", lo)
	// plain.test: no SRV, an A record.
	dns.AddAddr("plain.test", netip.MustParseAddr("127.0.0.3"))
	// lame.test: an SRV whose target has no address.
	dns.AddSRV("_sip._udp.lame.test", 10, 1, 5060, "nowhere.lame.test")
	r, err := NewDNSResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uri  string
		want []ServerHop
		err  error
	}{
		{"sip:bob@udp.test", []ServerHop{{tUDP, "127.0.0.1:5060"}, {tUDP, "127.0.0.2:5070"}}, nil},
		{"sip:bob@udp.test;transport=tcp", []ServerHop{{tTCP, "127.0.0.1:5080"}}, nil},
		{"sip:bob@tcp.test", []ServerHop{{tTCP, "127.0.0.1:5090"}}, nil},
		{"sip:bob@plain.test", []ServerHop{{tUDP, "127.0.0.3:5060"}}, nil},
		{"sip:bob@plain.test:5099", []ServerHop{{tUDP, "127.0.0.3:5099"}}, nil},
		{"sip:bob@plain.test:5099;transport=tcp", []ServerHop{{tTCP, "127.0.0.3:5099"}}, nil},
		{"sip:bob@udp.test:5099", nil, ErrNoSIPServer}, // a port: no SRV, and no A record
		{"sip:bob@192.0.2.7", []ServerHop{{tUDP, "192.0.2.7:5060"}}, nil},
		{"sip:bob@nosuch.test", nil, ErrNoSIPServer},
		{"sip:bob@lame.test", nil, ErrNoSIPServer},
		{"sips:bob@udp.test", nil, ErrNoSIPServer},
		{"sip:bob@udp.test;transport=sctp", nil, ErrNoSIPServer},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			var u sip.Uri
			if err := sip.ParseUri(tc.uri, &u); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := LocateServers(ctx, r, &u)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("hops = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewDNSResolverBadAddress(t *testing.T) {
	for _, s := range []string{"localhost", ":53", "127.0.0.1:0", "127.0.0.1:x"} {
		if _, err := NewDNSResolver(s); err == nil {
			t.Errorf("NewDNSResolver(%q) = nil error", s)
		}
	}
}

// TestSippForeignDomain: an overlay restricted to example.com (RFC 7904
// §3.4) sends a call for alice@foreign.test to the SIP server that DNS
// names for foreign.test (RFC 3263: SRV _sip._udp, then A), a sipp UAS
// standing in for a conventional SIP server; ACK and BYE follow the
// recorded route. A domain with no SIP server in DNS gets 404, and with
// NoForeignDomains the call is refused with 403.
func TestSippForeignDomain(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dns := dnstest.Start(t)
	port := sipptest.FreePort(t)
	dns.AddSRV("_sip._udp.foreign.test", 10, 1, uint16(port), "sip.foreign.test")
	dns.AddAddr("sip.foreign.test", netip.MustParseAddr("127.0.0.1"))
	restricted := DomainPolicy{Present: true, OverlayDomain: "example.com"}
	n := newFakeNet()
	caller := n.newPeer(t, 2, func(c *Config) { c.Policy, c.DNSServer = restricted, dns.Addr })
	closed := n.newPeer(t, 3, func(c *Config) { c.Policy, c.DNSServer, c.NoForeignDomains = restricted, dns.Addr, true })

	uas := sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, "testdata/uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "40s", "-timeout_error")
	sipptest.WaitUDP(port, 5*time.Second)
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "alice", 1, "-key", "domain", "foreign.test"); err != nil {
		t.Fatal(err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac_404.xml", "alice", 1, "-key", "domain", "nosuch.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := runUAC(ctx, t, "", closed, "testdata/uac_403.xml", "alice", 1, "-key", "domain", "foreign.test"); err != nil {
		t.Fatal(err)
	}
}
