package node

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipptest"
)

// The SIP front end's registrations and the AppAttach connections of a
// call show in the metrics of the peers involved (RFC 7904).
func TestMetricsSIP(t *testing.T) {
	sipptest.Require(t)
	ports := make([]int, 3)
	c := startCluster(t, 3, func(i int, cfg *Config) {
		ports[i] = sipptest.FreePort(t)
		cfg.SIP = &SIPConfig{UDPAddr: "127.0.0.1:" + strconv.Itoa(ports[i])}
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	domain := c.ov.Name
	callee, caller := 1, 2
	user := "node2"
	uasPort := sipptest.FreePort(t)
	uas := sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, sippDir+"uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", "1", "-timeout", "60s", "-timeout_error")
	if _, err := sipptest.Run(ctx, t, "",
		"-sf", sipptest.Scenario(t, sippDir+"register.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-key", "user", user, "-key", "domain", domain,
		"-key", "contact_port", strconv.Itoa(uasPort), "-key", "expires", "120",
		"-m", "1", "-timeout", "15s", "-timeout_error",
		net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[callee]))); err != nil {
		t.Fatalf("REGISTER: %v", err)
	}
	if _, err := sipptest.Run(ctx, t, "",
		"-sf", sipptest.Scenario(t, sippDir+"uac.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", user, "-key", "domain", domain,
		"-m", "1", "-timeout", "60s", "-timeout_error", "-recv_timeout", "10s",
		net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[caller]))); err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatalf("UAS: %v", err)
	}
	if v := scrape(t, c.nodes[callee])[`reload_sip_registrations_total{result="ok"}`]; v < 1 {
		t.Errorf("callee's peer: %v registrations, want >= 1", v)
	}
	if v := scrape(t, c.nodes[caller])[`reload_sip_connections_total{direction="out"}`]; v < 1 {
		t.Errorf("caller's peer: %v outgoing SIP connections, want >= 1", v)
	}
	if v := scrape(t, c.nodes[callee])[`reload_sip_connections_total{direction="in"}`]; v < 1 {
		t.Errorf("callee's peer: %v incoming SIP connections, want >= 1", v)
	}
}
