// Package diag is the overlay diagnostics usage (RFC 7851): the
// Diagnostic_Ping extension (0x2) and PathTrack (message codes 0x27/0x28).
//
// Layering: diag may import wire and storage; it must not import
// transport, forwarding or topology.
package diag
