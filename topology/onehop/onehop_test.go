package onehop_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/onehop"
	"github.com/goreload/reload/wire"
)

func enc(t testing.TB, b interface {
	Append([]byte) ([]byte, error)
}) []byte {
	t.Helper()
	out, err := b.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func started(t *testing.T, id wire.NodeID) *onehop.OneHop {
	t.Helper()
	o, err := onehop.New(onehop.Config{ID: id, Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	o.Ready()
	o.Advance()
	return o
}

func TestNewValidatesConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for name, cfg := range map[string]onehop.Config{
		"zero id":       {Rand: r},
		"no rand":       {ID: nid(1)},
		"client":        {ID: nid(1), Rand: r, Client: true},
		"replicas":      {ID: nid(1), Rand: r, Neighbors: 1, Replicas: 2},
		"negative time": {ID: nid(1), Rand: r, TickLength: -1},
	} {
		if _, err := onehop.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// TestJoinIDMustMatchSender_Sec6_4_2_1: a JoinReq whose joining_peer_id
// is not its signer is refused with Error_Forbidden.
func TestJoinIDMustMatchSender_Sec6_4_2_1(t *testing.T) {
	o := started(t, nid(0x80))
	if err := o.Step(topology.Incoming{From: nid(0x41), Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: nid(0x40)}), Token: 9}); err == nil {
		t.Fatal("forged Join accepted")
	}
	rd := o.Ready()
	var e wire.ErrorResponse
	if len(rd.Messages) != 1 || !rd.Messages[0].Answer || rd.Messages[0].Code != wire.CodeError {
		t.Fatalf("messages %+v", rd.Messages)
	}
	if _, err := e.Decode(rd.Messages[0].Body); err != nil || e.Code != wire.ErrCodeForbidden {
		t.Fatalf("error answer %v %v", e.Code, err)
	}
	if o.InTable(nid(0x41)) || o.InTable(nid(0x40)) {
		t.Fatal("forger admitted")
	}
}

// TestBadInputIsRefused: undecodable bodies and bad senders get an error
// answer, never a panic, and change nothing.
func TestBadInputIsRefused(t *testing.T) {
	o := started(t, nid(0x80))
	for _, in := range []topology.Incoming{
		{From: nid(0x40), Code: wire.CodeJoinReq, Body: []byte{1, 2}, Token: 1},
		{From: nid(0x40), Code: wire.CodeUpdateReq, Body: []byte{0, 0, 0, 0, 9}, Token: 2},
		{From: nid(0x40), Code: wire.CodeLeaveReq, Body: nil, Token: 3},
		{From: nid(0x40), Code: wire.CodeRouteQueryReq, Body: []byte{7}, Token: 4},
		{From: wire.NodeID{}, Code: wire.CodeUpdateReq, Body: nil, Token: 5},
		{From: nid(0x80), Code: wire.CodeUpdateReq, Body: nil, Token: 6},
	} {
		if err := o.Step(in); err == nil {
			t.Errorf("%v from %v accepted", in.Code, in.From)
		}
	}
	rd := o.Ready()
	if len(rd.Messages) != 6 {
		t.Fatalf("%d answers, want 6", len(rd.Messages))
	}
	for _, m := range rd.Messages {
		if !m.Answer || m.Code != wire.CodeError {
			t.Fatalf("not an error answer: %+v", m)
		}
	}
	if len(o.Members()) != 0 {
		t.Fatal("bad input changed the table")
	}
}

// TestAdmittingPeerTransfersAndAnnounces_Sec10_5: the admitting peer
// answers the Join, emits EventTransfer for the joining node's range
// (step 6), sends it the whole membership and announces it to every other
// member.
func TestAdmittingPeerTransfersAndAnnounces_Sec10_5(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x80), nid(0xc0))
	ap := n.nodes[nid(0x80)]
	jn := nid(0x40)
	if err := ap.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: 3}); err != nil {
		t.Fatal(err)
	}
	rd := ap.Ready()
	var transfer, resp bool
	for _, e := range rd.Events {
		switch e.Type {
		case topology.EventTransfer:
			transfer = e.Peer == jn && e.Range == topology.Range{Start: nid(0x10), End: jn}
		case topology.EventResponsibilityChanged:
			resp = e.Range == topology.Range{Start: jn, End: nid(0x80)}
		}
	}
	if !transfer || !resp {
		t.Fatalf("events %+v", rd.Events)
	}
	to := map[wire.NodeID]bool{}
	for _, m := range rd.Messages {
		if m.Code == wire.CodeUpdateReq {
			to[m.To] = true
			if m.To == jn {
				var u wire.ChordUpdate
				if _, err := u.Decode(m.Body); err != nil || u.Type != wire.ChordUpdateFull {
					t.Fatalf("update %+v %v", u, err)
				}
				all := slices.Concat(u.Predecessors, u.Successors, u.Fingers)
				for _, want := range []wire.NodeID{nid(0x10), nid(0xc0)} {
					if !slices.Contains(all, want) {
						t.Fatalf("full Update to the joining node lacks %v: %+v", want, u)
					}
				}
			}
		}
	}
	if !to[jn] || !to[nid(0x10)] || !to[nid(0xc0)] {
		t.Fatalf("Updates to %v", to)
	}
}

