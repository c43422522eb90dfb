package wire

import (
	"net/netip"
	"slices"
	"strconv"
)

// This file holds the link-management bodies of RFC 6940 §6.5 (Attach,
// AppAttach, Ping, ConfigUpdate), the Probe bodies of §6.4.2.5 and the
// shared IpAddressPort of §6.3.1.1.

// AddressType is the type of an IpAddressPort (RFC 6940 §6.3.1.1).
type AddressType uint8

// Address types.
const (
	AddrInvalid AddressType = 0
	AddrIPv4    AddressType = 1
	AddrIPv6    AddressType = 2
)

func (t AddressType) String() string {
	switch t {
	case AddrInvalid:
		return "invalidAddressType"
	case AddrIPv4:
		return "ipv4_address"
	case AddrIPv6:
		return "ipv6_address"
	}
	return "AddressType(" + strconv.Itoa(int(t)) + ")"
}

// IPAddressPort is a transport address (RFC 6940 §6.3.1.1):
//
//	enum { invalidAddressType(0), ipv4_address(1), ipv6_address(2),
//	     (255) } AddressType;
//
//	struct {
//	  uint32                  addr;
//	  uint16                  port;
//	} IPv4AddrPort;
//
//	struct {
//	  uint128                 addr;
//	  uint16                  port;
//	} IPv6AddrPort;
//
//	struct {
//	  AddressType             type;
//	  uint8                   length;
//
//	  select (type) {
//	    case ipv4_address:
//	       IPv4AddrPort       v4addr_port;
//
//	    case ipv6_address:
//	       IPv6AddrPort       v6addr_port;
//
//	    /* This structure can be extended */
//	  };
//	} IpAddressPort;
//
// For ipv4_address Addr is a 4-byte address (Is4); for ipv6_address it is
// a 16-byte address (Is6, an IPv4-mapped address stays in its 16-byte
// form). The length byte must be exactly 6 or 18 for those types. The RFC
// lets the structure be extended, so an unknown type keeps its body in
// Raw (which aliases the decoded input) and round-trips byte for byte;
// Addr and Port are then unused. Address zones cannot be encoded and are
// dropped by Append.
type IPAddressPort struct {
	Type AddressType
	Addr netip.Addr
	Port uint16
	Raw  []byte
}

// IPAddressPortFrom converts ap: an IPv4 or IPv4-mapped IPv6 address gives
// an ipv4_address, any other IPv6 address an ipv6_address (zone dropped).
// An invalid ap gives Type AddrInvalid, which Append rejects.
func IPAddressPortFrom(ap netip.AddrPort) IPAddressPort {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return IPAddressPort{}
	case a.Is4() || a.Is4In6():
		return IPAddressPort{Type: AddrIPv4, Addr: a.Unmap(), Port: ap.Port()}
	}
	return IPAddressPort{Type: AddrIPv6, Addr: a.WithZone(""), Port: ap.Port()}
}

// AddrPort converts a to a netip.AddrPort; ok is false for an unknown or
// invalid type.
func (a *IPAddressPort) AddrPort() (ap netip.AddrPort, ok bool) {
	switch a.Type {
	case AddrIPv4:
		if !a.Addr.Is4() {
			return ap, false
		}
	case AddrIPv6:
		if !a.Addr.Is6() {
			return ap, false
		}
	default:
		return ap, false
	}
	return netip.AddrPortFrom(a.Addr, a.Port), true
}

// String is the address in host:port form, or the type and raw body for
// an unknown type.
func (a IPAddressPort) String() string {
	if ap, ok := a.AddrPort(); ok {
		return ap.String()
	}
	return a.Type.String() + ":" + hexString(a.Raw)
}

// Clone returns a copy of a that does not alias the decoded input.
func (a *IPAddressPort) Clone() IPAddressPort {
	c := *a
	c.Raw = linkCloneBytes(a.Raw)
	return c
}

// bodyLen is the value of the length byte.
func (a *IPAddressPort) bodyLen() int {
	switch a.Type {
	case AddrIPv4:
		return 6
	case AddrIPv6:
		return 18
	}
	return len(a.Raw)
}

// Len is the encoded size.
func (a *IPAddressPort) Len() int { return 2 + a.bodyLen() }

func ipAddrBodyField(t AddressType) string {
	switch t {
	case AddrIPv4:
		return "v4addr_port"
	case AddrIPv6:
		return "v6addr_port"
	}
	return "address"
}

