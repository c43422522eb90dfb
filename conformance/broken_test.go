package conformance

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// defects are what the broken peer gets wrong.
type defects struct {
	badAckMask    bool  // every ACK claims all 32 previous frames
	version       uint8 // version of its answers (0 means 0x0a)
	noTTLCheck    bool  // answers and forwards whatever the TTL
	sameSeqRetx   bool  // retransmits under the same sequence number (DTLS)
	seqFromOne    bool  // numbers its data frames from 1
	acceptAnyCert bool  // takes any client certificate
	fragmentZero  bool  // fragment field 0 in its answers
	badSignature  bool  // signatures that do not verify
	// oneLinkPerNode closes a new link from a Node-ID that already has
	// one, right after the handshake.
	oneLinkPerNode bool
	// closeOnTooLarge closes the link on a message above max-message-size
	// without Error_Message_Too_Large (the peer sends the error, then
	// closes, otherwise).
	closeOnTooLarge bool
	// storeAcceptAll answers every Store with a StoreAns and every Fetch
	// with an empty FetchAns, whatever they hold.
	storeAcceptAll bool
}

// brokenPeer is a raw framing-level RELOAD peer written for the tests: it
// answers Ping, forwards to the node it is connected to, and gets wrong
// exactly what its defects say.
type brokenPeer struct {
	d    defects
	id   *security.Identity
	ln   net.Listener
	wg   sync.WaitGroup
	addr string

	mu      sync.Mutex
	live    map[wire.NodeID]bool // Node-IDs with a link (oneLinkPerNode)
	refused int                  // links refused for a repeated Node-ID
}

func startBroken(t *testing.T, tr Transport, d defects) *brokenPeer {
	t.Helper()
	b := &brokenPeer{d: d, id: ident(t, targetID), live: map[wire.NodeID]bool{}}
	trust, err := testConfig(tr == DTLS).Trust()
	if err != nil {
		t.Fatal(err)
	}
	verify := func(chain [][]byte) error {
		if d.acceptAnyCert {
			return nil
		}
		_, err := trust.VerifyChainDER(chain, time.Now())
		return err
	}
	cert := b.id.TLSCertificate()
	if tr == DTLS {
		ln, err := dtls.ListenWithOptions("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)},
			dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true),
			dtls.WithClientAuth(dtls.RequireAnyClientCert),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
			dtls.WithVerifyConnection(func(s *dtls.State) error { return verify(s.PeerCertificates) }))
		if err != nil {
			t.Fatal(err)
		}
		b.ln = ln
	} else {
		ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				var chain [][]byte
				for _, c := range cs.PeerCertificates {
					chain = append(chain, c.Raw)
				}
				return verify(chain)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		b.ln = ln
	}
	b.addr = b.ln.Addr().String()
	b.wg.Add(1)
	go b.accept(tr == DTLS)
	t.Cleanup(func() {
		b.ln.Close()
		b.wg.Wait()
	})
	return b
}

func (b *brokenPeer) accept(datagram bool) {
	defer b.wg.Done()
	var conns []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer c.Close()
			b.serve(c, datagram)
		}()
	}
}

// brokenConn is one connection of the broken peer.
type brokenConn struct {
	b        *brokenPeer
	c        net.Conn
	datagram bool
	peer     wire.NodeID
	wmu      sync.Mutex
	seq      uint32
	window   transport.AckWindow
	acks     chan uint32
}

func (b *brokenPeer) serve(c net.Conn, datagram bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	var chain [][]byte
	switch c := c.(type) {
	case *tls.Conn:
		if c.HandshakeContext(ctx) == nil {
			for _, x := range c.ConnectionState().PeerCertificates {
				chain = append(chain, x.Raw)
			}
		}
	case *dtls.Conn:
		if c.HandshakeContext(ctx) == nil {
			st, _ := c.ConnectionState()
			chain = st.PeerCertificates
		}
	}
	cancel()
	if len(chain) == 0 {
		return
	}
	ids, _, err := security.NodeIDsFromCert(chain[0])
	if err != nil || len(ids) == 0 {
		return
	}
	if b.d.oneLinkPerNode {
		b.mu.Lock()
		dup := b.live[ids[0]]
		if dup {
			b.refused++
		} else {
			b.live[ids[0]] = true
		}
		b.mu.Unlock()
		if dup {
			return
		}
		defer func() {
			b.mu.Lock()
			delete(b.live, ids[0])
			b.mu.Unlock()
		}()
	}
	bc := &brokenConn{b: b, c: c, datagram: datagram, peer: ids[0], acks: make(chan uint32, 64)}
	if b.d.seqFromOne {
		bc.seq = 1
	}
	msgs := make(chan []byte, 64)
	go func() {
		defer close(msgs)
		_ = bc.read(msgs)
	}()
	for m := range msgs {
		if len(m) > config.DefaultMaxMessageSize {
			// §6.6: Error_Message_Too_Large, then close the link.
			var h wire.ForwardingHeader
			if _, err := h.Decode(m); err == nil && !b.d.closeOnTooLarge {
				bc.send(bc.errorAnswer(&h, wire.ErrCodeMessageTooLarge))
			}
			return
		}
		if out := bc.handle(m); out != nil {
			bc.send(out)
		}
	}
}

