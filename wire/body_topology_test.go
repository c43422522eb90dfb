package wire

import (
	"bytes"
	"errors"
	"testing"
)

// Node-IDs used by the topology vectors (16 bytes each).
var (
	topoA = MustNodeID([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	topoB = MustNodeID(bytes.Repeat([]byte{0x11}, 16))
	topoC = MustNodeID(bytes.Repeat([]byte{0x22}, 16))
	topoD = MustNodeID(bytes.Repeat([]byte{0x33}, 16))
	topo5 = MustNodeID(bytes.Repeat([]byte{0x55}, 20)) // 20 bytes
)

// topoIDsInvariant checks that every NodeID has the default length.
func topoIDsInvariant(t *testing.T, lists ...[]NodeID) {
	t.Helper()
	for _, l := range lists {
		for _, id := range l {
			if id.Len() != DefaultNodeIDLen {
				t.Fatalf("NodeID of %d bytes", id.Len())
			}
		}
	}
}

// ---- JoinReq / JoinAns ----

var joinReqEx = JoinReq{JoiningPeerID: topoA, OverlaySpecificData: []byte{}}

func TestDecodeJoinReq(t *testing.T) {
	checkGolden(t, loadVector(t, "join_req"), &joinReqEx)
}

func TestAppendJoinReq(t *testing.T) {
	if got, want := linkEncode(t, &joinReqEx), loadVector(t, "join_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		v    JoinReq
		want error
	}{
		{"zero NodeID", JoinReq{}, ErrInvalid},
		{"NodeID longer than IDLen", JoinReq{JoiningPeerID: topo5}, ErrInvalid},
		{"data too long", JoinReq{JoiningPeerID: topoA, OverlaySpecificData: make([]byte, 0x10000)}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Append(nil); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeJoinReqTruncated(t *testing.T) {
	checkTruncated[JoinReq](t, loadVector(t, "join_req"))
}

func TestDecodeJoinReqMalformed(t *testing.T) {
	vec := loadVector(t, "join_req")
	linkCheckBad[JoinReq](t, []linkBad{
		{"data overruns", linkMut(vec, 17, 1), ErrTruncated, "JoinReq.overlay_specific_data", 16},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "JoinReq", 18},
	}, nil)
	linkCheckBad[JoinReq](t, []linkBad{
		{"bad IDLen", vec, ErrInvalid, "JoinReq.joining_peer_id", 0},
	}, func(j *JoinReq) { j.IDLen = 5 })
	linkCheckBad[JoinReq](t, []linkBad{
		{"16-byte id with IDLen 20", vec, ErrTruncated, "JoinReq.joining_peer_id", 0},
	}, func(j *JoinReq) { j.IDLen = 20 })
}

// TestDecodeJoinReqIDLen20 decodes with a 20-byte overlay and checks that
// IDLen survives Decode.
func TestDecodeJoinReqIDLen20(t *testing.T) {
	in := JoinReq{JoiningPeerID: topo5, OverlaySpecificData: []byte{7}, IDLen: 20}
	enc := linkEncode(t, &in)
	if len(enc) != 23 || in.Len() != 23 {
		t.Fatalf("encoding %x, Len %d", enc, in.Len())
	}
	out := JoinReq{IDLen: 20}
	if _, err := out.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if !equalish(&out, &in) {
		t.Errorf("got %+v, want %+v", out, in)
	}
}

func FuzzDecodeJoinReq(f *testing.F) {
	linkFuzz[JoinReq](f, true, func(t *testing.T, j *JoinReq) {
		topoIDsInvariant(t, []NodeID{j.JoiningPeerID})
	}, loadVector(f, "join_req"), linkEncode(f, &JoinReq{JoiningPeerID: topoB, OverlaySpecificData: []byte("x")}))
}

var joinAnsEx = JoinAns{OverlaySpecificData: []byte{1, 2, 3}}

func TestDecodeJoinAns(t *testing.T) {
	checkGolden(t, loadVector(t, "join_ans"), &joinAnsEx)
}

func TestAppendJoinAns(t *testing.T) {
	if got, want := linkEncode(t, &joinAnsEx), loadVector(t, "join_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&JoinAns{OverlaySpecificData: make([]byte, 0x10000)}).Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeJoinAnsTruncated(t *testing.T) {
	checkTruncated[JoinAns](t, loadVector(t, "join_ans"))
}

func TestDecodeJoinAnsMalformed(t *testing.T) {
	linkCheckBad[JoinAns](t, []linkBad{
		{"data overruns", linkHex(t, "00 04 010203"), ErrTruncated, "JoinAns.overlay_specific_data", 0},
		{"trailing byte", linkHex(t, "00 00 00"), ErrTrailingData, "JoinAns", 2},
	}, nil)
}

func FuzzDecodeJoinAns(f *testing.F) {
	linkFuzz[JoinAns](f, true, nil, loadVector(f, "join_ans"), linkHex(f, "0000"))
}

// ---- LeaveReq / LeaveAns / ChordLeaveData ----

var leaveReqEx = LeaveReq{
	LeavingPeerID:       topoA,
	OverlaySpecificData: linkCat([]byte{1, 0, 32}, topoB.Bytes(), topoC.Bytes()),
}

func TestDecodeLeaveReq(t *testing.T) {
	vec := loadVector(t, "leave_req")
	checkGolden(t, vec, &leaveReqEx)
	// The overlay_specific_data is a CHORD-RELOAD ChordLeaveData.
	var l LeaveReq
	if _, err := l.Decode(vec); err != nil {
		t.Fatal(err)
	}
	var d ChordLeaveData
	if _, err := d.Decode(l.OverlaySpecificData); err != nil {
		t.Fatal(err)
	}
	want := ChordLeaveData{Type: ChordLeaveFromSucc, Successors: []NodeID{topoB, topoC}}
	if !equalish(&d, &want) {
		t.Errorf("leave data %+v, want %+v", d, want)
	}
}

func TestAppendLeaveReq(t *testing.T) {
	d := ChordLeaveData{Type: ChordLeaveFromSucc, Successors: []NodeID{topoB, topoC}}
	l := LeaveReq{LeavingPeerID: topoA, OverlaySpecificData: linkEncode(t, &d)}
	if got, want := linkEncode(t, &l), loadVector(t, "leave_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&LeaveReq{LeavingPeerID: topo5, IDLen: 16}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestDecodeLeaveReqTruncated(t *testing.T) {
	checkTruncated[LeaveReq](t, loadVector(t, "leave_req"))
}

func TestDecodeLeaveReqMalformed(t *testing.T) {
	vec := loadVector(t, "leave_req")
	linkCheckBad[LeaveReq](t, []linkBad{
		{"data overruns", linkMut(vec, 17, 0x24), ErrTruncated, "LeaveReq.overlay_specific_data", 16},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "LeaveReq", len(vec)},
	}, nil)
}

func FuzzDecodeLeaveReq(f *testing.F) {
	linkFuzz[LeaveReq](f, true, func(t *testing.T, l *LeaveReq) {
		topoIDsInvariant(t, []NodeID{l.LeavingPeerID})
	}, loadVector(f, "leave_req"), loadVector(f, "join_req"))
}

func TestDecodeLeaveAns(t *testing.T) {
	checkGolden(t, loadVector(t, "leave_ans"), &LeaveAns{})
}

func TestAppendLeaveAns(t *testing.T) {
	if got := linkEncode(t, &LeaveAns{}); len(got) != 0 {
		t.Errorf("got %x", got)
	}
}

func TestDecodeLeaveAnsTruncated(t *testing.T) {
	checkTruncated[LeaveAns](t, loadVector(t, "leave_ans"))
}

func TestDecodeLeaveAnsMalformed(t *testing.T) {
	linkCheckBad[LeaveAns](t, []linkBad{
		{"not empty", []byte{0, 0}, ErrTrailingData, "LeaveAns", 0},
	}, nil)
}

func FuzzDecodeLeaveAns(f *testing.F) {
	linkFuzz[LeaveAns](f, true, nil, []byte{}, []byte{1})
}

var chordLeaveDataEx = ChordLeaveData{Type: ChordLeaveFromPred, Predecessors: []NodeID{topoA}}

func TestDecodeChordLeaveData(t *testing.T) {
	checkGolden(t, loadVector(t, "chord_leave_data"), &chordLeaveDataEx)
}

func TestAppendChordLeaveData(t *testing.T) {
	if got, want := linkEncode(t, &chordLeaveDataEx), loadVector(t, "chord_leave_data"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		v    ChordLeaveData
		want error
		path string
	}{
		{"invalid type", ChordLeaveData{}, ErrInvalid, "ChordLeaveData.type"},
		{"from_pred with successors", ChordLeaveData{Type: ChordLeaveFromPred, Successors: []NodeID{topoA}}, ErrInvalid, "ChordLeaveData.successors"},
		{"from_succ with predecessors", ChordLeaveData{Type: ChordLeaveFromSucc, Predecessors: []NodeID{topoA}}, ErrInvalid, "ChordLeaveData.predecessors"},
		{"wrong NodeID length", ChordLeaveData{Type: ChordLeaveFromSucc, Successors: []NodeID{topoA, topo5}}, ErrInvalid, "ChordLeaveData.successors[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Errorf("err = %v, want %v at %s", err, tc.want, tc.path)
			}
		})
	}
}

func TestDecodeChordLeaveDataTruncated(t *testing.T) {
	checkTruncated[ChordLeaveData](t, loadVector(t, "chord_leave_data"))
}

func TestDecodeChordLeaveDataMalformed(t *testing.T) {
	vec := loadVector(t, "chord_leave_data")
	linkCheckBad[ChordLeaveData](t, []linkBad{
		{"type 0", linkMut(vec, 0, 0), ErrInvalid, "ChordLeaveData.type", 0},
		{"type 3", linkMut(vec, 0, 3), ErrInvalid, "ChordLeaveData.type", 0},
		{"list overruns", linkMut(vec, 2, 0x11), ErrTruncated, "ChordLeaveData.predecessors", 1},
		{"partial NodeID", linkCat(linkMut(vec, 2, 0x11), []byte{9}), ErrTruncated, "ChordLeaveData.predecessors[1]", 19},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "ChordLeaveData", 19},
	}, nil)
}

func FuzzDecodeChordLeaveData(f *testing.F) {
	linkFuzz[ChordLeaveData](f, true, func(t *testing.T, d *ChordLeaveData) {
		switch d.Type {
		case ChordLeaveFromSucc:
			if len(d.Predecessors) != 0 {
				t.Fatal("from_succ with predecessors")
			}
		case ChordLeaveFromPred:
			if len(d.Successors) != 0 {
				t.Fatal("from_pred with successors")
			}
		default:
			t.Fatalf("type %v decoded", d.Type)
		}
		topoIDsInvariant(t, d.Successors, d.Predecessors)
	}, loadVector(f, "chord_leave_data"), leaveReqEx.OverlaySpecificData)
}

// ---- ChordUpdate / UpdateAns ----

var (
	chordUpdatePeerReadyEx = ChordUpdate{Uptime: 3600, Type: ChordUpdatePeerReady}
	chordUpdateNeighborsEx = ChordUpdate{
		Uptime: 3600, Type: ChordUpdateNeighbors,
		Predecessors: []NodeID{topoA, topoB},
		Successors:   []NodeID{topoC},
	}
	chordUpdateFullEx = ChordUpdate{
		Uptime: 86400, Type: ChordUpdateFull,
		Predecessors: []NodeID{topoA},
		Successors:   []NodeID{topoB},
		Fingers:      []NodeID{topoC, topoD},
	}
)

func TestDecodeChordUpdate(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want *ChordUpdate
	}{
		{"chord_update_peer_ready", &chordUpdatePeerReadyEx},
		{"chord_update_neighbors", &chordUpdateNeighborsEx},
		{"chord_update_full", &chordUpdateFullEx},
	} {
		t.Run(tc.vec, func(t *testing.T) { checkGolden(t, loadVector(t, tc.vec), tc.want) })
	}
}

func TestAppendChordUpdate(t *testing.T) {
	if got, want := linkEncode(t, &chordUpdateFullEx), loadVector(t, "chord_update_full"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		v    ChordUpdate
		want error
		path string
	}{
		{"invalid type", ChordUpdate{}, ErrInvalid, "ChordUpdate.type"},
		{"unknown type", ChordUpdate{Type: 4}, ErrInvalid, "ChordUpdate.type"},
		{"peer_ready with successors", ChordUpdate{Type: ChordUpdatePeerReady, Successors: []NodeID{topoA}}, ErrInvalid, "ChordUpdate.successors"},
		{"peer_ready with fingers", ChordUpdate{Type: ChordUpdatePeerReady, Fingers: []NodeID{topoA}}, ErrInvalid, "ChordUpdate.fingers"},
		{"neighbors with fingers", ChordUpdate{Type: ChordUpdateNeighbors, Fingers: []NodeID{topoA}}, ErrInvalid, "ChordUpdate.fingers"},
		{"zero NodeID", ChordUpdate{Type: ChordUpdateFull, Fingers: []NodeID{{}}}, ErrInvalid, "ChordUpdate.fingers[0]"},
		{"list too long", ChordUpdate{Type: ChordUpdateFull, Successors: make([]NodeID, 4096)}, ErrTooLong, "ChordUpdate.successors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Append(nil)
			var de *DecodeError
			if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Path != tc.path {
				t.Errorf("err = %v, want %v at %s", err, tc.want, tc.path)
			}
		})
	}
}

