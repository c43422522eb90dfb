package sim

import (
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// Lookup is a routed probe message sent to find the peer responsible for
// Key. At is the node that declared itself responsible (local), OK
// whether that is the responsible peer of the live ring at arrival.
type Lookup struct {
	From   wire.NodeID
	Key    wire.NodeID
	Issued int64
	Done   bool
	OK     bool
	At     wire.NodeID
	Hops   int
	Path   []wire.NodeID
	// Lost says why an unfinished lookup stopped ("" while in flight).
	Lost string
}

// Exchange is a request injected with Request; Done is set when its
// answer (Code, Body, From) comes back.
type Exchange struct {
	Done bool
	From wire.NodeID
	Code wire.MessageCode
	Body []byte
}

// Lookup sends a lookup for key from node from; it is routed hop by hop
// with every node's routing snapshot and completes at the node that says
// local. It reaches no host.
func (s *Sim) Lookup(from wire.NodeID, key []byte) *Lookup {
	k := topology.Point(key, s.cfg.IDLen)
	l := &Lookup{From: from, Key: k, Issued: s.Now}
	n := s.byID[from]
	e := &envelope{kind: envRequest, origin: n.index, lookup: l, path: []int32{n.index},
		dest: []wire.Destination{wire.ResourceDest(wire.ResourceID(slices.Clone(k.Bytes())))}}
	s.route(n, e)
	return l
}

// Request injects a request with body from node from, as a driver would
// send it: directly to to, over a link it sets up first when there is
// none (both hosts hear LinkUp), or, when dest is not nil, routed to
// dest starting at from. The answer is captured in the returned Exchange
// instead of being given to from's host.
func (s *Sim) Request(from, to wire.NodeID, dest *wire.Destination, code wire.MessageCode, body []byte) *Exchange {
	x := &Exchange{}
	if dest != nil {
		s.inject(from, nil, x, code, body, *dest)
		return x
	}
	n, t := s.byID[from], s.byID[to]
	if n.Alive && t.Alive && !s.isCut(n.index, t.index) {
		s.connect(n, t)
	}
	s.Stats.Originated++
	e := &envelope{kind: envRequest, req: code, code: code, body: body, origin: n.index, dest: []wire.Destination{wire.NodeDest(&to)},
		path: []int32{n.index}, issued: s.Now, xchg: x}
	e.from, e.to = n.index, t.index
	s.send(e)
	return x
}

// ringSync keeps the cached ring in step with node n: n is in it exactly
// when it is alive and a peer. It costs a binary search (and a move of
// the tail of the ring when n enters or leaves), not a rebuild.
func (s *Sim) ringSync(n *Node) {
	if s.ring == nil {
		return
	}
	in := n.Alive && n.State() == "peer"
	i, found := slices.BinarySearchFunc(s.ring, n.ID, wire.NodeID.Compare)
	switch {
	case in && !found:
		s.ring = slices.Insert(s.ring, i, n.ID)
	case !in && found:
		s.ring = slices.Delete(s.ring, i, i+1)
	}
}

// Peers returns the live peers of the ring in ascending Node-ID order.
// The slice is the simulator's cache: it changes as peers come and go, so
// clone it to keep it.
func (s *Sim) Peers() []wire.NodeID {
	if s.ring == nil {
		s.ring = []wire.NodeID{}
		for _, n := range s.Nodes {
			if n.Alive && n.State() == "peer" {
				s.ring = append(s.ring, n.ID)
			}
		}
		slices.SortFunc(s.ring, wire.NodeID.Compare)
	}
	return s.ring
}

// ResponsibleFor is the brute-force responsible peer for key on the live
// ring: the first peer at or after it (§10.1).
func (s *Sim) ResponsibleFor(key []byte) wire.NodeID {
	ring := s.Peers()
	if len(ring) == 0 {
		return wire.NodeID{}
	}
	k := topology.Point(key, s.cfg.IDLen)
	i, _ := slices.BinarySearchFunc(ring, k, wire.NodeID.Compare)
	return ring[i%len(ring)]
}

// ReplicaPeers is the brute-force responsible peer of key on the live
// ring followed by the next n live peers (§10.1, §10.4).
func (s *Sim) ReplicaPeers(key []byte, n int) []wire.NodeID {
	ring := s.Peers()
	if len(ring) == 0 {
		return nil
	}
	k := topology.Point(key, s.cfg.IDLen)
	i, _ := slices.BinarySearchFunc(ring, k, wire.NodeID.Compare)
	out := make([]wire.NodeID, 0, n+1)
	for j := 0; j <= n && j < len(ring); j++ {
		out = append(out, ring[(i+j)%len(ring)])
	}
	return out
}

// Expected returns the brute-force successor and predecessor sets of id
// (sizes ns and np) on the live ring.
func (s *Sim) Expected(id wire.NodeID, ns, np int) (succ, pred []wire.NodeID) {
	ring := s.Peers()
	i, found := slices.BinarySearchFunc(ring, id, wire.NodeID.Compare)
	if !found {
		return nil, nil
	}
	m := len(ring)
	for k := 1; k <= ns && k < m; k++ {
		succ = append(succ, ring[(i+k)%m])
	}
	for k := 1; k <= np && k < m; k++ {
		pred = append(pred, ring[(i-k+m)%m])
	}
	return succ, pred
}

// Converged reports how many live peers have exactly the brute-force
// successor and predecessor sets, and the first that does not (or that is
// still joining).
func (s *Sim) Converged(ns, np int) (ok int, bad *Node) {
	ring := s.Peers()
	m := len(ring)
	for _, n := range s.Nodes {
		if !n.Alive {
			continue
		}
		st := n.State()
		if st == "joining" && bad == nil {
			bad = n
		}
		if st != "peer" {
			continue
		}
		i, found := slices.BinarySearchFunc(ring, n.ID, wire.NodeID.Compare)
		if found && matches(ring, i, ns, 1, n.Plugin.Successors()) && matches(ring, i, np, m-1, n.Plugin.Predecessors()) {
			ok++
		} else if bad == nil {
			bad = n
		}
	}
	return ok, bad
}

// matches reports whether set is the k nearest entries of ring from i in
// steps of step (1: successors, len-1: predecessors), without
// allocating.
func matches(ring []wire.NodeID, i, k, step int, set []wire.NodeID) bool {
	m := len(ring)
	want := min(k, m-1)
	if len(set) != want {
		return false
	}
	for j := range want {
		i = (i + step) % m
		if set[j] != ring[i] {
			return false
		}
	}
	return true
}

// Grow adds n nodes with random Node-IDs. If the ring is empty the first
// one starts it; each other joins, one every 'every' ticks, through a
// random live peer.
func (s *Sim) Grow(n int, every int64) []wire.NodeID {
	ids := make([]wire.NodeID, 0, n)
	for range n {
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			panic(err)
		}
		ids = append(ids, id)
		peers := s.Peers()
		if len(peers) == 0 {
			if err := s.Start(id); err != nil {
				panic(err)
			}
		} else if err := s.Join(id, peers[s.Rand.IntN(len(peers))]); err != nil {
			panic(err)
		}
		s.Run(every)
	}
	return ids
}

