package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

type timeT = time.Time

// Topology is what storage asks of the overlay's topology plugin (for
// CHORD-RELOAD, topology/chord satisfies it without importing storage).
type Topology interface {
	// Responsible reports whether this peer is responsible for res.
	Responsible(res wire.ResourceID) bool
	// ReplicaSet lists, in replica-number order, the peers that hold
	// replicas of res when this peer is responsible for it (RFC 6940
	// §10.4: the first two successors).
	ReplicaSet(res wire.ResourceID) []wire.NodeID
	// AcceptReplica reports whether a replica or transfer Store for res
	// (replica_number > 0) signed by from is plausible: this peer
	// expects to hold res, as responsible peer or replica, and from is a
	// node that could have sent it, one in the replica set of res or
	// closer to it than one (RFC 6940 §7.4.1.1, §10.4).
	AcceptReplica(res wire.ResourceID, from wire.NodeID) bool
}

// SingleNode is the Topology of an overlay of one peer: responsible for
// every Resource-ID, with no replicas, accepting no replica Stores.
type SingleNode struct{}

// Responsible is always true.
func (SingleNode) Responsible(wire.ResourceID) bool { return true }

// ReplicaSet is always empty.
func (SingleNode) ReplicaSet(wire.ResourceID) []wire.NodeID { return nil }

// AcceptReplica is always false.
func (SingleNode) AcceptReplica(wire.ResourceID, wire.NodeID) bool { return false }

// Verifier checks StoredData signatures; *security.Verifier is the one
// to use (tests and fuzzers may substitute their own).
type Verifier interface {
	VerifyData(resourceID []byte, kind uint32, storageTime uint64, value []byte, sig *wire.Signature,
		certs []wire.GenericCertificate, want security.Expect, now time.Time) (security.Signer, error)
	AddCertificate(chain [][]byte, now time.Time) (*security.NodeCert, error)
}

// Config configures a Store.
type Config struct {
	Kinds    *KindTable // required
	Backend  Backend    // required
	Verifier Verifier   // required: checks every StoredData signature
	Topology Topology   // nil means SingleNode
	Hash     HashFunc   // the overlay's hash; nil means ChordHash
	// Logger receives the Store's events: stores refused at Debug,
	// expiry at Debug (nil: nothing is logged).
	Logger *slog.Logger

	// MaxStorageTimeAhead bounds how far a value's storage_time may lie
	// ahead of this peer's clock; a Store with a later one is refused
	// with Error_Invalid_Message (ErrFutureStorageTime). RFC 6940 §7
	// does not require synchronized clocks, but a stored storage_time
	// is the floor for every later Store of the value (§7.4.1.1: older
	// ones get Error_Data_Too_Old), so an unbounded one (2^64-1) would
	// lock the value against its owner for its whole lifetime. 0 means
	// DefaultMaxStorageTimeAhead; negative disables the check.
	MaxStorageTimeAhead time.Duration
	// MaxLifetime caps the lifetime this peer keeps a value for: a
	// longer one is clamped to it, not refused (RFC 6940 §7: a storing
	// peer may "garbage collect" data at its convenience, and §7.4.1.1
	// has it adjust lifetimes downward), so Fetch and replicas report
	// the remaining, capped lifetime. 0 means DefaultMaxLifetime;
	// negative disables the cap.
	MaxLifetime time.Duration
}

// Defaults of Config's storage policy.
const (
	// DefaultMaxStorageTimeAhead tolerates clocks set a day wrong (a
	// wrong time zone is at most 14 hours off), while bounding how long
	// a value's slot can be held against the owner's correct clock. The
	// owner can still store at once by raising storage_time above the
	// stored one (RFC 6940 §7.4.1.1).
	DefaultMaxStorageTimeAhead = 24 * time.Hour
	// DefaultMaxLifetime is the default certificate lifetime of the
	// enrollment server (enroll.Server.Lifetime): values live as long as
	// the credential that signs them usually does, and are refreshed by
	// their owners to live longer (as SIP registrations are).
	DefaultMaxLifetime = 30 * 24 * time.Hour
)

