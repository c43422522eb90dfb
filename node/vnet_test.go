package node

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"

	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/transport"
)

// natWorld is a virtual internet (pion vnet): a WAN with a STUN server
// and a public host, and LANs each behind their own NAT.
type natWorld struct {
	t       *testing.T
	wan     *vnet.Router
	lf      logging.LoggerFactory
	stun    string // "stun:host:port"
	stunNet *vnet.Net
}

func newNATWorld(t *testing.T) *natWorld {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	w := &natWorld{t: t, wan: wan, lf: lf, stun: "stun:1.2.3.4:3478"}
	w.stunNet = w.public("1.2.3.4")
	return w
}

// start starts the routers and the STUN server, once every host is in.
func (w *natWorld) start() {
	w.t.Helper()
	if err := w.wan.Start(); err != nil {
		w.t.Fatal(err)
	}
	// Stopped after the nodes have closed (cleanups run last first).
	w.t.Cleanup(func() { _ = w.wan.Stop() })
	pc, err := w.stunNet.ListenPacket("udp", "1.2.3.4:3478")
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = pc.Close() })
	go func() { _ = (&transport.STUNServer{}).Serve(pc) }()
}

// public is a host on the WAN with address ip. Call before start.
func (w *natWorld) public(ip string) *vnet.Net {
	w.t.Helper()
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.wan.AddNet(n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// behindNAT is a host with address local on a LAN whose NAT has the
// public address global: endpoint-independent mapping and
// address-and-port-dependent filtering (a port-restricted cone, RFC 4787),
// so the host is reachable only through the mapping STUN reveals and
// only by peers it has sent to, as ICE's checks do (RFC 8445 §2.2).
// Call before start.
func (w *natWorld) behindNAT(global, local string) *vnet.Net {
	w.t.Helper()
	nat := &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
	r, err := vnet.NewRouter(&vnet.RouterConfig{StaticIPs: []string{global}, CIDR: local + "/24", NATType: nat, LoggerFactory: w.lf})
	if err != nil {
		w.t.Fatal(err)
	}
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{local}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := r.AddNet(n); err != nil {
		w.t.Fatal(err)
	}
	if err := w.wan.AddRouter(r); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// Whole nodes on a virtual internet: a public seed and two peers behind
// NATs of their own join one overlay, and their Attaches (RFC 6940
// §6.5.1) set up ICE links through the NATs: the two NATed peers, whose
// host addresses are private and unreachable from each other, end up
// linked over the server-reflexive addresses STUN gave them (§6.5.1.4),
// and requests, Store and Fetch go across. The TLS bootstrap links run
// over real loopback TCP, since vnet carries only UDP.
func TestNodesBehindNATs(t *testing.T) {
	if testing.Short() {
		t.Skip("whole nodes over a virtual network")
	}
	w := newNATWorld(t)
	nets := []*vnet.Net{
		w.public("1.2.3.5"),
		w.behindNAT("27.1.1.1", "192.168.0.2"),
		w.behindNAT("28.1.1.1", "10.2.0.2"),
	}
	w.start()
	ov, err := nodetest.NewOverlay("test.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(len(nets))
	if err != nil {
		t.Fatal(err)
	}
	c := startNodes(t, ov, ids, func(i int, cfg *Config) {
		cfg.ICE, cfg.STUN, cfg.Net = true, []string{w.stun}, nets[i]
	})
	c.waitConverged(t, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.pingAll(ctx, t, "")

	// The two NATed peers are each other's successor and predecessor in a
	// ring of three, so they hold a direct link, and it runs through the
	// NATs' mappings.
	a, b := c.nodes[1], c.nodes[2]
	var direct *Link
	for _, l := range a.Status().Links {
		if l.NodeID == b.ID().String() {
			direct = &l
		}
	}
	if direct == nil {
		t.Fatalf("no link between the NATed peers: %+v", a.Status().Links)
	}
	if direct.Type != "DTLS-UDP-SR" || direct.ICE == nil {
		t.Fatalf("link between the NATed peers: %+v, want DTLS-UDP-SR over ICE", direct)
	}
	remote, err := netip.ParseAddrPort(direct.ICE.Remote)
	if err != nil {
		t.Fatal(err)
	}
	if direct.ICE.RemoteType == "host" || remote.Addr() != netip.MustParseAddr("28.1.1.1") {
		t.Fatalf("ICE pair %+v: want the peer's NAT mapping at 28.1.1.1", direct.ICE)
	}
	t.Logf("NATed peers linked over %s %s -> %s %s", direct.ICE.LocalType, direct.ICE.Local, direct.ICE.RemoteType, direct.ICE.Remote)

	// Store from one NATed peer, Fetch from the other.
	storeFetchRegistration(t, ctx, a, b, "sip:node2@192.168.0.2:5060")
}
