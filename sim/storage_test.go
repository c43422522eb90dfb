package sim

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// lifetime of every value stored: far beyond the simulated time.
const lifetime = 24 * 3600

// fakeVerifier accepts a signature whose value is "ok" followed by a user
// name and whose identity hash is a Node-ID: the signer is that Node-ID
// with a certificate for the user and the Node-ID. It is
// storagetest.FakeVerifier with a user per signature, so that USER-MATCH
// values can sit at many Resource-IDs.
type fakeVerifier struct{}

func (fakeVerifier) VerifyData(_ []byte, _ uint32, _ uint64, _ []byte, sig *wire.Signature, _ []wire.GenericCertificate, _ security.Expect, _ time.Time) (security.Signer, error) {
	user, ok := bytes.CutPrefix(sig.Value, []byte("ok"))
	if !ok || sig.Identity.Type != wire.IdentityCertHash {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: security.ErrBadSignature}
	}
	id, err := wire.NodeIDFromBytes(sig.Identity.Hash)
	if err != nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: security.ErrBadIdentity}
	}
	return fakeSigner(id, string(user)), nil
}

func (fakeVerifier) AddCertificate([][]byte, time.Time) (*security.NodeCert, error) {
	return nil, security.ErrUntrusted
}

func fakeSigner(id wire.NodeID, user string) security.Signer {
	return security.Signer{NodeID: id, Cert: &security.NodeCert{NodeIDs: []wire.NodeID{id}, User: user, NotAfter: st.Now.Add(48 * time.Hour)}}
}

// user is a storing identity: a user name with one Node-ID.
type user struct {
	name string
	node wire.NodeID
	id   *security.Identity // nil with fake signatures
}

func (u *user) requester() storage.Requester {
	if u.id == nil {
		return storage.Requester{Signer: fakeSigner(u.node, u.name)}
	}
	return st.Requester(u.id)
}

// sign signs sd for res and kind as u.
func (u *user) sign(tb testing.TB, res wire.ResourceID, kind wire.KindID, sd *wire.StoredData) {
	tb.Helper()
	if u.id == nil {
		sd.Signature = st.FakeSignature(u.node)
		sd.Signature.Value = append(sd.Signature.Value, u.name...)
		return
	}
	if err := storage.Sign(u.id, res, kind, sd); err != nil {
		tb.Fatal(err)
	}
}

// world is a simulation with the identities of its peers and users.
type world struct {
	s     *Sim
	pki   *st.PKI // nil with fake signatures
	peers map[wire.NodeID]*security.Identity
	users []*user
	vals  []Value
	reqs  []*wire.StoreReq
	by    []*user // the user of each request
}

// newWorld builds a ring of n peers and lets it converge. real gives
// every peer a certificate from the test PKI and a real Verifier.
func newWorld(t *testing.T, seed uint64, n int, real bool, adjust ...func(*Config)) *world {
	t.Helper()
	w := &world{peers: make(map[wire.NodeID]*security.Identity)}
	cfg := Config{Seed: seed, Kinds: st.Kinds(t), Rejoin: true, DropEvents: true}
	for _, f := range adjust {
		f(&cfg)
	}
	if real {
		w.pki = st.NewPKI(t)
		cfg.Verifier = func(wire.NodeID) storage.Verifier { return w.pki.Verifier() }
		cfg.Signer = func(id wire.NodeID) security.Signer {
			ident := w.pki.Identity(t, "", id)
			w.peers[id] = ident
			return security.Signer{NodeID: id, Cert: ident.Cert}
		}
	} else {
		cfg.Verifier = func(wire.NodeID) storage.Verifier { return fakeVerifier{} }
		cfg.Signer = func(id wire.NodeID) security.Signer { return fakeSigner(id, "") }
	}
	w.s = New(cfg)
	w.s.Grow(n, 1)
	w.settle(t, 20000)
	return w
}

// settle runs until the ring has converged.
func (w *world) settle(t *testing.T, max int64) {
	t.Helper()
	if !w.s.Settle(3, 3, max) {
		t.Fatalf("ring of %d did not converge by tick %d", len(w.s.Peers()), w.s.Now)
	}
}

// converged reports whether every live peer has the brute-force
// neighbour sets and none is joining.
func (w *world) converged() bool {
	ok, bad := w.s.Converged(3, 3)
	return bad == nil && ok > 0
}

