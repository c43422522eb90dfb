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