func (bc *brokenConn) read(msgs chan<- []byte) error {
	onFrame := func(f wire.FramedMessage) {
		switch f.Type {
		case wire.FrameAck:
			select {
			case bc.acks <- f.Sequence:
			default:
			}
		case wire.FrameData:
			a := bc.window.Ack(f.Sequence)
			if bc.b.d.badAckMask {
				a.Received = 0xffffffff
			}
			bc.write(&a)
			msgs <- append([]byte(nil), f.Message...)
		}
	}
	if !bc.datagram {
		r := bufio.NewReader(bc.c)
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(r, hdr[:5]); err != nil {
				return err
			}
			f := wire.FramedMessage{Type: wire.FramedMessageType(hdr[0]), Sequence: binary.BigEndian.Uint32(hdr[1:5])}
			if f.Type == wire.FrameAck {
				if _, err := io.ReadFull(r, hdr[:4]); err != nil {
					return err
				}
				f.Received = binary.BigEndian.Uint32(hdr[:4])
			} else {
				if _, err := io.ReadFull(r, hdr[:3]); err != nil {
					return err
				}
				f.Message = make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
				if _, err := io.ReadFull(r, f.Message); err != nil {
					return err
				}
			}
			onFrame(f)
		}
	}
	buf := make([]byte, 1<<16)
	for {
		n, err := bc.c.Read(buf)
		if err != nil {
			return err
		}
		var f wire.FramedMessage
		if _, err := f.Decode(buf[:n]); err == nil {
			onFrame(f)
		}
	}
}

func (bc *brokenConn) write(f *wire.FramedMessage) {
	b, _ := f.Append(nil)
	bc.wmu.Lock()
	defer bc.wmu.Unlock()
	_, _ = bc.c.Write(b)
}

