package redir

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// DefaultBranchingFactor is the branching factor when the configuration
// has no redir:branching-factor (RFC 7374 §8).
const DefaultBranchingFactor = storage.DefaultBranchingFactor

// Tree is the shape of the ReDiR trees of an overlay (RFC 7374 §3): the
// branching factor b, the number of bits of a Node-ID and the overlay's
// hash. A Tree is a value; its methods are pure.
type Tree struct {
	// Branching is b, at least 2.
	Branching int
	// Bits is numBitsInNodeId, 8 times the overlay's Node-ID length.
	Bits int
	// Hash maps a resource name to its Resource-ID.
	Hash storage.HashFunc
}

// ErrTree reports a Tree that cannot be used.
var ErrTree = errors.New("redir: invalid tree parameters")

func (t Tree) check() error {
	if t.Branching < 2 || t.Branching > 1<<16 || t.Bits < 8 || t.Hash == nil {
		return fmt.Errorf("%w: branching factor %d, %d bits", ErrTree, t.Branching, t.Bits)
	}
	return nil
}

// MaxLevel is the deepest level the tree uses: the last whose b^level
// tree nodes can all be numbered by the uint16 node field of a
// RedirServiceProvider (§4.1), and not below the point where an interval
// is narrower than one identifier. With b = 10 it is 4; with b = 2 and
// 128-bit Node-IDs it is 16.
func (t Tree) MaxLevel() int {
	n, l := 1, 0
	for l < t.Bits && n*t.Branching <= 1<<16 {
		n *= t.Branching
		l++
	}
	return l
}

// Key is a Node-ID as a number of the identifier space.
func Key(id wire.NodeID) *big.Int { return new(big.Int).SetBytes(id.Bytes()) }

// Interval is the index of I(level,key) among the b^(level+1) intervals
// of level, counted from 0 at the left (§3). Two keys share an interval
// at a level iff their indices are equal.
func (t Tree) Interval(level int, key *big.Int) uint64 {
	return wire.RedirPosition(key, t.Bits, uint64(t.Branching), level+1).Uint64()
}

// Node is j of the tree node (level,j) responsible for I(level,key).
func (t Tree) Node(level int, key *big.Int) uint16 {
	return uint16(wire.RedirPosition(key, t.Bits, uint64(t.Branching), level).Uint64())
}

// ResourceID is where tree node (level,node) of namespace ns is stored,
// H(namespace,level,node) (§3, §6).
func (t Tree) ResourceID(ns string, level int, node uint16) wire.ResourceID {
	return t.Hash(wire.RedirResourceName([]byte(ns), uint16(level), node))
}

// extremes reports, for key at level, whether some entry of entries in
// key's interval is lower than key and whether one is higher. Entries
// equal to key do not count.
func (t Tree) extremes(level int, key *big.Int, entries []Provider) (lower, higher bool) {
	iv := t.Interval(level, key)
	for i := range entries {
		k := entries[i].key
		if t.Interval(level, k) != iv {
			continue
		}
		switch k.Cmp(key) {
		case -1:
			lower = true
		case 1:
			higher = true
		}
	}
	return lower, higher
}
