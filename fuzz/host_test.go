package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// The stateful targets below decode their input into a sequence of
// events for one deterministic host (package host) over a real chord
// (RFC 6940 §10) and real storage (§7) with real signatures: requests
// from authenticated neighbours and clients (every method the host
// handles, well formed but hostile), answers and failures of the host's
// own requests, links that come up and go down, and time. After every
// event the ring invariants of chord are checked, every delivered request
// must have exactly one answer, and the host's outstanding requests stay
// bounded; at the end every stored value is fetched and its signature
// verified by an independent store.

// fixture is what every input shares: the PKI, the identities of the
// other nodes and their pre-signed values (key generation and signing
// are too slow to repeat per input).
type fixture struct {
	kinds *storage.KindTable
	pki   *st.PKI
	// ids are the other nodes; ids[i] signs as nodes[i].
	ids   []*security.Identity
	nodes []wire.NodeID
	// pool is every Node-ID a hostile message may name: the others,
	// this node, a near neighbour, the wildcard-like extremes and a
	// Node-ID of the wrong length.
	pool []wire.NodeID
	// values are StoredData signed by ids[signer] for (res, kind).
	values []signedValue
	// slot lists the values of each (res, kind) and plain all values,
	// without those stored far ahead of the clock.
	slot  map[string][]int
	plain []int
}

type signedValue struct {
	signer int
	res    wire.ResourceID
	kind   wire.KindID
	sd     wire.StoredData
}

// selfID is the fuzzed node's Node-ID.
var selfID = prefixed(0x80)

func prefixed(b byte) wire.NodeID {
	x := make([]byte, 16)
	x[0] = b
	x[15] = b ^ 0x5a
	return wire.MustNodeID(x)
}

var (
	fixOnce sync.Once
	fix     *fixture
)

func loadFixture(tb testing.TB) *fixture {
	fixOnce.Do(func() { fix = newFixture(tb) })
	if fix == nil {
		tb.Fatal("fixture failed")
	}
	return fix
}

func userOf(i int) string { return fmt.Sprintf("user%d@%s", i, st.Overlay) }

func newFixture(tb testing.TB) *fixture {
	f := &fixture{kinds: st.Kinds(tb), pki: st.NewPKI(tb)}
	// Peers around the ring, one right after this node, and a client.
	for i, b := range []byte{0x10, 0x40, 0x7f, 0x81, 0x90, 0xc0, 0xf0, 0x30} {
		n := prefixed(b)
		f.nodes = append(f.nodes, n)
		f.ids = append(f.ids, f.pki.Identity(tb, userOf(i), n))
	}
	f.pool = append(slices.Clone(f.nodes), selfID, prefixed(0x00), prefixed(0xff),
		wire.MustNodeID(bytes.Repeat([]byte{0xee}, 20)), topology.Add(selfID, prefixed(0x00)))
	t0 := st.Millis(st.Now)
	for i, id := range f.ids {
		user := storage.UserResourceID(storage.ChordHash, userOf(i))
		nid := id.NodeID()
		node := storage.NodeResourceID(storage.ChordHash, nid)
		for _, stime := range []uint64{t0, t0 + 5000, t0 + 365*24*3600*1000} {
			add := func(res wire.ResourceID, kind wire.KindID, lifetime uint32, v wire.StoredDataValue) {
				f.values = append(f.values, signedValue{i, res, kind, st.Signed(tb, id, res, kind, stime, lifetime, v)})
			}
			add(user, st.KindSmall, 60, st.Single("v"+userOf(i)[:5]))
			add(user, st.KindList, 600, st.Array(wire.ArrayAppendIndex, "a"))
			add(user, st.KindList, 600, st.Array(2, "b"))
			add(user, st.KindDict, 3600, st.Dict([]byte("k"), "v"))
			add(user, st.KindDict, 0, wire.StoredDataValue{Model: wire.ModelDictionary, Key: []byte("k")})
			add(user, wire.KindSIPRegistration, 3600, st.Dict(nid.Bytes(), "sip:u@192.0.2.1"))
			add(node, st.KindNodeDict, 120, st.Dict([]byte("n"), "node"))
			add(node, wire.KindCertificateByNode, 86400, st.Array(0, "cert"))
		}
	}
	f.slot = map[string][]int{}
	for i, v := range f.values {
		if v.sd.StorageTime > t0+5000 {
			continue // far ahead: reached through the other values only
		}
		f.plain = append(f.plain, i)
		k := slotKey(v.res, v.kind)
		f.slot[k] = append(f.slot[k], i)
	}
	return f
}

