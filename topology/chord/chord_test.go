package chord_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/sim"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

func nid(b byte) wire.NodeID {
	var x [16]byte
	x[0] = b
	return wire.MustNodeID(x[:])
}

func enc(t testing.TB, b interface {
	Append([]byte) ([]byte, error)
}) []byte {
	t.Helper()
	out, err := b.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// answers returns the answers in r, by code.
func answers(r topology.Ready) map[wire.MessageCode][]topology.Outgoing {
	m := map[wire.MessageCode][]topology.Outgoing{}
	for _, o := range r.Messages {
		if o.Answer {
			m[o.Code] = append(m[o.Code], o)
		}
	}
	return m
}

func TestNewValidatesConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for name, cfg := range map[string]chord.Config{
		"zero id":       {Rand: r},
		"no rand":       {ID: nid(1)},
		"2 successors":  {ID: nid(1), Rand: r, Successors: 2},
		"129 fingers":   {ID: nid(1), Rand: r, Fingers: 129},
		"negative time": {ID: nid(1), Rand: r, TickLength: -1},
	} {
		if _, err := chord.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// TestJoinIDMustMatchSender_Sec6_4_2_1: "Receivers of the JoinReq MUST
// verify that the joining_peer_id field matches the Node-ID used to sign
// the message and, if not, the message MUST be rejected with an
// Error_Forbidden error."
func TestJoinIDMustMatchSender_Sec6_4_2_1(t *testing.T) {
	c, _ := chord.New(chord.DefaultConfig(nid(0x80), rand.New(rand.NewPCG(1, 1))))
	_ = c.Start()
	c.Ready()
	c.Advance()
	body := enc(t, &wire.JoinReq{JoiningPeerID: nid(0x40)})
	if err := c.Step(topology.Incoming{From: nid(0x41), Code: wire.CodeJoinReq, Body: body, Token: 9}); err == nil {
		t.Fatal("forged Join accepted")
	}
	a := answers(c.Ready())[wire.CodeError]
	var e wire.ErrorResponse
	if len(a) != 1 || a[0].Token != 9 {
		t.Fatalf("answers %+v", a)
	}
	if _, err := e.Decode(a[0].Body); err != nil || e.Code != wire.ErrCodeForbidden {
		t.Fatalf("error answer %v %v", e.Code, err)
	}
}

// TestAdmittingPeerTransfersAndUpdates_Sec10_5: the admitting peer answers
// the Join, announces the range to transfer to the joining node (step 6),
// sends it an Update naming it as predecessor (step 7) and updates its
// other neighbours (step 8).
func TestAdmittingPeerTransfersAndUpdates_Sec10_5(t *testing.T) {
	c, _ := chord.New(chord.DefaultConfig(nid(0x80), rand.New(rand.NewPCG(1, 1))))
	_ = c.Start()
	c.Ready()
	c.Advance()
	jn := nid(0x40)
	if err := c.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: 3}); err != nil {
		t.Fatal(err)
	}
	rd := c.Ready()
	if a := answers(rd)[wire.CodeJoinAns]; len(a) != 1 || a[0].Token != 3 {
		t.Fatalf("JoinAns %+v", a)
	}
	var transfer, resp bool
	for _, e := range rd.Events {
		switch e.Type {
		case topology.EventTransfer:
			transfer = e.Peer == jn && e.Range == topology.Range{Start: nid(0x80), End: jn}
		case topology.EventResponsibilityChanged:
			resp = e.Range == topology.Range{Start: jn, End: nid(0x80)}
		}
	}
	if !transfer || !resp {
		t.Fatalf("events %+v", rd.Events)
	}
	var full bool
	for _, m := range rd.Messages {
		if m.Code == wire.CodeUpdateReq && m.To == jn {
			u := wire.ChordUpdate{}
			if _, err := u.Decode(m.Body); err != nil {
				t.Fatal(err)
			}
			full = u.Type == wire.ChordUpdateFull && len(u.Predecessors) > 0 && u.Predecessors[0] == jn
		}
	}
	if !full {
		t.Fatalf("no full Update naming the joining node as predecessor: %+v", rd.Messages)
	}
}

