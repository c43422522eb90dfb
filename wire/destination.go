package wire

import "strconv"

// DestinationType selects the form of a Destination (RFC 6940 §6.3.2.2).
type DestinationType uint8

// Destination types. 128-255 never appear as a type byte: a set top bit
// marks the 16-bit compressed form.
const (
	DestInvalid  DestinationType = 0
	DestNode     DestinationType = 1
	DestResource DestinationType = 2
	DestOpaqueID DestinationType = 3
)

func (t DestinationType) String() string {
	switch t {
	case DestInvalid:
		return "invalidDestinationType"
	case DestNode:
		return "node"
	case DestResource:
		return "resource"
	case DestOpaqueID:
		return "opaque_id_type"
	}
	return "DestinationType(" + strconv.Itoa(int(t)) + ")"
}

// Destination is one entry of a via list or destination list (RFC 6940
// §6.3.2.2):
//
//	struct {
//	   DestinationType         type;
//	   uint8                   length;
//	   DestinationData         destination_data;
//	} Destination;
//
//	struct {
//	   uint16                  opaque_id; /* Top bit MUST be 1 */
//	} Destination;
//
// ID holds, by Type: the Node-ID bytes (node); the Resource-ID without its
// inner length byte (resource); the opaque id without its inner length byte
// (opaque_id_type); for an unknown type, the whole destination_data. When
// Compressed is set, the entry is the 16-bit form: Type is DestOpaqueID and
// ID is its two bytes, top bit set. ID aliases the decoded input.
type Destination struct {
	Type       DestinationType
	ID         []byte
	Compressed bool
}

// NodeDest is a node Destination for id. The Destination aliases id, so id
// must stay alive and unchanged while it is used.
func NodeDest(id *NodeID) Destination { return Destination{Type: DestNode, ID: id.Bytes()} }

// ResourceDest is a resource Destination for id.
func ResourceDest(id ResourceID) Destination { return Destination{Type: DestResource, ID: id} }

// CompressedDest is the 16-bit compressed form; v must have its top bit
// set.
func CompressedDest(v uint16) Destination {
	return Destination{Type: DestOpaqueID, ID: []byte{byte(v >> 8), byte(v)}, Compressed: true}
}

// NodeID returns the Node-ID of a node Destination.
func (d *Destination) NodeID() (NodeID, bool) {
	if d.Type != DestNode || d.Compressed {
		return NodeID{}, false
	}
	id, err := NodeIDFromBytes(d.ID)
	return id, err == nil
}

// Equal reports whether d and o encode identically.
func (d *Destination) Equal(o *Destination) bool {
	return d.Type == o.Type && d.Compressed == o.Compressed && string(d.ID) == string(o.ID)
}

// Len is the encoded size.
func (d *Destination) Len() int {
	switch {
	case d.Compressed:
		return 2
	case d.Type == DestResource || d.Type == DestOpaqueID:
		return 3 + len(d.ID)
	}
	return 2 + len(d.ID)
}

// Decode reads one Destination from the start of b.
func (d *Destination) Decode(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, fieldErr(ErrTruncated, "type", 0)
	}
	if b[0]&0x80 != 0 {
		if len(b) < 2 {
			return 0, fieldErr(ErrTruncated, "opaque_id", 0)
		}
		*d = Destination{Type: DestOpaqueID, ID: b[0:2:2], Compressed: true}
		return 2, nil
	}
	if len(b) < 2 {
		return 0, fieldErr(ErrTruncated, "length", 1)
	}
	t := DestinationType(b[0])
	n := int(b[1])
	if len(b) < 2+n {
		return 0, fieldErr(ErrTruncated, "destination_data", 2)
	}
	data := b[2 : 2+n : 2+n]
	switch t {
	case DestInvalid:
		return 0, fieldErr(ErrInvalid, "type", 0)
	case DestNode:
		if n < MinNodeIDLen || n > MaxNodeIDLen {
			return 0, fieldErr(ErrInvalid, "length", 1)
		}
	case DestResource, DestOpaqueID:
		name := "resource_id"
		if t == DestOpaqueID {
			name = "opaque_id"
		}
		if n < 1 {
			return 0, fieldErr(ErrTruncated, name, 2)
		}
		if int(data[0]) > n-1 {
			return 0, fieldErr(ErrTruncated, name, 2)
		}
		if int(data[0]) < n-1 {
			return 0, fieldErr(ErrTrailingData, name, 2)
		}
		data = data[1:]
	}
	*d = Destination{Type: t, ID: data}
	return 2 + n, nil
}

