package wire

import (
	"bytes"
	"errors"
	"testing"
)

// usageMalformed is one malformed input: the sentinel and field path the
// decode error must carry.
type usageMalformed struct {
	name string
	in   []byte
	want error
	path string
}

// usageCheckMalformed decodes each case into a fresh T and checks the
// sentinel (errors.Is) and the field path (errors.As *DecodeError).
func usageCheckMalformed[T any, P interface {
	*T
	codec
}](t *testing.T, cases []usageMalformed) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			_, err := P(new(T)).Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Path != tc.path {
				t.Errorf("path = %q, want %q (%v)", de.Path, tc.path, err)
			}
		})
	}
}

// usageCheckCanonical is the fuzz invariant for codecs whose encoding is
// canonical: if b decodes, the round trip holds and re-encoding gives back
// exactly the bytes consumed.
func usageCheckCanonical[T any, P interface {
	*T
	codec
}](t *testing.T, b []byte) P {
	t.Helper()
	checkRoundTrip[T, P](t, b)
	v := P(new(T))
	n, err := v.Decode(b)
	if err != nil {
		return nil
	}
	enc, err := v.Append(nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !bytes.Equal(enc, b[:n]) {
		t.Fatalf("re-encoding differs from input:\n got %x\nwant %x", enc, b[:n])
	}
	return v
}

// usageCat concatenates byte slices (building malformed inputs).
func usageCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func usageHex(t testing.TB, s string) []byte {
	t.Helper()
	return parseHexVector(t, s)
}

var (
	diagNodeA = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	diagResA  = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
)

func wantDiagnosticExtension() *DiagnosticExtension {
	return &DiagnosticExtension{Kind: 0xf001, Contents: []byte{0xab, 0xcd, 0xef}}
}

func wantDiagnosticInfo() *DiagnosticInfo {
	return &DiagnosticInfo{Kind: DiagRoutingTableSize, Contents: []byte{0, 0, 0, 42}}
}

func wantDiagnosticsRequest() *DiagnosticsRequest {
	return &DiagnosticsRequest{
		Expiration:         1700000060000,
		TimestampInitiated: 1700000000000,
		Flags:              DMFlagStatusInfo | DMFlagRoutingTableSize | DMFlagSoftwareVersion,
		Extensions: []DiagnosticExtension{
			{Kind: 0xf001, Contents: []byte{1, 2}},
			{Kind: 0xf002, Contents: []byte{}},
		},
	}
}

func wantDiagnosticsResponse() *DiagnosticsResponse {
	return &DiagnosticsResponse{
		Expiration:         1700000060250,
		TimestampInitiated: 1700000000000,
		TimestampReceived:  1700000000250,
		HopCounter:         95,
		Info: []DiagnosticInfo{
			{Kind: DiagStatusInfo, Contents: []byte{3}},
			{Kind: DiagRoutingTableSize, Contents: []byte{0, 0, 0, 16}},
			{Kind: DiagSoftwareVersion, Contents: []byte("relo/1.0\x00")},
		},
	}
}

func wantPathTrackReq() *PathTrackReq {
	return &PathTrackReq{
		Destination: Destination{Type: DestResource, ID: diagResA},
		Request: DiagnosticsRequest{
			Expiration:         1700000060000,
			TimestampInitiated: 1700000000000,
			Flags:              DMFlagStatusInfo | DMFlagUnderlayHop,
		},
	}
}

func wantPathTrackAns() *PathTrackAns {
	return &PathTrackAns{
		NextHop: Destination{Type: DestNode, ID: diagNodeA},
		Response: DiagnosticsResponse{
			Expiration:         1700000060250,
			TimestampInitiated: 1700000000000,
			TimestampReceived:  1700000000250,
			HopCounter:         98,
			Info: []DiagnosticInfo{
				{Kind: DiagStatusInfo, Contents: []byte{0}},
				{Kind: DiagUnderlayHop, Contents: []byte{4}},
			},
		},
	}
}

func TestDiagnosticKindID(t *testing.T) {
	tests := []struct {
		k    DiagnosticKindID
		name string
		flag DMFlags
	}{
		{DiagStatusInfo, "STATUS_INFO", 0x2},
		{DiagRoutingTableSize, "ROUTING_TABLE_SIZE", 0x4},
		{DiagProcessPower, "PROCESS_POWER", 0x8},
		{DiagUpstreamBandwidth, "UPSTREAM_BANDWIDTH", 0x10},
		{DiagDownstreamBandwidth, "DOWNSTREAM_BANDWIDTH", 0x20},
		{DiagSoftwareVersion, "SOFTWARE_VERSION", 0x40},
		{DiagMachineUptime, "MACHINE_UPTIME", 0x80},
		{DiagAppUptime, "APP_UPTIME", 0x100},
		{DiagMemoryFootprint, "MEMORY_FOOTPRINT", 0x200},
		{DiagDatasizeStored, "DATASIZE_STORED", 0x400},
		{DiagInstancesStored, "INSTANCES_STORED", 0x800},
		{DiagMessagesSentRcvd, "MESSAGES_SENT_RCVD", 0x1000},
		{DiagEWMABytesSent, "EWMA_BYTES_SENT", 0x2000},
		{DiagEWMABytesRcvd, "EWMA_BYTES_RCVD", 0x4000},
		{DiagUnderlayHop, "UNDERLAY_HOP", 0x8000},
		{DiagBatteryStatus, "BATTERY_STATUS", 0x10000},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if int(tc.k) != i+1 {
				t.Errorf("%s = %#x, want %#x (RFC 7851 §9.2)", tc.name, uint16(tc.k), i+1)
			}
			if got := tc.k.String(); got != tc.name {
				t.Errorf("String = %q, want %q", got, tc.name)
			}
			f, ok := tc.k.Flag()
			if !ok || f != tc.flag {
				t.Errorf("Flag = %#x, %v; want %#x (RFC 7851 §9.1)", uint64(f), ok, uint64(tc.flag))
			}
			if k, ok := f.Kind(); !ok || k != tc.k {
				t.Errorf("Kind of %#x = %v, %v", uint64(f), k, ok)
			}
			if !tc.k.IsBase() || tc.k.IsLocal() {
				t.Errorf("IsBase/IsLocal wrong")
			}
		})
	}
	for _, k := range []DiagnosticKindID{0, 63, 64, 0xf000, 0xffff} {
		if _, ok := k.Flag(); ok {
			t.Errorf("kind %#x has a flag", uint16(k))
		}
	}
	if got := DiagnosticKindID(0xf00d).String(); got != "DiagnosticKindID(0xf00d)" {
		t.Errorf("String = %q", got)
	}
	if !DiagnosticKindID(0xf000).IsLocal() || !DiagnosticKindID(0xfffe).IsLocal() || DiagnosticKindID(0xffff).IsLocal() {
		t.Error("IsLocal range wrong")
	}
}