// TestProbeAnswersInRequestedOrder_Sec6_4_2_5: known types in the
// requested order, unknown ones left out; responsible_set in ppb.
func TestProbeAnswersInRequestedOrder_Sec6_4_2_5(t *testing.T) {
	cfg := chord.DefaultConfig(nid(0x80), rand.New(rand.NewPCG(1, 1)))
	cfg.NumResources = func() uint32 { return 42 }
	c, _ := chord.New(cfg)
	_ = c.Start()
	for range 25 {
		c.Tick() // 2.5 s
	}
	c.Ready()
	c.Advance()
	req := wire.ProbeReq{RequestedInfo: []wire.ProbeInformationType{wire.ProbeUptime, 77, wire.ProbeNumResources, wire.ProbeResponsibleSet}}
	if err := c.Step(topology.Incoming{From: nid(1), Code: wire.CodeProbeReq, Body: enc(t, &req), Token: 1}); err != nil {
		t.Fatal(err)
	}
	a := answers(c.Ready())[wire.CodeProbeAns]
	var p wire.ProbeAns
	if _, err := p.Decode(a[0].Body); err != nil {
		t.Fatal(err)
	}
	want := []wire.ProbeInformation{{Type: wire.ProbeUptime, Value: 2}, {Type: wire.ProbeNumResources, Value: 42}, {Type: wire.ProbeResponsibleSet, Value: 1e9}}
	if len(p.ProbeInfo) != len(want) {
		t.Fatalf("got %+v", p.ProbeInfo)
	}
	for i := range want {
		if p.ProbeInfo[i].Type != want[i].Type || p.ProbeInfo[i].Value != want[i].Value {
			t.Fatalf("got %+v want %+v", p.ProbeInfo, want)
		}
	}
}

// TestRouteQueryAnswersNextPeerAndSendsFullUpdate_Sec10_8.
func TestRouteQueryAnswersNextPeerAndSendsFullUpdate_Sec10_8(t *testing.T) {
	ids := []wire.NodeID{nid(0x10), nid(0x40), nid(0x80), nid(0xc0)}
	c := knowing(t, ids, nid(0x10), false)
	k := nid(0x70)
	q := wire.RouteQueryReq{SendUpdate: true, Destination: wire.ResourceDest(wire.ResourceID(k.Bytes()))}
	if err := c.Step(topology.Incoming{From: nid(0xc0), Code: wire.CodeRouteQueryReq, Body: enc(t, &q), Token: 5}); err != nil {
		t.Fatal(err)
	}
	rd := c.Ready()
	a := answers(rd)[wire.CodeRouteQueryAns]
	ans := wire.ChordRouteQueryAns{}
	if len(a) != 1 {
		t.Fatalf("%+v", rd.Messages)
	}
	if _, err := ans.Decode(a[0].Body); err != nil || ans.NextPeer != nid(0x80) {
		t.Fatalf("next_peer %v %v", ans.NextPeer, err)
	}
	var full bool
	for _, m := range rd.Messages {
		if m.Code == wire.CodeUpdateReq && m.To == nid(0xc0) {
			var u wire.ChordUpdate
			_, _ = u.Decode(m.Body)
			full = u.Type == wire.ChordUpdateFull
		}
	}
	if !full {
		t.Fatal("send_update did not trigger a full Update")
	}
}

// TestOpaqueDestinationUnroutable_Sec10_3: only node and resource
// destinations are placed on the ring.
func TestOpaqueDestinationUnroutable_Sec10_3(t *testing.T) {
	c := knowing(t, []wire.NodeID{nid(0x10), nid(0x40)}, nid(0x10), false)
	for _, d := range []wire.Destination{wire.CompressedDest(0x8001), {Type: wire.DestOpaqueID, ID: []byte{1, 2}}, {Type: wire.DestNode, ID: []byte{1}}} {
		if _, _, err := c.Route(&d); !errors.Is(err, topology.ErrUnroutable) {
			t.Errorf("%+v: %v", d, err)
		}
	}
}

func TestRouteAllocs(t *testing.T) {
	ids := randomIDs(rand.New(rand.NewPCG(3, 3)), 64, 16)
	c := knowing(t, ids, ids[0], false)
	k := ids[7]
	d := wire.ResourceDest(wire.ResourceID(k.Bytes()))
	if n := testing.AllocsPerRun(100, func() { _, _, _ = c.Route(&d) }); n != 0 {
		t.Fatalf("Route allocates %v times", n)
	}
}

// BenchmarkRoute is one next-hop decision of a peer with full tables.
func BenchmarkRoute(b *testing.B) {
	ids := randomIDs(rand.New(rand.NewPCG(3, 3)), 1024, 16)
	c := knowing(&testing.T{}, ids, ids[0], false)
	keys := make([]wire.Destination, 256)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range keys {
		k := make([]byte, 16)
		for j := range k {
			k[j] = byte(r.Uint32())
		}
		keys[i] = wire.ResourceDest(k)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _, _ = c.Route(&keys[i&255])
		i++
	}
}

// router is the interface forwarding declares; Chord must satisfy it
// structurally.
type router interface {
	Route(d *wire.Destination) (next wire.NodeID, local bool, err error)
}