// Decode reads an IpAddressPort from the start of b.
func (a *IPAddressPort) Decode(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, fieldErr(ErrTruncated, "type", 0)
	}
	t := AddressType(b[0])
	if t == AddrInvalid {
		return 0, fieldErr(ErrInvalid, "type", 0)
	}
	if len(b) < 2 {
		return 0, fieldErr(ErrTruncated, "length", 1)
	}
	n := int(b[1])
	if len(b) < 2+n {
		return 0, fieldErr(ErrTruncated, ipAddrBodyField(t), 2)
	}
	v := b[2 : 2+n : 2+n]
	switch t {
	case AddrIPv4:
		if n < 6 {
			return 0, fieldErr(ErrTruncated, "v4addr_port", 2)
		}
		if n > 6 {
			return 0, fieldErr(ErrTrailingData, "v4addr_port", 2+6)
		}
		*a = IPAddressPort{Type: t, Addr: netip.AddrFrom4([4]byte(v[:4])), Port: uint16(v[4])<<8 | uint16(v[5])}
	case AddrIPv6:
		if n < 18 {
			return 0, fieldErr(ErrTruncated, "v6addr_port", 2)
		}
		if n > 18 {
			return 0, fieldErr(ErrTrailingData, "v6addr_port", 2+18)
		}
		*a = IPAddressPort{Type: t, Addr: netip.AddrFrom16([16]byte(v[:16])), Port: uint16(v[16])<<8 | uint16(v[17])}
	default:
		*a = IPAddressPort{Type: t, Raw: v}
	}
	return 2 + n, nil
}

// Append appends the encoding of a.
func (a *IPAddressPort) Append(b []byte) ([]byte, error) {
	switch a.Type {
	case AddrInvalid:
		return b, fieldErr(ErrInvalid, "type", 0)
	case AddrIPv4:
		if !a.Addr.Is4() {
			return b, fieldErr(ErrInvalid, "v4addr_port", 2)
		}
		v := a.Addr.As4()
		b = append(b, byte(a.Type), 6)
		b = append(b, v[:]...)
		return AppendU16(b, a.Port), nil
	case AddrIPv6:
		if !a.Addr.Is6() {
			return b, fieldErr(ErrInvalid, "v6addr_port", 2)
		}
		v := a.Addr.As16()
		b = append(b, byte(a.Type), 18)
		b = append(b, v[:]...)
		return AppendU16(b, a.Port), nil
	}
	if len(a.Raw) > 0xff {
		return b, fieldErr(ErrTooLong, "length", 1)
	}
	b = append(b, byte(a.Type), byte(len(a.Raw)))
	return append(b, a.Raw...), nil
}

// OverlayLinkType is the transport of an ICE candidate (RFC 6940 §6.5.1.1,
// IANA "RELOAD Overlay Link Types", §14.10).
type OverlayLinkType uint8

// Overlay link types; 2 is unassigned.
const (
	LinkInvalid        OverlayLinkType = 0
	LinkDTLSUDPSR      OverlayLinkType = 1
	LinkDTLSUDPSRNoICE OverlayLinkType = 3
	LinkTLSTCPFHNoICE  OverlayLinkType = 4
	LinkExp            OverlayLinkType = 5
)

func (t OverlayLinkType) String() string {
	switch t {
	case LinkInvalid:
		return "invalidOverlayLinkType"
	case LinkDTLSUDPSR:
		return "DTLS-UDP-SR"
	case LinkDTLSUDPSRNoICE:
		return "DTLS-UDP-SR-NO-ICE"
	case LinkTLSTCPFHNoICE:
		return "TLS-TCP-FH-NO-ICE"
	case LinkExp:
		return "EXP-LINK"
	}
	return "OverlayLinkType(" + strconv.Itoa(int(t)) + ")"
}

// NoICE reports whether t is one of the "No-ICE" link types. A single
// AttachReqAns must not mix No-ICE candidates with ICE ones (RFC 6940
// §6.5.1.1).
func (t OverlayLinkType) NoICE() bool { return t == LinkDTLSUDPSRNoICE || t == LinkTLSTCPFHNoICE }

// CandType is the ICE candidate type (RFC 6940 §6.5.1.1). 3 is reserved:
// peer-reflexive candidates are learned during checks and never sent.
type CandType uint8

// Candidate types.
const (
	CandInvalid CandType = 0
	CandHost    CandType = 1
	CandSrflx   CandType = 2
	CandRelay   CandType = 4
)

func (t CandType) String() string {
	switch t {
	case CandInvalid:
		return "invalidCandType"
	case CandHost:
		return "host"
	case CandSrflx:
		return "srflx"
	case 3:
		return "RESERVED(3)"
	case CandRelay:
		return "relay"
	}
	return "CandType(" + strconv.Itoa(int(t)) + ")"
}

// HasRelAddr reports whether a candidate of type t carries rel_addr_port.
func (t CandType) HasRelAddr() bool { return t == CandSrflx || t == CandRelay }

// IceExtension is one ICE extension attribute of a candidate (RFC 6940
// §6.5.1.1):
//
//	struct {
//	  opaque                name<0..2^16-1>;
//	  opaque                value<0..2^16-1>;
//	} IceExtension;
//
// Name and Value alias the decoded input.
type IceExtension struct {
	Name  []byte
	Value []byte
}

// Len is the encoded size.
func (e *IceExtension) Len() int { return 4 + len(e.Name) + len(e.Value) }

