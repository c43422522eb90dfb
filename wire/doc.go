// Package wire is the zero-copy binary codec for every RELOAD structure:
// the forwarding header with its destination and via lists and forwarding
// options (RFC 6940 §6.3.2), MessageContents and extensions (§6.3.3), the
// SecurityBlock (§6.3.4), every request and answer body (§6.4, §6.5, §7,
// §10), the framing of the link layer (§6.6.2), identifiers and reload://
// URIs (§6.3.1.1, §10.2, §14.15), error codes (§6.3.3.1), and the bodies of
// the usages: diagnostics (RFC 7851), SIP registrations (RFC 7904), the
// self-tuning extension (RFC 7363), the extensive routing mode option
// (RFC 7263, 7264), and the ResourceNameExtension and the
// ACCESS-CONTROL-LIST Kind's AccessControlListItem of shared resources
// (RFC 8076 §4.2, §5.2).
//
// Every PDU type has the same three methods:
//
//	Decode(b []byte) (n int, err error) // overwrite the receiver from b
//	Append(b []byte) ([]byte, error)    // append the encoding to b
//	Len() int                           // exact encoded size
//
// Decoded []byte fields alias the input, and list fields reuse their
// capacity, so a value decoded again and again does not allocate. A transit
// hop decodes only the ForwardingHeader and rewrites it with AppendForRest,
// leaving the rest of the message untouched.
//
// Errors wrap one of ErrTruncated, ErrTrailingData, ErrTooLong and
// ErrInvalid in a *DecodeError that names the field path and byte offset.
// RELOAD error codes are ErrorCode values carried by *ProtocolError.
//
// Unknown code points (destination types, forwarding options, extensions,
// identity types, kinds) are kept as raw bytes and round-trip byte for
// byte; they are rejected only where RFC 6940 says so (critical flags).
// Where Wireshark's dissector disagrees with the RFCs (PathTrack codes,
// diagnostic error codes and kinds, the extension codes), this package
// follows the RFCs.
//
// Layering: wire imports nothing from this module; it does no I/O, starts
// no goroutines, reads no clock and draws no randomness.
package wire
