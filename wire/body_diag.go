package wire

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// This file holds the P2P overlay diagnostics structures of RFC 7851: the
// DiagnosticsRequest / DiagnosticsResponse pair shared by the extended Ping
// and by PathTrack, the PathTrack bodies (message codes 0x27 / 0x28), the
// dMFlags bits and the §5.3 encodings of the base diagnostic values.
//
// Layout decision for ext_length (RFC 7851 §5.1, §5.2, §6.1): the RFC
// writes "uint32 ext_length;" followed by a list "<0..2^32-1>" and says that
// ext_length is the byte length "of the data making up the
// diagnostic_extensions_list" and MUST be zero when the list is empty. This
// package reads ext_length as the list's own 32-bit length prefix: on the
// wire ext_length is followed directly by the list entries, not by a second
// length prefix. (Wireshark's draft-era dissector puts a length before
// dMFlags and a second prefix before the list; it is not followed here.)

// DiagnosticKindID identifies a kind of diagnostic information (RFC 7851
// §5.1, §9.2):
//
//	enum{ (2^16-1) } DiagnosticKindId;
//
// Kinds 0x0001-0x003e are the base kinds, requested through the dMFlags bit
// of the same number; 0xf000-0xfffe are for local, overlay-specific use.
type DiagnosticKindID uint16

// Diagnostic Kind IDs (RFC 7851 §9.2; Wireshark numbers them from a draft
// and is off by one from 0x0004 upward).
const (
	DiagReserved            DiagnosticKindID = 0x0000
	DiagStatusInfo          DiagnosticKindID = 0x0001
	DiagRoutingTableSize    DiagnosticKindID = 0x0002
	DiagProcessPower        DiagnosticKindID = 0x0003
	DiagUpstreamBandwidth   DiagnosticKindID = 0x0004
	DiagDownstreamBandwidth DiagnosticKindID = 0x0005
	DiagSoftwareVersion     DiagnosticKindID = 0x0006
	DiagMachineUptime       DiagnosticKindID = 0x0007
	DiagAppUptime           DiagnosticKindID = 0x0008
	DiagMemoryFootprint     DiagnosticKindID = 0x0009
	DiagDatasizeStored      DiagnosticKindID = 0x000a
	DiagInstancesStored     DiagnosticKindID = 0x000b
	DiagMessagesSentRcvd    DiagnosticKindID = 0x000c
	DiagEWMABytesSent       DiagnosticKindID = 0x000d
	DiagEWMABytesRcvd       DiagnosticKindID = 0x000e
	DiagUnderlayHop         DiagnosticKindID = 0x000f
	DiagBatteryStatus       DiagnosticKindID = 0x0010

	// DiagMaxBase is the highest Kind-ID that may be requested by dMFlags
	// bit and so MUST NOT appear in a diagnostic_extensions_list
	// (kinds 0x0000-0x003f, RFC 7851 §5.1).
	DiagMaxBase DiagnosticKindID = 0x003f
	// DiagLocalFirst..DiagLocalLast are for overlay-specific diagnostics.
	DiagLocalFirst DiagnosticKindID = 0xf000
	DiagLocalLast  DiagnosticKindID = 0xfffe
	// DiagReservedLast is reserved.
	DiagReservedLast DiagnosticKindID = 0xffff
)

var diagKindNames = [...]string{
	"reserved", "STATUS_INFO", "ROUTING_TABLE_SIZE", "PROCESS_POWER", "UPSTREAM_BANDWIDTH",
	"DOWNSTREAM_BANDWIDTH", "SOFTWARE_VERSION", "MACHINE_UPTIME", "APP_UPTIME", "MEMORY_FOOTPRINT",
	"DATASIZE_STORED", "INSTANCES_STORED", "MESSAGES_SENT_RCVD", "EWMA_BYTES_SENT", "EWMA_BYTES_RCVD",
	"UNDERLAY_HOP", "BATTERY_STATUS",
}

func (k DiagnosticKindID) String() string {
	if int(k) < len(diagKindNames) {
		return diagKindNames[k]
	}
	return "DiagnosticKindID(0x" + strconv.FormatUint(uint64(k), 16) + ")"
}

// IsBase reports whether k is in the range 0x0000-0x003f reserved for kinds
// requested through dMFlags.
func (k DiagnosticKindID) IsBase() bool { return k <= DiagMaxBase }

// IsLocal reports whether k is in the local-use range 0xf000-0xfffe.
func (k DiagnosticKindID) IsLocal() bool { return k >= DiagLocalFirst && k <= DiagLocalLast }

