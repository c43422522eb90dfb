// Package sip is the SIP usage for RELOAD (RFC 7904): the
// SIP-REGISTRATION kind (Kind-ID 1), AOR to Resource-ID mapping, and
// AppAttach with Application-ID 5060/5061.
//
// Layering: sip may import wire and storage; it must not import transport,
// forwarding or topology.
package sip
