package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/transport/v5/vnet"
	"go.uber.org/goleak"
)

func TestCandidateConversion(t *testing.T) {
	tests := []Candidate{
		{Addr: netip.MustParseAddrPort("192.0.2.1:6084"), Type: CandidateHost, Foundation: "1", Priority: 2130706431, LinkType: LinkDTLSUDPSR},
		{Addr: netip.MustParseAddrPort("198.51.100.7:40000"), Type: CandidateSrflx, Foundation: "2", Priority: 1694498815,
			Related: netip.MustParseAddrPort("10.0.0.2:6084"), LinkType: LinkDTLSUDPSR},
		{Addr: netip.MustParseAddrPort("203.0.113.9:1"), Type: CandidatePrflx, Foundation: "3", Priority: 1,
			Related: netip.MustParseAddrPort("10.0.0.3:2"), LinkType: LinkDTLSUDPSR},
		{Addr: netip.MustParseAddrPort("[2001:db8::1]:7"), Type: CandidateRelay, Foundation: "4", Priority: 16777215,
			Related: netip.MustParseAddrPort("[2001:db8::2]:8"), LinkType: LinkDTLSUDPSR},
	}
	for _, c := range tests {
		t.Run(c.Type.String(), func(t *testing.T) {
			ic, err := c.ICE()
			if err != nil {
				t.Fatal(err)
			}
			back, err := CandidateFromICE(ic)
			if err != nil {
				t.Fatal(err)
			}
			if back != c {
				t.Fatalf("round trip %+v, want %+v", back, c)
			}
		})
	}
	if _, err := (Candidate{Type: CandidateHost, LinkType: LinkTLSTCPFHNoICE, Addr: tests[0].Addr}).ICE(); !errors.Is(err, ErrBadCandidate) {
		t.Fatalf("TLS candidate: %v", err)
	}
}

// iceLinks runs a whole Attach with ICE between two sessions: gather,
// exchange candidates as an Attach would, connect and handshake.
func iceLinks(t *testing.T, ctx context.Context, ia, ib ICEConfig, cfgA, cfgB *Config) (pair, *ICESession, *ICESession) {
	t.Helper()
	return iceLinksVia(t, ctx, ia, ib, cfgA, cfgB, nil)
}

// iceLinksVia is iceLinks with each side's ufrag, password and candidates
// passed through carry (when not nil) on their way to the other side, as
// an Attach would carry them.
func iceLinksVia(t *testing.T, ctx context.Context, ia, ib ICEConfig, cfgA, cfgB *Config,
	carry func(t *testing.T, ufrag, pwd string, c []Candidate) (string, string, []Candidate)) (pair, *ICESession, *ICESession) {
	t.Helper()
	sa, err := NewICESession(Requester, ia)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewICESession(Responder, ib)
	if err != nil {
		t.Fatal(err)
	}
	ua, pa, ca, err := sa.Gather(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ub, pb, cb, err := sb.Gather(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ca) == 0 || len(cb) == 0 {
		t.Fatalf("no candidates: %v / %v", ca, cb)
	}
	if carry != nil {
		ua, pa, ca = carry(t, ua, pa, ca) // the Attach request
		ub, pb, cb = carry(t, ub, pb, cb) // the Attach answer
	}
	p, ea, eb := both(func() (*Link, error) {
		return NewICELink(ctx, sa, ub, pb, cb, nodeID(0xb), cfgA)
	}, func() (*Link, error) {
		return NewICELink(ctx, sb, ua, pa, ca, nodeID(0xa), cfgB)
	})
	if ea != nil || eb != nil {
		p.close()
		t.Fatalf("ICE link: %v / %v", ea, eb)
	}
	return p, sa, sb
}

func TestICELinkLoopback(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	ic := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }}
	_, cfgA, cfgB := testConfigs(t)
	p, sa, _ := iceLinks(t, ctx, ic, ic, cfgA, cfgB)
	defer p.close()
	if p.a.Type() != LinkDTLSUDPSR || p.a.PeerNodeID() != nodeID(0xb) || p.b.PeerNodeID() != nodeID(0xa) {
		t.Fatalf("type %v peers %v / %v", p.a.Type(), p.a.PeerNodeIDs(), p.b.PeerNodeIDs())
	}
	l, r, err := sa.Selected()
	if err != nil || !l.Addr.Addr().IsLoopback() || !r.Addr.Addr().IsLoopback() {
		t.Fatalf("selected %v %v %v", l, r, err)
	}
	exchange(t, ctx, p, 20, []int{10, 3000})
}

