package forwarding

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

var (
	idA, idB, idC, idD = nid(1), nid(2), nid(3), nid(4)
)

func toC(m *wire.Message) { m.Header.Destinations = dests(idC) }

// joined is the message the shell puts on the link: Head then Rest.
func joined(a Action) []byte { return append(append([]byte(nil), a.Head...), a.Rest...) }

// RFC 6940 §6.1.2, §6.3.2: a transit peer appends the previous hop to the
// via list, decrements the TTL and leaves the rest of the message alone.
func TestTransitAppendsViaAndDecrementsTTL(t *testing.T) {
	c := newCore(t, 2, &staticRouter{next: idC}, neighbors(idA))
	raw := request(t, 1, wire.CodePingReq, pingBody(), toC)
	a := c.Process(idA, raw, testStart)
	if a.Kind != ActForward || a.To != idC {
		t.Fatalf("action %v to %v (%v), want forward to C", a.Kind, a.To, a.Err)
	}
	var in wire.ForwardingHeader
	n, _ := in.Decode(raw)
	if &a.Rest[0] != &raw[n] {
		t.Error("rest was copied, want the input's bytes untouched")
	}
	m := decode(t, joined(a))
	if m.Header.TTL != wire.DefaultTTL-1 {
		t.Errorf("ttl %d, want %d", m.Header.TTL, wire.DefaultTTL-1)
	}
	if got := destIDs(m.Header.Via); !slices.Equal(got, []wire.NodeID{idA}) {
		t.Errorf("via %v, want [A]", got)
	}
	if int(m.Header.Length) != len(joined(a)) {
		t.Errorf("length field %d, message %d", m.Header.Length, len(joined(a)))
	}
	// The origin's signature still verifies at the destination.
	if _, err := testVerifier(t).Verify(m, security.Expect{NodeID: idA}, testStart); err != nil {
		t.Errorf("signature after transit: %v", err)
	}
}

// RFC 6940 §6.1.1: this node's own Node-ID is removed and routing goes on
// with the next entry; as the last entry it means delivery.
func TestOwnNodeIDPopped(t *testing.T) {
	c := newCore(t, 2, &staticRouter{next: idD}, neighbors(idA, idC))
	raw := request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(idB, idC) })
	a := c.Process(idA, raw, testStart)
	if a.Kind != ActForward || a.To != idC {
		t.Fatalf("action %v to %v, want forward to C (connected, §6.1.2)", a.Kind, a.To)
	}
	if got := destIDs(decode(t, joined(a)).Header.Destinations); !slices.Equal(got, []wire.NodeID{idC}) {
		t.Errorf("destinations %v, want [C]", got)
	}
	raw = request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(idB) })
	if a := c.Process(idA, raw, testStart); a.Kind != ActDeliver || a.From != idA || a.Msg.Contents.Code != wire.CodePingReq {
		t.Fatalf("action %v (%v), want deliver from A", a.Kind, a.Err)
	}
}

// RFC 6940 §6.1.1: the wildcard Node-ID is consumed locally, never
// forwarded.
func TestWildcardConsumedLocally(t *testing.T) {
	c := newCore(t, 2, &staticRouter{next: idC}, nil)
	wild := wire.MustNodeID(bytes.Repeat([]byte{0xff}, 16))
	raw := request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(wild, idC) })
	if a := c.Process(idA, raw, testStart); a.Kind != ActDeliver {
		t.Fatalf("action %v, want deliver", a.Kind)
	}
}

// RFC 6940 §6.1.1, §6.1.2: a Resource-ID is delivered when this node is
// responsible, forwarded otherwise, and dropped when not last.
func TestResourceDestination(t *testing.T) {
	res := wire.ResourceIDFromName("alice@" + testOverlay)
	other := wire.ResourceIDFromName("bob@" + testOverlay)
	r := &staticRouter{next: idC, local: map[string]bool{string(res): true}}
	c := newCore(t, 2, r, nil)
	to := func(list ...wire.Destination) func(*wire.Message) {
		return func(m *wire.Message) { m.Header.Destinations = list }
	}
	if a := c.Process(idA, request(t, 1, wire.CodeFetchReq, nil, to(wire.ResourceDest(res))), testStart); a.Kind != ActDeliver {
		t.Errorf("responsible resource: %v (%v), want deliver", a.Kind, a.Err)
	}
	if a := c.Process(idA, request(t, 1, wire.CodeFetchReq, nil, to(wire.ResourceDest(other))), testStart); a.Kind != ActForward || a.To != idC {
		t.Errorf("other resource: %v, want forward to C", a.Kind)
	}
	if a := c.Process(idA, request(t, 1, wire.CodeFetchReq, nil, to(wire.ResourceDest(res), dests(idC)[0])), testStart); a.Kind != ActDrop || !errors.Is(a.Err, ErrResourceNotLast) {
		t.Errorf("resource not last: %v (%v), want silent drop", a.Kind, a.Err)
	}
}

