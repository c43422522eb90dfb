package chord

import (
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// Routes is an immutable copy of the routing state (RFC 6940 §10.3): the
// neighbour and finger tables as they were when Chord.Routes made it. It
// routes exactly as the plugin did then, and is safe for concurrent use,
// so that a host can publish it for transit routing while the plugin goes
// on changing on its own goroutine.
type Routes struct{ v view }

var _ topology.Routes = (*Routes)(nil)

// Route is Chord.Route at the time of the snapshot. It does not allocate.
func (r *Routes) Route(d *wire.Destination) (wire.NodeID, bool, error) { return r.v.Route(d) }

var _ topology.AnswerChecker = (*Routes)(nil)

// MayAnswer reports whether responder is at least as close to the
// Resource-ID target as every node of the Neighbor Table (successors and
// predecessors) was at the time of the snapshot (RFC 6940 §6.3.4). In
// CHORD-RELOAD the peer responsible for a point is the first at or after
// it clockwise (§10.3), so closeness is the clockwise distance from the
// target to the node.
func (r *Routes) MayAnswer(target []byte, responder wire.NodeID) bool {
	k := topology.Point(target, r.v.idLen)
	if responder == k {
		return true
	}
	closer := func(n wire.NodeID) bool { return n != k && topology.InOC(k, responder, n) }
	for _, n := range r.v.succ {
		if !closer(n) {
			return false
		}
	}
	for _, n := range r.v.pred {
		if !closer(n) {
			return false
		}
	}
	return true
}

// InTable is Chord.InTable at the time of the snapshot.
func (r *Routes) InTable(n wire.NodeID) bool { return r.v.inTable(n) }

// Routes returns a snapshot of the routing state. While the tables do not
// change it returns the same snapshot, so a host may call it after every
// input and publish the result only when it differs.
func (c *Chord) Routes() topology.Routes {
	if s := c.snap; s != nil && s.v.state == c.state && s.v.peer == c.peer &&
		slices.Equal(s.v.succ, c.succ) && slices.Equal(s.v.pred, c.pred) && slices.Equal(s.v.fingers, c.fingers) {
		return s
	}
	v := c.view()
	v.succ, v.pred, v.fingers = slices.Clone(v.succ), slices.Clone(v.pred), slices.Clone(v.fingers)
	c.snap = &Routes{v: v}
	return c.snap
}