// ErrFutureStorageTime: a value's storage_time lies further ahead of
// this peer's clock than Config.MaxStorageTimeAhead allows
// (Error_Invalid_Message, with a description in error_info as RFC 6940
// §6.3.3.1 asks). It is not Error_Forbidden, which says the requester
// may not write there, nor Error_Data_Too_Old, which would have the
// sender raise its storage_time further.
var ErrFutureStorageTime = errors.New("storage: storage time too far ahead of the storing peer's clock")

// Requester is who sent a request: the verified signer of the message
// (security.Verifier.Verify) and the certificates of its SecurityBlock,
// with which the signatures of the StoredData values are checked.
type Requester struct {
	Signer       security.Signer
	Certificates []wire.GenericCertificate
}

// Store applies the data storage rules of RFC 6940 §7 to one peer's
// Backend. Handlers take decoded bodies and the current time and return
// the answer body or an error; errors a peer answers with are
// *wire.ProtocolError. A Store is safe for concurrent use: requests are
// handled one at a time.
type Store struct {
	kinds    *KindTable
	backend  Backend
	verifier Verifier
	topo     Topology
	hash     HashFunc
	log      *slog.Logger
	// maxAheadMs and maxLifeMs are Config's storage policy in
	// milliseconds; negative means no bound.
	maxAheadMs, maxLifeMs int64

	mu    sync.Mutex
	buf   []byte // scratch for signature inputs
	batch Batch

	// fetched remembers the fetched values whose signatures verified
	// (VerifyFetch).
	fetched verifiedCache

	// pruned counts the values DropHandedOver deleted.
	pruned atomic.Uint64
}

// New returns a Store for c.
func New(c Config) (*Store, error) {
	if c.Kinds == nil || c.Backend == nil || c.Verifier == nil {
		return nil, errors.New("storage: Config needs Kinds, Backend and Verifier")
	}
	s := &Store{kinds: c.Kinds, backend: c.Backend, verifier: c.Verifier, topo: c.Topology, hash: c.Hash, log: c.Logger}
	if s.topo == nil {
		s.topo = SingleNode{}
	}
	if s.hash == nil {
		s.hash = ChordHash
	}
	s.maxAheadMs = policyMillis(c.MaxStorageTimeAhead, DefaultMaxStorageTimeAhead)
	s.maxLifeMs = policyMillis(c.MaxLifetime, DefaultMaxLifetime)
	return s, nil
}

// policyMillis is a Config bound in milliseconds: def for 0, -1 (no
// bound) for a negative d.
func policyMillis(d, def time.Duration) int64 {
	switch {
	case d == 0:
		return def.Milliseconds()
	case d < 0:
		return -1
	}
	return d.Milliseconds()
}

// Kinds is the Store's Kind registry.
func (s *Store) Kinds() *KindTable { return s.kinds }

// Hash is the overlay hash the Store's policies use.
func (s *Store) Hash() HashFunc { return s.hash }

// Backend is the Store's backend.
func (s *Store) Backend() Backend { return s.backend }

// OutgoingStore is a Store request the node layer is to send: to one peer,
// with the certificates of the values' signers to put in its
// SecurityBlock beside the node's own.
type OutgoingStore struct {
	To           wire.NodeID
	Req          wire.StoreReq
	Certificates []wire.GenericCertificate
}

// StoreResult is the outcome of a successful Store: the answer to send
// back and, for an original Store that changed data, the replica Stores
// to send (RFC 6940 §10.4); also for a replica Store that changed data
// of a resource this peer is responsible for (to the replica set but the
// sender).
type StoreResult struct {
	Answer   wire.StoreAns
	Replicas []OutgoingStore
}

// unixMillis is t in milliseconds since the Unix epoch.
func unixMillis(t time.Time) int64 { return t.UnixMilli() }

