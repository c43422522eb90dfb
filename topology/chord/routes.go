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
