// Package host is the deterministic host of a RELOAD node: the one layer
// that wires the topology plugin (RFC 6940 §10), the storage rules and
// replication (§7, §10.4, §10.7.3) and the tokens of the requests they
// send.
//
// A Host is a state machine in the manner of etcd raft's RawNode: it has
// no goroutines, sockets or clock of its own (time comes from
// Config.Clock, randomness from the plugin's configuration). Its inputs
// are a delivered request (Deliver), the answer to one of its requests
// (Answered) or the transaction layer's verdict that none came (Failed),
// a link that came up or went down (LinkUp, LinkDown, Attached), a tick
// (Tick), and the application's Start, Join and Leave. Its outputs,
// collected in Ready until Advance, are in the order the topology
// contract requires: events, then requests to send (the Stores that
// events call for before the plugin's messages), then answers to the
// delivered requests, and a new routing snapshot when the routing state
// changed.
//
// The host owns the policy that turns topology events into work:
//   - EventTransfer, EventResponsibilityChanged, EventReplicaSetChanged
//     become Stores of the data concerned (§10.5 step 6, §10.7.1,
//     §10.7.3), the replica count being the plugin's;
//   - with Config.Replicas set, data this peer is no longer responsible
//     for nor a replica of (outside (Replicas-th predecessor, self]) goes
//     in a replica Store to its responsible peer, and is deleted once
//     that peer has acknowledged it without naming this peer among its
//     replicas (§10.7.3 "SHOULD delete"; never before: a failed or
//     refused Store keeps it, to be tried again);
//   - a request to a neighbour without a link waits for an Attach to it
//     (§10.6: neighbours are connected); a client attaches to the
//     responsible peer its RouteQuery found (§3.2);
//   - a Join is preceded by an Attach through Resource-ID n+1 to the
//     admitting peer, and then sent to it directly (§10.5 steps 2, 5);
//   - a routed request for this node's own Node-ID goes to Resource-ID
//     n instead (§6.1.1: the peer that controls region n).
//
// Timeouts have one owner, the transaction layer of the driver (§6.2.1:
// retransmissions for the maximum request lifetime): when it gives up, the
// driver calls Failed, and the plugin sees an Error_Request_Timeout answer
// from nobody. The plugin keeps no deadline of its own (chord's
// HostTimeouts).
//
// Two drivers use it: package node, where one goroutine owns the host and
// links, sockets and the application reach it through a queue, and package
// sim, which runs thousands of hosts over virtual links and time. So the
// simulator's figures are those of the code a real node runs.
//
// Layer: above topology and storage, below node and sim; it must not
// import forwarding, transport, node or sim.
package host
