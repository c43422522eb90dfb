package transport

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/goreload/reload/wire"
)

// WireCandidate maps c to the IceCandidate an Attach carries (RFC 6940
// §6.5.1.1). A peer-reflexive candidate is never sent (it is learnt during
// the checks, and CandType 3 is reserved), so it is ErrBadCandidate.
func (c Candidate) WireCandidate() (wire.IceCandidate, error) {
	out := wire.IceCandidate{
		AddrPort:    wire.IPAddressPortFrom(c.Addr),
		OverlayLink: wire.OverlayLinkType(c.LinkType),
		Foundation:  []byte(c.Foundation),
		Priority:    c.Priority,
	}
	switch c.Type {
	case CandidateHost:
		out.Type = wire.CandHost
	case CandidateSrflx:
		out.Type = wire.CandSrflx
	case CandidateRelay:
		out.Type = wire.CandRelay
	default:
		return out, fmt.Errorf("%w: type %v", ErrBadCandidate, c.Type)
	}
	if out.Type != wire.CandHost {
		out.RelAddrPort = wire.IPAddressPortFrom(c.Related)
	}
	return out, nil
}

// CandidateFromWire maps an IceCandidate received in an Attach.
func CandidateFromWire(w *wire.IceCandidate) (Candidate, error) {
	ap, ok := w.AddrPort.AddrPort()
	if !ok {
		return Candidate{}, fmt.Errorf("%w: address type %v", ErrBadCandidate, w.AddrPort.Type)
	}
	out := Candidate{Addr: ap, Foundation: string(w.Foundation), Priority: w.Priority, LinkType: LinkType(w.OverlayLink)}
	switch w.Type {
	case wire.CandHost:
		out.Type = CandidateHost
	case wire.CandSrflx:
		out.Type = CandidateSrflx
	case wire.CandRelay:
		out.Type = CandidateRelay
	default:
		return Candidate{}, fmt.Errorf("%w: type %v", ErrBadCandidate, w.Type)
	}
	if out.Type != CandidateHost {
		if rel, ok := w.RelAddrPort.AddrPort(); ok {
			out.Related = rel
		}
	}
	return out, nil
}

// AddrPortOf is the address and port of a (a socket's local or remote
// address), IPv4 unmapped; zero when a is not an IP address. Host
// candidates and capture endpoints are made from it.
func AddrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		if a != nil {
			ap, _ = netip.ParseAddrPort(a.String())
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
