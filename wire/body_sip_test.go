package wire

import (
	"bytes"
	"errors"
	"testing"
)

func wantSipRegistrationURI() *SipRegistration {
	return &SipRegistration{Type: SipRegistrationURI, URI: []byte("alice@example.com")}
}

func wantSipRegistrationRoute() *SipRegistration {
	return &SipRegistration{
		Type:         SipRegistrationRoute,
		ContactPrefs: []byte("(sip.schemes=SIP)"),
		Destinations: []Destination{{Type: DestNode, ID: diagNodeA}},
	}
}

func wantSipRegistrationUnknown() *SipRegistration {
	return &SipRegistration{Type: 7, Raw: []byte{0xaa, 0xbb, 0xcc}}
}

func TestSipRegistrationType(t *testing.T) {
	for _, tc := range []struct {
		t    SipRegistrationType
		v    uint8
		name string
	}{
		{SipRegistrationURI, 1, "sip_registration_uri"},
		{SipRegistrationRoute, 2, "sip_registration_route"},
		{9, 9, "SipRegistrationType(9)"},
	} {
		if uint8(tc.t) != tc.v || tc.t.String() != tc.name {
			t.Errorf("%d: %q", tc.v, tc.t.String())
		}
	}
}

func TestDecodeSipRegistration(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want *SipRegistration
	}{
		{"sip_registration_uri", wantSipRegistrationURI()},
		{"sip_registration_route", wantSipRegistrationRoute()},
		{"sip_registration_unknown", wantSipRegistrationUnknown()},
	} {
		t.Run(tc.vec, func(t *testing.T) {
			checkGolden(t, loadVector(t, tc.vec), tc.want)
		})
	}
}

func TestAppendSipRegistration(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want *SipRegistration
	}{
		{"sip_registration_uri", wantSipRegistrationURI()},
		{"sip_registration_route", wantSipRegistrationRoute()},
		{"sip_registration_unknown", wantSipRegistrationUnknown()},
	} {
		t.Run(tc.vec, func(t *testing.T) {
			b, err := tc.want.Append([]byte{0x55})
			if err != nil || !bytes.Equal(b[1:], loadVector(t, tc.vec)) {
				t.Fatalf("Append = %x, %v", b, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		s    SipRegistration
		want error
		path string
	}{
		{"empty destination list", SipRegistration{Type: SipRegistrationRoute}, ErrInvalid, "SipRegistration.destination_list"},
		{"2-byte destination list", SipRegistration{Type: SipRegistrationRoute, Destinations: []Destination{CompressedDest(0x8001)}}, ErrInvalid, "SipRegistration.destination_list"},
		{"bad destination", SipRegistration{Type: SipRegistrationRoute, Destinations: []Destination{{Type: DestNode, ID: diagNodeA}, {Type: DestNode, ID: []byte{1}}}}, ErrInvalid, "SipRegistration.destination_list[1].length"},
		{"uri too long", SipRegistration{Type: SipRegistrationURI, URI: make([]byte, 0xfffe)}, ErrTooLong, "SipRegistration.length"},
		{"raw too long", SipRegistration{Type: 3, Raw: make([]byte, 0x10000)}, ErrTooLong, "SipRegistration.length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("err = %v, want %v at %q", err, tc.want, tc.path)
			}
		})
	}
}

func TestDecodeSipRegistrationTruncated(t *testing.T) {
	for _, vec := range []string{"sip_registration_uri", "sip_registration_route", "sip_registration_unknown"} {
		t.Run(vec, func(t *testing.T) {
			checkTruncated[SipRegistration](t, loadVector(t, vec))
		})
	}
}

func TestDecodeSipRegistrationMalformed(t *testing.T) {
	route := loadVector(t, "sip_registration_route")
	usageCheckMalformed[SipRegistration](t, []usageMalformed{
		{"trailing after length", usageCat(loadVector(t, "sip_registration_uri"), []byte{0}), ErrTrailingData, "SipRegistration"},
		{"uri shorter than length", usageHex(t, "01 0004 0001 61 00"), ErrTrailingData, "SipRegistration.data"},
		{"uri longer than length", usageHex(t, "01 0003 0002 61"), ErrTruncated, "SipRegistration.uri"},
		{"route: contact_prefs past length", usageHex(t, "02 0002 0005"), ErrTruncated, "SipRegistration.contact_prefs"},
		{"route: missing destination_list", usageHex(t, "02 0002 0000"), ErrTruncated, "SipRegistration.destination_list"},
		{"route: empty destination_list", usageHex(t, "02 0004 0000 0000"), ErrInvalid, "SipRegistration.destination_list"},
		{"route: 2-byte destination_list", usageHex(t, "02 0006 0000 0002 8001"), ErrInvalid, "SipRegistration.destination_list"},
		{"route: bad destination", usageHex(t, "02 0007 0000 0003 00 01 00"), ErrInvalid, "SipRegistration.destination_list[0].type"},
		{"route: destination past list", usageCat(route[:25], []byte{0x11}, route[26:]), ErrTruncated, "SipRegistration.destination_list[0].destination_data"},
		{"route: second destination cut", usageHex(t, "02 0007 0000 0003 8001 01"), ErrTruncated, "SipRegistration.destination_list[1].length"},
		{"route: trailing in data", usageCat(usageHex(t, "02 0028"), route[3:], []byte{0}), ErrTrailingData, "SipRegistration.data"},
	})
	var s SipRegistration
	_, err := s.Decode(usageHex(t, "02 0007 0000 0003 8001 01"))
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 3+2+2+2+1 {
		t.Errorf("offset: %v", err)
	}
}

func TestSipRegistrationReuseAndClone(t *testing.T) {
	vec := loadVector(t, "sip_registration_route")
	var s SipRegistration
	if _, err := s.Decode(vec); err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	// Decoding a URI registration into the same struct clears the route fields.
	if _, err := s.Decode(loadVector(t, "sip_registration_uri")); err != nil {
		t.Fatal(err)
	}
	if !equalish(&s, wantSipRegistrationURI()) {
		t.Errorf("reused decode: %+v", s)
	}
	for i := range vec {
		vec[i] = 0
	}
	if !equalish(&c, wantSipRegistrationRoute()) {
		t.Errorf("clone aliases its input: %+v", c)
	}
}

func TestDecodeSipRegistrationZeroAlloc(t *testing.T) {
	vec := loadVector(t, "sip_registration_route")
	var s SipRegistration
	if _, err := s.Decode(vec); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = s.Decode(vec) }); a != 0 {
		t.Errorf("allocs = %v", a)
	}
}

func FuzzDecodeSipRegistration(f *testing.F) {
	diagFuzzSeeds(f, "sip_registration_uri", "sip_registration_route", "sip_registration_unknown")
	two := SipRegistration{Type: SipRegistrationRoute, Destinations: []Destination{CompressedDest(0x8001), ResourceDest(ResourceID{1, 2})}}
	b, err := two.Append(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[SipRegistration](t, b)
		if v == nil {
			return
		}
		if v.Len() != len(b) {
			t.Fatalf("did not consume the input")
		}
		switch v.Type {
		case SipRegistrationRoute:
			if destListLen(v.Destinations) < sipMinDestListLen {
				t.Fatalf("short destination_list decoded")
			}
		case SipRegistrationURI:
		default:
			if v.URI != nil || v.ContactPrefs != nil || len(v.Destinations) != 0 {
				t.Fatalf("unknown type filled known fields")
			}
		}
		c := v.Clone()
		if !equalish(&c, v) {
			t.Fatalf("Clone differs")
		}
	})
}
