package chord_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// admitting is a started peer that admitted each of members through a
// Join (RFC 6940 §10.5), in clockwise order so that each is in its range
// then (§6.4.2.1), with every Update it sent answered.
func admitting(t *testing.T, id wire.NodeID, members ...wire.NodeID) *chord.Chord {
	t.Helper()
	c := startedPeer(id)
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b wire.NodeID) int { return topology.Sub(a, id).Compare(topology.Sub(b, id)) })
	for i, m := range members {
		if err := c.Step(topology.Incoming{From: m, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: m}), Token: uint64(100 + i)}); err != nil {
			t.Fatal(err)
		}
		drainUpdates(t, c, nil)
	}
	return c
}

// sent returns the requests c has ready with code, and acknowledges
// everything it had ready.
func sent(c *chord.Chord, code wire.MessageCode) []topology.Outgoing {
	var out []topology.Outgoing
	for c.HasReady() {
		for _, m := range c.Ready().Messages {
			if !m.Answer && m.Code == code {
				out = append(out, m)
			}
		}
		c.Advance()
	}
	return out
}

func neighbour(c *chord.Chord, n wire.NodeID) bool {
	return slices.Contains(c.Successors(), n) || slices.Contains(c.Predecessors(), n)
}

func updateFrom(t *testing.T, c *chord.Chord, from wire.NodeID, preds, succs []wire.NodeID, tok uint64) {
	t.Helper()
	u := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, Predecessors: preds, Successors: succs, IDLen: 16}
	if err := c.Step(topology.Incoming{From: from, Code: wire.CodeUpdateReq, Body: enc(t, &u), Token: tok}); err != nil {
		t.Fatal(err)
	}
}

// TestStrangerUpdateIsAHint_Sec10_7_3_Sec13: an Update from a node that
// neither joined through this peer nor was named by a member does not
// make it a neighbour or a replica source; the peer asks its members
// nearest to the claimed place with a RouteQuery for the sender's
// Node-ID. A member that routes to the sender (it has it in its routing
// table) vouches for it, and the sender enters the neighbour sets once it
// answers an Update of ours; one that routes elsewhere does not.
func TestStrangerUpdateIsAHint_Sec10_7_3_Sec13(t *testing.T) {
	self, lo, hi, stranger := nid(0x80), nid(0x40), nid(0xc0), nid(0xa0)
	for _, vouch := range []bool{false, true} {
		c := admitting(t, self, lo, hi)
		sent(c, wire.CodeRouteQueryReq)
		updateFrom(t, c, stranger, []wire.NodeID{self, lo}, []wire.NodeID{hi, self}, 1)
		if neighbour(c, stranger) || c.AcceptReplica(nil, stranger) || c.InTable(stranger) {
			t.Fatalf("vouch=%v: the stranger's own word admitted it: succ %v pred %v", vouch, c.Successors(), c.Predecessors())
		}
		var asked []wire.NodeID
		rd := c.Ready()
		if a := answers(rd)[wire.CodeUpdateAns]; len(a) != 1 || a[0].To != stranger {
			t.Fatalf("vouch=%v: the Update was not answered: %+v", vouch, rd.Messages)
		}
		msgs := slices.Clone(rd.Messages)
		c.Advance()
		for _, m := range msgs {
			if m.Answer || m.Code != wire.CodeRouteQueryReq {
				continue
			}
			var q wire.RouteQueryReq
			if _, err := q.Decode(m.Body); err != nil {
				t.Fatal(err)
			}
			if id, ok := q.Destination.NodeID(); !ok || id != stranger {
				continue
			}
			asked = append(asked, m.To)
			next := m.To
			if vouch && m.To == hi {
				next = stranger
			}
			ans := wire.ChordRouteQueryAns{NextPeer: next, IDLen: 16}
			if err := c.Step(topology.Incoming{From: m.To, Code: wire.CodeRouteQueryAns, Body: enc(t, &ans), Token: m.Token}); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Contains(asked, hi) || !slices.Contains(asked, lo) {
			t.Fatalf("vouch=%v: members asked %v, want %v and %v", vouch, asked, lo, hi)
		}
		verify := 0
		drainUpdates(t, c, func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
			if m.To == stranger {
				verify++
			}
			return in, true
		})
		if vouch != neighbour(c, stranger) || vouch != c.AcceptReplica(nil, stranger) {
			t.Fatalf("vouch=%v: verification Updates %d; succ %v pred %v", vouch, verify, c.Successors(), c.Predecessors())
		}
	}
}