func TestDMFlags(t *testing.T) {
	for _, tc := range []struct {
		f     DMFlags
		valid bool
		s     string
	}{
		{DMFlagsNone, true, "none"},
		{DMFlagsAll, true, "all"},
		{DMFlagStatusInfo | DMFlagBatteryStatus, true, "STATUS_INFO|BATTERY_STATUS"},
		{DMFlagReservedFirst, false, "reserved(0)"},
		{DMFlagReservedLast | DMFlagStatusInfo, false, "STATUS_INFO|reserved(63)"},
	} {
		if tc.f.Valid() != tc.valid {
			t.Errorf("%#x Valid = %v", uint64(tc.f), !tc.valid)
		}
		if s := tc.f.String(); s != tc.s {
			t.Errorf("%#x String = %q, want %q", uint64(tc.f), s, tc.s)
		}
	}
	f := FlagsFor(DiagStatusInfo, DiagSoftwareVersion, 0xf001)
	if f != 0x42 {
		t.Errorf("FlagsFor = %#x", uint64(f))
	}
	if !f.Has(DiagSoftwareVersion) || f.Has(DiagProcessPower) || f.Has(0) {
		t.Error("Has wrong")
	}
	if !DMFlagsAll.Has(DiagBatteryStatus) || !DMFlagsAll.Has(62) || DMFlagsAll.Has(63) {
		t.Error("all-ones Has wrong")
	}
	kinds := f.AppendKinds(nil)
	if len(kinds) != 2 || kinds[0] != DiagStatusInfo || kinds[1] != DiagSoftwareVersion {
		t.Errorf("AppendKinds = %v", kinds)
	}
	if n := len(DMFlagsAll.AppendKinds(nil)); n != 62 {
		t.Errorf("all-ones AppendKinds gave %d kinds, want 62", n)
	}
	if _, ok := (DMFlagStatusInfo | DMFlagProcessPower).Kind(); ok {
		t.Error("Kind of two bits")
	}
}

