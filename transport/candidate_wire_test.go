package transport

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
	"go.uber.org/goleak"

	"github.com/goreload/reload/wire"
)

// attachRoundTrip carries candidates through the wire as an Attach does
// (RFC 6940 §6.5.1.1): Candidate -> IceCandidate -> AttachReqAns bytes ->
// decoded IceCandidate -> Candidate.
func attachRoundTrip(t *testing.T, ufrag, pwd string, cands []Candidate) (string, string, []Candidate) {
	t.Helper()
	req := wire.AttachReqAns{Ufrag: []byte(ufrag), Password: []byte(pwd), Role: []byte("passive")}
	for _, c := range cands {
		w, err := c.WireCandidate()
		if err != nil {
			t.Fatal(err)
		}
		req.Candidates = append(req.Candidates, w)
	}
	b, err := req.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.AttachReqAns
	if _, err := got.Decode(b); err != nil {
		t.Fatal(err)
	}
	var out []Candidate
	for i := range got.Candidates {
		c, err := CandidateFromWire(&got.Candidates[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return string(got.Ufrag), string(got.Password), out
}

func TestCandidateWireRoundTrip(t *testing.T) {
	for _, c := range []Candidate{
		{Addr: mustAddrPort("192.0.2.1:6084"), Type: CandidateHost, Foundation: "1", Priority: 2130706431, LinkType: LinkDTLSUDPSR},
		{Addr: mustAddrPort("198.51.100.7:40000"), Type: CandidateSrflx, Foundation: "2", Priority: 1694498815, Related: mustAddrPort("192.0.2.1:6084"), LinkType: LinkDTLSUDPSR},
		{Addr: mustAddrPort("[2001:db8::1]:6084"), Type: CandidateRelay, Foundation: "3", Priority: 16777215, Related: mustAddrPort("[2001:db8::2]:5000"), LinkType: LinkDTLSUDPSR},
	} {
		_, _, got := attachRoundTrip(t, "u", "p", []Candidate{c})
		if got[0] != c {
			t.Fatalf("round trip %+v, want %+v", got[0], c)
		}
	}
	// prflx is never sent: CandType 3 is reserved (RFC 6940 §6.5.1.1).
	if _, err := (Candidate{Addr: mustAddrPort("192.0.2.1:1"), Type: CandidatePrflx}).WireCandidate(); !errors.Is(err, ErrBadCandidate) {
		t.Fatalf("prflx: %v", err)
	}
}

// A DTLS-over-ICE link whose candidates travelled in encoded Attach
// messages, on real loopback sockets.
func TestICELinkOverAttachCandidates(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	ic := ICEConfig{Net: n, IncludeLoopback: true, InterfaceFilter: func(name string) bool { return name == "lo" }}
	_, cfgA, cfgB := testConfigs(t)
	p, _, _ := iceLinksVia(t, ctx, ic, ic, cfgA, cfgB, attachRoundTrip)
	defer p.close()
	exchange(t, ctx, p, 4, []int{100})
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
