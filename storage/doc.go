// Package storage implements the RELOAD data storage protocol (RFC 6940
// §7): Store, Fetch, Stat and Find over the single, array and dictionary
// data models, access control policies, and replication.
//
// Layering: storage may import wire, security and config; it must not
// import transport, forwarding, topology or the usages.
package storage
