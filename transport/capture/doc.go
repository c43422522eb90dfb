// Package capture records the traffic of RELOAD links as a pcap file,
// in process, without privileges: the sockets a node or a tester uses are
// wrapped (net.Conn, net.Listener, net.PacketConn, a dial function, or a
// pion transport.Net for ICE), and every payload they send, and on demand
// every payload they receive, is written as a synthetic Ethernet/IP/TCP or
// UDP packet with the real addresses and ports. TCP streams get a
// three-way handshake, consistent sequence numbers and a FIN, so that
// Wireshark reassembles the TLS records of TLS-TCP-FH-NO-ICE links
// (RFC 6940 §6.6.5); UDP datagrams carry the DTLS records of DTLS-UDP-SR
// links (§6.6.4, §6.6.6) and the STUN connectivity checks of ICE
// (§6.5.1). Payloads stay encrypted as on the wire: give Wireshark the
// (D)TLS key log the links write (transport.Config.KeyLogWriter) to read
// the RELOAD messages inside.
//
// The package imports no other package of the stack, so that every layer
// and tool (transport tests, conformance, node, the reload command) can
// use it.
package capture
