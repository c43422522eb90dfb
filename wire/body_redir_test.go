package wire

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

// redirGolden is a RedirServiceProvider of type none for namespace
// "voice-mail" at tree node (2,17), routed to one Node-ID, hand-built from
// RFC 7374 §4.1.
const redirGolden = "00" + // type none
	"0012" + "01" + "10" + "0102030405060708090a0b0c0d0e0f10" + // destination_list: one node Destination
	"000a" + "766f6963652d6d61696c" + // namespace "voice-mail"
	"0002" + "0011" + // level 2, node 17
	"0000" // length 0, no extension

func wantRedirGolden() RedirServiceProvider {
	id := MustNodeID([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	return RedirServiceProvider{Type: RedirExtNone, Destinations: []Destination{NodeDest(&id)},
		Namespace: []byte("voice-mail"), Level: 2, Node: 17, Extension: []byte{}}
}

func TestDecodeRedirServiceProvider(t *testing.T) {
	b := usageHex(t, redirGolden)
	var p RedirServiceProvider
	n, err := p.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	want := wantRedirGolden()
	if !equalish(&p, &want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	// An unknown extension type is kept with its bytes (RFC 7374 §4.1:
	// "Unknown types are allowed").
	ext := usageCat([]byte{7}, b[1:len(b)-2], []byte{0, 3, 'a', 'b', 'c'})
	if _, err := p.Decode(ext); err != nil {
		t.Fatal(err)
	}
	if p.Type != 7 || string(p.Extension) != "abc" || p.Type.String() == "none" {
		t.Fatalf("unknown extension: %+v", p)
	}
	checkRoundTrip[RedirServiceProvider](t, ext)
}

func TestAppendRedirServiceProvider(t *testing.T) {
	p := wantRedirGolden()
	b, err := p.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, usageHex(t, redirGolden)) || len(b) != p.Len() {
		t.Fatalf("Append = %x (Len %d)", b, p.Len())
	}
	long := RedirServiceProvider{Namespace: make([]byte, 0x10000)}
	if _, err := long.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long namespace: %v", err)
	}
	long = RedirServiceProvider{Extension: make([]byte, 0x10000)}
	if _, err := long.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long extension: %v", err)
	}
	c := p.Clone()
	b2, _ := c.Append(nil)
	if !bytes.Equal(b, b2) {
		t.Fatal("Clone encodes differently")
	}
}

func TestDecodeRedirServiceProviderTruncated(t *testing.T) {
	b := usageHex(t, redirGolden)
	for i := range len(b) {
		var p RedirServiceProvider
		if _, err := p.Decode(b[:i]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	var p RedirServiceProvider
	if _, err := p.Decode(append(b, 0)); !errors.Is(err, ErrTrailingData) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// TestRedirPosition checks the interval arithmetic against RFC 7374 §3
// Figure 3 and §7: a 4-bit identifier space, branching factor 2.
func TestRedirPosition(t *testing.T) {
	for _, c := range []struct {
		key, depth int
		want       int64
	}{
		{2, 3, 1}, // I(2,2): the second interval of the first node at level 2
		{5, 3, 2}, // I(2,5): the third interval from the left at level 2
		{5, 4, 5}, // I(3,5): in the third node from the left at level 3
		{5, 3 - 1, 1},
		{7, 1, 0}, // level 0: [0,7]
		{8, 1, 1}, // level 0: [8,15]
		{11, 2, 2},
		{12, 2, 3},
		{15, 0, 0}, // the root node holds every key
	} {
		got := RedirPosition(big.NewInt(int64(c.key)), 4, 2, c.depth)
		if got.Int64() != c.want {
			t.Errorf("RedirPosition(%d, depth %d) = %v, want %d", c.key, c.depth, got, c.want)
		}
	}
	// Branching factor 10 over 128 bits: the top key is in the last slice.
	top := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	if got := RedirPosition(top, 128, 10, 3); got.Int64() != 999 {
		t.Errorf("top key at depth 3 = %v", got)
	}
	if got := string(RedirResourceName([]byte("ns"), 2, 0x0102)); got != "ns\x00\x02\x01\x02" {
		t.Errorf("RedirResourceName = %q", got)
	}
}

func FuzzDecodeRedirServiceProvider(f *testing.F) {
	for _, p := range []RedirServiceProvider{wantRedirGolden(), {Type: 9, Namespace: []byte("turn-server"), Extension: []byte{1, 2}}} {
		b, err := p.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[RedirServiceProvider](t, b)
		if v == nil {
			return
		}
		if v.Len() != len(b) {
			t.Fatalf("did not consume the input")
		}
		c := v.Clone()
		if !equalish(&c, v) {
			t.Fatalf("Clone differs")
		}
	})
}
