package sim

import (
	"testing"
)

func TestSmoke(t *testing.T) {
	s := New(Config{Seed: 1})
	var ids = make([]*Node, 0)
	for range 50 {
		n, _ := s.Add(s.RandomID())
		ids = append(ids, n)
	}
	s.Start(ids[0].ID)
	for i := 1; i < len(ids); i++ {
		s.Join(ids[i].ID, ids[0].ID)
		s.Run(3)
	}
	s.Run(200)
	ok, bad := s.Converged(3, 3)
	t.Logf("converged %d/%d stats %+v", ok, len(s.Peers()), s.Stats)
	if bad != nil {
		su, pr := s.Expected(bad.ID, 3, 3)
		t.Logf("bad %v state %s succ %v want %v pred %v want %v", bad.ID, bad.Chord.State(), bad.Chord.Successors(), su, bad.Chord.Predecessors(), pr)
	}
	okc := 0
	hops := 0
	var ls []*Lookup
	for range 1000 {
		from := ids[s.Rand.IntN(len(ids))].ID
		k := s.RandomID()
		ls = append(ls, s.Lookup(from, k.Bytes()))
	}
	s.Run(100)
	for _, l := range ls {
		if l.OK {
			okc++
			hops += l.Hops
		}
	}
	t.Logf("lookups ok %d mean hops %.2f", okc, float64(hops)/float64(okc))
}
