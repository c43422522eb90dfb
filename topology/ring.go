package topology

import (
	"math/bits"

	"github.com/goreload/reload/wire"
)

// Ring arithmetic. Identifiers are points on a ring of 2^(8·idLen) values,
// idLen being the overlay's node-id-length (16 to 20 bytes), compared as
// unsigned big-endian numbers (RFC 6940 §10.1: "all arithmetic being done
// modulo 2^k").

// DestPoint is where a plugin's Route places destination d on a ring of
// idLen-byte ids: its point k, and whether d names a node (a Node-ID of
// idLen bytes) rather than a resource. Compressed destinations, Node-IDs
// of another length and other destination types give ErrUnroutable.
func DestPoint(d *wire.Destination, idLen int) (k wire.NodeID, isNode bool, err error) {
	switch {
	case d.Compressed:
		return k, false, ErrUnroutable
	case d.Type == wire.DestNode:
		if len(d.ID) != idLen {
			return k, false, ErrUnroutable
		}
		return Point(d.ID, idLen), true, nil
	case d.Type == wire.DestResource:
		return Point(d.ID, idLen), false, nil
	}
	return k, false, ErrUnroutable
}

// Point maps a Resource-ID (or any identifier) of any length onto the ring
// of idLen-byte Node-IDs: it is read as a binary fraction of the ring, so
// shorter ids are padded with zero bytes on the right and longer ones are
// truncated. A 128-bit CHORD-RELOAD Resource-ID is therefore its own value
// when idLen is 16, and keeps its place on the ring when idLen is larger.
func Point(id []byte, idLen int) wire.NodeID {
	if idLen < wire.MinNodeIDLen || idLen > wire.MaxNodeIDLen {
		idLen = wire.DefaultNodeIDLen
	}
	var buf [wire.MaxNodeIDLen]byte
	copy(buf[:idLen], id)
	p, _ := wire.NodeIDFromBytes(buf[:idLen])
	return p
}

// InOC reports whether x lies in the ring interval (a, b]. When a == b the
// interval is the whole ring.
func InOC(a, x, b wire.NodeID) bool {
	ab := a.Compare(b)
	if ab < 0 {
		return a.Compare(x) < 0 && x.Compare(b) <= 0
	}
	return a.Compare(x) < 0 || x.Compare(b) <= 0
}

// InOO reports whether x lies in the ring interval (a, b). When a == b the
// interval is the whole ring except a.
func InOO(a, x, b wire.NodeID) bool {
	ab := a.Compare(b)
	if ab < 0 {
		return a.Compare(x) < 0 && x.Compare(b) < 0
	}
	return a.Compare(x) < 0 || x.Compare(b) < 0
}

// InCO reports whether x lies in the ring interval [a, b). When a == b the
// interval is the whole ring.
func InCO(a, x, b wire.NodeID) bool {
	return x == a || InOO(a, x, b)
}

// AddPow2 returns x + 2^e modulo the ring size (e < 8·x.Len()).
func AddPow2(x wire.NodeID, e int) wire.NodeID {
	b := x.Bytes()
	var buf [wire.MaxNodeIDLen]byte
	n := copy(buf[:], b)
	i := n - 1 - e/8
	if i < 0 {
		return x
	}
	carry := uint(1) << (e % 8)
	for ; i >= 0 && carry != 0; i-- {
		s := uint(buf[i]) + carry
		buf[i] = byte(s)
		carry = s >> 8
	}
	p, _ := wire.NodeIDFromBytes(buf[:n])
	return p
}

// Add returns a + b modulo the ring size; a and b have the same length.
func Add(a, b wire.NodeID) wire.NodeID {
	ab, bb := a.Bytes(), b.Bytes()
	var buf [wire.MaxNodeIDLen]byte
	n := len(ab)
	carry := 0
	for i := n - 1; i >= 0; i-- {
		var y int
		if i < len(bb) {
			y = int(bb[i])
		}
		s := int(ab[i]) + y + carry
		buf[i] = byte(s)
		carry = s >> 8
	}
	p, _ := wire.NodeIDFromBytes(buf[:n])
	return p
}

// Sub returns a - b modulo the ring size; a and b have the same length.
func Sub(a, b wire.NodeID) wire.NodeID {
	ab, bb := a.Bytes(), b.Bytes()
	var buf [wire.MaxNodeIDLen]byte
	n := len(ab)
	borrow := 0
	for i := n - 1; i >= 0; i-- {
		var y int
		if i < len(bb) {
			y = int(bb[i])
		}
		d := int(ab[i]) - y - borrow
		borrow = 0
		if d < 0 {
			d += 256
			borrow = 1
		}
		buf[i] = byte(d)
	}
	p, _ := wire.NodeIDFromBytes(buf[:n])
	return p
}

// Range is the ring interval (Start, End] of identifiers. Start == End is
// the whole ring; the zero Range is empty.
type Range struct {
	Start, End wire.NodeID
}

// IsZero reports whether r is the zero (empty) Range.
func (r Range) IsZero() bool { return r.End.IsZero() }

// Contains reports whether the identifier id (mapped with Point onto the
// ring of r's id length) lies in r.
func (r Range) Contains(id []byte) bool {
	if r.IsZero() {
		return false
	}
	return InOC(r.Start, Point(id, r.End.Len()), r.End)
}

// PPB is the fraction of the ring r covers in parts per billion, as the
// responsible_ppb of a ProbeAns (RFC 6940 §6.4.2.5.2).
func (r Range) PPB() uint32 {
	if r.IsZero() {
		return 0
	}
	if r.Start == r.End {
		return 1_000_000_000
	}
	d := Sub(r.End, r.Start).Uint64Prefix()
	// d / 2^64 * 1e9, rounded down, using the top 64 bits.
	hi, _ := bits.Mul64(d, 1_000_000_000)
	return uint32(hi)
}

func (r Range) String() string {
	if r.IsZero() {
		return "()"
	}
	return "(" + r.Start.String() + ", " + r.End.String() + "]"
}
