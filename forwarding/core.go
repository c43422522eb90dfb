package forwarding

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Router is what the routing core asks of the topology plugin (RFC 6940
// §6.1.1, §6.1.2, §6.4.1): for a node or resource destination, either this
// node is responsible for it (local) or next is the neighbour to forward
// to. An error that is a *wire.ProtocolError is answered with its code; any
// other error drops the message.
type Router interface {
	Route(d *wire.Destination) (next wire.NodeID, local bool, err error)
}

// Neighbors is what the core asks of the connection table: whether a
// Node-ID is directly connected (§6.1.2: "If the first entry on the
// Destination List is in the peer's Connection Table, the peer MUST forward
// the message to that peer directly"), and the 16-bit compressed ids of
// §6.3.2.2 that stand for a connection. ConnTable implements it.
type Neighbors interface {
	Connected(id wire.NodeID) bool
	// Compress returns the compressed id (top bit set) that names the
	// connection to id, if any.
	Compress(id wire.NodeID) (uint16, bool)
	// Expand returns the Node-ID of the connection a compressed id names,
	// false when it names none or its generation is stale.
	Expand(v uint16) (wire.NodeID, bool)
}

// ActionKind says what the shell must do with a message.
type ActionKind uint8

// Action kinds.
const (
	// ActDrop: discard the message; Err says why.
	ActDrop ActionKind = iota
	// ActForward: send Head followed by Rest to the neighbour To.
	ActForward
	// ActDeliver: the message is for this node; Msg is it, decoded.
	ActDeliver
	// ActAnswer: send the error response in Head to the neighbour To
	// (the error is Err).
	ActAnswer
	// ActHold: a fragment was kept for reassembly (§6.7).
	ActHold
	// ActFail: a message this node originated cannot be routed; Err is
	// why (a *wire.ProtocolError when the RFC names a code).
	ActFail
)

func (k ActionKind) String() string {
	switch k {
	case ActDrop:
		return "drop"
	case ActForward:
		return "forward"
	case ActDeliver:
		return "deliver"
	case ActAnswer:
		return "answer"
	case ActHold:
		return "hold"
	case ActFail:
		return "fail"
	}
	return "ActionKind(?)"
}

// Action is the core's verdict on one message. Its slices and Msg belong
// to the core (Rest aliases the input) and are valid until the next call.
type Action struct {
	Kind ActionKind
	// To is the neighbour to send to (ActForward, ActAnswer).
	To wire.NodeID
	// Head is the new forwarding header (ActForward) or the whole error
	// response (ActAnswer); Rest follows Head on the wire.
	Head, Rest []byte
	// Msg is the decoded message (ActDeliver); Raw its bytes (after
	// reassembly) and From the neighbour it came from, or this node for a
	// message it originated.
	Msg  *wire.Message
	Raw  []byte
	From wire.NodeID
	// Err is the reason for ActDrop, ActAnswer and ActFail.
	Err error

	// pre is the signature check made before the message was routed
	// (Engine.preVerify), for Transactions.Receive.
	pre preVerified
}

// Drop reasons that are not RELOAD errors.
var (
	ErrNotForUs        = errors.New("forwarding: destination is a node this peer is responsible for but not connected to")
	ErrUnknownOpaque   = errors.New("forwarding: unknown or stale compressed id")
	ErrResourceNotLast = errors.New("forwarding: resource id not last in destination list")
	ErrMalformed       = errors.New("forwarding: malformed message")
	ErrNotAnswerable   = errors.New("forwarding: error not answered (response or non-initial fragment)")
	ErrReassembly      = errors.New("forwarding: reassembly failed")
	ErrNoRoute         = errors.New("forwarding: no route")
	// ErrTooLarge marks a message larger than max-message-size (§6.6),
	// answered with Error_Message_Too_Large or, when it cannot be
	// answered, dropped.
	ErrTooLarge = errors.New("forwarding: message larger than max-message-size")
)

// Causes of the routing errors a transit peer answers on its own behalf:
// the *wire.ProtocolError of the Action wraps them (test with errors.Is)
// and carries the code that goes on the wire.
var (
	// ErrTTLExceeded: a message not for this node arrived with TTL 0, or
	// any message with a TTL above the overlay's initial-ttl (RFC 6940
	// §6.3.2). Answered with Error_TTL_Exceeded.
	ErrTTLExceeded = errors.New("forwarding: ttl exceeded")
	// ErrLoopDetected: this node's own Node-ID is in the via list of a
	// message it would forward (RFC 7851 §6.2). Answered with
	// Error_Loop_Detected.
	ErrLoopDetected = errors.New("forwarding: loop detected")
)

// CoreConfig configures a Core.
type CoreConfig struct {
	// Local is this node's identity and overlay parameters.
	Local Local
	// Router is the topology plugin's next-hop function.
	Router Router
	// Neighbors is the connection table.
	Neighbors Neighbors
	// CompressVia makes the core append the compressed id of the previous
	// hop's connection to the via list instead of its Node-ID (list
	// compression, §6.1.2, §6.3.2.2).
	CompressVia bool
	// KnownOption reports the forwarding options this node understands;
	// nil means none (RFC 6940 defines none).
	KnownOption func(wire.ForwardingOptionType) bool
	// KnownExtension reports the message extensions this node understands
	// at a destination; nil means none.
	KnownExtension func(wire.MessageExtensionType) bool
	// Reassembly bounds fragment reassembly at the destination.
	Reassembly transport.ReassemblyConfig
}

// Local is what a node needs to know about itself to build and check
// messages.
type Local struct {
	// Identity signs the messages this node originates, error responses
	// included. Its NodeID is this node's Node-ID.
	Identity *security.Identity
	// Overlay is the overlay hash (wire.OverlayHash of the overlay name).
	Overlay uint32
	// ConfigSequence is the sequence number of the current configuration
	// (§6.3.2.1).
	ConfigSequence uint16
	// InitialTTL is the overlay's initial-ttl (0 means 100).
	InitialTTL uint8
	// NodeIDLength is the overlay's node-id-length (0 means 16).
	NodeIDLength int
	// MaxMessageSize is the overlay's max-message-size (0: no limit,
	// §6.6, §11.1): a received message larger than it is answered with
	// Error_Message_Too_Large (or dropped when it is not a request), and
	// so is a fragmented request whose first fragment shows that the
	// whole is larger; a message that would outgrow it is not forwarded,
	// as the next peer would close its link on receiving it.
	MaxMessageSize int
}

func (l *Local) ttl() uint8 {
	if l.InitialTTL == 0 {
		return wire.DefaultTTL
	}
	return l.InitialTTL
}

func (l *Local) idLen() int {
	if l.NodeIDLength == 0 {
		return wire.DefaultNodeIDLen
	}
	return l.NodeIDLength
}

// Core is the routing core (RFC 6940 §6.1, §6.3.2). It is a value used by
// one goroutine at a time; it starts no goroutine and reads no clock.
type Core struct {
	cfg  CoreConfig
	self wire.NodeID

	hdr   wire.ForwardingHeader
	msg   wire.Message
	out   []byte
	prev  wire.NodeID // previous hop, appended to the via list
	exp   wire.NodeID // an expanded compressed id
	cbuf  [2]byte     // a compressed id appended to the via list
	reasm *transport.Reassembler
}

// NewCore returns a routing core.
func NewCore(cfg CoreConfig) (*Core, error) {
	if cfg.Local.Identity == nil {
		return nil, errors.New("forwarding: CoreConfig.Local.Identity is required")
	}
	if cfg.Router == nil {
		return nil, errors.New("forwarding: CoreConfig.Router is required")
	}
	if cfg.Neighbors == nil {
		cfg.Neighbors = noNeighbors{}
	}
	return &Core{
		cfg:   cfg,
		self:  cfg.Local.Identity.NodeID(),
		out:   make([]byte, 0, 512),
		reasm: transport.NewReassembler(cfg.Reassembly),
	}, nil
}

// SetLocal replaces the node's overlay parameters (after a ConfigUpdate).
func (c *Core) SetLocal(l Local) {
	if r := c.cfg.Reassembly; r.MaxMessage != 0 && r.MaxMessage == c.cfg.Local.MaxMessageSize && l.MaxMessageSize != r.MaxMessage {
		// The reassembly limit follows max-message-size; the messages
		// being reassembled under the old limit are dropped (§6.7).
		c.cfg.Reassembly.MaxMessage = l.MaxMessageSize
		c.reasm = transport.NewReassembler(c.cfg.Reassembly)
	}
	c.cfg.Local = l
	c.self = l.Identity.NodeID()
}

// Self is this node's Node-ID.
func (c *Core) Self() wire.NodeID { return c.self }

// ReassemblyDeadline is when incomplete fragments next expire (zero when
// none are held); call Expire then.
func (c *Core) ReassemblyDeadline() time.Time { return c.reasm.Deadline() }

// Expire drops the incomplete messages that have timed out (§6.7).
func (c *Core) Expire(now time.Time) int { return c.reasm.Expire(now) }

// Process routes one message received from the neighbour from at now.
func (c *Core) Process(from wire.NodeID, raw []byte, now time.Time) Action {
	return c.process(from, raw, now, false)
}

// Originate routes a message this node built (a request, a response or
// an error response). Nothing is added to its via list and its TTL is not
// decremented; a message for this node itself is delivered. Routing
// failures are ActFail.
func (c *Core) Originate(raw []byte, now time.Time) Action {
	return c.process(c.self, raw, now, true)
}

func (c *Core) process(from wire.NodeID, raw []byte, now time.Time, origin bool) Action {
	h := &c.hdr
	n, err := h.Decode(raw)
	if err != nil {
		// §6.1: a message that is not correctly formatted MUST be
		// discarded. Without a header there is no transaction id and no
		// via list to answer along.
		return Action{Kind: ActDrop, Err: wrapMalformed(err)}
	}
	if m := c.cfg.Local.MaxMessageSize; m > 0 && int64(h.Length) > int64(m) && int64(h.Length) >= int64(len(raw)) && !origin {
		// §6.6: a message larger than max-message-size is answered with
		// Error_Message_Too_Large, whole (the links refuse such messages
		// before they get here unless their limit is set higher) or only
		// its head, handed up by a TLS link that will close: the error
		// may be sent before the whole message has arrived. One whose
		// forwarding header alone is larger gets no answer.
		if n > m {
			return Action{Kind: ActDrop, Err: ErrTooLarge}
		}
		return c.fail(from, raw[n:], origin, errTooLarge(int(min(int64(h.Length), 1<<40)), m))
	}
	if int64(h.Length) != int64(len(raw)) {
		return c.fail(from, raw[n:], origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
			Info: []byte("length field does not match the message"), Err: ErrMalformed})
	}
	rest := raw[n:]
	// §6.1, §6.3.2: overlay, version, fragment and TTL checks.
	if h.Overlay != c.cfg.Local.Overlay {
		return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay,
			Info: []byte("overlay hash mismatch"), Err: ErrMalformed})
	}
	if err := h.Check(c.cfg.Local.ttl()); err != nil {
		if pe, ok := err.(*wire.ProtocolError); ok && pe.Code == wire.ErrCodeTTLExceeded { //nolint:errorlint // Check returns it bare
			// §6.3.2: a TTL above initial-ttl.
			pe.Err = errors.Join(ErrTTLExceeded, pe.Err)
		}
		return c.fail(from, rest, origin, err)
	}
	// §6.3.2.2: a Resource-ID MUST NOT appear in a Via List.
	for i := range h.Via {
		if h.Via[i].Type == wire.DestResource && !h.Via[i].Compressed {
			return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
				Info: []byte("resource id in via list"), Err: ErrMalformed})
		}
	}
	// §13.6.5: duplicate entries in the Destination List are discarded
	// with Error_Invalid_Message (they would make a loop).
	if hasDuplicate(h.Destinations) {
		return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
			Info: []byte("duplicate destination list entries"), Err: ErrMalformed})
	}
	idLen := c.cfg.Local.idLen()
	for {
		if len(h.Destinations) == 0 {
			return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
				Info: []byte("empty destination list"), Err: ErrMalformed})
		}
		d := &h.Destinations[0]
		if d.Compressed || d.Type == wire.DestOpaqueID {
			// §6.1.3: replace an opaque id this node issued with what it
			// stands for and look again; §6.3.2.2: one whose generation
			// does not match MUST be silently dropped.
			if !d.Compressed {
				return Action{Kind: ActDrop, Err: ErrUnknownOpaque}
			}
			id, ok := c.cfg.Neighbors.Expand(binary.BigEndian.Uint16(d.ID))
			if !ok {
				return Action{Kind: ActDrop, Err: ErrUnknownOpaque}
			}
			c.exp = id
			*d = wire.NodeDest(&c.exp)
			continue
		}
		switch d.Type {
		case wire.DestNode:
			if len(d.ID) != idLen {
				return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
					Info: []byte("node id of the wrong length"), Err: ErrMalformed})
			}
			if string(d.ID) == string(c.self.Bytes()) {
				// §6.1.1: our own Node-ID: deliver if it is the last
				// entry, else remove it and route on the next.
				if len(h.Destinations) == 1 {
					return c.deliver(from, raw, rest, now, origin)
				}
				h.Destinations = h.Destinations[1:]
				continue
			}
			if isWildcard(d.ID) {
				// §6.1.1: the wildcard is consumed locally, never forwarded.
				return c.deliver(from, raw, rest, now, origin)
			}
			id, _ := d.NodeID()
			if c.cfg.Neighbors.Connected(id) {
				return c.forward(id, from, rest, origin)
			}
			next, local, err := c.cfg.Router.Route(d)
			if err != nil {
				return c.routeErr(from, rest, origin, err)
			}
			if local {
				// §6.1.1: a Node-ID we are responsible for but that is
				// not ours and not connected: drop silently.
				return Action{Kind: ActDrop, Err: ErrNotForUs}
			}
			return c.forward(next, from, rest, origin)
		case wire.DestResource:
			// §6.1.1, §6.3.2.2: a Resource-ID MUST be the last entry;
			// otherwise the message MUST be silently dropped.
			if len(h.Destinations) != 1 {
				return Action{Kind: ActDrop, Err: ErrResourceNotLast}
			}
			next, local, err := c.cfg.Router.Route(d)
			if err != nil {
				return c.routeErr(from, rest, origin, err)
			}
			if local {
				return c.deliver(from, raw, rest, now, origin)
			}
			return c.forward(next, from, rest, origin)
		default:
			return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
				Info: []byte("unknown destination type"), Err: ErrMalformed})
		}
	}
}

