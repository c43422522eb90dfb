package wire

import (
	"bytes"
	"errors"
	"testing"
)

var (
	extIPv4 = []byte{1, 6, 192, 0, 2, 1, 0x17, 0xc4}
	extIPv6 = []byte{2, 18, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x17, 0xc4}
	extNode = []byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
)

func wantSelfTuningData() *SelfTuningData {
	return &SelfTuningData{NetworkSize: 1000, JoinRate: 10628, LeaveRate: 5000}
}

func wantTurnServer() *TurnServer { return &TurnServer{Iteration: 3, ServerAddress: extIPv4} }

func wantERMODRR() *ExtensiveRoutingModeOption {
	return &ExtensiveRoutingModeOption{
		RouteMode:     RouteModeDRR,
		Transport:     1,
		IPAddressPort: extIPv6,
		Destinations:  []Destination{{Type: DestNode, ID: diagNodeA}},
	}
}

func wantERMORPR() *ExtensiveRoutingModeOption {
	return &ExtensiveRoutingModeOption{
		RouteMode:     RouteModeRPR,
		Transport:     4,
		IPAddressPort: []byte{1, 6, 192, 0, 2, 2, 0x17, 0xc4},
		Destinations:  []Destination{{Type: DestNode, ID: extNode}, {Type: DestNode, ID: diagNodeA}},
	}
}

func wantResourceNameExtension() *ResourceNameExtension {
	return &ResourceNameExtension{Type: ResourceNamePattern, ResourceName: []byte("alice-conf-1")}
}

func TestExtEnums(t *testing.T) {
	if RouteModeDRR != 1 || RouteModeRPR != 2 || RouteModeDRR.String() != "DRR" || RouteModeRPR.String() != "RPR" || RouteMode(0).String() != "RouteMode(0)" {
		t.Error("RouteMode")
	}
	if ResourceNamePattern != 1 || ResourceNamePattern.String() != "pattern" || ResourceNameType(2).String() != "ResourceNameType(2)" {
		t.Error("ResourceNameType")
	}
}

func TestDecodeSelfTuningData(t *testing.T) {
	checkGolden(t, loadVector(t, "self_tuning_data"), wantSelfTuningData())
}

func TestAppendSelfTuningData(t *testing.T) {
	b, err := wantSelfTuningData().Append([]byte{9})
	if err != nil || !bytes.Equal(b[1:], loadVector(t, "self_tuning_data")) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	// Carried as a self_tuning_data message extension (RFC 7363 §6.5).
	mc := MessageContents{Code: CodeProbeReq, Extensions: []MessageExtension{{Type: ExtSelfTuningData, Contents: b[1:]}}}
	enc, err := mc.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got MessageContents
	if _, err := got.Decode(enc); err != nil {
		t.Fatal(err)
	}
	ext, ok := got.Extension(ExtSelfTuningData)
	var s SelfTuningData
	if !ok {
		t.Fatal("no extension")
	}
	if _, err := s.Decode(ext.Contents); err != nil || s != *wantSelfTuningData() {
		t.Errorf("got %+v, %v", s, err)
	}
}

func TestDecodeSelfTuningDataTruncated(t *testing.T) {
	checkTruncated[SelfTuningData](t, loadVector(t, "self_tuning_data"))
}

func TestDecodeSelfTuningDataMalformed(t *testing.T) {
	vec := loadVector(t, "self_tuning_data")
	usageCheckMalformed[SelfTuningData](t, []usageMalformed{
		{"trailing", usageCat(vec, []byte{0}), ErrTrailingData, "SelfTuningData"},
		{"short leave_rate", vec[:10], ErrTruncated, "SelfTuningData.leave_rate"},
		{"empty", nil, ErrTruncated, "SelfTuningData.network_size"},
	})
}

func FuzzDecodeSelfTuningData(f *testing.F) {
	diagFuzzSeeds(f, "self_tuning_data")
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[SelfTuningData](t, b); v != nil && len(b) != SelfTuningDataLen {
			t.Fatalf("decoded %d bytes", len(b))
		}
	})
}

func TestDecodeTurnServer(t *testing.T) {
	checkGolden(t, loadVector(t, "turn_server"), wantTurnServer())
	v6 := usageCat([]byte{1}, extIPv6)
	checkGolden(t, v6, &TurnServer{Iteration: 1, ServerAddress: extIPv6})
	// Unknown address types are kept as they are (the structure can be extended).
	checkGolden(t, usageHex(t, "05 07 03 aabbcc"), &TurnServer{Iteration: 5, ServerAddress: []byte{7, 3, 0xaa, 0xbb, 0xcc}})
}

