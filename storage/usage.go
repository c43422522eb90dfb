package storage

import (
	"context"
	"log/slog"

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
	ru, err := s.UsageByRole(nil)
	if err != nil {
		return nil, err
	}
	out := make([]KindUsage, len(ru))
	for i := range ru {
		out[i] = ru[i].KindUsage
	}
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