// Flag is the dMFlags bit that requests k: 1<<k for kinds 0x0001-0x003e.
// Other kinds have no flag.
func (k DiagnosticKindID) Flag() (DMFlags, bool) {
	if k < 1 || k > 62 {
		return 0, false
	}
	return DMFlags(1) << k, true
}

// DMFlags is the dMFlags field of a DiagnosticsRequest (RFC 7851 §5.1,
// §5.3, §9.1): bit k (value 1<<k) requests diagnostic Kind-ID k. Bits 0
// and 63 are reserved and MUST be 0, except in the all-ones value, which
// requests everything; zero requests nothing.
type DMFlags uint64

// dMFlags bits (RFC 7851 §9.1).
const (
	DMFlagsNone               DMFlags = 0
	DMFlagReservedFirst       DMFlags = 1 << 0
	DMFlagStatusInfo          DMFlags = 1 << DiagStatusInfo
	DMFlagRoutingTableSize    DMFlags = 1 << DiagRoutingTableSize
	DMFlagProcessPower        DMFlags = 1 << DiagProcessPower
	DMFlagUpstreamBandwidth   DMFlags = 1 << DiagUpstreamBandwidth
	DMFlagDownstreamBandwidth DMFlags = 1 << DiagDownstreamBandwidth
	DMFlagSoftwareVersion     DMFlags = 1 << DiagSoftwareVersion
	DMFlagMachineUptime       DMFlags = 1 << DiagMachineUptime
	DMFlagAppUptime           DMFlags = 1 << DiagAppUptime
	DMFlagMemoryFootprint     DMFlags = 1 << DiagMemoryFootprint
	DMFlagDatasizeStored      DMFlags = 1 << DiagDatasizeStored
	DMFlagInstancesStored     DMFlags = 1 << DiagInstancesStored
	DMFlagMessagesSentRcvd    DMFlags = 1 << DiagMessagesSentRcvd
	DMFlagEWMABytesSent       DMFlags = 1 << DiagEWMABytesSent
	DMFlagEWMABytesRcvd       DMFlags = 1 << DiagEWMABytesRcvd
	DMFlagUnderlayHop         DMFlags = 1 << DiagUnderlayHop
	DMFlagBatteryStatus       DMFlags = 1 << DiagBatteryStatus
	DMFlagReservedLast        DMFlags = 1 << 63
	DMFlagsAll                DMFlags = ^DMFlags(0)

	dmFlagsReserved  = DMFlagReservedFirst | DMFlagReservedLast
	dmFlagsFirstKind = 1
	dmFlagsLastKind  = 62
)

// Valid reports whether f obeys RFC 7851 §5.3: all zeros, all ones, or
// both reserved bits (0 and 63) clear.
func (f DMFlags) Valid() bool { return f == DMFlagsAll || f&dmFlagsReserved == 0 }

// Has reports whether f requests kind k (the all-ones value requests every
// base kind 0x0001-0x003e).
func (f DMFlags) Has(k DiagnosticKindID) bool {
	bit, ok := k.Flag()
	return ok && f&bit != 0
}

// Kind is the Kind-ID requested by the single flag bit f.
func (f DMFlags) Kind() (DiagnosticKindID, bool) {
	if f == 0 || f&(f-1) != 0 || f&dmFlagsReserved != 0 {
		return 0, false
	}
	k := DiagnosticKindID(0)
	for f > 1 {
		f >>= 1
		k++
	}
	return k, true
}

// AppendKinds appends the Kind-IDs that f requests, in increasing order;
// for the all-ones value these are all of 0x0001-0x003e. It appends
// nothing when f is not Valid.
func (f DMFlags) AppendKinds(dst []DiagnosticKindID) []DiagnosticKindID {
	if !f.Valid() {
		return dst
	}
	for k := DiagnosticKindID(dmFlagsFirstKind); k <= dmFlagsLastKind; k++ {
		if f&(DMFlags(1)<<k) != 0 {
			dst = append(dst, k)
		}
	}
	return dst
}

// FlagsFor is the dMFlags value that requests kinds; kinds without a flag
// are ignored.
func FlagsFor(kinds ...DiagnosticKindID) DMFlags {
	var f DMFlags
	for _, k := range kinds {
		if bit, ok := k.Flag(); ok {
			f |= bit
		}
	}
	return f
}

