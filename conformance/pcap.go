package conformance

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Capture writes what the tester sends and receives on its sockets as a
// pcap file (link type Ethernet), with synthetic Ethernet, IP and TCP or
// UDP headers around each payload: TLS records on TCP, DTLS datagrams on
// UDP, encrypted as on the wire. With the key log the tester writes
// alongside (Options.KeyLog), Wireshark decrypts them and, with "Decode
// As" RELOAD framing on the target's port, dissects the messages.
// It is safe for concurrent use.
type Capture struct {
	mu   sync.Mutex
	w    *pcapgo.Writer
	now  func() time.Time
	seqs map[[2]netip.AddrPort]uint32 // next TCP sequence number per direction
	err  error
}

// NewCapture writes the pcap file header to w and returns a Capture
// appending packets to it.
func NewCapture(w io.Writer) (*Capture, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &Capture{w: pw, now: time.Now, seqs: make(map[[2]netip.AddrPort]uint32)}, nil
}

// Err is the first error writing the capture met.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		if a != nil {
			ap, _ = netip.ParseAddrPort(a.String())
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// fixAddrs gives an unspecified or missing address the loopback address of
// the other end's family, so that every packet has concrete endpoints.
func fixAddrs(src, dst netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	fix := func(a, other netip.AddrPort) netip.AddrPort {
		if a.Addr().IsValid() && !a.Addr().IsUnspecified() {
			return a
		}
		if other.Addr().Is6() {
			return netip.AddrPortFrom(netip.IPv6Loopback(), a.Port())
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), a.Port())
	}
	src, dst = fix(src, dst), fix(dst, src)
	if src.Addr().Is4() != dst.Addr().Is4() {
		// Mixed families cannot share one IP header: map both to IPv6.
		src = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
		dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
	}
	return src, dst
}

// tcpOpen records the three-way handshake of a new TCP connection from
// client to server, so that Wireshark sees the stream from its start.
func (c *Capture) tcpOpen(client, server net.Addr) {
	src, dst := fixAddrs(addrPortOf(client), addrPortOf(server))
	c.mu.Lock()
	defer c.mu.Unlock()
	const isn = 1000
	c.seqs[[2]netip.AddrPort{src, dst}] = isn + 1
	c.seqs[[2]netip.AddrPort{dst, src}] = isn + 1
	c.writeTCP(src, dst, isn, 0, true, false, nil)
	c.writeTCP(dst, src, isn, isn+1, true, true, nil)
	c.writeTCP(src, dst, isn+1, isn+1, false, true, nil)
}

// tcp records payload sent from src to dst on a TCP connection.
func (c *Capture) tcp(from, to net.Addr, payload []byte) {
	src, dst := fixAddrs(addrPortOf(from), addrPortOf(to))
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(payload) > 0 {
		n := min(len(payload), 60000)
		k := [2]netip.AddrPort{src, dst}
		seq := c.seqs[k]
		ack := c.seqs[[2]netip.AddrPort{dst, src}]
		c.writeTCP(src, dst, seq, ack, false, true, payload[:n])
		c.seqs[k] = seq + uint32(n)
		payload = payload[n:]
	}
}

// udp records one datagram.
func (c *Capture) udp(from, to net.Addr, payload []byte) {
	src, dst := fixAddrs(addrPortOf(from), addrPortOf(to))
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write(src, dst, layers.IPProtocolUDP, u, payload)
}

func (c *Capture) writeTCP(src, dst netip.AddrPort, seq, ack uint32, syn, hasAck bool, payload []byte) {
	t := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, SYN: syn, ACK: hasAck, PSH: len(payload) > 0, Window: 65535,
	}
	c.write(src, dst, layers.IPProtocolTCP, t, payload)
}

// write frames payload in Ethernet, IP and the transport layer l; the
// caller holds c.mu.
func (c *Capture) write(src, dst netip.AddrPort, proto layers.IPProtocol, l gopacket.SerializableLayer, payload []byte) {
	if c.err != nil {
		return
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ip gopacket.NetworkLayer
	var ipl gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip, ipl = v4, v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip, ipl = v6, v6
	}
	switch t := l.(type) {
	case *layers.TCP:
		_ = t.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		_ = t.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ipl, l, gopacket.Payload(payload)); err != nil {
		c.err = err
		return
	}
	b := buf.Bytes()
	c.err = c.w.WritePacket(gopacket.CaptureInfo{Timestamp: c.now(), CaptureLength: len(b), Length: len(b)}, b)
}

// capConn records a TCP connection's bytes.
type capConn struct {
	net.Conn
	cap *Capture
}

func (c *capConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.cap.tcp(c.RemoteAddr(), c.LocalAddr(), p[:n])
	}
	return n, err
}

func (c *capConn) Write(p []byte) (int, error) {
	c.cap.tcp(c.LocalAddr(), c.RemoteAddr(), p)
	return c.Conn.Write(p)
}

// capPacketConn records a UDP socket's datagrams.
type capPacketConn struct {
	net.PacketConn
	cap *Capture
}

func (c *capPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.cap.udp(addr, c.LocalAddr(), p[:n])
	}
	return n, addr, err
}

func (c *capPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.cap.udp(c.LocalAddr(), addr, p)
	return c.PacketConn.WriteTo(p, addr)
}
