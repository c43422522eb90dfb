// Package storagesim is the deterministic simulation of RELOAD storage
// over CHORD-RELOAD: many peers, each a topology/chord plugin and a
// storage.Store on an in-memory backend, on an in-memory message bus with
// virtual time and one seeded random source, so every run is repeatable.
//
// Each peer is wired as package node wires a real node:
//
//   - the plugin's Ready is handled events first (RFC 6940 §10): an
//     EventTransfer (§10.5 step 6, §10.9) gives the named peer the data of
//     the range (Store.JoinTransfer); an EventResponsibilityChanged that
//     widens the range (§10.7.1, a predecessor failed or left) has the
//     data gained replicated (Store.RangeGained); an
//     EventReplicaSetChanged sends every peer new in the first two
//     successors the data this peer is responsible for (§10.7.3,
//     Store.ReplicaSetChanged); EventDetached joins again;
//   - original Stores and Fetches (§7.4.1, §7.4.2) are routed hop by hop to
//     the responsible peer with every peer's Route; the responsible peer's
//     HandleStore answers and returns the replica Stores (§10.4) it sends;
//   - replica and handover Stores (replica_number > 0) go straight to their
//     target (node Attaches first, §10.6) and are handled by its
//     HandleStore, which checks the sender with the plugin's
//     AcceptReplica: a neighbour, or one that has just left or failed
//     (Config.NeighborsOnly restricts it to the current neighbours, as
//     node's adapter does, under which a leaving peer's transfer that
//     arrives after its Leave is refused);
//   - request bodies travel encoded and are decoded with the overlay's Kind
//     table at the receiver, so the Store messages and bytes counted are
//     those a real overlay would carry. Message signatures are not
//     simulated: the requester of an original Store is the identity that
//     signed its values, that of a replica Store the sending peer with the
//     certificates the OutgoingStore lists.
//
// The topology part plays forwarding's role as package sim does: Pings
// are answered by the host, dead links are reported with PeerFailed within
// DetectDelay ticks, routed messages carry a via list and a TTL and their
// answers return along it. Node computes handover Stores on a goroutine
// and sends them concurrently with the plugin's messages; here the
// plugin's messages of a Ready go first and its Stores right after
// (Config.StoresFirst reverses that), so that a joining node has the
// admitting peer's Update, and with it its neighbour sets, before the
// transfer Stores arrive (§10.5 steps 5 to 7).
//
// Storage time is virtual: Config.Start plus the ticks elapsed times the
// plugin's tick length. Audit compares every peer's backend with a ledger
// of the values stored: a value is intact when the responsible peer of the
// brute-force live ring holds it with the same content and signature, and
// replicated when the next two live peers hold it too (§10.4). FetchAll
// fetches every value through the overlay, sending a Fetch lost on a dead
// hop again as a client would after a timeout.
//
// The tests store 10,000 values signed with real certificates of the
// storagetest PKI (every Store verifies every value) on 100 peers, then
// crash adjacent pairs, add peers or make peers leave, and require that
// no value is lost and that every value is back on three live peers.
//
// RFC 6940 sections: §7 (storage), §10.4 (replication), §10.5 (joining),
// §10.6 (routing attaches), §10.7 (updates, failures, stabilisation),
// §10.9 (leaving).
//
// Layering: storagesim may import any package and is imported by none;
// it reads no clock and draws randomness only from its seed.
package storagesim