func (f DMFlags) String() string {
	if f == DMFlagsNone {
		return "none"
	}
	if f == DMFlagsAll {
		return "all"
	}
	var sb strings.Builder
	for i := range 64 {
		bit := DMFlags(1) << i
		if f&bit == 0 {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('|')
		}
		switch {
		case bit&dmFlagsReserved != 0:
			sb.WriteString("reserved(" + strconv.Itoa(i) + ")")
		default:
			sb.WriteString(DiagnosticKindID(i).String())
		}
	}
	return sb.String()
}

// DiagnosticExtension asks for one extended (non-base) kind of diagnostic
// information (RFC 7851 §5.1):
//
//	struct{
//	    DiagnosticKindId kind;
//	    opaque  diagnostic_extension_contents<0..2^32-1>;
//	}DiagnosticExtension;
//
// Kinds 0x0000-0x003f MUST NOT be used here (they are asked for through
// dMFlags); Decode and Append reject them with ErrInvalid. Contents aliases
// the decoded input.
type DiagnosticExtension struct {
	Kind     DiagnosticKindID
	Contents []byte
}

// Len is the encoded size.
func (e *DiagnosticExtension) Len() int { return 6 + len(e.Contents) }

// Decode reads one DiagnosticExtension from the start of b.
func (e *DiagnosticExtension) Decode(b []byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	if DiagnosticKindID(k).IsBase() {
		return 0, fieldErr(ErrInvalid, "kind", 0)
	}
	c, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "diagnostic_extension_contents", 2)
	}
	e.Kind, e.Contents = DiagnosticKindID(k), c
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *DiagnosticExtension) Append(b []byte) ([]byte, error) {
	if e.Kind.IsBase() {
		return b, fieldErr(ErrInvalid, "kind", 0)
	}
	b = AppendU16(b, uint16(e.Kind))
	b, err := AppendVec32(b, e.Contents)
	if err != nil {
		return b, fieldErr(err, "diagnostic_extension_contents", 2)
	}
	return b, nil
}

// diagReadList32 reads a uint32 byte length (ext_length) and cuts the
// window it announces. It reports failures against field lenName or
// listName at the right offsets relative to r's buffer.
func diagReadList32(r *Reader, lenName, listName string) ([]byte, error) {
	off := r.Offset()
	n, err := r.ReadU32()
	if err != nil {
		return nil, fieldErr(err, lenName, off)
	}
	if uint64(n) > uint64(r.Len()) {
		return nil, fieldErr(ErrTruncated, listName, off+4)
	}
	w, _ := r.ReadFixed(int(n))
	return w, nil
}

// DiagnosticsRequest asks for diagnostic information (RFC 7851 §5.1):
//
//	struct{
//	    uint64 expiration;
//	    uint64 timestamp_initiated;
//	    uint64 dMFlags;
//	    uint32 ext_length;
//	    DiagnosticExtension diagnostic_extensions_list<0..2^32-1>;
//	 }DiagnosticsRequest;
//
// Expiration and TimestampInitiated are milliseconds since the Unix epoch.
// ext_length is the byte length of diagnostic_extensions_list and is that
// list's only length prefix (see the note at the top of this file); it is
// computed by Append, not stored.
//
// A DiagnosticsRequest travels in two places: as the request field of a
// PathTrackReq, and as the extension_contents of a Diagnostic_Ping
// MessageExtension (type ExtDiagnosticPing 0x2, critical FALSE) in a Ping
// request (RFC 7851 §4.2.1, §6.1). In the second case decode it with
// DecodeExact, which requires the contents to be consumed exactly.
//
// Decode is the sub-structure form: it returns the bytes consumed and
// leaves anything after the list alone. It reuses the capacity of
// Extensions; extension contents alias the input. Decode rejects a dMFlags
// value that is not Valid.
type DiagnosticsRequest struct {
	Expiration         uint64
	TimestampInitiated uint64
	Flags              DMFlags
	Extensions         []DiagnosticExtension
}

// diagRequestFixedLen is the size of the fields before the list,
// including ext_length.
const diagRequestFixedLen = 28

// ExtLength is the value of ext_length: the byte length of the list.
func (d *DiagnosticsRequest) ExtLength() int {
	n := 0
	for i := range d.Extensions {
		n += d.Extensions[i].Len()
	}
	return n
}

// Len is the encoded size.
func (d *DiagnosticsRequest) Len() int { return diagRequestFixedLen + d.ExtLength() }

