package wire

import (
	"encoding/binary"
	"strconv"
)

// Fixed forwarding-header values (RFC 6940 §6.3.2).
const (
	ReloToken = 0xd2454c4f // "RELO" with the high bit of the first byte set
	Version10 = 0x0a       // RELOAD 1.0
	// FixedHeaderLen is the size of the forwarding header before its lists.
	FixedHeaderLen = 38
	// DefaultTTL is the initial TTL RFC 6940 recommends (and initial-ttl's
	// default).
	DefaultTTL = 100
)

// Fragment field bits (RFC 6940 §6.3.2, §6.7).
const (
	FragmentHistoric  = 0x80000000 // MUST be set
	FragmentLast      = 0x40000000 // last (or only) fragment
	FragmentReserved  = 0x3f000000 // SHOULD be zero
	FragmentOffset    = 0x00ffffff
	FragmentUnfragmed = FragmentHistoric | FragmentLast // 0xC0000000: a whole message
)

// ForwardingOptionType identifies a forwarding option (RFC 6940 §6.3.2.3,
// IANA "RELOAD Forwarding Option Registry").
type ForwardingOptionType uint8

// Registered forwarding options.
const (
	OptionInvalid              ForwardingOptionType = 0
	OptionExpForward           ForwardingOptionType = 1 // RFC 6940 §14.12
	OptionExtensiveRoutingMode ForwardingOptionType = 2 // RFC 7263 §5.2.2, RFC 7264 §5.2.1
)

func (t ForwardingOptionType) String() string {
	switch t {
	case OptionInvalid:
		return "invalidForwardingOption"
	case OptionExpForward:
		return "exp-forward"
	case OptionExtensiveRoutingMode:
		return "extensive_routing_mode"
	}
	return "ForwardingOptionType(" + strconv.Itoa(int(t)) + ")"
}

// Forwarding option flags (RFC 6940 §6.3.2.3).
const (
	FlagForwardCritical     = 0x01
	FlagDestinationCritical = 0x02
	FlagResponseCopy        = 0x04
)

// ForwardingOption is one option of the forwarding header (RFC 6940
// §6.3.2.3):
//
//	struct {
//	  ForwardingOptionType      type;
//	  uint8                     flags;
//	  uint16                    length;
//	  select (type) { /* This type may be extended */ };
//	} ForwardingOption;
//
// Value is the raw option value whatever the type, so unknown options
// round-trip byte for byte; it aliases the decoded input. Decode
// ExtensiveRoutingModeOption from Value for type 2.
type ForwardingOption struct {
	Type  ForwardingOptionType
	Flags uint8
	Value []byte
}

// ForwardCritical reports the FORWARD_CRITICAL flag.
func (o *ForwardingOption) ForwardCritical() bool { return o.Flags&FlagForwardCritical != 0 }

// DestinationCritical reports the DESTINATION_CRITICAL flag.
func (o *ForwardingOption) DestinationCritical() bool {
	return o.Flags&FlagDestinationCritical != 0
}

// ResponseCopy reports the RESPONSE_COPY flag.
func (o *ForwardingOption) ResponseCopy() bool { return o.Flags&FlagResponseCopy != 0 }

// Len is the encoded size.
func (o *ForwardingOption) Len() int { return 4 + len(o.Value) }

// Decode reads one option from the start of b.
func (o *ForwardingOption) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "type", 0)
	}
	f, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "flags", 1)
	}
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "length", 2)
	}
	if t == uint8(OptionInvalid) {
		return 0, fieldErr(ErrInvalid, "type", 0)
	}
	*o = ForwardingOption{Type: ForwardingOptionType(t), Flags: f, Value: v}
	return r.Offset(), nil
}

// Append appends the encoding of o.
func (o *ForwardingOption) Append(b []byte) ([]byte, error) {
	b = append(b, byte(o.Type), o.Flags)
	b, err := AppendVec16(b, o.Value)
	if err != nil {
		return b, fieldErr(err, "length", 2)
	}
	return b, nil
}

// ForwardingHeader is the first part of every RELOAD message (RFC 6940
// §6.3.2):
//
//	struct {
//	  uint32             relo_token;
//	  uint32             overlay;
//	  uint16             configuration_sequence;
//	  uint8              version;
//	  uint8              ttl;
//	  uint32             fragment;
//	  uint32             length;
//	  uint64             transaction_id;
//	  uint32             max_response_length;
//	  uint16             via_list_length;
//	  uint16             destination_list_length;
//	  uint16             options_length;
//	  Destination        via_list[via_list_length];
//	  Destination        destination_list[destination_list_length];
//	  ForwardingOption   options[options_length];
//	} ForwardingHeader;
//
// The three list lengths are not fields: Append derives them from the
// lists. Decode reuses the capacity of Via, Destinations and Options, so a
// header kept across messages decodes without allocating; their entries
// alias the decoded input.
//
// Decode checks structure only (token, lengths, list entries). Version,
// fragment bits and TTL are kept as received; Check applies the RFC's rules
// for them, so tools can still show a message from a non-conforming peer.
type ForwardingHeader struct {
	Overlay           uint32
	ConfigSequence    uint16
	Version           uint8
	TTL               uint8
	Fragment          uint32
	Length            uint32
	TransactionID     uint64
	MaxResponseLength uint32
	Via               []Destination
	Destinations      []Destination
	Options           []ForwardingOption
}