func TestAppendTurnServer(t *testing.T) {
	b, err := wantTurnServer().Append(nil)
	if err != nil || !bytes.Equal(b, loadVector(t, "turn_server")) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	for _, tc := range []struct {
		name string
		addr []byte
		want error
		path string
	}{
		{"empty address", nil, ErrTruncated, "TurnServer.server_address.type"},
		{"invalid type", []byte{0, 0}, ErrInvalid, "TurnServer.server_address.type"},
		{"ipv4 bad length", []byte{1, 4, 1, 2, 3, 4}, ErrInvalid, "TurnServer.server_address.length"},
		{"two addresses", usageCat(extIPv4, extIPv4), ErrTrailingData, "TurnServer.server_address"},
		{"short body", extIPv4[:7], ErrTruncated, "TurnServer.server_address.body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&TurnServer{ServerAddress: tc.addr}).Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("err = %v, want %v at %q", err, tc.want, tc.path)
			}
		})
	}
	c := wantTurnServer().Clone()
	if !equalish(&c, wantTurnServer()) || &c.ServerAddress[0] == &extIPv4[0] {
		t.Error("Clone")
	}
}

func TestDecodeTurnServerTruncated(t *testing.T) {
	checkTruncated[TurnServer](t, loadVector(t, "turn_server"))
}

func TestDecodeTurnServerMalformed(t *testing.T) {
	vec := loadVector(t, "turn_server")
	usageCheckMalformed[TurnServer](t, []usageMalformed{
		{"trailing", usageCat(vec, []byte{0}), ErrTrailingData, "TurnServer"},
		{"invalid address type", usageHex(t, "03 00 00"), ErrInvalid, "TurnServer.server_address.type"},
		{"ipv4 length 7", usageHex(t, "03 01 07 c0000201 17c4 00"), ErrInvalid, "TurnServer.server_address.length"},
		{"ipv6 length 6", usageHex(t, "03 02 06 c0000201 17c4"), ErrInvalid, "TurnServer.server_address.length"},
		{"body cut", vec[:6], ErrTruncated, "TurnServer.server_address.body"},
	})
	var ts TurnServer
	_, err := ts.Decode(usageHex(t, "03 01 07 c0000201 17c4 00"))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 2 {
		t.Errorf("offset: %v", err)
	}
}

func FuzzDecodeTurnServer(f *testing.F) {
	diagFuzzSeeds(f, "turn_server")
	f.Add(usageCat([]byte{1}, extIPv6))
	f.Add([]byte{9, 0xfe, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[TurnServer](t, b); v != nil {
			if v.ServerAddress[0] == 0 || int(v.ServerAddress[1])+2 != len(v.ServerAddress) {
				t.Fatalf("bad address window %x", v.ServerAddress)
			}
		}
	})
}

func TestDecodeExtensiveRoutingModeOption(t *testing.T) {
	checkGolden(t, loadVector(t, "extensive_routing_mode_drr"), wantERMODRR())
	checkGolden(t, loadVector(t, "extensive_routing_mode_rpr"), wantERMORPR())
}

func TestAppendExtensiveRoutingModeOption(t *testing.T) {
	b, err := wantERMORPR().Append([]byte{0})
	if err != nil || !bytes.Equal(b[1:], loadVector(t, "extensive_routing_mode_rpr")) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	// Carried as the value of an extensive_routing_mode forwarding option.
	opt := ForwardingOption{Type: 2, Value: b[1:]}
	enc, err := opt.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotOpt ForwardingOption
	var got ExtensiveRoutingModeOption
	if _, err := gotOpt.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if _, err := got.Decode(gotOpt.Value); err != nil || !equalish(&got, wantERMORPR()) {
		t.Errorf("got %+v, %v", got, err)
	}

	many := make([]Destination, 15)
	for i := range many {
		many[i] = Destination{Type: DestNode, ID: diagNodeA}
	}
	for _, tc := range []struct {
		name string
		e    ExtensiveRoutingModeOption
		want error
		path string
	}{
		{"mode 0", ExtensiveRoutingModeOption{IPAddressPort: extIPv4, Destinations: many[:1]}, ErrInvalid, "ExtensiveRoutingModeOption.routemode"},
		{"no destinations", ExtensiveRoutingModeOption{RouteMode: RouteModeDRR, IPAddressPort: extIPv4}, ErrInvalid, "ExtensiveRoutingModeOption.destinations"},
		{"too many destinations", ExtensiveRoutingModeOption{RouteMode: RouteModeDRR, IPAddressPort: extIPv4, Destinations: many}, ErrTooLong, "ExtensiveRoutingModeOption.destinations"},
		{"bad address", ExtensiveRoutingModeOption{RouteMode: RouteModeDRR, IPAddressPort: []byte{2, 6, 0, 0, 0, 0, 0, 0}, Destinations: many[:1]}, ErrInvalid, "ExtensiveRoutingModeOption.ipaddressport.length"},
		{"bad destination", ExtensiveRoutingModeOption{RouteMode: RouteModeDRR, IPAddressPort: extIPv4, Destinations: []Destination{{}}}, ErrInvalid, "ExtensiveRoutingModeOption.destinations[0].type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.e.Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("err = %v, want %v at %q", err, tc.want, tc.path)
			}
		})
	}
}

func TestDecodeExtensiveRoutingModeOptionTruncated(t *testing.T) {
	checkTruncated[ExtensiveRoutingModeOption](t, loadVector(t, "extensive_routing_mode_drr"))
	checkTruncated[ExtensiveRoutingModeOption](t, loadVector(t, "extensive_routing_mode_rpr"))
}

