// Package transport implements the RELOAD overlay link layer (RFC 6940
// §6.6) and fragmentation (§6.7): links between two authenticated nodes
// over TLS/TCP with the framing header (TLS-TCP-FH-NO-ICE, §6.6.5) and over
// DTLS/UDP with simple reliability, with or without ICE (DTLS-UDP-SR,
// §6.6.4, and DTLS-UDP-SR-NO-ICE, §6.6.6), ICE candidate gathering and
// connectivity checks for Attach (§6.5.1.3–§6.5.1.14), the framing header
// (§6.6.2) and the stop-and-wait sender (§6.6.3). STUNServer answers STUN
// Binding requests (RFC 5389 §7.3.1) so that a peer with a public address
// can give peers behind NATs their server-reflexive candidates (§6.5.1.4).
//
// A Link delivers whole RELOAD messages (or fragments of them, which only
// the destination reassembles with a Reassembler) together with the
// authenticated Node-IDs of its peer, taken from the peer's certificate by
// a PeerVerifier that the caller supplies.
//
// The timer logic lives in pure values that take the current time and
// return their next deadline (Sender, AckWindow, Reassembler); only the
// link shells own goroutines, sockets and clocks. The package never opens
// sockets itself: callers hand in connections or a pion transport.Net.
//
// Layering (STYLE.md §1): transport may import wire and security, and must
// not import forwarding, topology, storage or usage. This package imports
// only wire; the security package's certificate checks come in through the
// PeerVerifier interface.
package transport
