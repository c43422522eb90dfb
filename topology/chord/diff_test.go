package chord_test

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// bruteRing is an independent model of the ring: Node-IDs as big
// integers, sorted, with every rule of §10 computed by brute force.
type bruteRing struct {
	idLen int
	mod   *big.Int
	ids   []*big.Int // sorted
}

func newBruteRing(ids []wire.NodeID) *bruteRing {
	r := &bruteRing{idLen: ids[0].Len(), mod: new(big.Int).Lsh(big.NewInt(1), uint(8*ids[0].Len()))}
	for _, id := range ids {
		r.ids = append(r.ids, new(big.Int).SetBytes(id.Bytes()))
	}
	slices.SortFunc(r.ids, func(a, b *big.Int) int { return a.Cmp(b) })
	return r
}

func (r *bruteRing) node(x *big.Int) wire.NodeID {
	b := make([]byte, r.idLen)
	return wire.MustNodeID(x.FillBytes(b))
}

func (r *bruteRing) big(id wire.NodeID) *big.Int { return new(big.Int).SetBytes(id.Bytes()) }

// dist is (b - a) mod 2^bits, the clockwise distance from a to b.
func (r *bruteRing) dist(a, b *big.Int) *big.Int {
	d := new(big.Int).Sub(b, a)
	return d.Mod(d, r.mod)
}

// successor is the first peer other than self at or after x.
func (r *bruteRing) successor(x, self *big.Int) *big.Int {
	var best *big.Int
	for _, n := range r.ids {
		if n.Cmp(self) == 0 {
			continue
		}
		if best == nil || r.dist(x, n).Cmp(r.dist(x, best)) < 0 {
			best = n
		}
	}
	return best
}

func (r *bruteRing) index(self *big.Int) int {
	i, _ := slices.BinarySearchFunc(r.ids, self, func(a, b *big.Int) int { return a.Cmp(b) })
	return i
}

func (r *bruteRing) neighbors(self *big.Int, ns, np int) (succ, pred []wire.NodeID) {
	i, m := r.index(self), len(r.ids)
	for k := 1; k <= ns && k < m; k++ {
		succ = append(succ, r.node(r.ids[(i+k)%m]))
	}
	for k := 1; k <= np && k < m; k++ {
		pred = append(pred, r.node(r.ids[(i-k+m)%m]))
	}
	return succ, pred
}

// fingers: finger i is the first peer other than self at or after
// self + 2^(bits-i) (§10.5).
func (r *bruteRing) fingers(self *big.Int, n int) []wire.NodeID {
	out := make([]wire.NodeID, n)
	if len(r.ids) == 1 {
		return out
	}
	for i := 1; i <= n; i++ {
		start := new(big.Int).Lsh(big.NewInt(1), uint(8*r.idLen-i))
		start.Add(start, self).Mod(start, r.mod)
		out[i-1] = r.node(r.successor(start, self))
	}
	return out
}

// responsible is the peer responsible for k: the first at or after k.
func (r *bruteRing) responsible(k *big.Int) *big.Int {
	i, _ := slices.BinarySearchFunc(r.ids, k, func(a, b *big.Int) int { return a.Cmp(b) })
	return r.ids[i%len(r.ids)]
}

// nextHop is §10.3 over the brute-force tables of self; strict selects
// the literal rule, otherwise the neighbour-table last hop applies.
func (r *bruteRing) nextHop(self, k *big.Int, isNode, strict bool, succ, pred, fingers []wire.NodeID) (wire.NodeID, bool) {
	if isNode && k.Cmp(self) == 0 {
		return wire.NodeID{}, true
	}
	table := slices.Concat(succ, pred, fingers)
	if isNode && slices.Contains(table, r.node(k)) {
		return r.node(k), false
	}
	if r.responsible(k).Cmp(self) == 0 {
		return wire.NodeID{}, true
	}
	if !strict {
		resp := r.responsible(k)
		last := r.big(succ[len(succ)-1])
		if r.dist(self, k).Cmp(r.dist(self, last)) <= 0 {
			return r.node(resp), false
		}
		far := r.big(pred[len(pred)-1])
		if r.dist(far, k).Cmp(r.dist(far, self)) <= 0 && resp.Cmp(self) != 0 {
			return r.node(resp), false
		}
	}
	var best, after *big.Int
	for _, id := range table {
		n := r.big(id)
		if d := r.dist(self, n); d.Sign() > 0 && d.Cmp(r.dist(self, k)) <= 0 {
			if best == nil || d.Cmp(r.dist(self, best)) > 0 {
				best = n
			}
		} else if after == nil || r.dist(k, n).Cmp(r.dist(k, after)) < 0 {
			after = n
		}
	}
	if best != nil {
		return r.node(best), false
	}
	return r.node(after), false
}