// reader hands out the fuzz input; past its end it yields zeros.
type reader struct{ b []byte }

func (r *reader) more() bool { return len(r.b) > 0 }

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

func (r *reader) u64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(r.byte())
	}
	return v
}

func (r *reader) pick(n int) int { return int(r.byte()) % n }

func (r *reader) bytes(max int) []byte {
	n := min(int(r.byte())%(max+1), len(r.b))
	b := slices.Clone(r.b[:n])
	r.b = r.b[n:]
	return b
}

// Limits the invariants hold the host to.
const (
	maxEvents = 200
	// maxPending bounds the host's outstanding requests. The driver
	// gives up on a request after reqLifetime (the transaction layer's
	// role, RFC 6940 §6.2.1), so only what the last reqLifetime sent is
	// outstanding.
	maxPending  = 256
	reqLifetime = 30 * time.Second
	// maxClock keeps virtual time within the test certificates'
	// validity.
	maxClock = 12 * time.Hour
)

type sent struct {
	m  host.Message
	at time.Time
}

// world is one fuzzed host and its driver.
type world struct {
	t   testing.TB
	f   *fixture
	h   *host.Host
	c   *chord.Chord
	cfg chord.Config
	now time.Time
	out []sent // the host's outstanding requests and Attaches
	tok uint64 // tokens of delivered requests
	// answers counts the answers per delivered token.
	answers map[uint64]int
	codes   map[uint64]wire.MessageCode
	// checker verifies stored values independently of the host's store.
	checker *storage.Store
	stats   *runStats
}

type runStats struct{ delivered, answered, stored, failed int }

