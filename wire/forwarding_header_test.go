package wire

import (
	"bytes"
	"errors"
	"testing"
)

func bytesRange(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func goldenHeader() *ForwardingHeader {
	return &ForwardingHeader{
		Overlay: 0x1a2b3c4d, ConfigSequence: 7, Version: Version10, TTL: 100,
		Fragment: FragmentUnfragmed, Length: 100, TransactionID: 0x0102030405060708,
		MaxResponseLength: 4096,
		Via:               []Destination{{Type: DestNode, ID: bytesRange(0xa0, 16)}},
		Destinations: []Destination{
			{Type: DestNode, ID: bytesRange(0xb0, 16)},
			{Type: DestResource, ID: bytesRange(0xc0, 17)},
		},
		Options: []ForwardingOption{{Type: 0x80, Flags: FlagForwardCritical, Value: []byte{0xbe, 0xef}}},
	}
}

// RFC 6940 §6.3.2: the vector checked in both directions.
func TestDecodeForwardingHeader(t *testing.T) {
	checkGolden(t, loadVector(t, "forwarding_header"), goldenHeader())
}

func TestAppendForwardingHeader(t *testing.T) {
	vec := loadVector(t, "forwarding_header")
	got, err := goldenHeader().Append(nil)
	if err != nil || !bytes.Equal(got, vec) {
		t.Fatalf("Append = %x, %v\nwant %x", got, err, vec)
	}
}

func TestDecodeForwardingHeaderTruncated(t *testing.T) {
	checkTruncated[ForwardingHeader](t, loadVector(t, "forwarding_header"))
}

// RFC 6940 §6.3.2.2: the 16-bit compressed form and an opaque_id TLV.
func TestDecodeDestinationCompressed(t *testing.T) {
	vec := loadVector(t, "destination_compressed")
	list, err := DecodeDestinationList(nil, vec)
	if err != nil {
		t.Fatal(err)
	}
	want := []Destination{CompressedDest(0x8123), {Type: DestOpaqueID, ID: []byte{0xaa, 0xbb, 0xcc}}}
	if !equalish(list, want) {
		t.Fatalf("got %v want %v", list, want)
	}
	enc, err := AppendDestinationList(nil, want)
	if err != nil || !bytes.Equal(enc, vec) || DestinationListLen(want) != len(vec) {
		t.Fatalf("Append = %x, %v", enc, err)
	}
	checkTruncated[Destination](t, vec[2:])
}

// RFC 6940 §6.3.3, §6.3.4, §6.5.3.1: a whole ping request.
func TestDecodeMessagePing(t *testing.T) {
	vec := loadVector(t, "message_ping")
	var m Message
	n, err := m.Decode(vec)
	if err != nil || n != len(vec) {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	if m.Contents.Code != CodePingReq || !bytes.Equal(m.Contents.Body, []byte{0, 2, 0xab, 0xcd}) {
		t.Fatalf("contents %+v", m.Contents)
	}
	if m.Security.Signature.Identity.Type != IdentityNone || len(m.Security.Certificates) != 0 {
		t.Fatalf("security %+v", m.Security)
	}
	if m.Header.IsFragment() || m.Header.Check(0) != nil {
		t.Fatalf("header %+v", m.Header)
	}
	if !bytes.Equal(m.RawContents, vec[56:56+14]) {
		t.Fatalf("RawContents %x", m.RawContents)
	}
	enc, err := m.Append(nil)
	if err != nil || !bytes.Equal(enc, vec) || m.Len() != len(vec) {
		t.Fatalf("Append = %x, %v", enc, err)
	}
}

func TestDecodeMessageTruncated(t *testing.T) {
	checkTruncated[Message](t, loadVector(t, "message_ping"))
}

func TestDecodeFramedMessage(t *testing.T) {
	ping := loadVector(t, "message_ping")
	data := append([]byte{0x80, 0, 0, 0, 5, 0, 0, byte(len(ping))}, ping...)
	checkGolden(t, data, &FramedMessage{Type: FrameData, Sequence: 5, Message: ping})
	checkTruncated[FramedMessage](t, data)
	ack := []byte{0x81, 0, 0, 0, 5, 0x80, 0, 0, 3}
	checkGolden(t, ack, &FramedMessage{Type: FrameAck, Sequence: 5, Received: 0x80000003})
	checkTruncated[FramedMessage](t, ack)
}

func TestDecodeSecurityBlock(t *testing.T) {
	vec := []byte{
		0x00, 0x07, // certificates length
		0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef, // X.509, 4 bytes
		0x04, 0x03, // sha256, ecdsa
		0x02, 0x00, 0x04, 0x04, 0x02, 0x11, 0x22, // cert_hash_node_id, sha256, 2-byte hash
		0x00, 0x02, 0x99, 0x98, // signature_value
	}
	want := &SecurityBlock{
		Certificates: []GenericCertificate{{Type: CertX509, Certificate: []byte{0xde, 0xad, 0xbe, 0xef}}},
		Signature: Signature{Algorithm: AlgECDSASHA256,
			Identity: SignerIdentity{Type: IdentityCertHashNodeID, HashAlg: HashSHA256, Hash: []byte{0x11, 0x22}},
			Value:    []byte{0x99, 0x98}},
	}
	checkGolden(t, vec, want)
	checkTruncated[SecurityBlock](t, vec)
	// An unknown identity type keeps its value raw and round-trips.
	unk := []byte{0x00, 0x00, 0x04, 0x01, 0x09, 0x00, 0x02, 0xab, 0xcd, 0x00, 0x00}
	checkGolden(t, unk, &SecurityBlock{Signature: Signature{Algorithm: AlgRSASHA256,
		Identity: SignerIdentity{Type: 9, Raw: []byte{0xab, 0xcd}}}})
}

func TestDecodeMessageContentsUnknownExtension(t *testing.T) {
	vec := []byte{
		0x00, 0x17, 0, 0, 0, 2, 0, 0, // ping_req with empty padding
		0, 0, 0, 9, // extensions length
		0x12, 0x34, 0x01, 0, 0, 0, 2, 0xca, 0xfe, // unknown type 0x1234, critical
	}
	want := &MessageContents{Code: CodePingReq, Body: []byte{0, 0},
		Extensions: []MessageExtension{{Type: 0x1234, Critical: true, Contents: []byte{0xca, 0xfe}}}}
	checkGolden(t, vec, want)
	checkTruncated[MessageContents](t, vec)
	if e, ok := want.UnknownCriticalExtension(func(t MessageExtensionType) bool { return t == ExtDiagnosticPing }); !ok || e.Type != 0x1234 {
		t.Fatal("unknown critical extension not reported")
	}
}

// Malformed inputs: each gives its sentinel and the path of the bad field.
func TestDecodeMalformed(t *testing.T) {
	hdr := loadVector(t, "forwarding_header")
	ping := loadVector(t, "message_ping")
	mod := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name string
		dec  codec
		in   []byte
		want error
		path string
		off  int
	}{
		{"bad token", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[0] = 0x52; return b }), ErrInvalid, "ForwardingHeader.relo_token", 0},
		{"via list overruns", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[33] = 0xff; return b }), ErrTruncated, "ForwardingHeader.via_list", 38},
		{"via entry type 0", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[38] = 0; return b }), ErrInvalid, "ForwardingHeader.via_list[0].type", 38},
		{"node id too short", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[57] = 5; return b }), ErrInvalid, "ForwardingHeader.destination_list[0].length", 57},
		{"resource inner length too long", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[76] = 0x12; return b }), ErrTruncated, "ForwardingHeader.destination_list[1].resource_id", 76},
		{"resource inner length too short", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[76] = 0x10; return b }), ErrTrailingData, "ForwardingHeader.destination_list[1].resource_id", 76},
		{"option type 0", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[94] = 0; return b }), ErrInvalid, "ForwardingHeader.options[0].type", 94},
		{"option value overruns", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[97] = 3; return b }), ErrTruncated, "ForwardingHeader.options[0].length", 96},
		{"length below header", &ForwardingHeader{}, mod(hdr, func(b []byte) []byte { b[19] = 10; return b }), ErrInvalid, "ForwardingHeader.length", 16},
		{"message longer than input", &Message{}, mod(ping, func(b []byte) []byte { b[19]++; return b }), ErrTruncated, "Message", 79},
		{"body overruns contents", &Message{}, mod(ping, func(b []byte) []byte { b[61] = 0x40; return b }), ErrTruncated, "MessageContents.message_body", 58},
		{"bytes after security block", &Message{}, mod(ping, func(b []byte) []byte { b[19]++; return append(b, 0) }), ErrTrailingData, "Message", 79},
		{"signer identity invalid", &Message{}, mod(ping, func(b []byte) []byte { b[74] = 0; return b }), ErrInvalid, "SecurityBlock.signature.identity.identity_type", 74},
		{"identity none with value", &Message{}, mod(ping, func(b []byte) []byte { b[76] = 1; return b }), ErrTrailingData, "SecurityBlock.signature.identity.identity", 77},
		{"boolean 2", &MessageContents{}, []byte{0, 0x17, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 2, 0, 0, 0, 0}, ErrInvalid, "MessageContents.extensions[0].critical", 12},
		{"frame type 7", &FramedMessage{}, []byte{7, 0, 0, 0, 0, 0, 0, 0}, ErrInvalid, "FramedMessage.type", 0},
		{"frame message overruns", &FramedMessage{}, []byte{0x80, 0, 0, 0, 0, 0, 0, 9, 1}, ErrTruncated, "FramedMessage.message", 5},
		{"error response trailing", &ErrorResponse{}, []byte{0, 2, 0, 0, 1}, ErrTrailingData, "ErrorResponse", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.dec.Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not *DecodeError", err)
			}
			if de.Path != tc.path || de.Offset != tc.off {
				t.Fatalf("path %q at %d, want %q at %d", de.Path, de.Offset, tc.path, tc.off)
			}
		})
	}
}