// TestStrangerSetsIgnored_Sec10_7_3: the sets
// in a stranger's Update (a node it names as its neighbour) are not
// candidates: only members nominate peers.
func TestStrangerSetsIgnored_Sec10_7_3(t *testing.T) {
	self, lo, hi, stranger, accomplice := nid(0x80), nid(0x40), nid(0xc0), nid(0xa0), nid(0x90)
	c := admitting(t, self, lo, hi)
	sent(c, wire.CodeRouteQueryReq)
	updateFrom(t, c, stranger, []wire.NodeID{accomplice, self}, []wire.NodeID{hi}, 1)
	for _, m := range sent(c, wire.CodeUpdateReq) {
		if m.To == accomplice {
			t.Fatal("the node a stranger named is verified as a candidate")
		}
	}
	// A member's Update naming the same node does make it a candidate.
	updateFrom(t, c, hi, []wire.NodeID{accomplice, self}, []wire.NodeID{lo}, 2)
	if ms := sent(c, wire.CodeUpdateReq); !slices.ContainsFunc(ms, func(m topology.Outgoing) bool { return m.To == accomplice }) {
		t.Fatalf("a member's Update did not make its named peer a candidate: %+v", ms)
	}
}

// TestJoinOnlyToResponsiblePeer_Sec6_4_2_1: "The JoinReq is sent to the
// responsible peer": a peer refuses a Join for a Node-ID outside its
// range, and admits one inside it (also from a node it still lists, a
// restarted process joining again).
func TestJoinOnlyToResponsiblePeer_Sec6_4_2_1(t *testing.T) {
	c := admitting(t, nid(0x80), nid(0x40), nid(0xc0))
	for _, tc := range []struct {
		jn wire.NodeID
		ok bool
	}{{nid(0x20), false}, {nid(0xa0), false}, {nid(0x40), true}, {nid(0x60), true}} {
		err := c.Step(topology.Incoming{From: tc.jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: tc.jn}), Token: 7})
		a := answers(c.Ready())
		c.Advance()
		if tc.ok != (err == nil && len(a[wire.CodeJoinAns]) == 1) {
			t.Errorf("Join of %v: err %v, answers %v", tc.jn, err, a)
		}
		if !tc.ok && (len(a[wire.CodeError]) != 1 || neighbour(c, tc.jn)) {
			t.Errorf("Join of %v: not refused with an error, or admitted", tc.jn)
		}
		drainUpdates(t, c, nil)
	}
}

