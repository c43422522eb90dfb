package storage

import (
	"bytes"
	"math"
	"slices"
	"time"

	"github.com/goreload/reload/wire"
)

// This file computes the Stores that replication and handover send (RFC
// 6940 §7.4.1.1, §10.4, §10.5, §10.7.1, §10.7.3, §10.9). It only reads the
// Backend and returns requests; the node layer sends them, signed by this
// peer, with the certificates of each OutgoingStore in the SecurityBlock.
//
// All of them are replica Stores (replica_number > 0): the receiver copies
// the generation counters instead of checking them, checks each value's
// signer against the Kind's policy, and checks the sender with
// Topology.AcceptReplica instead of applying the policy to it. Values go
// with the lifetime they have left. A receiver answering
// Error_Generation_Counter_Too_Low or Error_Data_Too_Old holds newer data;
// the RFC has the sender fetch it and replace its own copy.

// slotData is the unexpired content of one slot.
type slotData struct {
	kind wire.KindID
	gen  uint64
	recs []*Record
}

// resourceData reads, for every Resource-ID that sel accepts, its slots
// with unexpired values, Resource-IDs in increasing order.
func (s *Store) resourceData(sel func(wire.ResourceID) bool, nowMs int64) ([]wire.ResourceID, map[string][]slotData, error) {
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
		return nil, nil, err
	}
	byRes := make(map[string][]slotData)
	var order []wire.ResourceID
	for _, sl := range slots {
		if !sel(sl.res) {
			continue
		}
		d := slotData{kind: sl.kind, gen: sl.gen}
		if err := s.backend.Scan(sl.res, sl.kind, func(r *Record) bool {
			if r.Expires > nowMs {
				d.recs = append(d.recs, r)
			}
			return true
		}); err != nil {
			return nil, nil, err
		}
		if len(d.recs) == 0 || d.gen == 0 {
			continue
		}
		if _, seen := byRes[string(sl.res)]; !seen {
			order = append(order, sl.res)
		}
		byRes[string(sl.res)] = append(byRes[string(sl.res)], d)
	}
	slices.SortFunc(order, func(a, b wire.ResourceID) int { return bytes.Compare(a, b) })
	for _, r := range order {
		slices.SortFunc(byRes[string(r)], func(a, b slotData) int {
			switch {
			case a.kind < b.kind:
				return -1
			case a.kind > b.kind:
				return 1
			}
			return 0
		})
	}
	return order, byRes, nil
}

// storeFor builds the replica Store of every slot of res.
func storeFor(to wire.NodeID, replica uint8, res wire.ResourceID, slots []slotData, nowMs int64) OutgoingStore {
	var certs [][]byte
	req := wire.StoreReq{Resource: res, ReplicaNumber: replica, KindData: make([]wire.StoreKindData, 0, len(slots))}
	for _, sl := range slots {
		kd := wire.StoreKindData{Kind: sl.kind, Generation: sl.gen, Values: make([]wire.StoredData, 0, len(sl.recs))}
		for _, r := range sl.recs {
			kd.Values = append(kd.Values, outgoing(r, nowMs))
			certs = appendCert(certs, r.Cert)
		}
		req.KindData = append(req.KindData, kd)
	}
	return OutgoingStore{To: to, Req: req, Certificates: genericCerts(certs)}
}

