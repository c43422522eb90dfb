package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"go.uber.org/goleak"

	"github.com/goreload/reload/internal/flood"
	"github.com/goreload/reload/wire"
)

// tinyFragment is a fragment of message txid at body offset off that
// carries one byte and is never completed (RFC 6940 §6.7).
func tinyFragment(t testing.TB, txid uint64, off int) []byte {
	t.Helper()
	h := wire.ForwardingHeader{
		Overlay: wire.OverlayHash(testOverlay), Version: wire.Version10, TTL: wire.DefaultTTL,
		Fragment: wire.FragmentHistoric | uint32(off), TransactionID: txid,
		Destinations: []wire.Destination{wire.NodeDest(new(nodeID(2)))},
	}
	b, err := h.AppendMessage(nil, []byte{0x5a})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A flood of one-byte fragments of messages that never complete, each
// under a new transaction id, holds no more than the reassembly limits
// allow, counting what every held message costs besides its bytes, and
// costs constant time per fragment (§6.7: "a receiver out of buffer
// space MUST drop the message"). Before the overheads were charged, one
// link could park a million incomplete messages of one byte each, and
// each fragment scanned them all for expiry.
func TestReassemblyFloodBounded(t *testing.T) {
	n := 100_000
	if flood.Big() {
		n = 2_000_000
	}
	cfg := ReassemblyConfig{}.withDefaults()
	r := NewReassembler(cfg)
	before := flood.HeapMiB()
	now := time.Now()
	full := 0
	start := time.Now()
	for i := range n {
		if _, err := r.Add(1, tinyFragment(t, uint64(i), 1+i%1000), now); errors.Is(err, ErrReassemblyFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	during := flood.HeapMiB()
	maxHeld := cfg.PerLink / (partialOverhead + pieceOverhead)
	t.Logf("%d tiny fragments on one link in %v: %d incomplete held (limit %d), %d refused, buffered %d B; heap %.1f -> %.1f MiB",
		n, elapsed.Round(time.Millisecond), r.Incomplete(), maxHeld, full, r.Buffered(), before, during)
	if r.Incomplete() > maxHeld || r.Buffered() > cfg.PerLink {
		t.Fatalf("%d incomplete messages, %d bytes held; limit %d bytes", r.Incomplete(), r.Buffered(), cfg.PerLink)
	}
	if during-before > 16 {
		t.Errorf("heap grew %.1f MiB for a 1 MiB per-link budget", during-before)
	}
	// A legitimate fragmented message on another link still reassembles.
	msg := pingMessage(t, 1<<40, 3000, nodeID(1), nodeID(2))
	frags, err := Fragment(msg, 1200)
	if err != nil {
		t.Fatal(err)
	}
	var whole []byte
	for _, f := range frags {
		if whole, err = r.Add(2, f, now); err != nil {
			t.Fatalf("legitimate message on another link: %v", err)
		}
	}
	if whole == nil {
		t.Fatal("legitimate message not reassembled")
	}
	// The flood expires with the reassembly timeout, all at once.
	if d := r.Deadline(); d.Sub(now) != cfg.Timeout {
		t.Fatalf("deadline %v after the flood, want %v", d.Sub(now), cfg.Timeout)
	}
	if got := r.Expire(now.Add(cfg.Timeout)); got == 0 || r.Incomplete() != 0 || r.Buffered() != 0 {
		t.Fatalf("expired %d, %d left holding %d bytes", got, r.Incomplete(), r.Buffered())
	}
	t.Logf("after expiry: heap %.1f MiB", flood.HeapMiB())
}

// Random garbage fragments (bad headers, overlaps, impossible offsets)
// are refused without panicking, and leave no more held than the limits.
func TestReassemblyRandomFragments(t *testing.T) {
	r := NewReassembler(ReassemblyConfig{MaxMessage: 5000})
	now := time.Now()
	buf := make([]byte, 64)
	for i := range 50_000 {
		var f []byte
		switch i % 3 {
		case 0: // random bytes
			_, _ = rand.Read(buf)
			f = buf[:1+i%len(buf)]
		case 1: // a fragment past max-message-size
			f = tinyFragment(t, uint64(i), 1<<20)
		default: // overlapping pieces of one message
			f = tinyFragment(t, 7, i%50)
			f[len(f)-1] = byte(i)
		}
		_, _ = r.Add(uint64(i%4), f, now)
	}
	if r.Buffered() > 4*(1<<20) {
		t.Fatalf("%d bytes held", r.Buffered())
	}
	t.Logf("50000 random fragments: %d incomplete, %d bytes held", r.Incomplete(), r.Buffered())
}

// Half-open DTLS handshakes (real pion ClientHellos) and junk datagrams
// from many addresses at a node's UDP port do not disturb the DTLS link
// that port carries: the Mux routes only the addresses an Attach opened
// (§6.6.6), so unrouted datagrams are counted and dropped without a
// handshake, a goroutine or a buffer each.
func TestMuxHalfOpenDTLSFlood(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	pa, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := NewMux(pa), NewMux(pb)
	defer func() { _ = ma.Close(); _ = mb.Close() }()
	p, errA, errB := muxPair(ctx, ma, mb, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	defer p.close()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	target := ma.LocalAddr()
	baseG := runtime.NumGoroutine()
	before := flood.HeapMiB()

	attackers, junk := 200, 20
	if flood.Big() {
		attackers, junk = 2000, 200
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var sent sync.WaitGroup
	sent.Add(1)
	// Legitimate traffic during the flood, one message every 2 ms; sentN
	// is written by the sender and read after sent.Wait.
	var sentN int
	go func() {
		defer sent.Done()
		pace := time.NewTicker(2 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			if err := p.b.Send(ctx, pingMessage(t, uint64(i), 100, nodeID(1), nodeID(2))); err != nil {
				t.Errorf("legitimate send: %v", err)
				return
			}
			sentN++
			select {
			case <-stop:
				return
			case <-pace.C:
			}
		}
	}()
	var received atomic.Int64
	got := make(chan int, 1)
	go func() {
		for {
			if _, err := p.a.Receive(ctx); err != nil {
				got <- int(received.Load())
				return
			}
			received.Add(1)
		}
	}()
	sem := make(chan struct{}, 32)
	for i := range attackers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Error(err)
				return
			}
			defer pc.Close()
			if i%2 == 0 {
				b := make([]byte, 200)
				for range junk {
					_, _ = rand.Read(b)
					_, _ = pc.WriteTo(b, target)
				}
				return
			}
			c, err := dtls.ClientWithOptions(pc, target, dtls.WithCertificates(*cfgB.Certificate), dtls.WithInsecureSkipVerify(true))
			if err != nil {
				t.Error(err)
				return
			}
			hctx, hcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer hcancel()
			if err := c.HandshakeContext(hctx); err == nil {
				t.Error("a handshake with an unrouted address completed")
			}
			_ = c.Close()
		}()
	}
	wg.Wait()
	during := flood.HeapMiB()
	duringG := runtime.NumGoroutine()
	close(stop)
	sent.Wait()
	// Let the messages still in flight arrive (the link retransmits until
	// it delivers or fails), then end the reader.
	eventually(20*time.Second, func() bool {
		select {
		case <-p.a.Done():
			return true
		default:
			return received.Load() >= int64(sentN)
		}
	})
	_ = p.a.Close()
	legit := <-got
	t.Logf("%d attackers (half DTLS ClientHellos, half %d junk datagrams each): mux dropped %d datagrams; "+
		"%d of %d legitimate messages received during the flood; heap %.1f -> %.1f MiB; goroutines %d -> %d",
		attackers, junk, ma.Dropped(), legit, sentN, before, during, baseG, duringG)
	if legit == 0 {
		t.Fatal("no legitimate message arrived during the flood")
	}
	if ma.Dropped() == 0 {
		t.Fatal("the mux dropped nothing")
	}
}

// Both ends of a TLS link send large messages as fast as they can while
// both read. Once each direction fills the connection's buffers, each
// end's writes can finish only if it goes on reading: the link writes
// from its own goroutine, so that the loop keeps reading (and ACKs fall
// back to the newest one, which covers the rest on a stream). Before,
// the loop wrote itself, and two ends blocked in writes deadlocked.
func TestTLSLinkBidirectionalFlood(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	p, errA, errB := tlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	defer p.close()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	n := 3000
	if flood.Big() {
		n = 20000
	}
	msg := pingMessage(t, 1, 5000, nodeID(1), nodeID(2))
	start := time.Now()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, l := range []*Link{p.a, p.b} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range n {
				if err := l.Send(ctx, msg); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for counts[i] < n {
				if _, err := l.Receive(ctx); err != nil {
					t.Errorf("receive after %d: %v", counts[i], err)
					return
				}
				counts[i]++
			}
		}()
	}
	wg.Wait()
	t.Logf("%d messages of %d bytes each way at once over TLS in %v; received %v; ACK frames received %d/%d",
		n, len(msg), time.Since(start).Round(time.Millisecond), counts, p.a.Stats().Acks, p.b.Stats().Acks)
}

// A TLS server ends a connection whose client has not sent its first
// record within FirstRecordTimeout with ErrNoClientHello, long before the
// handshake's own deadline: one that sends nothing, and one that sends
// part of a record header and stalls. A client that sends its
// ClientHello at once gets its link, and the deadline does not outlive
// the first record: the link carries messages after an idle spell longer
// than FirstRecordTimeout.
func TestTLSFirstRecordTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	const first = 300 * time.Millisecond
	cfgA.FirstRecordTimeout = first
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"silent", nil},
		{"part of a record header", []byte{0x16, 0x03, 0x01}},
		{"header of a record never sent", []byte{0x16, 0x03, 0x01, 0x01, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			// The handshake's own deadline (ctx, 60 s) is far off.
			_, err = NewTLSLink(ctx, s, Requester, wire.NodeID{}, cfgA)
			if !errors.Is(err, ErrNoClientHello) {
				t.Fatalf("handshake with a client that sends no ClientHello: %v, want ErrNoClientHello", err)
			}
		})
	}
	p, errA, errB := tlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	defer p.close()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	// The idle spell past FirstRecordTimeout is what is under test: a real
	// TCP connection's deadline runs on the real clock, so it stays a sleep.
	time.Sleep(3 * first)
	msg := pingMessage(t, 1, 10, nodeID(0xb), nodeID(0xa))
	if err := p.b.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if _, err := p.a.Receive(ctx); err != nil {
		t.Fatalf("the server's link after an idle spell: %v", err)
	}
}
