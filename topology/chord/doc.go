// Package chord is CHORD-RELOAD (RFC 6940 §10) as a deterministic state
// machine with injected time and randomness.
//
// Layering: chord may import wire and topology only.
package chord