func TestForwardingHeaderCheck(t *testing.T) {
	h := goldenHeader()
	if err := h.Check(0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mut  func(*ForwardingHeader)
		code ErrorCode
	}{
		{func(h *ForwardingHeader) { h.Version = 1 }, ErrCodeInvalidMessage},
		{func(h *ForwardingHeader) { h.Fragment = FragmentLast }, ErrCodeInvalidMessage},
		{func(h *ForwardingHeader) { h.TTL = 101 }, ErrCodeTTLExceeded},
	}
	for _, c := range cases {
		h := goldenHeader()
		c.mut(h)
		var pe *ProtocolError
		if err := h.Check(0); !errors.As(err, &pe) || pe.Code != c.code {
			t.Errorf("Check = %v, want %v", err, c.code)
		}
	}
	if o, ok := h.UnknownCriticalOption(true, nil); !ok || o.Type != 0x80 {
		t.Fatal("FORWARD_CRITICAL unknown option not reported")
	}
	if _, ok := h.UnknownCriticalOption(false, nil); ok {
		t.Fatal("option without DESTINATION_CRITICAL reported at the destination")
	}
}

// transit rewrites a message's header as a forwarding peer does (RFC 6940
// §6.1.2): TTL down, the previous hop appended to the via list, the first
// destination popped. It writes only the new header; rest is untouched.
func transit(h *ForwardingHeader, msg, out []byte, prev *Destination) ([]byte, []byte, error) {
	n, err := h.Decode(msg)
	if err != nil {
		return out, nil, err
	}
	h.TTL--
	h.Via = append(h.Via, *prev)
	if len(h.Destinations) > 1 {
		h.Destinations = h.Destinations[1:]
	}
	rest := msg[n:h.Length]
	out, err = h.AppendForRest(out[:0], len(rest))
	return out, rest, err
}

