// Command customkind adds a Kind of its own to a RELOAD overlay and uses
// it through the public node API.
//
// The Kind is PRESENCE, a user's online status, defined as RFC 6940
// §7.4.5 allows for an ad hoc Kind: in the overlay's configuration
// document, with a Kind-ID from the private-use range 0xF0000001 to
// 0xFFFFFFFE (§14.6). Its definition:
//
//   - meaning: the presence of a user, one entry per device, a short JSON
//     object such as {"status":"available","note":"at my desk"};
//   - Kind-ID 0xF0000001;
//   - data model DICTIONARY (§7.2.3), keyed by the Node-ID of the device;
//   - access control USER-NODE-MATCH (§7.3.3): stored at the Resource-ID
//     of the user name in the signer's certificate, under the signer's own
//     Node-ID, so only the user's own devices can write it;
//   - max-count 8 (devices per user) and max-size 256 bytes (§11.1).
//
// The program makes an overlay in memory: an enrollment CA, a configuration
// signer, a configuration document with PRESENCE among its required-kinds
// (the kind-block signed by the kind signer, the document signed by the
// configuration signer), and node certificates for alice and bob. It
// writes the document out and parses it back, as a node that fetched it
// would, starts alice's peer as the first peer of the ring and bob's as a
// peer joining through it, both on loopback over TLS, and then:
//
//  1. alice stores her presence;
//  2. bob fetches it;
//  3. bob tries to overwrite it and gets Error_Forbidden;
//  4. alice stores a value above max-size and gets Error_Data_Too_Large;
//  5. bob pings alice's peer.
//
// Run it with `go run ./examples/customkind`; `go test
// ./examples/customkind` runs it as a test. The same Kind works from the
// command line with a node of an overlay whose configuration defines it:
// on alice's node, `reload store alice@OVERLAY 0xF0000001 VALUE` (the
// dictionary key defaults to the node's Node-ID), and from any node
// `reload fetch alice@OVERLAY 0xF0000001`.
package main
