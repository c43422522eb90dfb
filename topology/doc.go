// Package topology declares the topology plugin interface of RELOAD
// (RFC 6940 §6.4 and §10): next hop for an id, responsibility, neighbour
// and replica sets, and the plugin's own messages (Join, Leave, Update,
// RouteQuery, Probe). Plugins are deterministic state machines driven by
// Step and Tick.
//
// Layering: topology may import wire only.
package topology