// forward rewrites the header for the next hop: the checks of a forwarding
// peer, the previous hop appended to the via list (§6.1.2), the TTL
// decremented just before transmission (§6.3.2).
func (c *Core) forward(next, from wire.NodeID, rest []byte, origin bool) Action {
	h := &c.hdr
	if next == c.self {
		// A router that names this node as the next hop for an id it
		// is not responsible for: nowhere to go.
		return c.routeErr(from, rest, origin, ErrNoRoute)
	}
	if !origin {
		// §6.3.2.3: a FORWARD_CRITICAL option this peer does not
		// understand MUST be rejected with
		// Error_Unsupported_Forwarding_Option.
		if o, bad := h.UnknownCriticalOption(true, c.cfg.KnownOption); bad {
			return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeUnsupportedForwardingOption,
				Info: []byte{byte(o.Type)}, Err: ErrMalformed})
		}
		// §6.3.2: a message with TTL 0 that is not for this node MUST
		// NOT be propagated; Error_TTL_Exceeded.
		if h.TTL == 0 {
			return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeTTLExceeded,
				Info: []byte("ttl exceeded"), Err: ErrTTLExceeded})
		}
		// RFC 7851 §6.2: a loop found through the analysis of the Via
		// List is answered with Error_Loop_Detected.
		for i := range h.Via {
			v := &h.Via[i]
			if v.Type == wire.DestNode && !v.Compressed && string(v.ID) == string(c.self.Bytes()) {
				return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeLoopDetected,
					Info: []byte("own node id in via list"), Err: ErrLoopDetected})
			}
		}
		c.prev = from
		var via wire.Destination
		if v, ok := c.compress(from); ok {
			c.cbuf = [2]byte{byte(v >> 8), byte(v)}
			via = wire.Destination{Type: wire.DestOpaqueID, ID: c.cbuf[:], Compressed: true}
		} else {
			via = wire.NodeDest(&c.prev)
		}
		h.Via = append(h.Via, via)
		h.TTL--
	}
	out, err := h.AppendForRest(c.out[:0], len(rest))
	if err != nil {
		// The via list outgrew its 16-bit length.
		return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
			Info: []byte("header too long to forward"), Err: err})
	}
	c.out = out
	if m := c.cfg.Local.MaxMessageSize; m > 0 && len(out)+len(rest) > m {
		// The via entry just added made the message too large for the
		// next link (§6.6): answer rather than have the next peer close
		// the link on it.
		return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeMessageTooLarge,
			Info: []byte("message too large to forward"), Err: ErrTooLarge})
	}
	return Action{Kind: ActForward, To: next, Head: out, Rest: rest}
}

