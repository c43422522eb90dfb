// Package sipua is a minimal SIP user agent (RFC 3261) on UDP for
// exercising the RELOAD SIP usage (RFC 7904) without external tools: it
// registers an AOR at a peer's SIP front end, answers calls to it (180
// Ringing, 200 OK with an SDP offer answer, then waits for ACK and BYE),
// and places calls through the front end as an outbound proxy
// (INVITE, 200, ACK and BYE along the recorded route, RFC 3261 §12.2,
// §16.12). It answers the front end's digest challenges (401 and 407,
// RFC 3261 §22) with Config.Password. `reload demo` uses it for its
// call; it carries no media.
//
// Message parsing, transactions and dialogs are those of
// github.com/emiago/sipgo, the same library the front end parses with.
//
// Layering: sipua imports nothing of this module; it speaks plain SIP to
// a front end (package sip of the usage) over a socket.
package sipua
