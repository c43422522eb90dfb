package storage_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// peer is a second Store standing for another node.
type peer struct {
	id    *security.Identity
	ring  *st.Ring
	s     *storage.Store
	mem   *mem.Backend
	t     *testing.T
	kinds *storage.KindTable
}

func newPeer(t *testing.T, pki *st.PKI, n wire.NodeID) *peer {
	p := &peer{id: pki.Identity(t, "", n), ring: &st.Ring{}, mem: mem.New(), t: t, kinds: st.Kinds(t)}
	var err error
	p.s, err = storage.New(storage.Config{Kinds: p.kinds, Backend: p.mem, Verifier: pki.Verifier(), Topology: p.ring})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deliver hands o to p as the node layer would: encoded, decoded, and
// signed by from (whose certificates join those of the OutgoingStore).
func (p *peer) deliver(from *security.Identity, o storage.OutgoingStore, at time.Time) (storage.StoreResult, error) {
	p.t.Helper()
	enc, err := o.Req.Append(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req := wire.StoreReq{Models: p.kinds}
	if _, err := req.Decode(enc); err != nil {
		p.t.Fatal(err)
	}
	rq := st.Requester(from)
	rq.Certificates = append(rq.Certificates, o.Certificates...)
	return p.s.HandleStore(&req, rq, at)
}

// TestReplicaStores: RFC 6940 §10.4, after storing, the responsible peer
// sends the data to its replica set with replica numbers 1 and 2; the
// StoreAns lists the replicas (§7.4.1.2). The replicas accept the Store
// from the responsible peer though it is not the data's owner, copy the
// generation counter, and keep appended values at their real index.
func TestReplicaStores(t *testing.T) {
	e := newEnv(t)
	owner := st.NodeID(0x81)
	r1, r2 := newPeer(t, e.pki, st.NodeID(0x91)), newPeer(t, e.pki, st.NodeID(0x92))
	responsible := e.pki.Identity(t, "", st.NodeID(0x90))
	e.ring.Replicas = []wire.NodeID{r1.id.NodeID(), r2.id.NodeID()}
	id := e.pki.Identity(t, "owner@"+st.Overlay, owner)
	res := nodeRes(owner)
	sd := st.Signed(t, id, res, wire.KindCertificateByNode, ms(0), 100, st.Array(wire.ArrayAppendIndex, string(id.Cert.Cert.Raw)))
	e.mustStore(id, st.Req(res, wire.KindCertificateByNode, 0, sd))
	sd2 := st.Signed(t, id, res, wire.KindCertificateByNode, ms(time.Millisecond), 100, st.Array(wire.ArrayAppendIndex, "second"))
	out := e.mustStore(id, st.Req(res, wire.KindCertificateByNode, 1, sd2))

	kr := out.Answer.KindResponses[0]
	if kr.Generation != 2 || !reflect.DeepEqual(kr.Replicas, e.ring.Replicas) {
		t.Errorf("answer %+v", kr)
	}
	if _, err := out.Answer.Append(nil); err != nil {
		t.Errorf("answer does not encode: %v", err)
	}
	if len(out.Replicas) != 2 {
		t.Fatalf("%d replica stores", len(out.Replicas))
	}
	for i, o := range out.Replicas {
		if o.To != e.ring.Replicas[i] || o.Req.ReplicaNumber != uint8(i+1) || !bytes.Equal(o.Req.Resource, res) {
			t.Errorf("replica %d: to %v number %d", i, o.To, o.Req.ReplicaNumber)
		}
		kd := o.Req.KindData[0]
		if kd.Generation != 2 || len(kd.Values) != 1 || kd.Values[0].Value.Index != 1 {
			t.Errorf("replica %d: %+v", i, kd)
		}
		if len(o.Certificates) != 1 || !bytes.Equal(o.Certificates[0].Certificate, id.Cert.Cert.Raw) {
			t.Errorf("replica %d: certificates %d", i, len(o.Certificates))
		}
	}

	// The replicas accept the Store from the responsible peer.
	r1.ring.Senders = []wire.NodeID{responsible.NodeID()}
	r1.ring.Owns = func(wire.ResourceID) bool { return false }
	later := now.Add(30 * time.Second)
	got, err := r1.deliver(responsible, out.Replicas[0], later)
	if err != nil {
		t.Fatalf("replica store: %v", err)
	}
	if g := got.Answer.KindResponses[0].Generation; g != 2 || len(got.Answer.KindResponses[0].Replicas) != 0 || len(got.Replicas) != 0 {
		t.Errorf("replica answer %+v, %d onward stores", got.Answer, len(got.Replicas))
	}
	ans, _ := r1.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{storage.CertificateSpecifier(wire.KindCertificateByNode)}}, later)
	if v := values(ans.KindResponses[0]); !reflect.DeepEqual(v, []string{"-", "second"}) {
		t.Errorf("replica holds %q", v)
	}
	// The replica Store was computed when the Store arrived, so it
	// carries the whole 100 s, counted from the replica's own arrival.
	if lt := ans.KindResponses[0].Values[1].Lifetime; lt != 100 {
		t.Errorf("replica lifetime %d", lt)
	}

	// A node that is not a plausible sender is refused (§7.4.1.1).
	_, err = r2.deliver(responsible, out.Replicas[1], later)
	wantCode(t, err, wire.ErrCodeForbidden, storage.ErrReplicaRejected)
	// A replica Store must not use generation 0.
	r2.ring.Senders = []wire.NodeID{responsible.NodeID()}
	bad := out.Replicas[1]
	bad.Req.KindData = []wire.StoreKindData{bad.Req.KindData[0]}
	bad.Req.KindData[0].Generation = 0
	_, err = r2.deliver(responsible, bad, later)
	wantCode(t, err, wire.ErrCodeInvalidMessage, storage.ErrBadRequest)
	// The value's signer must still conform to the policy: a replica
	// Store of a value signed by the sender at someone else's resource
	// is refused.
	forged := st.Signed(t, responsible, res, wire.KindCertificateByNode, ms(time.Second), 100, st.Array(5, "forged"))
	_, err = r2.deliver(responsible, storage.OutgoingStore{Req: wire.StoreReq{Resource: res, ReplicaNumber: 2,
		KindData: []wire.StoreKindData{{Kind: wire.KindCertificateByNode, Generation: 9, Values: []wire.StoredData{forged}}}}}, later)
	wantCode(t, err, wire.ErrCodeForbidden, storage.ErrNotPermitted)
}

