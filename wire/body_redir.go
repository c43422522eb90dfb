package wire

import (
	"math/big"
	"strconv"
)

// RedirServiceProviderExtType is the type of a RedirServiceProvider's
// extension (RFC 7374 §4.1):
//
//	enum { none(0), (255) } RedirServiceProviderExtType;
type RedirServiceProviderExtType uint8

// RedirExtNone is the only extension type RFC 7374 defines: no extension.
const RedirExtNone RedirServiceProviderExtType = 0

func (t RedirServiceProviderExtType) String() string {
	if t == RedirExtNone {
		return "none"
	}
	return "RedirServiceProviderExtType(" + strconv.Itoa(int(t)) + ")"
}

// RedirServiceProvider is the value stored under the REDIR Kind, one
// dictionary entry of a ReDiR tree node keyed by the provider's Node-ID
// (RFC 7374 §4.1, §6):
//
//	struct {
//	  RedirServiceProviderExtType   type;
//	  Destination                   destination_list<0..2^16-1>;
//	  opaque                        namespace<0..2^16-1>;
//	  uint16                        level;
//	  uint16                        node;
//	  uint16                        length;
//	  select (type) {
//	      /* This type may be extended */
//	  } extension;
//	} RedirServiceProvider;
//
// length is the byte length of extension; Append computes it. Extension
// holds the extension bytes of any type, unknown ones included ("Unknown
// types are allowed"), so that a value round-trips. Decode requires b to
// be consumed exactly (the value fills a DataValue's value). Slices alias
// the input and the capacity of Destinations is reused; use Clone to keep
// a value.
type RedirServiceProvider struct {
	Type         RedirServiceProviderExtType
	Destinations []Destination
	Namespace    []byte
	Level        uint16
	Node         uint16
	Extension    []byte
}

// Len is the encoded size.
func (p *RedirServiceProvider) Len() int {
	return 1 + 2 + destListLen(p.Destinations) + 2 + len(p.Namespace) + 2 + 2 + 2 + len(p.Extension)
}

// Decode reads a RedirServiceProvider that fills b exactly.
func (p *RedirServiceProvider) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.type", 0)
	}
	off := r.Offset()
	list, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.destination_list", off)
	}
	dests, err := decodeDestList(p.Destinations, list, "RedirServiceProvider.destination_list")
	if err != nil {
		return 0, fieldErr(err, "", off+2)
	}
	off = r.Offset()
	ns, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.namespace", off)
	}
	off = r.Offset()
	level, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.level", off)
	}
	off = r.Offset()
	node, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.node", off)
	}
	off = r.Offset()
	ext, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "RedirServiceProvider.extension", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "RedirServiceProvider", r.Offset())
	}
	p.Type, p.Destinations, p.Namespace, p.Level, p.Node, p.Extension = RedirServiceProviderExtType(t), dests, ns, level, node, ext
	return r.Offset(), nil
}

// Append appends the encoding of p.
func (p *RedirServiceProvider) Append(b []byte) ([]byte, error) {
	dl := destListLen(p.Destinations)
	if dl > 0xffff {
		return b, fieldErr(ErrTooLong, "RedirServiceProvider.destination_list", 1)
	}
	if len(p.Namespace) > 0xffff {
		return b, fieldErr(ErrTooLong, "RedirServiceProvider.namespace", 3+dl)
	}
	if len(p.Extension) > 0xffff {
		return b, fieldErr(ErrTooLong, "RedirServiceProvider.length", 3+dl+2+len(p.Namespace)+4)
	}
	b = append(b, byte(p.Type))
	b = AppendU16(b, uint16(dl))
	var err error
	if b, err = appendDestList(b, p.Destinations, "RedirServiceProvider.destination_list"); err != nil {
		return b, fieldErr(err, "", 3)
	}
	b, _ = AppendVec16(b, p.Namespace) // fits: checked above
	b = AppendU16(b, p.Level)
	b = AppendU16(b, p.Node)
	b, _ = AppendVec16(b, p.Extension)
	return b, nil
}

// Clone returns a deep copy of p that shares no memory with the input it
// was decoded from.
func (p *RedirServiceProvider) Clone() RedirServiceProvider {
	c := RedirServiceProvider{Type: p.Type, Namespace: sipCloneBytes(p.Namespace), Level: p.Level, Node: p.Node,
		Extension: sipCloneBytes(p.Extension)}
	if p.Destinations != nil {
		c.Destinations = make([]Destination, len(p.Destinations))
		for i, d := range p.Destinations {
			d.ID = sipCloneBytes(d.ID)
			c.Destinations[i] = d
		}
	}
	return c
}

// RedirResourceName is the resource name of ReDiR tree node (level, node)
// of namespace, hashed by the overlay into the node's Resource-ID: the
// H(namespace,level,node) of RFC 7374 §3 and §6, the concatenation of the
// namespace's bytes and of level and node in network byte order. The RFC
// does not fix the width of the integers; they are taken as the uint16s
// the RedirServiceProvider carries them in (§4.1), so that the storing
// peer can check the Resource-ID from a stored value (§5).
func RedirResourceName(namespace []byte, level, node uint16) []byte {
	b := make([]byte, 0, len(namespace)+4)
	b = append(b, namespace...)
	b = AppendU16(b, level)
	return AppendU16(b, node)
}

// RedirPosition is floor(key * b^depth / 2^bits): the index, counted
// from 0 at the left, of the 1/b^depth slice of an identifier space of
// bits bits that holds key. With depth = level it is the ReDiR tree node
// at that level whose range holds key; with depth = level+1 it is the
// interval I(level,key) among the b^(level+1) intervals of that level
// (RFC 7374 §3: node (level,j) holds the intervals
// [2^bits*b^-level*(j+b'/b), 2^bits*b^-level*(j+(b'+1)/b)), 0 <= b' < b,
// which is interval j*b+b' of the level). key must be below 2^bits and
// b at least 2.
func RedirPosition(key *big.Int, bits int, b uint64, depth int) *big.Int {
	p := new(big.Int).Exp(new(big.Int).SetUint64(b), big.NewInt(int64(depth)), nil)
	p.Mul(p, key)
	return p.Rsh(p, uint(bits))
}