// Decode reads an IceExtension from the start of b.
func (e *IceExtension) Decode(b []byte) (int, error) {
	r := NewReader(b)
	name, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "name", 0)
	}
	off := r.Offset()
	value, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "value", off)
	}
	e.Name, e.Value = name, value
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *IceExtension) Append(b []byte) ([]byte, error) {
	b, err := AppendVec16(b, e.Name)
	if err != nil {
		return b, fieldErr(err, "name", 0)
	}
	if b, err = AppendVec16(b, e.Value); err != nil {
		return b, fieldErr(err, "value", 2+len(e.Name))
	}
	return b, nil
}

// IceCandidate is one ICE candidate of an Attach or AppAttach (RFC 6940
// §6.5.1.1):
//
//	struct {
//	  IpAddressPort         addr_port;
//	  OverlayLinkType       overlay_link;
//	  opaque                foundation<0..255>;
//	  uint32                priority;
//	  CandType              type;
//	  select (type) {
//	    case host:
//	      ;          /* Empty */
//	    case srflx:
//	    case relay:
//	      IpAddressPort     rel_addr_port;
//	  };
//	  IceExtension          extensions<0..2^16-1>;
//	} IceCandidate;
//
// RelAddrPort is present on the wire only for srflx and relay; for host it
// is zeroed on decode and ignored on encode. The select is not extensible,
// so any other type (including the reserved 3, which the prose's stray
// "prflx" mention would map) is ErrInvalid: without knowing whether
// rel_addr_port follows, the rest cannot be parsed. overlay_link 0 is
// ErrInvalid; other unknown link types are kept as values. The slices alias
// the decoded input; Decode reuses the capacity of Extensions.
type IceCandidate struct {
	AddrPort    IPAddressPort
	OverlayLink OverlayLinkType
	Foundation  []byte
	Priority    uint32
	Type        CandType
	RelAddrPort IPAddressPort
	Extensions  []IceExtension
}

// Len is the encoded size.
func (c *IceCandidate) Len() int {
	n := c.AddrPort.Len() + 1 + 1 + len(c.Foundation) + 4 + 1 + 2
	if c.Type.HasRelAddr() {
		n += c.RelAddrPort.Len()
	}
	for i := range c.Extensions {
		n += c.Extensions[i].Len()
	}
	return n
}

// Decode reads an IceCandidate from the start of b.
func (c *IceCandidate) Decode(b []byte) (int, error) {
	n, err := c.AddrPort.Decode(b)
	if err != nil {
		return 0, fieldErr(err, "addr_port", 0)
	}
	r := NewReader(b)
	_ = r.Skip(n)
	off := r.Offset()
	lt, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "overlay_link", off)
	}
	if lt == 0 {
		return 0, fieldErr(ErrInvalid, "overlay_link", off)
	}
	off = r.Offset()
	f, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "foundation", off)
	}
	off = r.Offset()
	prio, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "priority", off)
	}
	off = r.Offset()
	ct, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "type", off)
	}
	c.OverlayLink, c.Foundation, c.Priority, c.Type = OverlayLinkType(lt), f, prio, CandType(ct)
	switch c.Type {
	case CandHost:
		c.RelAddrPort = IPAddressPort{}
	case CandSrflx, CandRelay:
		off = r.Offset()
		m, err := c.RelAddrPort.Decode(r.Peek())
		if err != nil {
			return 0, fieldErr(err, "rel_addr_port", off)
		}
		_ = r.Skip(m)
	default:
		return 0, fieldErr(ErrInvalid, "type", off)
	}
	off = r.Offset()
	exts, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "extensions", off)
	}
	c.Extensions = c.Extensions[:0]
	for o := 0; o < len(exts); {
		var e IceExtension
		m, err := e.Decode(exts[o:])
		if err != nil {
			return 0, indexErr(err, "extensions", len(c.Extensions), off+2+o)
		}
		c.Extensions = append(c.Extensions, e)
		o += m
	}
	return r.Offset(), nil
}

// Append appends the encoding of c.
func (c *IceCandidate) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := c.AddrPort.Append(b)
	if err != nil {
		return b, fieldErr(err, "addr_port", 0)
	}
	if c.OverlayLink == LinkInvalid {
		return b, fieldErr(ErrInvalid, "overlay_link", len(b)-start)
	}
	b = append(b, byte(c.OverlayLink))
	if b, err = AppendVec8(b, c.Foundation); err != nil {
		return b, fieldErr(err, "foundation", len(b)-start)
	}
	b = AppendU32(b, c.Priority)
	switch c.Type {
	case CandHost:
		b = append(b, byte(c.Type))
	case CandSrflx, CandRelay:
		b = append(b, byte(c.Type))
		off := len(b) - start
		if b, err = c.RelAddrPort.Append(b); err != nil {
			return b, fieldErr(err, "rel_addr_port", off)
		}
	default:
		return b, fieldErr(ErrInvalid, "type", len(b)-start)
	}
	off := len(b) - start
	b, mark := BeginVec(b, 2)
	for i := range c.Extensions {
		eo := len(b) - start
		if b, err = c.Extensions[i].Append(b); err != nil {
			return b, indexErr(err, "extensions", i, eo)
		}
	}
	if b, err = EndVec(b, mark, 2); err != nil {
		return b, fieldErr(err, "extensions", off)
	}
	return b, nil
}

