// Command sidebyside measures this module's RELOAD overlay (RFC 6940)
// next to go-libp2p's Kademlia DHT on the same machine: N nodes in one
// process on loopback TCP, Store+Fetch pairs (RFC 6940 §7.4.1, §7.4.2)
// against PutValue+GetValue, one after another and with concurrent
// workers; it reports pairs per second, the median and 99th percentile
// latency of a pair, and the process's resident memory and Go heap.
//
// Each system runs in a process of its own, so that the resident memory
// is that of one system: with -system both (the default) the program
// runs itself once with -system reload and once with -system libp2p,
// one after the other, and prints both results.
//
// RELOAD side: a test CA and overlay (node/nodetest), peers joined
// over TLS links (RFC 6940 §6.6.1) with ECDSA P-256 keys, CHORD-RELOAD
// (§10) with its default replication (the responsible peer and two
// replicas, §10.4). Every message is signed and verified (§6.3.4), and
// every stored value is signed by its storer and verified by the
// fetcher (§7.1, §7.4.2.2). Values are SINGLE values of a private-use
// Kind (§14.6) with the NODE-MULTIPLE policy (§7.3.4), so that each
// pair writes a Resource-ID of its own.
//
// libp2p side: hosts with the TCP transport and libp2p's default
// security and stream multiplexing, kad-dht in server mode with its
// defaults (k = 20, α = 10, quorum as GetValue defaults it), a protocol
// prefix of its own and a namespace validator that accepts any value.
package main