func TestTransitRewrite(t *testing.T) {
	msg := loadVector(t, "message_ping")
	prevID := bytesRange(0x40, 16)
	prev := Destination{Type: DestNode, ID: prevID}
	var h ForwardingHeader
	out, rest, err := transit(&h, msg, make([]byte, 0, 256), &prev)
	if err != nil {
		t.Fatal(err)
	}
	whole := append(append([]byte(nil), out...), rest...)
	var m Message
	if _, err := m.Decode(whole); err != nil {
		t.Fatal(err)
	}
	if m.Header.TTL != 99 || len(m.Header.Via) != 1 || !bytes.Equal(m.Header.Via[0].ID, prevID) {
		t.Fatalf("rewritten header %+v", m.Header)
	}
	if int(m.Header.Length) != len(whole) || !bytes.Equal(m.RawContents, msg[56:70]) {
		t.Fatal("length or contents changed")
	}
}

func TestTransitRewriteZeroAlloc(t *testing.T) {
	msg := loadVector(t, "message_ping")
	prev := Destination{Type: DestNode, ID: bytesRange(0x40, 16)}
	var h ForwardingHeader
	out := make([]byte, 0, 512)
	h.Via = make([]Destination, 0, 8)
	h.Destinations = make([]Destination, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := transit(&h, msg, out, &prev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("transit rewrite allocates %v times", allocs)
	}
}

func TestDecodeMessageZeroAlloc(t *testing.T) {
	msg := loadVector(t, "message_ping")
	var m Message
	if _, err := m.Decode(msg); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Decode(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Message.Decode allocates %v times", allocs)
	}
}

func FuzzDecodeForwardingHeader(f *testing.F) {
	f.Add(loadVector(f, "forwarding_header"))
	f.Add(loadVector(f, "message_ping"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip[ForwardingHeader](t, b)
		var h ForwardingHeader
		if n, err := h.Decode(b); err == nil {
			if n != h.Len() || int64(h.Length) < int64(n) {
				t.Fatalf("n=%d Len=%d length=%d", n, h.Len(), h.Length)
			}
			for _, d := range h.Destinations {
				if d.Type == DestInvalid {
					t.Fatal("invalid destination type accepted")
				}
			}
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(loadVector(f, "message_ping"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip[Message](t, b)
		var m Message
		if n, err := m.Decode(b); err == nil && n != int(m.Header.Length) {
			t.Fatalf("consumed %d, length field %d", n, m.Header.Length)
		}
	})
}

func FuzzDecodeFramedMessage(f *testing.F) {
	f.Add([]byte{0x81, 0, 0, 0, 5, 0x80, 0, 0, 3})
	f.Add(append([]byte{0x80, 0, 0, 0, 1, 0, 0, 79}, loadVector(f, "message_ping")...))
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip[FramedMessage](t, b) })
}

func FuzzDecodeMessageContents(f *testing.F) {
	f.Add([]byte{0x00, 0x17, 0, 0, 0, 2, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0x01, 0, 0, 0, 2, 0xca, 0xfe})
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip[MessageContents](t, b) })
}

func FuzzDecodeSecurityBlock(f *testing.F) {
	f.Add([]byte{0x00, 0x07, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x04, 0x03, 0x02, 0x00, 0x04, 0x04, 0x02, 0x11, 0x22, 0x00, 0x02, 0x99, 0x98})
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip[SecurityBlock](t, b) })
}

func FuzzDecodeDestination(f *testing.F) {
	f.Add(loadVector(f, "destination_compressed"))
	f.Add([]byte{0x02, 0x03, 0x02, 0xaa, 0xbb})
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip[Destination](t, b) })
}

func BenchmarkDecodeForwardingHeader(b *testing.B) {
	msg := loadVector(b, "message_ping")
	var h ForwardingHeader
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := h.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessagePing(b *testing.B) {
	msg := loadVector(b, "message_ping")
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessagePing(b *testing.B) {
	msg := loadVector(b, "message_ping")
	var m Message
	if _, err := m.Decode(msg); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = m.Append(out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
