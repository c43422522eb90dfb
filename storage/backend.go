package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"

	"github.com/goreload/reload/wire"
)

// Record is one stored value with what the storing peer keeps beside it.
//
// A Record handed to a Backend (in a Batch) belongs to it and is never
// modified afterwards, by the backend or the Store; a Record a Backend
// hands out may be kept by the caller and must not be modified. Data owns
// its memory (it does not alias a message buffer).
type Record struct {
	// Data is the StoredData exactly as received: its Lifetime is the
	// one in the Store, its signature untouched. Data.Value.Model is set.
	Data wire.StoredData
	// Expires is when the value's lifetime ends, in milliseconds since
	// the Unix epoch: the local time the Store was received plus the
	// lifetime (RFC 6940 §7).
	Expires int64
	// Cert is the DER certificate of the value's signer, kept so that
	// replicas and transfers can send it with the value (RFC 6940 §9
	// "certificates ... need to be retained", §6.3.4).
	Cert []byte
}

// Key is the key of a value within its (Resource-ID, Kind) slot: empty
// for a single value, the 4-byte big-endian index for an array entry,
// the dictionary key for a dictionary entry. Keys of one slot sort in the
// order Fetch returns values.
func Key(v *wire.StoredDataValue) []byte {
	switch v.Model {
	case wire.ModelArray:
		return binary.BigEndian.AppendUint32(nil, v.Index)
	case wire.ModelDictionary:
		return v.Key
	}
	return nil
}

// CompareValues orders two values of one slot by Key without building the
// keys.
func CompareValues(a, b *wire.StoredDataValue) int {
	switch a.Model {
	case wire.ModelArray:
		return cmp.Compare(a.Index, b.Index)
	case wire.ModelDictionary:
		return bytes.Compare(a.Key, b.Key)
	}
	return 0
}

// CompareKey orders a value of a slot against a key (as made by Key).
func CompareKey(v *wire.StoredDataValue, key []byte) int {
	switch v.Model {
	case wire.ModelArray:
		if len(key) != 4 {
			return bytes.Compare(binary.BigEndian.AppendUint32(nil, v.Index), key)
		}
		return cmp.Compare(v.Index, binary.BigEndian.Uint32(key))
	case wire.ModelDictionary:
		return bytes.Compare(v.Key, key)
	}
	return bytes.Compare(nil, key)
}

// Backend keeps stored values by (Resource-ID, Kind-ID, key), and the
// generation counter of each (Resource-ID, Kind-ID) slot. It holds no
// rules: the Store validates every change before handing it over. A Store
// calls its Backend from one goroutine at a time.
type Backend interface {
	// Generation is the generation counter of a slot, 0 when the slot
	// does not exist.
	Generation(res wire.ResourceID, kind wire.KindID) (uint64, error)
	// Get returns the record with key in a slot, nil if there is none.
	Get(res wire.ResourceID, kind wire.KindID, key []byte) (*Record, error)
	// Count returns the number of records of a slot (expired ones
	// included) and the last of them in key order (nil if none).
	Count(res wire.ResourceID, kind wire.KindID) (n int, last *Record, err error)
	// Scan calls fn with each record of a slot in key order until fn
	// returns false.
	Scan(res wire.ResourceID, kind wire.KindID, fn func(r *Record) bool) error
	// Slots calls fn with every slot (one that has a generation counter)
	// until fn returns false. The order is unspecified; res must not be
	// kept past the call.
	Slots(fn func(res wire.ResourceID, kind wire.KindID, generation uint64) bool) error
	// Apply makes every change of b, all or none.
	Apply(b *Batch) error
	// Close releases the backend's resources.
	Close() error
}

// OpType is the kind of one change in a Batch.
type OpType uint8

// Batch operations.
const (
	OpPut           OpType = iota + 1 // store Record (replacing the value with its key)
	OpDelete                          // delete the value with Key
	OpSetGeneration                   // set the slot's generation counter (creating the slot)
	OpDeleteSlot                      // delete the slot: its values and counter
)

// Op is one change of a Batch.
type Op struct {
	Type       OpType
	Resource   wire.ResourceID
	Kind       wire.KindID
	Key        []byte  // OpDelete
	Record     *Record // OpPut
	Generation uint64  // OpSetGeneration
}

// Batch is a list of changes applied atomically by Backend.Apply, in
// order.
type Batch struct {
	Ops []Op
}

// Put adds the storing of r.
func (b *Batch) Put(res wire.ResourceID, kind wire.KindID, r *Record) {
	b.Ops = append(b.Ops, Op{Type: OpPut, Resource: res, Kind: kind, Record: r})
}

// Delete adds the deletion of the value with key.
func (b *Batch) Delete(res wire.ResourceID, kind wire.KindID, key []byte) {
	b.Ops = append(b.Ops, Op{Type: OpDelete, Resource: res, Kind: kind, Key: key})
}

// SetGeneration adds the setting of a slot's generation counter.
func (b *Batch) SetGeneration(res wire.ResourceID, kind wire.KindID, gen uint64) {
	b.Ops = append(b.Ops, Op{Type: OpSetGeneration, Resource: res, Kind: kind, Generation: gen})
}

// DeleteSlot adds the deletion of a whole slot.
func (b *Batch) DeleteSlot(res wire.ResourceID, kind wire.KindID) {
	b.Ops = append(b.Ops, Op{Type: OpDeleteSlot, Resource: res, Kind: kind})
}

// Len is the number of changes.
func (b *Batch) Len() int { return len(b.Ops) }

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() { clear(b.Ops); b.Ops = b.Ops[:0] }

// SlotKey is the byte string naming a slot, shared by the backends: the
// Resource-ID's length (one byte), the Resource-ID and the Kind-ID
// (big-endian uint32). Slot keys of one Resource-ID share a prefix.
func SlotKey(dst []byte, res wire.ResourceID, kind wire.KindID) []byte {
	dst = append(dst, byte(len(res)))
	dst = append(dst, res...)
	return binary.BigEndian.AppendUint32(dst, uint32(kind))
}

// ParseSlotKey splits a slot key; ok is false when k is not one.
func ParseSlotKey(k []byte) (res wire.ResourceID, kind wire.KindID, ok bool) {
	if len(k) < 5 || len(k) != 1+int(k[0])+4 {
		return nil, 0, false
	}
	n := int(k[0])
	return wire.ResourceID(k[1 : 1+n]), wire.KindID(binary.BigEndian.Uint32(k[1+n:])), true
}
