package chord_test

import (
	"math/rand/v2"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

var fuzzCodes = []wire.MessageCode{
	wire.CodeJoinReq, wire.CodeJoinAns, wire.CodeLeaveReq, wire.CodeLeaveAns, wire.CodeUpdateReq,
	wire.CodeUpdateAns, wire.CodeRouteQueryReq, wire.CodeRouteQueryAns, wire.CodeProbeReq, wire.CodeProbeAns,
	wire.CodePingAns, wire.CodeError, wire.CodeStoreReq,
}

// fuzzPlugin builds a plugin in one of several states.
func fuzzPlugin(t *testing.T, state byte) *chord.Chord {
	ids := []wire.NodeID{nid(0x10), nid(0x20), nid(0x40), nid(0x80), nid(0xc0)}
	cfg := chord.DefaultConfig(nid(0x10), rand.New(rand.NewPCG(1, 1)))
	switch state % 6 {
	case 0: // idle
	case 1:
		c := knowing(t, ids, nid(0x10), state&0x80 != 0)
		return c
	case 2:
		c, _ := chord.New(cfg)
		_ = c.Join(nid(0x80))
		return c
	case 3:
		cfg.Client = true
		c, _ := chord.New(cfg)
		_ = c.Join(nid(0x80))
		return c
	case 4:
		c := knowing(t, ids, nid(0x10), false)
		_ = c.Leave()
		return c
	case 5:
		c, _ := chord.New(cfg)
		_ = c.Start()
		return c
	}
	c, _ := chord.New(cfg)
	return c
}

// FuzzStep feeds decoded-but-hostile topology messages (valid encodings
// with arbitrary contents, and arbitrary bytes) to plugins in every state:
// Step never panics, every request gets exactly one answer, and the
// plugin keeps its invariants (never its own neighbour, sets within their
// sizes).
func FuzzStep(f *testing.F) {
	u := wire.ChordUpdate{Type: wire.ChordUpdateFull, Predecessors: []wire.NodeID{nid(0x10), nid(0xff)}, Successors: []wire.NodeID{nid(0x11)}, Fingers: []wire.NodeID{nid(0x12)}}
	ub, _ := u.Append(nil)
	ld := wire.ChordLeaveData{Type: wire.ChordLeaveFromSucc, Successors: []wire.NodeID{nid(0x10), nid(0x33)}}
	ldb, _ := ld.Append(nil)
	lq := wire.LeaveReq{LeavingPeerID: nid(0x80), OverlaySpecificData: ldb}
	lb, _ := lq.Append(nil)
	jb, _ := (&wire.JoinReq{JoiningPeerID: nid(0x80)}).Append(nil)
	qb, _ := (&wire.RouteQueryReq{SendUpdate: true, Destination: wire.CompressedDest(0x8001)}).Append(nil)
	pb, _ := (&wire.ProbeReq{RequestedInfo: []wire.ProbeInformationType{1, 2, 3, 9}}).Append(nil)
	for st := range byte(6) {
		f.Add(st, byte(4), byte(3), uint64(1), ub)
		f.Add(st, byte(2), byte(3), uint64(1), lb)
		f.Add(st, byte(0), byte(3), uint64(1), jb)
		f.Add(st, byte(6), byte(1), uint64(0), qb)
		f.Add(st, byte(8), byte(2), uint64(7), pb)
		f.Add(st, byte(1), byte(3), uint64(1), []byte{0, 0})
		f.Add(st, byte(10), byte(3), uint64(2), make([]byte, 16))
	}
	senders := []wire.NodeID{{}, nid(0x10), nid(0x20), nid(0x80), nid(0xc0), wire.MustNodeID(make([]byte, 20))}
	f.Fuzz(func(t *testing.T, state, code, from byte, token uint64, body []byte) {
		c := fuzzPlugin(t, state)
		c.Ready()
		c.Advance()
		in := topology.Incoming{From: senders[int(from)%len(senders)], Code: fuzzCodes[int(code)%len(fuzzCodes)], Body: body, Token: token}
		for range 3 {
			_ = c.Step(in)
			rd := c.Ready()
			if !in.IsAnswer() && in.Code != wire.CodeStoreReq {
				n := 0
				for _, m := range rd.Messages {
					if m.Answer && m.Token == in.Token {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%v got %d answers", in.Code, n)
				}
			}
			c.Advance()
			for range 40 {
				c.Tick()
			}
			c.Ready()
			c.Advance()
			in.Token++
		}
		var d wire.Destination
		if _, err := d.Decode(body); err == nil {
			_, _, _ = c.Route(&d)
		}
		_ = c.Responsible(body)
		_ = c.ReplicaSet(body)
		if len(c.Successors()) > chord.DefaultSuccessors || len(c.Predecessors()) > chord.DefaultPredecessors {
			t.Fatal("neighbour set too large")
		}
		for _, n := range append(c.Successors(), c.Predecessors()...) {
			if n == c.ID() || !n.Valid() {
				t.Fatalf("bad neighbour %v", n)
			}
		}
	})
}
