package wire

import "strconv"

// MessageExtensionType identifies a message extension (RFC 6940 §6.3.3,
// IANA "RELOAD Extensions Registry").
type MessageExtensionType uint16

// Registered message extensions. Wireshark swaps 2 and 3; the values here
// are the RFC's.
const (
	ExtInvalid        MessageExtensionType = 0x0000
	ExtExp            MessageExtensionType = 0x0001 // exp-ext, RFC 6940 §14.14
	ExtDiagnosticPing MessageExtensionType = 0x0002 // RFC 7851 §4.2.1
	ExtSelfTuningData MessageExtensionType = 0x0003 // RFC 7363 §6.5
)

func (t MessageExtensionType) String() string {
	switch t {
	case ExtInvalid:
		return "invalidMessageExtensionType"
	case ExtExp:
		return "exp-ext"
	case ExtDiagnosticPing:
		return "Diagnostic_Ping"
	case ExtSelfTuningData:
		return "self_tuning_data"
	}
	return "MessageExtensionType(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// MessageExtension is one extension of MessageContents (RFC 6940 §6.3.3):
//
//	struct {
//	  MessageExtensionType  type;
//	  Boolean               critical;
//	  opaque                extension_contents<0..2^32-1>;
//	} MessageExtension;
//
// Contents aliases the decoded input.
type MessageExtension struct {
	Type     MessageExtensionType
	Critical bool
	Contents []byte
}

// Len is the encoded size.
func (e *MessageExtension) Len() int { return 7 + len(e.Contents) }

// Decode reads one extension from the start of b.
func (e *MessageExtension) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "type", 0)
	}
	c, err := r.ReadBool()
	if err != nil {
		return 0, fieldErr(err, "critical", 2)
	}
	v, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "extension_contents", 3)
	}
	*e = MessageExtension{Type: MessageExtensionType(t), Critical: c, Contents: v}
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *MessageExtension) Append(b []byte) ([]byte, error) {
	b = AppendU16(b, uint16(e.Type))
	b = AppendBool(b, e.Critical)
	b, err := AppendVec32(b, e.Contents)
	if err != nil {
		return b, fieldErr(err, "extension_contents", 3)
	}
	return b, nil
}

// MessageContents is the second part of a message (RFC 6940 §6.3.3):
//
//	struct {
//	  uint16                 message_code;
//	  opaque                 message_body<0..2^32-1>;
//	  MessageExtension       extensions<0..2^32-1>;
//	} MessageContents;
//
// Body is the raw message body (decode it with the body type for Code);
// Body and extension contents alias the decoded input. Decode reuses the
// capacity of Extensions.
type MessageContents struct {
	Code       MessageCode
	Body       []byte
	Extensions []MessageExtension
}

// Len is the encoded size.
func (m *MessageContents) Len() int {
	n := 2 + 4 + len(m.Body) + 4
	for i := range m.Extensions {
		n += m.Extensions[i].Len()
	}
	return n
}

// Decode reads MessageContents from the start of b.
func (m *MessageContents) Decode(b []byte) (int, error) {
	r := NewReader(b)
	c, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "MessageContents.message_code", 0)
	}
	body, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "MessageContents.message_body", 2)
	}
	extOff := r.Offset()
	exts, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "MessageContents.extensions", extOff)
	}
	m.Code, m.Body = MessageCode(c), body
	m.Extensions = m.Extensions[:0]
	for o := 0; o < len(exts); {
		var e MessageExtension
		n, err := e.Decode(exts[o:])
		if err != nil {
			return 0, indexErr(err, "MessageContents.extensions", len(m.Extensions), extOff+4+o)
		}
		m.Extensions = append(m.Extensions, e)
		o += n
	}
	return r.Offset(), nil
}

// Append appends the encoding of m.
func (m *MessageContents) Append(b []byte) ([]byte, error) {
	b = AppendU16(b, uint16(m.Code))
	b, err := AppendVec32(b, m.Body)
	if err != nil {
		return b, fieldErr(err, "MessageContents.message_body", 2)
	}
	b, mark := BeginVec(b, 4)
	for i := range m.Extensions {
		if b, err = m.Extensions[i].Append(b); err != nil {
			return b, indexErr(err, "MessageContents.extensions", i, 0)
		}
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "MessageContents.extensions", 0)
	}
	return b, nil
}

// Extension returns the first extension of type t.
func (m *MessageContents) Extension(t MessageExtensionType) (*MessageExtension, bool) {
	for i := range m.Extensions {
		if m.Extensions[i].Type == t {
			return &m.Extensions[i], true
		}
	}
	return nil, false
}

// UnknownCriticalExtension returns the first critical extension that known
// does not recognise; a node must answer it with Error_Unknown_Extension
// (RFC 6940 §6.3.3).
func (m *MessageContents) UnknownCriticalExtension(known func(MessageExtensionType) bool) (*MessageExtension, bool) {
	for i := range m.Extensions {
		e := &m.Extensions[i]
		if e.Critical && (known == nil || !known(e.Type)) {
			return e, true
		}
	}
	return nil, false
}