// RFC 6940 §6.1.1: a Node-ID this peer is responsible for, not its own
// and not directly connected, is dropped silently.
func TestResponsibleNodeIDNotConnectedDropped(t *testing.T) {
	c := newCore(t, 2, &staticRouter{local: map[string]bool{string(idC.Bytes()): true}}, nil)
	if a := c.Process(idA, request(t, 1, wire.CodePingReq, pingBody(), toC), testStart); a.Kind != ActDrop || !errors.Is(a.Err, ErrNotForUs) {
		t.Fatalf("action %v (%v), want drop", a.Kind, a.Err)
	}
}

// RFC 6940 §6.2.2 with §6.1.2: an answer's destination list is the
// previous hop then the reversed via list, and it retraces the path.
func TestAnswerRetracesReversedVia(t *testing.T) {
	ca := newCore(t, 1, &staticRouter{next: idB}, neighbors(idB))
	cb := newCore(t, 2, &staticRouter{next: idD}, neighbors(idA, idC))
	cc := newCore(t, 3, &staticRouter{next: idB}, neighbors(idB))

	req := request(t, 1, wire.CodePingReq, pingBody(), toC)
	a := ca.Originate(req, testStart)
	if a.Kind != ActForward || a.To != idB {
		t.Fatalf("A: %v to %v, want forward to B", a.Kind, a.To)
	}
	a = cb.Process(idA, joined(a), testStart)
	if a.Kind != ActForward || a.To != idC {
		t.Fatalf("B: %v to %v, want forward to C", a.Kind, a.To)
	}
	a = cc.Process(idB, joined(a), testStart)
	if a.Kind != ActDeliver {
		t.Fatalf("C: %v (%v), want deliver", a.Kind, a.Err)
	}
	lc := local(t, 3)
	bld := builder{local: &lc}
	h := bld.answerHeader(&a.Msg.Header, a.From)
	if got := destIDs(h.Destinations); !slices.Equal(got, []wire.NodeID{idB, idA}) {
		t.Fatalf("answer destinations %v, want [B A]", got)
	}
	rest, err := bld.seal(nil, h.Overlay, h.TransactionID, wire.CodePingAns, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := bld.message(nil, &h, rest)
	if err != nil {
		t.Fatal(err)
	}
	a = cc.Originate(ans, testStart)
	if a.Kind != ActForward || a.To != idB {
		t.Fatalf("C answer: %v to %v, want forward to B", a.Kind, a.To)
	}
	a = cb.Process(idC, joined(a), testStart)
	if a.Kind != ActForward || a.To != idA {
		t.Fatalf("B answer: %v to %v, want forward to A", a.Kind, a.To)
	}
	a = ca.Process(idB, joined(a), testStart)
	if a.Kind != ActDeliver || a.Msg.Contents.Code != wire.CodePingAns {
		t.Fatalf("A answer: %v (%v), want deliver", a.Kind, a.Err)
	}
	if _, err := testVerifier(t).Verify(a.Msg, security.Expect{NodeID: idC}, testStart); err != nil {
		t.Errorf("answer signature: %v", err)
	}
}

// RFC 6940 §6.1.2, §6.1.3, §6.3.2.2: with list compression the via entry
// is an opaque id this peer issued; on the way back it is replaced by the
// connection it names, and a stale one is silently dropped.
func TestCompressedVia(t *testing.T) {
	n := neighbors(idA, idC)
	cb, err := NewCore(CoreConfig{Local: local(t, 2), Router: &staticRouter{}, Neighbors: n, CompressVia: true})
	if err != nil {
		t.Fatal(err)
	}
	a := cb.Process(idA, request(t, 1, wire.CodePingReq, pingBody(), toC), testStart)
	if a.Kind != ActForward {
		t.Fatalf("%v (%v)", a.Kind, a.Err)
	}
	m := decode(t, joined(a))
	if len(m.Header.Via) != 1 || !m.Header.Via[0].Compressed {
		t.Fatalf("via %v, want one compressed id", m.Header.Via)
	}
	x := m.Header.Via[0]
	back := func() []byte {
		return request(t, 3, wire.CodePingAns, make([]byte, 16), func(m *wire.Message) {
			m.Header.Destinations = append(dests(idB), wire.Destination{Type: wire.DestOpaqueID, ID: x.ID, Compressed: true})
		})
	}
	a = cb.Process(idC, back(), testStart)
	if a.Kind != ActForward || a.To != idA {
		t.Fatalf("answer: %v to %v (%v), want forward to A", a.Kind, a.To, a.Err)
	}
	if got := destIDs(decode(t, joined(a)).Header.Destinations); !slices.Equal(got, []wire.NodeID{idA}) {
		t.Errorf("destinations %v, want [A]", got)
	}
	n.stale[uint16(x.ID[0])<<8|uint16(x.ID[1])] = true
	if a := cb.Process(idC, back(), testStart); a.Kind != ActDrop || !errors.Is(a.Err, ErrUnknownOpaque) {
		t.Errorf("stale generation: %v (%v), want silent drop", a.Kind, a.Err)
	}
}

// A TTL or loop failure is reported with its own sentinel, not as a
// malformed message, and still answered with its RFC code: §6.3.2
// (Error_TTL_Exceeded) and RFC 7851 §6.2 (Error_Loop_Detected).
func TestTTLAndLoopSentinels(t *testing.T) {
	cases := []struct {
		name  string
		self  byte
		edit  func(*wire.Message)
		cause error
		code  wire.ErrorCode
	}{
		{"§6.3.2 ttl 0 not for us", 2, func(m *wire.Message) { toC(m); m.Header.TTL = 0 }, ErrTTLExceeded, wire.ErrCodeTTLExceeded},
		{"§6.3.2 ttl above initial-ttl", 3, func(m *wire.Message) { toC(m); m.Header.TTL = 101 }, ErrTTLExceeded, wire.ErrCodeTTLExceeded},
		{"RFC 7851 §6.2 own id in via list", 2, func(m *wire.Message) { toC(m); m.Header.Via = dests(idD, idB) }, ErrLoopDetected, wire.ErrCodeLoopDetected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, tc.self, &staticRouter{next: idD}, nil)
			raw := request(t, 1, wire.CodeStoreReq, nil, func(m *wire.Message) {
				m.Header.Via = dests(idD)
				tc.edit(m)
			})
			a := c.Process(idD, raw, testStart)
			if a.Kind != ActAnswer {
				t.Fatalf("action %v (%v), want answer", a.Kind, a.Err)
			}
			if !errors.Is(a.Err, tc.cause) {
				t.Errorf("reported %v, want %v", a.Err, tc.cause)
			}
			if errors.Is(a.Err, ErrMalformed) {
				t.Errorf("reported %v as a malformed message", a.Err)
			}
			if code, ok := wire.ErrorCodeOf(a.Err); !ok || code != tc.code {
				t.Errorf("reported code %v, want %v", code, tc.code)
			}
			if got := errorCode(t, decode(t, a.Head)); got != tc.code {
				t.Errorf("answered %v, want %v", got, tc.code)
			}
		})
	}
}

