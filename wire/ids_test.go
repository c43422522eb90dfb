package wire

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"testing"
)

// RFC 6940 §6.3.2: overlay = lower 32 bits of SHA-1(overlay name).
func TestOverlayHash(t *testing.T) {
	sum := sha1.Sum([]byte("example.com"))
	if got, want := OverlayHash("example.com"), binary.BigEndian.Uint32(sum[16:]); got != want {
		t.Fatalf("OverlayHash = %08x, want %08x", got, want)
	}
	// Fixed value so a change in the definition is caught: SHA-1("example.com")
	// = 0caaf24ab1a0c33440c06afe99df986365b0781f.
	if got := OverlayHash("example.com"); got != 0x65b0781f {
		t.Fatalf("OverlayHash(example.com) = %08x", got)
	}
}

// RFC 6940 §10.2: Resource-ID = SHA-1(name) truncated to 128 bits.
func TestResourceIDFromName(t *testing.T) {
	id := ResourceIDFromName("alice@example.com")
	sum := sha1.Sum([]byte("alice@example.com"))
	if len(id) != 16 || !bytes.Equal(id, sum[:16]) {
		t.Fatalf("ResourceIDFromName = %x", id)
	}
}

func TestNodeID(t *testing.T) {
	id := MustNodeID(bytesRange(1, 16))
	if !id.Valid() || id.IsWildcard() || id.Len() != 16 || id.String() != "0102030405060708090a0b0c0d0e0f10" {
		t.Fatalf("bad NodeID %v", id)
	}
	p, err := ParseNodeID(id.String())
	if err != nil || p != id {
		t.Fatalf("ParseNodeID = %v, %v", p, err)
	}
	if _, err := NodeIDFromBytes(make([]byte, 15)); !errors.Is(err, ErrInvalid) {
		t.Fatal("15-byte Node-ID accepted")
	}
	zero := MustNodeID(make([]byte, 16))
	if zero.Valid() {
		t.Fatal("all-zero Node-ID valid")
	}
	wild := MustNodeID(bytes.Repeat([]byte{0xff}, 20))
	if !wild.IsWildcard() || wild.Len() != 20 {
		t.Fatal("wildcard")
	}
	if id.Compare(wild) >= 0 || wild.Compare(wild) != 0 {
		t.Fatal("Compare")
	}
}

// RFC 6940 §14.15 and §11.3: a Node-ID URI has a one-entry destination
// list of type node.
func TestURI(t *testing.T) {
	id := MustNodeID(bytesRange(0x10, 16))
	s := NodeURI(id, "overlay.example.org")
	if s != "reload://0110101112131415161718191a1b1c1d1e1f@overlay.example.org/" {
		t.Fatalf("NodeURI = %s", s)
	}
	u, err := ParseURI(s)
	if err != nil || u.Overlay != "overlay.example.org" || len(u.Destinations) != 1 {
		t.Fatalf("ParseURI = %+v, %v", u, err)
	}
	if got, ok := u.Destinations[0].NodeID(); !ok || got != id {
		t.Fatal("node id lost")
	}
	if u.String() != s {
		t.Fatalf("String = %s", u.String())
	}
	withSpec := s + "00000001"
	if u, err := ParseURI(withSpec); err != nil || !bytes.Equal(u.Specifier, []byte{0, 0, 0, 1}) || u.String() != withSpec {
		t.Fatalf("specifier: %+v %v", u, err)
	}
	for _, bad := range []string{"", "sip:x", "reload://@o/", "reload://zz@o/", "reload://0110@o/", "reload://0110101112131415161718191a1b1c1d1e1f@/", "reload://0110101112131415161718191a1b1c1d1e1f@o", "reload://0110101112131415161718191a1b1c1d1e1f@o v/"} {
		if _, err := ParseURI(bad); !errors.Is(err, ErrBadURI) {
			t.Errorf("ParseURI(%q) = %v", bad, err)
		}
	}
}
