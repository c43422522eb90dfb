package capture

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/pion/transport/v5/stdnet"
	"go.uber.org/goleak"
)

type packet struct {
	src, dst uint16
	tcp      *layers.TCP
	payload  string
}

func readPackets(t *testing.T, b []byte) []packet {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []packet
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("bad packet: %v", el.Error())
		}
		switch l := p.TransportLayer().(type) {
		case *layers.TCP:
			out = append(out, packet{uint16(l.SrcPort), uint16(l.DstPort), l, string(l.Payload)})
		case *layers.UDP:
			out = append(out, packet{uint16(l.SrcPort), uint16(l.DstPort), nil, string(l.Payload)})
		default:
			t.Fatalf("packet without TCP or UDP: %v", p)
		}
	}
}

func port(a net.Addr) uint16 { return addrPortOf(a).Port() }

// With both ends wrapped and only sent payloads recorded, a TCP connection
// appears once: handshake, each payload with consistent sequence and
// acknowledgement numbers, a FIN each way.
func TestTCPBothEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	var buf bytes.Buffer
	c, err := New(&buf, Sent)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := c.Listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- s
	}()
	var d net.Dialer
	cl, err := c.Dial(d.DialContext)(context.Background(), "tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	rbuf := make([]byte, 16)
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, rbuf[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("world!")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cl, rbuf[:6]); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, rbuf[:3]); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	s.Close()
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ServerPorts(); len(got) != 1 || got[0] != port(raw.Addr()) {
		t.Errorf("server ports %v, want [%d]", got, port(raw.Addr()))
	}

	cp, sp := port(cl.LocalAddr()), port(raw.Addr())
	type want struct {
		fromClient  bool
		syn, ack    bool
		fin         bool
		seq, ackNum uint32
		payload     string
	}
	wants := []want{
		{fromClient: true, syn: true, seq: 1000},
		{syn: true, ack: true, seq: 1000, ackNum: 1001},
		{fromClient: true, ack: true, seq: 1001, ackNum: 1001},
		{fromClient: true, ack: true, seq: 1001, ackNum: 1001, payload: "hello"},
		{ack: true, seq: 1001, ackNum: 1006, payload: "world!"},
		{fromClient: true, ack: true, seq: 1006, ackNum: 1007, payload: "bye"},
		{fromClient: true, ack: true, fin: true, seq: 1009, ackNum: 1007},
		{ack: true, fin: true, seq: 1007, ackNum: 1010},
	}
	got := readPackets(t, buf.Bytes())
	if len(got) != len(wants) {
		t.Fatalf("%d packets, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		g := got[i]
		src, dst := sp, cp
		if w.fromClient {
			src, dst = cp, sp
		}
		if g.tcp == nil || g.src != src || g.dst != dst || g.tcp.SYN != w.syn || g.tcp.ACK != w.ack || g.tcp.FIN != w.fin ||
			g.tcp.Seq != w.seq || (w.ack && g.tcp.Ack != w.ackNum) || g.payload != w.payload {
			t.Errorf("packet %d: %d→%d %+v %q, want %+v", i+1, g.src, g.dst, g.tcp, g.payload, w)
		}
	}
}

// One end wrapped in SentAndReceived mode records both directions of UDP.
func TestUDPSentAndReceived(t *testing.T) {
	defer goleak.VerifyNone(t)
	var buf bytes.Buffer
	c, err := New(&buf, SentAndReceived)
	if err != nil {
		t.Fatal(err)
	}
	a, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ca := c.PacketConn(a)
	if _, err := ca.WriteTo([]byte("ping"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 16)
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := b.ReadFrom(p); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteTo([]byte("pong"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = ca.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ca.ReadFrom(p); err != nil {
		t.Fatal(err)
	}
	got := readPackets(t, buf.Bytes())
	pa, pb := port(a.LocalAddr()), port(b.LocalAddr())
	if len(got) != 2 || got[0] != (packet{pa, pb, nil, "ping"}) || got[1] != (packet{pb, pa, nil, "pong"}) {
		t.Fatalf("packets %+v", got)
	}
}

// The sockets ICE gathers on through the wrapped pion network are
// recorded, whichever write method carries the datagram.
func TestPionNet(t *testing.T) {
	defer goleak.VerifyNone(t)
	var buf bytes.Buffer
	c, err := New(&buf, Sent)
	if err != nil {
		t.Fatal(err)
	}
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	n := c.Net(std)
	u, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := peer.LocalAddr().(*net.UDPAddr)
	if _, err := u.WriteTo([]byte("one"), to); err != nil {
		t.Fatal(err)
	}
	if _, err := u.WriteToUDP([]byte("two"), to); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.WriteMsgUDP([]byte("three"), nil, to); err != nil {
		t.Fatal(err)
	}
	pc, err := n.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.WriteTo([]byte("four"), to); err != nil {
		t.Fatal(err)
	}
	got := readPackets(t, buf.Bytes())
	pu, pp, pt := port(u.LocalAddr()), port(pc.LocalAddr()), uint16(to.Port)
	want := []packet{{pu, pt, nil, "one"}, {pu, pt, nil, "two"}, {pu, pt, nil, "three"}, {pp, pt, nil, "four"}}
	if len(got) != len(want) {
		t.Fatalf("packets %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

// A nil Capture wraps nothing.
func TestNilCapture(t *testing.T) {
	var c *Capture
	a, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if c.PacketConn(a) != a || c.Net(nil) != nil || c.Dial(nil) != nil || c.Listener(nil) != nil || c.Conn(nil, true) != nil ||
		c.Err() != nil || c.ServerPorts() != nil {
		t.Fatal("a nil Capture changed something")
	}
}
