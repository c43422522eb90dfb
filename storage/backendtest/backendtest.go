package backendtest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Run runs the suite; open returns a new, empty backend (closed by the
// suite).
func Run(t *testing.T, open func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"Empty", testEmpty},
		{"PutScanOrder", testPutScanOrder},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"DeleteSlot", testDeleteSlot},
		{"Slots", testSlots},
		{"RecordRoundTrip", testRecordRoundTrip},
		{"KeptRecordsUnchanged", testKeptRecordsUnchanged},
		{"AtomicApply", testAtomicApply},
		{"ResourcePrefixes", testResourcePrefixes},
		{"GetCount", testGetCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			defer b.Close()
			tc.fn(t, b)
		})
	}
}

var (
	resA = wire.ResourceID(bytes.Repeat([]byte{0xaa}, 16))
	resB = wire.ResourceID(bytes.Repeat([]byte{0xbb}, 16))
)

const (
	kindArr  wire.KindID = 0xf0000001
	kindDict wire.KindID = 0xf0000002
	kindOne  wire.KindID = 0xf0000003
)

// Rec makes a record for tests: an array, dictionary or single value
// depending on the model, with a fake signature.
func Rec(model wire.DataModel, index uint32, key string, value string, st uint64) *storage.Record {
	v := wire.StoredDataValue{Model: model, Value: wire.DataValue{Exists: true, Value: []byte(value)}}
	switch model {
	case wire.ModelArray:
		v.Index = index
	case wire.ModelDictionary:
		v.Key = wire.DictionaryKey(key)
	}
	return &storage.Record{
		Data: wire.StoredData{StorageTime: st, Lifetime: 60, Value: v, Signature: wire.Signature{
			Algorithm: wire.SignatureAndHashAlgorithm{Hash: wire.HashSHA256, Signature: wire.SigECDSA},
			Identity:  wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256, Hash: bytes.Repeat([]byte{7}, 32)},
			Value:     []byte("sig-" + value),
		}},
		Expires: 1_000_000 + int64(st),
		Cert:    []byte("cert-" + value),
	}
}

func apply(t *testing.T, b storage.Backend, fill func(*storage.Batch)) {
	t.Helper()
	var batch storage.Batch
	fill(&batch)
	if err := b.Apply(&batch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func scan(t *testing.T, b storage.Backend, res wire.ResourceID, kind wire.KindID) []*storage.Record {
	t.Helper()
	var out []*storage.Record
	if err := b.Scan(res, kind, func(r *storage.Record) bool { out = append(out, r); return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

func values(recs []*storage.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Data.Value.Value.Value))
	}
	return out
}

func gen(t *testing.T, b storage.Backend, res wire.ResourceID, kind wire.KindID) uint64 {
	t.Helper()
	g, err := b.Generation(res, kind)
	if err != nil {
		t.Fatalf("Generation: %v", err)
	}
	return g
}

func testEmpty(t *testing.T, b storage.Backend) {
	if g := gen(t, b, resA, kindArr); g != 0 {
		t.Errorf("Generation = %d, want 0", g)
	}
	if recs := scan(t, b, resA, kindArr); len(recs) != 0 {
		t.Errorf("Scan gave %d records", len(recs))
	}
	n := 0
	if err := b.Slots(func(wire.ResourceID, wire.KindID, uint64) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("Slots: %d slots, err %v", n, err)
	}
}

func testPutScanOrder(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		for _, i := range []uint32{300, 2, 0x01000000, 7} {
			bt.Put(resA, kindArr, Rec(wire.ModelArray, i, "", fmt.Sprint(i), 1))
		}
		for _, k := range []string{"b", "", "ab", "a"} {
			bt.Put(resA, kindDict, Rec(wire.ModelDictionary, 0, k, "v"+k, 1))
		}
		bt.SetGeneration(resA, kindArr, 4)
		bt.SetGeneration(resA, kindDict, 9)
	})
	if got, want := values(scan(t, b, resA, kindArr)), []string{"2", "7", "300", "16777216"}; !reflect.DeepEqual(got, want) {
		t.Errorf("array order %q, want %q", got, want)
	}
	if got, want := values(scan(t, b, resA, kindDict)), []string{"v", "va", "vab", "vb"}; !reflect.DeepEqual(got, want) {
		t.Errorf("dictionary order %q, want %q", got, want)
	}
	if g := gen(t, b, resA, kindArr); g != 4 {
		t.Errorf("array generation %d, want 4", g)
	}
	if g := gen(t, b, resA, kindDict); g != 9 {
		t.Errorf("dictionary generation %d, want 9", g)
	}
	// Stopping early.
	n := 0
	if err := b.Scan(resA, kindArr, func(*storage.Record) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Errorf("Scan stopped after %d, err %v", n, err)
	}
}

