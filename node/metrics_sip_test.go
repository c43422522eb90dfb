package node

import (
	"context"
	"testing"
	"time"
)

// The SIP front end's registrations and the AppAttach connections of a
// call show in the metrics of the peers involved (RFC 7904).
func TestMetricsSIP(t *testing.T) {
	c := startCluster(t, 3, func(i int, cfg *Config) {
		cfg.SIP = sipConfig(i, "127.0.0.1:0")
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	callee, caller := 1, 2
	c.phone(ctx, t, callee)
	if _, err := c.phone(ctx, t, caller).Call(ctx, "node2"); err != nil {
		t.Fatalf("call: %v", err)
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
