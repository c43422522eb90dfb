package transport

import (
	"errors"
	"net"

	"github.com/pion/stun/v4"
)

// STUNServer answers STUN Binding requests (RFC 5389 §7.3.1, §15.2) on a
// packet connection, so that ICE agents gather server-reflexive
// candidates through it: a peer with a public address can serve the
// overlay as a STUN server (RFC 6940 §6.5.1.4). It authenticates nobody
// and keeps no state; anything that is not a well-formed Binding request
// is dropped, and a request with an unknown comprehension-required
// attribute gets a 420 error response.
type STUNServer struct {
	// Software, when set, goes into the SOFTWARE attribute of responses.
	Software string
}

// Serve answers requests on pc until pc is closed; it then returns nil.
// Other read errors are returned.
func (s *STUNServer) Serve(pc net.PacketConn) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if resp := s.Answer(buf[:n], from); resp != nil {
			_, _ = pc.WriteTo(resp, from)
		}
	}
}

// Answer returns the response to one datagram received from from, or nil
// when the datagram is not a Binding request or from is not a UDP
// address.
func (s *STUNServer) Answer(b []byte, from net.Addr) []byte {
	ua, ok := from.(*net.UDPAddr)
	if !ok || !stun.IsMessage(b) {
		return nil
	}
	req := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := req.Decode(); err != nil {
		return nil
	}
	if req.Type != stun.BindingRequest {
		return nil // indications and responses get no answer (§7.3.2, §7.3.3)
	}
	var setters []stun.Setter
	// §7.3.1: unknown comprehension-required attributes (type below 0x8000)
	// are answered with 420 listing them.
	var unknown stun.UnknownAttributes
	for _, a := range req.Attributes {
		if a.Type.Required() && !knownSTUNAttr(a.Type) {
			unknown = append(unknown, a.Type)
		}
	}
	if len(unknown) > 0 {
		setters = []stun.Setter{stun.NewTransactionIDSetter(req.TransactionID),
			stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
			stun.CodeUnknownAttribute, unknown}
	} else {
		setters = []stun.Setter{stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}}
	}
	if s.Software != "" {
		setters = append(setters, stun.NewSoftware(s.Software))
	}
	setters = append(setters, stun.Fingerprint)
	resp, err := stun.Build(setters...)
	if err != nil {
		return nil
	}
	return resp.Raw
}

// knownSTUNAttr reports the comprehension-required attributes a Binding
// server understands without credentials: the server ignores the
// credentials (it has none to check), so USERNAME and MESSAGE-INTEGRITY
// pass too, as do the ICE attributes of connectivity checks.
func knownSTUNAttr(t stun.AttrType) bool {
	switch t {
	case stun.AttrMappedAddress, stun.AttrXORMappedAddress, stun.AttrUsername, stun.AttrMessageIntegrity,
		stun.AttrErrorCode, stun.AttrUnknownAttributes, stun.AttrRealm, stun.AttrNonce,
		stun.AttrPriority, stun.AttrUseCandidate:
		return true
	}
	return false
}