func TestDecodeChordUpdateTruncated(t *testing.T) {
	for _, name := range []string{"chord_update_peer_ready", "chord_update_neighbors", "chord_update_full"} {
		checkTruncated[ChordUpdate](t, loadVector(t, name))
	}
}

func TestDecodeChordUpdateMalformed(t *testing.T) {
	nb := loadVector(t, "chord_update_neighbors")
	full := loadVector(t, "chord_update_full")
	// neighbors offsets: uptime 0, type 4, predecessors 5 (ids at 7, 23),
	// successors 39 (id at 41).
	linkCheckBad[ChordUpdate](t, []linkBad{
		{"type 0", linkMut(nb, 4, 0), ErrInvalid, "ChordUpdate.type", 4},
		{"type 4", linkMut(nb, 4, 4), ErrInvalid, "ChordUpdate.type", 4},
		{"peer_ready with lists", linkMut(nb, 4, 1), ErrTrailingData, "ChordUpdate", 5},
		{"neighbors reading full", linkMut(full, 4, 2), ErrTrailingData, "ChordUpdate", 41},
		{"full reading neighbors", linkMut(nb, 4, 3), ErrTruncated, "ChordUpdate.fingers", 57},
		{"predecessors partial id", linkMut(nb, 6, 0x21), ErrTruncated, "ChordUpdate.predecessors[2]", 39},
		{"predecessors overrun", linkMut(nb, 5, 1), ErrTruncated, "ChordUpdate.predecessors", 5},
		{"successors overrun", linkMut(nb, 40, 0x11), ErrTruncated, "ChordUpdate.successors", 39},
		{"trailing byte", linkCat(nb, []byte{0}), ErrTrailingData, "ChordUpdate", len(nb)},
	}, nil)
	linkCheckBad[ChordUpdate](t, []linkBad{
		{"IDLen 20 over 16-byte ids", nb, ErrTruncated, "ChordUpdate.predecessors[1]", 27},
	}, func(u *ChordUpdate) { u.IDLen = 20 })
}

