package wire

import "strconv"

// This file holds small structures that extensions of RELOAD carry in
// message extensions, forwarding options and stored values: SelfTuningData
// (RFC 7363), TurnServer (RFC 6940 §9), ExtensiveRoutingModeOption
// (RFC 7263 / RFC 7264) and ResourceNameExtension (RFC 8076).
//
// TurnServer and ExtensiveRoutingModeOption keep their IpAddressPort as
// the raw encoded window (type, length and body), checked on decode by
// readIPAddrPortRaw, so unknown address types round-trip; Address decodes
// it into an IPAddressPort.

// SelfTuningData is the extension_contents of a self_tuning_data
// (ExtSelfTuningData 0x3, critical FALSE) message extension on Probe
// requests and answers (RFC 7363 §6.5):
//
//	struct {
//	  uint32                   network_size;
//	  uint32                   join_rate;
//	  uint32                   leave_rate;
//	} SelfTuningData;
//
// Rates are joins or failures per 24 hours, rounded up. Decode requires b
// (the extension contents) to be consumed exactly.
type SelfTuningData struct {
	NetworkSize uint32
	JoinRate    uint32
	LeaveRate   uint32
}

// SelfTuningDataLen is the encoded size of a SelfTuningData.
const SelfTuningDataLen = 12

// Len is the encoded size.
func (s *SelfTuningData) Len() int { return SelfTuningDataLen }

// Decode reads a SelfTuningData that fills b exactly.
func (s *SelfTuningData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	ns, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "SelfTuningData.network_size", 0)
	}
	jr, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "SelfTuningData.join_rate", 4)
	}
	lr, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "SelfTuningData.leave_rate", 8)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "SelfTuningData", r.Offset())
	}
	*s = SelfTuningData{NetworkSize: ns, JoinRate: jr, LeaveRate: lr}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *SelfTuningData) Append(b []byte) ([]byte, error) {
	b = AppendU32(b, s.NetworkSize)
	b = AppendU32(b, s.JoinRate)
	return AppendU32(b, s.LeaveRate), nil
}

// readIPAddrPortRaw reads one IpAddressPort (RFC 6940 §6.3.1.1) and
// returns its whole encoding (type, length, body), aliasing the input:
//
//	struct {
//	  AddressType             type;
//	  uint8                   length;
//	  select (type) {
//	    case ipv4_address: IPv4AddrPort v4addr_port;   /* 4 + 2 bytes */
//	    case ipv6_address: IPv6AddrPort v6addr_port;   /* 16 + 2 bytes */
//	    /* This structure can be extended */
//	  };
//	} IpAddressPort;
//
// Type 0 (invalidAddressType) and a length other than 6 for IPv4 or 18 for
// IPv6 are ErrInvalid; other types are kept as they are. Errors carry the
// paths "type", "length" and "body" relative to the reader's start.
func readIPAddrPortRaw(r *Reader) ([]byte, error) {
	start := r.Offset()
	rest := r.Peek()
	if len(rest) < 1 {
		return nil, fieldErr(ErrTruncated, "type", start)
	}
	if len(rest) < 2 {
		return nil, fieldErr(ErrTruncated, "length", start+1)
	}
	if err := checkIPAddrPortHead(rest[0], rest[1], start); err != nil {
		return nil, err
	}
	n := 2 + int(rest[1])
	if len(rest) < n {
		return nil, fieldErr(ErrTruncated, "body", start+2)
	}
	w, _ := r.ReadFixed(n)
	return w, nil
}

func checkIPAddrPortHead(t, n byte, start int) error {
	switch t {
	case 0:
		return fieldErr(ErrInvalid, "type", start)
	case 1:
		if n != 6 {
			return fieldErr(ErrInvalid, "length", start+1)
		}
	case 2:
		if n != 18 {
			return fieldErr(ErrInvalid, "length", start+1)
		}
	}
	return nil
}

// appendIPAddrPortRaw appends raw after checking that it is exactly one
// well-formed IpAddressPort.
func appendIPAddrPortRaw(b, raw []byte) ([]byte, error) {
	r := NewReader(raw)
	if _, err := readIPAddrPortRaw(&r); err != nil {
		return b, err
	}
	if !r.Empty() {
		return b, fieldErr(ErrTrailingData, "", r.Offset())
	}
	return append(b, raw...), nil
}

// TurnServer is the value stored under the TURN-SERVICE Kind (RFC 6940
// §9):
//
//	struct {
//	  uint8                   iteration;
//	  IpAddressPort           server_address;
//	} TurnServer;
//
// Iteration is the d value (1..turn-density) the Resource Name was formed
// with. ServerAddress is the raw IpAddressPort encoding (type, length,
// body), aliasing the input; it is to become an IpAddressPort value once
// that type (body_link.go) is merged. Decode requires b to be consumed
// exactly. Use Clone to keep a value.
type TurnServer struct {
	Iteration     uint8
	ServerAddress []byte
}

