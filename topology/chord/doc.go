// Package chord is CHORD-RELOAD (RFC 6940 §10) as a deterministic state
// machine with injected time (ticks) and randomness (Config.Rand); it
// implements topology.Plugin and structurally satisfies the Router
// interface forwarding declares (Route).
//
// What it does, by section:
//
//   - §10.1, §10.3 routing: responsible for (predecessor, self]; next hop
//     is the node itself when it is a node destination in the routing
//     table, else the routing-table peer with the largest Node-ID in
//     (self, k], else the smallest after k. By default a peer that knows
//     the responsible peer from its contiguous neighbour table (k between
//     two consecutive successors or predecessors) sends there directly,
//     which saves the last hop of most lookups (measured: mean hops
//     ½·log2 N +2%, against +14% for the literal rule);
//     Config.StrictRouting applies the literal rule.
//   - §10.4 replicas: ReplicaSet is the next Config.Replicas (2)
//     successors; EventReplicaSetChanged when they change, held down
//     30 s after a successor failure (§10.7.1).
//   - §10.5 joining: the joining node routes a Join to its own Node-ID
//     through a bootstrap peer; the admitting peer answers if it is
//     responsible for that Node-ID (§6.4.2.1), emits EventTransfer for
//     (old predecessor, JN], sends JN a full Update naming it as
//     predecessor and Updates its other neighbours. JN trusts the sets of
//     the peer that answered its Join (an Update naming JN that arrives
//     before the answer is held until the answer says who sent it),
//     becomes a peer, sends Updates to its neighbours and routes a Ping
//     to each finger start id + 2^(bits-i) beyond its successors; the
//     answering peer becomes finger i. Updates from other peers are
//     refused until then. A JoinAns that comes after its Join timed out
//     (the Join wandered through tables still converging) still admits
//     JN: the admitting peer now lists JN and would route JN's next Join
//     to JN itself.
//   - §10.7 Updates: peer_ready (finger connectivity checks), neighbors
//     (to the neighbour table), full (to the joining node and after a
//     RouteQuery with send_update). A peer whose Update lacks a live peer
//     we know belongs in its sets gets our sets (at most once per request
//     timeout).
//   - Admission to the routing table (§10.5, §10.7.3, §13). An Update
//     proves only that its sender, the Node-ID that signed it, holds a
//     certificate of the overlay; a client or a node that never joined
//     holds one too. So a node enters the neighbour table or the fingers
//     only in these ways: it joined through this peer (we answered its
//     Join); it is the admitting peer of our own join, or in that peer's
//     sets; it answered a routed finger Ping; or a member of the routing
//     table vouched for it and it then answered an Update of ours
//     (standing in for the Attach of §10.7.3). A member vouches by naming
//     it in an Update or Leave, or by answering a RouteQuery for its
//     Node-ID with the node itself (the member has it in its routing
//     table, §10.3). The Update of a member, of a candidate so vouched, or
//     of a peer that was one until it was taken for failed within
//     deadTimeouts request timeouts, is taken on its sender's word; any
//     other Update is answered but is a hint only: if the sender would
//     enter the tables, the members nearest to its place and those its
//     Update names are asked that RouteQuery (at most one outstanding per
//     member and stranger, maxVouch in all), and its sets are ignored.
//     AcceptReplica takes replica Stores only from neighbours so
//     admitted, recent neighbours, and the admitting peer of our join.
//   - §10.5 self-check: a peer asks its first successor, whenever that
//     changes and at each stabilisation, for its next hop to our Node-ID.
//     A successor that does not name us has not admitted us (the peers
//     around us learnt the ring while we were joining, or forgot us), and
//     its neighbours will not take our word for our place either: we send
//     it our Join again, and it admits us as for a joining node, with the
//     data of our range (one Join per successor and request timeout; a
//     refused one is checked again a request timeout later, at most
//     maxReverify times per successor).
//   - §10.7.1-10.7.2 failures: PeerFailed, an unanswered Update, an
//     Update a neighbour refuses (it is not a peer: a process restarted
//     with the same Node-ID, still joining) or a Leave remove the peer
//     everywhere, remember it as dead for 5 request timeouts (so gossip
//     does not bring it back), refill the neighbour
//     table from the routing table and the finger slot from the closest
//     known peer, and in reactive mode search the finger again.
//     PeerLinked (a link to a known peer came up again, possibly from a
//     restarted process) sends that peer an Update, or a peer_ready one
//     for a finger, to find out.
//   - §10.7.4 stabilisation: Updates to every neighbour each
//     chord-update-interval at a random offset, plus peer_ready to
//     fingers; finger refresh by Alternative 1 each chord-ping-interval
//     (invalid slots with probability ½, random id in the slot's range).
//     chord-reactive sends Updates after every neighbour change; Updates
//     on range changes are sent in both modes.
//   - §10.8 RouteQuery: next_peer (self when responsible); send_update.
//   - §10.9 Leave: EventTransfer of the range to the successor, from_succ
//     to predecessors, from_pred to successors; receivers treat it as a
//     failure and consider the listed peers.
//   - §6.4.2.5 Probe: responsible_set (ppb), num_resources
//     (Config.NumResources), uptime, in the requested order.
//   - §4.2.1 clients: attach with a RouteQuery for their own Node-ID, route
//     everything through that peer, re-attach when its Update shows it is
//     no longer responsible; peers send Updates to attached clients when
//     their range changes.
//   - §10.7.4.4 partitions: CheckPartition Pings our own Node-ID through
//     a bootstrap peer the host found; an answer from a peer we did not
//     know (the successor of our Node-ID in another partition) verifies
//     it as a finger Ping's answer does and sends it an Update, and
//     stabilisation merges the rings.
//   - §6.4.2.1 first node: a potential first node (SetFirstNode) founds
//     the ring when a whole round of its Joins failed and its Node-ID is
//     the smallest of its own and its bootstrap peers'; a refused Join
//     goes to the next bootstrap peer at once.
//
// Not done: Attach itself (the host attaches before sending to a new peer),
// finger-table growth beyond Config.Fingers (§10.7.4.3).
//
// Layering: chord may import wire and topology only.
package chord
