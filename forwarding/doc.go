// Package forwarding is the hop-by-hop routing core of RELOAD (RFC 6940
// §6.1–6.5): destination and via lists, TTL, loop detection, symmetric
// recursive responses, the connection table, Attach and AppAttach, and
// end-to-end transactions with signature checks at the endpoints.
//
// Layering: forwarding may import wire, security, config and transport; it
// must not import topology, storage or the usages. It declares a Router
// interface that a topology plugin satisfies.
package forwarding
