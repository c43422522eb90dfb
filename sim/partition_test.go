package sim

import (
	"slices"
	"testing"

	"github.com/goreload/reload/wire"
)

// checkPartitions has every live peer run the partition detection of RFC
// 6940 §10.7.4.4 once: link to a bootstrap peer (one of boot(n) other than
// itself, in turn) and Ping its own Node-ID through it.
func (s *Sim) checkPartitions(boot func(wire.NodeID) []wire.NodeID, round int) {
	for _, n := range s.Nodes {
		if !n.Alive || n.Chord.State() != "peer" {
			continue
		}
		cands := slices.DeleteFunc(slices.Clone(boot(n.ID)), func(b wire.NodeID) bool { return b == n.ID })
		if len(cands) == 0 {
			continue
		}
		b := s.byID[cands[(round+int(n.index))%len(cands)]]
		if !b.Alive {
			continue
		}
		if !s.linked(n, b.index) {
			s.connect(n, b)
		}
		n.Host.CheckPartition(b.ID)
		s.process(n)
	}
}

// TestPartitionHeals_Sec10_7_4_4: two rings of 16 peers each, founded by
// two bootstrap peers that could not reach each other (a partition, or
// two first nodes), merge into one ring once each peer periodically
// Pings its own Node-ID through a bootstrap peer (§10.7.4.4) and
// Updates the unknown peer that answers. In the two-sided case every
// peer checks through either founder; in the one-sided case only the
// second ring's peers can reach the other ring (their bootstrap node is
// the first ring's founder, whose ring knows no bootstrap node of
// theirs), as after a seed lost every link and founded a ring again.
func TestPartitionHeals_Sec10_7_4_4(t *testing.T) {
	for _, tc := range []struct {
		name    string
		oneSide bool
		seeds   []uint64
	}{
		{"two-sided", false, []uint64{11, 12, 13, 14}},
		{"one-sided", true, []uint64{11, 12, 13, 14}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, seed := range tc.seeds {
				partitionHeals(t, seed, tc.oneSide)
			}
		})
	}
}

func partitionHeals(t *testing.T, seed uint64, oneSide bool) {
	t.Helper()
	s := New(Config{Seed: seed})
	var a, b []wire.NodeID
	for i := range 32 {
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			a = append(a, id)
		} else {
			b = append(b, id)
		}
	}
	for _, ring := range [][]wire.NodeID{a, b} {
		if err := s.Start(ring[0]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 16; i++ {
		for _, ring := range [][]wire.NodeID{a, b} {
			if err := s.Join(ring[i], ring[0]); err != nil {
				t.Fatal(err)
			}
		}
		s.Run(5)
	}
	s.Run(500)
	if ok, bad := s.Converged(3, 3); bad == nil && ok > 0 {
		t.Fatal("two separate rings taken for one")
	}
	if len(s.Peers()) != 32 {
		t.Fatalf("%d peers, want 32", len(s.Peers()))
	}
	boot := func(wire.NodeID) []wire.NodeID { return []wire.NodeID{a[0], b[0]} }
	if oneSide {
		boot = func(wire.NodeID) []wire.NodeID { return []wire.NodeID{a[0]} }
	}
	t0 := s.Now
	round := 0
	healed := s.RunUntil(3000, 10, func() bool {
		if (s.Now-t0)%50 == 0 {
			s.checkPartitions(boot, round)
			round++
		}
		ok, bad := s.Converged(3, 3)
		return bad == nil && ok == 32
	})
	if !healed {
		ok, bad := s.Converged(3, 3)
		succ, pred := s.Expected(bad.ID, 3, 3)
		t.Errorf("seed %d: not healed after %d ticks: %d ok; %v has succ %v pred %v, want %v %v", seed, s.Now-t0, ok, bad.ID,
			bad.Chord.Successors(), bad.Chord.Predecessors(), succ, pred)
		return
	}
	t.Logf("seed %d: two rings of 16 healed into one in %d ticks (%d partition check rounds, one every 50 ticks)", seed, s.Now-t0, round)
}

// TestSimultaneousStart_Sec10_5: 16 nodes start at the same tick, none
// configured as the seed: three are the overlay's bootstrap nodes
// (potential first nodes, RFC 6940 §6.4.2.1) and every node joins through
// them (§10.5, §11.4). The bootstrap node with the smallest Node-ID
// founds the ring after a round of refused Joins, the others join it, and
// the ring converges in about the time of a few request timeouts.
func TestSimultaneousStart_Sec10_5(t *testing.T) {
	s := New(Config{Seed: 5})
	ids := make([]wire.NodeID, 16)
	for i := range ids {
		ids[i] = s.RandomID()
		n, err := s.Add(ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			n.Chord.SetFirstNode(true)
		}
	}
	boot := ids[:3]
	for _, id := range ids {
		via := slices.DeleteFunc(slices.Clone(boot), func(b wire.NodeID) bool { return b == id })
		if err := s.Join(id, via...); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Settle(3, 3, 3000) {
		ok, bad := s.Converged(3, 3)
		t.Fatalf("not converged after %d ticks: %d ok; %v is %s", s.Now, ok, bad.ID, bad.Chord.State())
	}
	founded := 0
	for _, id := range ids {
		founded += int(s.Node(id).Chord.Stats().Founded)
	}
	if founded != 1 {
		t.Errorf("%d nodes founded a ring, want 1", founded)
	}
	t.Logf("16 nodes started together converged at tick %d (request timeout %d ticks)", s.Now, s.Timeout())
}
