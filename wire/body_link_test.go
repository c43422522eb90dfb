package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// Test helpers shared by body_link_test.go and body_topology_test.go. The
// names carry a "link" prefix so they cannot clash with other files.

// linkHex parses hex written like a vector file.
func linkHex(t testing.TB, s string) []byte {
	t.Helper()
	return parseHexVector(t, s)
}

// linkMut returns a copy of b with b[i] = v.
func linkMut(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

// linkCat concatenates byte slices into a new slice.
func linkCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// linkCheckReencode decodes vec into a fresh value and checks that
// appending it gives vec again. equalish cannot see inside netip.Addr, so
// this is what checks decoded addresses.
func linkCheckReencode[T any, P interface {
	*T
	codec
}](t *testing.T, vec []byte) {
	t.Helper()
	v := P(new(T))
	if _, err := v.Decode(vec); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	enc, err := v.Append(nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !bytes.Equal(enc, vec) {
		t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, vec)
	}
}

// linkBad is one malformed input: the sentinel, the field path and the
// byte offset (-1: not checked) the error must carry.
type linkBad struct {
	name string
	in   []byte
	want error
	path string
	off  int
}

func linkCheckBad[T any, P interface {
	*T
	codec
}](t *testing.T, cases []linkBad, setup func(P)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := P(new(T))
			if setup != nil {
				setup(v)
			}
			_, err := v.Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Path != tc.path {
				t.Errorf("path = %q, want %q", de.Path, tc.path)
			}
			if tc.off >= 0 && de.Offset != tc.off {
				t.Errorf("offset = %d, want %d", de.Offset, tc.off)
			}
		})
	}
}

// linkFuzz is the body of every FuzzDecodeX here: checkRoundTrip, every
// error a *DecodeError wrapping a sentinel, exact consumption for message
// bodies, Len equal to what was consumed, canonical re-encoding (Append
// gives back the consumed bytes), and the domain invariant inv.
func linkFuzz[T any, P interface {
	*T
	codec
}](f *testing.F, exact bool, inv func(*testing.T, P), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip[T, P](t, b)
		v := P(new(T))
		n, err := v.Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError: %v", err, err)
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTrailingData) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if exact && n != len(b) {
			t.Fatalf("body consumed %d of %d bytes", n, len(b))
		}
		if v.Len() != n {
			t.Fatalf("Len() = %d, consumed %d", v.Len(), n)
		}
		enc, err := v.Append(nil)
		if err != nil || !bytes.Equal(enc, b[:n]) {
			t.Fatalf("encoding is not canonical: %v\n got %x\nwant %x", err, enc, b[:n])
		}
		if inv != nil {
			inv(t, v)
		}
	})
}