func TestDecodeDiagnosticExtension(t *testing.T) {
	checkGolden(t, loadVector(t, "diagnostic_extension"), wantDiagnosticExtension())
}

func TestAppendDiagnosticExtension(t *testing.T) {
	vec := loadVector(t, "diagnostic_extension")
	b, err := wantDiagnosticExtension().Append([]byte{0xee})
	if err != nil || !bytes.Equal(b, append([]byte{0xee}, vec...)) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	if _, err := (&DiagnosticExtension{Kind: DiagStatusInfo}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("base kind: err = %v, want ErrInvalid", err)
	}
}

func TestDecodeDiagnosticExtensionTruncated(t *testing.T) {
	checkTruncated[DiagnosticExtension](t, loadVector(t, "diagnostic_extension"))
}

func TestDecodeDiagnosticExtensionMalformed(t *testing.T) {
	usageCheckMalformed[DiagnosticExtension](t, []usageMalformed{
		{"base kind", usageHex(t, "0001 00000000"), ErrInvalid, "kind"},
		{"kind 0x3f", usageHex(t, "003f 00000000"), ErrInvalid, "kind"},
		{"contents too long", usageHex(t, "f001 ffffffff 00"), ErrTruncated, "diagnostic_extension_contents"},
	})
}

func TestDecodeDiagnosticInfo(t *testing.T) {
	checkGolden(t, loadVector(t, "diagnostic_info"), wantDiagnosticInfo())
}

func TestAppendDiagnosticInfo(t *testing.T) {
	vec := loadVector(t, "diagnostic_info")
	b, err := wantDiagnosticInfo().Append(nil)
	if err != nil || !bytes.Equal(b, vec) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	big := &DiagnosticInfo{Kind: 0xf001, Contents: make([]byte, 0x10000)}
	if _, err := big.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized contents: err = %v, want ErrTooLong", err)
	}
	v, err := wantDiagnosticInfo().Uint()
	if err != nil || v != 42 {
		t.Errorf("Uint = %d, %v", v, err)
	}
}

func TestDecodeDiagnosticInfoTruncated(t *testing.T) {
	checkTruncated[DiagnosticInfo](t, loadVector(t, "diagnostic_info"))
}

func TestDecodeDiagnosticInfoMalformed(t *testing.T) {
	usageCheckMalformed[DiagnosticInfo](t, []usageMalformed{
		{"contents past end", usageHex(t, "0002 0005 0000002a"), ErrTruncated, "diagnostic_info_contents"},
		{"empty", nil, ErrTruncated, "kind"},
	})
}

func TestDecodeDiagnosticsRequest(t *testing.T) {
	checkGolden(t, loadVector(t, "diagnostics_request"), wantDiagnosticsRequest())
}

func TestAppendDiagnosticsRequest(t *testing.T) {
	vec := loadVector(t, "diagnostics_request")
	want := wantDiagnosticsRequest()
	if want.ExtLength() != 14 {
		t.Errorf("ExtLength = %d, want 14", want.ExtLength())
	}
	b, err := want.Append([]byte{1, 2, 3})
	if err != nil || !bytes.Equal(b[3:], vec) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	for _, tc := range []struct {
		name string
		d    DiagnosticsRequest
		want error
		path string
	}{
		{"reserved flag", DiagnosticsRequest{Flags: DMFlagReservedFirst | DMFlagStatusInfo}, ErrInvalid, "dMFlags"},
		{"base kind extension", DiagnosticsRequest{Extensions: []DiagnosticExtension{{Kind: 0xf001}, {Kind: DiagAppUptime}}}, ErrInvalid, "diagnostic_extensions_list[1].kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.d.Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("err = %v, want %v at %q", err, tc.want, tc.path)
			}
		})
	}
	all := DiagnosticsRequest{Flags: DMFlagsAll}
	if _, err := all.Append(nil); err != nil {
		t.Errorf("all-ones dMFlags: %v", err)
	}
}

func TestDecodeDiagnosticsRequestTruncated(t *testing.T) {
	checkTruncated[DiagnosticsRequest](t, loadVector(t, "diagnostics_request"))
}

