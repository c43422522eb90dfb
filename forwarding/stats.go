package forwarding

import (
	"sync/atomic"

	"github.com/goreload/reload/wire"
)

// Stats counts what an Engine sends, receives and forwards. Every counter
// is atomic, so a metrics collector may read them at any time; the engine
// adds to them without allocating. Engine.Stats returns the engine's.
type Stats struct {
	msgs [2][statCodes][statResults]atomic.Uint64

	// Forwarded counts the messages this node forwarded for others
	// (transit, §6.1.2) and ForwardedBytes their size.
	Forwarded      atomic.Uint64
	ForwardedBytes atomic.Uint64
	// Dropped counts the received messages the routing core discarded
	// (malformed, unknown opaque id, resource id not last, …; §6.1).
	Dropped atomic.Uint64
	// QueueFull counts the messages not sent because the link to the
	// next hop had its send queue full (a neighbour that reads slowly or
	// not at all; transport.ErrQueueFull).
	QueueFull atomic.Uint64
	// Retransmissions counts end-to-end retransmissions of this node's
	// requests (§6.2.1); Timeouts the requests that failed with
	// Error_Request_Timeout after the last one.
	Retransmissions atomic.Uint64
	Timeouts        atomic.Uint64
	// HandshakesEvicted counts the inbound TLS connections closed before
	// their handshake finished to make room for newer ones, when the
	// pending-handshake limits were reached (Options.MaxPendingHandshakes).
	HandshakesEvicted atomic.Uint64
	// AnswersNotResponsible counts answers to this node's requests to a
	// Resource-ID dropped because their signer was farther from it than
	// a node of the Neighbor Table (§6.3.4 rule 2).
	AnswersNotResponsible atomic.Uint64
	// Routes counts direct response and relay peer routing (RFC 7263,
	// RFC 7264).
	Routes RouteStats

	// hops[i] counts the answers to this node's requests that travelled i
	// overlay hops (len(via list) + 1); the last slot holds longer paths.
	hops    [MaxHops + 2]atomic.Uint64
	hopsSum atomic.Uint64
}

// MaxHops is the longest path Stats.Hops tells apart; longer ones share
// the last slot.
const MaxHops = 62

const (
	statCodes   = 64 // message codes below 63 by value; 63 counts the rest
	statResults = 32 // resultOK, resultDropped, then 2+error code; 31 the rest
)

const (
	resultOK      = 0
	resultDropped = 1
)

// MessageCount is one counter of Stats.Messages: the messages with code
// Method sent (or received) with outcome Result.
type MessageCount struct {
	Sent bool
	// Method is the message code's name (ping_req, store_ans, …; "error"
	// for an error response whose request is unknown, as when the
	// routing core answers; "other" for codes the table does not keep
	// apart).
	Method string
	// Result is "ok", "dropped" (not routed or not sent when sent;
	// discarded after routing when received: bad signature, duplicate in
	// progress, …) or the error code's name of an error response
	// (Error_Not_Found, …).
	Result string
	N      uint64
}

// Messages returns the non-zero message counters.
func (s *Stats) Messages() []MessageCount {
	var out []MessageCount
	for dir := range s.msgs {
		for c := range s.msgs[dir] {
			for r := range s.msgs[dir][c] {
				n := s.msgs[dir][c][r].Load()
				if n == 0 {
					continue
				}
				out = append(out, MessageCount{Sent: dir == 0, Method: codeName(c), Result: resultName(r), N: n})
			}
		}
	}
	return out
}

// Hops returns how many answers to this node's requests travelled h
// overlay hops, for h from 0 to MaxHops+1 (the last counting longer
// paths too), and the sum of the hops.
func (s *Stats) Hops() (counts []uint64, sum uint64) {
	counts = make([]uint64, len(s.hops))
	for i := range s.hops {
		counts[i] = s.hops[i].Load()
	}
	return counts, s.hopsSum.Load()
}

func codeName(i int) string {
	switch i {
	case statCodes - 1:
		return "other"
	case 0:
		return wire.CodeError.String()
	}
	return wire.MessageCode(i).String()
}

func resultName(i int) string {
	switch i {
	case resultOK:
		return "ok"
	case resultDropped:
		return "dropped"
	case statResults - 1:
		return "other_error"
	}
	return wire.ErrorCode(i - 2).String()
}

// codeIndex maps a message code to its slot; CodeError (and the invalid
// code 0, which is never counted otherwise) share slot 0.
func codeIndex(c wire.MessageCode) int {
	switch {
	case c == wire.CodeError || c == 0:
		return 0
	case c < statCodes-1:
		return int(c)
	}
	return statCodes - 1
}

func errIndex(c wire.ErrorCode) int {
	if int(c) < statResults-3 {
		return int(c) + 2
	}
	return statResults - 1
}

// resultOf is the result slot of an outcome: ok, or the error code of the
// *wire.ProtocolError sent or *wire.RemoteError received in err (other
// errors count as dropped).
func resultOf(err error) int {
	if err == nil {
		return resultOK
	}
	// The common cases, without errors.As's allocation.
	switch e := err.(type) { //nolint:errorlint // errors.As follows
	case *wire.ProtocolError:
		return errIndex(e.Code)
	case *wire.RemoteError:
		if e.Err != nil {
			// An error answer whose body did not decode: counted
			// under the code for an invalid message.
			return errIndex(wire.ErrCodeInvalidMessage)
		}
		return errIndex(e.Code)
	}
	if c, ok := wire.ErrorCodeOf(err); ok {
		return errIndex(c)
	}
	return resultDropped
}

func (s *Stats) sent(c wire.MessageCode, result int) {
	s.msgs[0][codeIndex(c)][result].Add(1)
}

func (s *Stats) received(c wire.MessageCode, result int) {
	s.msgs[1][codeIndex(c)][result].Add(1)
}

func (s *Stats) hop(via int) {
	h := via + 1
	s.hopsSum.Add(uint64(h))
	if h > MaxHops+1 {
		h = MaxHops + 1
	}
	s.hops[h].Add(1)
}