// knowing returns a started peer self that knows the whole ring: it
// admitted every other peer of ids through a Join (§10.5 steps 5-7), in
// clockwise order from self, so that each is in its responsible range
// when it joins (§6.4.2.1).
func knowing(t *testing.T, ids []wire.NodeID, self wire.NodeID, strict bool) *chord.Chord {
	t.Helper()
	cfg := chord.DefaultConfig(self, rand.New(rand.NewPCG(1, 2)))
	cfg.StrictRouting = strict
	c, err := chord.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	order := slices.Clone(ids)
	slices.SortFunc(order, func(a, b wire.NodeID) int {
		return topology.Sub(a, self).Compare(topology.Sub(b, self))
	})
	for i, id := range order {
		if id == self {
			continue
		}
		j := wire.JoinReq{JoiningPeerID: id, IDLen: id.Len()}
		body, _ := j.Append(nil)
		if err := c.Step(topology.Incoming{From: id, Code: wire.CodeJoinReq, Body: body, Token: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		c.Ready()
		c.Advance()
	}
	return c
}

func randomIDs(r *rand.Rand, n, idLen int) []wire.NodeID {
	seen := map[wire.NodeID]bool{}
	var ids []wire.NodeID
	for len(ids) < n {
		b := make([]byte, idLen)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(8) == 0 { // cluster some ids to exercise tiny gaps
			b[idLen-1] = 1
		}
		id := wire.MustNodeID(b)
		if !seen[id] && id.Valid() && !id.IsWildcard() {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// TestDifferentialFingersAndNextHop_Sec10_3_Sec10_5 compares a peer that
// knows the whole ring with a brute-force model: the neighbour sets (3
// nearest each way, §10.7), finger i = first peer at or after
// id + 2^(bits-i) (§10.5), responsibility (§10.1), and the next hop for
// resource and node destinations under the §10.3 rule, literal and with the
// neighbour-table last hop.
func TestDifferentialFingersAndNextHop_Sec10_3_Sec10_5(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct{ n, idLen int }{{2, 16}, {3, 16}, {4, 16}, {5, 16}, {8, 16}, {40, 16}, {300, 16}, {50, 20}, {17, 18}} {
		ids := randomIDs(r, tc.n, tc.idLen)
		ring := newBruteRing(ids)
		for _, strict := range []bool{false, true} {
			for _, self := range ids[:min(len(ids), 4)] {
				c := knowing(t, ids, self, strict)
				sb := ring.big(self)
				succ, pred := ring.neighbors(sb, 3, 3)
				if !slices.Equal(c.Successors(), succ) || !slices.Equal(c.Predecessors(), pred) {
					t.Fatalf("n=%d %v: succ %v pred %v, want %v %v", tc.n, self, c.Successors(), c.Predecessors(), succ, pred)
				}
				fingers := ring.fingers(sb, chord.DefaultFingers)
				if got, want := c.FingerTable(), fingers; !slices.Equal(got, want) {
					t.Fatalf("n=%d %v: fingers\n got %v\nwant %v", tc.n, self, got, want)
				}
				var keys []*big.Int
				for range 200 {
					b := make([]byte, tc.idLen)
					for i := range b {
						b[i] = byte(r.Uint32())
					}
					keys = append(keys, new(big.Int).SetBytes(b))
				}
				for _, id := range ids {
					x := ring.big(id)
					keys = append(keys, x, new(big.Int).Add(x, big.NewInt(1)), new(big.Int).Sub(x, big.NewInt(1)))
				}
				for _, k := range keys {
					k.Mod(k, ring.mod)
					kid := ring.node(k)
					for _, isNode := range []bool{false, true} {
						d := wire.ResourceDest(wire.ResourceID(kid.Bytes()))
						if isNode {
							if !kid.Valid() {
								continue
							}
							d = wire.NodeDest(&kid)
						}
						next, local, err := c.Route(&d)
						if err != nil {
							t.Fatal(err)
						}
						wnext, wlocal := ring.nextHop(sb, k, isNode, strict, succ, pred, fingers)
						if next != wnext || local != wlocal {
							t.Fatalf("n=%d strict=%v self %v key %v node=%v: next %v local %v, want %v %v",
								tc.n, strict, self, kid, isNode, next, local, wnext, wlocal)
						}
						if !isNode && c.Responsible(kid.Bytes()) != (ring.responsible(k).Cmp(sb) == 0) {
							t.Fatalf("responsible(%v) wrong at %v", kid, self)
						}
					}
				}
			}
		}
	}
}
