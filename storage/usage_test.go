package storage_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// Usage counts the values and StoredData bytes held, by Kind; the Store
// logs each Store request's outcome at Debug with the resource and kinds.
func TestUsageAndLog(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	s, err := storage.New(storage.Config{Kinds: st.Kinds(t), Backend: e.mem, Verifier: e.pki.Verifier(), Topology: e.ring,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	if u, err := s.Usage(); err != nil || len(u) != 0 {
		t.Fatalf("empty store usage %v, %v", u, err)
	}
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	res := userRes("alice@" + st.Overlay)
	a1 := st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(1, "hello"))
	a2 := st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Array(2, "world!"))
	e.mustStore(alice, st.Req(res, st.KindList, 0, a1, a2))
	sv := st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("y"))
	e.mustStore(alice, st.Req(res, st.KindSmall, 0, sv))
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	want := map[wire.KindID]storage.KindUsage{
		st.KindList:  {Kind: st.KindList, Values: 2, Bytes: uint64(a1.Len() + a2.Len())},
		st.KindSmall: {Kind: st.KindSmall, Values: 1, Bytes: uint64(sv.Len())},
	}
	if len(u) != len(want) {
		t.Fatalf("usage %+v", u)
	}
	for _, ku := range u {
		if ku != want[ku.Kind] {
			t.Errorf("kind %d: %+v, want %+v", ku.Kind, ku, want[ku.Kind])
		}
	}
	// A stale value is refused, and logged so.
	if _, err := e.store(alice, st.Req(res, st.KindSmall, 0, st.Signed(t, alice, res, st.KindSmall, ms(-time.Minute), 60, st.Single("z")))); err == nil {
		t.Fatal("older value accepted")
	}
	out := logs.String()
	for _, w := range []string{"msg=stored", "msg=\"store refused\"", "resource=" + res.String(), "err="} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}