// TestHandover: the Stores of RFC 6940 §10.5 step 6 (join), §10.7.3 (a
// new node in the replica set), §10.7.1/§10.9 (range gained after a
// predecessor failed or left) and a graceful leave; lifetimes are lowered
// by the time the values spent here (§7.4.1.1); Prune drops what is
// neither owned nor replicated.
func TestHandover(t *testing.T) {
	e := newEnv(t)
	var res []wire.ResourceID
	for i := range 4 {
		n := st.NodeID(byte(0xa0 + i))
		id := e.pki.Identity(t, "", n)
		r := storage.NodeMultipleResourceID(storage.ChordHash, n, 1)
		e.mustStore(id, st.Req(r, wire.KindTURNService, 0, st.Signed(t, id, r, wire.KindTURNService, ms(0), 100, st.Single("turn"+string(rune('0'+i))))))
		res = append(res, r)
	}
	half := func(r wire.ResourceID) bool { return bytes.Equal(r, res[0]) || bytes.Equal(r, res[1]) }
	later := now.Add(40 * time.Second)
	joiner := st.NodeID(0xee)

	out, err := e.s.JoinTransfer(joiner, half, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("join: %d stores", len(out))
	}
	for _, o := range out {
		if o.To != joiner || o.Req.ReplicaNumber != 1 || !half(o.Req.Resource) {
			t.Errorf("join store to %v number %d res %x", o.To, o.Req.ReplicaNumber, o.Req.Resource)
		}
		v := o.Req.KindData[0].Values[0]
		if v.Lifetime != 60 || o.Req.KindData[0].Generation != 1 || len(o.Certificates) != 1 {
			t.Errorf("join store: lifetime %d generation %d", v.Lifetime, o.Req.KindData[0].Generation)
		}
	}
	// The joining node accepts them from its admitting peer.
	jp := newPeer(t, e.pki, joiner)
	admitting := e.pki.Identity(t, "", st.NodeID(0xef))
	jp.ring.Senders = []wire.NodeID{admitting.NodeID()}
	for _, o := range out {
		if _, err := jp.deliver(admitting, o, later); err != nil {
			t.Fatalf("joiner: %v", err)
		}
	}
	if jp.mem.Len() != 2 {
		t.Errorf("joiner holds %d values", jp.mem.Len())
	}

	// This peer now owns only the other half; a new successor enters the
	// replica set at position 2.
	e.ring.Owns = func(r wire.ResourceID) bool { return !half(r) }
	succ1, succ2 := st.NodeID(0xd1), st.NodeID(0xd2)
	e.ring.Replicas = []wire.NodeID{succ1, succ2}
	out, err = e.s.ReplicaSetChanged([]wire.NodeID{succ2}, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("replica set change: %d stores", len(out))
	}
	for _, o := range out {
		if o.To != succ2 || o.Req.ReplicaNumber != 2 || half(o.Req.Resource) {
			t.Errorf("replica store to %v number %d", o.To, o.Req.ReplicaNumber)
		}
	}
	if out, _ := e.s.ReplicaSetChanged(nil, later); len(out) != 0 {
		t.Error("stores with nothing added")
	}

	// The predecessor failed: res[0] is ours again and goes to the whole
	// replica set.
	e.ring.Owns = func(r wire.ResourceID) bool { return !bytes.Equal(r, res[1]) }
	out, err = e.s.RangeGained(func(r wire.ResourceID) bool { return bytes.Equal(r, res[0]) }, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].To != succ1 || out[1].To != succ2 || !bytes.Equal(out[0].Req.Resource, res[0]) ||
		out[0].Req.ReplicaNumber != 1 || out[1].Req.ReplicaNumber != 2 {
		t.Errorf("range gained: %d stores", len(out))
	}

	// Leaving: everything this peer is responsible for goes to its
	// successor.
	out, err = e.s.LeaveTransfer(succ1, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Errorf("leave: %d stores, want 3", len(out))
	}
	// Expired values are not handed over.
	if out, _ := e.s.LeaveTransfer(succ1, now.Add(200*time.Second)); len(out) != 0 {
		t.Errorf("leave after expiry: %d stores", len(out))
	}

	n, err := e.s.Prune(func(r wire.ResourceID) bool { return !bytes.Equal(r, res[3]) })
	if err != nil || n != 1 || e.mem.Len() != 3 {
		t.Errorf("Prune = %d, %v; %d values left", n, err, e.mem.Len())
	}
}

