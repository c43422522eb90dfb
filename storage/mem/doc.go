// Package mem is the in-memory storage.Backend, the reference
// implementation every storage test runs on (RFC 6940 §7 storage, kept in
// maps; nothing survives the process).
//
// Layering: mem imports storage and wire only.
package mem