func TestDecodeDiagnosticsRequestMalformed(t *testing.T) {
	vec := loadVector(t, "diagnostics_request")
	head := vec[:16]
	usageCheckMalformed[DiagnosticsRequest](t, []usageMalformed{
		{"reserved first bit", usageCat(head, usageHex(t, "0000000000000003 00000000")), ErrInvalid, "dMFlags"},
		{"reserved last bit", usageCat(head, usageHex(t, "8000000000000000 00000000")), ErrInvalid, "dMFlags"},
		{"ext_length past end", usageCat(vec[:24], usageHex(t, "0000000f"), vec[28:]), ErrTruncated, "diagnostic_extensions_list"},
		{"ext_length huge", usageCat(vec[:24], usageHex(t, "ffffffff")), ErrTruncated, "diagnostic_extensions_list"},
		{"ext_length cuts an extension", usageCat(vec[:24], usageHex(t, "0000000d"), vec[28:41]), ErrTruncated, "diagnostic_extensions_list[1].diagnostic_extension_contents"},
		{"extension contents past ext_length", usageCat(vec[:24], usageHex(t, "00000007 f001 00000002 01")), ErrTruncated, "diagnostic_extensions_list[0].diagnostic_extension_contents"},
		{"base kind in list", usageCat(vec[:24], usageHex(t, "00000006 0010 00000000")), ErrInvalid, "diagnostic_extensions_list[0].kind"},
		{"partial kind in list", usageCat(vec[:24], usageHex(t, "00000007 f001 00000000 f0")), ErrTruncated, "diagnostic_extensions_list[1].kind"},
	})
	// Offsets: the second extension starts at 28 + 8.
	var d DiagnosticsRequest
	_, err := d.Decode(usageCat(vec[:24], usageHex(t, "0000000d"), vec[28:41]))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 36+2 {
		t.Errorf("offset = %v, want 38", err)
	}
	// The sub-structure leaves trailing bytes alone; DecodeExact does not.
	long := usageCat(vec, []byte{0})
	if n, err := d.Decode(long); err != nil || n != len(vec) {
		t.Errorf("Decode with trailing byte = %d, %v", n, err)
	}
	err = d.DecodeExact(long)
	if !errors.Is(err, ErrTrailingData) || !errors.As(err, &de) || de.Path != "DiagnosticsRequest" || de.Offset != len(vec) {
		t.Errorf("DecodeExact = %v", err)
	}
	if err := d.DecodeExact(vec); err != nil {
		t.Errorf("DecodeExact: %v", err)
	}
	err = d.DecodeExact(vec[:20])
	if !errors.Is(err, ErrTruncated) || !errors.As(err, &de) || de.Path != "DiagnosticsRequest.dMFlags" {
		t.Errorf("DecodeExact truncated = %v", err)
	}
}

// TestDiagnosticPingExtension carries a DiagnosticsRequest in a
// Diagnostic_Ping message extension (RFC 7851 §4.2.1, §6.1).
func TestDiagnosticPingExtension(t *testing.T) {
	req := wantDiagnosticsRequest()
	contents, err := req.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	mc := MessageContents{Code: CodePingReq, Extensions: []MessageExtension{{Type: ExtDiagnosticPing, Contents: contents}}}
	enc, err := mc.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got MessageContents
	if _, err := got.Decode(enc); err != nil {
		t.Fatal(err)
	}
	ext, ok := got.Extension(ExtDiagnosticPing)
	if !ok || ext.Critical {
		t.Fatalf("extension missing or critical: %+v", got.Extensions)
	}
	var d DiagnosticsRequest
	if err := d.DecodeExact(ext.Contents); err != nil {
		t.Fatal(err)
	}
	if !equalish(&d, req) {
		t.Errorf("got %+v", d)
	}
}

func TestDecodeDiagnosticsResponse(t *testing.T) {
	checkGolden(t, loadVector(t, "diagnostics_response"), wantDiagnosticsResponse())
}

