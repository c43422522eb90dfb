// Package storage implements the RELOAD data storage protocol (RFC 6940
// §7) as pure rules over a Backend: the Store, Fetch, Stat and Find
// methods (§7.4.1–§7.4.4), the single value, array and dictionary data
// models (§7.2), the access control policies USER-MATCH, NODE-MATCH,
// USER-NODE-MATCH and NODE-MULTIPLE (§7.3), StoredData signatures (§7.1),
// generation counters, lifetimes and expiry, the Certificate Store and
// TURN Server usages' Kinds (§8, §9), and the Stores that replication and
// handover send in CHORD-RELOAD (§10.4, §10.5, §10.7).
//
// Shared resources (RFC 8076): the USER-CHAIN-ACL policy (§6.3, §6.4,
// §6.6) over the ACCESS-CONTROL-LIST Kind (§4, §7) held at the same
// Resource-ID, data isolation per writer (§3.1), revocation (§6.2),
// variable resource names with the ResourceNameExtension (§5), and the
// fetcher's check of a shared value against the ACL fetched with it
// (§6.5).
//
// A Store takes decoded request bodies, the verified requester and the
// current time, and returns the answer body or a *wire.ProtocolError with
// the RELOAD error code and error_info to answer with. It reads no clock,
// does no I/O of its own and sends nothing: replication and handover
// return the Store requests (OutgoingStore) for the node layer to send.
// The Kind registry is a value (KindTable), built from the overlay
// configuration or by hand. What storage needs of the topology plugin is
// the small Topology interface declared here.
//
// Backends keep the values: storage/mem (in memory, the reference every
// test uses) and storage/bolt (durable, on a bbolt file). The
// storage/backendtest suite is what a Backend must pass.
//
// Choices where RFC 6940 is silent or loose, each documented where it is
// made: NODE-MULTIPLE hashes i as one octet (NodeMultipleResourceID); an
// original Store whose non-zero generation counter differs from the stored
// one in either direction gets Error_Generation_Counter_Too_Low; a Store
// repeating a stored value with the same storage_time is accepted without
// change, any other value with an equal storage_time is Error_Data_Too_Old;
// Fetch returns values with the lifetime they have left; max-count counts
// nonexistent values (and expired ones until Expire sweeps them), and an
// array index must be below max-count, which bounds what a Fetch can
// synthesise (so RFC 8076 §3.1's Node-ID-prefixed array indices are
// not used: entries are isolated by their signer instead); an original Store
// for a resource this peer is not responsible for is Error_Not_Found, as
// for Find (§7.4.4.2).
//
// Layering: storage may import wire, security and config; it must not
// import transport, forwarding, topology or the usages.
package storage