// Settle runs until the live ring has converged to the brute-force
// neighbour sets of size ns and np, at most max ticks.
func (s *Sim) Settle(ns, np int, max int64) bool {
	return s.RunUntil(max, 10, func() bool {
		ok, bad := s.Converged(ns, np)
		return bad == nil && ok > 0
	})
}

// Lookups issues count lookups for random keys from random live peers and
// runs until they complete (at most max ticks). It returns them.
func (s *Sim) Lookups(count int, max int64) []*Lookup {
	peers := s.Peers()
	ls := make([]*Lookup, 0, count)
	for range count {
		k := s.RandomID()
		ls = append(ls, s.Lookup(peers[s.Rand.IntN(len(peers))], k.Bytes()))
	}
	s.RunUntil(max, 1, func() bool {
		for _, l := range ls {
			if !l.Done && l.Lost == "" {
				return false
			}
		}
		return true
	})
	return ls
}

// LookupStats summarises lookups: how many reached the responsible peer,
// and their mean hop count.
func LookupStats(ls []*Lookup) (ok int, meanHops float64) {
	hops := 0
	for _, l := range ls {
		if l.OK {
			ok++
			hops += l.Hops
		}
	}
	if ok > 0 {
		meanHops = float64(hops) / float64(ok)
	}
	return ok, meanHops
}