// Append appends the encoding of d.
func (d *Destination) Append(b []byte) ([]byte, error) {
	if d.Compressed {
		if len(d.ID) != 2 || d.ID[0]&0x80 == 0 {
			return b, fieldErr(ErrInvalid, "opaque_id", 0)
		}
		return append(b, d.ID[0], d.ID[1]), nil
	}
	switch d.Type {
	case DestInvalid:
		return b, fieldErr(ErrInvalid, "type", 0)
	case DestNode:
		if len(d.ID) < MinNodeIDLen || len(d.ID) > MaxNodeIDLen {
			return b, fieldErr(ErrInvalid, "length", 1)
		}
	case DestResource, DestOpaqueID:
		if len(d.ID) > 254 {
			return b, fieldErr(ErrTooLong, "destination_data", 2)
		}
		b = append(b, byte(d.Type), byte(len(d.ID)+1), byte(len(d.ID)))
		return append(b, d.ID...), nil
	}
	if d.Type >= 0x80 {
		return b, fieldErr(ErrInvalid, "type", 0)
	}
	if len(d.ID) > 255 {
		return b, fieldErr(ErrTooLong, "destination_data", 2)
	}
	b = append(b, byte(d.Type), byte(len(d.ID)))
	return append(b, d.ID...), nil
}

// String is a short readable form, e.g. "node:0123…" or "resource:ab…".
func (d Destination) String() string {
	if d.Compressed {
		return "compressed:" + hexString(d.ID)
	}
	return d.Type.String() + ":" + hexString(d.ID)
}

// decodeDestList decodes a list of Destinations filling b exactly,
// appending to list (which is truncated first, so its capacity is reused).
func decodeDestList(list []Destination, b []byte, field string) ([]Destination, error) {
	list = list[:0]
	off := 0
	for off < len(b) {
		var d Destination
		n, err := d.Decode(b[off:])
		if err != nil {
			return list, indexErr(err, field, len(list), off)
		}
		list = append(list, d)
		off += n
	}
	return list, nil
}

// appendDestList appends each Destination.
func appendDestList(b []byte, list []Destination, field string) ([]byte, error) {
	for i := range list {
		var err error
		mark := len(b)
		if b, err = list[i].Append(b); err != nil {
			return b, indexErr(err, field, i, mark)
		}
	}
	return b, nil
}

func destListLen(list []Destination) int {
	n := 0
	for i := range list {
		n += list[i].Len()
	}
	return n
}

// DecodeDestinationList decodes a sequence of Destinations that fills b
// exactly, reusing list's capacity.
func DecodeDestinationList(list []Destination, b []byte) ([]Destination, error) {
	return decodeDestList(list, b, "destinations")
}

// AppendDestinationList appends each Destination of list.
func AppendDestinationList(b []byte, list []Destination) ([]byte, error) {
	return appendDestList(b, list, "destinations")
}

// DestinationListLen is the encoded size of list.
func DestinationListLen(list []Destination) int { return destListLen(list) }

const hexDigits = "0123456789abcdef"

func hexString(b []byte) string {
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i] = hexDigits[c>>4]
		out[2*i+1] = hexDigits[c&0xf]
	}
	return string(out)
}
