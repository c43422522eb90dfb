// Package archtest holds the test that keeps the layering of the stack:
// lower layers never import higher ones (RFC 6940 §1.2 layering, as the
// design map of the repository assigns packages to layers).
package archtest