// Clone returns a deep copy of c that does not alias the decoded input.
func (c *IceCandidate) Clone() IceCandidate {
	d := *c
	d.AddrPort = c.AddrPort.Clone()
	d.RelAddrPort = c.RelAddrPort.Clone()
	d.Foundation = linkCloneBytes(c.Foundation)
	d.Extensions = nil
	if c.Extensions != nil {
		d.Extensions = make([]IceExtension, len(c.Extensions))
		for i, e := range c.Extensions {
			d.Extensions[i] = IceExtension{Name: linkCloneBytes(e.Name), Value: linkCloneBytes(e.Value)}
		}
	}
	return d
}

// linkDecodeCandidates decodes an IceCandidate list filling b exactly. It
// reuses list's capacity, and each reused element's Extensions capacity.
// Errors name field[i] at base plus the element's offset in b.
func linkDecodeCandidates(list []IceCandidate, b []byte, field string, base int) ([]IceCandidate, error) {
	list = list[:0]
	for o := 0; o < len(b); {
		if len(list) < cap(list) {
			list = list[:len(list)+1]
		} else {
			list = append(list, IceCandidate{})
		}
		n, err := list[len(list)-1].Decode(b[o:])
		if err != nil {
			return list[:len(list)-1], indexErr(err, field, len(list)-1, base+o)
		}
		o += n
	}
	return list, nil
}

// linkAppendCandidates appends list with its 16-bit length prefix.
func linkAppendCandidates(b []byte, list []IceCandidate, field string, base int) ([]byte, error) {
	start := len(b)
	b, mark := BeginVec(b, 2)
	var err error
	for i := range list {
		off := base + len(b) - start
		if b, err = list[i].Append(b); err != nil {
			return b, indexErr(err, field, i, off)
		}
	}
	if b, err = EndVec(b, mark, 2); err != nil {
		return b, fieldErr(err, field, base)
	}
	return b, nil
}

func linkCandidatesLen(list []IceCandidate) int {
	n := 2
	for i := range list {
		n += list[i].Len()
	}
	return n
}

func linkCloneCandidates(list []IceCandidate) []IceCandidate {
	if list == nil {
		return nil
	}
	out := make([]IceCandidate, len(list))
	for i := range list {
		out[i] = list[i].Clone()
	}
	return out
}

func linkCloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// AttachReqAns is the body of both attach_req and attach_ans (RFC 6940
// §6.5.1.1):
//
//	struct {
//	  opaque                ufrag<0..2^8-1>;
//	  opaque                password<0..2^8-1>;
//	  opaque                role<0..2^8-1>;
//	  IceCandidate          candidates<0..2^16-1>;
//	  Boolean               send_update;
//	} AttachReqAns;
//
// Role is "passive" in a request and "active" in an answer. The slices
// alias the decoded input; Decode reuses the capacity of Candidates (and
// of their Extensions), so decoding into a reused value does not allocate.
// Decode does not check that No-ICE and ICE candidates are not mixed.
type AttachReqAns struct {
	Ufrag      []byte
	Password   []byte
	Role       []byte
	Candidates []IceCandidate
	SendUpdate bool
}

// Len is the encoded size.
func (a *AttachReqAns) Len() int {
	return 3 + len(a.Ufrag) + len(a.Password) + len(a.Role) + linkCandidatesLen(a.Candidates) + 1
}

