package sip

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// memBindings is a BindingStore in memory, shared by a peer's front ends
// across a "restart".
type memBindings struct {
	mu sync.Mutex
	m  map[string][]Binding
}

func (s *memBindings) LoadBindings() ([]Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Binding
	for _, bs := range s.m {
		out = append(out, bs...)
	}
	return out, nil
}

func (s *memBindings) SaveBindings(aor string, bs []Binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(bs) == 0 {
		delete(s.m, aor)
		return nil
	}
	s.m[aor] = slices.Clone(bs)
	return nil
}

// has reports whether aor's bindings are kept (under the lock: the front
// end saves from its own goroutines).
func (s *memBindings) has(aor string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[aor]
	return ok
}

// A peer whose front end keeps its bindings (Config.Bindings) still
// delivers calls to a user agent that registered before the peer
// restarted; expired bindings are not restored and leave the store.
func TestSippCallAfterCalleePeerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	store := &memBindings{m: map[string][]Binding{"gone@example.com": {{AOR: "gone@example.com", Contact: "sip:gone@127.0.0.1:9", Expires: time.Now().Add(-time.Second), Q: 1}}}}
	keep := func(c *Config) { c.Bindings = store }
	fx := newFixture(ctx, t, "testdata/uas.xml", 1)
	_ = fx.callee.Close()
	fx.callee = fx.n.newPeer(t, 1, keep) // starts empty: nothing kept yet
	sippRegister(ctx, t, fx.callee, "bob", fx.uasPort, 60)
	if !store.has("bob@example.com") {
		t.Fatal("REGISTER not kept")
	}
	if store.has("gone@example.com") {
		t.Fatal("an expired binding was kept")
	}
	// The peer restarts.
	_ = fx.callee.Close()
	fx.callee = fx.n.newPeer(t, 1, keep)
	if b := fx.callee.Bindings("bob@example.com"); len(b) != 1 {
		t.Fatalf("bindings after the restart: %v", b)
	}
	if _, err := runUAC(ctx, t, "", fx.caller, "testdata/uac.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := fx.uas.Wait(); err != nil {
		t.Fatal(err)
	}
}