func linkEncode(t testing.TB, v codec) []byte {
	t.Helper()
	b, err := v.Append(nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return b
}

// ---- IpAddressPort ----

var (
	ipv4Ex = IPAddressPort{Type: AddrIPv4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 6084}
	ipv6Ex = IPAddressPort{Type: AddrIPv6, Addr: netip.MustParseAddr("2001:db8::1"), Port: 6084}
)

func TestDecodeIPAddressPort(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want IPAddressPort
	}{
		{"ip_address_port_v4", ipv4Ex},
		{"ip_address_port_v6", ipv6Ex},
		{"ip_address_port_unknown", IPAddressPort{Type: 7, Raw: []byte{0xaa, 0xbb, 0xcc}}},
	} {
		t.Run(tc.vec, func(t *testing.T) {
			vec := loadVector(t, tc.vec)
			checkGolden(t, vec, &tc.want)
			linkCheckReencode[IPAddressPort](t, vec)
			var got IPAddressPort
			if _, err := got.Decode(vec); err != nil {
				t.Fatal(err)
			}
			if got.Addr != tc.want.Addr || got.Port != tc.want.Port || got.Type != tc.want.Type {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAppendIPAddressPort(t *testing.T) {
	got := linkEncode(t, &ipv4Ex)
	if want := loadVector(t, "ip_address_port_v4"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		v    IPAddressPort
		want error
	}{
		{"invalid type", IPAddressPort{}, ErrInvalid},
		{"v4 type with v6 address", IPAddressPort{Type: AddrIPv4, Addr: ipv6Ex.Addr}, ErrInvalid},
		{"v4 type with no address", IPAddressPort{Type: AddrIPv4}, ErrInvalid},
		{"v6 type with v4 address", IPAddressPort{Type: AddrIPv6, Addr: ipv4Ex.Addr}, ErrInvalid},
		{"raw too long", IPAddressPort{Type: 9, Raw: make([]byte, 256)}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Append(nil); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeIPAddressPortTruncated(t *testing.T) {
	for _, name := range []string{"ip_address_port_v4", "ip_address_port_v6", "ip_address_port_unknown"} {
		checkTruncated[IPAddressPort](t, loadVector(t, name))
	}
}

func TestDecodeIPAddressPortMalformed(t *testing.T) {
	v4 := loadVector(t, "ip_address_port_v4")
	linkCheckBad[IPAddressPort](t, []linkBad{
		{"invalid type", linkMut(v4, 0, 0), ErrInvalid, "type", 0},
		{"v4 length 5", linkMut(v4, 1, 5), ErrTruncated, "v4addr_port", 2},
		{"v4 length 7", linkCat(linkMut(v4, 1, 7), []byte{0}), ErrTrailingData, "v4addr_port", 8},
		{"v6 length 6", linkMut(v4, 0, 2), ErrTruncated, "v6addr_port", 2},
		{"v6 length 19", linkCat(linkHex(t, "02 13"), make([]byte, 19)), ErrTrailingData, "v6addr_port", 20},
		{"unknown body short", linkHex(t, "07 03 aa"), ErrTruncated, "address", 2},
	}, nil)
}

func TestIPAddressPortAddrPort(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wantType AddressType
		want     string
	}{
		{"192.0.2.1:6084", AddrIPv4, "192.0.2.1:6084"},
		{"[::ffff:192.0.2.1]:80", AddrIPv4, "192.0.2.1:80"},
		{"[2001:db8::1]:6084", AddrIPv6, "[2001:db8::1]:6084"},
		{"[fe80::1%eth0]:1", AddrIPv6, "[fe80::1]:1"},
	} {
		a := IPAddressPortFrom(netip.MustParseAddrPort(tc.in))
		if a.Type != tc.wantType {
			t.Errorf("%s: type %v, want %v", tc.in, a.Type, tc.wantType)
		}
		ap, ok := a.AddrPort()
		if !ok || ap.String() != tc.want {
			t.Errorf("%s: AddrPort = %v, %v; want %s", tc.in, ap, ok, tc.want)
		}
		enc := linkEncode(t, &a)
		var back IPAddressPort
		if _, err := back.Decode(enc); err != nil || back.Type != a.Type || back.Addr != a.Addr || back.Port != a.Port {
			t.Errorf("%s: round trip %v, %v", tc.in, back, err)
		}
	}
	if a := IPAddressPortFrom(netip.AddrPort{}); a.Type != AddrInvalid {
		t.Errorf("zero AddrPort gave %v", a.Type)
	}
	if _, ok := (&IPAddressPort{Type: 7, Raw: []byte{1}}).AddrPort(); ok {
		t.Error("unknown type converted")
	}
	if s := ipv4Ex.String(); s != "192.0.2.1:6084" {
		t.Errorf("String = %q", s)
	}
}

func FuzzDecodeIPAddressPort(f *testing.F) {
	linkFuzz[IPAddressPort](f, false, func(t *testing.T, a *IPAddressPort) {
		switch a.Type {
		case AddrIPv4:
			if !a.Addr.Is4() || a.Raw != nil {
				t.Fatalf("bad ipv4 value %+v", a)
			}
		case AddrIPv6:
			if !a.Addr.Is6() || a.Raw != nil {
				t.Fatalf("bad ipv6 value %+v", a)
			}
		case AddrInvalid:
			t.Fatal("invalid type decoded")
		default:
			if a.Addr.IsValid() || len(a.Raw) > 255 {
				t.Fatalf("bad unknown value %+v", a)
			}
		}
		if a.Type == AddrIPv4 || a.Type == AddrIPv6 {
			if _, ok := a.AddrPort(); !ok {
				t.Fatal("AddrPort failed")
			}
		}
	},
		loadVector(f, "ip_address_port_v4"), loadVector(f, "ip_address_port_v6"),
		loadVector(f, "ip_address_port_unknown"), linkEncode(f, &ipv6Ex))
}

// ---- IceExtension / IceCandidate ----

var iceExtensionEx = IceExtension{Name: []byte("foo"), Value: []byte("ok")}

func TestDecodeIceExtension(t *testing.T) {
	checkGolden(t, loadVector(t, "ice_extension"), &iceExtensionEx)
}

func TestAppendIceExtension(t *testing.T) {
	if got, want := linkEncode(t, &iceExtensionEx), loadVector(t, "ice_extension"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&IceExtension{Value: make([]byte, 0x10000)}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeIceExtensionTruncated(t *testing.T) {
	checkTruncated[IceExtension](t, loadVector(t, "ice_extension"))
}

func TestDecodeIceExtensionMalformed(t *testing.T) {
	linkCheckBad[IceExtension](t, []linkBad{
		{"name overruns", linkHex(t, "00 05 66 6f 6f"), ErrTruncated, "name", 0},
		{"value overruns", linkHex(t, "00 00 00 02 6f"), ErrTruncated, "value", 2},
	}, nil)
}

func FuzzDecodeIceExtension(f *testing.F) {
	linkFuzz[IceExtension](f, false, nil, loadVector(f, "ice_extension"), linkHex(f, "0000 0000"))
}

var iceCandidateRelay = IceCandidate{
	AddrPort:    IPAddressPort{Type: AddrIPv4, Addr: netip.MustParseAddr("203.0.113.5"), Port: 3478},
	OverlayLink: LinkDTLSUDPSR,
	Foundation:  []byte("abcd"),
	Priority:    0x00ffffff,
	Type:        CandRelay,
	RelAddrPort: IPAddressPort{Type: AddrIPv4, Addr: netip.MustParseAddr("192.168.0.1"), Port: 8080},
	Extensions:  []IceExtension{{Name: []byte("k"), Value: []byte("v")}},
}

func TestDecodeIceCandidate(t *testing.T) {
	vec := loadVector(t, "ice_candidate_relay")
	checkGolden(t, vec, &iceCandidateRelay)
	linkCheckReencode[IceCandidate](t, vec)
}

func TestAppendIceCandidate(t *testing.T) {
	if got, want := linkEncode(t, &iceCandidateRelay), loadVector(t, "ice_candidate_relay"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	// A host candidate never carries rel_addr_port, even when set.
	host := iceCandidateRelay
	host.Type = CandHost
	enc := linkEncode(t, &host)
	if len(enc) != host.Len() || len(enc) != iceCandidateRelay.Len()-8 {
		t.Errorf("host encoding %d bytes, Len %d", len(enc), host.Len())
	}
	for _, tc := range []struct {
		name string
		mod  func(*IceCandidate)
		want error
	}{
		{"reserved type 3", func(c *IceCandidate) { c.Type = 3 }, ErrInvalid},
		{"invalid type", func(c *IceCandidate) { c.Type = CandInvalid }, ErrInvalid},
		{"invalid overlay link", func(c *IceCandidate) { c.OverlayLink = LinkInvalid }, ErrInvalid},
		{"srflx without rel_addr_port", func(c *IceCandidate) { c.Type = CandSrflx; c.RelAddrPort = IPAddressPort{} }, ErrInvalid},
		{"foundation too long", func(c *IceCandidate) { c.Foundation = make([]byte, 256) }, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := iceCandidateRelay
			tc.mod(&c)
			if _, err := c.Append(nil); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeIceCandidateTruncated(t *testing.T) {
	checkTruncated[IceCandidate](t, loadVector(t, "ice_candidate_relay"))
}

func TestDecodeIceCandidateMalformed(t *testing.T) {
	vec := loadVector(t, "ice_candidate_relay")
	// Offsets: addr_port 0, overlay_link 8, foundation 9, priority 14,
	// type 18, rel_addr_port 19, extensions 27.
	linkCheckBad[IceCandidate](t, []linkBad{
		{"addr_port invalid", linkMut(vec, 0, 0), ErrInvalid, "addr_port.type", 0},
		{"overlay_link 0", linkMut(vec, 8, 0), ErrInvalid, "overlay_link", 8},
		{"foundation overruns", linkMut(vec, 9, 0xff), ErrTruncated, "foundation", 9},
		{"reserved type 3 (prflx)", linkMut(vec, 18, 3), ErrInvalid, "type", 18},
		{"type 0", linkMut(vec, 18, 0), ErrInvalid, "type", 18},
		{"unknown type", linkMut(vec, 18, 9), ErrInvalid, "type", 18},
		{"rel_addr_port invalid", linkMut(vec, 19, 0), ErrInvalid, "rel_addr_port.type", 19},
		{"rel_addr_port length", linkMut(vec, 20, 5), ErrTruncated, "rel_addr_port.v4addr_port", 21},
		{"extensions overrun", linkMut(vec, 28, 7), ErrTruncated, "extensions", 27},
		{"extension value overruns", linkCat(vec[:27], linkHex(t, "0004 0001 6b 00")), ErrTruncated, "extensions[0].value", 32},
	}, nil)
}

func FuzzDecodeIceCandidate(f *testing.F) {
	host := iceCandidateRelay
	host.Type, host.RelAddrPort, host.Extensions = CandHost, IPAddressPort{}, nil
	linkFuzz[IceCandidate](f, false, func(t *testing.T, c *IceCandidate) { linkCandidateInvariant(t, c) },
		loadVector(f, "ice_candidate_relay"), linkEncode(f, &host))
}

func linkCandidateInvariant(t *testing.T, c *IceCandidate) {
	t.Helper()
	if c.OverlayLink == LinkInvalid {
		t.Fatal("overlay_link 0 decoded")
	}
	switch c.Type {
	case CandHost:
		if c.RelAddrPort.Type != AddrInvalid || c.RelAddrPort.Raw != nil {
			t.Fatalf("host candidate with rel_addr_port %v", c.RelAddrPort)
		}
	case CandSrflx, CandRelay:
		if c.RelAddrPort.Type == AddrInvalid {
			t.Fatal("srflx/relay without rel_addr_port")
		}
	default:
		t.Fatalf("candidate type %v decoded", c.Type)
	}
	if len(c.Foundation) > 255 {
		t.Fatal("foundation too long")
	}
}

// ---- AttachReqAns ----

var attachEx = AttachReqAns{
	Ufrag:    []byte("ufr1"),
	Password: []byte("password"),
	Role:     []byte("passive"),
	Candidates: []IceCandidate{
		{
			AddrPort:    ipv4Ex,
			OverlayLink: LinkDTLSUDPSR,
			Foundation:  []byte("1"),
			Priority:    0x7effffff,
			Type:        CandHost,
		},
		{
			AddrPort:    IPAddressPort{Type: AddrIPv4, Addr: netip.MustParseAddr("203.0.113.5"), Port: 6084},
			OverlayLink: LinkDTLSUDPSR,
			Foundation:  []byte("2"),
			Priority:    0x64ffffff,
			Type:        CandSrflx,
			RelAddrPort: ipv4Ex,
			Extensions:  []IceExtension{{Name: []byte("x"), Value: []byte{}}},
		},
	},
	SendUpdate: true,
}

func TestDecodeAttachReqAns(t *testing.T) {
	vec := loadVector(t, "attach_req_ans")
	checkGolden(t, vec, &attachEx)
	linkCheckReencode[AttachReqAns](t, vec)
}

func TestAppendAttachReqAns(t *testing.T) {
	if got, want := linkEncode(t, &attachEx), loadVector(t, "attach_req_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	bad := attachEx.Clone()
	bad.Candidates[1].Type = 3
	if _, err := bad.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	} else if de := (*DecodeError)(nil); !errors.As(err, &de) || de.Path != "AttachReqAns.candidates[1].type" {
		t.Errorf("err = %v, want path AttachReqAns.candidates[1].type", err)
	}
	bad = attachEx.Clone()
	bad.Role = make([]byte, 256)
	if _, err := bad.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeAttachReqAnsTruncated(t *testing.T) {
	checkTruncated[AttachReqAns](t, loadVector(t, "attach_req_ans"))
}

func TestDecodeAttachReqAnsMalformed(t *testing.T) {
	vec := loadVector(t, "attach_req_ans")
	// Offsets: ufrag 0, password 5, role 14, candidates 22 (entries from
	// 24: [0] at 24, [1] at 42), send_update 73.
	linkCheckBad[AttachReqAns](t, []linkBad{
		{"password overruns", linkMut(vec, 5, 0xff), ErrTruncated, "AttachReqAns.password", 5},
		{"candidates overrun", linkMut(vec, 23, 0xff), ErrTruncated, "AttachReqAns.candidates", 22},
		{"candidates too short", linkMut(vec, 23, 48), ErrTruncated, "AttachReqAns.candidates[1].extensions", 66},
		{"candidate 0 addr invalid", linkMut(vec, 24, 0), ErrInvalid, "AttachReqAns.candidates[0].addr_port.type", 24},
		{"candidate 1 reserved type", linkMut(vec, 57, 3), ErrInvalid, "AttachReqAns.candidates[1].type", 57},
		{"send_update 2", linkMut(vec, 73, 2), ErrInvalid, "AttachReqAns.send_update", 73},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "AttachReqAns", 74},
	}, nil)
}

func TestAttachReqAnsClone(t *testing.T) {
	vec := loadVector(t, "attach_req_ans")
	var a AttachReqAns
	if _, err := a.Decode(vec); err != nil {
		t.Fatal(err)
	}
	c := a.Clone()
	for i := range vec {
		vec[i] = 0xee
	}
	if got := linkEncode(t, &c); !bytes.Equal(got, loadVector(t, "attach_req_ans")) {
		t.Errorf("clone changed with its input: %x", got)
	}
}

// TestDecodeAttachReqAnsReuse decodes a short body into a value that held
// a longer one: every field must be overwritten.
func TestDecodeAttachReqAnsReuse(t *testing.T) {
	var a AttachReqAns
	if _, err := a.Decode(loadVector(t, "attach_req_ans")); err != nil {
		t.Fatal(err)
	}
	small := AttachReqAns{Ufrag: []byte("u"), Candidates: []IceCandidate{{
		AddrPort: ipv6Ex, OverlayLink: LinkDTLSUDPSR, Type: CandHost,
	}}}
	if _, err := a.Decode(linkEncode(t, &small)); err != nil {
		t.Fatal(err)
	}
	if !equalish(&a, &small) {
		t.Errorf("reused decode:\n got %+v\nwant %+v", a, small)
	}
}

func FuzzDecodeAttachReqAns(f *testing.F) {
	linkFuzz[AttachReqAns](f, true, func(t *testing.T, a *AttachReqAns) {
		for i := range a.Candidates {
			linkCandidateInvariant(t, &a.Candidates[i])
		}
	}, loadVector(f, "attach_req_ans"), linkEncode(f, &AttachReqAns{}))
}

// ---- AppAttachReq / AppAttachAns ----

var appAttachReqEx = AppAttachReq{
	Ufrag:       []byte("uf"),
	Password:    []byte("pw"),
	Application: 5060,
	Role:        []byte("passive"),
	Candidates: []IceCandidate{{
		AddrPort:    IPAddressPort{Type: AddrIPv6, Addr: netip.MustParseAddr("2001:db8::1"), Port: 5060},
		OverlayLink: LinkTLSTCPFHNoICE,
		Foundation:  []byte{},
		Priority:    0x7effffff,
		Type:        CandHost,
	}},
}

var appAttachAnsEx = AppAttachAns{
	Ufrag:       []byte("u2"),
	Password:    []byte("p2"),
	Application: 5060,
	Role:        []byte("active"),
	Candidates: []IceCandidate{{
		AddrPort:    IPAddressPort{Type: AddrIPv4, Addr: netip.MustParseAddr("192.0.2.2"), Port: 5060},
		OverlayLink: LinkTLSTCPFHNoICE,
		Foundation:  []byte("a"),
		Priority:    0x7effffff,
		Type:        CandHost,
	}},
}

func TestDecodeAppAttachReq(t *testing.T) {
	vec := loadVector(t, "app_attach_req")
	checkGolden(t, vec, &appAttachReqEx)
	linkCheckReencode[AppAttachReq](t, vec)
}

func TestAppendAppAttachReq(t *testing.T) {
	if got, want := linkEncode(t, &appAttachReqEx), loadVector(t, "app_attach_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	c := appAttachReqEx.Clone()
	c.Candidates[0].AddrPort.Type = AddrInvalid
	_, err := c.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "AppAttachReq.candidates[0].addr_port.type" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeAppAttachReqTruncated(t *testing.T) {
	checkTruncated[AppAttachReq](t, loadVector(t, "app_attach_req"))
}

func TestDecodeAppAttachReqMalformed(t *testing.T) {
	vec := loadVector(t, "app_attach_req")
	// Offsets: ufrag 0, password 3, application 6, role 8, candidates 16.
	linkCheckBad[AppAttachReq](t, []linkBad{
		{"role overruns", linkMut(vec, 8, 0xff), ErrTruncated, "AppAttachReq.role", 8},
		{"candidate link 0", linkMut(vec, 38, 0), ErrInvalid, "AppAttachReq.candidates[0].overlay_link", 38},
		{"trailing byte", linkCat(vec, []byte{1}), ErrTrailingData, "AppAttachReq", len(vec)},
	}, nil)
}

func FuzzDecodeAppAttachReq(f *testing.F) {
	linkFuzz[AppAttachReq](f, true, func(t *testing.T, a *AppAttachReq) {
		for i := range a.Candidates {
			linkCandidateInvariant(t, &a.Candidates[i])
		}
	}, loadVector(f, "app_attach_req"), loadVector(f, "app_attach_ans"))
}

func TestDecodeAppAttachAns(t *testing.T) {
	vec := loadVector(t, "app_attach_ans")
	checkGolden(t, vec, &appAttachAnsEx)
	linkCheckReencode[AppAttachAns](t, vec)
}

func TestAppendAppAttachAns(t *testing.T) {
	if got, want := linkEncode(t, &appAttachAnsEx), loadVector(t, "app_attach_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	c := appAttachAnsEx.Clone()
	c.Password = make([]byte, 300)
	_, err := c.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "AppAttachAns.password" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeAppAttachAnsTruncated(t *testing.T) {
	checkTruncated[AppAttachAns](t, loadVector(t, "app_attach_ans"))
}

func TestDecodeAppAttachAnsMalformed(t *testing.T) {
	vec := loadVector(t, "app_attach_ans")
	// Offsets: ufrag 0, password 3, application 6, role 8, candidates 15
	// (entry [0] at 17).
	linkCheckBad[AppAttachAns](t, []linkBad{
		{"candidate addr invalid", linkMut(vec, 17, 0), ErrInvalid, "AppAttachAns.candidates[0].addr_port.type", 17},
		{"candidates overrun", linkMut(vec, 16, 0x13), ErrTruncated, "AppAttachAns.candidates", 15},
		{"candidates short", linkMut(vec, 16, 0x11), ErrTruncated, "AppAttachAns.candidates[0].extensions", 33},
		{"trailing byte", linkCat(vec, []byte{1}), ErrTrailingData, "AppAttachAns", len(vec)},
	}, nil)
}

func FuzzDecodeAppAttachAns(f *testing.F) {
	linkFuzz[AppAttachAns](f, true, func(t *testing.T, a *AppAttachAns) {
		for i := range a.Candidates {
			linkCandidateInvariant(t, &a.Candidates[i])
		}
	}, loadVector(f, "app_attach_ans"), loadVector(f, "app_attach_req"))
}

// ---- PingReq / PingAns ----

func TestDecodePingReq(t *testing.T) {
	checkGolden(t, loadVector(t, "ping_req"), &PingReq{Padding: make([]byte, 4)})
}

func TestAppendPingReq(t *testing.T) {
	if got, want := linkEncode(t, &PingReq{Padding: make([]byte, 4)}), loadVector(t, "ping_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&PingReq{Padding: make([]byte, 0x10000)}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodePingReqTruncated(t *testing.T) {
	checkTruncated[PingReq](t, loadVector(t, "ping_req"))
}

func TestDecodePingReqMalformed(t *testing.T) {
	linkCheckBad[PingReq](t, []linkBad{
		{"padding overruns", linkHex(t, "00 05 00 00 00 00"), ErrTruncated, "PingReq.padding", 0},
		{"trailing byte", linkHex(t, "00 00 ff"), ErrTrailingData, "PingReq", 2},
	}, nil)
}

func FuzzDecodePingReq(f *testing.F) {
	linkFuzz[PingReq](f, true, nil, loadVector(f, "ping_req"), linkHex(f, "0000"))
}

var pingAnsEx = PingAns{ResponseID: 0x0123456789abcdef, Time: 0x000001876543210f}

func TestDecodePingAns(t *testing.T) {
	checkGolden(t, loadVector(t, "ping_ans"), &pingAnsEx)
}

func TestAppendPingAns(t *testing.T) {
	if got, want := linkEncode(t, &pingAnsEx), loadVector(t, "ping_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

func TestDecodePingAnsTruncated(t *testing.T) {
	checkTruncated[PingAns](t, loadVector(t, "ping_ans"))
}

func TestDecodePingAnsMalformed(t *testing.T) {
	vec := loadVector(t, "ping_ans")
	linkCheckBad[PingAns](t, []linkBad{
		{"time short", vec[:12], ErrTruncated, "PingAns.time", 8},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "PingAns", 16},
	}, nil)
}

func FuzzDecodePingAns(f *testing.F) {
	linkFuzz[PingAns](f, true, nil, loadVector(f, "ping_ans"), make([]byte, 16))
}

// ---- ConfigUpdateReq / ConfigUpdateAns ----

var (
	configUpdateConfigEx = ConfigUpdateReq{Type: ConfigUpdateConfig, ConfigData: []byte("<overlay/>")}
	configUpdateKindEx   = ConfigUpdateReq{Type: ConfigUpdateKind, Kinds: [][]byte{[]byte("<kind/>"), []byte("<k/>")}}
	configUpdateRawEx    = ConfigUpdateReq{Type: 9, Raw: []byte{0xbe, 0xef}}
)

func TestDecodeConfigUpdateReq(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want *ConfigUpdateReq
	}{
		{"config_update_req_config", &configUpdateConfigEx},
		{"config_update_req_kind", &configUpdateKindEx},
		{"config_update_req_unknown", &configUpdateRawEx},
	} {
		t.Run(tc.vec, func(t *testing.T) { checkGolden(t, loadVector(t, tc.vec), tc.want) })
	}
}

func TestAppendConfigUpdateReq(t *testing.T) {
	if got, want := linkEncode(t, &configUpdateKindEx), loadVector(t, "config_update_req_kind"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&ConfigUpdateReq{}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid type: err = %v", err)
	}
	if _, err := (&ConfigUpdateReq{Type: ConfigUpdateKind, Kinds: [][]byte{make([]byte, 0x10000)}}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("long kind: err = %v", err)
	}
}

func TestDecodeConfigUpdateReqTruncated(t *testing.T) {
	for _, name := range []string{"config_update_req_config", "config_update_req_kind", "config_update_req_unknown"} {
		checkTruncated[ConfigUpdateReq](t, loadVector(t, name))
	}
}

func TestDecodeConfigUpdateReqMalformed(t *testing.T) {
	cfg := loadVector(t, "config_update_req_config")
	kind := loadVector(t, "config_update_req_kind")
	linkCheckBad[ConfigUpdateReq](t, []linkBad{
		{"type 0", linkMut(cfg, 0, 0), ErrInvalid, "ConfigUpdateReq.type", 0},
		{"length overruns", linkMut(cfg, 4, 14), ErrTruncated, "ConfigUpdateReq.config_data", 5},
		{"huge length", linkHex(t, "01 ffffffff 000000"), ErrTruncated, "ConfigUpdateReq.config_data", 5},
		{"length beyond config_data", linkCat(linkMut(cfg, 4, 14), []byte{0}), ErrTrailingData, "ConfigUpdateReq", 18},
		{"config_data beyond length", linkMut(cfg, 7, 11), ErrTruncated, "ConfigUpdateReq.config_data", 5},
		{"config_data short of length", linkMut(cfg, 7, 9), ErrTrailingData, "ConfigUpdateReq", 17},
		{"bytes after the body", linkCat(cfg, []byte{0}), ErrTrailingData, "ConfigUpdateReq", 18},
		{"kinds[1] overruns", linkMut(kind, 17, 5), ErrTruncated, "ConfigUpdateReq.kinds[1]", 17},
		{"kinds list overruns", linkMut(kind, 7, 16), ErrTruncated, "ConfigUpdateReq.kinds", 5},
	}, nil)
}

func FuzzDecodeConfigUpdateReq(f *testing.F) {
	linkFuzz[ConfigUpdateReq](f, true, func(t *testing.T, c *ConfigUpdateReq) {
		switch c.Type {
		case ConfigUpdateInvalid:
			t.Fatal("type 0 decoded")
		case ConfigUpdateConfig:
			if len(c.Kinds) != 0 || c.Raw != nil {
				t.Fatal("config with kinds or raw")
			}
		case ConfigUpdateKind:
			if c.ConfigData != nil || c.Raw != nil {
				t.Fatal("kind with config_data or raw")
			}
		default:
			if c.ConfigData != nil || len(c.Kinds) != 0 || c.Raw == nil {
				t.Fatal("unknown type not raw")
			}
		}
	}, loadVector(f, "config_update_req_config"), loadVector(f, "config_update_req_kind"),
		loadVector(f, "config_update_req_unknown"))
}

func TestDecodeConfigUpdateAns(t *testing.T) {
	checkGolden(t, loadVector(t, "config_update_ans"), &ConfigUpdateAns{})
}

func TestAppendConfigUpdateAns(t *testing.T) {
	if got := linkEncode(t, &ConfigUpdateAns{}); len(got) != 0 {
		t.Errorf("got %x", got)
	}
}

func TestDecodeConfigUpdateAnsTruncated(t *testing.T) {
	checkTruncated[ConfigUpdateAns](t, loadVector(t, "config_update_ans"))
}

func TestDecodeConfigUpdateAnsMalformed(t *testing.T) {
	linkCheckBad[ConfigUpdateAns](t, []linkBad{
		{"not empty", []byte{0}, ErrTrailingData, "ConfigUpdateAns", 0},
	}, nil)
}

func FuzzDecodeConfigUpdateAns(f *testing.F) {
	linkFuzz[ConfigUpdateAns](f, true, nil, []byte{}, []byte{0})
}

// ---- Probe ----

var probeReqEx = ProbeReq{RequestedInfo: []ProbeInformationType{ProbeResponsibleSet, ProbeNumResources, ProbeUptime}}

func TestDecodeProbeReq(t *testing.T) {
	checkGolden(t, loadVector(t, "probe_req"), &probeReqEx)
}

func TestAppendProbeReq(t *testing.T) {
	if got, want := linkEncode(t, &probeReqEx), loadVector(t, "probe_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&ProbeReq{RequestedInfo: make([]ProbeInformationType, 256)}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
	if _, err := (&ProbeReq{RequestedInfo: []ProbeInformationType{ProbeInvalid}}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestDecodeProbeReqTruncated(t *testing.T) {
	checkTruncated[ProbeReq](t, loadVector(t, "probe_req"))
}

func TestDecodeProbeReqMalformed(t *testing.T) {
	linkCheckBad[ProbeReq](t, []linkBad{
		{"type 0", linkHex(t, "02 01 00"), ErrInvalid, "ProbeReq.requested_info[1]", 2},
		{"trailing byte", linkHex(t, "01 01 01"), ErrTrailingData, "ProbeReq", 2},
		{"list overruns", linkHex(t, "02 01"), ErrTruncated, "ProbeReq.requested_info", 0},
	}, nil)
}

func FuzzDecodeProbeReq(f *testing.F) {
	linkFuzz[ProbeReq](f, true, func(t *testing.T, p *ProbeReq) {
		for _, v := range p.RequestedInfo {
			if v == ProbeInvalid {
				t.Fatal("type 0 decoded")
			}
		}
	}, loadVector(f, "probe_req"), linkHex(f, "00"), linkHex(f, "02 04 ff"))
}

var probeInformationEx = ProbeInformation{Type: ProbeUptime, Value: 3600}

func TestDecodeProbeInformation(t *testing.T) {
	checkGolden(t, loadVector(t, "probe_information"), &probeInformationEx)
}

func TestAppendProbeInformation(t *testing.T) {
	if got, want := linkEncode(t, &probeInformationEx), loadVector(t, "probe_information"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&ProbeInformation{}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	if _, err := (&ProbeInformation{Type: ProbeExp, Raw: make([]byte, 256)}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeProbeInformationTruncated(t *testing.T) {
	checkTruncated[ProbeInformation](t, loadVector(t, "probe_information"))
}

func TestDecodeProbeInformationMalformed(t *testing.T) {
	linkCheckBad[ProbeInformation](t, []linkBad{
		{"type 0", linkHex(t, "00 04 00000001"), ErrInvalid, "type", 0},
		{"uint32 length 3", linkHex(t, "01 03 000001"), ErrTruncated, "value", 2},
		{"uint32 length 5", linkHex(t, "02 05 0000000100"), ErrTrailingData, "value", 6},
		{"raw overruns", linkHex(t, "04 03 ab"), ErrTruncated, "value", 2},
	}, nil)
}

func FuzzDecodeProbeInformation(f *testing.F) {
	linkFuzz[ProbeInformation](f, false, func(t *testing.T, p *ProbeInformation) {
		if p.Type == ProbeInvalid || (p.Type.hasU32() && p.Raw != nil) {
			t.Fatalf("bad value %+v", p)
		}
	}, loadVector(f, "probe_information"), linkHex(f, "04 02 abcd"))
}

var probeAnsEx = ProbeAns{ProbeInfo: []ProbeInformation{
	{Type: ProbeResponsibleSet, Value: 10000000},
	{Type: ProbeNumResources, Value: 42},
	{Type: ProbeUptime, Value: 3600},
	{Type: ProbeExp, Raw: []byte{0xab, 0xcd}},
}}

func TestDecodeProbeAns(t *testing.T) {
	checkGolden(t, loadVector(t, "probe_ans"), &probeAnsEx)
}

func TestAppendProbeAns(t *testing.T) {
	if got, want := linkEncode(t, &probeAnsEx), loadVector(t, "probe_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}

func TestDecodeProbeAnsTruncated(t *testing.T) {
	checkTruncated[ProbeAns](t, loadVector(t, "probe_ans"))
}

func TestDecodeProbeAnsMalformed(t *testing.T) {
	vec := loadVector(t, "probe_ans")
	linkCheckBad[ProbeAns](t, []linkBad{
		{"entry 1 type 0", linkMut(vec, 8, 0), ErrInvalid, "ProbeAns.probe_info[1].type", 8},
		{"entry 0 length 3", linkMut(vec, 3, 3), ErrTruncated, "ProbeAns.probe_info[0].value", 4},
		{"entry 2 length 5", linkMut(vec, 15, 5), ErrTrailingData, "ProbeAns.probe_info[2].value", 20},
		{"last entry overruns", linkMut(vec, 21, 3), ErrTruncated, "ProbeAns.probe_info[3].value", 22},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "ProbeAns", 24},
	}, nil)
}

func FuzzDecodeProbeAns(f *testing.F) {
	linkFuzz[ProbeAns](f, true, func(t *testing.T, p *ProbeAns) {
		for _, pi := range p.ProbeInfo {
			if pi.Type == ProbeInvalid {
				t.Fatal("type 0 decoded")
			}
		}
	}, loadVector(f, "probe_ans"), linkHex(f, "0000"))
}

// ---- enum names ----

func TestLinkEnumStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{AddrIPv6.String(), "ipv6_address"},
		{AddressType(9).String(), "AddressType(9)"},
		{LinkTLSTCPFHNoICE.String(), "TLS-TCP-FH-NO-ICE"},
		{LinkExp.String(), "EXP-LINK"},
		{OverlayLinkType(2).String(), "OverlayLinkType(2)"},
		{CandSrflx.String(), "srflx"},
		{CandType(3).String(), "RESERVED(3)"},
		{ConfigUpdateKind.String(), "kind"},
		{ProbeExp.String(), "exp-probe"},
		{ProbeResponsibleSet.String(), "responsible_set"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !LinkDTLSUDPSRNoICE.NoICE() || LinkDTLSUDPSR.NoICE() {
		t.Error("NoICE")
	}
}

// ---- allocations ----

func TestDecodeLinkZeroAlloc(t *testing.T) {
	ping := loadVector(t, "ping_req")
	attach := loadVector(t, "attach_req_ans")
	var p PingReq
	var a AttachReqAns
	if _, err := a.Decode(attach); err != nil { // warm the reused capacity
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := p.Decode(ping); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("PingReq.Decode: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := a.Decode(attach); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AttachReqAns.Decode: %v allocs", n)
	}
	if len(a.Candidates) != 2 {
		t.Fatalf("decoded %d candidates", len(a.Candidates))
	}
}

func BenchmarkDecodeAttachReqAns(b *testing.B) {
	vec := loadVector(b, "attach_req_ans")
	var a AttachReqAns
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Decode(vec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendAttachReqAns(b *testing.B) {
	buf := make([]byte, 0, attachEx.Len())
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = attachEx.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