func (c *Core) compress(id wire.NodeID) (uint16, bool) {
	if !c.cfg.CompressVia {
		return 0, false
	}
	return c.cfg.Neighbors.Compress(id)
}

// deliver hands a message for this node up, after the checks that only
// a destination makes and reassembly (§6.7).
func (c *Core) deliver(from wire.NodeID, raw, rest []byte, now time.Time, origin bool) Action {
	h := &c.hdr
	// §6.3.2.3: a DESTINATION_CRITICAL option this node does not
	// understand MUST be rejected with Error_Unsupported_Forwarding_Option.
	if o, bad := h.UnknownCriticalOption(false, c.cfg.KnownOption); bad {
		return c.fail(from, rest, origin, &wire.ProtocolError{Code: wire.ErrCodeUnsupportedForwardingOption,
			Info: []byte{byte(o.Type)}, Err: ErrMalformed})
	}
	if h.IsFragment() {
		if size := c.firstFragmentTotal(len(raw)-len(rest), rest); size > 0 {
			// §6.6: the error may be sent before the whole message has
			// arrived; the first fragment gives the size of the body.
			return c.fail(from, rest, origin, errTooLarge(size, c.cfg.Local.MaxMessageSize))
		}
		whole, err := c.reasm.Add(from.Uint64Prefix(), raw, now)
		if err != nil {
			// §6.7: a receiver out of buffer space MUST drop the message.
			if errors.Is(err, transport.ErrFragmentTooLarge) {
				err = errors.Join(ErrTooLarge, err)
			}
			return Action{Kind: ActDrop, Err: errors.Join(ErrReassembly, err)}
		}
		if whole == nil {
			return Action{Kind: ActHold}
		}
		raw = whole
	}
	m := &c.msg
	if _, err := m.Decode(raw); err != nil {
		return c.failBody(from, raw, origin, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage,
			Info: []byte("malformed message contents"), Err: wrapMalformed(err)})
	}
	if m.Contents.Code.IsRequest() {
		// §6.3.3: an unknown critical extension is answered with
		// Error_Unknown_Extension.
		if _, bad := m.Contents.UnknownCriticalExtension(c.cfg.KnownExtension); bad {
			return c.failBody(from, raw, origin, &wire.ProtocolError{Code: wire.ErrCodeUnknownExtension,
				Info: []byte("unknown critical extension"), Err: ErrMalformed})
		}
	} else if !m.Contents.Code.IsAnswer() {
		return Action{Kind: ActDrop, Err: ErrMalformed}
	}
	return Action{Kind: ActDeliver, Msg: m, Raw: raw, From: from}
}

