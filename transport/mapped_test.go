package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
	"go.uber.org/goleak"
)

// A node whose only candidate is its mapped port (no host candidates:
// its interfaces are filtered out) is reached through it: the session
// offers the mapped address as a srflx candidate, ICE selects it, and
// the DTLS link runs over the shared socket. The "gateway" here maps the
// port to itself, which is what a NAT's forwarding looks like from the
// two ends.
func TestICELinkMappedPort(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := NewMappedPort(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	ext := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mp.Port())
	mp.SetExternal(ext, netip.MustParseAddr("127.0.0.1"))

	ia := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(string) bool { return false }, Mapped: mp}
	ib := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }}
	_, cfgA, cfgB := testConfigs(t)
	p, sa, sb := iceLinks(t, ctx, ia, ib, cfgA, cfgB)
	defer p.close()
	l, _, err := sa.Selected()
	if err != nil || l.Type != CandidateSrflx || l.Addr != ext || l.Related.Port() != mp.Port() {
		t.Fatalf("A selected local %+v, %v; want the mapped srflx %s", l, err, ext)
	}
	if _, r, err := sb.Selected(); err != nil || r.Addr != ext {
		t.Fatalf("B selected remote %+v, %v", r, err)
	}
	exchange(t, ctx, p, 10, []int{10, 3000})
}

// Without an external address, or with RelayOnly, no mapped candidate
// is offered.
func TestMappedPortWithdrawn(t *testing.T) {
	defer goleak.VerifyNone(t)
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := NewMappedPort(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	mp.SetExternal(netip.AddrPort{}, netip.Addr{})
	s, err := NewICESession(Requester, ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }, Mapped: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, cands, err := s.Gather(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.Type == CandidateSrflx {
			t.Fatalf("srflx candidate without a mapping: %+v", c)
		}
	}
}
