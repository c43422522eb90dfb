package transport

import (
	"context"
	"errors"
)

// ended is a context that has ended, so that a send given it never waits
// for room.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// TrySend is Send for a caller that must never wait for room, such as a
// node's routing loop, which a neighbour that stops reading would
// otherwise stall for everyone (RFC 6940 §13): when the link's queue is
// full (a peer that reads slowly or not at all) the message is refused
// with ErrQueueFull, a loss that the end-to-end retransmission of §6.2.1
// covers like any other.
func (l *Link) TrySend(msg []byte) error { return l.send(ended, msg, nil, true) }

// TrySendParts is SendParts that never waits for room (see TrySend).
func (l *Link) TrySendParts(head, rest []byte) error { return l.send(ended, head, rest, true) }

// queueFull is ErrQueueFull for a send that would have waited for room:
// a stream link checks for room before it waits, so the ended context of
// a try stops only the wait.
func queueFull(err error, try bool) error {
	if try && errors.Is(err, context.Canceled) {
		return ErrQueueFull
	}
	return err
}