// Every malformed or unroutable request gets its RFC error code back,
// addressed along the reversed via list and signed by the node that
// answered; nothing panics.
func TestMalformedRequestsAnswered(t *testing.T) {
	wrongLen := wire.MustNodeID(bytes.Repeat([]byte{3}, 20))
	opt := func(flags uint8) func(*wire.Message) {
		return func(m *wire.Message) {
			toC(m)
			m.Header.Options = []wire.ForwardingOption{{Type: 0x7f, Flags: flags}}
		}
	}
	cases := []struct {
		name   string
		self   byte // the node that processes the message (2 is a transit peer, 3 the destination)
		router *staticRouter
		edit   func(*wire.Message)
		raw    func([]byte) []byte
		code   wire.ErrorCode
	}{
		{"§6.3.2 ttl 0 not for us", 2, nil, func(m *wire.Message) { toC(m); m.Header.TTL = 0 }, nil, wire.ErrCodeTTLExceeded},
		{"§6.3.2 ttl above initial-ttl", 3, nil, func(m *wire.Message) { toC(m); m.Header.TTL = 101 }, nil, wire.ErrCodeTTLExceeded},
		{"§6.3.2 version not 1.0", 2, nil, func(m *wire.Message) { toC(m); m.Header.Version = 0x01 }, nil, wire.ErrCodeInvalidMessage},
		{"§6.3.2/§6.7 fragment high bit clear", 2, nil, func(m *wire.Message) { toC(m); m.Header.Fragment = wire.FragmentLast }, nil, wire.ErrCodeInvalidMessage},
		{"§6.1/§6.3.3.1 other overlay", 2, nil, func(m *wire.Message) { toC(m); m.Header.Overlay++ }, nil, wire.ErrCodeIncompatibleWithOverlay},
		{"RFC 7851 §6.2 own id in via list", 2, nil, func(m *wire.Message) { toC(m); m.Header.Via = dests(idD, idB) }, nil, wire.ErrCodeLoopDetected},
		{"§13.6.5 duplicate destinations", 2, nil, func(m *wire.Message) { m.Header.Destinations = dests(idC, idD, idC) }, nil, wire.ErrCodeInvalidMessage},
		{"§6.3.2.3 unknown FORWARD_CRITICAL when forwarding", 2, nil, opt(wire.FlagForwardCritical), nil, wire.ErrCodeUnsupportedForwardingOption},
		{"§6.3.2.3 unknown DESTINATION_CRITICAL at destination", 3, nil, opt(wire.FlagDestinationCritical), nil, wire.ErrCodeUnsupportedForwardingOption},
		{"§6.3.2 empty destination list", 2, nil, func(m *wire.Message) { m.Header.Destinations = nil }, nil, wire.ErrCodeInvalidMessage},
		{"§6.3.1.1 node id of the wrong length", 2, nil, func(m *wire.Message) { m.Header.Destinations = dests(wrongLen) }, nil, wire.ErrCodeInvalidMessage},
		{"§6.3.2.2 resource id in via list", 2, nil, func(m *wire.Message) {
			toC(m)
			m.Header.Via = []wire.Destination{wire.ResourceDest(wire.ResourceIDFromName("x"))}
		}, nil, wire.ErrCodeInvalidMessage},
		{"§6.3.2 length field longer than the message", 2, nil, toC, func(b []byte) []byte { return b[:len(b)-1] }, wire.ErrCodeInvalidMessage},
		{"§6.3.2 bytes after the message", 2, nil, toC, func(b []byte) []byte { return append(b, 0) }, wire.ErrCodeInvalidMessage},
		{"§6.3.3 malformed contents at destination", 3, nil, toC, func(b []byte) []byte {
			// Make message_body's length run past the end.
			var h wire.ForwardingHeader
			n, _ := h.Decode(b)
			b[n+2] = 0x7f
			return b
		}, wire.ErrCodeInvalidMessage},
		{"§6.3.3 unknown critical extension", 3, nil, func(m *wire.Message) {
			toC(m)
			m.Contents.Extensions = []wire.MessageExtension{{Type: 0x7777, Critical: true}}
		}, nil, wire.ErrCodeUnknownExtension},
		{"§6.1.2 topology error", 2, &staticRouter{err: &wire.ProtocolError{Code: wire.ErrCodeNotFound}}, toC, nil, wire.ErrCodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.router
			if r == nil {
				r = &staticRouter{next: idD}
			}
			c := newCore(t, tc.self, r, nil)
			raw := request(t, 1, wire.CodeStoreReq, nil, func(m *wire.Message) {
				m.Header.Via = dests(idD) // the request came A -> D -> us
				tc.edit(m)
			})
			if tc.raw != nil {
				raw = tc.raw(raw)
			}
			a := c.Process(idD, raw, testStart)
			if a.Kind != ActAnswer || a.To != idD {
				t.Fatalf("action %v to %v (%v), want answer to D", a.Kind, a.To, a.Err)
			}
			if code, _ := protoCode(a.Err); code != tc.code {
				t.Errorf("reported %v, want %v", a.Err, tc.code)
			}
			m := decode(t, a.Head)
			if got := errorCode(t, m); got != tc.code {
				t.Errorf("answered %v, want %v", got, tc.code)
			}
			var req wire.ForwardingHeader
			if _, err := req.Decode(raw); err == nil {
				want := []wire.NodeID{idD}
				for i := len(req.Via) - 1; i >= 0; i-- {
					id, _ := req.Via[i].NodeID()
					want = append(want, id)
				}
				if got := destIDs(m.Header.Destinations); !slices.Equal(got, want) {
					t.Errorf("answer destinations %v, want %v", got, want)
				}
			}
			if m.Header.TransactionID != 0x1122334455667788 {
				t.Errorf("txid %x", m.Header.TransactionID)
			}
			if len(m.Header.Via) != 0 || m.Header.TTL != wire.DefaultTTL {
				t.Errorf("answer header: via %v ttl %d", m.Header.Via, m.Header.TTL)
			}
			if m.Header.Overlay == wire.OverlayHash(testOverlay) {
				if _, err := testVerifier(t).Verify(m, security.Expect{NodeID: nid(tc.self)}, testStart); err != nil {
					t.Errorf("error response signature: %v", err)
				}
			}
		})
	}
}

