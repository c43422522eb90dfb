package wire

import (
	"slices"
	"strconv"
)

// FramedMessageType is the type of a frame of the simple framing layer
// (RFC 6940 §6.6.2).
type FramedMessageType uint8

// Frame types.
const (
	FrameData FramedMessageType = 128
	FrameAck  FramedMessageType = 129
)

func (t FramedMessageType) String() string {
	switch t {
	case FrameData:
		return "data"
	case FrameAck:
		return "ack"
	}
	return "FramedMessageType(" + strconv.Itoa(int(t)) + ")"
}

// FramedMessage is one frame of the per-link framing (RFC 6940 §6.6.2):
//
//	enum {data (128), ack (129), (255)} FramedMessageType;
//
//	struct {
//	  FramedMessageType       type;
//	  select (type) {
//	    case data:
//	      uint32              sequence;
//	      opaque              message<0..2^24-1>;
//	    case ack:
//	      uint32              ack_sequence;
//	      uint32              received;
//	  };
//	} FramedMessage;
//
// Sequence is sequence (data) or ack_sequence (ack). Message (data only)
// aliases the decoded input. Received (ack only) has bit k-1 set when
// sequence Sequence-k was received, for k = 1..32; the RFC leaves the bit
// order open and this is the order Wireshark shows.
type FramedMessage struct {
	Type     FramedMessageType
	Sequence uint32
	Message  []byte
	Received uint32
}

// Len is the encoded size.
func (f *FramedMessage) Len() int {
	if f.Type == FrameAck {
		return 9
	}
	return 8 + len(f.Message)
}

// Decode reads one frame from the start of b.
func (f *FramedMessage) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "FramedMessage.type", 0)
	}
	seq, err := r.ReadU32()
	if err != nil {
		name := "FramedMessage.sequence"
		if FramedMessageType(t) == FrameAck {
			name = "FramedMessage.ack_sequence"
		}
		return 0, fieldErr(err, name, 1)
	}
	switch FramedMessageType(t) {
	case FrameData:
		m, err := r.ReadVec24()
		if err != nil {
			return 0, fieldErr(err, "FramedMessage.message", 5)
		}
		*f = FramedMessage{Type: FrameData, Sequence: seq, Message: m}
	case FrameAck:
		rcv, err := r.ReadU32()
		if err != nil {
			return 0, fieldErr(err, "FramedMessage.received", 5)
		}
		*f = FramedMessage{Type: FrameAck, Sequence: seq, Received: rcv}
	default:
		return 0, fieldErr(ErrInvalid, "FramedMessage.type", 0)
	}
	return r.Offset(), nil
}

// AppendDataFrame appends a data FramedMessage (RFC 6940 §6.6.2) with
// sequence number seq whose message is head followed by rest, as
// FramedMessage.Append would with the two joined, so that a caller that
// holds a message in two parts (a new forwarding header and the rest of
// a message in transit) need not join them first.
func AppendDataFrame(b []byte, seq uint32, head, rest []byte) ([]byte, error) {
	n := len(head) + len(rest)
	if n > maxVec(3) {
		return b, fieldErr(ErrTooLong, "FramedMessage.message", 5)
	}
	// One allocation for the whole frame when b has no room.
	b = slices.Grow(b, 8+n)
	b = append(b, byte(FrameData))
	b = AppendU32(b, seq)
	b = append(b, byte(n>>16), byte(n>>8), byte(n))
	b = append(b, head...)
	return append(b, rest...), nil
}

// Append appends the encoding of f.
func (f *FramedMessage) Append(b []byte) ([]byte, error) {
	switch f.Type {
	case FrameData:
		return AppendDataFrame(b, f.Sequence, f.Message, nil)
	case FrameAck:
		b = slices.Grow(b, 9)
		b = append(b, byte(FrameAck))
		b = AppendU32(b, f.Sequence)
		return AppendU32(b, f.Received), nil
	}
	return b, fieldErr(ErrInvalid, "FramedMessage.type", 0)
}
