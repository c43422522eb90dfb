package chord

import (
	"testing"

	"github.com/goreload/reload/wire"
)

// RFC 6940 §6.3.4 rule 2: the answer to a request sent to a Resource-ID
// must come from a node at least as close to it (clockwise, §10.3) as
// every node of the Neighbor Table.
func TestMayAnswer(t *testing.T) {
	self := pt(0x00)
	r := &Routes{v: view{id: self, idLen: wire.DefaultNodeIDLen, state: statePeer,
		succ: []wire.NodeID{pt(0x10), pt(0x20)}, pred: []wire.NodeID{pt(0xf0), pt(0xe0)},
		fingers: []wire.NodeID{pt(0x40), pt(0x80)}}}
	res := func(b byte) []byte { id := pt(b); return id.Bytes() }
	for _, c := range []struct {
		target    byte
		responder wire.NodeID
		ok        bool
	}{
		{0x18, pt(0x20), true},  // the successor responsible for it
		{0x18, pt(0x1c), true},  // a node between it and the successor we know
		{0x18, pt(0x18), true},  // a node at the point itself
		{0x18, pt(0x10), false}, // before the point: the farthest of all
		{0x18, pt(0x40), false}, // a finger beyond the successor
		{0x50, pt(0x80), true},  // far away: every neighbour is farther
		{0x50, pt(0x40), false}, // a finger just before the point
		{0xe8, pt(0xf0), true},  // between the predecessors
		{0xe8, pt(0x00), false}, // self is not in the table, f0 is closer
	} {
		if got := r.MayAnswer(res(c.target), c.responder); got != c.ok {
			t.Errorf("target %02x responder %v: MayAnswer %v, want %v", c.target, c.responder, got, c.ok)
		}
	}
	// No neighbours (a joining node): anyone.
	lone := &Routes{v: view{id: self, idLen: wire.DefaultNodeIDLen}}
	if !lone.MayAnswer(res(0x18), pt(0x10)) {
		t.Error("a node without neighbours refused an answer")
	}
}

func pt(b byte) wire.NodeID {
	var x [wire.DefaultNodeIDLen]byte
	x[0] = b
	return wire.MustNodeID(x[:])
}
