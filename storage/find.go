package storage

import (
	"bytes"
	"time"

	"github.com/goreload/reload/wire"
)

// HandleFind handles a Find request (RFC 6940 §7.4.4) at now: for each
// Kind, the Resource-ID closest to the requested one among the resources
// this peer is responsible for and holds unexpired values of that Kind.
// Closest means first in ring order: the smallest Resource-ID at or after
// the requested one, wrapping round to the smallest of all, so that
// R(n+1) = closest(1 + R(n)) walks the ring. Only Resource-IDs of the
// requested one's length are considered. An unknown Kind, or one with no
// resource, gets the zero Resource-ID of that length ("0").
//
// Errors: Error_Not_Found when this peer is not responsible for the
// Resource-ID; Error_Invalid_Message when a Kind-ID is repeated.
func (s *Store) HandleFind(req *wire.FindReq, now time.Time) (wire.FindAns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range req.Kinds {
		for _, j := range req.Kinds[:i] {
			if j == k {
				return wire.FindAns{}, protoErr(wire.ErrCodeInvalidMessage, nil, ErrDuplicateKind, "kind %v", k)
			}
		}
	}
	if !s.topo.Responsible(req.Resource) {
		return wire.FindAns{}, protoErr(wire.ErrCodeNotFound, nil, ErrNotResponsible, "resource %v", req.Resource)
	}
	target := req.Resource
	nowMs := unixMillis(now)
	type best struct{ after, first wire.ResourceID }
	found := make(map[wire.KindID]*best, len(req.Kinds))
	for _, k := range req.Kinds {
		if _, ok := s.kinds.Lookup(k); ok {
			found[k] = &best{}
		}
	}
	var candidates []struct {
		res  wire.ResourceID
		kind wire.KindID
	}
	err := s.backend.Slots(func(res wire.ResourceID, kind wire.KindID, _ uint64) bool {
		if _, ok := found[kind]; ok && len(res) == len(target) {
			candidates = append(candidates, struct {
				res  wire.ResourceID
				kind wire.KindID
			}{wire.ResourceID(bytes.Clone(res)), kind})
		}
		return true
	})
	if err != nil {
		return wire.FindAns{}, err
	}
	for _, c := range candidates {
		if !s.topo.Responsible(c.res) {
			continue
		}
		live := false
		if err := s.backend.Scan(c.res, c.kind, func(r *Record) bool {
			live = r.Expires > nowMs
			return !live
		}); err != nil {
			return wire.FindAns{}, err
		}
		if !live {
			continue
		}
		b := found[c.kind]
		if bytes.Compare(c.res, target) >= 0 && (b.after == nil || bytes.Compare(c.res, b.after) < 0) {
			b.after = c.res
		}
		if b.first == nil || bytes.Compare(c.res, b.first) < 0 {
			b.first = c.res
		}
	}
	ans := wire.FindAns{Results: make([]wire.FindKindData, len(req.Kinds))}
	for i, k := range req.Kinds {
		closest := wire.ResourceID(make([]byte, len(target)))
		if b := found[k]; b != nil {
			switch {
			case b.after != nil:
				closest = b.after
			case b.first != nil:
				closest = b.first
			}
		}
		ans.Results[i] = wire.FindKindData{Kind: k, Closest: closest}
	}
	return ans, nil
}

// Expire deletes every value whose lifetime has ended at now (RFC 6940
// §7.4.1.3: expired values, nonexistent ones included, are simply
// removed) and returns how many it deleted. A slot left with no value is
// deleted with its generation counter; one that keeps values has its
// counter increased, since its data changed.
func (s *Store) Expire(now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := unixMillis(now)
	type slot struct {
		res  wire.ResourceID
		kind wire.KindID
		gen  uint64
	}
	var slots []slot
	if err := s.backend.Slots(func(res wire.ResourceID, kind wire.KindID, gen uint64) bool {
		slots = append(slots, slot{wire.ResourceID(bytes.Clone(res)), kind, gen})
		return true
	}); err != nil {
		return 0, err
	}
	s.batch.Reset()
	n := 0
	for _, sl := range slots {
		var dead [][]byte
		alive := 0
		if err := s.backend.Scan(sl.res, sl.kind, func(r *Record) bool {
			if r.Expires <= nowMs {
				dead = append(dead, Key(&r.Data.Value))
			} else {
				alive++
			}
			return true
		}); err != nil {
			return 0, err
		}
		n += len(dead)
		switch {
		case alive == 0:
			s.batch.DeleteSlot(sl.res, sl.kind)
		case len(dead) > 0:
			for _, k := range dead {
				s.batch.Delete(sl.res, sl.kind, k)
			}
			s.batch.SetGeneration(sl.res, sl.kind, sl.gen+1)
		}
	}
	if s.batch.Len() == 0 {
		return 0, nil
	}
	return n, s.backend.Apply(&s.batch)
}