var _ router = (*chord.Chord)(nil)

// TestJoiningIgnoresInvalidNodeIDs is the FuzzStep crasher 6b93f2ed: an
// Update naming the joining node as predecessor also listed the all-zero
// Node-ID (RFC 6940 §3: never valid), which became a neighbour.
func TestJoiningIgnoresInvalidNodeIDs(t *testing.T) {
	c, _ := chord.New(chord.DefaultConfig(nid(0x10), rand.New(rand.NewPCG(1, 1))))
	_ = c.Join(nid(0x80))
	zero := wire.MustNodeID(make([]byte, 16))
	wild := wire.MustNodeID([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	u := wire.ChordUpdate{Type: wire.ChordUpdateFull, Predecessors: []wire.NodeID{nid(0x10), zero, wild}, Successors: []wire.NodeID{zero}}
	_ = c.Step(topology.Incoming{From: nid(0x20), Code: wire.CodeUpdateReq, Body: enc(t, &u), Token: 1})
	for _, n := range append(c.Successors(), c.Predecessors()...) {
		if !n.Valid() || n.IsWildcard() {
			t.Fatalf("invalid neighbour %v", n)
		}
	}
}

// TestAcceptReplicaFromLeavingPeer_Sec10_9: a peer that has processed a
// Leave from its predecessor still accepts the Store transferring the
// leaving peer's range, which may arrive after the Leave (§10.9, §10.4),
// and never accepts one from a stranger.
func TestAcceptReplicaFromLeavingPeer_Sec10_9(t *testing.T) {
	s := sim.New(sim.Config{Seed: 7})
	s.Grow(8, 1)
	if !s.Settle(3, 3, 5000) {
		t.Fatal("ring did not converge")
	}
	ring := s.Peers()
	leaver, succ := ring[2], s.Node(ring[3]).Chord
	if !succ.AcceptReplica(nil, leaver) {
		t.Fatal("predecessor's Store refused")
	}
	if err := s.Leave(leaver); err != nil {
		t.Fatal(err)
	}
	s.Run(5)
	if slices.Contains(succ.Predecessors(), leaver) {
		t.Fatal("Leave not processed")
	}
	if !succ.AcceptReplica(nil, leaver) {
		t.Error("leaving peer's transfer refused after its Leave")
	}
	if succ.AcceptReplica(nil, nid(0x42)) {
		t.Error("Store from a stranger accepted")
	}
}

// Stats counts the §10.7 maintenance: periodic stabilisation on the
// update interval, Updates received, and peers declared failed.
func TestStatsCountMaintenance(t *testing.T) {
	cfg := chord.DefaultConfig(nid(0x40), rand.New(rand.NewPCG(1, 2)))
	cfg.TickLength, cfg.UpdateInterval = time.Second, 10*time.Second
	c, err := chord.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s != (chord.Stats{}) {
		t.Fatalf("fresh stats %+v", s)
	}
	for range 2 * int(cfg.UpdateInterval/cfg.TickLength) {
		c.Tick()
		for c.HasReady() {
			c.Ready()
			c.Advance()
		}
	}
	u := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, IDLen: 16, Predecessors: []wire.NodeID{nid(0x40)}, Successors: []wire.NodeID{nid(0x40)}}
	if err := c.Step(topology.Incoming{From: nid(0x50), Code: wire.CodeUpdateReq, Body: enc(t, &u), Token: 1}); err != nil {
		t.Fatal(err)
	}
	c.PeerFailed(nid(0x60))
	s := c.Stats()
	if s.Stabilizations < 1 || s.UpdatesReceived != 1 || s.PeerFailures != 1 {
		t.Fatalf("stats %+v, want stabilisations, one Update received, one peer failure", s)
	}
}

// startedPeer is the first peer of a ring, with Node-ID id and its start
// output drained.
func startedPeer(id wire.NodeID) *chord.Chord {
	c, _ := chord.New(chord.DefaultConfig(id, rand.New(rand.NewPCG(1, 1))))
	_ = c.Start()
	c.Ready()
	c.Advance()
	return c
}

// drainUpdates answers every Update c sends until it has nothing more to
// send. answer, when set, sees each Update with the UpdateAns that would
// answer it and returns the answer to step in instead, or false for none
// (a silent peer, or an answer the test delivers later).
func drainUpdates(t *testing.T, c *chord.Chord, answer func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool)) {
	t.Helper()
	for c.HasReady() {
		msgs := slices.Clone(c.Ready().Messages)
		c.Advance()
		for _, m := range msgs {
			if m.Answer || m.Code != wire.CodeUpdateReq {
				continue
			}
			in := topology.Incoming{From: m.To, Code: wire.CodeUpdateAns, Body: enc(t, &wire.UpdateAns{}), Token: m.Token}
			if answer != nil {
				var ok bool
				if in, ok = answer(m, in); !ok {
					continue
				}
			}
			if err := c.Step(in); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// refusal is the error answer of a node that is not a peer to an Update.
func refusal(t *testing.T, in topology.Incoming, info string) topology.Incoming {
	in.Code, in.Body = wire.CodeError, enc(t, &wire.ErrorResponse{Code: wire.ErrCodeForbidden, Info: []byte(info)})
	return in
}

// TestLateUpdateAnswerRevivesPeer: an Update that times out takes its
// peer for failed (§10.7.1), but when the answer comes after all the peer
// is alive and goes back into the neighbour sets, instead of staying out
// until some other Update happens to name it once its failure is
// forgotten (seen on a loaded machine, where Attach plus Update took
// longer than the request timeout).
func TestLateUpdateAnswerRevivesPeer(t *testing.T) {
	c := startedPeer(nid(0x80))
	slow, fast := nid(0x40), nid(0xc0)
	var late uint64
	// drain answers every request to fast at once and keeps the token of
	// the first Update to slow.
	drain := func() {
		drainUpdates(t, c, func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
			if m.To == slow && late == 0 {
				late = m.Token
			}
			return in, m.To == fast
		})
	}
	for i, jn := range []wire.NodeID{fast, slow} {
		if err := c.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	if late == 0 || !slices.Contains(c.Successors(), slow) {
		t.Fatalf("no Update to the slow peer, or it is not a successor: %v", c.Successors())
	}
	for range 100 { // past the request timeout: the slow peer is taken for failed
		c.Tick()
		drain()
	}
	if slices.Contains(c.Successors(), slow) || !slices.Contains(c.Successors(), fast) {
		t.Fatalf("after the timeout: successors %v", c.Successors())
	}
	if err := c.Step(topology.Incoming{From: slow, Code: wire.CodeUpdateAns, Body: enc(t, &wire.UpdateAns{}), Token: late}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Successors(), slow) || !slices.Contains(c.Predecessors(), slow) {
		t.Fatalf("late answer ignored: successors %v, predecessors %v", c.Successors(), c.Predecessors())
	}
}

// TestRefusedVerificationRetried: a peer named in gossip while it is
// still joining refuses the verification Update (§10.5); it is asked
// again a request timeout later, and once it answers it enters the
// neighbour sets, instead of waiting for the periodic stabilisation.
func TestRefusedVerificationRetried(t *testing.T) {
	c := startedPeer(nid(0x80))
	known, joining := nid(0xc0), nid(0x40)
	refuse := true
	var asked int
	drain := func() {
		drainUpdates(t, c, func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
			if m.To == joining {
				asked++
				if refuse {
					in = refusal(t, in, "joining")
				}
			}
			return in, true
		})
	}
	if err := c.Step(topology.Incoming{From: known, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: known}), Token: 1}); err != nil {
		t.Fatal(err)
	}
	drain()
	// known tells us of joining, which refuses to be verified yet.
	upd := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, Predecessors: []wire.NodeID{joining, nid(0x80)}, Successors: []wire.NodeID{nid(0x80)}, IDLen: 16}
	if err := c.Step(topology.Incoming{From: known, Code: wire.CodeUpdateReq, Body: enc(t, &upd), Token: 2}); err != nil {
		t.Fatal(err)
	}
	drain()
	if asked != 1 || slices.Contains(c.Successors(), joining) {
		t.Fatalf("asked %d times, successors %v", asked, c.Successors())
	}
	refuse = false // it has joined
	for range 100 {
		c.Tick()
		drain()
	}
	if asked < 2 || !slices.Contains(c.Successors(), joining) || !slices.Contains(c.Predecessors(), joining) {
		t.Fatalf("asked %d times: successors %v, predecessors %v", asked, c.Successors(), c.Predecessors())
	}
}