// TestJoinGivesFullMembership_Sec10_5: after a series of joins every peer
// knows every other peer, and each lookup from any peer takes one hop to
// the peer responsible (§10.1: the successor of the key).
func TestJoinGivesFullMembership_Sec10_5(t *testing.T) {
	n := newNet(t)
	r := rand.New(rand.NewPCG(7, 7))
	var ids []wire.NodeID
	for range 12 {
		ids = append(ids, nid(byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())))
	}
	n.grow(ids...)
	n.checkFull()
	for range 200 {
		key := nid(byte(r.Uint32()), byte(r.Uint32()))
		from := ids[r.IntN(len(ids))]
		d := wire.ResourceDest(wire.ResourceID(key.Bytes()))
		next, local, err := n.nodes[from].Route(&d)
		if err != nil {
			t.Fatal(err)
		}
		if local {
			next = from
		}
		if want := n.owner(key); next != want {
			t.Fatalf("route %v from %v: %v, want %v", key, from, next, want)
		}
		if !n.nodes[next].Responsible(key.Bytes()) {
			t.Fatalf("%v does not take responsibility for %v", next, key)
		}
	}
}

// TestFailureRemovesMember_Sec10_7_1: a failed peer leaves every table,
// its predecessor's range is unchanged and its successor takes its range;
// the replica set change is held down.
func TestFailureRemovesMember_Sec10_7_1(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x40), nid(0x80), nid(0xc0))
	n.checkFull()
	for id := range n.evs {
		n.evs[id] = nil
	}
	n.fail(nid(0x40))
	n.checkFull()
	succ := n.nodes[nid(0x80)]
	if r, _ := succ.ResponsibleRange(); r != (topology.Range{Start: nid(0x10), End: nid(0x80)}) {
		t.Fatalf("successor range %v", r)
	}
	var held bool
	for _, e := range n.evs[nid(0x10)] {
		if e.Type == topology.EventReplicaSetChanged {
			t.Fatal("replica set change not held down")
		}
		held = held || (e.Type == topology.EventNeighborRemoved && e.Peer == nid(0x40))
	}
	if !held {
		t.Fatalf("no neighbor-removed: %+v", n.evs[nid(0x10)])
	}
	n.tick(int(onehop.DefaultHoldDown/onehop.DefaultTickLength) + 1)
	if !slices.ContainsFunc(n.evs[nid(0x10)], func(e topology.Event) bool { return e.Type == topology.EventReplicaSetChanged }) {
		t.Fatal("no replica-set-changed after the hold-down")
	}
	if rs := n.nodes[nid(0x10)].ReplicaSet(bytesOf(nid(0x0f))); !slices.Equal(rs, []wire.NodeID{nid(0x80), nid(0xc0)}) {
		t.Fatalf("replica set %v", rs)
	}
}

// TestUnansweredUpdateIsFailure_Sec10_7_2: a member that stops answering
// (no link failure seen) is removed when its Update times out, and the
// others learn nothing false from gossip about it.
func TestUnansweredUpdateIsFailure_Sec10_7_2(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x40), nid(0x80))
	n.down[nid(0x40)] = true // silent: no PeerFailed
	n.tick(int(10e9/onehop.DefaultTickLength) + 2)
	n.checkFull()
}

// TestLeave_Sec10_9: the leaving peer hands its range to its successor
// and every member removes it.
func TestLeave_Sec10_9(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x40), nid(0x80))
	l := n.nodes[nid(0x40)]
	if err := l.Leave(); err != nil {
		t.Fatal(err)
	}
	rd := l.Ready()
	var tr bool
	for _, e := range rd.Events {
		tr = tr || (e.Type == topology.EventTransfer && e.Peer == nid(0x80) && e.Range == topology.Range{Start: nid(0x10), End: nid(0x40)})
	}
	if !tr {
		t.Fatalf("events %+v", rd.Events)
	}
	n.evs[nid(0x40)] = append(n.evs[nid(0x40)], rd.Events...)
	for _, m := range rd.Messages {
		n.send(nid(0x40), m)
	}
	l.Advance()
	n.pump()
	if l.State() != "left" || !slices.ContainsFunc(n.evs[nid(0x40)], func(e topology.Event) bool { return e.Type == topology.EventLeft }) {
		t.Fatalf("state %v, events %+v", l.State(), n.evs[nid(0x40)])
	}
	n.checkFull()
	if n.nodes[nid(0x10)].InTable(nid(0x40)) {
		t.Fatal("left peer still a member")
	}
}