// TestCertificateLookup: RFC 6940 §8, certificates stored under
// CERTIFICATE_BY_NODE serve a verifier missing one: the Store finds a
// value signer's certificate among those it stores, and MatchCertificate
// and CertificateResource let a node fetch it from the overlay.
func TestCertificateLookup(t *testing.T) {
	e := newEnv(t)
	n := st.NodeID(0xc1)
	carol := e.pki.Identity(t, "carol@"+st.Overlay, n)
	cres := nodeRes(n)
	cert := carol.Cert.Cert.Raw
	e.mustStore(carol, st.Req(cres, wire.KindCertificateByNode, 0,
		st.Signed(t, carol, cres, wire.KindCertificateByNode, ms(0), 600, wire.ArrayValue(wire.ArrayAppendIndex, cert))))

	// A Store on the same backend whose verifier has never seen carol.
	fresh := e.newStore(e.mem, e.pki.Verifier())
	ures := userRes("carol@" + st.Overlay)
	sd := st.Signed(t, carol, ures, st.KindSmall, ms(0), 60, st.Single("hi"))
	sender := st.Requester(carol)
	sender.Certificates = nil // the value's certificate is not in the message
	if _, err := fresh.HandleStore(st.Req(ures, st.KindSmall, 0, sd), sender, now); err != nil {
		t.Fatalf("store with a locally stored certificate: %v", err)
	}
	sid := carol.SignerIdentity()
	if der, ok, err := e.s.LocalCertificate(&sid, now); err != nil || !ok || !bytes.Equal(der, cert) {
		t.Errorf("LocalCertificate: %v %v", ok, err)
	}

	// Dave's certificate is nowhere: the caller must fetch it.
	dave := e.pki.Identity(t, "dave@"+st.Overlay, st.NodeID(0xc2))
	dres := userRes("dave@" + st.Overlay)
	sd = st.Signed(t, dave, dres, st.KindSmall, ms(0), 60, st.Single("hi"))
	from := st.Requester(dave)
	from.Certificates = nil
	_, err := fresh.HandleStore(st.Req(dres, st.KindSmall, 0, sd), from, now)
	var need *security.CertificateNeededError
	if !errors.As(err, &need) {
		t.Fatalf("error %v, want CertificateNeededError", err)
	}
	need.NodeID = dave.NodeID() // what the node layer knows: the message signer
	r, kind, ok := storage.CertificateResource(storage.ChordHash, need)
	if !ok || kind != wire.KindCertificateByNode || !bytes.Equal(r, nodeRes(dave.NodeID())) {
		t.Errorf("CertificateResource = %x %v %v", r, kind, ok)
	}
	need.NodeID = wire.NodeID{}
	need.User = "dave@" + st.Overlay
	if r, kind, _ := storage.CertificateResource(storage.ChordHash, need); kind != wire.KindCertificateByUser || !bytes.Equal(r, dres) {
		t.Errorf("CertificateResource by user = %x %v", r, kind)
	}
	fetched := []wire.StoredData{
		storage.Synthetic(wire.ModelArray, 0, nil),
		{Value: wire.ArrayValue(1, cert)},
		{Value: wire.ArrayValue(2, dave.Cert.Cert.Raw)},
	}
	if der, ok := storage.MatchCertificate(&need.Identity, fetched); !ok || !bytes.Equal(der, dave.Cert.Cert.Raw) {
		t.Error("MatchCertificate missed dave's certificate")
	}
	// cert_hash_node_id names a certificate with several Node-IDs.
	multi := e.pki.Identity(t, "", st.NodeID(0xc3), st.NodeID(0xc4))
	msid := multi.SignerIdentity()
	if _, ok := storage.MatchCertificate(&msid, []wire.StoredData{{Value: wire.ArrayValue(0, multi.Cert.Cert.Raw)}}); !ok {
		t.Error("MatchCertificate missed a cert_hash_node_id certificate")
	}
	if _, ok := storage.MatchCertificate(&msid, fetched); ok {
		t.Error("MatchCertificate matched the wrong certificate")
	}
}

