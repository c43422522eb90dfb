package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/goreload/reload/wire"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pionnet "github.com/pion/transport/v5"
)

// CandidateType is the CandType of an IceCandidate (RFC 6940 §6.5.1.1).
type CandidateType uint8

// Candidate types.
const (
	CandidateHost  CandidateType = 1
	CandidateSrflx CandidateType = 2
	CandidatePrflx CandidateType = 3
	CandidateRelay CandidateType = 4
)

func (t CandidateType) String() string {
	switch t {
	case CandidateHost:
		return "host"
	case CandidateSrflx:
		return "srflx"
	case CandidatePrflx:
		return "prflx"
	case CandidateRelay:
		return "relay"
	}
	return "CandidateType(" + strconv.Itoa(int(t)) + ")"
}

// Candidate is one ICE candidate as an Attach carries it (the fields of
// IceCandidate, RFC 6940 §6.5.1.1): the forwarding layer maps it to and
// from wire.IceCandidate.
type Candidate struct {
	Addr       netip.AddrPort
	Type       CandidateType
	Foundation string
	Priority   uint32
	Related    netip.AddrPort // rel_addr_port for srflx, prflx and relay
	LinkType   LinkType
}

// ErrBadCandidate reports a candidate that cannot be converted.
var ErrBadCandidate = errors.New("transport: unsupported ICE candidate")

// CandidateFromICE converts a pion candidate (UDP only).
func CandidateFromICE(c ice.Candidate) (Candidate, error) {
	if !c.NetworkType().IsUDP() {
		return Candidate{}, fmt.Errorf("%w: %v", ErrBadCandidate, c.NetworkType())
	}
	ip, err := netip.ParseAddr(c.Address())
	if err != nil {
		return Candidate{}, fmt.Errorf("%w: address %q", ErrBadCandidate, c.Address())
	}
	out := Candidate{
		Addr:       netip.AddrPortFrom(ip.Unmap(), uint16(c.Port())),
		Foundation: c.Foundation(),
		Priority:   c.Priority(),
		LinkType:   LinkDTLSUDPSR,
	}
	switch c.Type() {
	case ice.CandidateTypeHost:
		out.Type = CandidateHost
	case ice.CandidateTypeServerReflexive:
		out.Type = CandidateSrflx
	case ice.CandidateTypePeerReflexive:
		out.Type = CandidatePrflx
	case ice.CandidateTypeRelay:
		out.Type = CandidateRelay
	default:
		return Candidate{}, fmt.Errorf("%w: type %v", ErrBadCandidate, c.Type())
	}
	if r := c.RelatedAddress(); r != nil && r.Address != "" {
		if rip, err := netip.ParseAddr(r.Address); err == nil {
			out.Related = netip.AddrPortFrom(rip.Unmap(), uint16(r.Port))
		}
	}
	return out, nil
}

// ICE converts the candidate to a pion remote candidate.
func (c Candidate) ICE() (ice.Candidate, error) {
	if c.LinkType != 0 && c.LinkType != LinkDTLSUDPSR {
		return nil, fmt.Errorf("%w: link type %v", ErrBadCandidate, c.LinkType)
	}
	network := "udp"
	addr, port := c.Addr.Addr().String(), int(c.Addr.Port())
	var relAddr string
	var relPort int
	if c.Related.IsValid() {
		relAddr, relPort = c.Related.Addr().String(), int(c.Related.Port())
	}
	switch c.Type {
	case CandidateHost:
		return ice.NewCandidateHost(&ice.CandidateHostConfig{Network: network, Address: addr, Port: port,
			Component: ice.ComponentRTP, Priority: c.Priority, Foundation: c.Foundation})
	case CandidateSrflx:
		return ice.NewCandidateServerReflexive(&ice.CandidateServerReflexiveConfig{Network: network, Address: addr,
			Port: port, Component: ice.ComponentRTP, Priority: c.Priority, Foundation: c.Foundation,
			RelAddr: relAddr, RelPort: relPort})
	case CandidatePrflx:
		return ice.NewCandidatePeerReflexive(&ice.CandidatePeerReflexiveConfig{Network: network, Address: addr,
			Port: port, Component: ice.ComponentRTP, Priority: c.Priority, Foundation: c.Foundation,
			RelAddr: relAddr, RelPort: relPort})
	case CandidateRelay:
		return ice.NewCandidateRelay(&ice.CandidateRelayConfig{Network: network, Address: addr, Port: port,
			Component: ice.ComponentRTP, Priority: c.Priority, Foundation: c.Foundation,
			RelAddr: relAddr, RelPort: relPort})
	}
	return nil, fmt.Errorf("%w: type %v", ErrBadCandidate, c.Type)
}

