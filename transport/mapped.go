package transport

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

// MappedPort is one UDP socket of the node whose port a NAT gateway
// forwards to it (a port mapping made with UPnP IGD or NAT-PMP). Every ICE
// session offers the mapped address as one more candidate, of CandType
// srflx (RFC 6940 §6.5.1.1; RFC 8445 §4: a binding a NAT allocated for
// the agent, here by the gateway's own protocol rather than seen by a
// STUN server), with the socket's own address as the related address; ICE
// ranks it as any srflx: below host candidates, above relayed ones.
// Sessions send and receive on that one socket through a pion UDP mux
// that tells them apart by their ICE user fragment.
//
// The mapping itself is made outside transport: SetExternal gives the
// address, and a zero address withdraws it.
type MappedPort struct {
	mux  *ice.UDPMuxDefault
	port uint16

	mu       sync.Mutex
	external netip.AddrPort
	internal netip.Addr
}

// NewMappedPort takes conn (a UDP socket on the port being mapped,
// normally bound to the unspecified address) and owns it.
func NewMappedPort(conn net.PacketConn, lf logging.LoggerFactory) (*MappedPort, error) {
	ua, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok || ua.Port == 0 {
		return nil, fmt.Errorf("transport: mapped port: not a bound UDP socket: %v", conn.LocalAddr())
	}
	if lf == nil {
		lf = logging.NewDefaultLoggerFactory()
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: lf.NewLogger("portmap")})
	return &MappedPort{mux: mux, port: uint16(ua.Port)}, nil
}

// Port is the socket's local port: the internal port to map.
func (m *MappedPort) Port() uint16 { return m.port }

// SetExternal sets the mapped (public) address and the node's internal
// address the gateway forwards it to; a zero external withdraws it.
func (m *MappedPort) SetExternal(external netip.AddrPort, internal netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.external, m.internal = external, internal
}

// External is the mapped address, ok false when there is none.
func (m *MappedPort) External() (external netip.AddrPort, internal netip.Addr, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.external, m.internal, m.external.IsValid()
}

// Close closes the socket.
func (m *MappedPort) Close() error { return m.mux.Close() }

// addMappedCandidate gives the session's agent the mapped candidate, on
// the shared socket, and returns it.
func (s *ICESession) addMappedCandidate(m *MappedPort) (Candidate, bool, error) {
	ext, in, ok := m.External()
	if !ok || !ext.Addr().Is4() {
		return Candidate{}, false, nil
	}
	ufrag, _, err := s.agent.GetLocalUserCredentials()
	if err != nil {
		return Candidate{}, false, err
	}
	if !in.IsValid() {
		in = netip.IPv4Unspecified()
	}
	conn, err := m.mux.GetConn(ufrag, net.UDPAddrFromAddrPort(netip.AddrPortFrom(in, m.port)))
	if err != nil {
		return Candidate{}, false, fmt.Errorf("transport: mapped port: %w", err)
	}
	c, err := ice.NewCandidateServerReflexive(&ice.CandidateServerReflexiveConfig{
		Network:   "udp4",
		Address:   ext.Addr().String(),
		Port:      int(ext.Port()),
		Component: ice.ComponentRTP,
		RelAddr:   in.String(),
		RelPort:   int(m.port),
	})
	if err != nil {
		_ = conn.Close()
		return Candidate{}, false, fmt.Errorf("transport: mapped candidate: %w", err)
	}
	if err := s.agent.AddVirtualCandidate(c, conn); err != nil {
		_ = conn.Close()
		return Candidate{}, false, fmt.Errorf("transport: mapped candidate: %w", err)
	}
	cc, err := CandidateFromICE(c)
	if err != nil {
		return Candidate{}, false, err
	}
	return cc, true, nil
}
