package wire

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
)

// Node-ID lengths (RFC 6940 §6.3.1.1, §11.1 node-id-length).
const (
	MinNodeIDLen     = 16
	MaxNodeIDLen     = 20
	DefaultNodeIDLen = 16
)

// NodeID is a Node-ID (RFC 6940 §6.3.1.1):
//
//	typedef opaque NodeId[NodeIdLength];
//
// Its length is fixed per overlay, 16 to 20 bytes. A NodeID is a comparable
// value (usable as a map key); the zero NodeID has length 0 and is not a
// valid Node-ID.
type NodeID struct {
	n uint8
	b [MaxNodeIDLen]byte
}

// NodeIDFromBytes copies b into a NodeID. b must be 16 to 20 bytes long.
func NodeIDFromBytes(b []byte) (NodeID, error) {
	var id NodeID
	if len(b) < MinNodeIDLen || len(b) > MaxNodeIDLen {
		return id, ErrInvalid
	}
	id.n = uint8(len(b))
	copy(id.b[:], b)
	return id, nil
}

// MustNodeID is NodeIDFromBytes for constants in tests and examples; it
// panics on a bad length.
func MustNodeID(b []byte) NodeID {
	id, err := NodeIDFromBytes(b)
	if err != nil {
		panic("wire: MustNodeID: bad length")
	}
	return id
}

// ParseNodeID parses a Node-ID written in hexadecimal.
func ParseNodeID(s string) (NodeID, error) {
	var buf [MaxNodeIDLen]byte
	if len(s) > 2*MaxNodeIDLen || len(s)%2 != 0 {
		return NodeID{}, ErrInvalid
	}
	n, err := hex.Decode(buf[:], []byte(s))
	if err != nil {
		return NodeID{}, ErrInvalid
	}
	return NodeIDFromBytes(buf[:n])
}

// Len is the length in bytes (0 for the zero NodeID).
func (id *NodeID) Len() int { return int(id.n) }

// Bytes returns the Node-ID bytes; the slice aliases id.
func (id *NodeID) Bytes() []byte { return id.b[:id.n] }

// IsZero reports whether id is the zero value (no Node-ID).
func (id NodeID) IsZero() bool { return id.n == 0 }

// IsWildcard reports whether every bit is 1 (the wildcard Node-ID,
// RFC 6940 §3).
func (id NodeID) IsWildcard() bool {
	if id.n == 0 {
		return false
	}
	for _, c := range id.b[:id.n] {
		if c != 0xff {
			return false
		}
	}
	return true
}

// Valid reports whether id has a legal length and is not all zeros
// (RFC 6940 §3: a Node-ID of all zeros is never used on the wire).
func (id NodeID) Valid() bool {
	if id.n < MinNodeIDLen || id.n > MaxNodeIDLen {
		return false
	}
	for _, c := range id.b[:id.n] {
		if c != 0 {
			return true
		}
	}
	return false
}

// String is the hexadecimal form.
func (id NodeID) String() string { return hex.EncodeToString(id.b[:id.n]) }