// makeData creates nu users, each storing ten values of six Kinds and
// the three data models at three Resource-IDs (§7.3 policies):
//
//   - at H(user): KindSmall (single, USER-MATCH), three KindList entries
//     (array), three KindDict entries (dictionary), and a
//     SIP-REGISTRATION entry keyed by the user's Node-ID
//     (USER-NODE-MATCH);
//   - at H(Node-ID): a KindNodeDict entry (NODE-MATCH);
//   - at H(Node-ID || 1): a TURN-SERVICE value (NODE-MULTIPLE).
func (w *world) makeData(t *testing.T, nu int) {
	t.Helper()
	base := st.Millis(w.s.Time())
	for i := range nu {
		u := &user{name: fmt.Sprintf("user%d@%s", i, st.Overlay), node: w.s.RandomID()}
		if w.pki != nil {
			u.id = w.pki.Identity(t, u.name, u.node)
		}
		w.users = append(w.users, u)
		stime := base + uint64(i)
		h := storage.ChordHash
		type kv struct {
			kind wire.KindID
			vals []wire.StoredDataValue
		}
		turn := wire.TurnServer{Iteration: 1, ServerAddress: []byte{1, 6, 10, byte(i >> 8), byte(i), 1, 0x0d, 0x96}}
		turnBody, err := turn.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			res   wire.ResourceID
			kinds []kv
		}{
			{storage.UserResourceID(h, u.name), []kv{
				{st.KindSmall, []wire.StoredDataValue{st.Single(fmt.Sprintf("s%d", i))}},
				{st.KindList, []wire.StoredDataValue{st.Array(0, fmt.Sprintf("a%d.0", i)), st.Array(1, fmt.Sprintf("a%d.1", i)), st.Array(2, fmt.Sprintf("a%d.2", i))}},
				{st.KindDict, []wire.StoredDataValue{st.Dict([]byte("home"), "h"), st.Dict([]byte("work"), fmt.Sprint(i)), st.Dict([]byte("x"), "y")}},
				{wire.KindSIPRegistration, []wire.StoredDataValue{st.Dict(slices.Clone(u.node.Bytes()), fmt.Sprintf("sip:%d@example.org", i))}},
			}},
			{storage.NodeResourceID(h, u.node), []kv{{st.KindNodeDict, []wire.StoredDataValue{st.Dict([]byte("k"), fmt.Sprint(i))}}}},
			{storage.NodeMultipleResourceID(h, u.node, 1), []kv{{wire.KindTURNService, []wire.StoredDataValue{wire.SingleValue(turnBody)}}}},
		} {
			req := &wire.StoreReq{Resource: r.res}
			for _, k := range r.kinds {
				kd := wire.StoreKindData{Kind: k.kind}
				for _, v := range k.vals {
					sd := wire.StoredData{StorageTime: stime, Lifetime: lifetime, Value: v}
					u.sign(t, r.res, k.kind, &sd)
					kd.Values = append(kd.Values, sd)
					w.vals = append(w.vals, Value{Resource: r.res, Kind: k.kind, Data: sd})
				}
				req.KindData = append(req.KindData, kd)
			}
			w.reqs = append(w.reqs, req)
			w.by = append(w.by, u)
		}
	}
}

// storeAll sends every request from a random peer, perTick of them each
// tick, waits for the answers and checks that all succeeded.
func (w *world) storeAll(t *testing.T, perTick int) {
	t.Helper()
	live := w.s.Peers()
	ops := make([]*Op, len(w.reqs))
	for i, req := range w.reqs {
		op, err := w.s.Put(live[w.s.Rand.IntN(len(live))], req, w.by[i].requester())
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = op
		if (i+1)%perTick == 0 {
			w.s.Tick()
		}
	}
	if !w.s.RunUntil(1000, 1, func() bool {
		return !slices.ContainsFunc(ops, func(op *Op) bool { return !op.Done && !op.Lost })
	}) {
		t.Fatal("original Stores not answered")
	}
	for i, op := range ops {
		if op.Lost || op.Code != wire.CodeStoreAns {
			t.Fatalf("store %d at %x: lost %v, code %v, error %v", i, []byte(w.reqs[i].Resource), op.Lost, op.Code, op.Err)
		}
	}
}

// replicate runs until every value is at its responsible peer and the
// next two, and returns the ticks it took.
func (w *world) replicate(t *testing.T, max int64) int64 {
	t.Helper()
	t0 := w.s.Now
	var rep AuditReport
	if !w.s.RunUntil(max, 10, func() bool {
		rep = w.s.Audit(w.vals)
		return rep.OK() && w.converged()
	}) {
		t.Fatalf("tick %d: not converged: %v; %q", w.s.Now, rep, rep.Examples)
	}
	return w.s.Now - t0
}

