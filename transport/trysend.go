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
// with ErrQueueFull, a loss that the
// end-to-end retransmission of §6.2.1 covers like any other.
func (l *Link) TrySend(msg []byte) error { return l.TrySendParts(msg, nil) }

// TrySendParts is SendParts that never waits for room (see TrySend).
func (l *Link) TrySendParts(head, rest []byte) error {
	if l.st != nil && (l.maxMsg <= 0 || len(head)+len(rest) <= l.maxMsg) {
		// A stream link checks for room before it would wait, so the
		// ended context only stops the wait.
		err := l.sendStreamParts(ended, head, rest)
		if errors.Is(err, context.Canceled) {
			return ErrQueueFull
		}
		return err
	}
	msg := append(append(make([]byte, 0, len(head)+len(rest)), head...), rest...)
	if l.maxMsg > 0 && len(msg) > l.maxMsg {
		frags, err := Fragment(msg, l.maxMsg-fragmentHeadroom)
		if err != nil {
			return err
		}
		for _, f := range frags {
			if err := l.tryEnqueue(f); err != nil {
				return err
			}
		}
		return nil
	}
	return l.tryEnqueue(msg)
}

// tryEnqueue hands m to the link without waiting: a datagram link's loop
// takes messages through a buffered channel, which fills only once the
// loop stops taking them at its QueueLimit.
func (l *Link) tryEnqueue(m []byte) error {
	if l.st != nil {
		err := l.sendStream(ended, m)
		if errors.Is(err, context.Canceled) {
			return ErrQueueFull
		}
		return err
	}
	select {
	case <-l.done:
		return l.Err()
	default:
	}
	select {
	case l.sendc <- m:
		return nil
	default:
		return ErrQueueFull
	}
}
