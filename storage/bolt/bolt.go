package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

var (
	bucketGen = []byte("gen")
	bucketVal = []byte("val")
)

const recordVersion = 1

// ErrCorrupt reports a record or key the backend cannot read.
var ErrCorrupt = errors.New("bolt: corrupt storage record")

// Backend is a storage.Backend on a bbolt database. Safe for concurrent
// use (bbolt serialises writers); the callbacks of Scan and Slots run
// inside a read transaction and must not call Apply.
type Backend struct {
	db *bbolt.DB
}

var _ storage.Backend = (*Backend)(nil)

// Options tune Open.
type Options struct {
	// NoSync skips fsync after each Apply: faster, not durable against
	// a crash of the machine (tests, benchmarks).
	NoSync bool
	// Timeout bounds the wait for the file lock held by another process;
	// 0 means one second.
	Timeout time.Duration
}

// Open opens (creating if needed) the database at path.
func Open(path string, o *Options) (*Backend, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Timeout == 0 {
		opt.Timeout = time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opt.Timeout, NoSync: opt.NoSync})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketGen); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketVal)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Backend{db: db}, nil
}

// Path is the database file.
func (b *Backend) Path() string { return b.db.Path() }

// Close closes the database.
func (b *Backend) Close() error { return b.db.Close() }

// Generation implements storage.Backend.
func (b *Backend) Generation(res wire.ResourceID, kind wire.KindID) (uint64, error) {
	var gen uint64
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketGen).Get(storage.SlotKey(nil, res, kind))
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return ErrCorrupt
		}
		gen = binary.BigEndian.Uint64(v)
		return nil
	})
	return gen, err
}

// Get implements storage.Backend.
func (b *Backend) Get(res wire.ResourceID, kind wire.KindID, key []byte) (*storage.Record, error) {
	var rec *storage.Record
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketVal).Get(append(storage.SlotKey(nil, res, kind), key...))
		if v == nil {
			return nil
		}
		var err error
		if rec, err = decodeRecord(bytes.Clone(v)); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	})
	return rec, err
}

// Count implements storage.Backend by walking the slot's keys.
func (b *Backend) Count(res wire.ResourceID, kind wire.KindID) (int, *storage.Record, error) {
	prefix := storage.SlotKey(nil, res, kind)
	n := 0
	var last *storage.Record
	err := b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketVal).Cursor()
		var lv []byte
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			n++
			lv = v
		}
		if lv == nil {
			return nil
		}
		var err error
		if last, err = decodeRecord(bytes.Clone(lv)); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	})
	return n, last, err
}

// Scan implements storage.Backend. Records are decoded from copies of the
// stored bytes, so the caller may keep them.
func (b *Backend) Scan(res wire.ResourceID, kind wire.KindID, fn func(r *storage.Record) bool) error {
	prefix := storage.SlotKey(nil, res, kind)
	return b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketVal).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := decodeRecord(bytes.Clone(v))
			if err != nil {
				return fmt.Errorf("%w: key %x: %w", ErrCorrupt, k, err)
			}
			if !fn(r) {
				break
			}
		}
		return nil
	})
}

// Slots implements storage.Backend, in slot-key order.
func (b *Backend) Slots(fn func(res wire.ResourceID, kind wire.KindID, gen uint64) bool) error {
	return b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketGen).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			res, kind, ok := storage.ParseSlotKey(k)
			if !ok || len(v) != 8 {
				return fmt.Errorf("%w: slot key %x", ErrCorrupt, k)
			}
			if !fn(res, kind, binary.BigEndian.Uint64(v)) {
				break
			}
		}
		return nil
	})
}

// Apply implements storage.Backend in one transaction.
func (b *Backend) Apply(batch *storage.Batch) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		gens, vals := tx.Bucket(bucketGen), tx.Bucket(bucketVal)
		for i := range batch.Ops {
			op := &batch.Ops[i]
			slot := storage.SlotKey(nil, op.Resource, op.Kind)
			var err error
			switch op.Type {
			case storage.OpPut:
				if op.Record == nil {
					return errors.New("bolt: put without a record")
				}
				var rec []byte
				if rec, err = encodeRecord(op.Record); err != nil {
					return err
				}
				err = vals.Put(append(slot, storage.Key(&op.Record.Data.Value)...), rec)
			case storage.OpDelete:
				err = vals.Delete(append(slot, op.Key...))
			case storage.OpSetGeneration:
				err = gens.Put(slot, binary.BigEndian.AppendUint64(nil, op.Generation))
			case storage.OpDeleteSlot:
				if err = gens.Delete(slot); err != nil {
					return err
				}
				c := vals.Cursor()
				for k, _ := c.Seek(slot); k != nil && bytes.HasPrefix(k, slot); k, _ = c.Seek(slot) {
					if err = c.Delete(); err != nil {
						return err
					}
				}
			default:
				return errors.New("bolt: unknown batch operation")
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeRecord is the stored form of r.
func encodeRecord(r *storage.Record) ([]byte, error) {
	b := make([]byte, 0, 14+len(r.Cert)+r.Data.Len())
	b = append(b, recordVersion, byte(r.Data.Value.Model))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Expires))
	b, err := wire.AppendVec32(b, r.Cert)
	if err != nil {
		return nil, err
	}
	return r.Data.Append(b)
}

// decodeRecord reads a record; the record aliases b.
func decodeRecord(b []byte) (*storage.Record, error) {
	r := wire.NewReader(b)
	ver, err := r.ReadU8()
	if err != nil {
		return nil, err
	}
	if ver != recordVersion {
		return nil, fmt.Errorf("record version %d", ver)
	}
	model, err := r.ReadU8()
	if err != nil {
		return nil, err
	}
	exp, err := r.ReadU64()
	if err != nil {
		return nil, err
	}
	cert, err := r.ReadVec32()
	if err != nil {
		return nil, err
	}
	rec := &storage.Record{Expires: int64(exp)}
	if len(cert) > 0 {
		rec.Cert = cert
	}
	rec.Data.Value.Model = wire.DataModel(model)
	n, err := rec.Data.Decode(r.Peek())
	if err != nil {
		return nil, err
	}
	if n != r.Len() {
		return nil, wire.ErrTrailingData
	}
	return rec, nil
}