// ICEConfig configures ICE for DTLS-UDP-SR links. Net is required; the
// other fields have defaults.
type ICEConfig struct {
	// Net is the network to gather on: stdnet for real sockets, vnet in
	// tests.
	Net pionnet.Net
	// STUN lists the STUN servers for server-reflexive candidates, as
	// "stun:host:port" URIs (from the overlay configuration or learned from
	// peers, §6.5.1.4).
	STUN []string
	// NetworkTypes defaults to UDP4. Left empty in pion, no candidates would
	// be gathered.
	NetworkTypes []ice.NetworkType
	// IncludeLoopback gathers loopback candidates too, which ICE leaves
	// out (RFC 8445 §5.1.1.1): for nodes that reach each other only on
	// one host (tests, single-host interop runs, a loopback-only host).
	IncludeLoopback bool
	// InterfaceFilter, when set, picks the interfaces to gather on.
	InterfaceFilter func(string) bool
	// Timeouts: ICE keepalive (STUN binding indications, §6.5.1.10.3) and
	// the time without traffic after which the pair is disconnected and
	// then failed. Defaults 2 s, 5 s, 15 s.
	Keepalive, Disconnected, Failed time.Duration
	// LoggerFactory is pion's logger; nil for pion's default.
	LoggerFactory logging.LoggerFactory
	// TURN, when set, is asked at the start of each session for the TURN
	// servers to gather relay candidates from (RFC 6940 §9: found in the
	// overlay under the TURN-SERVICE Kind, so the list changes while
	// the node runs). Relay candidates are offered in the Attach as
	// CandType relay (§6.5.1.1).
	TURN func() []TURNServer
	// RelayOnly gathers and offers relay candidates only (an ICE
	// transport policy of "relay"): the node's own addresses are not
	// disclosed, and a session without a TURN server fails.
	RelayOnly bool
	// Mapped, when set, is a port the NAT gateway maps to this node:
	// while it has an external address, each session offers it as a
	// server-reflexive candidate (see MappedPort). Not with RelayOnly.
	Mapped *MappedPort
}

// TURNServer is one TURN server and the long-term credentials (RFC 8489
// §9.2) to allocate on it.
type TURNServer struct {
	// URL is a "turn:host:port" URI (RFC 7065); UDP is the default
	// transport.
	URL                string
	Username, Password string
}

// ErrNoTURNServer reports a relay-only session without a TURN server.
var ErrNoTURNServer = errors.New("transport: relay-only ICE without a TURN server")

// ICESession is one node's side of the ICE exchange of one Attach
// (§6.5.1.3–§6.5.1.14): gather candidates, give them to the peer in the
// Attach, then run connectivity checks against the peer's.
type ICESession struct {
	agent  *ice.Agent
	role   Role
	once   sync.Once
	mapped *MappedPort
}

// ErrICEFailed reports ICE connectivity failure after the link was up.
var ErrICEFailed = errors.New("transport: ICE connectivity lost")

