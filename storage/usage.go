package storage

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"slices"

	"github.com/goreload/reload/wire"
)

// KindUsage is what one Kind holds on this peer: its values (expired
// ones not yet removed included) and their size as StoredData on the
// wire.
type KindUsage struct {
	Kind   wire.KindID
	Values uint64
	Bytes  uint64
}

// Usage walks the backend and returns, by Kind, the values it holds and
// their bytes (for metrics and status reports). It reads every record,
// so its cost grows with the data held; it holds the Store's lock while
// it runs.
func (s *Store) Usage() ([]KindUsage, error) {
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
	by := map[wire.KindID]*KindUsage{}
	for _, sl := range slots {
		u := by[sl.kind]
		if u == nil {
			u = &KindUsage{Kind: sl.kind}
			by[sl.kind] = u
		}
		if err := s.backend.Scan(sl.res, sl.kind, func(r *Record) bool {
			u.Values++
			u.Bytes += uint64(r.Data.Len())
			return true
		}); err != nil {
			return nil, err
		}
	}
	out := make([]KindUsage, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b KindUsage) int { return cmp.Compare(a.Kind, b.Kind) })
	return out, nil
}

var discard = slog.New(slog.DiscardHandler)

func (s *Store) logger() *slog.Logger {
	if s.log == nil {
		return discard
	}
	return s.log
}

// logStore logs the outcome of a Store request at Debug.
func (s *Store) logStore(req *wire.StoreReq, from *Requester, err *error) {
	log := s.logger()
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	kinds := make([]uint32, len(req.KindData))
	for i := range req.KindData {
		kinds[i] = uint32(req.KindData[i].Kind)
	}
	attrs := []any{"resource", req.Resource.String(), "kinds", kinds, "replica", req.ReplicaNumber, "from", from.Signer.NodeID.String()}
	if *err != nil {
		log.Debug("store refused", append(attrs, "err", *err)...)
		return
	}
	log.Debug("stored", attrs...)
}