// Handover returns Stores that copy to peer to, as replica number
// replica (1 or more), every unexpired value of every Resource-ID sel
// accepts: one StoreReq per Resource-ID carrying all its Kinds. The
// event functions below are built on it.
func (s *Store) Handover(to wire.NodeID, replica uint8, sel func(wire.ResourceID) bool, now time.Time) ([]OutgoingStore, error) {
	if replica == 0 {
		replica = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := unixMillis(now)
	order, byRes, err := s.resourceData(sel, nowMs)
	if err != nil {
		return nil, err
	}
	out := make([]OutgoingStore, 0, len(order))
	for _, res := range order {
		out = append(out, storeFor(to, replica, res, byRes[string(res)], nowMs))
	}
	return out, nil
}

// JoinTransfer is step 6 of RFC 6940 §10.5, run by the admitting peer:
// Stores giving the joining node every value whose Resource-ID it is now
// responsible for (joinerOwns; for Chord, the interval between this
// peer's old predecessor and the joining node). This peer keeps the data:
// it is in the replica set of those resources.
func (s *Store) JoinTransfer(joiner wire.NodeID, joinerOwns func(wire.ResourceID) bool, now time.Time) ([]OutgoingStore, error) {
	return s.Handover(joiner, 1, joinerOwns, now)
}

// ReplicaSetChanged is RFC 6940 §10.7.3 ("If peer x is responsible for a
// Resource-ID R and x discovers that the replica set for R ... has
// changed, it MUST send a Store for any data associated with R to any new
// node in the replica set"): call it with the peers that newly entered
// this peer's replica sets (after the Topology has changed), for example
// a new successor after a join or a failure. For each Resource-ID this
// peer is responsible for and each added peer in its ReplicaSet, a Store
// numbered by the peer's place in that set.
func (s *Store) ReplicaSetChanged(added []wire.NodeID, now time.Time) ([]OutgoingStore, error) {
	if len(added) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := unixMillis(now)
	order, byRes, err := s.resourceData(s.topo.Responsible, nowMs)
	if err != nil {
		return nil, err
	}
	var out []OutgoingStore
	for _, res := range order {
		for i, to := range s.topo.ReplicaSet(res) {
			if i >= math.MaxUint8 {
				break
			}
			if slices.Contains(added, to) {
				out = append(out, storeFor(to, uint8(i+1), res, byRes[string(res)], nowMs))
			}
		}
	}
	return out, nil
}

// RangeGained is for a peer that became responsible for more of the ring
// because its predecessor failed or left (RFC 6940 §10.7.1, §10.9): it
// held those values as a replica and must now have them replicated. For
// each Resource-ID gained accepts and this peer is (now) responsible for,
// a Store to every peer of its ReplicaSet.
func (s *Store) RangeGained(gained func(wire.ResourceID) bool, now time.Time) ([]OutgoingStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := unixMillis(now)
	order, byRes, err := s.resourceData(func(r wire.ResourceID) bool { return gained(r) && s.topo.Responsible(r) }, nowMs)
	if err != nil {
		return nil, err
	}
	var out []OutgoingStore
	for _, res := range order {
		for i, to := range s.topo.ReplicaSet(res) {
			if i >= math.MaxUint8 {
				break
			}
			out = append(out, storeFor(to, uint8(i+1), res, byRes[string(res)], nowMs))
		}
	}
	return out, nil
}

// LeaveTransfer is for a peer about to leave the overlay (RFC 6940
// §10.9): Stores giving its successor, which takes over its range, every
// value this peer is responsible for, so that nothing depends on the
// replicas having been complete.
func (s *Store) LeaveTransfer(successor wire.NodeID, now time.Time) ([]OutgoingStore, error) {
	return s.Handover(successor, 1, s.topo.Responsible, now)
}

// Prune deletes every slot whose Resource-ID keep rejects, for a peer
// that is no longer responsible for nor a replica of it (RFC 6940
// §10.7.3: "SHOULD delete all data associated with R"), and returns the
// number of slots deleted.
func (s *Store) Prune(keep func(wire.ResourceID) bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Reset()
	var del []Op
	if err := s.backend.Slots(func(res wire.ResourceID, kind wire.KindID, _ uint64) bool {
		if !keep(res) {
			del = append(del, Op{Type: OpDeleteSlot, Resource: wire.ResourceID(bytes.Clone(res)), Kind: kind})
		}
		return true
	}); err != nil {
		return 0, err
	}
	if len(del) == 0 {
		return 0, nil
	}
	s.batch.Ops = append(s.batch.Ops, del...)
	return len(del), s.backend.Apply(&s.batch)
}

// OrphanStores is the first half of pruning (RFC 6940 §10.7.3: a peer
// that is no longer responsible for nor a replica of Resource-ID R
// "SHOULD delete all data associated with R", §10.4): for every
// Resource-ID with unexpired data that keep rejects, a replica Store
// (replica_number replica) of all of it, with To left zero: the caller
// sends it to the Resource-ID's responsible peer. Once that peer has
// acknowledged it, DropHandedOver deletes the local copy; until then, or
// when the Store fails, the copy stays, so that pruning never loses the
// last copy of a value.
func (s *Store) OrphanStores(keep func(wire.ResourceID) bool, replica uint8, now time.Time) ([]OutgoingStore, error) {
	if replica == 0 {
		replica = 1
	}
	return s.Handover(wire.NodeID{}, replica, func(r wire.ResourceID) bool { return !keep(r) }, now)
}

// DropHandedOver is the second half of pruning: the peer that req (an
// OrphanStores Store) went to has acknowledged it, and this peer is
// still neither responsible for nor a replica of its Resource-ID (the
// caller checks). It deletes each slot of the Resource-ID that req
// carried whose generation counter is still the one req carried (a slot
// that changed since holds data the receiver may lack, and is kept for a
// later handover), and returns the number of values deleted, which
// Pruned counts.
func (s *Store) DropHandedOver(req *wire.StoreReq) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Reset()
	values := 0
	for i := range req.KindData {
		kd := &req.KindData[i]
		gen, err := s.backend.Generation(req.Resource, kd.Kind)
		if err != nil {
			return 0, err
		}
		if gen != kd.Generation {
			continue
		}
		n, _, err := s.backend.Count(req.Resource, kd.Kind)
		if err != nil {
			return 0, err
		}
		values += n
		s.batch.Ops = append(s.batch.Ops, Op{Type: OpDeleteSlot, Resource: wire.ResourceID(bytes.Clone(req.Resource)), Kind: kd.Kind})
	}
	if len(s.batch.Ops) == 0 {
		return 0, nil
	}
	if err := s.backend.Apply(&s.batch); err != nil {
		return 0, err
	}
	s.pruned.Add(uint64(values))
	return values, nil
}

// Pruned is the number of values DropHandedOver has deleted (the
// reload_storage_pruned_values_total metric). Safe from any goroutine.
func (s *Store) Pruned() uint64 { return s.pruned.Load() }
