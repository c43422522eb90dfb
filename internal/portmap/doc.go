// Package portmap asks the NAT gateway in front of a node to forward a
// port to it, with UPnP IGD (WANIPConnection:1 and :2, WANPPPConnection:1;
// github.com/huin/goupnp) or NAT-PMP (RFC 6886; github.com/jackpal/go-nat-pmp),
// and learns the gateway's external address. The mapped address is one
// more source of ICE candidates for the Attaches of RFC 6940 §6.5.1: it is
// offered as a server-reflexive candidate: RFC 8445 §4 defines one as a
// binding a NAT allocated for the agent, learnt there from a server such
// as STUN; a port mapping is such a binding, learnt from the NAT itself.
//
// It follows what go-libp2p does for the same problem (p2p/net/nat):
// discover the gateway with both protocols at once and keep the first
// that answers, map the listening port with a lease, renew it at half the
// lease, and remove the mapping on Close.
//
// Layer: a helper of the composition root (node); it imports no project
// package and opens its own sockets (SSDP, HTTP, NAT-PMP).
package portmap
