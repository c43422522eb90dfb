package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/internal/poll"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
)

// threeNodes starts a small overlay and serves the control API of its
// first node on loopback.
func threeNodes(t *testing.T) (string, []*node.Node) {
	t.Helper()
	ov, err := nodetest.NewOverlay("cli.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(3)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, ov.Config, nil, ids)
	// Served as `reload node` serves it, with the token where the client
	// commands look by default (TestMain keeps that in a temporary
	// directory).
	ctl, err := serveControlAPI(nodes[1], "127.0.0.1:0", "", false, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.close)
	// Let the ring settle.
	eventually(30*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.Status().Successors) < 2 {
				return false
			}
		}
		return true
	})
	return ctl.addr, nodes
}

// eventually polls cond until it holds or timeout passes, and reports
// whether it held: tests wait for the state they need, not a guessed time.
func eventually(timeout time.Duration, cond func() bool) bool {
	return poll.Until(timeout, 20*time.Millisecond, cond)
}

// startNodes starts one node per identity on loopback with the
// configuration c (and its signed document doc, when given): the first
// seeds the ring, the others join through it.
func startNodes(t *testing.T, c *config.Configuration, doc []byte, ids []*security.Identity) []*node.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nodes []*node.Node
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	for i, id := range ids {
		cfg := node.Config{Overlay: c, ConfigDocument: doc, Identity: id, TickLength: 50 * time.Millisecond, Seed: i == 0}
		if i > 0 {
			cfg.Bootstrap = []string{nodes[0].Addr()}
		}
		n, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-n.Joined():
		case <-ctx.Done():
			t.Fatal("join timed out")
		}
	}
	return nodes
}

func TestNodeCommands(t *testing.T) {
	ctl, nodes := threeNodes(t)
	target := nodes[2].ID().String()

	code, out, errs := runReload(t, "status", "--control", ctl)
	if code != 0 || !strings.Contains(out, nodes[1].ID().String()) || !strings.Contains(out, "joined") {
		t.Fatalf("status: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "status", "--control", ctl, "--json"); code != 0 || !strings.Contains(out, `"successors"`) {
		t.Fatalf("status --json: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "ping", "--control", ctl, "--diag", "status_info,software_version,app_uptime", target); code != 0 ||
		!strings.Contains(out, "reply from "+target) || !strings.Contains(out, "SOFTWARE_VERSION") {
		t.Fatalf("ping: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "traceroute", "--control", ctl, target); code != 0 || !strings.Contains(out, target) {
		t.Fatalf("traceroute: %d\n%s%s", code, out, errs)
	}
	user := "node2@cli.example.org" // nodes[1] is node2: SIP-REGISTRATION is USER-NODE-MATCH
	if code, out, errs = runReload(t, "store", "--control", ctl, user, "SIP-REGISTRATION", "sip:node2@127.0.0.1"); code != 0 || !strings.Contains(out, "stored SIP-REGISTRATION") {
		t.Fatalf("store: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "fetch", "--control", ctl, user, "SIP-REGISTRATION"); code != 0 || !strings.Contains(out, `"sip:node2@127.0.0.1"`) {
		t.Fatalf("fetch: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "stat", "--control", ctl, user, "SIP-REGISTRATION"); code != 0 || !strings.Contains(out, `"value_length"`) || !strings.Contains(out, "sha256:") {
		t.Fatalf("stat: %d\n%s%s", code, out, errs)
	}
	if code, out, errs = runReload(t, "find", "--control", ctl, user, "SIP-REGISTRATION"); code != 0 || !strings.Contains(out, `"closest"`) {
		t.Fatalf("find: %d\n%s%s", code, out, errs)
	}
	// Refusals are readable and exit 1.
	if code, _, errs = runReload(t, "store", "--control", ctl, "someone-else", "SIP-REGISTRATION", "x"); code != 1 || !strings.Contains(errs, "Forbidden") {
		t.Fatalf("forbidden store: %d %s", code, errs)
	}
	if code, _, errs = runReload(t, "ping", "--control", "127.0.0.1:1", target); code != 1 || !strings.Contains(errs, "no node answers") {
		t.Fatalf("no node: %d %s", code, errs)
	}
	if code, _, _ = runReload(t, "ping", "--control", ctl); code != 2 {
		t.Fatal("ping without destination accepted")
	}
	if code, _, _ = runReload(t, "node"); code != 2 {
		t.Fatal("node without --config accepted")
	}
}

// `reload node --metrics ADDR` serves the node's metrics at /metrics on
// ADDR, and nothing else there.
func TestServeMetrics(t *testing.T) {
	_, nodes := threeNodes(t)
	srv, addr, err := serveMetrics("127.0.0.1:0", nodes[0].Metrics())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "reload_ring_joined 1") ||
		!strings.Contains(body, `reload_links{transport="TLS-TCP-FH-NO-ICE"}`) {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	if code, _ := get("/status"); code != http.StatusNotFound {
		t.Errorf("GET /status on the metrics address: %d, want 404", code)
	}
	if _, _, err := serveMetrics("127.0.0.1:bad", nodes[0].Metrics()); err == nil {
		t.Error("bad address accepted")
	}
}
