// Package backendtest is the conformance suite every storage.Backend
// passes: storage/mem and storage/bolt run it from their tests. It is a
// test helper: only _test.go files import it.
package backendtest