// NewICESession creates the ICE agent. The Attach requester is
// controlling, the responder controlled (§6.5.1.9). mDNS is off.
func NewICESession(role Role, cfg ICEConfig) (*ICESession, error) {
	if cfg.Net == nil {
		return nil, errors.New("transport: ICEConfig.Net is required")
	}
	if role != Requester && role != Responder {
		return nil, fmt.Errorf("transport: bad role %v", role)
	}
	types := cfg.NetworkTypes
	if len(types) == 0 {
		types = []ice.NetworkType{ice.NetworkTypeUDP4}
	}
	urls := make([]*stun.URI, 0, len(cfg.STUN))
	for _, s := range cfg.STUN {
		u, err := stun.ParseURI(s)
		if err != nil {
			return nil, fmt.Errorf("transport: STUN server %q: %w", s, err)
		}
		urls = append(urls, u)
	}
	var turn []TURNServer
	if cfg.TURN != nil {
		turn = cfg.TURN()
	}
	for _, t := range turn {
		u, err := stun.ParseURI(t.URL)
		if err != nil {
			return nil, fmt.Errorf("transport: TURN server %q: %w", t.URL, err)
		}
		if u.Scheme != stun.SchemeTypeTURN && u.Scheme != stun.SchemeTypeTURNS {
			return nil, fmt.Errorf("transport: TURN server %q: not a turn: URI", t.URL)
		}
		u.Username, u.Password = t.Username, t.Password
		urls = append(urls, u)
	}
	candTypes := []ice.CandidateType{ice.CandidateTypeHost, ice.CandidateTypeServerReflexive}
	switch {
	case cfg.RelayOnly && len(turn) == 0:
		return nil, ErrNoTURNServer
	case cfg.RelayOnly:
		candTypes = []ice.CandidateType{ice.CandidateTypeRelay}
	case len(turn) > 0:
		candTypes = append(candTypes, ice.CandidateTypeRelay)
	}
	dur := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	opts := []ice.AgentOption{
		ice.WithNet(cfg.Net),
		ice.WithNetworkTypes(types),
		ice.WithCandidateTypes(candTypes),
		ice.WithUrls(urls),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithKeepaliveInterval(dur(cfg.Keepalive, 2*time.Second)),
		ice.WithDisconnectedTimeout(dur(cfg.Disconnected, 5*time.Second)),
		ice.WithFailedTimeout(dur(cfg.Failed, 15*time.Second)),
	}
	if cfg.IncludeLoopback {
		opts = append(opts, ice.WithIncludeLoopback())
	}
	if cfg.InterfaceFilter != nil {
		opts = append(opts, ice.WithInterfaceFilter(cfg.InterfaceFilter))
	}
	if cfg.LoggerFactory != nil {
		opts = append(opts, ice.WithLoggerFactory(cfg.LoggerFactory))
	}
	a, err := ice.NewAgentWithOptions(opts...)
	if err != nil {
		return nil, err
	}
	s := &ICESession{agent: a, role: role}
	if !cfg.RelayOnly {
		s.mapped = cfg.Mapped
	}
	return s, nil
}

// Gather collects the local candidates (host, server-reflexive and, with
// TURN servers, relay) and
// returns them with the ICE credentials to put in the Attach.
func (s *ICESession) Gather(ctx context.Context) (ufrag, pwd string, cands []Candidate, err error) {
	done := make(chan struct{})
	// The agent may still report candidates after ctx ended and Gather
	// returned: they go to got, never to the results, and what Gather
	// returns is a copy, so that a candidate reported late (after the end
	// of gathering) appends to nothing the caller holds.
	var mu sync.Mutex
	var got []Candidate
	if err := s.agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(done)
			return
		}
		if cc, err := CandidateFromICE(c); err == nil {
			mu.Lock()
			got = append(got, cc)
			mu.Unlock()
		}
	}); err != nil {
		return "", "", nil, err
	}
	if err := s.agent.GatherCandidates(); err != nil {
		return "", "", nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return "", "", nil, ctx.Err()
	}
	ufrag, pwd, err = s.agent.GetLocalUserCredentials()
	mu.Lock()
	out := slices.Clone(got)
	mu.Unlock()
	if err == nil && s.mapped != nil {
		// After gathering, so that it is of the current generation.
		if c, ok, merr := s.addMappedCandidate(s.mapped); merr == nil && ok && !slices.ContainsFunc(out, func(o Candidate) bool { return o.Addr == c.Addr && o.Type == c.Type }) {
			out = append(out, c)
		}
	}
	return ufrag, pwd, out, err
}