// firstFragmentTotal is, for the first fragment of a message (header of
// hn bytes, then rest), the least size of the whole message when that
// exceeds max-message-size, else 0: the MessageContents that starts the
// body (§6.3.3) gives the length of the message body, and the whole is at
// least the header, the message code and body with their lengths, and
// the extensions' length.
func (c *Core) firstFragmentTotal(hn int, rest []byte) int {
	m := c.cfg.Local.MaxMessageSize
	if m <= 0 || c.hdr.FragmentOffsetBytes() != 0 || len(rest) < 6 {
		return 0
	}
	size := int64(hn) + 2 + 4 + int64(binary.BigEndian.Uint32(rest[2:6])) + 4
	if size <= int64(m) {
		return 0
	}
	return int(min(size, 1<<40))
}

// errTooLarge is the Error_Message_Too_Large answer to a message of size
// bytes (§6.6, §14.9).
func errTooLarge(size, limit int) *wire.ProtocolError {
	return &wire.ProtocolError{Code: wire.ErrCodeMessageTooLarge,
		Info: []byte(fmt.Sprintf("message of %d bytes, max-message-size %d", size, limit)), Err: ErrTooLarge}
}

// failBody is fail after reassembly, where c.hdr may describe only the
// last fragment: the error is answered from the whole message's header.
func (c *Core) failBody(from wire.NodeID, raw []byte, origin bool, pe *wire.ProtocolError) Action {
	n, err := c.hdr.Decode(raw)
	if err != nil {
		return Action{Kind: ActDrop, Err: pe}
	}
	return c.fail(from, raw[n:], origin, pe)
}