// TestNeighbourUpdateWhenFailureForgotten: a neighbour taken for failed
// because its requests timed out is ignored in gossip for a while; when
// that ends, the peer exchanges neighbour sets again, so that a
// neighbour that knows the peer is alive corrects it (§10.7.3) instead
// of the periodic stabilisation, minutes later.
func TestNeighbourUpdateWhenFailureForgotten(t *testing.T) {
	c := startedPeer(nid(0x80))
	slow, fast := nid(0x40), nid(0xc0)
	silent := true // slow does not answer
	var toFast int
	drain := func() {
		drainUpdates(t, c, func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
			if m.To == fast {
				toFast++
			}
			return in, m.To != slow || !silent
		})
	}
	tick := func(n int) {
		for range n {
			c.Tick()
			drain()
		}
	}
	for i, jn := range []wire.NodeID{fast, slow} {
		if err := c.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	tick(100) // slow's Update times out: taken for failed
	if slices.Contains(c.Successors(), slow) {
		t.Fatalf("successors %v", c.Successors())
	}
	silent = false
	// fast names slow while the failure is remembered: ignored.
	upd := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, Predecessors: []wire.NodeID{nid(0x80), slow}, Successors: []wire.NodeID{slow, nid(0x80)}, IDLen: 16}
	if err := c.Step(topology.Incoming{From: fast, Code: wire.CodeUpdateReq, Body: enc(t, &upd), Token: 10}); err != nil {
		t.Fatal(err)
	}
	drain()
	if slices.Contains(c.Successors(), slow) {
		t.Fatalf("gossip about a failed peer taken: %v", c.Successors())
	}
	before := toFast
	tick(1000) // the failure is forgotten
	if toFast == before {
		t.Fatal("no Update to the neighbours when the failure was forgotten")
	}
	// fast's correction names slow again: now it is verified.
	if err := c.Step(topology.Incoming{From: fast, Code: wire.CodeUpdateReq, Body: enc(t, &upd), Token: 11}); err != nil {
		t.Fatal(err)
	}
	drain()
	if !slices.Contains(c.Successors(), slow) {
		t.Fatalf("successors %v", c.Successors())
	}
}

