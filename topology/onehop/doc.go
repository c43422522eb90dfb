// Package onehop is ONE-HOP, a second topology plugin for RELOAD (RFC 6940
// §10 plugin seam, §6.4.1): a full-membership, one-hop topology for small
// overlays. Every peer knows every other peer and routes each message in
// one hop to the peer responsible for it. It implements topology.Plugin as
// a deterministic state machine with injected time (ticks) and randomness
// (Config.Rand), as topology/chord does.
//
// What it does, by section:
//
//   - Responsibility (§10.1 rule, kept): the peer responsible for a
//     Resource-ID k is the successor of k on the ring of Node-IDs, so the
//     responsible range of a peer is (predecessor, self], storage and the
//     replica rules of the host work unchanged.
//   - Routing (§6.4.1, §10.3): Route returns the responsible peer from the
//     membership table directly (a node destination that is a member is
//     sent to that member). With a complete table every lookup takes one
//     hop; with a stale one the receiving peer forwards once more.
//   - Replicas (§10.4): ReplicaSet is the next Config.Replicas (2)
//     successors; EventReplicaSetChanged when they change, held down
//     Config.HoldDown after a failure (§10.7.1).
//   - Joining (§10.5, §6.4.2.1): the joining node routes a Join to its own
//     Node-ID through a bootstrap peer; the responsible peer (the admitting
//     peer) answers, emits EventTransfer for the range the joining node
//     takes over, sends it a full Update with the whole membership, and
//     announces it to every other member with an Update. The joining node
//     takes the membership of the admitting peer's Update (one that arrives
//     before the JoinAns is held until the answer names its sender), then
//     sends its own Update to every member.
//   - Updates (§6.4.2.3, §10.7): the body is the CHORD-RELOAD ChordUpdate
//     of type full (§10.7): predecessors and successors are the nearest
//     Config.Neighbors of each, and the fingers list holds every other
//     member. Reusing that encoding keeps the messages readable by every
//     RELOAD dissector and needs no new code point; a peer of another
//     plugin would refuse the Join anyway.
//   - Admission: an Update proves only that its sender holds a certificate
//     of the overlay. A node enters the membership when it joined through
//     this peer, when it is the admitting peer of our join or in that
//     peer's Update, or when a member names it in an Update and it then
//     proves it is alive: it sends us an Update itself, or answers the
//     Update we send it after Config.RequestTimeout/2. A stranger's Update
//     is answered but changes nothing, except that it counts as the proof
//     of life if a member names the stranger soon after.
//   - Stabilisation (§10.7.4): each update-interval a peer sends an Update
//     to its neighbours and to one random other member (anti-entropy: a
//     member missed by an announcement is learnt within a few rounds).
//   - Failures (§10.7.1, §10.7.2): PeerFailed, an unanswered Update, or a
//     refused one remove the member and remember it as dead for a few
//     request timeouts, so that gossip does not bring it back. Every peer
//     has a link to every member (Fingers lists them, and the host links
//     to the fingers), so each notices a failure itself.
//   - Leave (§10.9, §6.4.2.2): EventTransfer of the range to the
//     successor, then a Leave to every member; the LeaveReq carries no
//     overlay-specific data. Receivers remove the leaving peer.
//   - RouteQuery (§10.8, §6.4.2.4) answers the next peer (self when
//     responsible) in a ChordRouteQueryAns; Probe (§6.4.2.5) answers
//     responsible_set, num_resources and uptime.
//   - First node (§6.4.2.1): a potential first node (SetFirstNode) founds
//     the overlay when a whole round of its Joins failed and its Node-ID
//     is the smallest of its own and its bootstrap peers'.
//
// Not done: clients (§4.2.1) are refused by New; the membership grows
// with N, so the plugin is meant for overlays of tens of peers, not
// thousands.
//
// Layering: onehop may import wire and topology only.
package onehop
