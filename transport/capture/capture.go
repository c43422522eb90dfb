package capture

import (
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Direction says which payloads a Capture records.
type Direction int

const (
	// Sent records what the wrapped sockets send. When both ends of every
	// connection are wrapped (all the peers of one process), each packet
	// appears once.
	Sent Direction = iota
	// SentAndReceived also records what the wrapped sockets receive: for
	// one end talking to something outside the capture (a tester and
	// its target).
	SentAndReceived
)

// snapLen is the pcap snapshot length; TCP payloads are cut into
// segments that fit in it with their headers.
const (
	snapLen    = 262144
	maxSegment = 60000
	isn        = 1000 // initial sequence number of both directions
)

// Capture writes packets to a pcap file (link type Ethernet). Its methods
// wrap sockets; a nil *Capture wraps nothing and returns them unchanged.
// It is safe for concurrent use.
type Capture struct {
	dir Direction
	now func() time.Time

	mu    sync.Mutex // guards the fields below and the writer
	w     *pcapgo.Writer
	flows map[flowKey]*flow
	ports map[uint16]bool // TCP ports that accepted a wrapped connection
	err   error
}

// flowKey names one TCP connection, client first.
type flowKey struct{ client, server netip.AddrPort }

// flow is the state of one recorded TCP connection.
type flow struct {
	next [2]uint32 // next sequence number from the client [0] and server [1]
	fin  [2]bool
}

// New writes the pcap file header to w and returns a Capture appending
// packets to it.
func New(w io.Writer, dir Direction) (*Capture, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &Capture{dir: dir, now: time.Now, w: pw, flows: map[flowKey]*flow{}, ports: map[uint16]bool{}}, nil
}

// Err is the first error writing the capture met; recording stops there.
func (c *Capture) Err() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ServerPorts lists, in order, the local ports on which wrapped listeners
// accepted connections: the TCP ports to decode as TLS in Wireshark.
func (c *Capture) ServerPorts() []uint16 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint16, 0, len(c.ports))
	for p := range c.ports {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// addrPortOf is transport.AddrPortOf, which this package cannot import:
// transport's own tests import this package.
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

// tcpOpen records the three-way handshake of a connection from client to
// server, once: both ends of a connection may announce it, whichever
// comes first (and so before its first payload) writes it.
func (c *Capture) tcpOpen(client, server net.Addr) {
	src, dst := fixAddrs(addrPortOf(client), addrPortOf(server))
	c.mu.Lock()
	defer c.mu.Unlock()
	k := flowKey{src, dst}
	if _, ok := c.flows[k]; ok {
		return
	}
	c.flows[k] = &flow{next: [2]uint32{isn + 1, isn + 1}}
	c.writeTCP(src, dst, isn, 0, tcpSYN, nil)
	c.writeTCP(dst, src, isn, isn+1, tcpSYN|tcpACK, nil)
	c.writeTCP(src, dst, isn+1, isn+1, tcpACK, nil)
}

// lookup finds the flow of a segment from src to dst and which side sent
// it; the caller holds c.mu. A connection whose opening was not seen gets
// a flow without a handshake.
func (c *Capture) lookup(src, dst netip.AddrPort) (*flow, int) {
	if f, ok := c.flows[flowKey{src, dst}]; ok {
		return f, 0
	}
	if f, ok := c.flows[flowKey{dst, src}]; ok {
		return f, 1
	}
	f := &flow{next: [2]uint32{isn + 1, isn + 1}}
	c.flows[flowKey{src, dst}] = f
	return f, 0
}

// tcp records payload sent from one end of a TCP connection to the other.
func (c *Capture) tcp(from, to net.Addr, payload []byte) {
	src, dst := fixAddrs(addrPortOf(from), addrPortOf(to))
	c.mu.Lock()
	defer c.mu.Unlock()
	f, side := c.lookup(src, dst)
	for len(payload) > 0 {
		n := min(len(payload), maxSegment)
		seq := f.next[side]
		c.writeTCP(src, dst, seq, f.next[1-side], tcpACK|tcpPSH, payload[:n])
		f.next[side] = seq + uint32(n)
		payload = payload[n:]
	}
}

// tcpClose records a FIN from one end; the flow is forgotten once both
// ends closed, so that a later connection on the same ports starts anew.
func (c *Capture) tcpClose(from, to net.Addr) {
	src, dst := fixAddrs(addrPortOf(from), addrPortOf(to))
	c.mu.Lock()
	defer c.mu.Unlock()
	f, side := c.lookup(src, dst)
	if f.fin[side] {
		return
	}
	f.fin[side] = true
	c.writeTCP(src, dst, f.next[side], f.next[1-side], tcpFIN|tcpACK, nil)
	f.next[side]++
	if f.fin[1-side] {
		delete(c.flows, flowKey{src, dst})
		delete(c.flows, flowKey{dst, src})
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

type tcpFlags uint8

const (
	tcpSYN tcpFlags = 1 << iota
	tcpACK
	tcpPSH
	tcpFIN
)

func (c *Capture) writeTCP(src, dst netip.AddrPort, seq, ack uint32, fl tcpFlags, payload []byte) {
	t := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, Window: 65535,
		SYN: fl&tcpSYN != 0, ACK: fl&tcpACK != 0, PSH: fl&tcpPSH != 0, FIN: fl&tcpFIN != 0,
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