// send frames msg; on DTLS it waits 250 ms for the ACK and sends again,
// up to four times.
func (bc *brokenConn) send(msg []byte) {
	for range 4 {
		f := wire.FramedMessage{Type: wire.FrameData, Sequence: bc.seq, Message: msg}
		bc.write(&f)
		if !bc.b.d.sameSeqRetx || !bc.datagram {
			bc.seq++
		}
		if !bc.datagram {
			return
		}
		select {
		case <-bc.acks:
			if bc.b.d.sameSeqRetx {
				bc.seq++
			}
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
	if bc.b.d.sameSeqRetx {
		bc.seq++
	}
}

// handle returns what to send for one received message, or nil.
func (bc *brokenConn) handle(raw []byte) []byte {
	var m wire.Message
	if _, err := m.Decode(raw); err != nil {
		var h wire.ForwardingHeader
		if _, herr := h.Decode(raw); herr == nil {
			return bc.errorAnswer(&h, wire.ErrCodeInvalidMessage)
		}
		return nil
	}
	h := &m.Header
	if !m.Contents.Code.IsRequest() {
		return nil
	}
	if !bc.b.d.noTTLCheck && h.TTL > wire.DefaultTTL {
		return bc.errorAnswer(h, wire.ErrCodeTTLExceeded)
	}
	self := bc.b.id.NodeID()
	d := &h.Destinations[0]
	if d.Type == wire.DestResource && bc.b.d.storeAcceptAll {
		switch m.Contents.Code {
		case wire.CodeStoreReq:
			var req wire.StoreReq
			if _, err := req.Decode(m.Contents.Body); err != nil {
				return bc.errorAnswer(h, wire.ErrCodeInvalidMessage)
			}
			var ans wire.StoreAns
			for _, kd := range req.KindData {
				ans.KindResponses = append(ans.KindResponses, wire.StoreKindResponse{Kind: kd.Kind, Generation: 1})
			}
			body, _ := ans.Append(nil)
			return bc.answer(h, wire.CodeStoreAns, body)
		case wire.CodeFetchReq:
			body, _ := (&wire.FetchAns{}).Append(nil)
			return bc.answer(h, wire.CodeFetchAns, body)
		}
	}
	id, _ := d.NodeID()
	switch {
	case id == self && len(h.Destinations) > 1:
		if !bc.b.d.noTTLCheck && h.TTL == 0 {
			return bc.errorAnswer(h, wire.ErrCodeTTLExceeded)
		}
		var hh wire.ForwardingHeader
		n, _ := hh.Decode(raw)
		hh.Destinations = hh.Destinations[1:]
		hh.Via = append(hh.Via, wire.NodeDest(&bc.peer))
		hh.TTL--
		out, _ := hh.AppendForRest(nil, len(raw)-n)
		return append(out, raw[n:]...)
	case id == self || id.IsWildcard():
		if m.Contents.Code != wire.CodePingReq {
			return bc.errorAnswer(h, wire.ErrCodeInvalidMessage)
		}
		var p wire.PingReq
		if _, err := p.Decode(m.Contents.Body); err != nil {
			return bc.errorAnswer(h, wire.ErrCodeInvalidMessage)
		}
		body, _ := (&wire.PingAns{ResponseID: rand64(), Time: uint64(time.Now().UnixMilli())}).Append(nil)
		return bc.answer(h, wire.CodePingAns, body)
	}
	return bc.errorAnswer(h, wire.ErrCodeNotFound)
}

func (bc *brokenConn) errorAnswer(h *wire.ForwardingHeader, code wire.ErrorCode) []byte {
	body, _ := (&wire.ErrorResponse{Code: code}).Append(nil)
	return bc.answer(h, wire.CodeError, body)
}

func (bc *brokenConn) answer(req *wire.ForwardingHeader, code wire.MessageCode, body []byte) []byte {
	d := bc.b.d
	m := wire.Message{Header: wire.ForwardingHeader{
		Overlay: req.Overlay, ConfigSequence: req.ConfigSequence, Version: wire.Version10, TTL: wire.DefaultTTL,
		Fragment: wire.FragmentUnfragmed, TransactionID: req.TransactionID,
		Destinations: []wire.Destination{wire.NodeDest(&bc.peer)},
	}, Contents: wire.MessageContents{Code: code, Body: body}}
	if d.version != 0 {
		m.Header.Version = d.version
	}
	contents, _ := m.Contents.Append(nil)
	if err := bc.b.id.SignMessage(&m.Security, m.Header.Overlay, m.Header.TransactionID, contents); err != nil {
		return nil
	}
	if d.badSignature {
		v := append([]byte(nil), m.Security.Signature.Value...)
		v[len(v)/2] ^= 1
		m.Security.Signature.Value = v
	}
	out, err := m.Append(nil)
	if err != nil {
		return nil
	}
	if d.fragmentZero {
		binary.BigEndian.PutUint32(out[fragmentOffset:], 0)
	}
	return out
}

// Each defect of the broken peer is reported by the check that covers it.
func TestBrokenPeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   Transport
		d    defects
		fail []string // checks that must fail
		pass []string // checks that must still pass
	}{
		{
			name: "dtls-framing-and-ttl", tr: DTLS,
			d:    defects{badAckMask: true, version: 0x01, noTTLCheck: true, sameSeqRetx: true, seqFromOne: true},
			fail: []string{"frame.ack-mask", "fh.version", "err.ttl-above-initial", "err.ttl-zero", "frame.retransmit", "frame.seq"},
			pass: []string{"link.cert", "ping.answer", "frame.ack", "fh.forward", "fh.fragment", "sec.answer-signature"},
		},
		{
			name: "tls-security-and-header", tr: TLS,
			d:    defects{acceptAnyCert: true, fragmentZero: true, badSignature: true},
			fail: []string{"link.reject-untrusted", "fh.fragment", "sec.answer-signature", "ping.answer"},
			pass: []string{"link.cert", "link.require-client-cert", "frame.seq", "frame.ack", "frame.ack-mask", "fh.version", "err.ttl-zero"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBroken(t, tc.tr, tc.d)
			checks := append(append([]string(nil), tc.fail...), tc.pass...)
			rep := runAgainst(t, b.addr, tc.tr, SystemNetwork{}, checks...)
			for _, id := range tc.fail {
				if res, ok := rep.Result(id); !ok || res.Status != Fail {
					t.Errorf("%s: %s (%s), want fail", id, res.Status, res.Detail)
				}
			}
			for _, id := range tc.pass {
				if res, ok := rep.Result(id); !ok || res.Status != Pass {
					t.Errorf("%s: %s (%s), want pass", id, res.Status, res.Detail)
				}
			}
		})
	}
}