// Decode reads an AttachReqAns that fills b exactly.
func (a *AttachReqAns) Decode(b []byte) (int, error) {
	r := NewReader(b)
	ufrag, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "AttachReqAns.ufrag", 0)
	}
	off := r.Offset()
	pwd, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "AttachReqAns.password", off)
	}
	off = r.Offset()
	role, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "AttachReqAns.role", off)
	}
	off = r.Offset()
	cands, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "AttachReqAns.candidates", off)
	}
	a.Ufrag, a.Password, a.Role = ufrag, pwd, role
	if a.Candidates, err = linkDecodeCandidates(a.Candidates, cands, "AttachReqAns.candidates", off+2); err != nil {
		return 0, err
	}
	off = r.Offset()
	if a.SendUpdate, err = r.ReadBool(); err != nil {
		return 0, fieldErr(err, "AttachReqAns.send_update", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "AttachReqAns", r.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of a.
func (a *AttachReqAns) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := AppendVec8(b, a.Ufrag)
	if err != nil {
		return b, fieldErr(err, "AttachReqAns.ufrag", 0)
	}
	if b, err = AppendVec8(b, a.Password); err != nil {
		return b, fieldErr(err, "AttachReqAns.password", len(b)-start)
	}
	if b, err = AppendVec8(b, a.Role); err != nil {
		return b, fieldErr(err, "AttachReqAns.role", len(b)-start)
	}
	if b, err = linkAppendCandidates(b, a.Candidates, "AttachReqAns.candidates", len(b)-start); err != nil {
		return b, err
	}
	return AppendBool(b, a.SendUpdate), nil
}

// Clone returns a deep copy of a that does not alias the decoded input.
func (a *AttachReqAns) Clone() AttachReqAns {
	return AttachReqAns{
		Ufrag:      linkCloneBytes(a.Ufrag),
		Password:   linkCloneBytes(a.Password),
		Role:       linkCloneBytes(a.Role),
		Candidates: linkCloneCandidates(a.Candidates),
		SendUpdate: a.SendUpdate,
	}
}

// AppAttachReq is the body of app_attach_req (RFC 6940 §6.5.2.1):
//
//	struct {
//	  opaque                  ufrag<0..2^8-1>;
//	  opaque                  password<0..2^8-1>;
//	  uint16                  application;
//	  opaque                  role<0..2^8-1>;
//	  IceCandidate            candidates<0..2^16-1>;
//	} AppAttachReq;
//
// Application is the Application-ID (RFC 6940 §14.5; 5060 SIP, 5061
// SIPS). The slices alias the decoded input; Decode reuses the capacity of
// Candidates.
type AppAttachReq struct {
	Ufrag       []byte
	Password    []byte
	Application uint16
	Role        []byte
	Candidates  []IceCandidate
}

// AppAttachAns is the body of app_attach_ans (RFC 6940 §6.5.2.2); it has
// the layout of AppAttachReq:
//
//	struct {
//	  opaque                  ufrag<0..2^8-1>;
//	  opaque                  password<0..2^8-1>;
//	  uint16                  application;
//	  opaque                  role<0..2^8-1>;
//	  IceCandidate            candidates<0..2^16-1>;
//	} AppAttachAns;
type AppAttachAns AppAttachReq

// Len is the encoded size.
func (a *AppAttachReq) Len() int {
	return 3 + len(a.Ufrag) + len(a.Password) + 2 + len(a.Role) + linkCandidatesLen(a.Candidates)
}

// Decode reads an AppAttachReq that fills b exactly.
func (a *AppAttachReq) Decode(b []byte) (int, error) { return a.decode(b, "AppAttachReq") }

// Append appends the encoding of a.
func (a *AppAttachReq) Append(b []byte) ([]byte, error) { return a.append(b, "AppAttachReq") }

// Clone returns a deep copy of a that does not alias the decoded input.
func (a *AppAttachReq) Clone() AppAttachReq {
	return AppAttachReq{
		Ufrag:       linkCloneBytes(a.Ufrag),
		Password:    linkCloneBytes(a.Password),
		Application: a.Application,
		Role:        linkCloneBytes(a.Role),
		Candidates:  linkCloneCandidates(a.Candidates),
	}
}

// Len is the encoded size.
func (a *AppAttachAns) Len() int { return (*AppAttachReq)(a).Len() }

// Decode reads an AppAttachAns that fills b exactly.
func (a *AppAttachAns) Decode(b []byte) (int, error) {
	return (*AppAttachReq)(a).decode(b, "AppAttachAns")
}

// Append appends the encoding of a.
func (a *AppAttachAns) Append(b []byte) ([]byte, error) {
	return (*AppAttachReq)(a).append(b, "AppAttachAns")
}

// Clone returns a deep copy of a that does not alias the decoded input.
func (a *AppAttachAns) Clone() AppAttachAns { return AppAttachAns((*AppAttachReq)(a).Clone()) }

func (a *AppAttachReq) decode(b []byte, name string) (int, error) {
	r := NewReader(b)
	ufrag, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, name+".ufrag", 0)
	}
	off := r.Offset()
	pwd, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, name+".password", off)
	}
	off = r.Offset()
	app, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, name+".application", off)
	}
	off = r.Offset()
	role, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, name+".role", off)
	}
	off = r.Offset()
	cands, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, name+".candidates", off)
	}
	a.Ufrag, a.Password, a.Application, a.Role = ufrag, pwd, app, role
	if a.Candidates, err = linkDecodeCandidates(a.Candidates, cands, name+".candidates", off+2); err != nil {
		return 0, err
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, name, r.Offset())
	}
	return r.Offset(), nil
}

func (a *AppAttachReq) append(b []byte, name string) ([]byte, error) {
	start := len(b)
	b, err := AppendVec8(b, a.Ufrag)
	if err != nil {
		return b, fieldErr(err, name+".ufrag", 0)
	}
	if b, err = AppendVec8(b, a.Password); err != nil {
		return b, fieldErr(err, name+".password", len(b)-start)
	}
	b = AppendU16(b, a.Application)
	if b, err = AppendVec8(b, a.Role); err != nil {
		return b, fieldErr(err, name+".role", len(b)-start)
	}
	return linkAppendCandidates(b, a.Candidates, name+".candidates", len(b)-start)
}

// PingReq is the body of ping_req (RFC 6940 §6.5.3.1):
//
//	struct {
//	  opaque<0..2^16-1> padding;
//	} PingReq;
//
// Padding (meaningless, used to probe the path MTU) aliases the decoded
// input.
type PingReq struct {
	Padding []byte
}

// Len is the encoded size.
func (p *PingReq) Len() int { return 2 + len(p.Padding) }