// Len is the encoded size.
func (t *TurnServer) Len() int { return 1 + len(t.ServerAddress) }

// Decode reads a TurnServer that fills b exactly.
func (t *TurnServer) Decode(b []byte) (int, error) {
	r := NewReader(b)
	it, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "TurnServer.iteration", 0)
	}
	addr, err := readIPAddrPortRaw(&r)
	if err != nil {
		return 0, fieldErr(err, "TurnServer.server_address", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "TurnServer", r.Offset())
	}
	t.Iteration, t.ServerAddress = it, addr
	return r.Offset(), nil
}

// Append appends the encoding of t.
func (t *TurnServer) Append(b []byte) ([]byte, error) {
	b = append(b, t.Iteration)
	b, err := appendIPAddrPortRaw(b, t.ServerAddress)
	if err != nil {
		return b, fieldErr(err, "TurnServer.server_address", 1)
	}
	return b, nil
}

// Clone returns a copy of t that shares no memory with its input.
func (t *TurnServer) Clone() TurnServer {
	return TurnServer{Iteration: t.Iteration, ServerAddress: sipCloneBytes(t.ServerAddress)}
}

// RouteMode is the routing mode of an ExtensiveRoutingModeOption (RFC 7263
// §5.2.2, RFC 7264 §5.2.1):
//
//	enum {(0),DRR(1),RPR(2),(255)} RouteMode;
type RouteMode uint8

// Route modes. 0 is reserved.
const (
	RouteModeDRR RouteMode = 1 // direct response routing, RFC 7263
	RouteModeRPR RouteMode = 2 // relay peer routing, RFC 7264
)

func (m RouteMode) String() string {
	switch m {
	case RouteModeDRR:
		return "DRR"
	case RouteModeRPR:
		return "RPR"
	}
	return "RouteMode(" + strconv.Itoa(int(m)) + ")"
}

// ExtensiveRoutingModeOption is the value of an extensive_routing_mode
// (type 2) ForwardingOption (RFC 7263 §5.2.2, RFC 7264 §5.2.1):
//
//	struct {
//	        RouteMode               routemode;
//	        OverlayLinkType         transport;
//	        IpAddressPort           ipaddressport;
//	        Destination             destinations<1..2^8-1>;
//	} ExtensiveRoutingModeOption;
//
// Transport is the OverlayLinkType byte and IPAddressPort the raw
// IpAddressPort encoding (both to take the body_link.go types once
// merged). destinations has an 8-bit byte length prefix and must hold at
// least one byte: one node entry (the sender) for DRR, two (relay peer,
// sender) for RPR; the count is not checked here. Route mode 0 is
// ErrInvalid; other unknown modes decode, as the layout does not depend on
// the mode. Decode requires b (the option value) to be consumed exactly;
// slices alias the input and the capacity of Destinations is reused.
type ExtensiveRoutingModeOption struct {
	RouteMode     RouteMode
	Transport     uint8
	IPAddressPort []byte
	Destinations  []Destination
}

// Len is the encoded size.
func (e *ExtensiveRoutingModeOption) Len() int {
	return 2 + len(e.IPAddressPort) + 1 + destListLen(e.Destinations)
}

// Decode reads an ExtensiveRoutingModeOption that fills b exactly.
func (e *ExtensiveRoutingModeOption) Decode(b []byte) (int, error) {
	r := NewReader(b)
	m, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "ExtensiveRoutingModeOption.routemode", 0)
	}
	if m == 0 {
		return 0, fieldErr(ErrInvalid, "ExtensiveRoutingModeOption.routemode", 0)
	}
	tr, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "ExtensiveRoutingModeOption.transport", 1)
	}
	addr, err := readIPAddrPortRaw(&r)
	if err != nil {
		return 0, fieldErr(err, "ExtensiveRoutingModeOption.ipaddressport", 0)
	}
	off := r.Offset()
	list, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "ExtensiveRoutingModeOption.destinations", off)
	}
	if len(list) < 1 {
		return 0, fieldErr(ErrInvalid, "ExtensiveRoutingModeOption.destinations", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ExtensiveRoutingModeOption", r.Offset())
	}
	if e.Destinations, err = decodeDestList(e.Destinations, list, "ExtensiveRoutingModeOption.destinations"); err != nil {
		return 0, fieldErr(err, "", off+1)
	}
	e.RouteMode, e.Transport, e.IPAddressPort = RouteMode(m), tr, addr
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *ExtensiveRoutingModeOption) Append(b []byte) ([]byte, error) {
	if e.RouteMode == 0 {
		return b, fieldErr(ErrInvalid, "ExtensiveRoutingModeOption.routemode", 0)
	}
	b = append(b, byte(e.RouteMode), e.Transport)
	b, err := appendIPAddrPortRaw(b, e.IPAddressPort)
	if err != nil {
		return b, fieldErr(err, "ExtensiveRoutingModeOption.ipaddressport", 2)
	}
	off := 2 + len(e.IPAddressPort)
	n := destListLen(e.Destinations)
	switch {
	case n < 1:
		return b, fieldErr(ErrInvalid, "ExtensiveRoutingModeOption.destinations", off)
	case n > 0xff:
		return b, fieldErr(ErrTooLong, "ExtensiveRoutingModeOption.destinations", off)
	}
	b = append(b, byte(n))
	if b, err = appendDestList(b, e.Destinations, "ExtensiveRoutingModeOption.destinations"); err != nil {
		return b, fieldErr(err, "", off+1)
	}
	return b, nil
}

