// Package topology declares the topology plugin interface of RELOAD
// (RFC 6940 §6.4.1, §10): the next hop for a destination, responsibility
// for Resource-IDs, neighbour and replica sets, the plugin's own messages
// (Join, Leave, Update, RouteQuery, Probe, §6.4.2) and events on change.
// topology/chord implements it for CHORD-RELOAD.
//
// # Driving a plugin
//
// A Plugin is a deterministic state machine in the manner of etcd raft's
// RawNode: it has no goroutines, clock, I/O or randomness of its own.
// The host (package node) owns one plugin and calls it from a single
// goroutine:
//
//   - Start (first peer of a new overlay) or Join(via...) (through
//     connected bootstrap peers) once, Leave to go;
//   - Step(Incoming) for every topology message addressed to this node:
//     the requests Join, Leave, Update, RouteQuery, Probe that forwarding
//     delivers locally, and every answer or error answer whose transaction
//     the plugin started (Outgoing.Token), including PingAns for the
//     plugin's Pings;
//   - Tick() at a fixed rate: one tick is the plugin's configured tick
//     length of virtual time; all timers (request timeouts, stabilisation,
//     finger refresh, hold-downs) count ticks;
//   - PeerFailed(id) when the connection to id is lost (transport failure,
//     keepalive timeout, or a request to id that failed hop by hop);
//   - PeerLinked(id) when a connection to id comes up, including one that
//     replaces an earlier connection to the same Node-ID;
//   - after any of these: if HasReady(), rd := Ready(); handle rd.Events
//     in order (storage acts on transfers and range changes first), send
//     rd.Messages in order, then Advance(). Advance acknowledges exactly
//     what the last Ready returned; anything queued later is returned by
//     the next Ready. Step, Tick and the other inputs may be called between
//     Ready and Advance.
//
// Route, Responsible, ResponsibleRange, ReplicaSet and the table accessors
// are queries: they never change state or queue output, and Route does
// not allocate, so forwarding may call it for every transit message.
//
// # Messages
//
// Incoming.From is the Node-ID that signed the message (the originator of
// a request, the responder of an answer); forwarding has verified it.
// Incoming.Body is the undecoded message_body; the plugin decodes it with
// the wire package and keeps no reference after Step returns. For a
// request, Incoming.Token is a host value that the plugin's answer carries
// back (Outgoing.Answer set, Outgoing.Token equal); the plugin answers
// every request it accepts exactly once, with the matching answer code or
// an ErrorResponse (wire.CodeError: Error_Invalid_Message for a body that
// does not decode, Error_Forbidden when joining_peer_id or leaving_peer_id
// is not the signer or the node does not serve the request in its state).
// Step returns an error for those too, for logging; the plugin stays
// usable.
//
// An Outgoing that is not an answer is a request with a plugin-chosen
// non-zero Token: sent directly to Outgoing.To (a neighbour; the host
// Attaches first if needed, §10.6), or routed to Outgoing.Dest (Join to
// the node's own Node-ID, Pings to finger starts, a client's RouteQuery),
// starting at Outgoing.Via when set (the bootstrap peer of a joining node
// or client), else at the next hop Route gives. The host delivers the
// answer or error answer to Step with that Token; the plugin times out
// requests itself, so a host that loses a transaction may simply drop it.
// Ping requests are answered by forwarding, not by the plugin.
//
// # Events
//
// EventJoined, EventNeighborAdded, EventNeighborRemoved,
// EventResponsibilityChanged (new range), EventReplicaSetChanged,
// EventTransfer (store the data of Range at Peer: after admitting a
// joining node, §10.5 step 6, or when leaving), EventDetached (every
// neighbour lost: Join again, §10.7.1) and EventLeft.
//
// # Identifiers
//
// Node-IDs are 16 to 20 bytes (node-id-length); CHORD-RELOAD Resource-IDs
// are 128 bits (wire.ResourceIDFromName). Both are points of the ring of
// 2^(8·node-id-length) values, compared as unsigned big-endian numbers;
// Point maps a Resource-ID of any length onto it as a binary fraction of
// the ring, so 128-bit Resource-IDs keep their place when Node-IDs are
// longer. Range is a ring interval (start, end].
//
// Layering: topology may import wire only; it must not import transport,
// forwarding, storage or the usages.
package topology