func TestDecodeChordUpdateIDLen20(t *testing.T) {
	in := ChordUpdate{Uptime: 1, Type: ChordUpdateNeighbors, Predecessors: []NodeID{topo5}, Successors: []NodeID{topo5, topo5}, IDLen: 20}
	enc := linkEncode(t, &in)
	if len(enc) != in.Len() || len(enc) != 5+2+20+2+40 {
		t.Fatalf("encoding of %d bytes, Len %d", len(enc), in.Len())
	}
	out := ChordUpdate{IDLen: 20}
	if _, err := out.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if !equalish(&out, &in) {
		t.Errorf("got %+v, want %+v", out, in)
	}
}

// TestDecodeChordUpdateReuse: decoding peer_ready into a value that held
// a full update empties its lists and keeps IDLen.
func TestDecodeChordUpdateReuse(t *testing.T) {
	var u ChordUpdate
	if _, err := u.Decode(loadVector(t, "chord_update_full")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Decode(loadVector(t, "chord_update_peer_ready")); err != nil {
		t.Fatal(err)
	}
	if !equalish(&u, &chordUpdatePeerReadyEx) {
		t.Errorf("got %+v", u)
	}
	if n := testing.AllocsPerRun(50, func() {
		_, _ = u.Decode(topoFullSmall)
	}); n != 0 {
		t.Errorf("ChordUpdate.Decode: %v allocs", n)
	}
}

var topoFullSmall = func() []byte {
	b := append([]byte{0, 0, 0, 1, 3, 0, 16}, topoA.Bytes()...)
	b = append(b, 0, 16)
	b = append(b, topoB.Bytes()...)
	b = append(b, 0, 16)
	return append(b, topoC.Bytes()...)
}()

func FuzzDecodeChordUpdate(f *testing.F) {
	linkFuzz[ChordUpdate](f, true, func(t *testing.T, u *ChordUpdate) {
		switch u.Type {
		case ChordUpdatePeerReady:
			if len(u.Predecessors)+len(u.Successors)+len(u.Fingers) != 0 {
				t.Fatal("peer_ready with lists")
			}
		case ChordUpdateNeighbors:
			if len(u.Fingers) != 0 {
				t.Fatal("neighbors with fingers")
			}
		case ChordUpdateFull:
		default:
			t.Fatalf("type %v decoded", u.Type)
		}
		topoIDsInvariant(t, u.Predecessors, u.Successors, u.Fingers)
	}, loadVector(f, "chord_update_peer_ready"), loadVector(f, "chord_update_neighbors"),
		loadVector(f, "chord_update_full"))
}

func TestDecodeUpdateAns(t *testing.T) {
	checkGolden(t, loadVector(t, "update_ans"), &UpdateAns{})
}

func TestAppendUpdateAns(t *testing.T) {
	if got := linkEncode(t, &UpdateAns{}); len(got) != 0 {
		t.Errorf("got %x", got)
	}
}

func TestDecodeUpdateAnsTruncated(t *testing.T) {
	checkTruncated[UpdateAns](t, loadVector(t, "update_ans"))
}

func TestDecodeUpdateAnsMalformed(t *testing.T) {
	linkCheckBad[UpdateAns](t, []linkBad{
		{"not empty", []byte{0}, ErrTrailingData, "UpdateAns", 0},
	}, nil)
}

func FuzzDecodeUpdateAns(f *testing.F) {
	linkFuzz[UpdateAns](f, true, nil, []byte{}, []byte{1, 2})
}

// ---- RouteQueryReq / ChordRouteQueryAns ----

var routeQueryReqEx = RouteQueryReq{
	SendUpdate:          true,
	Destination:         ResourceDest(ResourceID{0xde, 0xad, 0xbe, 0xef}),
	OverlaySpecificData: []byte{},
}

func TestDecodeRouteQueryReq(t *testing.T) {
	checkGolden(t, loadVector(t, "route_query_req"), &routeQueryReqEx)
}

func TestAppendRouteQueryReq(t *testing.T) {
	if got, want := linkEncode(t, &routeQueryReqEx), loadVector(t, "route_query_req"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	_, err := (&RouteQueryReq{}).Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "RouteQueryReq.destination.type" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeRouteQueryReqTruncated(t *testing.T) {
	checkTruncated[RouteQueryReq](t, loadVector(t, "route_query_req"))
	node := RouteQueryReq{Destination: NodeDest(&topoA), OverlaySpecificData: []byte{1}}
	checkTruncated[RouteQueryReq](t, linkEncode(t, &node))
}

func TestDecodeRouteQueryReqMalformed(t *testing.T) {
	vec := loadVector(t, "route_query_req")
	linkCheckBad[RouteQueryReq](t, []linkBad{
		{"send_update 2", linkMut(vec, 0, 2), ErrInvalid, "RouteQueryReq.send_update", 0},
		{"destination type 0", linkMut(vec, 1, 0), ErrInvalid, "RouteQueryReq.destination.type", 1},
		{"destination resource short", linkMut(vec, 3, 5), ErrTruncated, "RouteQueryReq.destination.resource_id", 3},
		{"data overruns", linkMut(vec, 9, 1), ErrTruncated, "RouteQueryReq.overlay_specific_data", 8},
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "RouteQueryReq", 10},
	}, nil)
}

func FuzzDecodeRouteQueryReq(f *testing.F) {
	node := RouteQueryReq{Destination: NodeDest(&topoA)}
	linkFuzz[RouteQueryReq](f, true, nil, loadVector(f, "route_query_req"), linkEncode(f, &node))
}

var chordRouteQueryAnsEx = ChordRouteQueryAns{NextPeer: topoB}

func TestDecodeChordRouteQueryAns(t *testing.T) {
	checkGolden(t, loadVector(t, "chord_route_query_ans"), &chordRouteQueryAnsEx)
}

func TestAppendChordRouteQueryAns(t *testing.T) {
	if got, want := linkEncode(t, &chordRouteQueryAnsEx), loadVector(t, "chord_route_query_ans"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if _, err := (&ChordRouteQueryAns{NextPeer: topoB, IDLen: 20}).Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	a := ChordRouteQueryAns{NextPeer: topo5, IDLen: 20}
	enc := linkEncode(t, &a)
	b := ChordRouteQueryAns{IDLen: 20}
	if _, err := b.Decode(enc); err != nil || b != a {
		t.Errorf("IDLen 20 round trip: %+v, %v", b, err)
	}
}

func TestDecodeChordRouteQueryAnsTruncated(t *testing.T) {
	checkTruncated[ChordRouteQueryAns](t, loadVector(t, "chord_route_query_ans"))
}

func TestDecodeChordRouteQueryAnsMalformed(t *testing.T) {
	vec := loadVector(t, "chord_route_query_ans")
	linkCheckBad[ChordRouteQueryAns](t, []linkBad{
		{"trailing byte", linkCat(vec, []byte{0}), ErrTrailingData, "ChordRouteQueryAns", 16},
	}, nil)
	linkCheckBad[ChordRouteQueryAns](t, []linkBad{
		{"IDLen 21", vec, ErrInvalid, "ChordRouteQueryAns.next_peer", 0},
	}, func(a *ChordRouteQueryAns) { a.IDLen = 21 })
}

func FuzzDecodeChordRouteQueryAns(f *testing.F) {
	linkFuzz[ChordRouteQueryAns](f, true, func(t *testing.T, a *ChordRouteQueryAns) {
		topoIDsInvariant(t, []NodeID{a.NextPeer})
	}, loadVector(f, "chord_route_query_ans"))
}

func TestTopologyEnumStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ChordUpdatePeerReady.String(), "peer_ready"},
		{ChordUpdateFull.String(), "full"},
		{ChordUpdateType(7).String(), "ChordUpdateType(7)"},
		{ChordLeaveFromSucc.String(), "from_succ"},
		{ChordLeaveFromPred.String(), "from_pred"},
		{ChordLeaveInvalid.String(), "invalidChordLeaveType"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
