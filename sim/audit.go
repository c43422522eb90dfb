package sim

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Value is one value the simulation stored and expects to keep.
type Value struct {
	Resource wire.ResourceID
	Kind     wire.KindID
	Data     wire.StoredData
}

// Same reports whether d is v's value: the same storage time, value and
// signature (the lifetime goes down as it is copied, §7.4.1.1).
func (v *Value) Same(d *wire.StoredData) bool {
	return d.StorageTime == v.Data.StorageTime && sameValue(&d.Value, &v.Data.Value) && sameSig(&d.Signature, &v.Data.Signature)
}

func sameValue(a, b *wire.StoredDataValue) bool {
	x, err1 := a.Append(nil)
	y, err2 := b.Append(nil)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func sameSig(a, b *wire.Signature) bool {
	x, err1 := a.Append(nil)
	y, err2 := b.Append(nil)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// AuditReport is the result of Audit.
type AuditReport struct {
	Values int
	// Lost values are missing at their responsible peer; Corrupt ones are
	// there with another content or signature.
	Lost, Corrupt int
	// Replicated values are at the responsible peer and the next two live
	// peers.
	Replicated int
	// Copies counts every copy held by a live peer, Excess those held
	// outside the three: a peer that is no longer responsible for nor a
	// replica of a value hands it to the responsible peer and deletes it
	// once that peer has it (RFC 6940 §10.7.3), so Excess falls to zero
	// once the ring has settled.
	Copies, Excess int
	// Examples names a few values that are lost, corrupt or not
	// replicated.
	Examples []string
}

// OK reports whether nothing is lost or corrupt and everything is
// replicated.
func (r *AuditReport) OK() bool { return r.Lost == 0 && r.Corrupt == 0 && r.Replicated == r.Values }

func (r AuditReport) String() string {
	return fmt.Sprintf("%d values: %d lost, %d corrupt, %d replicated ×3; %d copies (%d outside the replica sets)",
		r.Values, r.Lost, r.Corrupt, r.Replicated, r.Copies, r.Excess)
}

// Audit checks every value of vals against the backends of the live peers
// of the brute-force ring: present and equal at the responsible peer, and
// at the next two live peers (§10.4).
func (s *Sim) Audit(vals []Value) AuditReport {
	r := AuditReport{Values: len(vals)}
	note := func(format string, a ...any) {
		if len(r.Examples) < 5 {
			r.Examples = append(r.Examples, fmt.Sprintf(format, a...))
		}
	}
	for i := range vals {
		v := &vals[i]
		key := storage.Key(&v.Data.Value)
		want := s.ReplicaPeers(v.Resource, 2)
		held := 0
		for j, id := range want {
			rec, err := s.byID[id].Backend.Get(v.Resource, v.Kind, key)
			switch {
			case err != nil || rec == nil:
				if j == 0 {
					r.Lost++
					note("value %x kind %v key %x lost at responsible %v", []byte(v.Resource), v.Kind, key, id)
				} else {
					note("value %x kind %v key %x missing at replica %d %v", []byte(v.Resource), v.Kind, key, j, id)
				}
			case !v.Same(&rec.Data):
				if j == 0 {
					r.Corrupt++
				}
				note("value %x kind %v key %x differs at %v", []byte(v.Resource), v.Kind, key, id)
			default:
				held++
			}
		}
		if held == len(want) && len(want) == min(3, len(s.Peers())) {
			r.Replicated++
		}
	}
	for _, p := range s.Nodes {
		if !p.Alive {
			continue
		}
		for _, sl := range slots(p.Backend) {
			n, _, _ := p.Backend.Count(sl.res, sl.kind)
			r.Copies += n
			if !slices.Contains(s.ReplicaPeers(sl.res, 2), p.ID) {
				r.Excess += n
			}
		}
	}
	return r
}

// FetchReport is the result of FetchAll.
type FetchReport struct {
	// Retried counts Fetches sent again after being lost on a dead hop.
	Fetches, Retried, Answered, Values, Found int
	// Missing values were not in the answer of the responsible peer,
	// Corrupt ones were there with another content or signature.
	Missing, Corrupt int
	Examples         []string
}

func (r FetchReport) String() string {
	return fmt.Sprintf("%d fetches (%d retried, %d answered): %d/%d values found, %d missing, %d corrupt",
		r.Fetches, r.Retried, r.Answered, r.Found, r.Values, r.Missing, r.Corrupt)
}

// fetchTries is how many times FetchAll sends a Fetch that gets lost.
const fetchTries = 3

// FetchAll fetches every value of vals through the overlay, one Fetch per
// Resource-ID from a random live peer, routed to the responsible peer
// (§7.4.2), runs until every answer is back (at most max ticks per
// attempt; a lost Fetch is sent again, fetchTries in all) and compares
// the values answered with vals.
func (s *Sim) FetchAll(vals []Value, max int64) FetchReport {
	type group struct {
		res  wire.ResourceID
		vals []*Value
		op   *Op
	}
	var order []string
	groups := make(map[string]*group)
	for i := range vals {
		k := string(vals[i].Resource)
		g := groups[k]
		if g == nil {
			g = &group{res: vals[i].Resource}
			groups[k] = g
			order = append(order, k)
		}
		g.vals = append(g.vals, &vals[i])
	}
	r := FetchReport{Values: len(vals)}
	reqs := make(map[string]*wire.FetchReq, len(groups))
	for _, k := range order {
		g := groups[k]
		req := &wire.FetchReq{Resource: g.res}
		for _, v := range g.vals {
			if slices.ContainsFunc(req.Specifiers, func(sp wire.StoredDataSpecifier) bool { return sp.Kind == v.Kind }) {
				continue
			}
			sp := wire.StoredDataSpecifier{Kind: v.Kind, Model: v.Data.Value.Model}
			if sp.Model == wire.ModelArray {
				sp.Indices = []wire.ArrayRange{{First: 0, Last: 0xffffffff}}
			}
			req.Specifiers = append(req.Specifiers, sp)
		}
		reqs[k] = req
	}
	// A Fetch lost on a dead hop (a finger that left or failed and that
	// the sender has not noticed yet) is sent again, as a client would
	// after its transaction timed out, once the hop's failure is known.
	for attempt := range fetchTries {
		live := s.Peers()
		sent := 0
		for _, k := range order {
			g := groups[k]
			if g.op != nil && !g.op.Lost {
				continue
			}
			if attempt > 0 {
				r.Retried++
			}
			op, err := s.Get(live[s.Rand.IntN(len(live))], reqs[k])
			if err != nil {
				r.Examples = append(r.Examples, err.Error())
				continue
			}
			g.op = op
			sent++
			if attempt == 0 {
				r.Fetches++
			}
		}
		if sent == 0 {
			break
		}
		s.RunUntil(max, 1, func() bool {
			for _, g := range groups {
				if g.op != nil && !g.op.Done && !g.op.Lost {
					return false
				}
			}
			return true
		})
		s.Run(s.cfg.DetectDelay)
	}
	note := func(format string, a ...any) {
		if len(r.Examples) < 5 {
			r.Examples = append(r.Examples, fmt.Sprintf(format, a...))
		}
	}
	for _, k := range order {
		g := groups[k]
		var ans wire.FetchAns
		ok := g.op != nil && g.op.Done && g.op.Code == wire.CodeFetchAns
		if ok {
			ans.Models = s.cfg.Kinds
			_, err := ans.Decode(g.op.Body)
			ok = err == nil
			r.Answered++
		}
		for _, v := range g.vals {
			if !ok {
				r.Missing++
				note("resource %x: fetch not answered (%+v)", []byte(g.res), g.op)
				continue
			}
			found := false
			for _, kr := range ans.KindResponses {
				if kr.Kind != v.Kind {
					continue
				}
				for i := range kr.Values {
					d := &kr.Values[i]
					if storage.CompareValues(&d.Value, &v.Data.Value) != 0 {
						continue
					}
					found = true
					if d.Value.Value.Exists && v.Same(d) {
						r.Found++
					} else if !d.Value.Value.Exists {
						r.Missing++
						note("resource %x kind %v: value absent at %v", []byte(g.res), v.Kind, g.op.At)
					} else {
						r.Corrupt++
						note("resource %x kind %v: value differs at %v", []byte(g.res), v.Kind, g.op.At)
					}
				}
			}
			if !found {
				r.Missing++
				note("resource %x kind %v: value not in the answer of %v", []byte(g.res), v.Kind, g.op.At)
			}
		}
	}
	return r
}

// CopyCounts returns, for each value of vals (in order), the number of
// live peers of the ring whose backend holds it: 1 + replicas (RFC 6940 §10.4) once
// replication, handover and pruning are done; fewer after a failure
// until the ring repairs itself, more while a handover is under way.
func (s *Sim) CopyCounts(vals []Value) []int {
	type vkey struct {
		res  string
		kind wire.KindID
		key  string
	}
	idx := make(map[vkey]int, len(vals))
	for i := range vals {
		v := &vals[i]
		idx[vkey{string(v.Resource), v.Kind, string(storage.Key(&v.Data.Value))}] = i
	}
	out := make([]int, len(vals))
	for _, p := range s.Nodes {
		if !p.Alive || p.State() != "peer" {
			continue // a node that left keeps its backend, out of the ring
		}
		for _, sl := range slots(p.Backend) {
			_ = p.Backend.Scan(sl.res, sl.kind, func(rec *storage.Record) bool {
				if i, ok := idx[vkey{string(sl.res), sl.kind, string(storage.Key(&rec.Data.Value))}]; ok {
					out[i]++
				}
				return true
			})
		}
	}
	return out
}

// ValueBytes measures the values the live peers' backends hold: the
// number of copies, their encoded StoredData size and the size of the
// signer certificates kept beside them (one per copy).
func (s *Sim) ValueBytes() (copies, data, certs int) {
	for _, p := range s.Nodes {
		if !p.Alive {
			continue
		}
		for _, sl := range slots(p.Backend) {
			_ = p.Backend.Scan(sl.res, sl.kind, func(rec *storage.Record) bool {
				data += rec.Data.Len()
				certs += len(rec.Cert)
				copies++
				return true
			})
		}
	}
	return copies, data, certs
}

type slot struct {
	res  wire.ResourceID
	kind wire.KindID
}

// slots lists the slots of b (its Slots callback must not call b).
func slots(b storage.Backend) []slot {
	var out []slot
	_ = b.Slots(func(res wire.ResourceID, kind wire.KindID, _ uint64) bool {
		out = append(out, slot{wire.ResourceID(slices.Clone(res)), kind})
		return true
	})
	return out
}
