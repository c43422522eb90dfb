package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

var now = st.Now

// ms is the storage_time of now plus d.
func ms(d time.Duration) uint64 { return st.Millis(now.Add(d)) }

type env struct {
	t    *testing.T
	pki  *st.PKI
	ring *st.Ring
	mem  *mem.Backend
	s    *storage.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, pki: st.NewPKI(t), ring: &st.Ring{}, mem: mem.New()}
	e.s = e.newStore(e.mem, e.pki.Verifier())
	return e
}

func (e *env) newStore(b storage.Backend, v storage.Verifier) *storage.Store {
	e.t.Helper()
	s, err := storage.New(storage.Config{Kinds: st.Kinds(e.t), Backend: b, Verifier: v, Topology: e.ring})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// store stores as id (which also signs the request).
func (e *env) store(id *security.Identity, req *wire.StoreReq) (storage.StoreResult, error) {
	e.t.Helper()
	return e.s.HandleStore(req, st.Requester(id), now)
}

func (e *env) mustStore(id *security.Identity, req *wire.StoreReq) storage.StoreResult {
	e.t.Helper()
	res, err := e.store(id, req)
	if err != nil {
		e.t.Fatalf("HandleStore: %v", err)
	}
	return res
}

func (e *env) fetch(res wire.ResourceID, specs ...wire.StoredDataSpecifier) wire.FetchAns {
	e.t.Helper()
	ans, err := e.s.HandleFetch(&wire.FetchReq{Resource: res, Specifiers: specs}, now)
	if err != nil {
		e.t.Fatalf("HandleFetch: %v", err)
	}
	return ans
}

// wantCode checks that err is a *wire.ProtocolError with code and, when
// cause is not nil, wraps cause.
func wantCode(t *testing.T, err error, code wire.ErrorCode, cause error) *wire.ProtocolError {
	t.Helper()
	var pe *wire.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a ProtocolError %v", err, code)
	}
	if pe.Code != code {
		t.Fatalf("code %v (%v), want %v", pe.Code, err, code)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("error %v does not wrap %v", err, cause)
	}
	return pe
}

func spec(kind wire.KindID, model wire.DataModel) wire.StoredDataSpecifier {
	return wire.StoredDataSpecifier{Kind: kind, Model: model}
}

func arraySpec(kind wire.KindID, ranges ...wire.ArrayRange) wire.StoredDataSpecifier {
	return wire.StoredDataSpecifier{Kind: kind, Model: wire.ModelArray, Indices: ranges}
}

func dictSpec(kind wire.KindID, keys ...[]byte) wire.StoredDataSpecifier {
	s := wire.StoredDataSpecifier{Kind: kind, Model: wire.ModelDictionary}
	for _, k := range keys {
		s.Keys = append(s.Keys, k)
	}
	return s
}

func userRes(user string) wire.ResourceID { return storage.UserResourceID(storage.ChordHash, user) }

func nodeRes(id wire.NodeID) wire.ResourceID { return storage.NodeResourceID(storage.ChordHash, id) }

// values lists the value strings of a kind response, "-" for nonexistent.
func values(kr wire.FetchKindResponse) []string {
	var out []string
	for _, v := range kr.Values {
		if !v.Value.Value.Exists {
			out = append(out, "-")
		} else {
			out = append(out, string(v.Value.Value.Value))
		}
	}
	return out
}
