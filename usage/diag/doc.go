// Package diag is the overlay diagnostics usage of RELOAD (RFC 7851): the
// "ping-like" Diagnostic_Ping extension and the "traceroute-like"
// PathTrack method, on both sides.
//
// What it owns:
//
//   - the Diagnostic_Ping message extension (type 0x2, never critical; RFC
//     7851 §4.2.1, §9.5) on ping_req (0x17), carrying a DiagnosticsRequest,
//     and its counterpart on ping_ans (0x18), carrying a DiagnosticsResponse;
//   - path_track_req (0x27) and path_track_ans (0x28) (RFC 7851 §4.3, §9.3);
//   - the diagnostic kinds of RFC 7851 §5.3 and §9.2 (0x0001-0x0010), and one
//     local kind of its own, KindUnderlayAddress (0xf000, from the range
//     0xf000-0xfffe that §5.1 leaves to each overlay);
//   - the use of the error codes of RFC 7851 §4.4 and §6.3 that a
//     responding peer generates: Error_Message_Expired (0x17) for an expired
//     request, Error_Forbidden (2) for a kind the requester may not read,
//     Error_Invalid_Message (0x14) for a malformed DiagnosticsRequest.
//
// The server side is Server: HandlePing (§4.2, §6.3) adds the diagnostics to
// a Ping answer, HandlePathTrack (§4.3.1, §6.3) builds a PathTrackAns, and
// CheckTransit is the expiration check of §6.2 for intermediate peers. What
// a node may disclose, and to whom, is a Policy (§7, §8): per diagnostic
// kind, the Node-IDs of the access-node elements of the overlay
// configuration, a rule for kinds without an entry, and whether the peer
// names its next hop on a path and its underlay addresses. The values come
// from a Stats provider; LocalStats measures what the standard library can
// on Linux and leaves out, as RFC 7851 §5.2 allows, what it cannot.
//
// The client side is Client (and the package functions Ping and
// Traceroute): Ping sends one Ping with the Diagnostic_Ping extension,
// Traceroute walks the path of §4.3 one PathTrack per hop, asking each hop in
// turn for its next hop toward the destination until a hop names itself.
// Result and Hop hold what came back, with round-trip times from an
// injectable clock, and format themselves in the manner of ping and
// traceroute; both marshal to JSON.
//
// Layering: diag is a usage (STYLE.md §1). It imports wire only (storage
// would be allowed); it must not import transport, forwarding, topology or
// config. It reaches the overlay only through the interfaces it declares,
// Overlay and Router, and local facts only through Stats, so the node layer
// adapts its forwarding, topology and storage to them, and converts the
// configuration's diagnostic-kind elements with NewPolicy.
package diag
