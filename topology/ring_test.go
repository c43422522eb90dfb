package topology

import (
	"testing"

	"github.com/goreload/reload/wire"
)

func id(b ...byte) wire.NodeID {
	x := make([]byte, 16)
	copy(x, b)
	return wire.MustNodeID(x)
}

// TestRingIntervals_Sec10_1: "all arithmetic being done modulo 2^k".
func TestRingIntervals_Sec10_1(t *testing.T) {
	for _, tc := range []struct {
		a, x, b    wire.NodeID
		oc, oo, co bool
		name       string
	}{
		{id(0x10), id(0x20), id(0x30), true, true, true, "inside"},
		{id(0x10), id(0x30), id(0x30), true, false, false, "end"},
		{id(0x10), id(0x10), id(0x30), false, false, true, "start"},
		{id(0xf0), id(0x05), id(0x10), true, true, true, "wrapped"},
		{id(0xf0), id(0x80), id(0x10), false, false, false, "outside wrapped"},
		{id(0x10), id(0x80), id(0x10), true, true, true, "whole ring"},
		{id(0x10), id(0x10), id(0x10), true, false, true, "whole ring, endpoint"},
	} {
		if InOC(tc.a, tc.x, tc.b) != tc.oc || InOO(tc.a, tc.x, tc.b) != tc.oo || InCO(tc.a, tc.x, tc.b) != tc.co {
			t.Errorf("%s: got %v %v %v", tc.name, InOC(tc.a, tc.x, tc.b), InOO(tc.a, tc.x, tc.b), InCO(tc.a, tc.x, tc.b))
		}
	}
}

func TestAddPow2AndSub(t *testing.T) {
	if got := AddPow2(id(0x80), 127); got != id(0) {
		t.Errorf("0x80.. + 2^127 = %v", got)
	}
	x := AddPow2(id(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff), 0)
	if x != id(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0) {
		t.Errorf("carry: %v", x)
	}
	if got := Sub(id(0x10), id(0x20)); got != id(0xf0) {
		t.Errorf("0x10 - 0x20 = %v", got)
	}
	if got := Add(id(0xf0), id(0x20)); got != id(0x10) {
		t.Errorf("0xf0 + 0x20 = %v", got)
	}
}

// TestPointMapsResourceIDs: 128-bit Resource-IDs keep their place on a
// ring of longer Node-IDs.
func TestPointMapsResourceIDs(t *testing.T) {
	r := wire.ResourceIDFromName("alice")
	p16, p20 := Point(r, 16), Point(r, 20)
	if string(p16.Bytes()) != string(r) || string(p20.Bytes()[:16]) != string(r) || p20.Len() != 20 {
		t.Fatalf("Point: %v %v", p16, p20)
	}
}

// TestRangePPB_Sec6_4_2_5: responsible_ppb is the fraction of the ring.
func TestRangePPB_Sec6_4_2_5(t *testing.T) {
	for _, tc := range []struct {
		r    Range
		want uint32
	}{
		{Range{id(0x10), id(0x10)}, 1e9},
		{Range{id(0x00, 1), id(0x80, 1)}, 5e8},
		{Range{id(0xc0), id(0x00)}, 25e7},
		{Range{}, 0},
	} {
		if got := tc.r.PPB(); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.r, got, tc.want)
		}
	}
	in, out := id(0x05), id(0x50)
	if !(Range{id(0xc0), id(0x10)}).Contains(in.Bytes()) || (Range{id(0xc0), id(0x10)}).Contains(out.Bytes()) {
		t.Error("Contains")
	}
}