func newWorld(t testing.TB, f *fixture, mode byte) *world {
	// Modes 0 to 4 below; half the inputs start as the first peer, which
	// is responsible for every resource, so that Stores reach the rules.
	if mode %= 8; mode > 4 {
		mode = 0
	}
	w := &world{t: t, f: f, now: st.Now, answers: map[uint64]int{}, codes: map[uint64]wire.MessageCode{}, stats: &runStats{}}
	var err error
	w.checker, err = storage.New(storage.Config{Kinds: f.kinds, Backend: mem.New(), Verifier: f.pki.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = chord.DefaultConfig(selfID, rand.New(rand.NewPCG(uint64(mode), 7)))
	w.cfg.HostTimeouts = true
	w.cfg.Client = mode == 2
	// The limits the invariants check, explicit (chord's defaults).
	w.cfg.Successors, w.cfg.Predecessors, w.cfg.Fingers = chord.DefaultSuccessors, chord.DefaultPredecessors, chord.DefaultFingers
	w.cfg.TickLength = chord.DefaultTickLength
	c, err := chord.New(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	w.h, err = host.New(host.Config{Plugin: c, Kinds: f.kinds, Backend: mem.New(), Verifier: f.pki.Verifier(),
		Clock: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	w.drain()
	switch mode {
	case 0: // the first peer of an overlay
		_ = w.h.Start()
	case 1, 2: // a peer or client joining through a bootstrap peer
		w.h.LinkUp(f.nodes[0])
		_ = w.h.Join(f.nodes[0])
	case 3: // idle: never started
	case 4: // a peer with neighbours that joined through it
		_ = w.h.Start()
		// Its successors join: it stays responsible for most of the
		// ring, (0xf0…, 0x80…].
		for i := 3; i < 7; i++ {
			w.h.LinkUp(f.nodes[i])
			w.drain()
			jb, _ := (&wire.JoinReq{JoiningPeerID: f.nodes[i]}).Append(nil)
			w.deliver(i, wire.CodeJoinReq, jb, nil)
			w.answerAll()
		}
	}
	w.drain()
	return w
}

// requester is ids[i] as the verified signer of a request, carrying the
// certificates of the identities in certs.
func (w *world) requester(i int, certs []int) storage.Requester {
	id := w.f.ids[i]
	r := storage.Requester{Signer: security.Signer{NodeID: id.NodeID(), Cert: id.Cert}}
	for _, c := range certs {
		r.Certificates = append(r.Certificates, w.f.ids[c].Certificates()...)
	}
	return r
}

// deliver hands the host a request from ids[from] carrying the
// certificates of certs (its own when nil) and returns the code of its
// one answer.
func (w *world) deliver(from int, code wire.MessageCode, body []byte, certs []int) wire.MessageCode {
	if certs == nil {
		certs = []int{from}
	}
	return w.deliverAs(w.requester(from, certs), code, body)
}

func (w *world) deliverAs(rq storage.Requester, code wire.MessageCode, body []byte) wire.MessageCode {
	w.tok++
	w.stats.delivered++
	tok := w.tok
	w.h.Deliver(host.Request{Token: tok, Code: code, Body: body, From: rq})
	w.drain()
	if n := w.answers[tok]; n != 1 {
		w.t.Fatalf("%v request got %d answers, want 1", code, n)
	}
	delete(w.answers, tok)
	c := w.codes[tok]
	delete(w.codes, tok)
	return c
}

// drain carries out the host's Ready: it records the requests and checks
// the answers.
func (w *world) drain() {
	for w.h.HasReady() {
		rd := w.h.Ready()
		for _, m := range rd.Messages {
			if m.Token == 0 {
				w.t.Fatalf("message %v without a token", m.Code)
			}
			w.out = append(w.out, sent{m, w.now})
		}
		for _, a := range rd.Answers {
			if a.Token == 0 || a.Token > w.tok {
				w.t.Fatalf("answer %v for token %d, never delivered", a.Code, a.Token)
			}
			w.answers[a.Token]++
			w.codes[a.Token] = a.Code
			w.stats.answered++
			if a.Code == wire.CodeError {
				var er wire.ErrorResponse
				if _, err := er.Decode(a.Body); err != nil {
					w.t.Fatalf("error answer does not decode: %v", err)
				}
			}
		}
		w.h.Advance()
	}
}

// answerAll answers every outstanding request as a cooperative peer
// would.
func (w *world) answerAll() {
	for range 8 {
		if len(w.out) == 0 {
			return
		}
		outs := w.out
		w.out = nil
		for _, s := range outs {
			w.reply(s.m, 0, w.to(s.m, 0))
		}
	}
}

// to is the peer that answers m: its target, or a pool peer.
func (w *world) to(m host.Message, choice byte) wire.NodeID {
	if !m.To.IsZero() && choice%4 != 3 {
		return m.To
	}
	return w.f.nodes[int(choice)%len(w.f.nodes)]
}

// reply answers m: how selects the proper answer, an error, a wrong
// answer or a failure.
func (w *world) reply(m host.Message, how byte, from wire.NodeID) {
	if m.Attach {
		if how%5 == 4 {
			w.h.Failed(m.Token, errors.New("attach failed"))
		} else {
			w.h.Attached(m.Token, from)
		}
		w.drain()
		return
	}
	var code wire.MessageCode
	var body []byte
	switch how % 6 {
	case 0, 1: // the proper answer
		code = m.Code + 1
		switch m.Code {
		case wire.CodeJoinReq:
			body, _ = (&wire.JoinAns{}).Append(nil)
		case wire.CodeRouteQueryReq:
			body, _ = (&wire.ChordRouteQueryAns{NextPeer: w.f.pool[int(how/6)%len(w.f.pool)]}).Append(nil)
		case wire.CodePingReq:
			body, _ = (&wire.PingAns{ResponseID: uint64(how), Time: uint64(w.now.UnixMilli())}).Append(nil)
		case wire.CodeProbeReq:
			body, _ = (&wire.ProbeAns{}).Append(nil)
		case wire.CodeStoreReq:
			body, _ = (&wire.StoreAns{}).Append(nil)
		}
	case 2: // an error answer
		code = wire.CodeError
		codes := []wire.ErrorCode{wire.ErrCodeRequestTimeout, wire.ErrCodeForbidden, wire.ErrCodeNotFound,
			wire.ErrCodeInvalidMessage, wire.ErrCodeDataTooOld, wire.ErrCodeGenerationCounterTooLow}
		body, _ = (&wire.ErrorResponse{Code: codes[int(how/6)%len(codes)]}).Append(nil)
	case 3: // an answer of the wrong method, with a body that decodes as something
		code = wire.CodeUpdateAns
		body = []byte{0, 0}
	case 4: // no answer: the transaction layer gives up
		w.stats.failed++
		w.h.Failed(m.Token, errors.New("request timed out"))
		w.drain()
		return
	case 5: // an answer with a garbage body
		code = m.Code + 1
		body = []byte{byte(how), 0xff, 0xff}
	}
	w.h.Answered(m.Token, from, code, body)
	w.drain()
}

// expire fails the requests older than the transaction layer's limit.
func (w *world) expire() {
	var keep, old []sent
	for _, s := range w.out {
		if w.now.Sub(s.at) >= reqLifetime {
			old = append(old, s)
		} else {
			keep = append(keep, s)
		}
	}
	w.out = keep
	for _, s := range old {
		w.stats.failed++
		w.h.Failed(s.m.Token, errors.New("request timed out"))
		w.drain()
	}
}

func (w *world) tick(n int) {
	for range n {
		w.now = w.now.Add(w.cfg.TickLength)
		w.h.Tick()
		w.drain()
		w.expire()
	}
}

// nodeIDs reads a list of Node-IDs from the pool: a few, or (rarely) a
// huge list that still fits a message.
func (w *world) nodeIDs(r *reader) []wire.NodeID {
	n := r.pick(7)
	if n == 6 {
		n = 32 + int(r.byte())
	}
	out := make([]wire.NodeID, n)
	for i := range out {
		out[i] = w.f.pool[r.pick(len(w.f.pool))]
	}
	return out
}

// topologyBody builds a hostile topology request body.
func (w *world) topologyBody(r *reader) (wire.MessageCode, []byte) {
	var b []byte
	switch r.pick(6) {
	case 0:
		u := wire.ChordUpdate{Uptime: uint32(r.u16()), Type: wire.ChordUpdateType(r.pick(5)),
			Predecessors: w.nodeIDs(r), Successors: w.nodeIDs(r), Fingers: w.nodeIDs(r)}
		b, _ = u.Append(nil)
		return wire.CodeUpdateReq, b
	case 1:
		b, _ = (&wire.JoinReq{JoiningPeerID: w.f.pool[r.pick(len(w.f.pool))], OverlaySpecificData: r.bytes(4)}).Append(nil)
		return wire.CodeJoinReq, b
	case 2:
		ld := wire.ChordLeaveData{Type: wire.ChordLeaveType(r.pick(4)), Successors: w.nodeIDs(r), Predecessors: w.nodeIDs(r)}
		ldb, _ := ld.Append(nil)
		b, _ = (&wire.LeaveReq{LeavingPeerID: w.f.pool[r.pick(len(w.f.pool))], OverlaySpecificData: ldb}).Append(nil)
		return wire.CodeLeaveReq, b
	case 3:
		var d wire.Destination
		switch r.pick(3) {
		case 0:
			id := w.f.pool[r.pick(len(w.f.pool))]
			d = wire.NodeDest(&id)
		case 1:
			d = wire.ResourceDest(wire.ResourceID(r.bytes(20)))
		default:
			d = wire.CompressedDest(r.u16())
		}
		b, _ = (&wire.RouteQueryReq{SendUpdate: r.byte()&1 == 1, Destination: d, OverlaySpecificData: r.bytes(4)}).Append(nil)
		return wire.CodeRouteQueryReq, b
	case 4:
		var info []wire.ProbeInformationType
		for range int(r.byte()) {
			info = append(info, wire.ProbeInformationType(r.pick(6)))
		}
		b, _ = (&wire.ProbeReq{RequestedInfo: info}).Append(nil)
		return wire.CodeProbeReq, b
	}
	codes := []wire.MessageCode{wire.CodeUpdateReq, wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeRouteQueryReq, wire.CodeProbeReq}
	return codes[r.pick(len(codes))], r.bytes(64)
}

// storeBody builds a StoreReq of pre-signed values, some forged: a value
// changed after signing, moved to another resource, its storage time
// changed, or replayed with an older storage time.
func (w *world) storeBody(r *reader) (signer int, body []byte) {
	first := w.f.values[w.f.plain[int(r.u16())%len(w.f.plain)]]
	req := wire.StoreReq{Resource: first.res}
	if r.pick(8) == 7 {
		req.ReplicaNumber = 1 + r.byte()%2
	}
	if r.pick(8) == 7 {
		req.Resource = w.f.values[int(r.u16())%len(w.f.values)].res
	}
	same := w.f.slot[slotKey(first.res, first.kind)]
	nkinds := 1
	if r.pick(8) == 7 {
		nkinds = 2 // the same Kind twice, or another (unknown) one
	}
	for range nkinds {
		kd := wire.StoreKindData{Kind: first.kind}
		switch r.pick(32) {
		case 31:
			kd.Generation = r.u64()
		case 28, 29, 30:
			kd.Generation = uint64(r.pick(4))
		case 27:
			kd.Kind = wire.KindID(r.pick(8)) | 0xf0000000
		}
		nv := 1 + r.pick(4)
		if r.pick(16) == 15 {
			nv = 1 + r.pick(48) // more than most Kinds' max-count
		}
		for range nv {
			// Mostly values of the slot, sometimes of any other.
			v := w.f.values[same[r.pick(len(same))]]
			if r.pick(32) == 31 {
				v = w.f.values[int(r.u16())%len(w.f.values)]
			}
			sd := v.sd
			sd.Value.Value.Value = slices.Clone(sd.Value.Value.Value)
			// Input past its end (zeros) is the benign choice.
			switch r.pick(12) {
			case 6: // tampered after signing
				if len(sd.Value.Value.Value) > 0 {
					sd.Value.Value.Value[0] ^= 1
				}
			case 7: // storage time changed
				sd.StorageTime += uint64(r.u16())
			case 8: // replayed older copy
				sd.StorageTime -= uint64(r.byte())
			case 9: // lifetime is not signed: any
				sd.Lifetime = uint32(r.u16()) << uint(r.pick(16))
			case 10: // array index is not signed (§7.1)
				if sd.Value.Model == wire.ModelArray {
					sd.Value.Index = uint32(r.u16())
				}
			case 11: // the signature names another signer
				sd.Signature.Identity = w.f.values[int(r.u16())%len(w.f.values)].sd.Signature.Identity
			}
			kd.Values = append(kd.Values, sd)
		}
		req.KindData = append(req.KindData, kd)
	}
	b, err := req.Append(nil)
	if err != nil {
		w.t.Fatalf("StoreReq does not encode: %v", err)
	}
	return first.signer, b
}

func slotKey(res wire.ResourceID, kind wire.KindID) string {
	return fmt.Sprintf("%x/%d", []byte(res), kind)
}

// fetchBody builds a Fetch, Stat or Find of the resources in play.
func (w *world) fetchBody(r *reader) (wire.MessageCode, []byte) {
	v := w.f.values[int(r.u16())%len(w.f.values)]
	res := v.res
	if r.byte()&7 == 0 {
		res = wire.ResourceID(r.bytes(20))
	}
	if r.byte()&3 == 0 {
		b, _ := (&wire.FindReq{Resource: res, Kinds: []wire.KindID{v.kind, st.KindList}}).Append(nil)
		return wire.CodeFindReq, b
	}
	k, _ := w.f.kinds.Lookup(v.kind)
	spec := wire.StoredDataSpecifier{Kind: v.kind, Model: k.Model, Generation: uint64(r.pick(3))}
	switch k.Model {
	case wire.ModelArray:
		spec.Indices = []wire.ArrayRange{{First: uint32(r.u16()), Last: uint32(r.u16()) << uint(r.pick(17))}}
	case wire.ModelDictionary:
		if r.byte()&1 == 0 {
			spec.Keys = []wire.DictionaryKey{r.bytes(16)}
		}
	}
	req := wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec}}
	if r.byte()&1 == 0 {
		b, _ := (*wire.StatReq)(&req).Append(nil)
		return wire.CodeStatReq, b
	}
	b, _ := req.Append(nil)
	return wire.CodeFetchReq, b
}

// step decodes one event from r and gives it to the host.
func (w *world) step(r *reader, ops []byte) {
	op := ops[r.pick(len(ops))]
	from := r.pick(len(w.f.ids))
	switch op {
	case 'u': // a link comes up
		w.h.LinkUp(w.f.pool[r.pick(len(w.f.pool))])
	case 'd': // a link goes down
		w.h.LinkDown(w.f.pool[r.pick(len(w.f.pool))])
	case 'T': // a topology request
		code, b := w.topologyBody(r)
		w.deliver(from, code, b, nil)
	case 'S': // a Store; the certificates carried vary
		signer, b := w.storeBody(r)
		if r.byte()&3 != 3 {
			from = signer // the values' signer stores them itself
		}
		certs := []int{from}
		switch r.pick(4) {
		case 2:
			certs = nil
			for i := range w.f.ids {
				certs = append(certs, i)
			}
		case 3:
			certs = []int{from} // a request signer's own only
			if from == signer {
				certs = []int{(from + 1) % len(w.f.ids)} // none that fits
			}
		}
		if w.deliver(from, wire.CodeStoreReq, b, certs) == wire.CodeStoreAns {
			// What a successful Store left must verify at once: a
			// later Store could replace a forged value before the
			// final audit sees it.
			w.stats.stored++
			w.audit()
		}
	case 'F': // a Fetch, Stat or Find
		code, b := w.fetchBody(r)
		w.deliver(from, code, b, nil)
	case 'x': // a request this host does not handle itself
		codes := []wire.MessageCode{wire.CodeAttachReq, wire.CodePingReq, wire.CodeAppAttachReq, wire.CodeConfigUpdateReq, wire.MessageCode(r.u16())}
		w.deliver(from, codes[r.pick(len(codes))], r.bytes(32), nil)
	case 'a': // an answer to (or the failure of) an outstanding request
		if len(w.out) == 0 {
			return
		}
		i := r.pick(len(w.out))
		s := w.out[i]
		w.out = slices.Delete(w.out, i, i+1)
		how, choice := r.byte(), r.byte()
		w.reply(s.m, how, w.to(s.m, choice))
	case 'A': // every outstanding request answered properly
		w.answerAll()
	case 'z': // an answer for a token that is not outstanding
		w.h.Answered(r.u64()%(w.tok+64), w.f.pool[r.pick(len(w.f.pool))], wire.CodeUpdateAns, nil)
		w.h.Failed(r.u64()%(w.tok+64), errors.New("stale"))
		w.drain()
	case 't': // a few ticks
		w.tick(1 + r.pick(40))
	case 'j': // a jump of the clock (values expire), one tick
		d := time.Duration(r.u16()) * time.Second
		w.now = w.now.Add(min(d, st.Now.Add(maxClock).Sub(w.now)))
		w.tick(1)
	case 'L': // the application leaves, or joins again
		if r.byte()&1 == 0 {
			_ = w.h.Leave()
		} else {
			_ = w.h.Join(w.f.nodes[r.pick(len(w.f.nodes))])
		}
	}
	w.drain()
	w.check()
}

// check asserts the invariants that hold after every event.
func (w *world) check() {
	t := w.t
	c := w.c
	ringCheck := func(name string, set []wire.NodeID, max int, dist func(wire.NodeID) wire.NodeID) {
		if len(set) > max {
			t.Fatalf("%s: %d entries, limit %d", name, len(set), max)
		}
		for i, n := range set {
			if n == selfID {
				t.Fatalf("%s: this node is its own neighbour: %v", name, set)
			}
			if !n.Valid() || n.Len() != selfID.Len() {
				t.Fatalf("%s: invalid Node-ID %v", name, n)
			}
			// §10.7.1: successors in clockwise order from this node,
			// predecessors counter-clockwise, distinct.
			if i > 0 && dist(set[i-1]).Compare(dist(n)) >= 0 {
				t.Fatalf("%s not sorted and distinct: %v", name, set)
			}
		}
	}
	ringCheck("successors", c.Successors(), w.cfg.Successors, func(n wire.NodeID) wire.NodeID { return topology.Sub(n, selfID) })
	ringCheck("predecessors", c.Predecessors(), w.cfg.Predecessors, func(n wire.NodeID) wire.NodeID { return topology.Sub(selfID, n) })
	if ft := c.FingerTable(); len(ft) > w.cfg.Fingers {
		t.Fatalf("finger table: %d entries, limit %d", len(ft), w.cfg.Fingers)
	}
	for _, n := range c.Fingers() {
		if n == selfID || !n.Valid() || n.Len() != selfID.Len() {
			t.Fatalf("bad finger %v", n)
		}
	}
	if w.cfg.Client && (len(c.Successors()) > 0 || len(c.Predecessors()) > 0) {
		t.Fatalf("a client has neighbours: %v %v", c.Successors(), c.Predecessors())
	}
	if p := w.h.Pending(); p > maxPending || len(w.out) > maxPending {
		t.Fatalf("%d requests outstanding (%d in the driver), limit %d", p, len(w.out), maxPending)
	}
}

// audit fetches every stored value and verifies it with a store of its
// own (a fresh verifier, no cache shared with the host's): storage must
// never hold a value whose signature fails or whose signer may not write
// it (RFC 6940 §7.1, §7.3), nor more values in a slot than its Kind
// allows.
func (w *world) audit() {
	t := w.t
	b := w.h.Store().Backend()
	type slot struct {
		res  wire.ResourceID
		kind wire.KindID
		gen  uint64
	}
	var slots []slot
	_ = b.Slots(func(res wire.ResourceID, kind wire.KindID, gen uint64) bool {
		slots = append(slots, slot{slices.Clone(res), kind, gen})
		return true
	})
	for _, s := range slots {
		k, ok := w.f.kinds.Lookup(s.kind)
		if !ok {
			t.Fatalf("slot of unknown kind %v stored", s.kind)
		}
		// Every record, whether or not this node is still responsible
		// for the resource, as a FetchAns with the certificates kept
		// beside the values.
		kr := wire.FetchKindResponse{Kind: s.kind, Generation: s.gen}
		var certs []wire.GenericCertificate
		_ = b.Scan(s.res, s.kind, func(rec *storage.Record) bool {
			kr.Values = append(kr.Values, rec.Data)
			if len(rec.Cert) > 0 {
				certs = append(certs, wire.GenericCertificate{Type: wire.CertX509, Certificate: rec.Cert})
			}
			return true
		})
		if len(kr.Values) > k.MaxCount {
			t.Fatalf("kind %v holds %d values at one resource, max-count %d", s.kind, len(kr.Values), k.MaxCount)
		}
		spec := wire.StoredDataSpecifier{Kind: s.kind, Model: k.Model}
		if k.Model == wire.ModelArray {
			spec.Indices = []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}
		}
		req := wire.FetchReq{Models: w.f.kinds, Resource: s.res, Specifiers: []wire.StoredDataSpecifier{spec}}
		ans := wire.FetchAns{KindResponses: []wire.FetchKindResponse{kr}}
		if bad := w.checker.VerifyFetch(&req, &ans, certs, w.now); len(bad) > 0 {
			t.Fatalf("stored value fails verification at %x: %v", []byte(s.res), bad)
		}
	}
}

// runHost runs one input: a mode byte, then events.
func runHost(t *testing.T, data []byte, ops []byte) {
	f := loadFixture(t)
	r := &reader{b: data}
	w := newWorld(t, f, r.byte())
	for i := 0; i < maxEvents && r.more(); i++ {
		w.step(r, ops)
	}
	w.tick(2)
	w.audit()
}

// hostOps are the events of FuzzHost: every kind of input.
var hostOps = []byte("uuddTTTTSSFFxaaaaaAztttjL")

// storeOps are the events of FuzzHostStorage: mostly storage requests,
// with enough time and topology to move responsibility.
var storeOps = []byte("SSSSSSSSFFFFjjtaAuTd")

// FuzzHost feeds sequences of hostile requests, answers, link changes
// and time to one host with real chord and storage (RFC 6940 §7, §10).
func FuzzHost(f *testing.F) {
	for _, s := range hostSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runHost(t, data, hostOps) })
}

// FuzzHostStorage is FuzzHost weighted towards Stores of forged, stale
// and replayed values with real signatures (RFC 6940 §7.1-§7.4).
func FuzzHostStorage(f *testing.F) {
	for _, s := range hostSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runHost(t, data, storeOps) })
}

// hostSeeds are inputs for each starting mode with a mix of events.
func hostSeeds() [][]byte {
	var out [][]byte
	rng := rand.New(rand.NewPCG(19, 4))
	for mode := range byte(5) {
		for n := range 3 {
			b := []byte{mode}
			for range 40 + 60*n {
				b = append(b, byte(rng.UintN(256)))
			}
			out = append(out, b)
		}
	}
	return out
}