// remaining is the lifetime left to a record at now, in whole seconds
// (rounded down: RFC 6940 §7.4.1.1 adjusts lifetimes downward).
func remaining(r *Record, nowMs int64) uint32 {
	left := (r.Expires - nowMs) / 1000
	if left <= 0 {
		return 0
	}
	return uint32(min(left, math.MaxUint32))
}

// kindWork is the state of one StoreKindData while a Store is checked.
type kindWork struct {
	kind    *Kind
	values  []wire.StoredData
	cur     uint64             // stored generation counter
	gen     uint64             // generation after the Store
	pending map[string]*Record // this Store's values by Key
	count   int                // values in the slot with this Store's
	next    uint32             // array: the index an append takes
	written []*Record
}

// HandleStore handles a Store request (RFC 6940 §7.4.1) from req at now.
// The request is applied atomically: on any error nothing changes. req
// must have been decoded with the Store's KindTable as its Models (values
// of Kinds decoded raw are decoded again if the table knows them).
//
// Errors: *wire.ProtocolError with Error_Unknown_Kind (error_info lists
// every unknown Kind-ID), Error_Generation_Counter_Too_Low (error_info is
// a StoreAns with the current generation counter of every Kind of the
// request and no replicas), Error_Forbidden (bad signature, policy, or
// replica from an implausible node), Error_Data_Too_Old,
// Error_Data_Too_Large, Error_Not_Found (not responsible for an original
// Store), Error_Invalid_Message. A *security.CertificateNeededError means
// a value's signer certificate is neither in the request nor known here:
// fetch it (CertificateResource), add it to the Verifier and call again.
func (s *Store) HandleStore(req *wire.StoreReq, from Requester, now time.Time) (_ StoreResult, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.logStore(req, &from, &err)
	res := req.Resource
	replica := req.ReplicaNumber > 0
	if from.Signer.Cert == nil || from.Signer.NodeID.IsZero() {
		return StoreResult{}, protoErr(wire.ErrCodeForbidden, nil, ErrNotPermitted, "unsigned request")
	}
	// confirm marks a replica Store from a peer that may not send one
	// (AcceptReplica): a peer beyond the replica set handing back data
	// it no longer keeps (OrphanStores). It changes nothing: it is
	// answered with success only when this peer, responsible for res,
	// holds every value already with the same generation counter (the
	// sender may then delete its copy), with
	// Error_Generation_Counter_Too_Low when this peer holds a newer
	// generation, and refused otherwise, so that such a peer cannot
	// push data or generation counters (§10.4).
	confirm := false
	rejected := func() error {
		return protoErr(wire.ErrCodeForbidden, nil, ErrReplicaRejected, "resource %v from %v", res, from.Signer.NodeID)
	}
	if replica {
		if !s.topo.AcceptReplica(res, from.Signer.NodeID) {
			if !s.topo.Responsible(res) {
				return StoreResult{}, rejected()
			}
			confirm = true
		}
	} else if !s.topo.Responsible(res) {
		return StoreResult{}, protoErr(wire.ErrCodeNotFound, nil, ErrNotResponsible, "resource %v", res)
	}

	work, err := s.kindWork(req)
	if err != nil {
		return StoreResult{}, err
	}

	// Generation counters (§7.4.1.1, §7.4.1.2).
	tooLow := false
	for i := range work {
		w := &work[i]
		if w.cur, err = s.backend.Generation(res, w.kind.ID); err != nil {
			return StoreResult{}, err
		}
		g := req.KindData[i].Generation
		switch {
		case replica && g == 0:
			return StoreResult{}, protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "replica store of kind %v with generation 0", w.kind.ID)
		case !replica && g != 0 && g != w.cur:
			tooLow = true
		case confirm && g < w.cur:
			tooLow = true
		case confirm && g > w.cur:
			return StoreResult{}, rejected()
		}
	}
	if tooLow {
		ans := wire.StoreAns{KindResponses: make([]wire.StoreKindResponse, len(work))}
		for i := range work {
			ans.KindResponses[i] = wire.StoreKindResponse{Kind: work[i].kind.ID, Generation: work[i].cur}
		}
		info, _ := ans.Append(nil)
		return StoreResult{}, protoErr(wire.ErrCodeGenerationCounterTooLow, info, ErrGeneration, "")
	}

	// USER-CHAIN-ACL Kinds are checked against the ACL held at res (RFC
	// 8076 §6.4).
	var acl *ACL
	for i := range work {
		if work[i].kind.Policy == PolicyUserChainACL {
			a, err := s.requestACL(res, work, from, now)
			if err != nil {
				return StoreResult{}, err
			}
			acl = &a
			break
		}
	}

	nowMs := unixMillis(now)
	for i := range work {
		if err := s.checkKind(&work[i], res, from, replica, acl, now, nowMs); err != nil {
			if confirm {
				return StoreResult{}, rejected()
			}
			return StoreResult{}, err
		}
		if confirm && len(work[i].written) > 0 {
			return StoreResult{}, rejected()
		}
	}

	// Commit.
	s.batch.Reset()
	for i := range work {
		w := &work[i]
		for _, r := range w.written {
			s.batch.Put(res, w.kind.ID, r)
		}
		switch {
		case replica:
			w.gen = req.KindData[i].Generation
		case len(w.written) > 0:
			w.gen = w.cur + 1
			if w.cur == math.MaxUint64 {
				w.gen = w.cur
			}
		default:
			w.gen = w.cur
		}
		if w.gen != w.cur {
			s.batch.SetGeneration(res, w.kind.ID, w.gen)
		}
	}
	if s.batch.Len() > 0 {
		if err := s.backend.Apply(&s.batch); err != nil {
			return StoreResult{}, err
		}
	}

	var out StoreResult
	var replicas []wire.NodeID
	if !replica {
		replicas = s.topo.ReplicaSet(res)
	}
	// The answer lists the replica set of the responsible peer (§7.4.1.2)
	// for a replica Store too: a peer handing over data it no longer
	// keeps (OrphanStores) learns from it that it is not a replica.
	ansReplicas := replicas
	if replica && s.topo.Responsible(res) {
		ansReplicas = s.topo.ReplicaSet(res)
	}
	idLen := 0
	if len(ansReplicas) > 0 {
		idLen = ansReplicas[0].Len()
	}
	out.Answer = wire.StoreAns{IDLen: idLen, KindResponses: make([]wire.StoreKindResponse, len(work))}
	for i := range work {
		out.Answer.KindResponses[i] = wire.StoreKindResponse{IDLen: idLen, Kind: work[i].kind.ID, Generation: work[i].gen, Replicas: ansReplicas}
	}
	if replica && s.topo.Responsible(res) {
		// A replica or transfer Store that brings the responsible peer
		// data it lacked (a leaving predecessor's transfer that arrives
		// after the Leave, a late replica after a range change): the
		// data is replicated as if stored here (§10.4), except back to
		// its sender, so that it does not rest on this copy alone.
		replicas = s.topo.ReplicaSet(res)
	}
	if len(replicas) > 0 {
		var kd []wire.StoreKindData
		var certs [][]byte
		for i := range work {
			w := &work[i]
			if len(w.written) == 0 {
				continue
			}
			d := wire.StoreKindData{Kind: w.kind.ID, Generation: w.gen}
			for _, r := range w.written {
				d.Values = append(d.Values, outgoing(r, nowMs))
				certs = appendCert(certs, r.Cert)
			}
			kd = append(kd, d)
		}
		if len(kd) > 0 {
			resCopy := wire.ResourceID(bytes.Clone(res))
			for n, to := range replicas {
				if n >= math.MaxUint8 {
					break
				}
				if replica && to == from.Signer.NodeID {
					continue
				}
				out.Replicas = append(out.Replicas, OutgoingStore{
					To:           to,
					Req:          wire.StoreReq{Resource: resCopy, ReplicaNumber: uint8(n + 1), KindData: kd},
					Certificates: genericCerts(certs),
				})
			}
		}
	}
	return out, nil
}