// Decode reads a DiagnosticsRequest from the start of b.
func (d *DiagnosticsRequest) Decode(b []byte) (int, error) {
	if len(b) < 24 {
		switch {
		case len(b) < 8:
			return 0, fieldErr(ErrTruncated, "expiration", 0)
		case len(b) < 16:
			return 0, fieldErr(ErrTruncated, "timestamp_initiated", 8)
		default:
			return 0, fieldErr(ErrTruncated, "dMFlags", 16)
		}
	}
	f := DMFlags(binary.BigEndian.Uint64(b[16:]))
	if !f.Valid() {
		return 0, fieldErr(ErrInvalid, "dMFlags", 16)
	}
	r := NewReader(b)
	_ = r.Skip(24)
	w, err := diagReadList32(&r, "ext_length", "diagnostic_extensions_list")
	if err != nil {
		return 0, err
	}
	d.Expiration = binary.BigEndian.Uint64(b)
	d.TimestampInitiated = binary.BigEndian.Uint64(b[8:])
	d.Flags = f
	d.Extensions = d.Extensions[:0]
	for o := 0; o < len(w); {
		var e DiagnosticExtension
		n, err := e.Decode(w[o:])
		if err != nil {
			return 0, indexErr(err, "diagnostic_extensions_list", len(d.Extensions), diagRequestFixedLen+o)
		}
		d.Extensions = append(d.Extensions, e)
		o += n
	}
	return r.Offset(), nil
}

// DecodeExact decodes a DiagnosticsRequest that fills b exactly, as in the
// extension_contents of a Diagnostic_Ping extension. Error paths start
// with "DiagnosticsRequest".
func (d *DiagnosticsRequest) DecodeExact(b []byte) error {
	n, err := d.Decode(b)
	if err != nil {
		return fieldErr(err, "DiagnosticsRequest", 0)
	}
	if n != len(b) {
		return fieldErr(ErrTrailingData, "DiagnosticsRequest", n)
	}
	return nil
}

// Append appends the encoding of d.
func (d *DiagnosticsRequest) Append(b []byte) ([]byte, error) {
	if !d.Flags.Valid() {
		return b, fieldErr(ErrInvalid, "dMFlags", 16)
	}
	b = AppendU64(b, d.Expiration)
	b = AppendU64(b, d.TimestampInitiated)
	b = AppendU64(b, uint64(d.Flags))
	b, mark := BeginVec(b, 4)
	var err error
	for i := range d.Extensions {
		o := len(b) - mark - 4
		if b, err = d.Extensions[i].Append(b); err != nil {
			return b, indexErr(err, "diagnostic_extensions_list", i, diagRequestFixedLen+o)
		}
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "ext_length", 24)
	}
	return b, nil
}

// DiagnosticInfo is one piece of returned diagnostic information (RFC 7851
// §5.2):
//
//	struct{
//	    DiagnosticKindId kind;
//	    opaque diagnostic_info_contents<0..2^16-1>;
//	}DiagnosticInfo;
//
// For base kinds the contents use the encodings of RFC 7851 §5.3; see
// Uint, DecodeDiagU8 and the other value helpers in this file. Contents
// aliases the decoded input.
type DiagnosticInfo struct {
	Kind     DiagnosticKindID
	Contents []byte
}

// Len is the encoded size.
func (d *DiagnosticInfo) Len() int { return 4 + len(d.Contents) }

// Decode reads one DiagnosticInfo from the start of b.
func (d *DiagnosticInfo) Decode(b []byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	c, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "diagnostic_info_contents", 2)
	}
	d.Kind, d.Contents = DiagnosticKindID(k), c
	return r.Offset(), nil
}

// Append appends the encoding of d.
func (d *DiagnosticInfo) Append(b []byte) ([]byte, error) {
	b = AppendU16(b, uint16(d.Kind))
	b, err := AppendVec16(b, d.Contents)
	if err != nil {
		return b, fieldErr(err, "diagnostic_info_contents", 2)
	}
	return b, nil
}

// Uint reads the contents of a fixed-size base kind (STATUS_INFO,
// ROUTING_TABLE_SIZE, PROCESS_POWER, the bandwidths, the uptimes,
// MEMORY_FOOTPRINT, DATASIZE_STORED, the EWMAs, UNDERLAY_HOP,
// BATTERY_STATUS) as an unsigned integer. Other kinds are ErrInvalid; a
// wrong size is ErrTruncated or ErrTrailingData.
func (d *DiagnosticInfo) Uint() (uint64, error) {
	switch DiagValueSize(d.Kind) {
	case 1:
		v, err := DecodeDiagU8(d.Contents)
		return uint64(v), err
	case 4:
		v, err := DecodeDiagU32(d.Contents)
		return uint64(v), err
	case 8:
		return DecodeDiagU64(d.Contents)
	}
	return 0, fieldErr(ErrInvalid, "kind", 0)
}