// ResourceNameType selects the form of a ResourceNameExtension (RFC 8076
// §5.2):
//
//	enum { pattern(1), (255)} ResourceNameType;
type ResourceNameType uint8

// Resource name types.
const (
	ResourceNamePattern ResourceNameType = 1
)

func (t ResourceNameType) String() string {
	if t == ResourceNamePattern {
		return "pattern"
	}
	return "ResourceNameType(" + strconv.Itoa(int(t)) + ")"
}

// ResourceNameExtension carries the Resource Name of a value stored under
// a Kind with the USER-CHAIN-ACL policy (RFC 8076 §5.2):
//
//	struct {
//	  ResourceNameType type;
//	  uint16           length;
//
//	  select(type) {
//	      case pattern:
//	        opaque     resource_name<0..2^16-1>;
//
//	      /* Types can be extended */
//	  };
//	} ResourceNameExtension;
//
// length is the byte length of the rest; Append computes it. For pattern,
// ResourceName is the name and the rest must be filled exactly; for other
// types Raw holds the rest so it round-trips. It is a sub-structure (it
// ends the Kind's data): Decode returns the bytes consumed. Slices alias
// the input.
type ResourceNameExtension struct {
	Type         ResourceNameType
	ResourceName []byte
	Raw          []byte
}

func (x *ResourceNameExtension) restLen() int {
	if x.Type == ResourceNamePattern {
		return 2 + len(x.ResourceName)
	}
	return len(x.Raw)
}

// Len is the encoded size.
func (x *ResourceNameExtension) Len() int { return 3 + x.restLen() }

// Decode reads a ResourceNameExtension from the start of b.
func (x *ResourceNameExtension) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "type", 0)
	}
	n, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "length", 1)
	}
	rest, err := r.ReadFixed(int(n))
	if err != nil {
		if ResourceNameType(t) == ResourceNamePattern {
			return 0, fieldErr(err, "resource_name", 3)
		}
		return 0, fieldErr(err, "length", 1)
	}
	x.Type, x.ResourceName, x.Raw = ResourceNameType(t), nil, nil
	if x.Type != ResourceNamePattern {
		x.Raw = rest
		return r.Offset(), nil
	}
	w := NewReader(rest)
	if x.ResourceName, err = w.ReadVec16(); err != nil {
		return 0, fieldErr(err, "resource_name", 3)
	}
	if !w.Empty() {
		return 0, fieldErr(ErrTrailingData, "length", 1)
	}
	return r.Offset(), nil
}

// Append appends the encoding of x.
func (x *ResourceNameExtension) Append(b []byte) ([]byte, error) {
	n := x.restLen()
	if n > 0xffff {
		return b, fieldErr(ErrTooLong, "length", 1)
	}
	b = append(b, byte(x.Type))
	b = AppendU16(b, uint16(n))
	if x.Type == ResourceNamePattern {
		return AppendVec16(b, x.ResourceName)
	}
	return append(b, x.Raw...), nil
}

// Address decodes ServerAddress.
func (t *TurnServer) Address() (IPAddressPort, error) {
	var a IPAddressPort
	_, err := a.Decode(t.ServerAddress)
	return a, err
}

// Address decodes the IPAddressPort field.
func (e *ExtensiveRoutingModeOption) Address() (IPAddressPort, error) {
	var a IPAddressPort
	_, err := a.Decode(e.IPAddressPort)
	return a, err
}

// LinkType is the Transport field as an OverlayLinkType.
func (e *ExtensiveRoutingModeOption) LinkType() OverlayLinkType { return OverlayLinkType(e.Transport) }