// Decode reads a PingReq that fills b exactly.
func (p *PingReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	pad, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "PingReq.padding", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "PingReq", r.Offset())
	}
	p.Padding = pad
	return r.Offset(), nil
}

// Append appends the encoding of p.
func (p *PingReq) Append(b []byte) ([]byte, error) {
	b, err := AppendVec16(slices.Grow(b, 2+len(p.Padding)), p.Padding)
	if err != nil {
		return b, fieldErr(err, "PingReq.padding", 0)
	}
	return b, nil
}

// PingAns is the body of ping_ans (RFC 6940 §6.5.3.2):
//
//	struct {
//	  uint64                 response_id;
//	  uint64                 time;
//	} PingAns;
//
// Time is in milliseconds since the Unix epoch, like storage_time (§7).
type PingAns struct {
	ResponseID uint64
	Time       uint64
}

// Len is the encoded size.
func (p *PingAns) Len() int { return 16 }

// Decode reads a PingAns that fills b exactly.
func (p *PingAns) Decode(b []byte) (int, error) {
	r := NewReader(b)
	id, err := r.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "PingAns.response_id", 0)
	}
	t, err := r.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "PingAns.time", 8)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "PingAns", r.Offset())
	}
	p.ResponseID, p.Time = id, t
	return r.Offset(), nil
}

// Append appends the encoding of p.
func (p *PingAns) Append(b []byte) ([]byte, error) {
	return AppendU64(AppendU64(slices.Grow(b, 16), p.ResponseID), p.Time), nil
}

// ConfigUpdateType is the type of a ConfigUpdateReq (RFC 6940 §6.5.4.1).
type ConfigUpdateType uint8

// Config update types.
const (
	ConfigUpdateInvalid ConfigUpdateType = 0
	ConfigUpdateConfig  ConfigUpdateType = 1
	ConfigUpdateKind    ConfigUpdateType = 2
)

func (t ConfigUpdateType) String() string {
	switch t {
	case ConfigUpdateInvalid:
		return "invalidConfigUpdateType"
	case ConfigUpdateConfig:
		return "config"
	case ConfigUpdateKind:
		return "kind"
	}
	return "ConfigUpdateType(" + strconv.Itoa(int(t)) + ")"
}

// ConfigUpdateReq is the body of config_update_req (RFC 6940 §6.5.4.1):
//
//	enum { invalidConfigUpdateType(0), config(1), kind(2), (255) }
//	     ConfigUpdateType;
//
//	typedef uint32           KindId;
//	typedef opaque           KindDescription<0..2^16-1>;
//
//	struct {
//	  ConfigUpdateType       type;
//	  uint32                 length;
//
//	  select (type) {
//	    case config:
//	                opaque             config_data<0..2^24-1>;
//
//	    case kind:
//	                KindDescription    kinds<0..2^24-1>;
//
//	    /* This structure may be extended with new types */
//	  };
//	} ConfigUpdateReq;
//
// ConfigData (type config) is the Configuration Document; Kinds (type
// kind) holds each KindDescription, an XML kind-block. The structure may be
// extended, so an unknown type keeps the length-delimited remainder in Raw.
// length must match the select exactly. The slices alias the decoded input;
// Decode reuses the capacity of Kinds.
type ConfigUpdateReq struct {
	Type       ConfigUpdateType
	ConfigData []byte
	Kinds      [][]byte
	Raw        []byte
}

// bodyLen is the value of the length field.
func (c *ConfigUpdateReq) bodyLen() int {
	switch c.Type {
	case ConfigUpdateConfig:
		return 3 + len(c.ConfigData)
	case ConfigUpdateKind:
		n := 3
		for _, k := range c.Kinds {
			n += 2 + len(k)
		}
		return n
	}
	return len(c.Raw)
}

// Len is the encoded size.
func (c *ConfigUpdateReq) Len() int { return 5 + c.bodyLen() }

func configUpdateBodyField(t ConfigUpdateType) string {
	switch t {
	case ConfigUpdateConfig:
		return "ConfigUpdateReq.config_data"
	case ConfigUpdateKind:
		return "ConfigUpdateReq.kinds"
	}
	return "ConfigUpdateReq.value"
}