// TestTransferToResponsibleIsReplicated: RFC 6940 §10.4, §10.9. A
// replica or transfer Store that gives the responsible peer data it did
// not have (a leaving predecessor's transfer arriving after its Leave) is
// replicated to the replica set, but not back to its sender, with the
// replica numbers of the set; repeating it changes nothing and sends
// nothing.
func TestTransferToResponsibleIsReplicated(t *testing.T) {
	e := newEnv(t)
	owner := st.NodeID(0x81)
	leaver := e.pki.Identity(t, "", st.NodeID(0x90))
	r1, r2 := st.NodeID(0x91), st.NodeID(0x92)
	id := e.pki.Identity(t, "owner@"+st.Overlay, owner)
	res := nodeRes(owner)
	sd := st.Signed(t, id, res, wire.KindCertificateByNode, ms(0), 100, st.Array(0, string(id.Cert.Cert.Raw)))
	req := st.Req(res, wire.KindCertificateByNode, 1, sd)
	req.ReplicaNumber = 1
	rq := st.Requester(leaver)
	rq.Certificates = append(rq.Certificates, id.Certificates()...)
	e.ring.Senders = []wire.NodeID{leaver.NodeID()}

	// Not responsible: a plain replica, nothing onward.
	e.ring.Owns = func(wire.ResourceID) bool { return false }
	e.ring.Replicas = []wire.NodeID{r1, r2}
	got, err := e.s.HandleStore(req, rq, now)
	if err != nil || len(got.Replicas) != 0 {
		t.Fatalf("replica at a non-responsible peer: %v, %d onward stores", err, len(got.Replicas))
	}

	// Responsible, with the sender in the replica set: onward to the
	// other replica only, numbered by its place in the set.
	e2 := newEnv(t)
	e2.ring.Senders = []wire.NodeID{leaver.NodeID()}
	e2.ring.Replicas = []wire.NodeID{leaver.NodeID(), r2}
	got, err = e2.s.HandleStore(req, rq, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Replicas) != 1 || got.Replicas[0].To != r2 || got.Replicas[0].Req.ReplicaNumber != 2 ||
		len(got.Replicas[0].Req.KindData) != 1 || got.Replicas[0].Req.KindData[0].Generation != 1 {
		t.Fatalf("onward stores %+v", got.Replicas)
	}
	// The responsible peer's answer lists its replica set (§7.4.1.2),
	// so that a peer handing over data it no longer keeps learns
	// whether it is one of them.
	if !slices.Equal(got.Answer.KindResponses[0].Replicas, e2.ring.Replicas) {
		t.Errorf("replica answer lists replicas %v, want %v", got.Answer.KindResponses[0].Replicas, e2.ring.Replicas)
	}
	got, err = e2.s.HandleStore(req, rq, now)
	if err != nil || len(got.Replicas) != 0 {
		t.Errorf("repeated transfer: %v, %d onward stores", err, len(got.Replicas))
	}
}