// TestJoiningTakesOnlyTheAdmittingPeersUpdate_Sec10_5: a joining node
// holds an Update naming it as predecessor that comes before the answer
// to its Join, and takes it only from the peer that answers the Join: a
// node posing as the admitting peer does not hand it neighbours.
func TestJoiningTakesOnlyTheAdmittingPeersUpdate_Sec10_5(t *testing.T) {
	jn, boot, ap, poser, fake := nid(0x50), nid(0x10), nid(0x80), nid(0x70), nid(0x60)
	for _, early := range []bool{false, true} {
		c, _ := chord.New(chord.DefaultConfig(jn, rand.New(rand.NewPCG(1, 1))))
		if err := c.Join(boot); err != nil {
			t.Fatal(err)
		}
		joins := sent(c, wire.CodeJoinReq)
		if len(joins) != 1 {
			t.Fatalf("joins %+v", joins)
		}
		updateFrom(t, c, poser, []wire.NodeID{jn, fake}, []wire.NodeID{fake}, 1)
		if early {
			updateFrom(t, c, ap, []wire.NodeID{jn, boot}, []wire.NodeID{nid(0x90)}, 2)
		}
		if c.State() != "joining" || c.AcceptReplica(nil, fake) {
			t.Fatalf("early=%v: state %s before the JoinAns", early, c.State())
		}
		if err := c.Step(topology.Incoming{From: ap, Code: wire.CodeJoinAns, Body: enc(t, &wire.JoinAns{}), Token: joins[0].Token}); err != nil {
			t.Fatal(err)
		}
		if !early {
			updateFrom(t, c, ap, []wire.NodeID{jn, boot}, []wire.NodeID{nid(0x90)}, 3)
		}
		if c.State() != "peer" || neighbour(c, poser) || neighbour(c, fake) || c.AcceptReplica(nil, poser) {
			t.Fatalf("early=%v: state %s, succ %v pred %v", early, c.State(), c.Successors(), c.Predecessors())
		}
		if !neighbour(c, ap) || !neighbour(c, boot) {
			t.Fatalf("early=%v: the admitting peer's sets not taken: succ %v pred %v", early, c.Successors(), c.Predecessors())
		}
	}
}

// TestSelfCheckRejoins_Sec10_5: a peer asks its first successor, when it
// has a new one, where it routes the peer's own Node-ID; a successor that
// does not name the peer has not admitted it, and the peer sends it its
// Join directly.
func TestSelfCheckRejoins_Sec10_5(t *testing.T) {
	self, member, succ := nid(0x40), nid(0x20), nid(0x80)
	for _, known := range []bool{true, false} {
		c := admitting(t, self, member)
		sent(c, wire.CodeRouteQueryReq)
		// The member names succ; succ answers our Update and becomes
		// our first successor, which we ask.
		updateFrom(t, c, member, []wire.NodeID{succ}, []wire.NodeID{succ}, 9)
		var checks []topology.Outgoing
		for c.HasReady() {
			msgs := slices.Clone(c.Ready().Messages)
			c.Advance()
			for _, m := range msgs {
				switch {
				case m.Answer:
				case m.Code == wire.CodeUpdateReq:
					if err := c.Step(topology.Incoming{From: m.To, Code: wire.CodeUpdateAns, Body: enc(t, &wire.UpdateAns{}), Token: m.Token}); err != nil {
						t.Fatal(err)
					}
				case m.Code == wire.CodeRouteQueryReq && m.To == succ:
					checks = append(checks, m)
				}
			}
		}
		if c.Successors()[0] != succ || len(checks) != 1 {
			t.Fatalf("successors %v, self-checks %+v", c.Successors(), checks)
		}
		var q wire.RouteQueryReq
		if _, err := q.Decode(checks[0].Body); err != nil || q.Destination.Type != wire.DestResource || string(q.Destination.ID) != string(self.Bytes()) {
			t.Fatalf("self-check %+v (%v)", q, err)
		}
		next := succ // responsible itself: it does not know us
		if known {
			next = self
		}
		ans := wire.ChordRouteQueryAns{NextPeer: next, IDLen: 16}
		if err := c.Step(topology.Incoming{From: succ, Code: wire.CodeRouteQueryAns, Body: enc(t, &ans), Token: checks[0].Token}); err != nil {
			t.Fatal(err)
		}
		joins := sent(c, wire.CodeJoinReq)
		if known != (len(joins) == 0) {
			t.Fatalf("known=%v: Joins sent %+v", known, joins)
		}
		if !known {
			j := wire.JoinReq{IDLen: 16}
			if _, err := j.Decode(joins[0].Body); err != nil || joins[0].To != succ || j.JoiningPeerID != self || joins[0].Routed() {
				t.Fatalf("Join %+v (%v)", joins[0], err)
			}
		}
	}
}