// What cannot or must not be answered is dropped: responses (an error is
// never answered with an error), fragments whose code is unknown,
// undecodable headers, and the silent drops of §6.1.1 and §6.3.2.2.
func TestMalformedDropped(t *testing.T) {
	cases := []struct {
		name string
		raw  func(t *testing.T) []byte
	}{
		{"§6.3.2 answer with ttl 0", func(t *testing.T) []byte {
			return request(t, 1, wire.CodePingAns, make([]byte, 16), func(m *wire.Message) { toC(m); m.Header.TTL = 0 })
		}},
		{"§6.3.2.3 FORWARD_CRITICAL flag in an answer", func(t *testing.T) []byte {
			return request(t, 1, wire.CodePingAns, make([]byte, 16), func(m *wire.Message) {
				toC(m)
				m.Header.Options = []wire.ForwardingOption{{Type: 0x7f, Flags: wire.FlagForwardCritical}}
			})
		}},
		{"§6.7 later fragment with ttl 0", func(t *testing.T) []byte {
			return request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
				toC(m)
				m.Header.TTL = 0
				m.Header.Fragment = wire.FragmentHistoric | 100
				m.Payload = make([]byte, 50)
			})
		}},
		{"§6.1 garbage", func(*testing.T) []byte { return []byte("not a RELOAD message at all, really") }},
		{"§6.1 empty", func(*testing.T) []byte { return nil }},
		{"§6.1 truncated header", func(t *testing.T) []byte { return request(t, 1, wire.CodePingReq, pingBody(), toC)[:40] }},
		{"§6.3.2.2 long opaque id not ours", func(t *testing.T) []byte {
			return request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
				m.Header.Destinations = []wire.Destination{{Type: wire.DestOpaqueID, ID: []byte{1, 2, 3}}}
			})
		}},
		{"§6.3.2.2 compressed id not issued", func(t *testing.T) []byte {
			return request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
				m.Header.Destinations = []wire.Destination{wire.CompressedDest(0x8123)}
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, 2, &staticRouter{next: idD}, nil)
			if a := c.Process(idA, tc.raw(t), testStart); a.Kind != ActDrop {
				t.Fatalf("action %v (%v), want drop", a.Kind, a.Err)
			}
		})
	}
}

