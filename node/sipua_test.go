package node

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipua"
)

// TestBuiltinPhonesCall: two built-in SIP user agents register at two
// peers of a 6-peer overlay and one calls the other through the overlay
// (RFC 7904): INVITE, 180, 200, ACK and BYE, with no external tool.
func TestBuiltinPhonesCall(t *testing.T) {
	c := startCluster(t, 6, func(i int, cfg *Config) {
		cfg.SIP = sipConfig(i, "127.0.0.1:0")
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	callee, caller := c.phone(ctx, t, 0), c.phone(ctx, t, 5)
	call, err := caller.Call(ctx, "node1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(call.Responses, 180) || call.Responses[len(call.Responses)-1] != 200 {
		t.Errorf("responses %v, want 180 then 200", call.Responses)
	}
	deadline := time.Now().Add(10 * time.Second)
	for callee.Ended() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if callee.Answered() != 1 || callee.Ended() != 1 {
		t.Errorf("callee answered %d, ended %d; want 1 and 1", callee.Answered(), callee.Ended())
	}
	if _, err := caller.Call(ctx, "nobody"); err == nil {
		t.Error("call to an AOR with no registration succeeded")
	}
	t.Logf("setup %v, total %v, responses %v", call.Setup, call.Total, call.Responses)
}

// phone registers a built-in SIP phone for node i's user (node1, node2,
// …; the SIP-REGISTRATION Kind is USER-NODE-MATCH) at node i's front end,
// with that user's digest password.
func (c *cluster) phone(ctx context.Context, t *testing.T, i int) *sipua.Phone {
	t.Helper()
	p, err := sipua.New(sipua.Config{User: "node" + strconv.Itoa(i+1), Password: sipPassword(i), Domain: c.ov.Name, Proxy: c.nodes[i].SIP().UDPAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Register(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCallAfterPeerRestart: a peer with a data directory keeps its SIP
// front end's bindings (DataDir/sip.db): restarted with the same identity
// and directory, it still delivers a call to the phone that registered
// with it before, without the phone registering again.
func TestCallAfterPeerRestart(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	c := startCluster(t, 3, func(i int, cfg *Config) {
		cfg.SIP = sipConfig(i, "127.0.0.1:0")
		cfg.DataDir = dirs[i]
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	callee, caller := c.phone(ctx, t, 1), c.phone(ctx, t, 2)
	// The callee's peer restarts (its SIP port changes: the phone is not
	// told, and need not be, for incoming calls).
	old := c.nodes[1]
	cfg := old.cfg
	cfg.Seed, cfg.ListenTLS, cfg.Bootstrap = false, "", []string{c.nodes[0].Addr()}
	cfg.SIP = sipConfig(1, "127.0.0.1:0")
	old.Close()
	nd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[1] = nd
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-nd.Joined()
	if b := nd.SIP().Bindings(callee.AOR()); len(b) != 1 {
		t.Fatalf("bindings after the restart: %v", b)
	}
	c.waitConverged(t, 30*time.Second)
	call, err := caller.Call(ctx, "node2")
	if err != nil {
		t.Fatalf("call after the callee's peer restarted: %v", err)
	}
	if call.Responses[len(call.Responses)-1] != 200 || callee.Answered() != 1 {
		t.Fatalf("responses %v, callee answered %d", call.Responses, callee.Answered())
	}
}