func TestDecodeExtensiveRoutingModeOptionMalformed(t *testing.T) {
	vec := loadVector(t, "extensive_routing_mode_rpr")
	// vec: 02 04 | 01 06 c0000202 17c4 | 24 | two node destinations
	usageCheckMalformed[ExtensiveRoutingModeOption](t, []usageMalformed{
		{"mode 0", usageCat([]byte{0}, vec[1:]), ErrInvalid, "ExtensiveRoutingModeOption.routemode"},
		{"trailing", usageCat(vec, []byte{0}), ErrTrailingData, "ExtensiveRoutingModeOption"},
		{"empty destinations", usageCat(vec[:10], []byte{0}), ErrInvalid, "ExtensiveRoutingModeOption.destinations"},
		{"destinations past end", usageCat(vec[:10], []byte{0x25}, vec[11:]), ErrTruncated, "ExtensiveRoutingModeOption.destinations"},
		{"destination cut by list", usageCat(vec[:10], []byte{0x23}, vec[11:len(vec)-1]), ErrTruncated, "ExtensiveRoutingModeOption.destinations[1].destination_data"},
		{"invalid address type", usageCat(vec[:2], []byte{0}, vec[3:]), ErrInvalid, "ExtensiveRoutingModeOption.ipaddressport.type"},
		{"ipv4 length 18", usageCat(vec[:3], []byte{18}, vec[4:]), ErrInvalid, "ExtensiveRoutingModeOption.ipaddressport.length"},
	})
	var e ExtensiveRoutingModeOption
	_, err := e.Decode(usageCat(vec[:10], []byte{0x23}, vec[11:len(vec)-1]))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 11+18+2 {
		t.Errorf("offset: %v, want %d", err, 11+18+2)
	}
	if _, err := e.Decode(usageCat([]byte{9}, vec[1:])); err != nil || e.RouteMode != 9 {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestDecodeExtensiveRoutingModeOptionZeroAlloc(t *testing.T) {
	vec := loadVector(t, "extensive_routing_mode_rpr")
	var e ExtensiveRoutingModeOption
	if _, err := e.Decode(vec); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = e.Decode(vec) }); a != 0 {
		t.Errorf("allocs = %v", a)
	}
}

func FuzzDecodeExtensiveRoutingModeOption(f *testing.F) {
	diagFuzzSeeds(f, "extensive_routing_mode_drr", "extensive_routing_mode_rpr")
	f.Add([]byte{1, 1, 9, 0, 2, 0x80, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[ExtensiveRoutingModeOption](t, b)
		if v == nil {
			return
		}
		if v.RouteMode == 0 || len(v.Destinations) == 0 || v.Len() != len(b) {
			t.Fatalf("invariant broken: %+v", v)
		}
	})
}

func TestDecodeResourceNameExtension(t *testing.T) {
	checkGolden(t, loadVector(t, "resource_name_extension"), wantResourceNameExtension())
	checkGolden(t, usageHex(t, "09 0002 abcd"), &ResourceNameExtension{Type: 9, Raw: []byte{0xab, 0xcd}})
}

func TestAppendResourceNameExtension(t *testing.T) {
	b, err := wantResourceNameExtension().Append(nil)
	if err != nil || !bytes.Equal(b, loadVector(t, "resource_name_extension")) {
		t.Fatalf("Append = %x, %v", b, err)
	}
	_, err = (&ResourceNameExtension{Type: ResourceNamePattern, ResourceName: make([]byte, 0xfffe)}).Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "length" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeResourceNameExtensionTruncated(t *testing.T) {
	checkTruncated[ResourceNameExtension](t, loadVector(t, "resource_name_extension"))
	checkTruncated[ResourceNameExtension](t, usageHex(t, "09 0002 abcd"))
}

func TestDecodeResourceNameExtensionMalformed(t *testing.T) {
	vec := loadVector(t, "resource_name_extension")
	usageCheckMalformed[ResourceNameExtension](t, []usageMalformed{
		{"name past length", usageHex(t, "01 0003 0002 61"), ErrTruncated, "resource_name"},
		{"trailing inside length", usageHex(t, "01 0004 0001 61 62"), ErrTrailingData, "length"},
		{"unknown type cut", usageHex(t, "07 0005 00"), ErrTruncated, "length"},
	})
	// A sub-structure: bytes after it are left for the caller.
	var x ResourceNameExtension
	if n, err := x.Decode(usageCat(vec, []byte{1, 2})); err != nil || n != len(vec) {
		t.Errorf("Decode = %d, %v", n, err)
	}
}

func FuzzDecodeResourceNameExtension(f *testing.F) {
	diagFuzzSeeds(f, "resource_name_extension")
	f.Add([]byte{9, 0, 2, 0xab, 0xcd})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := usageCheckCanonical[ResourceNameExtension](t, b); v != nil && v.Type == ResourceNamePattern && v.Raw != nil {
			t.Fatalf("pattern kept raw bytes")
		}
	})
}