// Decode reads a ConfigUpdateReq that fills b exactly.
func (c *ConfigUpdateReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "ConfigUpdateReq.type", 0)
	}
	typ := ConfigUpdateType(t)
	if typ == ConfigUpdateInvalid {
		return 0, fieldErr(ErrInvalid, "ConfigUpdateReq.type", 0)
	}
	l, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "ConfigUpdateReq.length", 1)
	}
	if uint64(l) > uint64(r.Len()) {
		return 0, fieldErr(ErrTruncated, configUpdateBodyField(typ), 5)
	}
	body, _ := r.ReadFixed(int(l))
	c.Type, c.ConfigData, c.Raw = typ, nil, nil
	c.Kinds = c.Kinds[:0]
	br := NewReader(body)
	switch typ {
	case ConfigUpdateConfig:
		if c.ConfigData, err = br.ReadVec24(); err != nil {
			return 0, fieldErr(err, "ConfigUpdateReq.config_data", 5)
		}
	case ConfigUpdateKind:
		kinds, err := br.ReadVec24()
		if err != nil {
			return 0, fieldErr(err, "ConfigUpdateReq.kinds", 5)
		}
		kr := NewReader(kinds)
		for !kr.Empty() {
			off := kr.Offset()
			k, err := kr.ReadVec16()
			if err != nil {
				return 0, indexErr(err, "ConfigUpdateReq.kinds", len(c.Kinds), 5+3+off)
			}
			c.Kinds = append(c.Kinds, k)
		}
	default:
		c.Raw = br.Rest()
	}
	if !br.Empty() {
		return 0, fieldErr(ErrTrailingData, "ConfigUpdateReq", 5+br.Offset())
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ConfigUpdateReq", r.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of c.
func (c *ConfigUpdateReq) Append(b []byte) ([]byte, error) {
	if c.Type == ConfigUpdateInvalid {
		return b, fieldErr(ErrInvalid, "ConfigUpdateReq.type", 0)
	}
	n := c.bodyLen()
	if uint64(n) > 0xffffffff {
		return b, fieldErr(ErrTooLong, "ConfigUpdateReq.length", 1)
	}
	b = append(b, byte(c.Type))
	b = AppendU32(b, uint32(n))
	var err error
	switch c.Type {
	case ConfigUpdateConfig:
		if b, err = AppendVec24(b, c.ConfigData); err != nil {
			return b, fieldErr(err, "ConfigUpdateReq.config_data", 5)
		}
	case ConfigUpdateKind:
		var mark int
		b, mark = BeginVec(b, 3)
		for i, k := range c.Kinds {
			if b, err = AppendVec16(b, k); err != nil {
				return b, indexErr(err, "ConfigUpdateReq.kinds", i, 5)
			}
		}
		if b, err = EndVec(b, mark, 3); err != nil {
			return b, fieldErr(err, "ConfigUpdateReq.kinds", 5)
		}
	default:
		b = append(b, c.Raw...)
	}
	return b, nil
}

// ConfigUpdateAns is the body of config_update_ans (RFC 6940 §6.5.4.2),
// which is empty:
//
//	struct {
//	} ConfigUpdateAns;
type ConfigUpdateAns struct{}

// Len is the encoded size (0).
func (*ConfigUpdateAns) Len() int { return 0 }

// Decode accepts only an empty b.
func (*ConfigUpdateAns) Decode(b []byte) (int, error) { return linkDecodeEmpty(b, "ConfigUpdateAns") }

// Append appends nothing.
func (*ConfigUpdateAns) Append(b []byte) ([]byte, error) { return b, nil }

// linkDecodeEmpty is Decode for an empty body.
func linkDecodeEmpty(b []byte, name string) (int, error) {
	if len(b) != 0 {
		return 0, fieldErr(ErrTrailingData, name, 0)
	}
	return 0, nil
}

// ProbeInformationType names a piece of status information in a Probe
// (RFC 6940 §6.4.2.5.1, IANA "RELOAD Probe Information Types", §14.13).
type ProbeInformationType uint8

// Probe information types.
const (
	ProbeInvalid        ProbeInformationType = 0
	ProbeResponsibleSet ProbeInformationType = 1
	ProbeNumResources   ProbeInformationType = 2
	ProbeUptime         ProbeInformationType = 3
	ProbeExp            ProbeInformationType = 4
)

func (t ProbeInformationType) String() string {
	switch t {
	case ProbeInvalid:
		return "invalidProbeInformationType"
	case ProbeResponsibleSet:
		return "responsible_set"
	case ProbeNumResources:
		return "num_resources"
	case ProbeUptime:
		return "uptime"
	case ProbeExp:
		return "exp-probe"
	}
	return "ProbeInformationType(" + strconv.Itoa(int(t)) + ")"
}

// hasU32 reports whether the value of t is the RFC's uint32.
func (t ProbeInformationType) hasU32() bool {
	return t == ProbeResponsibleSet || t == ProbeNumResources || t == ProbeUptime
}

// ProbeReq is the body of probe_req (RFC 6940 §6.4.2.5.1):
//
//	enum { invalidProbeInformationType(0), responsible_set(1),
//	       num_resources(2), uptime(3), (255) }
//	     ProbeInformationType;
//
//	struct {
//	  ProbeInformationType     requested_info<0..2^8-1>;
//	} ProbeReq;
//
// Unknown requested types are kept (the responder ignores what it does not
// recognise); 0 is ErrInvalid. Decode reuses the capacity of RequestedInfo.
type ProbeReq struct {
	RequestedInfo []ProbeInformationType
}

// Len is the encoded size.
func (p *ProbeReq) Len() int { return 1 + len(p.RequestedInfo) }

// Decode reads a ProbeReq that fills b exactly.
func (p *ProbeReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	v, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "ProbeReq.requested_info", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ProbeReq", r.Offset())
	}
	p.RequestedInfo = p.RequestedInfo[:0]
	for i, t := range v {
		if t == 0 {
			return 0, indexErr(ErrInvalid, "ProbeReq.requested_info", i, 1+i)
		}
		p.RequestedInfo = append(p.RequestedInfo, ProbeInformationType(t))
	}
	return r.Offset(), nil
}

