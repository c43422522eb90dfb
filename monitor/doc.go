// Package monitor is a passive conformance monitor: run inside a node, it
// checks what other RELOAD implementations send to that node and reports
// every deviation from RFC 6940 it can observe, as one JSON line each and
// as counts per check.
//
// It watches two layers through observer hooks that cost nothing when
// unset:
//
//   - the framing layer of every link (transport.LinkObserver, RFC 6940
//     §6.6.2 and §6.6.3.1): data frame sequence numbers start at 0 and
//     grow by one, a DTLS peer retransmits under a new sequence number,
//     ACKs and their received masks name only frames this node sent;
//   - every message received from a link and every message the node
//     originates (forwarding.MessageObserver, §6.3, §6.7): the forwarding
//     header (§6.3.2: version, fragment bits, TTL against initial-ttl and
//     the hops the via list shows, Resource-IDs in a via list, §6.3.2.2),
//     strict decoding of the message and its body (bytes left over,
//     reserved bits), signatures (§6.3.4: unsigned, not verifying, or
//     signed by another node than the originator), answers addressed to
//     this node with a transaction id it never sent (§6.3.2), and
//     fragments (§6.7: at least 256 bytes of body per fragment but the
//     last, fragments of one message that disagree).
//
// A Monitor observes only: it never changes, delays or drops what the
// node sends or receives, and node gives it a signature verifier of its
// own, so that the certificates it meets do not change what the node
// knows. A message whose signer's certificate is not in its SecurityBlock
// is therefore not checked for its signature (the monitor does not fetch
// certificates). Checks report deviations only, so a conformant
// peer leaves no line; the catalogue (Checks) names each check's RFC
// section and what the RFC requires.
//
// Layer: above transport and forwarding, below node, which wires it in
// (node.Config.ConformanceLog). It imports wire, security, transport and
// forwarding, and must not import topology, storage, usage or node.
package monitor
