package node

import (
	"context"
	"encoding/binary"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// natpmpGateway is a NAT-PMP server (RFC 6886 §3.2, §3.3) on a loopback
// address whose "public" address is 127.0.0.1 and which maps every port
// to itself: from the two ends this is what a gateway's forwarding looks
// like, so a peer reaches the mapped address on loopback.
type natpmpGateway struct {
	mu      sync.Mutex
	mapped  map[uint16]bool
	deleted int
}

func startNATPMPGateway(t *testing.T, addr string) *natpmpGateway {
	t.Helper()
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	g := &natpmpGateway{mapped: map[uint16]bool{}}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		b := make([]byte, 64)
		for {
			n, from, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			var r []byte
			switch {
			case n == 2 && b[0] == 0 && b[1] == 0:
				r = []byte{0, 128, 0, 0, 0, 0, 0, 1, 127, 0, 0, 1}
			case n == 12 && b[0] == 0 && b[1] == 1:
				port, life := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[8:])
				ext := port
				g.mu.Lock()
				if life == 0 {
					delete(g.mapped, port)
					g.deleted++
					ext = 0
				} else {
					g.mapped[port] = true
				}
				g.mu.Unlock()
				r = make([]byte, 16)
				r[1] = 129
				binary.BigEndian.PutUint32(r[4:], 1)
				binary.BigEndian.PutUint16(r[8:], port)
				binary.BigEndian.PutUint16(r[10:], ext)
				binary.BigEndian.PutUint32(r[12:], life)
			default:
				continue
			}
			_, _ = c.WriteTo(r, from)
		}
	}()
	return g
}

// A node with Config.PortMap maps its ICE port on a NAT-PMP gateway,
// shows the mapping in Status and the reload_portmap_mapped metric, and
// offers it as a srflx candidate: node 1 has no host candidate at all
// (its interfaces are filtered out), so its links run over the mapped
// address. Close removes the mapping.
func TestPortMappedNode(t *testing.T) {
	gw := startNATPMPGateway(t, "127.77.1.1:5351")
	c := startCluster(t, 2, func(i int, c *Config) {
		iceLoopback(i, c)
		if i == 1 {
			c.ICEInterfaces = func(string) bool { return false }
			c.PortMap = &PortMapConfig{Gateway: "127.77.1.1"}
		}
	})
	nd := c.nodes[1]
	if !eventually(30*time.Second, func() bool { s := nd.Status().PortMap; return s != nil && s.Mapped != "" }) {
		t.Fatalf("no mapping: %+v", nd.Status().PortMap)
	}
	pm := nd.Status().PortMap
	if pm.Method != "nat-pmp" || !strings.HasPrefix(pm.Mapped, "127.0.0.1:") {
		t.Fatalf("status %+v", pm)
	}
	c.waitConverged(t, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "")
	var ice bool
	for _, l := range nd.Status().Links {
		if l.ICE == nil {
			continue
		}
		ice = true
		if l.ICE.LocalType != "srflx" || l.ICE.Local != pm.Mapped {
			t.Errorf("link to %s over %+v, want the mapped %s", l.NodeID, l.ICE, pm.Mapped)
		}
	}
	if !ice {
		t.Fatal("no ICE link")
	}
	rec := httptest.NewRecorder()
	nd.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `reload_portmap_mapped{mapped="` + pm.Mapped + `",method="nat-pmp"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
	if err := nd.Close(); err != nil {
		t.Fatal(err)
	}
	gw.mu.Lock()
	defer gw.mu.Unlock()
	if gw.deleted != 1 || len(gw.mapped) != 0 {
		t.Fatalf("after Close: %d deleted, %v still mapped", gw.deleted, gw.mapped)
	}
}

func TestPortMapConfigErrors(t *testing.T) {
	ov := startCluster(t, 1, nil).ov
	ids, err := ov.Identities(1)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no ICE":      {PortMap: &PortMapConfig{}},
		"bad gateway": {ICE: true, PortMap: &PortMapConfig{Gateway: "gw.example"}},
		"bad port":    {ICE: true, PortMap: &PortMapConfig{Port: 70000}},
		"relay-only":  {ICE: true, PortMap: &PortMapConfig{}, TURN: &TURNConfig{Secret: "k", RelayOnly: true, Servers: []string{"127.0.0.1:3478"}}},
	} {
		cfg.Overlay, cfg.Identity = ov.Config, ids[0]
		nd, err := New(cfg)
		if err == nil {
			nd.Close()
			t.Errorf("%s: started", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}