// Connect adds the peer's candidates and runs the connectivity checks;
// the controlling side nominates. It returns the packet connection over
// the selected pair.
func (s *ICESession) Connect(ctx context.Context, remoteUfrag, remotePwd string, remote []Candidate) (net.Conn, error) {
	for _, c := range remote {
		ic, err := c.ICE()
		if err != nil {
			continue // another link type, or not for us
		}
		if err := s.agent.AddRemoteCandidate(ic); err != nil {
			return nil, err
		}
	}
	var (
		conn *ice.Conn
		err  error
	)
	if s.role == Requester {
		conn, err = s.agent.Dial(ctx, remoteUfrag, remotePwd)
	} else {
		conn, err = s.agent.Accept(ctx, remoteUfrag, remotePwd)
	}
	if err != nil {
		return nil, fmt.Errorf("transport: ICE: %w", err)
	}
	return conn, nil
}

// Selected returns the nominated pair's local and remote candidates.
func (s *ICESession) Selected() (local, remote Candidate, err error) {
	p, err := s.agent.GetSelectedCandidatePair()
	if err != nil {
		return local, remote, err
	}
	if p == nil {
		return local, remote, errors.New("transport: no selected ICE pair")
	}
	if local, err = CandidateFromICE(p.Local); err != nil {
		return local, remote, err
	}
	remote, err = CandidateFromICE(p.Remote)
	return local, remote, err
}

// RTT is the round-trip time of the selected pair's connectivity checks,
// zero when unknown.
func (s *ICESession) RTT() time.Duration {
	st, ok := s.agent.GetSelectedCandidatePairStats()
	if !ok {
		return 0
	}
	return time.Duration(st.CurrentRoundTripTime * float64(time.Second))
}

// Close stops the agent.
func (s *ICESession) Close() error {
	var err error
	s.once.Do(func() { err = s.agent.Close() })
	return err
}

// NewICELink finishes an Attach with ICE: connectivity checks against the
// peer's candidates, then DTLS over the selected pair, giving a
// DTLS-UDP-SR link (§6.6.4). The requester is ICE-controlling and the DTLS
// server. The sender's RTO is seeded with the ICE RTT. The link owns the
// session and closes it; on failure the session is closed too.
func NewICELink(ctx context.Context, s *ICESession, remoteUfrag, remotePwd string, remote []Candidate,
	expect wire.NodeID, cfg *Config) (*Link, error) {
	conn, err := s.Connect(ctx, remoteUfrag, remotePwd, remote)
	if err != nil {
		_ = s.Close()
		cfg.handshakeFailed(LinkDTLSUDPSR, nil, err)
		return nil, err
	}
	// ICE failure (no keepalive answers) ends the link too.
	_ = s.agent.OnConnectionStateChange(func(st ice.ConnectionState) {
		if st == ice.ConnectionStateFailed {
			go func() { _ = s.Close() }()
		}
	})
	lc, rc, perr := s.Selected()
	pc := dtlsnet.PacketConnFromConn(conn)
	l, err := newDTLSLink(ctx, pc, conn.RemoteAddr(), s.role, expect, cfg, LinkDTLSUDPSR, s.RTT(),
		func() { _ = s.Close() })
	if err == nil && perr == nil {
		l.icePair.Store(&[2]Candidate{lc, rc})
	}
	return l, err
}

// ICEPair returns the candidate pair that ICE selected for the link
// (§6.5.1.10): the local candidate and the peer's, with their types, so
// that a link through NATs shows whether it runs over host or
// server-reflexive addresses. ok is false for links without ICE.
func (l *Link) ICEPair() (local, remote Candidate, ok bool) {
	p := l.icePair.Load()
	if p == nil {
		return local, remote, false
	}
	return p[0], p[1], true
}