// kindWork resolves the Kinds of a StoreReq: unknown ones give
// Error_Unknown_Kind listing them all, repeated ones
// Error_Invalid_Message.
func (s *Store) kindWork(req *wire.StoreReq) ([]kindWork, error) {
	work := make([]kindWork, len(req.KindData))
	var unknown []wire.KindID
	for i := range req.KindData {
		kd := &req.KindData[i]
		for j := range i {
			if req.KindData[j].Kind == kd.Kind {
				return nil, protoErr(wire.ErrCodeInvalidMessage, nil, ErrDuplicateKind, "kind %v", kd.Kind)
			}
		}
		k, ok := s.kinds.Lookup(kd.Kind)
		if !ok {
			unknown = append(unknown, kd.Kind)
			continue
		}
		work[i].kind = k
		work[i].values = kd.Values
		if len(kd.RawValues) > 0 {
			// Decoded without knowing the Kind: decode again with its model.
			enc, err := kd.Append(nil)
			if err != nil {
				return nil, protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "kind %v: %v", kd.Kind, err)
			}
			again := wire.StoreKindData{Models: s.kinds}
			if _, err := again.Decode(enc); err != nil {
				return nil, protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "kind %v: %v", kd.Kind, err)
			}
			work[i].values = again.Values
		}
	}
	if len(unknown) > 0 {
		return nil, protoErr(wire.ErrCodeUnknownKind, unknownKindInfo(unknown), ErrUnknownKind, "%v", unknown)
	}
	return work, nil
}

