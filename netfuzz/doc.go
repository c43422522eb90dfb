// Package netfuzz is the protocol-aware network fuzzer of "reload fuzz":
// it connects to a RELOAD peer of any implementation over an authenticated
// TLS-TCP-FH-NO-ICE or DTLS-UDP-SR-NO-ICE link (RFC 6940 §6.6.5, §6.6.6),
// as an enrolled node of the peer's overlay, and sends it messages built
// with the wire codec and then mutated field by field:
//
//   - the forwarding header (§6.3.2): version, TTL, fragment field, length,
//     overlay hash, the via and destination lists (their counts, Node-ID
//     and Resource-ID lengths, destination types, compressed entries) and
//     forwarding options with their critical flags (§6.3.2.3);
//   - MessageContents (§6.3.3): the message code, every request and answer
//     body the wire package knows (§6.4, §6.5, §7.4, RFC 7851 §5, RFC
//     7904), their length and count fields, and message extensions;
//   - the SecurityBlock (§6.3.4): valid signatures, invalid ones, none,
//     unknown algorithms and garbled certificates;
//   - §6.7 fragments in and out of order, and the framing header of §6.6.2
//     (frame types, sequence numbers, data lengths, ACKs).
//
// Between batches it checks that the target still answers a signed Ping
// (§6.5.3). A link the target closes is not a failure; a target that stops
// answering Pings on a live link, or stops accepting links, is. It then
// replays the recent inputs, each on a new link, to find the one that did
// it, minimises that input (dropping list entries and fields, then
// shrinking bytes) and writes a reproducer: the input as hex, a pcap of
// its replay with the (D)TLS key log, and the command that replays it.
//
// Layering: netfuzz is a tool above every layer, like conformance: it
// imports wire, security, config, storage, transport and conformance
// (whose Network and Transport it shares), and nothing imports it.
package netfuzz
