package forwarding

import (
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

func count(s *Stats, sent bool, method, result string) uint64 {
	for _, m := range s.Messages() {
		if m.Sent == sent && m.Method == method && m.Result == result {
			return m.N
		}
	}
	return 0
}

// A — B — C: A's requests to C are counted as sent by A, received by C,
// forwarded by B, and their answers' hops are two.
func TestEngineStats(t *testing.T) {
	checkLeaks(t)
	var ctr transport.Counters
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) { o.Link.Counters = &ctr })
	b := startEngine(t, 2, &staticRouter{}, nil)
	c := startEngine(t, 3, &staticRouter{next: idB}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	linkThroughB(ctx, t, a, b, c)
	c.Handle(wire.CodeExpAReq, func(context.Context, *Incoming) ([]byte, error) {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeNotFound}
	})
	for range 3 {
		if _, _, err := a.Ping(ctx, dests(idC)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Request(ctx, dests(idC), wire.CodeExpAReq, nil); !isRemoteCode(err, wire.ErrCodeNotFound) {
		t.Fatalf("exp_a: %v", err)
	}
	// C counts an answer once it has handed it to the link, so A may have
	// it first: wait for C's count of its last answer (the loop counts in
	// order, so the earlier ones are in by then).
	waitFor(t, func() bool { return count(c.Stats(), true, "exp_a_ans", "Error_Not_Found") >= 1 })
	for _, tc := range []struct {
		name        string
		s           *Stats
		sent        bool
		method, res string
		want        uint64
	}{
		{"A sent ping_req", a.Stats(), true, "ping_req", "ok", 3},
		{"A received ping_ans", a.Stats(), false, "ping_ans", "ok", 3},
		{"C received ping_req", c.Stats(), false, "ping_req", "ok", 3},
		{"C sent ping_ans", c.Stats(), true, "ping_ans", "ok", 3},
		{"C sent exp_a_ans error", c.Stats(), true, "exp_a_ans", "Error_Not_Found", 1},
		{"A received exp_a_ans error", a.Stats(), false, "exp_a_ans", "Error_Not_Found", 1},
	} {
		if got := count(tc.s, tc.sent, tc.method, tc.res); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := b.Stats().Forwarded.Load(); n != 8 {
		t.Errorf("B forwarded %d messages, want 8 (4 requests, 4 answers)", n)
	}
	hops, sum := a.Stats().Hops()
	if hops[2] != 4 || sum != 8 {
		t.Errorf("hops %v sum %d, want 4 answers of 2 hops", hops[:4], sum)
	}
	if n := ctr.Established[transport.LinkTLSTCPFHNoICE].Load(); n != 1 {
		t.Errorf("A established %d TLS links, want 1", n)
	}
}

// Counting a message costs no allocation, an error answer's code included.
func TestStatsZeroAlloc(t *testing.T) {
	var s Stats
	pe := error(&wire.ProtocolError{Code: wire.ErrCodeNotFound})
	re := error(&wire.RemoteError{Code: wire.ErrCodeForbidden})
	allocs := testing.AllocsPerRun(1000, func() {
		s.sent(wire.CodeStoreReq, resultOK)
		s.received(wire.CodeStoreAns, resultOf(pe))
		s.received(wire.CodeFetchAns, resultOf(re))
		s.hop(3)
		s.Forwarded.Add(1)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per count, want 0", allocs)
	}
	if count(&s, false, "store_ans", "Error_Not_Found") == 0 || count(&s, false, "fetch_ans", "Error_Forbidden") == 0 || count(&s, true, "store_req", "ok") == 0 {
		t.Errorf("counts %+v", s.Messages())
	}
}

func BenchmarkStatsCount(b *testing.B) {
	var s Stats
	b.ReportAllocs()
	for b.Loop() {
		s.received(wire.CodePingReq, resultOK)
		s.Forwarded.Add(1)
	}
}