// DiagnosticsResponse returns diagnostic information (RFC 7851 §5.2):
//
//	struct{
//	    uint64 expiration;
//	    uint64 timestamp_initiated;
//	    uint64 timestamp_received;
//	    uint8 hop_counter;
//	    uint32 ext_length;
//	    DiagnosticInfo diagnostic_info_list<0..2^32-1>;
//	}DiagnosticsResponse;
//
// Times are milliseconds since the Unix epoch; HopCounter is the TTL of the
// request's forwarding header. ext_length is the byte length of
// diagnostic_info_list and is that list's only length prefix (see the note
// at the top of this file); Append computes it.
//
// A DiagnosticsResponse is the response field of a PathTrackAns. For the
// extended Ping, RFC 7851 §6.3 has the responsible peer build a
// DiagnosticsResponse but does not say where the Ping answer carries it;
// this package assumes, as the counterpart of §4.2.1, a Diagnostic_Ping
// MessageExtension (type 0x2, critical FALSE) on the PingAns whose
// extension_contents is the DiagnosticsResponse; decode it with
// DecodeExact.
//
// Decode is the sub-structure form and reuses the capacity of Info;
// contents alias the input.
type DiagnosticsResponse struct {
	Expiration         uint64
	TimestampInitiated uint64
	TimestampReceived  uint64
	HopCounter         uint8
	Info               []DiagnosticInfo
}

// diagResponseFixedLen is the size of the fields before the list,
// including ext_length.
const diagResponseFixedLen = 29

// ExtLength is the value of ext_length: the byte length of the list.
func (d *DiagnosticsResponse) ExtLength() int {
	n := 0
	for i := range d.Info {
		n += d.Info[i].Len()
	}
	return n
}

// Len is the encoded size.
func (d *DiagnosticsResponse) Len() int { return diagResponseFixedLen + d.ExtLength() }

// Decode reads a DiagnosticsResponse from the start of b.
func (d *DiagnosticsResponse) Decode(b []byte) (int, error) {
	if len(b) < 25 {
		switch {
		case len(b) < 8:
			return 0, fieldErr(ErrTruncated, "expiration", 0)
		case len(b) < 16:
			return 0, fieldErr(ErrTruncated, "timestamp_initiated", 8)
		case len(b) < 24:
			return 0, fieldErr(ErrTruncated, "timestamp_received", 16)
		default:
			return 0, fieldErr(ErrTruncated, "hop_counter", 24)
		}
	}
	r := NewReader(b)
	_ = r.Skip(25)
	w, err := diagReadList32(&r, "ext_length", "diagnostic_info_list")
	if err != nil {
		return 0, err
	}
	d.Expiration = binary.BigEndian.Uint64(b)
	d.TimestampInitiated = binary.BigEndian.Uint64(b[8:])
	d.TimestampReceived = binary.BigEndian.Uint64(b[16:])
	d.HopCounter = b[24]
	d.Info = d.Info[:0]
	for o := 0; o < len(w); {
		var e DiagnosticInfo
		n, err := e.Decode(w[o:])
		if err != nil {
			return 0, indexErr(err, "diagnostic_info_list", len(d.Info), diagResponseFixedLen+o)
		}
		d.Info = append(d.Info, e)
		o += n
	}
	return r.Offset(), nil
}

// DecodeExact decodes a DiagnosticsResponse that fills b exactly. Error
// paths start with "DiagnosticsResponse".
func (d *DiagnosticsResponse) DecodeExact(b []byte) error {
	n, err := d.Decode(b)
	if err != nil {
		return fieldErr(err, "DiagnosticsResponse", 0)
	}
	if n != len(b) {
		return fieldErr(ErrTrailingData, "DiagnosticsResponse", n)
	}
	return nil
}

// Append appends the encoding of d.
func (d *DiagnosticsResponse) Append(b []byte) ([]byte, error) {
	b = AppendU64(b, d.Expiration)
	b = AppendU64(b, d.TimestampInitiated)
	b = AppendU64(b, d.TimestampReceived)
	b = append(b, d.HopCounter)
	b, mark := BeginVec(b, 4)
	var err error
	for i := range d.Info {
		o := len(b) - mark - 4
		if b, err = d.Info[i].Append(b); err != nil {
			return b, indexErr(err, "diagnostic_info_list", i, diagResponseFixedLen+o)
		}
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "ext_length", 25)
	}
	return b, nil
}

