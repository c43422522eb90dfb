package storage

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/goreload/reload/wire"
)

// RoleUsage is what a peer stores of one Kind, with the part it holds as
// a replica (RFC 6940 §10.7.2: values whose Resource-ID lies outside the
// range the peer is responsible for, kept for a predecessor).
type RoleUsage struct {
	KindUsage
	// Replicas counts the values of Kind held as a replica.
	Replicas uint64
}

// UsageByRole is Usage with the values held as a replica counted apart:
// responsible reports whether this peer is responsible for a Resource-ID
// (nil: for every one). Like Usage it reads every record under the
// Store's lock.
func (s *Store) UsageByRole(responsible func(wire.ResourceID) bool) ([]RoleUsage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type slot struct {
		res  wire.ResourceID
		kind wire.KindID
	}
	var slots []slot
	if err := s.backend.Slots(func(res wire.ResourceID, kind wire.KindID, _ uint64) bool {
		slots = append(slots, slot{wire.ResourceID(bytes.Clone(res)), kind})
		return true
	}); err != nil {
		return nil, err
	}
	by := map[wire.KindID]*RoleUsage{}
	for _, sl := range slots {
		u := by[sl.kind]
		if u == nil {
			u = &RoleUsage{KindUsage: KindUsage{Kind: sl.kind}}
			by[sl.kind] = u
		}
		replica := responsible != nil && !responsible(sl.res)
		if err := s.backend.Scan(sl.res, sl.kind, func(r *Record) bool {
			u.Values++
			u.Bytes += uint64(r.Data.Len())
			if replica {
				u.Replicas++
			}
			return true
		}); err != nil {
			return nil, err
		}
	}
	out := make([]RoleUsage, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b RoleUsage) int { return cmp.Compare(a.Kind, b.Kind) })
	return out, nil
}