// TestRestartedNeighbourDropped: a neighbour whose link came up again
// (PeerLinked) is asked for its sets; a process restarted with the same
// Node-ID that has not joined refuses, and leaves every table, so the
// peer stops routing its old range to it (and its own join reaches the
// right admitting peer). When it joins through us it is admitted again,
// and a refusal still in flight does not undo that.
func TestRestartedNeighbourDropped(t *testing.T) {
	c := startedPeer(nid(0x80))
	a, restarted := nid(0xc0), nid(0x40)
	refuse, hold := false, false
	var held []topology.Incoming // refusals to deliver later
	drain := func() {
		drainUpdates(t, c, func(m topology.Outgoing, in topology.Incoming) (topology.Incoming, bool) {
			if m.To != restarted || !refuse {
				return in, true
			}
			in = refusal(t, in, "not a peer of the overlay: idle")
			if hold {
				held = append(held, in)
				return in, false
			}
			return in, true
		})
	}
	for i, jn := range []wire.NodeID{a, restarted} {
		if err := c.Step(topology.Incoming{From: jn, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: jn}), Token: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	if !slices.Contains(c.Successors(), restarted) {
		t.Fatalf("successors %v", c.Successors())
	}
	// Its link comes up again while it answers as a peer: it stays.
	c.PeerLinked(restarted)
	drain()
	if !slices.Contains(c.Successors(), restarted) {
		t.Fatalf("a peer that answered was dropped: successors %v", c.Successors())
	}
	// A new process with its Node-ID links to us before joining.
	refuse = true
	c.PeerLinked(restarted)
	drain()
	if slices.Contains(c.Successors(), restarted) || slices.Contains(c.Predecessors(), restarted) || slices.Contains(c.Fingers(), restarted) {
		t.Fatalf("the restarted process is still in the tables: succ %v pred %v fingers %v", c.Successors(), c.Predecessors(), c.Fingers())
	}
	x := nid(0x41)
	d := wire.ResourceDest(wire.ResourceID(x.Bytes()))
	if next, _, _ := c.Route(&d); next == restarted {
		t.Fatal("still routed to the restarted process")
	}
	// It joins through us and is a neighbour again.
	refuse = false
	join := func(tok uint64) {
		t.Helper()
		if err := c.Step(topology.Incoming{From: restarted, Code: wire.CodeJoinReq, Body: enc(t, &wire.JoinReq{JoiningPeerID: restarted}), Token: tok}); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	join(9)
	if !slices.Contains(c.Successors(), restarted) {
		t.Fatalf("the rejoined process is not a successor: %v", c.Successors())
	}
	// A refusal of an Update sent before a Join, arriving after it, does
	// not undo the admission.
	refuse, hold = true, true
	c.PeerLinked(restarted)
	drain()
	refuse, hold = false, false
	join(10)
	for _, in := range held {
		_ = c.Step(in)
	}
	drain()
	if len(held) == 0 || !slices.Contains(c.Successors(), restarted) {
		t.Fatalf("%d refusals held; successors %v", len(held), c.Successors())
	}
}