// check asserts that nothing is lost: in the backends and by Fetch.
func (w *world) check(t *testing.T, what string) AuditReport {
	t.Helper()
	rep := w.s.Audit(w.vals)
	if !rep.OK() {
		t.Errorf("%s: %v; %q", what, rep, rep.Examples)
	}
	fr := w.s.FetchAll(w.vals, 500)
	if fr.Found != fr.Values || fr.Answered != fr.Fetches {
		t.Errorf("%s: fetch: %v; %q", what, fr, fr.Examples)
	}
	t.Logf("%s: %v; %v", what, rep, fr)
	return rep
}

func (w *world) logStores(t *testing.T, what string, before Stats) {
	t.Helper()
	line := func(name string, a, b StoreStats) {
		if a.Sent == b.Sent {
			return
		}
		failed := 0
		for _, n := range a.Failed {
			failed += n
		}
		for _, n := range b.Failed {
			failed -= n
		}
		t.Logf("%s: %-12v Stores %6d (%8d bytes, %6d values): %d ok, %d failed, %d lost, %d unanswered; %d refused",
			what, name, a.Sent-b.Sent, a.Bytes-b.Bytes, a.Values-b.Values, a.OK-b.OK, failed, a.Lost-b.Lost, a.Unanswered-b.Unanswered, a.Refused-b.Refused)
	}
	line("original", w.s.Stats.Puts, before.Puts)
	for p := host.Replica; p < host.NumPurposes; p++ {
		line(p.String(), w.s.Stats.Stores[p], before.Stores[p])
	}
}

// snapshot copies s, its per-code failure counts summed into one.
func snapshot(s Stats) Stats {
	c := s
	sum := func(m map[wire.ErrorCode]int) map[wire.ErrorCode]int {
		out := map[wire.ErrorCode]int{}
		for _, n := range m {
			out[0] += n
		}
		return out
	}
	for p := range c.Stores {
		c.Stores[p].Failed = sum(s.Stores[p].Failed)
	}
	c.Puts.Failed = sum(s.Puts.Failed)
	c.ByCode = nil
	return c
}

func handover(a, b Stats) (sent, bytes, values int) {
	s1, b1, v1 := a.HandoverStores()
	s0, b0, v0 := b.HandoverStores()
	return s1 - s0, b1 - b0, v1 - v0
}

// stored builds a 100-peer ring holding 10,000 replicated values (1,000
// users, 3,000 Resource-IDs).
func stored(t *testing.T, seed uint64, real bool, adjust ...func(*Config)) *world {
	t.Helper()
	start := time.Now()
	w := newWorld(t, seed, 100, real, adjust...)
	w.makeData(t, 1000)
	t.Logf("ring of %d converged at tick %d; %d values at %d Resource-IDs prepared (%v)",
		len(w.s.Peers()), w.s.Now, len(w.vals), len(w.reqs), time.Since(start).Round(time.Millisecond))
	before := snapshot(w.s.Stats)
	t0 := w.s.Now
	w.storeAll(t, 30)
	w.replicate(t, 2000)
	t.Logf("stored %d values with %d Stores; every value on 3 peers %d ticks after the first Store (checked every 10; %v)",
		len(w.vals), len(w.reqs), w.s.Now-t0, time.Since(start).Round(time.Millisecond))
	w.logStores(t, "store", before)
	n, data, certs := w.s.ValueBytes()
	t.Logf("memory: %d copies: %.0f bytes of encoded StoredData and %.0f bytes of signer certificate per copy",
		n, float64(data)/float64(n), float64(certs)/float64(n))
	return w
}

// TestFailTwoSuccessors_Sec10_4_Sec10_7_1: 10,000 values stored from
// random peers of a 100-peer ring, with their replicas on the two
// successors of the responsible peer (§10.4). Then ten pairs of adjacent
// peers crash at once, each pair the responsible peer's both replicas
// for the keys of its predecessor; the ring repairs itself (§10.7.1) and
// the handover Stores (range gained, replica set changed, §10.7.3) put
// every value back on three live peers. No value is lost: each is
// fetched from its responsible peer with its content and signature.
func TestFailTwoSuccessors_Sec10_4_Sec10_7_1(t *testing.T) {
	start := time.Now()
	w := stored(t, 1, true)
	w.check(t, "before failures")

	ring := slices.Clone(w.s.Peers())
	off := w.s.Rand.IntN(len(ring))
	var killed []wire.NodeID
	for i := 0; i+1 < len(ring); i += len(ring) / 10 {
		a, b := ring[(off+i)%len(ring)], ring[(off+i+1)%len(ring)]
		killed = append(killed, a, b)
	}
	before := snapshot(w.s.Stats)
	t0 := w.s.Now
	for _, id := range killed {
		w.s.Fail(id)
	}
	ticks := w.replicate(t, 5000)
	t.Logf("%d peers (%d adjacent pairs) failed: ring repaired and every value on 3 live peers after %d ticks (%v)",
		len(killed), len(killed)/2, ticks, time.Duration(ticks)*w.s.TickLength())
	_ = t0
	w.logStores(t, "failures", before)
	sent, by, vals := handover(w.s.Stats, before)
	t.Logf("handover after failures: %d Stores, %d bytes, %d values", sent, by, vals)
	w.check(t, "after failures")
	if len(w.s.Errors) > 0 {
		t.Errorf("storage errors: %v", w.s.Errors[:min(5, len(w.s.Errors))])
	}
	t.Logf("%d messages in all; %v", w.s.Stats.Sent, time.Since(start).Round(time.Millisecond))
}

