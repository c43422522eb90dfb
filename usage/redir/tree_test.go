package redir

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// nib is the 128-bit Node-ID whose top four bits are k and the rest 0:
// in a tree of branching factor 2 it sits at levels 0 to 3 exactly where
// key k sits in the 4-bit identifier space of RFC 7374's figures.
func nib(k byte) wire.NodeID {
	b := make([]byte, 16)
	b[0] = k << 4
	return wire.MustNodeID(b)
}

// TestTreeIntervals: RFC 7374 §3 Figures 2 and 3 (branching factor 2,
// identifier space 16): the intervals of levels 0 and 1 and the tree
// node responsible for a key.
func TestTreeIntervals(t *testing.T) {
	tr := Tree{Branching: 2, Bits: 128, Hash: storage.ChordHash}
	for _, c := range []struct {
		key          byte
		level        int
		node         uint16
		interval     uint64
		intervalText string
	}{
		{0, 0, 0, 0, "[0,7]"}, {7, 0, 0, 0, "[0,7]"}, {8, 0, 0, 1, "[8,15]"}, {15, 0, 0, 1, "[8,15]"},
		{3, 1, 0, 0, "[0,3]"}, {4, 1, 0, 1, "[4,7]"}, {11, 1, 1, 2, "[8,11]"}, {12, 1, 1, 3, "[12,15]"},
		{2, 2, 0, 1, "I(2,2): second interval of the first node (§7.1)"},
		{5, 2, 1, 2, "I(2,5): third interval, second node (§7.2)"},
		{5, 3, 2, 5, "I(3,5): in the third node from the left (§7.2)"},
	} {
		k := Key(nib(c.key))
		if n, iv := tr.Node(c.level, k), tr.Interval(c.level, k); n != c.node || iv != c.interval {
			t.Errorf("key %d level %d %s: node %d interval %d, want node %d interval %d", c.key, c.level, c.intervalText, n, iv, c.node, c.interval)
		}
	}
	if got := (Tree{Branching: 10, Bits: 128}).MaxLevel(); got != 4 {
		t.Errorf("MaxLevel(b=10) = %d, want 4", got)
	}
	if got := (Tree{Branching: 2, Bits: 128}).MaxLevel(); got != 16 {
		t.Errorf("MaxLevel(b=2) = %d, want 16", got)
	}
	// H(namespace,level,j): the root of the voice-mail tree is stored at
	// H("voice-mail",0,0) (§3).
	if got, want := tr.ResourceID("voice-mail", 0, 0), storage.ChordHash([]byte("voice-mail\x00\x00\x00\x00")); !slices.Equal(got, want) {
		t.Errorf("root Resource-ID %v, want %v", got, want)
	}
}

// TestRegistrationExample replays RFC 7374 §7.1: peers 2, 3, 7 and 4
// register in that order from Lstart = 2, and the tree ends as in
// Figure 4. Then §7.2: peer 5 finds peer 7 from level 2 with one Fetch,
// and from level 3 with two.
func TestRegistrationExample(t *testing.T) {
	m := newMemTree()
	const ns = "voice-mail"
	ctx := context.Background()
	var tr Tree
	for _, k := range []byte{2, 3, 7, 4} {
		c, err := New(&fakeNode{t: m, id: nib(k)}, Config{Branching: 2})
		if err != nil {
			t.Fatal(err)
		}
		tr = c.Tree()
		if _, err := c.Register(ctx, ns, nil); err != nil {
			t.Fatal(err)
		}
	}
	figure4 := []struct {
		level int
		node  uint16
		keys  []byte
	}{
		{0, 0, []byte{2, 3, 4, 7}},
		{1, 0, []byte{2, 3, 4, 7}}, {1, 1, nil},
		{2, 0, []byte{2, 3}}, {2, 1, []byte{4, 7}}, {2, 2, nil}, {2, 3, nil},
		{3, 0, nil}, {3, 1, []byte{3}}, {3, 2, nil}, {3, 3, nil},
	}
	for _, f := range figure4 {
		var got []byte
		for _, id := range m.contents(tr, ns, f.level, f.node) {
			got = append(got, id.Bytes()[0]>>4)
		}
		slices.Sort(got)
		if !slices.Equal(got, f.keys) {
			t.Errorf("tree node (%d,%d) holds %v, want %v (Figure 4)", f.level, f.node, got, f.keys)
		}
	}
	for _, c := range []struct {
		start, fetches int
	}{{2, 1}, {3, 2}} {
		cl, _ := New(&fakeNode{t: m, id: nib(5)}, Config{Branching: 2, StartLevel: c.start})
		res, err := cl.Lookup(ctx, ns, nib(5))
		if err != nil {
			t.Fatal(err)
		}
		if res.Provider.NodeID != nib(7) || res.Level != 2 || res.Stats.Fetches != c.fetches || res.Cached {
			t.Errorf("lookup of 5 from level %d: %v at level %d after %d fetches (cached %v), want 7 at level 2 after %d",
				c.start, res.Provider.NodeID, res.Level, res.Stats.Fetches, res.Cached, c.fetches)
		}
	}
	// A key above every provider wraps around to the lowest one, found in
	// the root (§4.5: no successor in the tree).
	cl, _ := New(&fakeNode{t: m, id: nib(9)}, Config{Branching: 2})
	if res, err := cl.Lookup(ctx, ns, nib(9)); err != nil || res.Provider.NodeID != nib(2) || res.Level != 0 {
		t.Errorf("lookup of 9: %+v, %v; want 2 from the root", res, err)
	}
	// A provider is its own successor.
	if res, err := cl.Lookup(ctx, ns, nib(4)); err != nil || res.Provider.NodeID != nib(4) {
		t.Errorf("lookup of 4: %+v, %v", res, err)
	}
	if _, err := cl.Lookup(ctx, "turn-server", nib(4)); err == nil {
		t.Error("lookup in an empty namespace found a provider")
	}
	if _, err := cl.Register(ctx, "", nil); err == nil {
		t.Error("empty namespace accepted")
	}
	if _, err := New(&fakeNode{t: m, id: nib(1)}, Config{Branching: 1 << 17}); err == nil {
		t.Error("branching factor 2^17 accepted")
	}
}

// TestKeepAndRemove: Keep repeats the registration before the records'
// lifetime ends (§4.4) and, when told to, removes them when it stops
// (§4.6).
func TestKeepAndRemove(t *testing.T) {
	m := newMemTree()
	c, err := New(&fakeNode{t: m, id: nib(3)}, Config{Branching: 2, Lifetime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		c.Keep(ctx, "voice-mail", nil, nil, true, func(_ *Registration, err error) { passes <- err })
		close(done)
	}()
	for i := range 3 {
		select {
		case err := <-passes:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("pass %d did not come", i)
		}
	}
	if m.entries() == 0 {
		t.Fatal("nothing stored")
	}
	cancel()
	<-done
	if n := m.entries(); n != 0 {
		t.Fatalf("%d records left after removal", n)
	}
}
