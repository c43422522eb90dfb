package chord_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// hostTimeout is the host's verdict that request tok got no answer: an
// error answer from nobody (a zero From) with Error_Request_Timeout.
func hostTimeout(t *testing.T, tok uint64) topology.Incoming {
	return topology.Incoming{Code: wire.CodeError, Body: enc(t, &wire.ErrorResponse{Code: wire.ErrCodeRequestTimeout}), Token: tok}
}

func newChord(t *testing.T, id wire.NodeID, hostTimeouts bool) *chord.Chord {
	t.Helper()
	cfg := chord.DefaultConfig(id, rand.New(rand.NewPCG(1, 1)))
	cfg.HostTimeouts = hostTimeouts
	cfg.RequestTimeout = time.Second // 10 ticks
	c, err := chord.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHostTimeoutsExpireUpdates_Sec6_2_1: with HostTimeouts the
// transaction layer's timer is the only one (RFC 6940 §6.2.1): Updates
// that go unanswered never expire on Tick, and the host's timeout for one
// of them has the effect the plugin's own deadline has without
// HostTimeouts: its target is taken for failed (§10.7.1), and only it.
func TestHostTimeoutsExpireUpdates_Sec6_2_1(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hostTimeouts bool
	}{
		{"own deadline", false},
		{"host timeouts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChord(t, nid(0x80), tc.hostTimeouts)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			slow, fast := nid(0x40), nid(0xc0)
			// The Updates to each peer, none of them answered.
			updates := map[wire.NodeID][]uint64{}
			keep := func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
				updates[m.To] = append(updates[m.To], m.Token)
				return in, false
			}
			drainUpdates(t, c, keep)
			for i, jn := range []wire.NodeID{fast, slow} {
				if err := c.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: uint64(i + 1)}); err != nil {
					t.Fatal(err)
				}
				drainUpdates(t, c, keep)
			}
			if !neighbour(c, slow) || !neighbour(c, fast) || len(updates[slow]) == 0 || len(updates[fast]) == 0 {
				t.Fatalf("setup: successors %v, Updates %v", c.Successors(), updates)
			}
			for range 200 { // twenty request timeouts
				c.Tick()
				drainUpdates(t, c, keep)
			}
			if !tc.hostTimeouts {
				if neighbour(c, slow) || neighbour(c, fast) {
					t.Fatalf("own deadline: unanswered peers kept: successors %v", c.Successors())
				}
				return
			}
			if !neighbour(c, slow) || !neighbour(c, fast) {
				t.Fatalf("a Tick expired a request: successors %v predecessors %v", c.Successors(), c.Predecessors())
			}
			// A timeout for a token the plugin does not know changes
			// nothing.
			if err := c.Step(hostTimeout(t, 999999)); err != nil {
				t.Fatal(err)
			}
			if !neighbour(c, slow) || !neighbour(c, fast) {
				t.Fatalf("unknown token expired something: successors %v", c.Successors())
			}
			if err := c.Step(hostTimeout(t, updates[slow][0])); err != nil {
				t.Fatal(err)
			}
			var events []topology.Event
			for c.HasReady() {
				events = append(events, c.Ready().Events...)
				c.Advance()
			}
			if neighbour(c, slow) || !neighbour(c, fast) {
				t.Fatalf("after the host's timeout of an Update to %v: successors %v predecessors %v", slow, c.Successors(), c.Predecessors())
			}
			if !slices.ContainsFunc(events, func(e topology.Event) bool { return e.Type == topology.EventNeighborRemoved && e.Peer == slow }) {
				t.Errorf("events %+v, want neighbor-removed %v", events, slow)
			}
		})
	}
}

// TestHostTimeoutsRetryJoin_Sec10_5: a Join that gets no answer is retried
// through the next bootstrap peer (§11.4): on the plugin's own deadline
// without HostTimeouts, on the host's timeout with it, and never on Tick
// alone.
func TestHostTimeoutsRetryJoin_Sec10_5(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hostTimeouts bool
	}{
		{"own deadline", false},
		{"host timeouts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChord(t, nid(0x80), tc.hostTimeouts)
			b1, b2 := nid(0x40), nid(0xc0)
			if err := c.Join(b1, b2); err != nil {
				t.Fatal(err)
			}
			joins := sent(c, wire.CodeJoinReq)
			if len(joins) != 1 || joins[0].Via != b1 {
				t.Fatalf("first Join %+v, want via %v", joins, b1)
			}
			var retry []topology.Outgoing
			for range 100 {
				c.Tick()
				retry = append(retry, sent(c, wire.CodeJoinReq)...)
			}
			if !tc.hostTimeouts {
				if len(retry) == 0 || retry[0].Via != b2 {
					t.Fatalf("own deadline: retries %+v, want one via %v", retry, b2)
				}
				return
			}
			if len(retry) != 0 {
				t.Fatalf("a Tick retried the Join: %+v", retry)
			}
			if err := c.Step(hostTimeout(t, joins[0].Token)); err != nil {
				t.Fatal(err)
			}
			c.Tick()
			retry = sent(c, wire.CodeJoinReq)
			if len(retry) != 1 || retry[0].Via != b2 || c.State() != "joining" {
				t.Fatalf("after the host's timeout: %+v (state %s), want one Join via %v", retry, c.State(), b2)
			}
		})
	}
}
