package wiretest

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/goreload/reload/wire"
)

// Addresses of the two sample peers in captures (RFC 5737 documentation
// range) and the RELOAD port (RFC 6940 §14.2).
var (
	PeerA = net.IPv4(192, 0, 2, 1).To4()
	PeerB = net.IPv4(192, 0, 2, 2).To4()
)

// Port is the IANA port for RELOAD.
const Port = 6084

// Datagram is one UDP payload and its direction.
type Datagram struct {
	FromA   bool
	Payload []byte
}

// Framed turns samples into the datagrams of a link that uses the simple
// reliability framing (RFC 6940 §6.6.2): each message travels in a DATA
// frame and is acknowledged by an ACK frame from the receiver. Requests go
// from A to B and answers from B to A; each direction numbers its DATA
// frames from 0.
func Framed(samples []Sample) ([]Datagram, error) {
	var out []Datagram
	var seqA, seqB uint32
	var rcvdByA, rcvdByB uint32 // bitmask of the last 32 sequences received
	for _, s := range samples {
		msg, err := s.Encode()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		fromA := !s.Msg.Contents.Code.IsAnswer()
		seq := &seqB
		if fromA {
			seq = &seqA
		}
		data := wire.FramedMessage{Type: wire.FrameData, Sequence: *seq, Message: msg}
		db, err := data.Append(nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		rcvd := &rcvdByA
		if fromA {
			rcvd = &rcvdByB
		}
		ack := wire.FramedMessage{Type: wire.FrameAck, Sequence: *seq, Received: *rcvd}
		ab, _ := ack.Append(nil)
		// The receiver's bitmask now also holds this sequence, for the
		// next ACK: shift by one frame.
		*rcvd = *rcvd<<1 | 1
		*seq++
		out = append(out, Datagram{FromA: fromA, Payload: db}, Datagram{FromA: !fromA, Payload: ab})
	}
	return out, nil
}

// WritePcap writes datagrams as Ethernet/IPv4/UDP packets between PeerA
// and PeerB on Port, with timestamps one millisecond apart from start.
func WritePcap(w io.Writer, dgs []Datagram, start time.Time) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		return err
	}
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	for i, d := range dgs {
		src, dst, smac, dmac := PeerA, PeerB, macA, macB
		if !d.FromA {
			src, dst, smac, dmac = PeerB, PeerA, macB, macA
		}
		eth := &layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst, Id: uint16(i + 1)}
		udp := &layers.UDP{SrcPort: Port, DstPort: Port}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			return err
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(d.Payload)); err != nil {
			return err
		}
		b := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}
		if err := pw.WritePacket(ci, b); err != nil {
			return err
		}
	}
	return nil
}

// CaptureStart is the fixed timestamp of the first packet of generated
// captures, so that they are reproducible byte for byte.
var CaptureStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteMessagesPcap writes the capture of every sample message.
func WriteMessagesPcap(w io.Writer) error {
	dgs, err := Framed(Samples())
	if err != nil {
		return err
	}
	return WritePcap(w, dgs, CaptureStart)
}