// TestJoinTransfer_Sec10_5: after the 10,000 values are stored, 20 new
// peers join one after the other. Each admitting peer sends the joining
// node the data of its new range (§10.5 step 6), the joining node's
// predecessors add it to their replica sets (§10.7.3); nothing is lost
// and every value is again on its responsible peer and the next two.
func TestJoinTransfer_Sec10_5(t *testing.T) {
	w := stored(t, 2, true)
	before := snapshot(w.s.Stats)
	t0 := w.s.Now
	ids := w.s.Grow(20, 5)
	ticks := w.replicate(t, 5000)
	moved := 0
	for i := range w.vals {
		if slices.Contains(ids, w.s.ReplicaPeers(w.vals[i].Resource, 0)[0]) {
			moved++
		}
	}
	t.Logf("%d peers joined over %d ticks; every value on 3 live peers %d ticks after the first join; %d values now at a new peer",
		len(ids), 5*len(ids), w.s.Now-t0, moved)
	_ = ticks
	if moved == 0 {
		t.Error("no value moved to a joining peer")
	}
	w.logStores(t, "joins", before)
	sent, by, vals := handover(w.s.Stats, before)
	t.Logf("handover after joins: %d Stores, %d bytes, %d values", sent, by, vals)
	w.check(t, "after joins")
	if len(w.s.Errors) > 0 {
		t.Errorf("storage errors: %v", w.s.Errors[:min(5, len(w.s.Errors))])
	}
}

// TestGracefulLeave_Sec10_9: after the 10,000 values are stored, 20
// random peers leave one after the other, 10 ticks apart, each handing
// its range to its successor (§10.9), whose widened range is then
// replicated (§10.7.1). Nothing is lost, although some leave right after
// both their successors left, whose replica sets the predecessor only
// refreshes after the hold-down.
func TestGracefulLeave_Sec10_9(t *testing.T) {
	w := stored(t, 3, true)
	before := snapshot(w.s.Stats)
	t0 := w.leave(t, 20)
	w.replicate(t, 5000)
	t.Logf("20 peers left over 200 ticks; every value on 3 live peers %d ticks after the first Leave", w.s.Now-t0)
	w.logStores(t, "leaves", before)
	sent, by, vals := handover(w.s.Stats, before)
	t.Logf("handover after leaves: %d Stores, %d bytes, %d values", sent, by, vals)
	w.check(t, "after leaves")
	if len(w.s.Errors) > 0 {
		t.Errorf("storage errors: %v", w.s.Errors[:min(5, len(w.s.Errors))])
	}
}

// leave makes n random peers leave, 10 ticks apart, and returns the tick
// of the first Leave.
func (w *world) leave(t *testing.T, n int) int64 {
	t.Helper()
	t0 := w.s.Now
	ring := slices.Clone(w.s.Peers())
	w.s.Rand.Shuffle(len(ring), func(i, j int) { ring[i], ring[j] = ring[j], ring[i] })
	for _, id := range ring[:n] {
		if err := w.s.Leave(id); err != nil {
			t.Fatal(err)
		}
		w.s.Run(10)
	}
	return t0
}

// TestStorageDeterministic: the same seed gives the same run, message for
// message.
func TestStorageDeterministic(t *testing.T) {
	run := func() (Stats, int64) {
		w := newWorld(t, 9, 30, false, func(c *Config) { c.MaxLatency = 3 })
		w.makeData(t, 50)
		w.storeAll(t, 10)
		ring := w.s.Peers()
		w.s.Fail(ring[3])
		w.s.Fail(ring[4])
		w.replicate(t, 3000)
		return w.s.Stats, w.s.Now
	}
	a, at := run()
	b, bt := run()
	if a.Sent != b.Sent || at != bt || a.Stores[host.RangeGained].Sent != b.Stores[host.RangeGained].Sent {
		t.Fatalf("runs differ: %d/%d messages, %d/%d ticks", a.Sent, b.Sent, at, bt)
	}
}