func testReplace(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "old", 1))
		bt.SetGeneration(resA, kindOne, 1)
	})
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "new", 2))
		bt.SetGeneration(resA, kindOne, 2)
	})
	if got := values(scan(t, b, resA, kindOne)); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("single value %q, want [new]", got)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		for i := range uint32(3) {
			bt.Put(resA, kindArr, Rec(wire.ModelArray, i, "", fmt.Sprint(i), 1))
		}
		bt.Put(resA, kindDict, Rec(wire.ModelDictionary, 0, "k", "x", 1))
		bt.SetGeneration(resA, kindArr, 1)
		bt.SetGeneration(resA, kindDict, 1)
	})
	apply(t, b, func(bt *storage.Batch) {
		bt.Delete(resA, kindArr, storage.Key(&wire.StoredDataValue{Model: wire.ModelArray, Index: 1}))
		bt.Delete(resA, kindDict, []byte("k"))
		bt.Delete(resA, kindDict, []byte("absent"))
	})
	if got := values(scan(t, b, resA, kindArr)); !reflect.DeepEqual(got, []string{"0", "2"}) {
		t.Errorf("after delete %q, want [0 2]", got)
	}
	if got := scan(t, b, resA, kindDict); len(got) != 0 {
		t.Errorf("dictionary still has %d", len(got))
	}
	if g := gen(t, b, resA, kindDict); g != 1 {
		t.Errorf("delete changed the generation to %d", g)
	}
}

func testDeleteSlot(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindArr, Rec(wire.ModelArray, 0, "", "a0", 1))
		bt.Put(resA, kindArr, Rec(wire.ModelArray, 1, "", "a1", 1))
		bt.Put(resB, kindArr, Rec(wire.ModelArray, 0, "", "b0", 1))
		bt.Put(resA, kindDict, Rec(wire.ModelDictionary, 0, "x", "ax", 1))
		bt.SetGeneration(resA, kindArr, 3)
		bt.SetGeneration(resB, kindArr, 5)
		bt.SetGeneration(resA, kindDict, 7)
	})
	apply(t, b, func(bt *storage.Batch) { bt.DeleteSlot(resA, kindArr) })
	if got := scan(t, b, resA, kindArr); len(got) != 0 {
		t.Errorf("slot still has %d values", len(got))
	}
	if g := gen(t, b, resA, kindArr); g != 0 {
		t.Errorf("slot generation %d after delete", g)
	}
	if got := values(scan(t, b, resB, kindArr)); !reflect.DeepEqual(got, []string{"b0"}) {
		t.Errorf("other resource: %q", got)
	}
	if got := values(scan(t, b, resA, kindDict)); !reflect.DeepEqual(got, []string{"ax"}) {
		t.Errorf("other kind: %q", got)
	}
}

func testSlots(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindArr, Rec(wire.ModelArray, 0, "", "a", 1))
		bt.SetGeneration(resA, kindArr, 2)
		bt.Put(resB, kindOne, Rec(wire.ModelSingle, 0, "", "b", 1))
		bt.SetGeneration(resB, kindOne, 3)
	})
	got := map[string]uint64{}
	if err := b.Slots(func(res wire.ResourceID, kind wire.KindID, g uint64) bool {
		got[fmt.Sprintf("%x/%v", []byte(res), kind)] = g
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{
		fmt.Sprintf("%x/%v", []byte(resA), kindArr): 2,
		fmt.Sprintf("%x/%v", []byte(resB), kindOne): 3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Slots = %v, want %v", got, want)
	}
}

func testRecordRoundTrip(t *testing.T, b storage.Backend) {
	in := Rec(wire.ModelDictionary, 0, "key", "value", 12345)
	in.Data.Value.Value.Exists = false
	in.Data.Value.Value.Value = []byte{}
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindDict, in)
		bt.SetGeneration(resA, kindDict, 1)
	})
	got := scan(t, b, resA, kindDict)
	if len(got) != 1 {
		t.Fatalf("%d records", len(got))
	}
	want, _ := in.Data.Append(nil)
	have, _ := got[0].Data.Append(nil)
	if !bytes.Equal(want, have) || got[0].Expires != in.Expires || !bytes.Equal(got[0].Cert, in.Cert) ||
		got[0].Data.Value.Model != wire.ModelDictionary {
		t.Errorf("record changed:\n got %+v\nwant %+v", got[0], in)
	}
}

