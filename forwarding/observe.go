package forwarding

import "github.com/goreload/reload/transport"

// MessageObserver watches the messages an Engine receives from its links
// and originates, for a conformance monitor (RFC 6940 §6.3). It observes
// only: the engine acts on each message as it would without it. A nil
// Options.Observer costs one nil check per message.
type MessageObserver interface {
	// MessageReceived is a message (or fragment, §6.7) just read from
	// link l, before the engine routes it. It is called from the link's
	// reader goroutine, one per link, concurrently for different links.
	// raw belongs to the engine: the observer must not modify or keep it.
	MessageReceived(l *transport.Link, raw []byte)
	// MessageOriginated is a message this node built (a request, an
	// answer, or a retransmission of one) before it is routed; called
	// from the engine's loop. The same rules apply to raw.
	MessageOriginated(raw []byte)
}
