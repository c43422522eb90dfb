package forwarding

import (
	"net/netip"
	"testing"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"

	"github.com/goreload/reload/transport"
)

// natLANs builds a pion vnet: a WAN with a STUN server at 1.2.3.4:3478,
// and one host behind a NAT of its own per address pair (global, local):
// endpoint-independent mapping, address-and-port-dependent filtering. The
// routers stop when the test ends.
func natLANs(t *testing.T, pairs ...[2]string) []*vnet.Net {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	stunNet, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"1.2.3.4"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(stunNet); err != nil {
		t.Fatal(err)
	}
	nat := &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
	var out []*vnet.Net
	for _, p := range pairs {
		r, err := vnet.NewRouter(&vnet.RouterConfig{StaticIPs: []string{p[0]}, CIDR: p[1] + "/24", NATType: nat, LoggerFactory: lf})
		if err != nil {
			t.Fatal(err)
		}
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{p[1]}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddNet(n); err != nil {
			t.Fatal(err)
		}
		if err := wan.AddRouter(r); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wan.Stop() })
	pc, err := stunNet.ListenPacket("udp", "1.2.3.4:3478")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() { _ = (&transport.STUNServer{}).Serve(pc) }()
	return out
}

// Options.Net is the network of the ICE agents: A and C, each behind a
// NAT of its own on a virtual network, Attach through B (over real TLS
// links) and get a direct DTLS-UDP-SR link over the NATs' mappings
// (RFC 6940 §6.5.1.4: server-reflexive candidates from STUN).
func TestEngineAttachICEThroughNATs(t *testing.T) {
	checkLeaks(t)
	nets := natLANs(t, [2]string{"27.1.1.1", "192.168.0.2"}, [2]string{"28.1.1.1", "10.2.0.2"})
	link := attachVia(t, func(o *Options) {
		o.Net = nets[0]
		if o.Identity.NodeID() == idC {
			o.Net = nets[1]
		}
		o.ICE = &transport.ICEConfig{STUN: []string{"stun:1.2.3.4:3478"}}
		o.Config.OverlayLinkProtocols = []string{"DTLS"}
	})
	if link.Type() != transport.LinkDTLSUDPSR {
		t.Fatalf("link type %v", link.Type())
	}
	// C's host address is private and unreachable from A: the pair runs
	// over C's NAT mapping.
	_, remote, ok := link.ICEPair()
	if !ok || remote.Type == transport.CandidateHost || remote.Addr.Addr() != netip.MustParseAddr("28.1.1.1") {
		t.Fatalf("ICE pair remote %v %v (ok %v), want C's NAT mapping at 28.1.1.1", remote.Type, remote.Addr, ok)
	}
}