// TestPruneHandover: RFC 6940 §10.7.3, §10.4. A peer that is no longer
// responsible for nor a replica of a Resource-ID hands its data to the
// responsible peer (OrphanStores) and deletes it only after that peer
// has it (DropHandedOver). The responsible peer takes such a Store from
// a peer that may not send replicas only as a confirmation: success when
// it holds the same values and generation, Error_Generation_Counter_Too_Low
// when it holds a newer generation, Error_Forbidden when the Store would
// bring it anything, so that such a peer cannot push data or generation
// counters.
func TestPruneHandover(t *testing.T) {
	e := newEnv(t) // the responsible peer
	old := e.pki.Identity(t, "", st.NodeID(0x70))
	owner := st.NodeID(0x81)
	id := e.pki.Identity(t, "owner@"+st.Overlay, owner)
	res := nodeRes(owner)
	sd := st.Signed(t, id, res, wire.KindCertificateByNode, ms(0), 100, st.Array(0, string(id.Cert.Cert.Raw)))
	e.ring.Replicas = []wire.NodeID{st.NodeID(0x91), st.NodeID(0x92)}
	e.mustStore(id, st.Req(res, wire.KindCertificateByNode, 0, sd))

	// The old replica holds the same value, generation 1.
	o := newEnv(t)
	o.ring.Owns = func(wire.ResourceID) bool { return false }
	o.ring.Senders = []wire.NodeID{st.NodeID(0x60)}
	rep := st.Req(res, wire.KindCertificateByNode, 1, sd)
	rep.ReplicaNumber = 2
	rq := st.Requester(e.pki.Identity(t, "", st.NodeID(0x60)))
	rq.Certificates = append(rq.Certificates, id.Certificates()...)
	if _, err := o.s.HandleStore(rep, rq, now); err != nil {
		t.Fatal(err)
	}
	outs, err := o.s.OrphanStores(func(wire.ResourceID) bool { return false }, 3, now)
	if err != nil || len(outs) != 1 || !outs[0].To.IsZero() || outs[0].Req.ReplicaNumber != 3 || outs[0].Req.KindData[0].Generation != 1 {
		t.Fatalf("OrphanStores: %+v, %v", outs, err)
	}
	if kept, _ := o.s.OrphanStores(func(wire.ResourceID) bool { return true }, 3, now); len(kept) != 0 {
		t.Errorf("OrphanStores of kept data: %d stores", len(kept))
	}

	// At the responsible peer, from a peer it does not take replicas
	// from: the same data is confirmed, with its replica set.
	from := st.Requester(old)
	from.Certificates = append(from.Certificates, outs[0].Certificates...)
	got, err := e.s.HandleStore(&outs[0].Req, from, now)
	if err != nil {
		t.Fatalf("confirmation: %v", err)
	}
	if !slices.Equal(got.Answer.KindResponses[0].Replicas, e.ring.Replicas) || len(got.Replicas) != 0 {
		t.Errorf("confirmation answer %+v, %d onward stores", got.Answer, len(got.Replicas))
	}
	// A value it lacks, or a higher generation, is refused; a lower
	// generation is answered with the current one.
	sd2 := st.Signed(t, id, res, wire.KindCertificateByNode, ms(0), 100, st.Array(1, "other"))
	more := st.Req(res, wire.KindCertificateByNode, 1, sd, sd2)
	more.ReplicaNumber = 3
	if _, err := e.s.HandleStore(more, from, now); !errors.Is(err, storage.ErrReplicaRejected) {
		t.Errorf("confirmation bringing a value: %v", err)
	}
	higher := st.Req(res, wire.KindCertificateByNode, 7, sd)
	higher.ReplicaNumber = 3
	if _, err := e.s.HandleStore(higher, from, now); !errors.Is(err, storage.ErrReplicaRejected) {
		t.Errorf("confirmation with a higher generation: %v", err)
	}
	e.mustStore(id, st.Req(res, wire.KindCertificateByNode, 0, sd2)) // generation 2
	if _, err := e.s.HandleStore(&outs[0].Req, from, now); wireCode(err) != wire.ErrCodeGenerationCounterTooLow {
		t.Errorf("confirmation with an older generation: %v", err)
	}
	// Not responsible: refused as before.
	e.ring.Owns = func(wire.ResourceID) bool { return false }
	if _, err := e.s.HandleStore(&outs[0].Req, from, now); !errors.Is(err, storage.ErrReplicaRejected) {
		t.Errorf("at a peer not responsible: %v", err)
	}

	// The old replica deletes only slots whose generation is still the
	// one handed over.
	stale := outs[0].Req
	stale.KindData = []wire.StoreKindData{{Kind: wire.KindCertificateByNode, Generation: 9}}
	if n, err := o.s.DropHandedOver(&stale); n != 0 || err != nil || o.mem.Len() != 1 {
		t.Errorf("drop after a change: %d, %v; %d left", n, err, o.mem.Len())
	}
	if n, err := o.s.DropHandedOver(&outs[0].Req); n != 1 || err != nil || o.mem.Len() != 0 || o.s.Pruned() != 1 {
		t.Errorf("drop: %d, %v; %d left, %d pruned", n, err, o.mem.Len(), o.s.Pruned())
	}
}

func wireCode(err error) wire.ErrorCode {
	c, _ := wire.ErrorCodeOf(err)
	return c
}