// Len is the encoded size of the header.
func (h *ForwardingHeader) Len() int {
	n := FixedHeaderLen + destListLen(h.Via) + destListLen(h.Destinations)
	for i := range h.Options {
		n += h.Options[i].Len()
	}
	return n
}

// Decode reads a forwarding header from the start of b and returns its
// size. The bytes after it (MessageContents and SecurityBlock, or a
// fragment of them) are left alone.
func (h *ForwardingHeader) Decode(b []byte) (int, error) {
	if len(b) < FixedHeaderLen {
		return 0, h.truncatedFixed(len(b))
	}
	if binary.BigEndian.Uint32(b) != ReloToken {
		return 0, fieldErr(ErrInvalid, "ForwardingHeader.relo_token", 0)
	}
	h.Overlay = binary.BigEndian.Uint32(b[4:])
	h.ConfigSequence = binary.BigEndian.Uint16(b[8:])
	h.Version = b[10]
	h.TTL = b[11]
	h.Fragment = binary.BigEndian.Uint32(b[12:])
	h.Length = binary.BigEndian.Uint32(b[16:])
	h.TransactionID = binary.BigEndian.Uint64(b[20:])
	h.MaxResponseLength = binary.BigEndian.Uint32(b[28:])
	viaLen := int(binary.BigEndian.Uint16(b[32:]))
	dstLen := int(binary.BigEndian.Uint16(b[34:]))
	optLen := int(binary.BigEndian.Uint16(b[36:]))
	off := FixedHeaderLen
	if len(b)-off < viaLen {
		return 0, fieldErr(ErrTruncated, "ForwardingHeader.via_list", off)
	}
	var err error
	if h.Via, err = decodeDestList(h.Via, b[off:off+viaLen], "ForwardingHeader.via_list"); err != nil {
		return 0, fieldErr(err, "", off)
	}
	off += viaLen
	if len(b)-off < dstLen {
		return 0, fieldErr(ErrTruncated, "ForwardingHeader.destination_list", off)
	}
	if h.Destinations, err = decodeDestList(h.Destinations, b[off:off+dstLen], "ForwardingHeader.destination_list"); err != nil {
		return 0, fieldErr(err, "", off)
	}
	off += dstLen
	if len(b)-off < optLen {
		return 0, fieldErr(ErrTruncated, "ForwardingHeader.options", off)
	}
	h.Options = h.Options[:0]
	opts := b[off : off+optLen]
	for o := 0; o < len(opts); {
		var opt ForwardingOption
		n, err := opt.Decode(opts[o:])
		if err != nil {
			return 0, indexErr(err, "ForwardingHeader.options", len(h.Options), off+o)
		}
		h.Options = append(h.Options, opt)
		o += n
	}
	off += optLen
	if int64(h.Length) < int64(off) {
		return 0, fieldErr(ErrInvalid, "ForwardingHeader.length", 16)
	}
	return off, nil
}

// truncatedFixed names the fixed field that a short input cuts.
func (h *ForwardingHeader) truncatedFixed(n int) error {
	fields := [...]struct {
		end  int
		name string
	}{
		{4, "relo_token"}, {8, "overlay"}, {10, "configuration_sequence"}, {11, "version"},
		{12, "ttl"}, {16, "fragment"}, {20, "length"}, {28, "transaction_id"},
		{32, "max_response_length"}, {34, "via_list_length"}, {36, "destination_list_length"},
		{38, "options_length"},
	}
	start := 0
	for _, f := range fields {
		if n < f.end {
			return fieldErr(ErrTruncated, "ForwardingHeader."+f.name, start)
		}
		start = f.end
	}
	return fieldErr(ErrTruncated, "ForwardingHeader", 0)
}

