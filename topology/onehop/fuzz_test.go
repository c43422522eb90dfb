package onehop_test

import (
	"slices"
	"testing"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

var fuzzCodes = []wire.MessageCode{
	wire.CodeJoinReq, wire.CodeJoinAns, wire.CodeLeaveReq, wire.CodeLeaveAns, wire.CodeUpdateReq,
	wire.CodeUpdateAns, wire.CodeRouteQueryReq, wire.CodeRouteQueryAns, wire.CodeProbeReq, wire.CodeProbeAns,
	wire.CodePingAns, wire.CodeError, wire.CodeStoreReq,
}

// FuzzStep feeds arbitrary messages to a peer of a three-peer ring, to a
// joining node and to a leaving one: Step never panics, answers every
// request once, and the membership stays sorted, without this node.
func FuzzStep(f *testing.F) {
	up, _ := (&wire.ChordUpdate{Type: wire.ChordUpdateFull, Fingers: []wire.NodeID{nid(0x50), nid(0x10)}}).Append(nil)
	join, _ := (&wire.JoinReq{JoiningPeerID: nid(0x30)}).Append(nil)
	leave, _ := (&wire.LeaveReq{LeavingPeerID: nid(0x80)}).Append(nil)
	rq, _ := (&wire.RouteQueryReq{Destination: wire.ResourceDest(wire.ResourceID(bytesOf(nid(0x33))))}).Append(nil)
	for st := range byte(3) {
		f.Add(st, byte(4), byte(0x30), uint64(1), up)
		f.Add(st, byte(0), byte(0x30), uint64(2), join)
		f.Add(st, byte(2), byte(0x80), uint64(3), leave)
		f.Add(st, byte(6), byte(0x30), uint64(4), rq)
		f.Add(st, byte(11), byte(0), uint64(1), []byte{0, 3})
	}
	f.Fuzz(func(t *testing.T, st, code, from byte, token uint64, body []byte) {
		n := newNet(t)
		n.grow(nid(0x10), nid(0x80), nid(0xc0))
		o := n.nodes[nid(0x10)]
		switch st % 3 {
		case 1:
			o = n.add(nid(0x20))
			_ = o.Join(nid(0x80))
		case 2:
			_ = o.Leave()
		}
		o.Ready()
		o.Advance()
		c := fuzzCodes[int(code)%len(fuzzCodes)]
		in := topology.Incoming{Code: c, Body: body, Token: token}
		if from != 0 {
			in.From = nid(from)
		}
		_ = o.Step(in)
		answers := 0
		for _, m := range o.Ready().Messages {
			if m.Answer {
				answers++
			}
		}
		if !in.IsAnswer() && c != wire.CodeStoreReq && answers != 1 {
			t.Fatalf("%v answered %d times", c, answers)
		}
		m := o.Members()
		if !slices.IsSortedFunc(m, wire.NodeID.Compare) || slices.Contains(m, o.ID()) {
			t.Fatalf("members %v", m)
		}
		o.Tick()
	})
}