// Gather whose ctx has ended returns at once, while the agent goes on
// gathering and reports its candidates afterwards from its own
// goroutine: they must not be written into anything Gather returned
// (run under -race; the agent closes before the test ends). A round
// shows the race only when the late reports fall on the wrong side of
// Gather's return, so the test runs many cheap rounds.
func TestGatherEndedCtx(t *testing.T) {
	defer goleak.VerifyNone(t)
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		s, err := NewICESession(Requester, ICEConfig{Net: n, IncludeLoopback: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, cands, err := s.Gather(ctx)
		// Gathering may also have ended by the time Gather looks: then
		// it returns the candidates, as it may.
		if err != nil && (!errors.Is(err, context.Canceled) || cands != nil) {
			t.Fatalf("Gather with an ended ctx: %v %v", cands, err)
		}
		// Let the agent finish gathering: once its state is complete, the
		// end-of-candidates report is queued behind every candidate.
		eventually(5*time.Second, func() bool {
			st, err := s.agent.GetGatheringState()
			return err != nil || st == ice.GatheringStateComplete
		})
		// A graceful close returns once the agent's notifier has handed
		// every queued candidate to Gather's handler, so the late reports
		// happen, after Gather returned, before the session closes.
		if err := s.agent.GracefulClose(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// natNet is a vnet topology: a WAN with a STUN server and two LANs, each
// behind a port-restricted cone NAT.
type natNet struct {
	wan        *vnet.Router
	lanA, lanB *vnet.Net
	stun       net.PacketConn
}

func newNATNet(t *testing.T) *natNet {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	wanNet, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"1.2.3.4"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(wanNet); err != nil {
		t.Fatal(err)
	}
	nat := &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
	lan := func(global, local string) *vnet.Net {
		r, err := vnet.NewRouter(&vnet.RouterConfig{StaticIPs: []string{global}, CIDR: local + "/24", NATType: nat, LoggerFactory: lf})
		if err != nil {
			t.Fatal(err)
		}
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{local}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddNet(n); err != nil {
			t.Fatal(err)
		}
		if err := wan.AddRouter(r); err != nil {
			t.Fatal(err)
		}
		return n
	}
	nn := &natNet{wan: wan, lanA: lan("27.1.1.1", "192.168.0.1"), lanB: lan("28.1.1.1", "10.2.0.1")}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	nn.stun, err = wanNet.ListenPacket("udp", "1.2.3.4:3478")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = (&STUNServer{}).Serve(nn.stun) }()
	return nn
}

func (n *natNet) close() {
	_ = n.stun.Close()
	_ = n.wan.Stop()
}

func TestICELinkNAT(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nn := newNATNet(t)
	defer nn.close()
	stunURL := []string{"stun:1.2.3.4:3478"}
	ia := ICEConfig{Net: nn.lanA, STUN: stunURL}
	ib := ICEConfig{Net: nn.lanB, STUN: stunURL}
	_, cfgA, cfgB := testConfigs(t)
	p, sa, sb := iceLinks(t, ctx, ia, ib, cfgA, cfgB)
	defer p.close()
	for _, s := range []*ICESession{sa, sb} {
		l, r, err := s.Selected()
		if err != nil {
			t.Fatal(err)
		}
		// Host addresses are private and unreachable: the pair must use
		// the NAT's mappings.
		if r.Addr.Addr().IsPrivate() {
			t.Fatalf("selected remote %v (%v), want a public mapped address", r.Addr, r.Type)
		}
		t.Logf("selected %v %v -> %v %v", l.Type, l.Addr, r.Type, r.Addr)
	}
	for _, l := range []*Link{p.a, p.b} {
		_, r, ok := l.ICEPair()
		if !ok || r.Addr.Addr().IsPrivate() || r.Type == CandidateHost {
			t.Errorf("link ICE pair remote %v %v (ok %v), want a mapped address", r.Type, r.Addr, ok)
		}
	}
	exchange(t, ctx, p, 10, []int{10, 2000})
	_ = wire.NodeID{}
}