func (c *Core) routeErr(from wire.NodeID, rest []byte, origin bool, err error) Action {
	var pe *wire.ProtocolError
	if errors.As(err, &pe) {
		return c.fail(from, rest, origin, pe)
	}
	if origin {
		return Action{Kind: ActFail, Err: err}
	}
	return Action{Kind: ActDrop, Err: err}
}

// fail answers a request with an error response along the reversed via
// list (§6.2.2), or drops what cannot be answered: responses (never answer
// an answer) and fragments other than the first, whose message code is
// unknown. A message this node originated fails locally.
func (c *Core) fail(from wire.NodeID, rest []byte, origin bool, err error) Action {
	if origin {
		return Action{Kind: ActFail, Err: err}
	}
	if !c.isRequest(rest) {
		return Action{Kind: ActDrop, Err: errors.Join(ErrNotAnswerable, err)}
	}
	var pe *wire.ProtocolError
	if !errors.As(err, &pe) {
		pe = &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
	}
	b := builder{local: &c.cfg.Local}
	resp, berr := b.errorAnswer(nil, &c.hdr, from, pe)
	if berr != nil {
		return Action{Kind: ActDrop, Err: errors.Join(err, berr)}
	}
	return Action{Kind: ActAnswer, To: from, Head: resp, Err: err}
}

// isRequest peeks at the message code, the first two bytes after the
// header of an unfragmented message or of the first fragment.
func (c *Core) isRequest(rest []byte) bool {
	if c.hdr.FragmentOffsetBytes() != 0 || len(rest) < 2 {
		return false
	}
	return wire.MessageCode(binary.BigEndian.Uint16(rest)).IsRequest()
}

func hasDuplicate(list []wire.Destination) bool {
	for i := 1; i < len(list); i++ {
		for j := 0; j < i; j++ {
			if list[i].Equal(&list[j]) {
				return true
			}
		}
	}
	return false
}

func isWildcard(id []byte) bool {
	for _, b := range id {
		if b != 0xff {
			return false
		}
	}
	return len(id) > 0
}

func wrapMalformed(err error) error { return errors.Join(ErrMalformed, err) }

type noNeighbors struct{}

func (noNeighbors) Connected(wire.NodeID) bool          { return false }
func (noNeighbors) Compress(wire.NodeID) (uint16, bool) { return 0, false }
func (noNeighbors) Expand(uint16) (wire.NodeID, bool)   { return wire.NodeID{}, false }
