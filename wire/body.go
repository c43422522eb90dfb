package wire

// Body is any message body or other PDU: the Decode/Append/Len triple.
type Body interface {
	Decode(b []byte) (int, error)
	Append(b []byte) ([]byte, error)
	Len() int
}

// NewBody returns a new, empty body value for message code c, ready to
// Decode a message_body, or false when c has no body type here (unknown
// or experimental codes). idLen is the overlay's Node-ID length (0 means
// 16) for bodies that carry bare Node-IDs.
func NewBody(c MessageCode, idLen int) (Body, bool) {
	switch c {
	case CodeError:
		return &ErrorResponse{}, true
	}
	return newBody(c, idLen)
}