// Append appends the encoding of p.
func (p *ProbeReq) Append(b []byte) ([]byte, error) {
	if len(p.RequestedInfo) > 0xff {
		return b, fieldErr(ErrTooLong, "ProbeReq.requested_info", 0)
	}
	b = append(b, byte(len(p.RequestedInfo)))
	for i, t := range p.RequestedInfo {
		if t == ProbeInvalid {
			return b, indexErr(ErrInvalid, "ProbeReq.requested_info", i, 1+i)
		}
		b = append(b, byte(t))
	}
	return b, nil
}

// ProbeInformation is one answer element of a ProbeAns (RFC 6940
// §6.4.2.5.2):
//
//	struct {
//	  select (type) {
//	    case responsible_set:
//	      uint32             responsible_ppb;
//
//	    case num_resources:
//	      uint32             num_resources;
//
//	    case uptime:
//	      uint32             uptime;
//
//	    /* This type may be extended */
//	  };
//	} ProbeInformationData;
//
//	struct {
//	  ProbeInformationType    type;
//	  uint8                   length;
//	  ProbeInformationData    value;
//	} ProbeInformation;
//
// For responsible_set, num_resources and uptime, Value holds the uint32
// (length must be 4). Any other type (exp-probe and unknown ones) keeps its
// value bytes in Raw, aliasing the decoded input; 0 is ErrInvalid.
type ProbeInformation struct {
	Type  ProbeInformationType
	Value uint32
	Raw   []byte
}

// Len is the encoded size.
func (p *ProbeInformation) Len() int {
	if p.Type.hasU32() {
		return 6
	}
	return 2 + len(p.Raw)
}

// Decode reads a ProbeInformation from the start of b.
func (p *ProbeInformation) Decode(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, fieldErr(ErrTruncated, "type", 0)
	}
	t := ProbeInformationType(b[0])
	if t == ProbeInvalid {
		return 0, fieldErr(ErrInvalid, "type", 0)
	}
	if len(b) < 2 {
		return 0, fieldErr(ErrTruncated, "length", 1)
	}
	n := int(b[1])
	if len(b) < 2+n {
		return 0, fieldErr(ErrTruncated, "value", 2)
	}
	v := b[2 : 2+n : 2+n]
	if t.hasU32() {
		if n < 4 {
			return 0, fieldErr(ErrTruncated, "value", 2)
		}
		if n > 4 {
			return 0, fieldErr(ErrTrailingData, "value", 2+4)
		}
		*p = ProbeInformation{Type: t, Value: uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])}
	} else {
		*p = ProbeInformation{Type: t, Raw: v}
	}
	return 2 + n, nil
}

// Append appends the encoding of p.
func (p *ProbeInformation) Append(b []byte) ([]byte, error) {
	switch {
	case p.Type == ProbeInvalid:
		return b, fieldErr(ErrInvalid, "type", 0)
	case p.Type.hasU32():
		return AppendU32(append(b, byte(p.Type), 4), p.Value), nil
	case len(p.Raw) > 0xff:
		return b, fieldErr(ErrTooLong, "length", 1)
	}
	b = append(b, byte(p.Type), byte(len(p.Raw)))
	return append(b, p.Raw...), nil
}

// ProbeAns is the body of probe_ans (RFC 6940 §6.4.2.5.2):
//
//	struct {
//	  ProbeInformation        probe_info<0..2^16-1>;
//	} ProbeAns;
//
// Decode reuses the capacity of ProbeInfo.
type ProbeAns struct {
	ProbeInfo []ProbeInformation
}

// Len is the encoded size.
func (p *ProbeAns) Len() int {
	n := 2
	for i := range p.ProbeInfo {
		n += p.ProbeInfo[i].Len()
	}
	return n
}

// Decode reads a ProbeAns that fills b exactly.
func (p *ProbeAns) Decode(b []byte) (int, error) {
	r := NewReader(b)
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "ProbeAns.probe_info", 0)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ProbeAns", r.Offset())
	}
	p.ProbeInfo = p.ProbeInfo[:0]
	for o := 0; o < len(v); {
		var pi ProbeInformation
		n, err := pi.Decode(v[o:])
		if err != nil {
			return 0, indexErr(err, "ProbeAns.probe_info", len(p.ProbeInfo), 2+o)
		}
		p.ProbeInfo = append(p.ProbeInfo, pi)
		o += n
	}
	return r.Offset(), nil
}

// Append appends the encoding of p.
func (p *ProbeAns) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, mark := BeginVec(b, 2)
	var err error
	for i := range p.ProbeInfo {
		off := len(b) - start
		if b, err = p.ProbeInfo[i].Append(b); err != nil {
			return b, indexErr(err, "ProbeAns.probe_info", i, off)
		}
	}
	if b, err = EndVec(b, mark, 2); err != nil {
		return b, fieldErr(err, "ProbeAns.probe_info", 0)
	}
	return b, nil
}