func testKeptRecordsUnchanged(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "first", 1))
		bt.SetGeneration(resA, kindOne, 1)
	})
	kept := scan(t, b, resA, kindOne)[0]
	enc, _ := kept.Data.Append(nil)
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "second", 2))
		bt.SetGeneration(resA, kindOne, 2)
	})
	apply(t, b, func(bt *storage.Batch) { bt.DeleteSlot(resA, kindOne) })
	again, _ := kept.Data.Append(nil)
	if !bytes.Equal(enc, again) {
		t.Error("a record handed out changed after later writes")
	}
}

func testAtomicApply(t *testing.T, b storage.Backend) {
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "keep", 1))
		bt.SetGeneration(resA, kindOne, 1)
	})
	var bad storage.Batch
	bad.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "lost", 2))
	bad.SetGeneration(resA, kindOne, 2)
	bad.DeleteSlot(resB, kindOne)
	bad.Ops = append(bad.Ops, storage.Op{Type: 0xff, Resource: resA, Kind: kindOne})
	if err := b.Apply(&bad); err == nil {
		t.Fatal("Apply accepted an unknown operation")
	}
	if got := values(scan(t, b, resA, kindOne)); !reflect.DeepEqual(got, []string{"keep"}) {
		t.Errorf("failed Apply left %q", got)
	}
	if g := gen(t, b, resA, kindOne); g != 1 {
		t.Errorf("failed Apply left generation %d", g)
	}
}

func testResourcePrefixes(t *testing.T, b storage.Backend) {
	short := wire.ResourceID{0xaa}
	apply(t, b, func(bt *storage.Batch) {
		bt.Put(short, kindOne, Rec(wire.ModelSingle, 0, "", "short", 1))
		bt.SetGeneration(short, kindOne, 1)
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "long", 1))
		bt.SetGeneration(resA, kindOne, 1)
	})
	apply(t, b, func(bt *storage.Batch) { bt.DeleteSlot(short, kindOne) })
	if got := values(scan(t, b, resA, kindOne)); !reflect.DeepEqual(got, []string{"long"}) {
		t.Errorf("deleting a prefix resource touched %q", got)
	}
}

func testGetCount(t *testing.T, b storage.Backend) {
	if n, last, err := b.Count(resA, kindArr); n != 0 || last != nil || err != nil {
		t.Errorf("empty Count = %d, %v, %v", n, last, err)
	}
	if r, err := b.Get(resA, kindOne, nil); r != nil || err != nil {
		t.Errorf("empty Get = %v, %v", r, err)
	}
	apply(t, b, func(bt *storage.Batch) {
		for _, i := range []uint32{9, 1, 300} {
			bt.Put(resA, kindArr, Rec(wire.ModelArray, i, "", fmt.Sprint(i), 1))
		}
		bt.Put(resA, kindDict, Rec(wire.ModelDictionary, 0, "k", "K", 1))
		bt.Put(resA, kindOne, Rec(wire.ModelSingle, 0, "", "one", 1))
		bt.SetGeneration(resA, kindArr, 1)
		bt.SetGeneration(resA, kindDict, 1)
		bt.SetGeneration(resA, kindOne, 1)
	})
	n, last, err := b.Count(resA, kindArr)
	if err != nil || n != 3 || last == nil || last.Data.Value.Index != 300 {
		t.Errorf("Count = %d, %v, %v; want 3 ending at index 300", n, last, err)
	}
	key := func(i uint32) []byte { return storage.Key(&wire.StoredDataValue{Model: wire.ModelArray, Index: i}) }
	if r, err := b.Get(resA, kindArr, key(9)); err != nil || r == nil || string(r.Data.Value.Value.Value) != "9" {
		t.Errorf("Get(9) = %v, %v", r, err)
	}
	if r, _ := b.Get(resA, kindArr, key(2)); r != nil {
		t.Errorf("Get(2) = %v", r)
	}
	if r, _ := b.Get(resA, kindDict, []byte("k")); r == nil || string(r.Data.Value.Value.Value) != "K" {
		t.Errorf("Get(k) = %v", r)
	}
	if r, _ := b.Get(resA, kindOne, nil); r == nil || string(r.Data.Value.Value.Value) != "one" {
		t.Errorf("Get(single) = %v", r)
	}
	if r, _ := b.Get(resB, kindOne, nil); r != nil {
		t.Errorf("Get on another resource = %v", r)
	}
}
