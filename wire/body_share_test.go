package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// aclItemVector is RFC 8076 Figure 1's item 456def01 (to_user Bob, Kind
// 1234, ad 0), hand-built.
var aclItemVector = []byte{0, 3, 'B', 'o', 'b', 0, 0, 0x04, 0xd2, 0}

// aclItemExtVector is an item for Alice with ad set, preceded by a
// pattern ResourceNameExtension "x-conf-alice@example.com", hand-built.
func aclItemExtVector() []byte {
	name := []byte("x-conf-alice@example.com")
	b := []byte{1, 0, byte(2 + len(name)), 0, byte(len(name))}
	b = append(b, name...)
	return append(b, 0, 5, 'a', 'l', 'i', 'c', 'e', 0, 0, 0x04, 0xd2, 1)
}

func TestDecodeAccessControlListItem(t *testing.T) {
	checkGolden(t, aclItemVector, &AccessControlListItem{ToUser: []byte("Bob"), Kind: 1234})

	var a AccessControlListItem
	vec := aclItemExtVector()
	if n, err := a.DecodeNameExt(vec); err != nil || n != len(vec) {
		t.Fatalf("DecodeNameExt = %d, %v", n, err)
	}
	want := AccessControlListItem{HasNameExt: true, NameExt: ResourceNameExtension{Type: ResourceNamePattern, ResourceName: []byte("x-conf-alice@example.com")},
		ToUser: []byte("alice"), Kind: 1234, AllowDelegation: true}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("DecodeNameExt = %+v, want %+v", a, want)
	}
	if enc, err := a.Append(nil); err != nil || !bytes.Equal(enc, vec) {
		t.Fatalf("Append = %x, %v", enc, err)
	}
	// Decoding as the wrong form fails rather than misreading.
	if _, err := a.Decode(vec); err == nil {
		t.Fatal("Decode of an item with res_name_ext succeeded")
	}

	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"bad boolean", []byte{0, 0, 0, 0, 0, 1, 2}, ErrInvalid},
		{"trailing", append(bytes.Clone(aclItemVector), 0), ErrTrailingData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.Decode(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeAccessControlListItemTruncated(t *testing.T) {
	var a AccessControlListItem
	for i := range aclItemVector {
		if _, err := a.Decode(aclItemVector[:i]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("Decode(%d bytes) = %v", i, err)
		}
	}
	vec := aclItemExtVector()
	for i := range vec {
		if _, err := a.DecodeNameExt(vec[:i]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("DecodeNameExt(%d bytes) = %v", i, err)
		}
	}
}

func TestAppendAccessControlListItem(t *testing.T) {
	a := AccessControlListItem{ToUser: []byte("Bob"), Kind: 1234}
	if b, err := a.Append(nil); err != nil || !bytes.Equal(b, aclItemVector) || a.Len() != len(b) {
		t.Fatalf("Append = %x, %v (Len %d)", b, err, a.Len())
	}
	long := AccessControlListItem{ToUser: make([]byte, 1<<16)}
	if _, err := long.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Append of a long to_user = %v", err)
	}
	c := a.Clone()
	c.ToUser[0] = 'X'
	if a.ToUser[0] != 'B' {
		t.Fatal("Clone shares memory")
	}
}

func FuzzDecodeAccessControlListItem(f *testing.F) {
	f.Add(aclItemVector, false)
	f.Add(aclItemExtVector(), true)
	f.Fuzz(func(t *testing.T, b []byte, ext bool) {
		var a AccessControlListItem
		var err error
		if ext {
			_, err = a.DecodeNameExt(b)
		} else {
			_, err = a.Decode(b)
		}
		if err != nil {
			return
		}
		if a.HasNameExt != ext {
			t.Fatalf("HasNameExt = %v", a.HasNameExt)
		}
		enc, err := a.Append(nil)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if !bytes.Equal(enc, b) || len(enc) != a.Len() {
			t.Fatalf("re-encoding %x (Len %d), input %x", enc, a.Len(), b)
		}
		var again AccessControlListItem
		if ext {
			_, err = again.DecodeNameExt(enc)
		} else {
			_, err = again.Decode(enc)
		}
		if err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("re-decode = %+v, %v", again, err)
		}
	})
}