// Lookup returns the first DiagnosticInfo of kind k.
func (d *DiagnosticsResponse) Lookup(k DiagnosticKindID) (*DiagnosticInfo, bool) {
	for i := range d.Info {
		if d.Info[i].Kind == k {
			return &d.Info[i], true
		}
	}
	return nil, false
}

// PathTrackReq is the body of a path_track_req (0x27) message (RFC 7851
// §4.3.1.1):
//
//	struct{
//	    Destination destination;
//	    DiagnosticsRequest request;
//	}PathTrackReq;
//
// Decode requires b to be consumed exactly. Slices alias the input; the
// capacity of Request.Extensions is reused.
type PathTrackReq struct {
	Destination Destination
	Request     DiagnosticsRequest
}

// Len is the encoded size.
func (p *PathTrackReq) Len() int { return p.Destination.Len() + p.Request.Len() }

// Decode reads a PathTrackReq that fills b exactly.
func (p *PathTrackReq) Decode(b []byte) (int, error) {
	n, err := p.Destination.Decode(b)
	if err != nil {
		return 0, fieldErr(err, "PathTrackReq.destination", 0)
	}
	m, err := p.Request.Decode(b[n:])
	if err != nil {
		return 0, fieldErr(err, "PathTrackReq.request", n)
	}
	if n+m != len(b) {
		return 0, fieldErr(ErrTrailingData, "PathTrackReq", n+m)
	}
	return n + m, nil
}

// Append appends the encoding of p.
func (p *PathTrackReq) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := p.Destination.Append(b)
	if err != nil {
		return b, fieldErr(err, "PathTrackReq.destination", 0)
	}
	off := len(b) - start
	if b, err = p.Request.Append(b); err != nil {
		return b, fieldErr(err, "PathTrackReq.request", off)
	}
	return b, nil
}

// PathTrackAns is the body of a path_track_ans (0x28) message (RFC 7851
// §4.3.1.2):
//
//	struct{
//	     Destination next_hop;
//	     DiagnosticsResponse response;
//	 }PathTrackAns;
//
// Decode requires b to be consumed exactly. Slices alias the input; the
// capacity of Response.Info is reused.
type PathTrackAns struct {
	NextHop  Destination
	Response DiagnosticsResponse
}

// Len is the encoded size.
func (p *PathTrackAns) Len() int { return p.NextHop.Len() + p.Response.Len() }

// Decode reads a PathTrackAns that fills b exactly.
func (p *PathTrackAns) Decode(b []byte) (int, error) {
	n, err := p.NextHop.Decode(b)
	if err != nil {
		return 0, fieldErr(err, "PathTrackAns.next_hop", 0)
	}
	m, err := p.Response.Decode(b[n:])
	if err != nil {
		return 0, fieldErr(err, "PathTrackAns.response", n)
	}
	if n+m != len(b) {
		return 0, fieldErr(ErrTrailingData, "PathTrackAns", n+m)
	}
	return n + m, nil
}

// Append appends the encoding of p.
func (p *PathTrackAns) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := p.NextHop.Append(b)
	if err != nil {
		return b, fieldErr(err, "PathTrackAns.next_hop", 0)
	}
	off := len(b) - start
	if b, err = p.Response.Append(b); err != nil {
		return b, fieldErr(err, "PathTrackAns.response", off)
	}
	return b, nil
}

// Value encodings of the base diagnostic kinds (RFC 7851 §5.3). Decoders
// take the whole diagnostic_info_contents and require it to have exactly
// the right size: short is ErrTruncated, long is ErrTrailingData, both
// reported on the field "diagnostic_info_contents". None allocates.

// DiagValueSize is the fixed size in bytes of the value of base kind k
// (1, 4 or 8), or 0 for variable-size (SOFTWARE_VERSION, INSTANCES_STORED,
// MESSAGES_SENT_RCVD) and unknown kinds.
func DiagValueSize(k DiagnosticKindID) int {
	if int(k) < len(diagValueSizes) {
		return int(diagValueSizes[k])
	}
	return 0
}

