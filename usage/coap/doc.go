// Package coap is the CoAP usage for RELOAD (RFC 7650) and a CoAP front
// end that lets constrained devices that do not run RELOAD be registered
// in and reached through the overlay.
//
// What it owns:
//
//   - the CoAP-REGISTRATION Kind, Kind-ID 0x105 (RFC 7650 §4, §8.1, §11.1):
//     a dictionary keyed by the storing node's Node-ID whose values are
//     wire.CoAPRegistration (the proxy's Node-ID and a CoRE link-format
//     list, RFC 6690), stored at the hash of the device's URI
//     coap://<name>/; access control URI-NODE-MATCH (§9);
//   - the CoAP-CACHING Kind, Kind-ID 0x106 (§7, §8.2, §11.2): a single
//     wire.CoAPCaching value in its SensorCache form (§7.2), stored by the
//     proxy when a sleepy device reports its latest measurement and
//     answered from when the device does not answer; access control
//     URI-MATCH (§9). The access policies themselves are checked by the
//     storing peer and on every Fetch in package storage;
//   - the lookup of a device (§5: Fetch at the hash of its URI) and the
//     direct connection to its proxy (§6: AppAttach to the Node-ID the
//     lookup gave, then CoAP over that connection). RFC 7650 registers no
//     Application-ID; AppCoAP is 5683, the CoAP port, as SIP's
//     Application-ID is the SIP port (RFC 6940 §14.5). Over the (D)TLS
//     connection AppAttach gives, CoAP uses the reliable-transport framing
//     of RFC 8323.
//
// The Frontend is a Proxy Node (§3) on one UDP socket:
//
//   - a device registers with POST /rd?ep=<name>[&lt=<seconds>] and a
//     link-format payload (the registration interface of the CoRE
//     Resource Directory, to which RFC 7650 §1 points non-RELOAD nodes);
//     the proxy stores the CoAP-REGISTRATION and keeps the device's
//     address, to which it later forwards requests;
//   - a device reports a measurement with PUT /rd-cache?ep=<name>&href=<path>
//     (Max-Age is its lifetime); the proxy stores it as CoAP-CACHING at
//     the hash of coap://<name><path>;
//   - any CoAP client sends a request with Proxy-Uri coap://<name>/<path>
//     (RFC 7252 §5.7.2): the proxy looks the name up, opens (or reuses) an
//     AppAttach connection to the device's proxy and sends the request on
//     with Uri-Host <name>; that proxy forwards it to the device and the
//     answer comes back the same way. A GET the device cannot answer is
//     answered from a fresh CoAP-CACHING value when there is one. With a
//     Node-ID (hex) as host, coap://<node-id>/.well-known/core lists the
//     devices of that proxy and coap://<node-id>/<name>/<path> reaches one.
//
// Security (RFC 7650 §10). What a proxy may register is decided by the
// overlay: URI-NODE-MATCH and URI-MATCH only accept values signed by a
// node whose certificate holds the device's URI, so Config.Names (the
// coap: URIs of this node's certificate) are checked before a Store and a
// device asking for another name gets 4.03. What authenticates the device
// to its proxy is CoAP's business (RFC 7252 §9): this front end implements
// only NoSec, so New refuses to start unless Config.NoSec says that the
// device network is trusted (e.g. a link-local WSN behind the proxy).
//
// Layering: imports wire, storage and go-coap; never transport,
// forwarding or topology. The node supplies an Overlay.
package coap
