package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

// startTURN runs a real TURN server (pion/turn) on a loopback UDP port
// that relays on loopback and takes time-windowed long-term credentials
// made from secret. It returns the server's turn: URI and its Close
// (deferred by the caller, so that it runs before the leak check).
func startTURN(t *testing.T, secret string) (string, func() error) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := turn.NewServer(turn.ServerConfig{
		Realm:       "test.overlay",
		AuthHandler: turn.NewLongTermAuthHandler(secret, nil),
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
	})
	if err != nil {
		_ = pc.Close()
		t.Fatal(err)
	}
	return "turn:" + pc.LocalAddr().String() + "?transport=udp", s.Close
}

// A relay-only ICE policy on both sides: the only candidates are the
// TURN allocations, so the link runs relay to relay through a real TURN
// server (RFC 6940 §9, §6.5.1.1 CandType relay), and messages cross it.
func TestICELinkTURNRelay(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	url, stop := startTURN(t, "s3cret")
	defer stop()
	creds := func() []TURNServer {
		u, p, err := turn.GenerateLongTermCredentials("s3cret", time.Hour)
		if err != nil {
			t.Error(err)
		}
		return []TURNServer{{URL: url, Username: u, Password: p}}
	}
	ic := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" },
		TURN: creds, RelayOnly: true}
	_, cfgA, cfgB := testConfigs(t)
	p, sa, sb := iceLinksVia(t, ctx, ic, ic, cfgA, cfgB, func(t *testing.T, u, pw string, c []Candidate) (string, string, []Candidate) {
		for _, cc := range c {
			if cc.Type != CandidateRelay {
				t.Errorf("relay-only session offered %v %v", cc.Type, cc.Addr)
			}
			// The Attach carries it as CandType relay and back.
			w, err := cc.WireCandidate()
			if err != nil {
				t.Fatal(err)
			}
			back, err := CandidateFromWire(&w)
			if err != nil || back.Type != CandidateRelay || back.Addr != cc.Addr || back.Related != cc.Related {
				t.Fatalf("wire round trip %+v -> %+v (%v)", cc, back, err)
			}
		}
		return u, pw, c
	})
	defer p.close()
	for _, s := range []*ICESession{sa, sb} {
		l, r, err := s.Selected()
		if err != nil {
			t.Fatal(err)
		}
		if l.Type != CandidateRelay || r.Type != CandidateRelay {
			t.Fatalf("selected %v %v -> %v %v, want relay to relay", l.Type, l.Addr, r.Type, r.Addr)
		}
		t.Logf("selected %v %v -> %v %v, ICE RTT %v", l.Type, l.Addr, r.Type, r.Addr, s.RTT())
	}
	exchange(t, ctx, p, 10, []int{10, 2000})
}

// Wrong credentials: no allocation, so a relay-only session has no
// candidate; and relay-only without a TURN server is refused at once.
func TestICETURNRefused(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewICESession(Requester, ICEConfig{Net: n, RelayOnly: true}); !errors.Is(err, ErrNoTURNServer) {
		t.Fatalf("relay-only without TURN: %v", err)
	}
	if _, err := NewICESession(Requester, ICEConfig{Net: n, TURN: func() []TURNServer {
		return []TURNServer{{URL: "stun:127.0.0.1:1"}}
	}}); err == nil {
		t.Fatal("a stun: URI taken as a TURN server")
	}
	url, stop := startTURN(t, "s3cret")
	defer stop()
	u, p, err := turn.GenerateLongTermCredentials("not the secret", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewICESession(Requester, ICEConfig{Net: n, IncludeLoopback: true, RelayOnly: true,
		InterfaceFilter: func(name string) bool { return name == "lo" },
		TURN:            func() []TURNServer { return []TURNServer{{URL: url, Username: u, Password: p}} }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, cands, err := s.Gather(ctx)
	if err != nil || len(cands) != 0 {
		t.Fatalf("gathered %v (%v) with bad credentials", cands, err)
	}
}
