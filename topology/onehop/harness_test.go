package onehop_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/onehop"
	"github.com/goreload/reload/wire"
)

// net is a synchronous in-memory harness: it carries the plugins'
// messages as a host would (routed requests hop by hop with Route,
// answers back by token), and can fail nodes.
type net struct {
	t     testing.TB
	nodes map[wire.NodeID]*onehop.OneHop
	down  map[wire.NodeID]bool
	queue []msg
	txn   map[uint64]txn // host token -> origin
	tok   uint64
	sent  map[wire.MessageCode]int
	hops  []int // hops of routed requests
	evs   map[wire.NodeID][]topology.Event
}

type txn struct {
	from  wire.NodeID
	token uint64
}

type msg struct {
	from, to wire.NodeID
	in       topology.Incoming
}

func newNet(t testing.TB) *net {
	return &net{t: t, nodes: map[wire.NodeID]*onehop.OneHop{}, down: map[wire.NodeID]bool{}, txn: map[uint64]txn{},
		sent: map[wire.MessageCode]int{}, evs: map[wire.NodeID][]topology.Event{}}
}

func nid(b ...byte) wire.NodeID {
	var x [16]byte
	copy(x[:], b)
	return wire.MustNodeID(x[:])
}

func (n *net) add(id wire.NodeID) *onehop.OneHop {
	n.t.Helper()
	o, err := onehop.New(onehop.Config{ID: id, Rand: rand.New(rand.NewPCG(1, id.Uint64Prefix())), HostTimeouts: true, UpdateInterval: 10e9})
	if err != nil {
		n.t.Fatal(err)
	}
	n.nodes[id] = o
	return o
}

// pump collects Ready from every node until nothing is left.
func (n *net) pump() {
	for range 10000 {
		progress := false
		for _, id := range n.ids() {
			o := n.nodes[id]
			if n.down[id] || !o.HasReady() {
				continue
			}
			progress = true
			rd := o.Ready()
			n.evs[id] = append(n.evs[id], rd.Events...)
			for _, m := range rd.Messages {
				n.send(id, m)
			}
			o.Advance()
		}
		for len(n.queue) > 0 {
			progress = true
			m := n.queue[0]
			n.queue = n.queue[1:]
			if n.down[m.to] {
				continue
			}
			_ = n.nodes[m.to].Step(m.in)
		}
		if !progress {
			return
		}
	}
	n.t.Fatal("harness did not settle")
}

func (n *net) ids() []wire.NodeID {
	var out []wire.NodeID
	for id := range n.nodes {
		out = append(out, id)
	}
	slices.SortFunc(out, wire.NodeID.Compare)
	return out
}

func (n *net) send(from wire.NodeID, m topology.Outgoing) {
	n.sent[m.Code]++
	if m.Answer {
		t, ok := n.txn[m.Token]
		if !ok {
			return
		}
		delete(n.txn, m.Token)
		n.queue = append(n.queue, msg{from: from, to: t.from, in: topology.Incoming{From: from, Code: m.Code, Body: m.Body, Token: t.token}})
		return
	}
	to := m.To
	if m.Routed() {
		at := from
		if !m.Via.IsZero() {
			at = m.Via
		}
		hops := 1
		for {
			if n.down[at] {
				to = wire.NodeID{}
				break
			}
			next, local, err := n.nodes[at].Route(&m.Dest)
			if m.Code == wire.CodeJoinReq && at != from {
				// The admitting peer is the one responsible for the
				// joiner's Node-ID (§10.5: routed to n+1).
				var r wire.Destination = wire.ResourceDest(wire.ResourceID(m.Dest.ID))
				next, local, err = n.nodes[at].Route(&r)
			}
			if err != nil || local {
				if err != nil {
					to = wire.NodeID{}
				} else {
					to = at
				}
				break
			}
			at = next
			hops++
		}
		n.hops = append(n.hops, hops)
	}
	if to.IsZero() || n.down[to] || n.nodes[to] == nil {
		// The host's transaction gives up: an error with zero From.
		n.queue = append(n.queue, msg{to: from, in: topology.Incoming{Code: wire.CodeError, Body: errBody(wire.ErrCodeRequestTimeout), Token: m.Token}})
		return
	}
	n.tok++
	n.txn[n.tok] = txn{from: from, token: m.Token}
	n.queue = append(n.queue, msg{from: from, to: to, in: topology.Incoming{From: from, Code: m.Code, Body: m.Body, Token: n.tok}})
}

func errBody(c wire.ErrorCode) []byte {
	b, _ := (&wire.ErrorResponse{Code: c}).Append(nil)
	return b
}

// fail crashes id; every other node sees its link go down.
func (n *net) fail(id wire.NodeID) {
	n.down[id] = true
	for _, o := range n.ids() {
		if !n.down[o] {
			n.nodes[o].PeerFailed(id)
		}
	}
	n.pump()
}

func (n *net) tick(k int) {
	for range k {
		for _, id := range n.ids() {
			if !n.down[id] {
				n.nodes[id].Tick()
			}
		}
		n.pump()
	}
}

// live returns the live peers, ascending.
func (n *net) live() []wire.NodeID {
	var out []wire.NodeID
	for _, id := range n.ids() {
		if !n.down[id] && n.nodes[id].Joined() {
			out = append(out, id)
		}
	}
	return out
}

// owner is the true responsible peer for k among the live peers.
func (n *net) owner(k wire.NodeID) wire.NodeID {
	l := n.live()
	i, _ := slices.BinarySearchFunc(l, k, wire.NodeID.Compare)
	if i == len(l) {
		i = 0
	}
	return l[i]
}

// grow starts ids[0] and joins the others through it, one at a time.
func (n *net) grow(ids ...wire.NodeID) {
	n.t.Helper()
	for i, id := range ids {
		o := n.add(id)
		if i == 0 {
			if err := o.Start(); err != nil {
				n.t.Fatal(err)
			}
		} else if err := o.Join(ids[0]); err != nil {
			n.t.Fatal(err)
		}
		n.pump()
		n.tick(3)
	}
}

// checkFull checks that every live peer knows exactly the other live
// peers.
func (n *net) checkFull() {
	n.t.Helper()
	l := n.live()
	for _, id := range l {
		want := slices.DeleteFunc(slices.Clone(l), func(x wire.NodeID) bool { return x == id })
		if got := n.nodes[id].Members(); !slices.Equal(got, want) {
			n.t.Fatalf("%v members %v, want %v", id, got, want)
		}
	}
}