// A message this node originates that cannot be routed fails locally.
func TestOriginateFails(t *testing.T) {
	c := newCore(t, 1, &staticRouter{}, nil)
	a := c.Originate(request(t, 1, wire.CodePingReq, pingBody(), toC), testStart)
	if a.Kind != ActFail {
		t.Fatalf("action %v, want fail", a.Kind)
	}
	if code, _ := protoCode(a.Err); code != wire.ErrCodeNotFound {
		t.Errorf("err %v", a.Err)
	}
	// A request to itself is delivered.
	a = c.Originate(request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(idA) }), testStart)
	if a.Kind != ActDeliver || a.From != idA {
		t.Fatalf("self: %v, want deliver", a.Kind)
	}
}

// RFC 6940 §6.7: transit peers forward fragments as they are; only the
// destination reassembles.
func TestFragmentsReassembledAtDestination(t *testing.T) {
	raw := request(t, 1, wire.CodePingReq, append([]byte{0x08, 0x00}, make([]byte, 2048)...), toC)
	frags, err := transport.Fragment(raw, 700)
	if err != nil || len(frags) < 3 {
		t.Fatalf("fragment: %d, %v", len(frags), err)
	}
	cb := newCore(t, 2, &staticRouter{next: idC}, nil)
	cc := newCore(t, 3, &staticRouter{}, nil)
	for i, f := range frags {
		a := cb.Process(idA, f, testStart)
		if a.Kind != ActForward {
			t.Fatalf("transit fragment %d: %v (%v)", i, a.Kind, a.Err)
		}
		a = cc.Process(idB, joined(a), testStart)
		want := ActHold
		if i == len(frags)-1 {
			want = ActDeliver
		}
		if a.Kind != want {
			t.Fatalf("destination fragment %d: %v (%v), want %v", i, a.Kind, a.Err, want)
		}
		if a.Kind == ActDeliver {
			if _, err := testVerifier(t).Verify(a.Msg, security.Expect{NodeID: idA}, testStart); err != nil {
				t.Errorf("reassembled signature: %v", err)
			}
			if len(a.Msg.Contents.Body) != 2050 {
				t.Errorf("body %d bytes", len(a.Msg.Contents.Body))
			}
		}
	}
}