func TestAppendDiagnosticsResponse(t *testing.T) {
	vec := loadVector(t, "diagnostics_response")
	want := wantDiagnosticsResponse()
	b, err := want.Append(nil)
	if err != nil || !bytes.Equal(b, vec) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	if want.ExtLength() != 26 {
		t.Errorf("ExtLength = %d", want.ExtLength())
	}
	bad := DiagnosticsResponse{Info: []DiagnosticInfo{{Kind: 1}, {Kind: 0xf001, Contents: make([]byte, 0x10000)}}}
	_, err = bad.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "diagnostic_info_list[1].diagnostic_info_contents" {
		t.Errorf("err = %v", err)
	}
	info, ok := want.Lookup(DiagSoftwareVersion)
	if !ok {
		t.Fatal("Lookup")
	}
	s, err := DecodeSoftwareVersion(info.Contents)
	if err != nil || string(s) != "relo/1.0" {
		t.Errorf("software version = %q, %v", s, err)
	}
	if _, ok := want.Lookup(DiagBatteryStatus); ok {
		t.Error("Lookup found a missing kind")
	}
}

func TestDecodeDiagnosticsResponseTruncated(t *testing.T) {
	checkTruncated[DiagnosticsResponse](t, loadVector(t, "diagnostics_response"))
}

func TestDecodeDiagnosticsResponseMalformed(t *testing.T) {
	vec := loadVector(t, "diagnostics_response")
	usageCheckMalformed[DiagnosticsResponse](t, []usageMalformed{
		{"short hop_counter", vec[:24], ErrTruncated, "hop_counter"},
		{"short ext_length", vec[:27], ErrTruncated, "ext_length"},
		{"ext_length past end", usageCat(vec[:25], usageHex(t, "0000001b"), vec[29:]), ErrTruncated, "diagnostic_info_list"},
		{"info past ext_length", usageCat(vec[:25], usageHex(t, "00000004 0001 0001 03")), ErrTruncated, "diagnostic_info_list[0].diagnostic_info_contents"},
		{"partial entry", usageCat(vec[:25], usageHex(t, "00000006 0001 0001 03 00")), ErrTruncated, "diagnostic_info_list[1].kind"},
	})
	var d DiagnosticsResponse
	var de *DecodeError
	err := d.DecodeExact(usageCat(vec, []byte{9, 9}))
	if !errors.Is(err, ErrTrailingData) || !errors.As(err, &de) || de.Path != "DiagnosticsResponse" {
		t.Errorf("DecodeExact = %v", err)
	}
}

func TestDecodePathTrackReq(t *testing.T) {
	checkGolden(t, loadVector(t, "path_track_req"), wantPathTrackReq())
}