// TestStrangerUpdateIsAHint: an Update from a node no member named does
// not put it in the table; once a member names it, it is admitted at
// once (its Update proved it alive).
func TestStrangerUpdateIsAHint(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x80))
	p := n.nodes[nid(0x10)]
	s := nid(0x50)
	up := enc(t, &wire.ChordUpdate{Type: wire.ChordUpdateFull, Fingers: []wire.NodeID{nid(0x51), nid(0x52)}})
	if err := p.Step(topology.Incoming{From: s, Code: wire.CodeUpdateReq, Body: up, Token: 1}); err != nil {
		t.Fatal(err)
	}
	if p.InTable(s) || p.InTable(nid(0x51)) {
		t.Fatal("stranger's Update admitted nodes")
	}
	p.Ready()
	p.Advance()
	vouch := enc(t, &wire.ChordUpdate{Type: wire.ChordUpdateFull, Fingers: []wire.NodeID{s}})
	if err := p.Step(topology.Incoming{From: nid(0x80), Code: wire.CodeUpdateReq, Body: vouch, Token: 2}); err != nil {
		t.Fatal(err)
	}
	if !p.InTable(s) {
		t.Fatal("stranger named by a member and heard from not admitted")
	}
}

// TestVouchedCandidateVerified: a node a member names, not heard from, is
// sent an Update and admitted only when it answers.
func TestVouchedCandidateVerified(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x80))
	p := n.nodes[nid(0x10)]
	ghost := nid(0x60)
	vouch := enc(t, &wire.ChordUpdate{Type: wire.ChordUpdateFull, Fingers: []wire.NodeID{ghost}})
	n.queue = append(n.queue, msg{from: nid(0x80), to: nid(0x10), in: topology.Incoming{From: nid(0x80), Code: wire.CodeUpdateReq, Body: vouch, Token: 99}})
	n.pump()
	n.tick(30)
	if p.InTable(ghost) {
		t.Fatal("a named node that does not exist was admitted")
	}
	n.checkFull()
}

// TestDetachedWhenAlone_Sec10_7_1: a peer that loses every other member
// reports EventDetached and may join again.
func TestDetachedWhenAlone_Sec10_7_1(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x80))
	n.fail(nid(0x80))
	p := n.nodes[nid(0x10)]
	if !slices.ContainsFunc(n.evs[nid(0x10)], func(e topology.Event) bool { return e.Type == topology.EventDetached }) || p.Joined() {
		t.Fatalf("state %v events %+v", p.State(), n.evs[nid(0x10)])
	}
	if _, _, err := p.Route(&wire.Destination{Type: wire.DestResource, ID: bytesOf(nid(5))}); err == nil {
		t.Fatal("detached node routes")
	}
}

// TestFirstNodeFounds_Sec6_4_2_1: a potential first node whose Joins all
// fail founds the overlay when its Node-ID is the smallest.
func TestFirstNodeFounds_Sec6_4_2_1(t *testing.T) {
	n := newNet(t)
	o := n.add(nid(0x10))
	n.add(nid(0x20)) // idle: refuses Joins
	o.SetFirstNode(true)
	if err := o.Join(nid(0x20)); err != nil {
		t.Fatal(err)
	}
	n.pump()
	n.tick(5)
	if !o.Joined() || o.Stats().Founded != 1 {
		t.Fatalf("state %v stats %+v", o.State(), o.Stats())
	}
}

// TestRouteDoesNotAllocate: forwarding calls Route for every transit
// message.
func TestRouteDoesNotAllocate(t *testing.T) {
	n := newNet(t)
	n.grow(nid(0x10), nid(0x40), nid(0x80))
	o := n.nodes[nid(0x10)]
	d := wire.ResourceDest(wire.ResourceID(bytesOf(nid(0x70))))
	rt := o.Routes()
	if a := testing.AllocsPerRun(100, func() { _, _, _ = rt.Route(&d); _, _, _ = o.Route(&d) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func bytesOf(id wire.NodeID) []byte { return slices.Clone(id.Bytes()) }