// loadSlot reads the size of w's slot and, for an array, where an
// append goes.
func (s *Store) loadSlot(w *kindWork, res wire.ResourceID) error {
	n, last, err := s.backend.Count(res, w.kind.ID)
	if err != nil {
		return err
	}
	w.count = n
	if last != nil && last.Data.Value.Model == wire.ModelArray && last.Data.Value.Index != wire.ArrayAppendIndex {
		w.next = last.Data.Value.Index + 1
	}
	w.pending = make(map[string]*Record, len(w.values))
	return nil
}

// old is the value rec would replace: one of this Store's, or a stored
// one that has not expired. stored reports whether the backend has a
// record with that key at all (expired or not).
func (s *Store) old(w *kindWork, res wire.ResourceID, key string, nowMs int64) (old *Record, stored bool, err error) {
	if r, ok := w.pending[key]; ok {
		return r, true, nil
	}
	r, err := s.backend.Get(res, w.kind.ID, []byte(key))
	if err != nil || r == nil {
		return nil, false, err
	}
	if r.Expires <= nowMs {
		return nil, true, nil
	}
	return r, true, nil
}

// checkKind checks every value of one Kind in order, recording the
// changes in w (RFC 6940 §7.4.1.1).
func (s *Store) checkKind(w *kindWork, res wire.ResourceID, from Requester, replica bool, acl *ACL, now time.Time, nowMs int64) error {
	k := w.kind
	shared := k.Policy == PolicyUserChainACL // decided with the ACL below
	if err := s.loadSlot(w, res); err != nil {
		return err
	}
	for i := range w.values {
		v := &w.values[i]
		if v.Value.Model != k.Model {
			return protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "kind %v value %d: model %v, kind is %v", k.ID, i, v.Value.Model, k.Model)
		}
		if len(v.Value.Value.Value) > k.MaxSize {
			return protoErr(wire.ErrCodeDataTooLarge, nil, ErrTooLarge, "kind %v value %d: %d bytes, max-size %d", k.ID, i, len(v.Value.Value.Value), k.MaxSize)
		}
		if k.Model == wire.ModelArray && v.Value.Index != wire.ArrayAppendIndex && int64(v.Value.Index) >= int64(k.MaxCount) {
			return protoErr(wire.ErrCodeDataTooLarge, nil, ErrTooLarge, "kind %v value %d: index %d, max-count %d", k.ID, i, v.Value.Index, k.MaxCount)
		}
		// Before the signature check, which costs more: a storage_time
		// too far ahead of this peer's clock (Config.MaxStorageTimeAhead;
		// for original and replica Stores alike).
		if s.maxAheadMs >= 0 && nowMs >= 0 && v.StorageTime > uint64(nowMs)+uint64(s.maxAheadMs) {
			return protoErr(wire.ErrCodeInvalidMessage, []byte("storage_time too far in the future"), ErrFutureStorageTime,
				"kind %v value %d: storage_time %d, local clock %d, at most %v ahead", k.ID, i, v.StorageTime, nowMs, time.Duration(s.maxAheadMs)*time.Millisecond)
		}
		signer, err := s.verify(res, k.ID, v, from.Certificates, now)
		if err != nil {
			return err
		}
		if !shared && !permitted(s.hash, k, res, &v.Value, signer) {
			return protoErr(wire.ErrCodeForbidden, nil, ErrNotPermitted, "kind %v (%v) value %d signed by %v", k.ID, k.Policy, i, signer.NodeID)
		}
		if !shared && !replica && !permitted(s.hash, k, res, &v.Value, from.Signer) {
			return protoErr(wire.ErrCodeForbidden, nil, ErrNotPermitted, "kind %v (%v) request signed by %v", k.ID, k.Policy, from.Signer.NodeID)
		}

		rec := &Record{Data: v.Clone()}
		if signer.Cert.Cert != nil {
			rec.Cert = signer.Cert.Cert.Raw
		}
		life := int64(v.Lifetime) * 1000
		if s.maxLifeMs >= 0 && life > s.maxLifeMs {
			life = s.maxLifeMs // Config.MaxLifetime: clamped, not refused
		}
		rec.Expires = nowMs + life
		if k.Model == wire.ModelArray && v.Value.Index == wire.ArrayAppendIndex {
			if w.next == wire.ArrayAppendIndex || int64(w.next) >= int64(k.MaxCount) {
				return protoErr(wire.ErrCodeDataTooLarge, nil, ErrTooLarge, "kind %v value %d: append past max-count %d", k.ID, i, k.MaxCount)
			}
			rec.Data.Value.Index = w.next
		}
		key := string(Key(&rec.Data.Value))
		old, stored, err := s.old(w, res, key, nowMs)
		if err != nil {
			return err
		}
		if shared {
			if err := s.checkShared(k, res, i, &rec.Data.Value, signer, from, replica, old, acl); err != nil {
				return err
			}
		}
		if old != nil {
			switch {
			case rec.Data.StorageTime < old.Data.StorageTime:
				return protoErr(wire.ErrCodeDataTooOld, nil, ErrTooOld, "kind %v value %d: storage_time %d, stored %d", k.ID, i, rec.Data.StorageTime, old.Data.StorageTime)
			case rec.Data.StorageTime == old.Data.StorageTime:
				if sameValue(&rec.Data, &old.Data) {
					continue // a repeated Store: nothing changes
				}
				return protoErr(wire.ErrCodeDataTooOld, nil, ErrTooOld, "kind %v value %d: storage_time %d equals stored", k.ID, i, rec.Data.StorageTime)
			}
		}
		if !stored {
			w.count++
		}
		w.pending[key] = rec
		if k.Model == wire.ModelArray && rec.Data.Value.Index >= w.next {
			w.next = rec.Data.Value.Index + 1
		}
		w.written = append(w.written, rec)
	}
	// Nonexistent values count: storing nodes "MUST treat these
	// nonexistent values the same way they treat any other stored value"
	// (§7.4.1.3), and they would otherwise be an unbounded store. So do
	// expired values until Expire removes them.
	if len(w.written) > 0 {
		if n := w.count; n > k.MaxCount {
			return protoErr(wire.ErrCodeDataTooLarge, nil, ErrTooLarge, "kind %v: %d values, max-count %d", k.ID, n, k.MaxCount)
		}
	}
	// Several values with one key: only the last is stored.
	w.written = dedupWritten(w.written)
	return nil
}

