package node

import (
	"context"
	"errors"
	"github.com/goreload/reload/wire"
	"github.com/pion/turn/v5"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TURN usage (RFC 6940 §9) on loopback: node 0 runs a real TURN server
// and stores TURN-SERVICE values at H(Node-ID || d); node 1 finds it with
// Find at random Resource-IDs and a Fetch; nodes 2 and 3 are relay-only
// (given the server, as they need one to join), so every link they
// attach runs through the TURN server (relay candidates in the Attach,
// §6.5.1.1), and they still join, ping, store and fetch.
func TestTURNRelayedNodes(t *testing.T) {
	const secret = "overlay secret"
	srv := freeUDPPort(t)
	c := startCluster(t, 4, func(i int, c *Config) {
		iceLoopback(i, c)
		c.TURN = &TURNConfig{Secret: secret}
		switch i {
		case 0:
			c.TURN.Listen = srv.String()
		case 2, 3:
			c.TURN.RelayOnly, c.TURN.Servers = true, []string{srv.String()}
		}
	})
	if got := c.nodes[0].TURNAddr(); got != srv {
		t.Fatalf("TURN server address %v, want %v", got, srv)
	}
	for i, nd := range c.nodes[1:] {
		if !eventually(30*time.Second, func() bool { return len(nd.TURNServers()) > 0 }) {
			t.Fatalf("node %d found no TURN server", i+1)
		}
		if got := nd.TURNServers(); got[0] != srv {
			t.Fatalf("node %d found %v, want %v", i+1, got, srv)
		}
	}
	c.waitConverged(t, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "")
	relayed := 0
	for _, i := range []int{2, 3} {
		for _, l := range c.nodes[i].Status().Links {
			if l.Type != "DTLS-UDP-SR" {
				continue
			}
			if l.ICE == nil || l.ICE.LocalType != "relay" {
				t.Errorf("relay-only node %d: link to %s over %+v", i, l.NodeID, l.ICE)
				continue
			}
			relayed++
			t.Logf("node %d -> %s: %s %s -> %s %s", i, l.NodeID, l.ICE.LocalType, l.ICE.Local, l.ICE.RemoteType, l.ICE.Remote)
		}
	}
	if relayed == 0 {
		t.Fatal("no relayed link")
	}
	// Node 2 (user node3) stores under its user name; relay-only node 3
	// fetches it.
	a, b := c.nodes[2], c.nodes[3]
	res := wire.ResourceIDFromName("node3@test.example.org")
	aid := a.ID()
	if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(aid.Bytes(), []byte("sip:node3@127.0.0.1"))}, time.Hour); err != nil {
		t.Fatalf("store: %v", err)
	}
	fa, err := b.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil || len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 {
		t.Fatalf("fetch: %+v %v", fa, err)
	}
}

// freeUDPPort is a loopback UDP address free a moment ago.
func freeUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// TURN credentials: a server takes those derived from its secret within
// their window, and nothing else; a node with TURN but no secret, or
// serving without an address to advertise, does not start.
func TestTURNCredentials(t *testing.T) {
	ov := startCluster(t, 1, nil).ov
	ids, err := ov.Identities(1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	auth := turnAuth("k", clock)
	id := ids[0].NodeID()
	u, p := turnCredentials("k", id, now.Add(time.Hour))
	_ = p
	if _, key, ok := auth(&turn.RequestAttributes{Username: u, Realm: "r"}); !ok || len(key) == 0 {
		t.Fatal("valid credentials refused")
	}
	for _, bad := range []string{"", "x", "1:", "abc:" + id.String(),
		func() string { u, _ := turnCredentials("k", id, now.Add(-time.Second)); return u }(),
		func() string { u, _ := turnCredentials("k", id, now.Add(48*time.Hour)); return u }()} {
		if _, _, ok := auth(&turn.RequestAttributes{Username: bad, Realm: "r"}); ok {
			t.Errorf("user name %q taken", bad)
		}
	}
	// Another secret gives another key for the same user name: the
	// MESSAGE-INTEGRITY of a client without the secret fails.
	_, k1, _ := auth(&turn.RequestAttributes{Username: u, Realm: "r"})
	_, k2, _ := turnAuth("other", clock)(&turn.RequestAttributes{Username: u, Realm: "r"})
	if string(k1) == string(k2) {
		t.Fatal("key does not depend on the secret")
	}

	for name, tc := range map[string]struct {
		cfg  Config
		want error
	}{
		"no secret":   {Config{ICE: true, TURN: &TURNConfig{}}, ErrTURNSecret},
		"no ICE":      {Config{TURN: &TURNConfig{Secret: "k"}}, nil},
		"unspecified": {Config{ICE: true, TURN: &TURNConfig{Secret: "k", Listen: "0.0.0.0:0"}}, nil},
		"bad server":  {Config{ICE: true, TURN: &TURNConfig{Secret: "k", Servers: []string{"turn.example"}}}, nil},
		"relay-only":  {Config{ICE: true, TURN: &TURNConfig{Secret: "k", RelayOnly: true}}, nil},
	} {
		tc.cfg.Overlay, tc.cfg.Identity = ov.Config, ids[0]
		nd, err := New(tc.cfg)
		if err == nil {
			nd.Close()
			t.Errorf("%s: started", name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		t.Logf("%s: %v", name, err)
	}
}

// Servers found in the overlay are forgotten when not found again for a
// while, and only the most recently found few are kept; configured ones
// stay.
func TestTURNForget(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cfgd := netip.MustParseAddrPort("192.0.2.1:3478")
	ts := &turnState{known: map[netip.AddrPort]time.Time{cfgd: {}}}
	for i := range turnMaxFound + 2 {
		ts.known[netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 3478)] = now.Add(-time.Duration(i) * time.Minute)
	}
	stale := netip.MustParseAddrPort("203.0.113.9:3478")
	ts.known[stale] = now.Add(-turnForget - time.Second)
	ts.forget(now)
	if _, ok := ts.known[cfgd]; !ok {
		t.Fatal("configured server forgotten")
	}
	if _, ok := ts.known[stale]; ok {
		t.Fatal("stale server kept")
	}
	if len(ts.known) != turnMaxFound+1 {
		t.Fatalf("kept %d servers, want %d found and the configured one", len(ts.known), turnMaxFound)
	}
	for i := range turnMaxFound {
		if _, ok := ts.known[netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 3478)]; !ok {
			t.Errorf("recent server %d forgotten", i)
		}
	}
}
