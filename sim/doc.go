// Package sim is the deterministic simulator: many nodes, each the
// production host of package host (a topology/chord plugin, a
// storage.Store on an in-memory backend, and the policy that turns
// topology events into Attaches and Stores), on an in-memory network with
// virtual time and one seeded random source, so every run is repeatable
// and its figures are those of the code a real node runs.
//
// The simulator is the network and the transaction layer of every node,
// the parts package node gets from forwarding and transport. It carries
// out each host's Ready as node does (events, then requests in order,
// then answers) and feeds the outcomes back:
//
//   - requests go hop by hop, MinLatency..MaxLatency ticks a hop, along
//     their destination list (RFC 6940 §6.1.1): to a connected node
//     directly, otherwise to the next hop the node's routing snapshot
//     (Ready.Routes) names, or, when that one has no link yet, to the
//     linked peer of the routing table closest to the destination (node's
//     transit routing); with a TTL. Answers return along the reversed
//     via list (§6.1.2);
//   - links are per pair of nodes. An Attach (a Message with Attach set)
//     is routed like a request and answered by the simulator at the node
//     it reaches (§6.5.1); its originator's host gets Attached with that
//     node and the responder's LinkUp. Join connects a joining node to
//     its bootstrap peers first (§11.4);
//   - Pings are answered by the simulator (forwarding owns Ping, §6.5.3);
//     every other request is delivered to the host (Deliver) and its
//     answer sent back;
//   - a request that is lost (dead or cut next hop, died in flight,
//     dropped, TTL exceeded, not routable at a transit node) is reported
//     to its host with Failed(forwarding.ErrRequestTimeout) at the
//     transaction timeout (Config.Timeout, forwarding's 15 s by default,
//     §6.2.1; the join's Attach through a bootstrap peer after one
//     reliability timer, 3 s, as in node); one its originator cannot
//     route fails at once. The chord plugins run with HostTimeouts, as
//     in node, so these timers are the only ones;
//   - a node that fails (Fail, FailMany) or a link that is cut (Cut,
//     Isolate) is noticed by the live ends of its links within
//     DetectDelay ticks (keepalives), and a message sent into a dead link
//     makes its sender notice; the host gets LinkDown. A node whose
//     plugin reports EventLeft closes its links.
//
// Each Tick delivers what is due (messages, link failures, timeouts) in
// the order it was queued, then ticks every live host. The harness can
// Fail (crash), Cut/Heal a link, Isolate/Reconnect a node and drop a
// fraction of messages (SetDrop). Peers, ResponsibleFor, ReplicaPeers,
// Expected and Converged compare the plugins with the brute-force sorted
// ring; Lookup and Lookups measure routing and hop counts (probes routed
// with the snapshots, reaching no host); Request injects a request
// (Probe, RouteQuery, Update) and captures its answer; Put and Get inject
// original Stores and Fetches (§7.4.1, §7.4.2), whose values the hosts'
// Stores replicate and hand over (§10.4, §10.5, §10.7.3, §10.9). Stats
// counts messages by code, and Stores by host.Purpose with the Stores
// lost, unanswered and refused. Audit compares every backend with a
// ledger of the values stored; FetchAll fetches them all through the
// overlay.
//
// Experiment runs a measured scenario (joins until the ring converges,
// lookups, then optionally a fraction of the peers failing at once while
// lookups with retries go on, until the survivors reconverge) and returns
// a Report: convergence time, messages per join, memory per peer, hop
// counts, lookup success over time. Sweep measures hops for several ring
// sizes. "reload sim" is the command-line front end.
//
// Layering: sim may import any package and is imported by none; it reads
// no clock and draws randomness only from its seed.
package sim
