// Package forwarding is the message routing and link management layer of
// RELOAD (RFC 6940 §6.1–6.5, §6.7 at the destination): it sits between the
// links of package transport and the upper layers (topology, storage, the
// usages), which it reaches only through handlers registered per message
// code.
//
// It is built as values with no goroutines and a thin shell around them
// (STYLE.md §5):
//
//   - Core is the hop-by-hop routing core (§6.1, §6.3.2): it takes the
//     bytes a link delivered, the Node-ID of the neighbour that sent them
//     and the time, and returns one Action: forward to a neighbour (a new
//     forwarding header and the untouched rest of the message), deliver
//     locally (the decoded message, reassembled if it came in fragments,
//     §6.7), answer with an error along the reversed via list, or drop. It
//     handles the destination list (own Node-ID, wildcard, compressed ids it
//     issued, Resource-IDs, §6.1.1–§6.1.3), the via list (§6.1.2), TTL and
//     initial-ttl (§6.3.2), version and fragment checks, forwarding options
//     (§6.3.2.3) and loops (RFC 7851 §6.2; RFC 6940 §13.6.5). A transit hop
//     decodes only the forwarding header and does not allocate.
//   - Transactions is the end-to-end layer of symmetric recursive routing
//     (§6.2): random transaction ids, retransmission with the same id on the
//     overlay reliability timer and Error_Request_Timeout after the fifth
//     transmission, signatures made by the origin and checked at the
//     destination (§6.3.4), answers matched to requests, configuration
//     sequence checks (§6.3.2.1), max_response_length, and duplicate
//     requests answered from a cache for the maximum request lifetime.
//   - ConnTable maps Node-IDs to links (the Connection Table of §1.2.2,
//     with the slot and generation scheme of §6.3.2.2 for compressed ids).
//   - Engine is the shell: it owns the goroutines, the links and a clock,
//     exposes Request and Handle to the upper layers, answers Ping (§6.5.3)
//     and ConfigUpdate (§6.5.4) itself, and opens links with Attach (§6.5.1,
//     ICE or No-ICE) and application connections with AppAttach (§6.5.2).
//
// The topology plugin is reached only through the Router interface
// declared here, which it satisfies without importing this package.
//
// Layering (STYLE.md §1): forwarding may import wire, security, config and
// transport; it must not import topology, storage or the usages.
package forwarding
