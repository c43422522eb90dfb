package monitor_test

import (
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/monitor"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// A deviating peer, driven by hand over a real TLS link, makes the
// monitor write the expected lines: each check that a stream link can
// show at least once, no other, and the metrics count them.
func TestDeviatingPeerOverTLS(t *testing.T) {
	ov, err := nodetest.NewOverlay("test.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(3)
	if err != nil {
		t.Fatal(err)
	}
	nodes, logs := startNodes(t, ov, ids[:1], nil)
	nd, log := nodes[0], logs[0]
	target := nd.ID()
	p := dialRaw(t, ov, ids[1], nd.Addr())
	self := ids[1].NodeID()
	ping := []byte{0, 0}
	var txid uint64 = 0x5eed0000
	next := func() uint64 { txid++; return txid }

	// frame.seq-start: the first data frame is number 1.
	p.frame(1, p.msg(target, wire.CodePingReq, ping, next(), nil, nil))
	waitFor(t, 20*time.Second, "the node's answer (data frame 0)", func() bool { return p.sawData(0) })
	// msg.ttl-above-initial.
	p.frame(2, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) { m.Header.TTL = m.Header.TTL + 1 }))
	// msg.ttl-not-decremented: one hop in the via list, TTL untouched.
	p.frame(3, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) {
		m.Header.Via = []wire.Destination{wire.NodeDest(&self)}
	}))
	// frame.seq-step (4 skipped) and msg.via-resource.
	p.frame(5, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) {
		m.Header.TTL--
		m.Header.Via = []wire.Destination{wire.ResourceDest(wire.ResourceIDFromName("somewhere"))}
	}))
	// msg.unsigned.
	unsigned := p.msg(target, wire.CodePingReq, ping, next(), nil, nil)
	var um wire.Message
	if _, err := um.Decode(unsigned); err != nil {
		t.Fatal(err)
	}
	um.Security.Signature.Value = nil
	um.Security.Certificates = nil
	unsigned, err = um.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.frame(6, unsigned)
	// msg.signature: one bit of the signature flipped.
	bad := p.msg(target, wire.CodePingReq, ping, next(), nil, nil)
	bad[len(bad)-3] ^= 1
	p.frame(7, bad)
	// msg.signer: a request straight from the peer, signed by node3.
	p.frame(8, p.msg(target, wire.CodePingReq, ping, next(), ids[2], nil))
	// body.trailing: a PingReq body with a byte after its padding.
	p.frame(9, p.msg(target, wire.CodePingReq, []byte{0, 0, 7}, next(), nil, nil))
	// msg.reserved: a reserved fragment bit.
	p.frame(10, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) { m.Header.Fragment |= 0x01000000 }))
	// msg.trailing: bytes between the SecurityBlock and the end, the
	// length field counting them.
	tr := append(p.msg(target, wire.CodePingReq, ping, next(), nil, nil), 1, 2, 3)
	binary.BigEndian.PutUint32(tr[16:], uint32(len(tr)))
	p.frame(11, tr)
	// msg.length: bytes after the end the length field gives.
	p.frame(12, append(p.msg(target, wire.CodePingReq, ping, next(), nil, nil), 9, 9))
	// msg.unknown-txid: a PingAns to the node for a request it never sent.
	p.frame(13, p.msg(target, wire.CodePingAns, make([]byte, 16), 0xdeadbeef, nil, nil))
	// msg.version.
	p.frame(14, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) { m.Header.Version = 0x0b }))
	// msg.fragment-bit: the historic bit clear.
	p.frame(15, p.msg(target, wire.CodePingReq, ping, next(), nil, func(m *wire.Message) { m.Header.Fragment = wire.FragmentLast }))
	// msg.header: not a forwarding header.
	p.frame(16, []byte("this is not RELOAD at all, just text"))
	// body.decode: a PingReq body cut short.
	p.frame(17, p.msg(target, wire.CodePingReq, []byte{0}, next(), nil, nil))
	// msg.decode: the contents cut short, the header intact.
	whole := p.msg(target, wire.CodePingReq, ping, next(), nil, nil)
	var hm wire.ForwardingHeader
	hn, err := hm.Decode(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := append([]byte(nil), whole[:hn+3]...)
	binary.BigEndian.PutUint32(cut[16:], uint32(len(cut)))
	p.frame(18, cut)
	// frag.small, then frag.conflict: two fragments of one message that
	// overlap with different bytes.
	fragTx := next()
	frag := func(off int, payload []byte, last bool) []byte {
		h := hm
		h.TransactionID = fragTx
		h.Fragment = wire.FragmentHistoric | uint32(off)
		if last {
			h.Fragment |= wire.FragmentLast
		}
		b, err := h.AppendMessage(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p.frame(19, frag(0, make([]byte, 100), false))
	p.frame(20, frag(50, bytesOf(300, 0xaa), false))
	// frame.ack-unsent and frame.ack-mask: an ACK of a frame the node
	// never sent, and one claiming frames before number 0.
	p.write(&wire.FramedMessage{Type: wire.FrameAck, Sequence: 1000})
	p.write(&wire.FramedMessage{Type: wire.FrameAck, Sequence: 0, Received: 0xffffffff})
	// frame.ack-mask on a stream: frame 1 arrived after frame 0, so a
	// mask without bit 0 is wrong.
	waitFor(t, 20*time.Second, "the node's data frame 1", func() bool { return p.sawData(1) })
	p.write(&wire.FramedMessage{Type: wire.FrameAck, Sequence: 1, Received: 0})
	waitFor(t, 20*time.Second, "the stream ACK mask line", func() bool {
		return strings.Contains(log.String(), "on a stream every frame before it arrived")
	})

	want := []monitor.Check{
		monitor.FrameSeqStart, monitor.FrameSeqStep, monitor.FrameAckUnsent, monitor.FrameAckMask,
		monitor.MsgHeader, monitor.MsgVersion, monitor.MsgFragmentBit, monitor.MsgReserved, monitor.MsgLength,
		monitor.MsgTTLAboveInitial, monitor.MsgTTLNotDecremented, monitor.MsgViaResource, monitor.MsgDecode,
		monitor.MsgTrailing, monitor.BodyDecode, monitor.BodyTrailing, monitor.MsgUnsigned, monitor.MsgSignature,
		monitor.MsgSigner, monitor.MsgUnknownTxID, monitor.FragSmall, monitor.FragConflict,
	}
	mon := nd.Conformance()
	waitFor(t, 30*time.Second, "every expected check", func() bool {
		for _, c := range want {
			if mon.Count(c) == 0 {
				return false
			}
		}
		return true
	})
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	seen := map[string]bool{}
	for _, line := range lines {
		var d monitor.Deviation
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if d.Peer != self.String() || d.Address == "" || d.Link != "TLS-TCP-FH-NO-ICE" || d.Time.IsZero() ||
			!strings.HasPrefix(d.Section, "RFC 6940 §") || d.Seen == "" || d.Required == "" || d.Hex == "" {
			t.Errorf("incomplete line: %s", line)
		}
		seen[d.Check] = true
	}
	for _, c := range want {
		if !seen[c.String()] {
			t.Errorf("no line for %s", c)
		}
	}
	for id := range seen {
		if !slices.ContainsFunc(want, func(c monitor.Check) bool { return c.String() == id }) {
			t.Errorf("unexpected check %s in the log:\n%s", id, log.String())
		}
	}
	scraped := scrape(t, nd)
	for _, c := range want {
		if got := metric(scraped, c.String()); got < 1 {
			t.Errorf("reload_conformance_deviations_total{check=%q} = %d, want ≥ 1", c, got)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("log:\n%s", log.String())
	}
}

func bytesOf(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
