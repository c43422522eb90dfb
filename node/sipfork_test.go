package node

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/enroll/dnstest"
	"github.com/goreload/reload/usage/sip/sipptest"
)

// sippUAC runs a sipp UAC scenario from node i's user against node i's
// front end.
func sippUAC(ctx context.Context, t *testing.T, port, caller int, scenario, to, domain string) error {
	t.Helper()
	_, err := sipptest.Run(ctx, t, "",
		"-sf", sipptest.Scenario(t, sippDir+scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", to, "-key", "domain", domain,
		"-au", fmt.Sprintf("node%d", caller+1), "-ap", sipPassword(caller),
		"-m", "1", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10s",
		net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	return err
}

// TestSIPForkThroughOverlay: two devices (sipp UAS) register the same AOR
// at one peer; a call from another peer over real RELOAD links rings both
// (RFC 3261 §16.6 parallel forking at the callee's peer), the answering
// device's 200 reaches the caller and the other device gets CANCEL.
func TestSIPForkThroughOverlay(t *testing.T) {
	sipptest.Require(t)
	ports := make([]int, 3)
	c := startCluster(t, 3, func(i int, cfg *Config) {
		ports[i] = sipptest.FreePort(t)
		cfg.SIP = sipConfig(i, "127.0.0.1:"+strconv.Itoa(ports[i]))
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	callee, caller := 1, 2
	user := fmt.Sprintf("node%d", callee+1)
	var uas []*sipptest.Proc
	for _, sc := range []string{"uas.xml", "uas_cancel.xml"} {
		port := sipptest.FreePort(t)
		uas = append(uas, sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, sippDir+sc),
			"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "60s", "-timeout_error"))
		sipptest.WaitUDP(port, 5*time.Second)
		if _, err := sipptest.Run(ctx, t, "",
			"-sf", sipptest.Scenario(t, sippDir+"register.xml"),
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
			"-key", "user", user, "-key", "domain", c.ov.Name,
			"-key", "contact_port", strconv.Itoa(port), "-key", "expires", "120",
			"-au", user, "-ap", sipPassword(callee),
			"-m", "1", "-timeout", "15s", "-timeout_error",
			net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[callee]))); err != nil {
			t.Fatalf("REGISTER: %v", err)
		}
	}
	if b := c.nodes[callee].SIP().Bindings(user + "@" + c.ov.Name); len(b) != 2 {
		t.Fatalf("bindings = %v, want 2", b)
	}
	if err := sippUAC(ctx, t, ports[caller], caller, "uac.xml", user, c.ov.Name); err != nil {
		t.Fatalf("forked call: %v", err)
	}
	for i, p := range uas {
		if err := p.Wait(); err != nil {
			t.Fatalf("UAS %d: %v", i, err)
		}
	}
}

// TestSIPForeignDomainThroughNode: the overlay's SIP-REGISTRATION kind
// restricts AORs to the overlay's domain (RFC 7904 §3.4), so a call for
// alice@foreign.test goes to the SIP server that DNS gives for
// foreign.test (RFC 3263), a sipp UAS here, found through SIPConfig's
// DNSServer.
func TestSIPForeignDomainThroughNode(t *testing.T) {
	sipptest.Require(t)
	dns := dnstest.Start(t)
	srvPort := sipptest.FreePort(t)
	dns.AddSRV("_sip._udp.foreign.test", 10, 1, uint16(srvPort), "sip.foreign.test")
	dns.AddAddr("sip.foreign.test", netip.MustParseAddr("127.0.0.1"))
	restrict := func(cfg *config.Configuration) {
		for i := range cfg.RequiredKinds {
			if strings.EqualFold(cfg.RequiredKinds[i].Kind.Name, "SIP-REGISTRATION") {
				cfg.RequiredKinds[i].Kind.DomainRestriction = &config.DomainRestriction{}
			}
		}
	}
	var port int
	c := startClusterOverlay(t, restrict, 1, func(i int, cfg *Config) {
		port = sipptest.FreePort(t)
		cfg.SIP = sipConfig(i, "127.0.0.1:"+strconv.Itoa(port))
		cfg.SIP.DNSServer = dns.Addr
	})
	_ = c
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	uas := sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, sippDir+"uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(srvPort), "-m", "1", "-timeout", "40s", "-timeout_error")
	sipptest.WaitUDP(srvPort, 5*time.Second)
	if err := sippUAC(ctx, t, port, 0, "uac.xml", "alice", "foreign.test"); err != nil {
		t.Fatalf("call to another domain: %v", err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatal(err)
	}
	if dns.Queries() == 0 {
		t.Fatal("no DNS question was asked")
	}
}