// Compare orders Node-IDs as unsigned big-endian integers (shorter first
// when lengths differ).
func (id NodeID) Compare(o NodeID) int {
	if id.n != o.n {
		if id.n < o.n {
			return -1
		}
		return 1
	}
	for i := range int(id.n) {
		if id.b[i] != o.b[i] {
			if id.b[i] < o.b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Uint64Prefix returns the first 8 bytes as a big-endian integer, handy for
// ring arithmetic in simulations.
func (id NodeID) Uint64Prefix() uint64 { return binary.BigEndian.Uint64(id.b[:8]) }

// readNodeID reads a bare NodeId of n bytes.
func readNodeID(r *Reader, n int) (NodeID, error) {
	if n < MinNodeIDLen || n > MaxNodeIDLen {
		return NodeID{}, ErrInvalid
	}
	b, err := r.ReadFixed(n)
	if err != nil {
		return NodeID{}, err
	}
	var id NodeID
	id.n = uint8(n)
	copy(id.b[:], b)
	return id, nil
}

// ReadNodeID reads a bare NodeId of idLen bytes (0 means
// DefaultNodeIDLen).
func (r *Reader) ReadNodeID(idLen int) (NodeID, error) {
	return readNodeID(r, nodeIDLen(idLen))
}

// AppendNodeID appends the bare bytes of id; a NodeID of illegal length is
// ErrInvalid.
func AppendNodeID(b []byte, id NodeID) ([]byte, error) {
	if id.n < MinNodeIDLen || id.n > MaxNodeIDLen {
		return b, ErrInvalid
	}
	return append(b, id.b[:id.n]...), nil
}

// nodeIDLen maps the "0 means default" convention of IDLen fields.
func nodeIDLen(n int) int {
	if n == 0 {
		return DefaultNodeIDLen
	}
	return n
}

// ResourceID is a Resource-ID (RFC 6940 §6.3.1.1):
//
//	typedef opaque ResourceId<0..2^8-1>;
//
// Decoded ResourceIDs alias the input.
type ResourceID []byte

// ResourceIDFromName maps a resource name to its Resource-ID as
// CHORD-RELOAD does (RFC 6940 §10.2): the first 128 bits of SHA-1(name).
func ResourceIDFromName(name string) ResourceID {
	sum := sha1.Sum([]byte(name))
	return ResourceID(append([]byte(nil), sum[:16]...))
}

// String is the hexadecimal form.
func (id ResourceID) String() string { return hex.EncodeToString(id) }

// OverlayHash is the forwarding header's overlay field for an overlay name
// (RFC 6940 §6.3.2): the lower 32 bits of SHA-1(name).
func OverlayHash(name string) uint32 {
	sum := sha1.Sum([]byte(name))
	return binary.BigEndian.Uint32(sum[16:20])
}

// URI is a parsed reload:// URI (RFC 6940 §14.15):
//
//	RELOAD-URI = "reload://" destination "@" overlay "/" [specifier]
//
// Destinations is the decoded destination list; Specifier holds the raw
// StoredDataSpecifier bytes, if any.
type URI struct {
	Destinations []Destination
	Overlay      string
	Specifier    []byte
}

// ErrBadURI reports a malformed reload:// URI.
var ErrBadURI = errors.New("wire: malformed reload URI")

// NodeURI is the URI naming one Node-ID in an overlay, as enrollment
// servers put it in certificates (RFC 6940 §11.3): a destination list
// with one node entry.
func NodeURI(id NodeID, overlay string) string {
	d := Destination{Type: DestNode, ID: id.Bytes()}
	var buf [2 + MaxNodeIDLen]byte
	enc, _ := d.Append(buf[:0])
	return "reload://" + hex.EncodeToString(enc) + "@" + overlay + "/"
}

// ParseURI parses a reload:// URI. Node destinations are decoded with the
// length given in their TLV.
func ParseURI(s string) (URI, error) {
	var u URI
	rest, ok := strings.CutPrefix(s, "reload://")
	if !ok {
		return u, ErrBadURI
	}
	dest, rest, ok := strings.Cut(rest, "@")
	if !ok || dest == "" {
		return u, ErrBadURI
	}
	overlay, spec, ok := strings.Cut(rest, "/")
	if !ok || overlay == "" || !validRegName(overlay) {
		return u, ErrBadURI
	}
	raw, err := hex.DecodeString(dest)
	if err != nil {
		return u, ErrBadURI
	}
	r := NewReader(raw)
	for !r.Empty() {
		var d Destination
		n, err := d.Decode(r.Peek())
		if err != nil {
			return u, errors.Join(ErrBadURI, err)
		}
		_ = r.Skip(n)
		u.Destinations = append(u.Destinations, d)
	}
	if spec != "" {
		if u.Specifier, err = hex.DecodeString(spec); err != nil {
			return u, ErrBadURI
		}
	}
	u.Overlay = overlay
	return u, nil
}

// validRegName accepts the RFC 3986 reg-name characters that can appear in
// a DNS name.
func validRegName(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

// String formats u as a reload:// URI.
func (u URI) String() string {
	var b []byte
	for i := range u.Destinations {
		b, _ = u.Destinations[i].Append(b)
	}
	s := "reload://" + hex.EncodeToString(b) + "@" + u.Overlay + "/"
	if len(u.Specifier) > 0 {
		s += hex.EncodeToString(u.Specifier)
	}
	return s
}
