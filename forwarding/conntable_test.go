package forwarding

import (
	"testing"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// RFC 6940 §6.3.2.2: a compressed id is 1 | generation | slot index; it
// expands to its connection until the slot is reused (the generation
// moves on) or freed, and then the message MUST be dropped.
func TestConnTableCompressedIDs(t *testing.T) {
	tb := NewConnTable(newSeeded(9))
	la, lb := &transport.Link{}, &transport.Link{}
	tb.Add([]wire.NodeID{idA}, la)
	va, ok := tb.Compress(idA)
	if !ok || va&0x8000 == 0 {
		t.Fatalf("compress A: %x %v", va, ok)
	}
	if id, ok := tb.Expand(va); !ok || id != idA {
		t.Fatalf("expand: %v %v", id, ok)
	}
	if !tb.Connected(idA) || tb.Connected(idB) {
		t.Error("connected")
	}
	if l, ok := tb.Lookup(idA); !ok || l != la {
		t.Error("lookup")
	}
	tb.Add([]wire.NodeID{idB}, lb)
	vb, _ := tb.Compress(idB)
	if vb == va {
		t.Error("two connections share a compressed id")
	}
	if !tb.Remove(la) || tb.Connected(idA) {
		t.Fatal("remove")
	}
	if _, ok := tb.Expand(va); ok {
		t.Error("freed slot still expands")
	}
	if _, ok := tb.Expand(va &^ 0x8000); ok {
		t.Error("expanded an id without the top bit")
	}
	// Reuse every slot once: A's old slot comes round again with a new
	// generation.
	for i := 0; i < slotCount; i++ {
		id := wire.MustNodeID(append([]byte{0xee, byte(i >> 8), byte(i)}, make([]byte, 13)...))
		tb.Add([]wire.NodeID{id}, &transport.Link{})
	}
	if id, ok := tb.Expand(va); ok {
		t.Errorf("stale generation expanded to %v", id)
	}
	// Replacing a peer's link returns the old one.
	l2 := &transport.Link{}
	if old := tb.Add([]wire.NodeID{idB}, l2); len(old) != 1 || old[0] != lb {
		t.Errorf("replaced %v", old)
	}
}

// A link whose peer's certificate has several Node-IDs is tentative until
// the peer makes known which one it runs as (RFC 6940 §6.1.2): found
// under the Node-IDs no other link holds, never displacing a link, not a
// neighbour, and giving a Node-ID up to a link known to run as it.
func TestConnTableTentative(t *testing.T) {
	tab := NewConnTable(nil)
	a, b := idA, idB
	other, multi, twin := new(transport.Link), new(transport.Link), new(transport.Link)
	tab.Add([]wire.NodeID{a}, other)
	tab.AddTentative([]wire.NodeID{a, b}, multi)
	if l, _ := tab.Lookup(a); l != other {
		t.Fatal("a tentative link displaced a known one")
	}
	if l, _ := tab.Lookup(b); l != multi {
		t.Fatal("a tentative link is not found under a free Node-ID of its certificate")
	}
	if got := tab.Neighbors(); len(got) != 1 || got[0] != a {
		t.Fatalf("neighbours %v, want only %v", got, a)
	}
	if tab.Len() != 2 {
		t.Fatalf("Len %d, want 2", tab.Len())
	}
	// Another node with the same certificate, known to run as b.
	if replaced := tab.Add([]wire.NodeID{b}, twin); len(replaced) != 0 {
		t.Fatalf("a known link replaced tentative ones: %v", replaced)
	}
	if l, _ := tab.Lookup(b); l != twin {
		t.Fatal("the tentative link kept a Node-ID a known link runs as")
	}
	// The tentative link is bound to a (replacing the link there).
	if replaced := tab.Add([]wire.NodeID{a}, multi); len(replaced) != 1 || replaced[0] != other {
		t.Fatalf("binding replaced %v", replaced)
	}
	if l, _ := tab.Lookup(a); l != multi {
		t.Fatal("the bound link is not found under its Node-ID")
	}
	if !tab.Remove(multi) || tab.Len() != 1 {
		t.Fatalf("remove: %d links left", tab.Len())
	}
}
