// Package storagetest has helpers for tests of storage and of the layers
// above it: a certificate authority issuing real node certificates, signed
// StoredData, a fixed clock, a Kind table and a scriptable Topology. It is
// a test helper: only _test.go files import it.
package storagetest
