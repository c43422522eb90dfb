// Package bolt is a durable storage.Backend on a bbolt file
// (go.etcd.io/bbolt): a peer restarted on the same file still holds what
// it stored (RFC 6940 §7 values, their generation counters and the
// certificates of their signers). Values are kept as their wire encoding
// (StoredData, RFC 6940 §7).
//
// Layout: bucket "gen" maps a slot key (storage.SlotKey) to its
// generation counter as a big-endian uint64; bucket "val" maps the slot
// key followed by the value's key (storage.Key) to a record: version (1),
// data model, expiry (int64 milliseconds since the Unix epoch), the
// signer certificate as a uint32-length-prefixed DER, and the encoded
// StoredData.
//
// Layering: bolt imports storage and wire only.
package bolt