// Append appends the header. The length field is written as h.Length; use
// AppendMessage or SetLength to make it match the message.
func (h *ForwardingHeader) Append(b []byte) ([]byte, error) {
	viaLen, dstLen := destListLen(h.Via), destListLen(h.Destinations)
	optLen := 0
	for i := range h.Options {
		optLen += h.Options[i].Len()
	}
	if viaLen > 0xffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.via_list", FixedHeaderLen)
	}
	if dstLen > 0xffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.destination_list", FixedHeaderLen+viaLen)
	}
	if optLen > 0xffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.options", FixedHeaderLen+viaLen+dstLen)
	}
	b = AppendU32(b, ReloToken)
	b = AppendU32(b, h.Overlay)
	b = AppendU16(b, h.ConfigSequence)
	b = append(b, h.Version, h.TTL)
	b = AppendU32(b, h.Fragment)
	b = AppendU32(b, h.Length)
	b = AppendU64(b, h.TransactionID)
	b = AppendU32(b, h.MaxResponseLength)
	b = AppendU16(b, uint16(viaLen))
	b = AppendU16(b, uint16(dstLen))
	b = AppendU16(b, uint16(optLen))
	var err error
	if b, err = appendDestList(b, h.Via, "ForwardingHeader.via_list"); err != nil {
		return b, err
	}
	if b, err = appendDestList(b, h.Destinations, "ForwardingHeader.destination_list"); err != nil {
		return b, err
	}
	for i := range h.Options {
		if b, err = h.Options[i].Append(b); err != nil {
			return b, indexErr(err, "ForwardingHeader.options", i, 0)
		}
	}
	return b, nil
}

// AppendMessage appends the header followed by rest (the encoded
// MessageContents and SecurityBlock, or a fragment of them), with the
// length field set to the size of the result. This is the transit
// rewrite: decode the header, change TTL, via and destination lists, then
// AppendMessage with the untouched remainder of the original message.
func (h *ForwardingHeader) AppendMessage(b, rest []byte) ([]byte, error) {
	total := h.Len() + len(rest)
	if total > 0xffffffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.length", 16)
	}
	h.Length = uint32(total)
	b, err := h.Append(b)
	if err != nil {
		return b, err
	}
	return append(b, rest...), nil
}

// AppendForRest appends only the header, with the length field set for a
// message whose bytes after the header are restLen long. A transit hop uses
// it to rewrite the header without touching or copying the rest: it sends
// the new header followed by the original remainder (for example as
// net.Buffers), so its cost does not grow with the message body.
func (h *ForwardingHeader) AppendForRest(b []byte, restLen int) ([]byte, error) {
	total := h.Len() + restLen
	if restLen < 0 || total > 0xffffffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.length", 16)
	}
	h.Length = uint32(total)
	return h.Append(b)
}

// IsFragment reports whether the message is a fragment of a larger one
// (not the only fragment at offset 0).
func (h *ForwardingHeader) IsFragment() bool {
	return h.Fragment&FragmentLast == 0 || h.Fragment&FragmentOffset != 0
}

// FragmentOffsetBytes is the fragment's offset: the number of bytes
// between the end of the forwarding header and the fragment's data.
func (h *ForwardingHeader) FragmentOffsetBytes() int { return int(h.Fragment & FragmentOffset) }

// LastFragment reports the last-fragment bit.
func (h *ForwardingHeader) LastFragment() bool { return h.Fragment&FragmentLast != 0 }

// Check applies the RFC 6940 §6.3.2 rules that Decode leaves to the
// receiver: version 1.0, the historic fragment bit set, and a TTL no larger
// than initialTTL (0 means DefaultTTL). The returned *ProtocolError carries
// the error code a node answers with.
func (h *ForwardingHeader) Check(initialTTL uint8) error {
	if initialTTL == 0 {
		initialTTL = DefaultTTL
	}
	if h.Version != Version10 {
		return &ProtocolError{Code: ErrCodeInvalidMessage, Info: []byte("unsupported version " + strconv.Itoa(int(h.Version))),
			Err: fieldErr(ErrInvalid, "ForwardingHeader.version", 10)}
	}
	if h.Fragment&FragmentHistoric == 0 {
		return &ProtocolError{Code: ErrCodeInvalidMessage, Info: []byte("fragment high bit not set"),
			Err: fieldErr(ErrInvalid, "ForwardingHeader.fragment", 12)}
	}
	if h.TTL > initialTTL {
		return &ProtocolError{Code: ErrCodeTTLExceeded, Info: []byte("ttl above initial-ttl"),
			Err: fieldErr(ErrInvalid, "ForwardingHeader.ttl", 11)}
	}
	return nil
}

// UnknownCriticalOption returns the first option that a node must reject
// because it does not understand it (RFC 6940 §6.3.2.3): one whose
// FORWARD_CRITICAL flag is set when forwarding, or whose
// DESTINATION_CRITICAL flag is set when answering. known reports which
// option types the node understands.
func (h *ForwardingHeader) UnknownCriticalOption(forwarding bool, known func(ForwardingOptionType) bool) (*ForwardingOption, bool) {
	for i := range h.Options {
		o := &h.Options[i]
		crit := o.DestinationCritical()
		if forwarding {
			crit = o.ForwardCritical()
		}
		if crit && (known == nil || !known(o.Type)) {
			return o, true
		}
	}
	return nil, false
}
