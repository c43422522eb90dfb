package topology

import (
	"errors"
	"strconv"

	"github.com/goreload/reload/wire"
)

// Errors returned by plugins.
var (
	// ErrNotJoined is returned by Route while the node is not (or no
	// longer) part of the ring, and by operations that need a ring.
	ErrNotJoined = errors.New("topology: node has not joined the overlay")
	// ErrUnroutable is returned by Route for a destination the topology
	// cannot place on the ring (opaque ids, unknown destination types).
	ErrUnroutable = errors.New("topology: destination cannot be routed by the topology")
	// ErrUnexpected is returned by Step for a message code the plugin does
	// not handle.
	ErrUnexpected = errors.New("topology: message not handled by the topology plugin")
	// ErrState is returned by a method called in the wrong state (Join
	// twice, Leave before joining).
	ErrState = errors.New("topology: operation not allowed in this state")
)

// Incoming is one message the host hands to Plugin.Step.
//
// From is the Node-ID that originated the message: for a request, the
// node that signed it (the first entry of the via list, already verified
// by forwarding); for an answer or an error, the node that answered. Code
// is the message code of MessageContents: a request, an answer, or
// wire.CodeError with an ErrorResponse body. Body is the encoded
// message_body; the plugin decodes it during Step and keeps no reference
// to it afterwards.
//
// Token correlates transactions. For an answer (or an error answer) it is
// the Token of the Outgoing request this answers. For a request, it is a
// host-chosen value (the transaction it arrived in); the plugin's answer
// carries it back in Outgoing.Token with Outgoing.Answer set.
type Incoming struct {
	From  wire.NodeID
	Code  wire.MessageCode
	Body  []byte
	Token uint64
	// Ext holds the message extensions of the MessageContents (RFC 6940
	// §6.3.3), such as self_tuning_data (RFC 7363 §6.5).
	Ext []wire.MessageExtension
}

// IsAnswer reports whether the message is an answer (even message code)
// or an error answer.
func (m *Incoming) IsAnswer() bool { return m.Code == wire.CodeError || m.Code&1 == 0 }

// Outgoing is one message the plugin asks the host to send.
//
// Exactly one of To and Dest addresses it:
//   - To set, Dest.Type zero: send directly to the neighbour To (the host
//     Attaches first if it has no connection, RFC 6940 §10.6; through the
//     neighbour Via when Via is set, one that knows To, as a node in this
//     node's own range cannot be reached by routing to its Node-ID);
//   - Dest set: route it through the overlay to Dest (a node or resource
//     destination), starting at the neighbour Via when Via is set (the
//     joining node's bootstrap or admitting peer) or at the next hop the
//     plugin's own Route names otherwise.
//
// Answer marks an answer to an Incoming request: Token is then that
// request's token and the host sends the answer back along the request's
// reversed via list (To names the requester for information). Otherwise
// the message is a request and Token is a non-zero value unique within
// the plugin; the host must pass the answer (or an error answer) back to
// Step with that token. Body is freshly allocated and owned by the host.
type Outgoing struct {
	To     wire.NodeID
	Dest   wire.Destination
	Via    wire.NodeID
	Code   wire.MessageCode
	Body   []byte
	Token  uint64
	Answer bool
	// Ext holds message extensions to put into the MessageContents (RFC
	// 6940 §6.3.3).
	Ext []wire.MessageExtension
}

// Routed reports whether the message is routed through the overlay
// (Dest set) rather than sent to a neighbour.
func (m *Outgoing) Routed() bool { return m.Dest.Type != wire.DestInvalid }

// EventType is the type of an Event.
type EventType uint8

// Event types.
const (
	EventInvalid EventType = iota
	// EventJoined: the node has become part of the ring (Range is its
	// responsible range), or a client has found its responsible peer
	// (Peer).
	EventJoined
	// EventNeighborAdded: Peer entered the neighbour table (predecessor
	// or successor set).
	EventNeighborAdded
	// EventNeighborRemoved: Peer left the neighbour table (failure, Leave,
	// or displaced by a closer peer).
	EventNeighborRemoved
	// EventResponsibilityChanged: the range of Resource-IDs this node is
	// responsible for is now Range. Data outside Range and outside the
	// replica ranges may be handed over (RFC 6940 §6.4.2.3, §10.7.3).
	EventResponsibilityChanged
	// EventReplicaSetChanged: the replica set of this node's range
	// (ReplicaSet of any id in it) changed; storage sends Stores to the
	// new members (§10.7.3). After a successor failure the event is held
	// down for the successor replacement hold-down time (§10.7.1).
	EventReplicaSetChanged
	// EventTransfer: this node admitted Peer (§10.5 step 6); the data for
	// Resource-IDs in Range must be stored at Peer. Handle it before
	// sending the Ready's messages.
	EventTransfer
	// EventDetached: the node lost every successor (or a client its
	// responsible peer) and is no longer part of the ring; the host should
	// call Join again through a bootstrap peer (§10.7.1).
	EventDetached
	// EventLeft: a Leave completed; the plugin is finished.
	EventLeft
)

