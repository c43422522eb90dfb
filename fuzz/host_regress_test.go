package fuzz

import (
	"fmt"
	"slices"
	"testing"

	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// storeOne stores sd for (res, kind) as ids[from] with its certificate and
// returns the answer's code.
func storeOne(w *world, from int, res wire.ResourceID, kind wire.KindID, sd wire.StoredData) wire.MessageCode {
	req := wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: kind, Values: []wire.StoredData{sd}}}}
	b, err := req.Append(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.deliver(from, wire.CodeStoreReq, b, nil)
}

// TestHostRefusesForgedAndReplayedValues: the host, as the first peer of
// an overlay (responsible for everything), takes a value with a valid
// signature and refuses the same value changed after signing, with its
// storage_time changed (RFC 6940 §7.1: the signature covers both), and
// an older copy replayed (§7.4.1.1: Error_Data_Too_Old). Every stored
// value then verifies (the fuzz targets' audit).
func TestHostRefusesForgedAndReplayedValues(t *testing.T) {
	f := loadFixture(t)
	w := newWorld(t, f, 0)
	var v signedValue
	for _, i := range f.plain {
		if f.values[i].kind == st.KindSmall && f.values[i].sd.StorageTime > st.Millis(st.Now) {
			v = f.values[i] // the newer of the two storage times
			break
		}
	}
	if v.res == nil {
		t.Fatal("no fixture value")
	}
	if c := storeOne(w, v.signer, v.res, v.kind, v.sd); c != wire.CodeStoreAns {
		t.Fatalf("valid Store answered %v", c)
	}
	tampered := v.sd
	tampered.StorageTime++
	tampered.Value.Value.Value = append(slices.Clone(v.sd.Value.Value.Value), '!')
	if c := storeOne(w, v.signer, v.res, v.kind, tampered); c != wire.CodeError {
		t.Fatalf("forged value answered %v, want an error", c)
	}
	moved := v.sd
	moved.StorageTime += 10
	if c := storeOne(w, v.signer, v.res, v.kind, moved); c != wire.CodeError {
		t.Fatalf("value with a changed storage_time answered %v, want an error", c)
	}
	for _, i := range f.slot[slotKey(v.res, v.kind)] {
		if old := f.values[i]; old.sd.StorageTime < v.sd.StorageTime {
			if c := storeOne(w, old.signer, old.res, old.kind, old.sd); c != wire.CodeError {
				t.Fatalf("replayed older value answered %v, want Error_Data_Too_Old", c)
			}
		}
	}
	w.audit()
	n, _, err := w.h.Store().Backend().Count(v.res, v.kind)
	if err != nil || n != 1 {
		t.Fatalf("%d values stored (%v), want the one valid", n, err)
	}
}

// TestAuditCatchesForgedValue checks the fuzz targets' own check: a
// forged value put straight into the host's backend, past the storage
// rules, fails the audit.
func TestAuditCatchesForgedValue(t *testing.T) {
	f := loadFixture(t)
	w := newWorld(t, f, 0)
	v := f.values[f.plain[0]]
	sd := v.sd
	sd.Value.Value.Value = []byte("forged")
	var b storage.Batch
	b.SetGeneration(v.res, v.kind, 1)
	b.Put(v.res, v.kind, &storage.Record{Data: sd, Expires: st.Now.UnixMilli() + 60000, Cert: f.ids[v.signer].Cert.Cert.Raw})
	if err := w.h.Store().Backend().Apply(&b); err != nil {
		t.Fatal(err)
	}
	ft := &fakeT{TB: t}
	w.t = ft
	func() {
		defer func() { _ = recover() }()
		w.audit()
	}()
	if ft.msg == "" {
		t.Fatal("the audit took a forged value")
	}
	t.Logf("audit: %s", ft.msg)
}

// fakeT records a fatal failure instead of failing the test.
type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}

func (f *fakeT) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f.msg)
}
