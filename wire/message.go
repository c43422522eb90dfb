package wire

// Message is a whole RELOAD message (RFC 6940 §6.3): forwarding header,
// MessageContents and SecurityBlock.
//
// Decode fills Header and keeps everything after it in Payload. When the
// message is not a fragment it also decodes Contents and Security and sets
// RawContents to the encoded MessageContents (the bytes a signature
// covers). All slices alias the decoded input; Decode reuses the capacity
// of the list fields.
//
// Append encodes Header (with its length field recomputed) followed by
// Contents and Security, or by Payload when the header marks a fragment.
type Message struct {
	Header      ForwardingHeader
	Contents    MessageContents
	Security    SecurityBlock
	RawContents []byte
	Payload     []byte
}

// Len is the encoded size.
func (m *Message) Len() int {
	if m.Header.IsFragment() {
		return m.Header.Len() + len(m.Payload)
	}
	return m.Header.Len() + m.Contents.Len() + m.Security.Len()
}

// Decode reads one message from the start of b. The header's length field
// says where the message ends; bytes after that are not read.
func (m *Message) Decode(b []byte) (int, error) {
	hn, err := m.Header.Decode(b)
	if err != nil {
		return 0, err
	}
	if int64(m.Header.Length) > int64(len(b)) {
		return 0, fieldErr(ErrTruncated, "Message", len(b))
	}
	end := int(m.Header.Length)
	m.Payload = b[hn:end:end]
	m.RawContents = nil
	if m.Header.IsFragment() {
		m.Contents = MessageContents{Extensions: m.Contents.Extensions[:0]}
		m.Security = SecurityBlock{Certificates: m.Security.Certificates[:0]}
		return end, nil
	}
	cn, err := m.Contents.Decode(m.Payload)
	if err != nil {
		return 0, fieldErr(err, "", hn)
	}
	sn, err := m.Security.Decode(m.Payload[cn:])
	if err != nil {
		return 0, fieldErr(err, "", hn+cn)
	}
	if cn+sn != len(m.Payload) {
		return 0, fieldErr(ErrTrailingData, "Message", hn+cn+sn)
	}
	m.RawContents = m.Payload[:cn:cn]
	return end, nil
}

// Append appends the encoding of m.
func (m *Message) Append(b []byte) ([]byte, error) {
	total := m.Len()
	if total > 0xffffffff {
		return b, fieldErr(ErrTooLong, "ForwardingHeader.length", 16)
	}
	m.Header.Length = uint32(total)
	b, err := m.Header.Append(b)
	if err != nil {
		return b, err
	}
	if m.Header.IsFragment() {
		return append(b, m.Payload...), nil
	}
	if b, err = m.Contents.Append(b); err != nil {
		return b, err
	}
	return m.Security.Append(b)
}

// PeekLength reports the length field of the message at the start of b
// after checking its token; it needs only the first 20 bytes.
func PeekLength(b []byte) (uint32, error) {
	if len(b) < 20 {
		return 0, fieldErr(ErrTruncated, "ForwardingHeader.length", min(len(b), 16))
	}
	if uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]) != ReloToken {
		return 0, fieldErr(ErrInvalid, "ForwardingHeader.relo_token", 0)
	}
	return uint32(b[16])<<24 | uint32(b[17])<<16 | uint32(b[18])<<8 | uint32(b[19]), nil
}