// STYLE.md §5: the transit path does not allocate.
func TestTransitZeroAlloc(t *testing.T) {
	c := newCore(t, 2, &staticRouter{next: idC}, neighbors(idA))
	raw := request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
		toC(m)
		m.Header.Via = dests(idD)
	})
	allocs := testing.AllocsPerRun(1000, func() {
		if a := c.Process(idA, raw, testStart); a.Kind != ActForward {
			t.Fatal(a.Kind, a.Err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per transit, want 0", allocs)
	}
	cc := newCore(t, 2, &staticRouter{next: idC}, neighbors(idA, idC))
	cc.cfg.CompressVia = true
	allocs = testing.AllocsPerRun(1000, func() {
		if a := cc.Process(idA, raw, testStart); a.Kind != ActForward {
			t.Fatal(a.Kind, a.Err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per compressed transit, want 0", allocs)
	}
}

func BenchmarkTransit(b *testing.B) {
	c := newCore(b, 2, &staticRouter{next: idC}, neighbors(idA))
	raw := request(b, 1, wire.CodePingReq, pingBody(), toC)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if a := c.Process(idA, raw, testStart); a.Kind != ActForward {
			b.Fatal(a.Kind)
		}
	}
}

// FuzzProcess feeds hostile bytes to a transit peer and to a destination:
// the core never panics, and whatever it forwards or answers is a
// well-formed message.
func FuzzProcess(f *testing.F) {
	f.Add(request(f, 1, wire.CodePingReq, pingBody(), toC))
	f.Add(request(f, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(idB, idC) }))
	f.Add(request(f, 1, wire.CodePingAns, make([]byte, 16), func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.CompressedDest(0x8001), dests(idC)[0]}
		m.Header.Via = dests(idD)
	}))
	f.Add(request(f, 1, wire.CodeStoreReq, nil, func(m *wire.Message) {
		toC(m)
		m.Header.Options = []wire.ForwardingOption{{Type: 9, Flags: 3}}
		m.Header.TTL = 0
	}))
	f.Add(request(f, 1, wire.CodeFetchReq, nil, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(wire.ResourceIDFromName("r"))}
	}))
	f.Add(request(f, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) {
		toC(m)
		m.Header.Fragment = wire.FragmentHistoric | 10
		m.Payload = make([]byte, 40)
	}))
	transit := newCore(f, 2, &staticRouter{next: idC}, neighbors(idA, idD))
	transit.cfg.CompressVia = true
	dest := newCore(f, 3, &staticRouter{local: map[string]bool{string(wire.ResourceIDFromName("r")): true}}, neighbors(idB))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, c := range []*Core{transit, dest} {
			in := append([]byte(nil), raw...)
			a := c.Process(idA, in, testStart)
			switch a.Kind {
			case ActForward:
				var m wire.Message
				if _, err := m.Decode(joined(a)); err != nil && !errors.Is(err, wire.ErrTrailingData) && !errors.Is(err, wire.ErrTruncated) && !errors.Is(err, wire.ErrInvalid) {
					t.Fatalf("forwarded bytes: %v", err)
				}
				var h wire.ForwardingHeader
				if _, err := h.Decode(a.Head); err != nil || int(h.Length) != len(a.Head)+len(a.Rest) {
					t.Fatalf("forwarded header: %v (length %d vs %d)", err, h.Length, len(a.Head)+len(a.Rest))
				}
			case ActAnswer:
				m := decode(t, a.Head)
				if m.Contents.Code != wire.CodeError {
					t.Fatalf("answer code %v", m.Contents.Code)
				}
			case ActFail:
				t.Fatal("fail for a received message")
			}
		}
	})
}