func TestAppendPathTrackReq(t *testing.T) {
	vec := loadVector(t, "path_track_req")
	b, err := wantPathTrackReq().Append(nil)
	if err != nil || !bytes.Equal(b, vec) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	bad := wantPathTrackReq()
	bad.Request.Flags = DMFlagReservedLast
	_, err = bad.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "PathTrackReq.request.dMFlags" || de.Offset != 19+16 {
		t.Errorf("err = %v", err)
	}
	bad = wantPathTrackReq()
	bad.Destination.Type = DestInvalid
	if _, err = bad.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "PathTrackReq.destination.type" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodePathTrackReqTruncated(t *testing.T) {
	checkTruncated[PathTrackReq](t, loadVector(t, "path_track_req"))
}

func TestDecodePathTrackReqMalformed(t *testing.T) {
	vec := loadVector(t, "path_track_req")
	usageCheckMalformed[PathTrackReq](t, []usageMalformed{
		{"trailing byte", usageCat(vec, []byte{0}), ErrTrailingData, "PathTrackReq"},
		{"invalid destination", usageCat([]byte{0, 0}, vec[19:]), ErrInvalid, "PathTrackReq.destination.type"},
		{"reserved flag", usageCat(vec[:19+16], usageHex(t, "0000000000000001 00000000")), ErrInvalid, "PathTrackReq.request.dMFlags"},
		{"extension list cut", usageCat(vec[:19+24], usageHex(t, "00000008 f001 0000")), ErrTruncated, "PathTrackReq.request.diagnostic_extensions_list"},
	})
	var p PathTrackReq
	_, err := p.Decode(usageCat(vec[:19+16], usageHex(t, "0000000000000001 00000000")))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 19+16 {
		t.Errorf("offset: %v", err)
	}
}

func TestDecodePathTrackAns(t *testing.T) {
	checkGolden(t, loadVector(t, "path_track_ans"), wantPathTrackAns())
}

func TestAppendPathTrackAns(t *testing.T) {
	vec := loadVector(t, "path_track_ans")
	b, err := wantPathTrackAns().Append(nil)
	if err != nil || !bytes.Equal(b, vec) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	bad := wantPathTrackAns()
	bad.NextHop.ID = bad.NextHop.ID[:3]
	_, err = bad.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "PathTrackAns.next_hop.length" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodePathTrackAnsTruncated(t *testing.T) {
	checkTruncated[PathTrackAns](t, loadVector(t, "path_track_ans"))
}

func TestDecodePathTrackAnsMalformed(t *testing.T) {
	vec := loadVector(t, "path_track_ans")
	usageCheckMalformed[PathTrackAns](t, []usageMalformed{
		{"trailing byte", usageCat(vec, []byte{0}), ErrTrailingData, "PathTrackAns"},
		{"short node id", usageCat([]byte{1, 2, 1, 2}, vec[18:]), ErrInvalid, "PathTrackAns.next_hop.length"},
		{"info cut", usageCat(vec[:18+25], usageHex(t, "00000005 000f 0002 04")), ErrTruncated, "PathTrackAns.response.diagnostic_info_list[0].diagnostic_info_contents"},
		{"no response", vec[:18], ErrTruncated, "PathTrackAns.response.expiration"},
	})
	var p PathTrackAns
	_, err := p.Decode(usageCat(vec[:18+25], usageHex(t, "00000005 000f 0002 04")))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 18+29+2 {
		t.Errorf("offset: %v, want %d", err, 18+29+2)
	}
}

func TestDiagValues(t *testing.T) {
	b := AppendDiagU8(nil, 7)
	if v, err := DecodeDiagU8(b); err != nil || v != 7 {
		t.Errorf("u8 = %d, %v", v, err)
	}
	b = AppendDiagU32(nil, 0xdeadbeef)
	if v, err := DecodeDiagU32(b); err != nil || v != 0xdeadbeef {
		t.Errorf("u32 = %#x, %v", v, err)
	}
	b = AppendDiagU64(nil, 1<<40+5)
	if v, err := DecodeDiagU64(b); err != nil || v != 1<<40+5 {
		t.Errorf("u64 = %d, %v", v, err)
	}
	if _, err := DecodeDiagU64(b[:7]); !errors.Is(err, ErrTruncated) {
		t.Errorf("short u64: %v", err)
	}
	if _, err := DecodeDiagU32(append(b[:4:4], 0)); !errors.Is(err, ErrTrailingData) {
		t.Errorf("long u32: %v", err)
	}

	sizes := map[DiagnosticKindID]int{
		DiagStatusInfo: 1, DiagRoutingTableSize: 4, DiagProcessPower: 8, DiagUpstreamBandwidth: 8,
		DiagDownstreamBandwidth: 8, DiagSoftwareVersion: 0, DiagMachineUptime: 8, DiagAppUptime: 8,
		DiagMemoryFootprint: 8, DiagDatasizeStored: 8, DiagInstancesStored: 0, DiagMessagesSentRcvd: 0,
		DiagEWMABytesSent: 4, DiagEWMABytesRcvd: 4, DiagUnderlayHop: 1, DiagBatteryStatus: 1, 0xf001: 0,
	}
	for k, n := range sizes {
		if got := DiagValueSize(k); got != n {
			t.Errorf("DiagValueSize(%v) = %d, want %d", k, got, n)
		}
		if n == 0 {
			if _, err := AppendDiagUint(nil, k, 1); !errors.Is(err, ErrInvalid) {
				t.Errorf("AppendDiagUint(%v): %v", k, err)
			}
			continue
		}
		c, err := AppendDiagUint(nil, k, 200)
		if err != nil || len(c) != n {
			t.Fatalf("AppendDiagUint(%v) = %x, %v", k, c, err)
		}
		info := DiagnosticInfo{Kind: k, Contents: c}
		if v, err := info.Uint(); err != nil || v != 200 {
			t.Errorf("Uint(%v) = %d, %v", k, v, err)
		}
		if err := CheckDiagValue(k, c); err != nil {
			t.Errorf("CheckDiagValue(%v): %v", k, err)
		}
		if err := CheckDiagValue(k, append(c, 0)); !errors.Is(err, ErrTrailingData) {
			t.Errorf("CheckDiagValue(%v) long: %v", k, err)
		}
	}
	if _, err := AppendDiagUint(nil, DiagUnderlayHop, 256); !errors.Is(err, ErrTooLong) {
		t.Errorf("u8 overflow: %v", err)
	}
	if _, err := AppendDiagUint(nil, DiagEWMABytesSent, 1<<32); !errors.Is(err, ErrTooLong) {
		t.Errorf("u32 overflow: %v", err)
	}
	if _, err := (&DiagnosticInfo{Kind: DiagSoftwareVersion}).Uint(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Uint of a string kind: %v", err)
	}

	// STATUS_INFO: low 4 bits.
	if _, err := AppendStatusInfo(nil, 0x10); !errors.Is(err, ErrInvalid) {
		t.Errorf("status 0x10: %v", err)
	}
	c, _ := AppendStatusInfo(nil, 0x0f)
	if v, err := DecodeStatusInfo(c); err != nil || v != 0x0f {
		t.Errorf("status = %d, %v", v, err)
	}
	if v, _ := DecodeStatusInfo([]byte{0xf3}); v != 3 {
		t.Errorf("status with reserved bits = %d", v)
	}
	// BATTERY_STATUS: top bit clear means on battery.
	if !OnBattery(0x7f) || OnBattery(0x80) {
		t.Error("OnBattery")
	}

	// SOFTWARE_VERSION.
	c, err := AppendSoftwareVersion(nil, "MyReloadApp/1.0 (Unix; Linux x86_64)")
	if err != nil || c[len(c)-1] != 0 {
		t.Fatalf("AppendSoftwareVersion = %q, %v", c, err)
	}
	if s, err := DecodeSoftwareVersion(c); err != nil || string(s) != "MyReloadApp/1.0 (Unix; Linux x86_64)" {
		t.Errorf("DecodeSoftwareVersion = %q, %v", s, err)
	}
	if _, err := AppendSoftwareVersion(nil, "a\x00b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL inside: %v", err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{{"", ErrTruncated}, {"abc", ErrTruncated}, {"a\x00b\x00", ErrInvalid}, {"\x00", nil}} {
		if _, err := DecodeSoftwareVersion([]byte(tc.in)); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
			t.Errorf("DecodeSoftwareVersion(%q) = %v, want %v", tc.in, err, tc.want)
		}
	}

	// INSTANCES_STORED: u64 per Kind-ID, indexed by Kind-ID.
	c = AppendInstancesStored(nil, []uint64{0, 5, 0, 9})
	if len(c) != 32 {
		t.Fatalf("len = %d", len(c))
	}
	is, err := DecodeInstancesStored(c)
	if err != nil || is.Len() != 4 || is.Count(1) != 5 || is.Count(3) != 9 || is.Count(4) != 0 || is.Count(0xffffffff) != 0 {
		t.Errorf("InstancesStored = %x, %v", is, err)
	}
	if _, err := DecodeInstancesStored(c[:31]); !errors.Is(err, ErrTruncated) {
		t.Errorf("ragged INSTANCES_STORED: %v", err)
	}
	// MESSAGES_SENT_RCVD: (sent, rcvd) u64 pairs indexed by method code.
	c = AppendMessagesSentRcvd(nil, []SentRcvd{{}, {Sent: 1, Rcvd: 2}, {Sent: 3, Rcvd: 4}})
	m, err := DecodeMessagesSentRcvd(c)
	if err != nil || m.Len() != 3 || m.At(2) != (SentRcvd{3, 4}) || m.At(1) != (SentRcvd{1, 2}) || m.At(3) != (SentRcvd{}) || m.At(-1) != (SentRcvd{}) {
		t.Errorf("MessagesSentRcvd = %x, %v", m, err)
	}
	if _, err := DecodeMessagesSentRcvd(c[:40]); !errors.Is(err, ErrTruncated) {
		t.Errorf("ragged MESSAGES_SENT_RCVD: %v", err)
	}
	if err := CheckDiagValue(DiagMessagesSentRcvd, c[:8]); !errors.Is(err, ErrTruncated) {
		t.Errorf("CheckDiagValue: %v", err)
	}
	if err := CheckDiagValue(0xf001, []byte{1, 2, 3}); err != nil {
		t.Errorf("CheckDiagValue(unknown): %v", err)
	}
}

// TestDecodeDiagnosticsZeroAlloc: decoding into reused structs does not
// allocate.
func TestDecodeDiagnosticsZeroAlloc(t *testing.T) {
	req := loadVector(t, "diagnostics_request")
	ans := loadVector(t, "path_track_ans")
	var d DiagnosticsRequest
	var p PathTrackAns
	if _, err := d.Decode(req); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decode(ans); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(req); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Decode(ans); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
	if len(d.Extensions) != 2 || len(p.Response.Info) != 2 {
		t.Errorf("decoded %d extensions, %d infos", len(d.Extensions), len(p.Response.Info))
	}
}

func BenchmarkDecodeDiagnosticsRequest(b *testing.B) {
	vec := loadVector(b, "diagnostics_request")
	var d DiagnosticsRequest
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(vec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDiagnosticsRequest(b *testing.B) {
	d := wantDiagnosticsRequest()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePathTrackAns(b *testing.B) {
	vec := loadVector(b, "path_track_ans")
	var p PathTrackAns
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Decode(vec); err != nil {
			b.Fatal(err)
		}
	}
}

func diagFuzzSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(loadVector(f, n))
	}
}

func FuzzDecodeDiagnosticExtension(f *testing.F) {
	diagFuzzSeeds(f, "diagnostic_extension")
	f.Add([]byte{0xf0, 0x00, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[DiagnosticExtension](t, b); v != nil && v.Kind.IsBase() {
			t.Fatalf("decoded base kind %v", v.Kind)
		}
	})
}

func FuzzDecodeDiagnosticInfo(f *testing.F) {
	diagFuzzSeeds(f, "diagnostic_info")
	f.Add([]byte{0, 6, 0, 2, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[DiagnosticInfo](t, b); v != nil {
			// The value helpers must not panic on any contents.
			_ = CheckDiagValue(v.Kind, v.Contents)
			_, _ = v.Uint()
			if is, err := DecodeInstancesStored(v.Contents); err == nil {
				_ = is.Count(uint32(is.Len()))
			}
			if m, err := DecodeMessagesSentRcvd(v.Contents); err == nil {
				_ = m.At(m.Len() - 1)
			}
		}
	})
}

func FuzzDecodeDiagnosticsRequest(f *testing.F) {
	diagFuzzSeeds(f, "diagnostics_request")
	for _, d := range []DiagnosticsRequest{{}, {Flags: DMFlagsAll}, {Extensions: []DiagnosticExtension{{Kind: 0xffff, Contents: []byte("x")}}}} {
		b, err := d.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[DiagnosticsRequest](t, b)
		if v == nil {
			return
		}
		if !v.Flags.Valid() {
			t.Fatalf("decoded invalid dMFlags %#x", uint64(v.Flags))
		}
		for i := range v.Extensions {
			if v.Extensions[i].Kind.IsBase() {
				t.Fatalf("decoded base kind in extension list")
			}
		}
		if v.Len() != diagRequestFixedLen+v.ExtLength() || int(uint32(v.ExtLength())) != int(b[24])<<24|int(b[25])<<16|int(b[26])<<8|int(b[27]) {
			t.Fatalf("ext_length mismatch")
		}
	})
}

func FuzzDecodeDiagnosticsResponse(f *testing.F) {
	diagFuzzSeeds(f, "diagnostics_response")
	b, _ := (&DiagnosticsResponse{HopCounter: 100}).Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[DiagnosticsResponse](t, b); v != nil && b[24] != v.HopCounter {
			t.Fatalf("hop_counter")
		}
	})
}

func FuzzDecodePathTrackReq(f *testing.F) {
	diagFuzzSeeds(f, "path_track_req")
	p := PathTrackReq{Destination: CompressedDest(0x8001), Request: *wantDiagnosticsRequest()}
	b, _ := p.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[PathTrackReq](t, b); v != nil && v.Len() != len(b) {
			t.Fatalf("PathTrackReq did not consume its input")
		}
	})
}

func FuzzDecodePathTrackAns(f *testing.F) {
	diagFuzzSeeds(f, "path_track_ans")
	p := PathTrackAns{NextHop: Destination{Type: DestOpaqueID, ID: []byte{7}}, Response: *wantDiagnosticsResponse()}
	b, _ := p.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[PathTrackAns](t, b); v != nil && v.Len() != len(b) {
			t.Fatalf("PathTrackAns did not consume its input")
		}
	})
}