// diagValueSizes is indexed by Kind-ID (RFC 7851 §5.3).
var diagValueSizes = [...]uint8{
	DiagStatusInfo:          1,
	DiagRoutingTableSize:    4,
	DiagProcessPower:        8,
	DiagUpstreamBandwidth:   8,
	DiagDownstreamBandwidth: 8,
	DiagSoftwareVersion:     0,
	DiagMachineUptime:       8,
	DiagAppUptime:           8,
	DiagMemoryFootprint:     8,
	DiagDatasizeStored:      8,
	DiagInstancesStored:     0,
	DiagMessagesSentRcvd:    0,
	DiagEWMABytesSent:       4,
	DiagEWMABytesRcvd:       4,
	DiagUnderlayHop:         1,
	DiagBatteryStatus:       1,
}

func diagFixed(c []byte, n int) error {
	switch {
	case len(c) < n:
		return fieldErr(ErrTruncated, "diagnostic_info_contents", 0)
	case len(c) > n:
		return fieldErr(ErrTrailingData, "diagnostic_info_contents", n)
	}
	return nil
}

// DecodeDiagU8 reads a one-byte value (STATUS_INFO, UNDERLAY_HOP,
// BATTERY_STATUS).
func DecodeDiagU8(c []byte) (uint8, error) {
	if err := diagFixed(c, 1); err != nil {
		return 0, err
	}
	return c[0], nil
}

// DecodeDiagU32 reads a 32-bit value (ROUTING_TABLE_SIZE, EWMA_BYTES_SENT,
// EWMA_BYTES_RCVD).
func DecodeDiagU32(c []byte) (uint32, error) {
	if err := diagFixed(c, 4); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(c), nil
}

// DecodeDiagU64 reads a 64-bit value (PROCESS_POWER, UPSTREAM_BANDWIDTH,
// DOWNSTREAM_BANDWIDTH, MACHINE_UPTIME, APP_UPTIME, MEMORY_FOOTPRINT,
// DATASIZE_STORED).
func DecodeDiagU64(c []byte) (uint64, error) {
	if err := diagFixed(c, 8); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(c), nil
}

// AppendDiagU8 appends a one-byte value.
func AppendDiagU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendDiagU32 appends a 32-bit value.
func AppendDiagU32(b []byte, v uint32) []byte { return AppendU32(b, v) }

// AppendDiagU64 appends a 64-bit value.
func AppendDiagU64(b []byte, v uint64) []byte { return AppendU64(b, v) }

// AppendDiagUint appends v in the fixed size of base kind k; ErrInvalid
// when k has no fixed size, ErrTooLong when v does not fit it.
func AppendDiagUint(b []byte, k DiagnosticKindID, v uint64) ([]byte, error) {
	switch DiagValueSize(k) {
	case 1:
		if v > 0xff {
			return b, ErrTooLong
		}
		return append(b, byte(v)), nil
	case 4:
		if v > 0xffffffff {
			return b, ErrTooLong
		}
		return AppendU32(b, uint32(v)), nil
	case 8:
		return AppendU64(b, v), nil
	}
	return b, ErrInvalid
}

// StatusCongestionMask selects the congestion level (0x0 no load to 0xf
// congested) in a STATUS_INFO byte; the other bits MUST be sent as 0
// (RFC 7851 §5.3). Receivers mask them off.
const StatusCongestionMask = 0x0f

// AppendStatusInfo appends a STATUS_INFO value; levels above 0x0f are
// ErrInvalid.
func AppendStatusInfo(b []byte, congestion uint8) ([]byte, error) {
	if congestion > StatusCongestionMask {
		return b, ErrInvalid
	}
	return append(b, congestion), nil
}

// DecodeStatusInfo reads a STATUS_INFO value and returns its congestion
// level (the low 4 bits; the reserved high bits are ignored).
func DecodeStatusInfo(c []byte) (uint8, error) {
	v, err := DecodeDiagU8(c)
	return v & StatusCongestionMask, err
}

// BatteryOnBattery is the top bit of a BATTERY_STATUS byte, which is CLEAR
// when the peer runs on battery (RFC 7851 §5.3); the low 7 bits are
// application-defined.
const BatteryOnBattery = 0x80

// OnBattery reports whether a BATTERY_STATUS value says the peer runs on
// battery (its top bit is 0).
func OnBattery(status uint8) bool { return status&BatteryOnBattery == 0 }

// AppendSoftwareVersion appends a SOFTWARE_VERSION value: s followed by the
// terminating NUL. s must not contain NUL (ErrInvalid). The RFC asks for
// US-ASCII; that is not checked.
func AppendSoftwareVersion(b []byte, s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return b, ErrInvalid
	}
	b = append(b, s...)
	return append(b, 0), nil
}

