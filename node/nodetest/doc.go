// Package nodetest makes overlays for tests and demos of the node layer:
// a CA, a configuration and enrolled identities, in memory. It is a test
// helper package; production overlays come from `reload overlay init` and
// enrollment (RFC 6940 §11).
package nodetest
