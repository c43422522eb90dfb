// Package sim is the deterministic simulator: many topology/chord plugins
// on an in-memory message bus with virtual time and one seeded random
// source, so every run is repeatable.
//
// Each Tick delivers the messages due, in the order they were sent, then
// ticks every live node. A hop takes MinLatency..MaxLatency ticks.
// Routed messages (Join to the node's own Node-ID, finger Pings, a
// client's RouteQuery, lookups) go hop by hop, each node choosing the next
// hop with its plugin's Route, with a TTL; answers return along the
// reversed path, as RELOAD's via list makes them. The simulator plays
// forwarding's part where the plugin relies on it: it answers Pings and
// reports dead links with PeerFailed within DetectDelay ticks (when a
// node fails or a link is cut, and when a message is sent over a dead
// link, which is then lost).
//
// The harness can Fail (crash), Cut/Heal a link, Isolate/Reconnect a node
// and drop a fraction of messages (SetDrop). Peers, ResponsibleFor,
// Expected and Converged compare the plugins with the brute-force sorted
// ring; Lookup and Lookups measure routing and hop counts; Request
// injects a request (Probe, RouteQuery) and captures its answer.
//
// Experiment runs a measured scenario (joins until the ring converges,
// lookups, then optionally a fraction of the peers failing at once while
// lookups with retries go on, until the survivors reconverge) and returns
// a Report: convergence time, messages per join, memory per peer, hop
// counts, lookup success over time. Sweep measures hops for several ring
// sizes. "reload sim" is the command-line front end; 10,000 peers take
// well under a minute on two cores.
//
// Layering: sim may import any package and is imported by none.
package sim