// DecodeSoftwareVersion reads a SOFTWARE_VERSION value and returns the
// string without its NUL, aliasing c. A missing terminator is
// ErrTruncated; a NUL before the last byte is ErrInvalid.
func DecodeSoftwareVersion(c []byte) ([]byte, error) {
	if len(c) == 0 || c[len(c)-1] != 0 {
		return nil, fieldErr(ErrTruncated, "diagnostic_info_contents", len(c))
	}
	s := c[: len(c)-1 : len(c)-1]
	for i, ch := range s {
		if ch == 0 {
			return nil, fieldErr(ErrInvalid, "diagnostic_info_contents", i)
		}
	}
	return s, nil
}

// InstancesStored is a decoded INSTANCES_STORED value (RFC 7851 §5.3): "an
// array element containing the number of instances of each kind stored.
// The array is indexed by Kind-ID. Each entry is an unsigned 64-bit
// integer." The contents are read as that array packed end to end with no
// count or prefix of its own (the DiagnosticInfo length delimits it), so
// entry i holds the count for Kind-ID i. It aliases the contents.
type InstancesStored []byte

// DecodeInstancesStored checks that c is a whole number of 8-byte entries.
func DecodeInstancesStored(c []byte) (InstancesStored, error) {
	if r := len(c) % 8; r != 0 {
		return nil, fieldErr(ErrTruncated, "diagnostic_info_contents", len(c)-r)
	}
	return InstancesStored(c), nil
}

// Len is the number of entries (the highest Kind-ID reported plus one).
func (s InstancesStored) Len() int { return len(s) / 8 }

// Count is the number of instances of Kind-ID kind; 0 beyond the array.
func (s InstancesStored) Count(kind uint32) uint64 {
	if uint64(kind) >= uint64(s.Len()) {
		return 0
	}
	return binary.BigEndian.Uint64(s[8*int(kind):])
}

// AppendInstancesStored appends an INSTANCES_STORED value whose entry i is
// counts[i], the number of instances of Kind-ID i.
func AppendInstancesStored(b []byte, counts []uint64) []byte {
	for _, c := range counts {
		b = AppendU64(b, c)
	}
	return b
}

// SentRcvd is one entry of MESSAGES_SENT_RCVD.
type SentRcvd struct {
	Sent, Rcvd uint64
}

// MessagesSentRcvd is a decoded MESSAGES_SENT_RCVD value (RFC 7851 §5.3):
// "an array element containing the number of messages sent and received.
// The array is indexed by method code. Each entry in the array is a pair of
// unsigned 64-bit integers (packed end to end) representing sent and
// received." As for InstancesStored there is no count or prefix: entry i
// (16 bytes, sent then received) is for code i. It aliases the contents.
type MessagesSentRcvd []byte

// DecodeMessagesSentRcvd checks that c is a whole number of 16-byte
// entries.
func DecodeMessagesSentRcvd(c []byte) (MessagesSentRcvd, error) {
	if r := len(c) % 16; r != 0 {
		return nil, fieldErr(ErrTruncated, "diagnostic_info_contents", len(c)-r)
	}
	return MessagesSentRcvd(c), nil
}

// Len is the number of entries.
func (m MessagesSentRcvd) Len() int { return len(m) / 16 }

// At is the entry for code i; zero beyond the array.
func (m MessagesSentRcvd) At(i int) SentRcvd {
	if i < 0 || i >= m.Len() {
		return SentRcvd{}
	}
	e := m[16*i:]
	return SentRcvd{Sent: binary.BigEndian.Uint64(e), Rcvd: binary.BigEndian.Uint64(e[8:])}
}

// AppendMessagesSentRcvd appends a MESSAGES_SENT_RCVD value whose entry i
// is entries[i].
func AppendMessagesSentRcvd(b []byte, entries []SentRcvd) []byte {
	for _, e := range entries {
		b = AppendU64(b, e.Sent)
		b = AppendU64(b, e.Rcvd)
	}
	return b
}

// CheckDiagValue checks that c is a well-formed value for base kind k
// (RFC 7851 §5.3). Kinds without a defined encoding are accepted as is.
func CheckDiagValue(k DiagnosticKindID, c []byte) error {
	if n := DiagValueSize(k); n != 0 {
		return diagFixed(c, n)
	}
	var err error
	if k == DiagSoftwareVersion {
		_, err = DecodeSoftwareVersion(c)
	} else if k == DiagInstancesStored {
		_, err = DecodeInstancesStored(c)
	} else if k == DiagMessagesSentRcvd {
		_, err = DecodeMessagesSentRcvd(c)
	}
	return err
}