// dedupWritten keeps, of records with the same key, the last.
func dedupWritten(recs []*Record) []*Record {
	if len(recs) < 2 {
		return recs
	}
	out := recs[:0]
	for i, r := range recs {
		later := false
		for _, q := range recs[i+1:] {
			if CompareValues(&r.Data.Value, &q.Data.Value) == 0 {
				later = true
				break
			}
		}
		if !later {
			out = append(out, r)
		}
	}
	return out
}

// sameValue reports whether two StoredData with the same key and storage
// time carry the same value. The signatures may differ (ECDSA signatures
// of the same input do); both have been verified.
func sameValue(a, b *wire.StoredData) bool {
	return a.Value.Value.Exists == b.Value.Value.Exists && bytes.Equal(a.Value.Value.Value, b.Value.Value.Value)
}

// verify checks the signature of v. A signer certificate that is neither
// in certs nor cached is looked for among the certificates this peer
// stores (CERTIFICATE_BY_NODE/USER) before giving up with the
// *security.CertificateNeededError.
func (s *Store) verify(res wire.ResourceID, kind wire.KindID, v *wire.StoredData, certs []wire.GenericCertificate, now time.Time) (security.Signer, error) {
	var err error
	s.buf, err = SignatureInput(s.buf[:0], &v.Value)
	if err != nil {
		return security.Signer{}, protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "kind %v: %v", kind, err)
	}
	return s.verifyInput(res, kind, v, s.buf, certs, now, s.localCertificate)
}