func (t EventType) String() string {
	switch t {
	case EventInvalid:
		return "invalid"
	case EventJoined:
		return "joined"
	case EventNeighborAdded:
		return "neighbor-added"
	case EventNeighborRemoved:
		return "neighbor-removed"
	case EventResponsibilityChanged:
		return "responsibility-changed"
	case EventReplicaSetChanged:
		return "replica-set-changed"
	case EventTransfer:
		return "transfer"
	case EventDetached:
		return "detached"
	case EventLeft:
		return "left"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is a change the host (storage, forwarding's connection table)
// must react to. Peer and Range are set as the Type says.
type Event struct {
	Type  EventType
	Peer  wire.NodeID
	Range Range
}

// Ready is what the plugin wants done: messages to send and events to act
// on, in order. The slices stay valid until Advance.
type Ready struct {
	Messages []Outgoing
	Events   []Event
}

// Empty reports whether there is nothing to do.
func (r *Ready) Empty() bool { return len(r.Messages) == 0 && len(r.Events) == 0 }

// Routes is a snapshot of a plugin's routing state, safe for concurrent
// use: a host publishes it so that transit routing reads it without
// taking the plugin's owner's lock.
type Routes interface {
	Route(d *wire.Destination) (next wire.NodeID, local bool, err error)
	InTable(id wire.NodeID) bool
}

// AnswerChecker is implemented by Routes that can tell whether a node may
// answer a request sent to a Resource-ID (RFC 6940 §6.3.4, rule 2: "at
// least as close to the target Resource-ID as any node in the requesting
// node's Neighbor Table"; a primitive check against wildly wrong nodes).
type AnswerChecker interface {
	MayAnswer(target []byte, responder wire.NodeID) bool
}

// Plugin is a topology plugin (RFC 6940 §6.4.1) as a deterministic state
// machine. See the package documentation for the contract.
type Plugin interface {
	// ID is this node's Node-ID.
	ID() wire.NodeID
	// Joined reports whether the node is a peer of the ring (or a client
	// attached to its responsible peer).
	Joined() bool

	// Route picks where a message whose first destination is d goes:
	// local=true when this node is responsible for d (or d is this node's
	// id); otherwise next is the Node-ID of the neighbour to send to.
	Route(d *wire.Destination) (next wire.NodeID, local bool, err error)
	// Routes returns an immutable snapshot of the routing state, safe for
	// concurrent use; it is the same value while the state does not change.
	Routes() Routes
	// InTable reports whether id is in the routing table: a peer of the
	// ring as far as this node knows, not merely a connected node.
	InTable(id wire.NodeID) bool
	// AcceptReplica reports whether a replica or transfer Store for the
	// Resource-ID id, signed by from, is plausible (RFC 6940 §10.4).
	AcceptReplica(id []byte, from wire.NodeID) bool
	// Responsible reports whether this node is responsible for the
	// Resource-ID id.
	Responsible(id []byte) bool
	// ResponsibleRange is the range of ids this node is responsible for.
	ResponsibleRange() (Range, bool)
	// ReplicaSet is where replicas of data at Resource-ID id go when this
	// node is responsible for it (its next successors), else nil.
	ReplicaSet(id []byte) []wire.NodeID
	// Predecessors, Successors and Fingers return copies of the tables,
	// nearest first (fingers in table order i = 1, 2, ..., without
	// duplicates).
	Predecessors() []wire.NodeID
	Successors() []wire.NodeID
	Fingers() []wire.NodeID

	// Start makes this node the first node of a new overlay.
	Start() error
	// Join starts joining through via, a connected bootstrap peer.
	Join(via ...wire.NodeID) error
	// Leave sends Leaves to the neighbours and ends with EventLeft.
	Leave() error
	// PeerFailed reports that the connection to id was lost.
	PeerFailed(id wire.NodeID)
	// PeerLinked reports that a new connection to id came up. When id is
	// already in the tables, the node behind it may be a new process
	// with the same Node-ID that has not joined yet: the plugin checks.
	PeerLinked(id wire.NodeID)

	// Step hands the plugin one message.
	Step(in Incoming) error
	// Tick advances virtual time by one tick.
	Tick()
	// HasReady reports whether Ready would return something.
	HasReady() bool
	// Ready returns the pending messages and events.
	Ready() Ready
	// Advance acknowledges the last Ready: everything it returned is
	// forgotten by the plugin.
	Advance()
}
