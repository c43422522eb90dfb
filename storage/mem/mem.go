package mem

import (
	"errors"
	"slices"
	"sync"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Backend keeps slots in a map and each slot's records in a slice sorted
// by key. Records are kept as given (they are immutable) and handed out
// as kept. Safe for concurrent use; the callbacks of Scan and Slots run
// under its lock and must not call the Backend.
type Backend struct {
	mu    sync.RWMutex
	slots map[string]*slot
	key   []byte // scratch slot key
}

type slot struct {
	res  wire.ResourceID
	kind wire.KindID
	gen  uint64
	recs []*storage.Record // sorted by storage.CompareValues
}

// New returns an empty Backend.
func New() *Backend { return &Backend{slots: make(map[string]*slot)} }

var _ storage.Backend = (*Backend)(nil)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("mem: backend closed")

func (b *Backend) slot(res wire.ResourceID, kind wire.KindID) *slot {
	b.key = storage.SlotKey(b.key[:0], res, kind)
	return b.slots[string(b.key)]
}

// Generation implements storage.Backend.
func (b *Backend) Generation(res wire.ResourceID, kind wire.KindID) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots == nil {
		return 0, ErrClosed
	}
	if s := b.slot(res, kind); s != nil {
		return s.gen, nil
	}
	return 0, nil
}

// Get implements storage.Backend.
func (b *Backend) Get(res wire.ResourceID, kind wire.KindID, key []byte) (*storage.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots == nil {
		return nil, ErrClosed
	}
	s := b.slot(res, kind)
	if s == nil {
		return nil, nil
	}
	j, found := slices.BinarySearchFunc(s.recs, key, func(r *storage.Record, key []byte) int {
		return storage.CompareKey(&r.Data.Value, key)
	})
	if !found {
		return nil, nil
	}
	return s.recs[j], nil
}

// Count implements storage.Backend.
func (b *Backend) Count(res wire.ResourceID, kind wire.KindID) (int, *storage.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots == nil {
		return 0, nil, ErrClosed
	}
	s := b.slot(res, kind)
	if s == nil || len(s.recs) == 0 {
		return 0, nil, nil
	}
	return len(s.recs), s.recs[len(s.recs)-1], nil
}

// Scan implements storage.Backend.
func (b *Backend) Scan(res wire.ResourceID, kind wire.KindID, fn func(r *storage.Record) bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots == nil {
		return ErrClosed
	}
	s := b.slot(res, kind)
	if s == nil {
		return nil
	}
	for _, r := range s.recs {
		if !fn(r) {
			break
		}
	}
	return nil
}

// Slots implements storage.Backend.
func (b *Backend) Slots(fn func(res wire.ResourceID, kind wire.KindID, gen uint64) bool) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.slots == nil {
		return ErrClosed
	}
	for _, s := range b.slots {
		if !fn(s.res, s.kind, s.gen) {
			break
		}
	}
	return nil
}

// Apply implements storage.Backend. It checks every operation before
// changing anything, so a failing Batch changes nothing.
func (b *Backend) Apply(batch *storage.Batch) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slots == nil {
		return ErrClosed
	}
	for i := range batch.Ops {
		op := &batch.Ops[i]
		switch op.Type {
		case storage.OpPut:
			if op.Record == nil {
				return errors.New("mem: put without a record")
			}
		case storage.OpDelete, storage.OpSetGeneration, storage.OpDeleteSlot:
		default:
			return errors.New("mem: unknown batch operation")
		}
	}
	for i := range batch.Ops {
		op := &batch.Ops[i]
		k := string(storage.SlotKey(b.key[:0], op.Resource, op.Kind))
		s := b.slots[k]
		switch op.Type {
		case storage.OpPut:
			if s == nil {
				s = &slot{res: slices.Clone(op.Resource), kind: op.Kind}
				b.slots[k] = s
			}
			v := &op.Record.Data.Value
			j, found := slices.BinarySearchFunc(s.recs, v, func(r *storage.Record, v *wire.StoredDataValue) int {
				return storage.CompareValues(&r.Data.Value, v)
			})
			if found {
				s.recs[j] = op.Record
			} else {
				s.recs = slices.Insert(s.recs, j, op.Record)
			}
		case storage.OpDelete:
			if s == nil {
				continue
			}
			j, found := slices.BinarySearchFunc(s.recs, op.Key, func(r *storage.Record, key []byte) int {
				return storage.CompareKey(&r.Data.Value, key)
			})
			if found {
				s.recs = slices.Delete(s.recs, j, j+1)
			}
		case storage.OpSetGeneration:
			if s == nil {
				s = &slot{res: slices.Clone(op.Resource), kind: op.Kind}
				b.slots[k] = s
			}
			s.gen = op.Generation
		case storage.OpDeleteSlot:
			delete(b.slots, k)
		}
	}
	return nil
}

// Len is the number of values held, expired ones included.
func (b *Backend) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, s := range b.slots {
		n += len(s.recs)
	}
	return n
}

// Close drops everything; later calls fail with ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slots = nil
	return nil
}