// verifyInput checks the signature of v, whose signature input (see
// SignatureInput) is input. A signer certificate that is neither in certs
// nor cached is looked for with local among the certificates this peer
// stores (CERTIFICATE_BY_NODE/USER) before giving up with the
// *security.CertificateNeededError.
func (s *Store) verifyInput(res wire.ResourceID, kind wire.KindID, v *wire.StoredData, input []byte, certs []wire.GenericCertificate, now time.Time,
	local func(*wire.SignerIdentity, time.Time) ([]byte, bool, error)) (security.Signer, error) {
	signer, err := s.verifier.VerifyData(res, uint32(kind), v.StorageTime, input, &v.Signature, certs, security.Expect{}, now)
	var need *security.CertificateNeededError
	if !errors.As(err, &need) {
		return signer, err
	}
	der, ok, lerr := local(&need.Identity, now)
	if lerr != nil || !ok {
		return signer, err
	}
	if _, aerr := s.verifier.AddCertificate([][]byte{der}, now); aerr != nil {
		return signer, err
	}
	return s.verifier.VerifyData(res, uint32(kind), v.StorageTime, input, &v.Signature, certs, security.Expect{}, now)
}

// outgoing is r's StoredData as sent on to another peer at now: the
// lifetime lowered by the time it spent here (RFC 6940 §7.4.1.1).
func outgoing(r *Record, nowMs int64) wire.StoredData {
	d := r.Data
	d.Lifetime = remaining(r, nowMs)
	return d
}

func appendCert(certs [][]byte, der []byte) [][]byte {
	if len(der) == 0 {
		return certs
	}
	for _, c := range certs {
		if bytes.Equal(c, der) {
			return certs
		}
	}
	return append(certs, der)
}

func genericCerts(ders [][]byte) []wire.GenericCertificate {
	if len(ders) == 0 {
		return nil
	}
	out := make([]wire.GenericCertificate, len(ders))
	for i, d := range ders {
		out[i] = wire.GenericCertificate{Type: wire.CertX509, Certificate: d}
	}
	return out
}

// String describes the Store for logs.
func (s *Store) String() string { return fmt.Sprintf("storage.Store(%d kinds)", len(s.kinds.m)) }
