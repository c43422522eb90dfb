package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Transport is the overlay link protocol the tester speaks to the target.
type Transport string

// Transports: TLS-TCP-FH-NO-ICE (RFC 6940 §6.6.5) and DTLS-UDP-SR-NO-ICE
// (§6.6.6).
const (
	TLS  Transport = "tls"
	DTLS Transport = "dtls"
)

// Network opens the sockets the tester uses. The tester never opens sockets
// by itself, so that tests can watch or redirect them.
type Network interface {
	// DialTCP opens a TCP connection to address.
	DialTCP(ctx context.Context, address string) (net.Conn, error)
	// ListenUDP opens a fresh UDP socket for one DTLS association with
	// raddr.
	ListenUDP(ctx context.Context, raddr *net.UDPAddr) (net.PacketConn, error)
}

// SystemNetwork is the Network of the operating system.
type SystemNetwork struct{}

// DialTCP dials with a net.Dialer.
func (SystemNetwork) DialTCP(ctx context.Context, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", address)
}

// ListenUDP binds an ephemeral port of raddr's family.
func (SystemNetwork) ListenUDP(ctx context.Context, raddr *net.UDPAddr) (net.PacketConn, error) {
	var lc net.ListenConfig
	network := "udp4"
	if raddr.IP.To4() == nil {
		network = "udp6"
	}
	return lc.ListenPacket(ctx, network, ":0")
}

// dataRecord is one data frame the target sent.
type dataRecord struct {
	seq uint32
	msg []byte
	at  time.Time
}

// ackRecord is one ACK frame the target sent.
type ackRecord struct {
	f  wire.FramedMessage
	at time.Time
}

// frameConn is a framing-level connection to the target: the tester's own
// (D)TLS client speaking FramedMessage directly (RFC 6940 §6.6.2), so that
// it can choose its sequence numbers, withhold ACKs and see every frame the
// target sends.
type frameConn struct {
	id         uint64 // distinguishes connections for reassembly
	stream     bool
	c          net.Conn
	closeUnder func()
	peerChain  [][]byte
	// signer is the identity the link was opened with when it is not the
	// tester's first one (ownLink); requests on it are signed with it.
	signer *security.Identity

	wmu sync.Mutex // one frame written at a time

	mu       sync.Mutex
	nextSeq  uint32
	sentSeqs []uint32        // our data frames, in order, retransmissions included
	skipped  map[uint32]bool // sequence numbers used but never sent
	sentAt   map[uint32]time.Time
	acks     []ackRecord
	data     []dataRecord
	autoAck  bool
	window   transport.AckWindow
	lastAck  time.Time
	ackNote  chan struct{}
	inbox    chan dataRecord
	done     chan struct{}
	err      error
	closed   sync.Once
	readDone chan struct{}
}

// dial opens a framing-level connection to the target with cert as the
// tester's certificate (nil: none).
func (r *runner) dial(ctx context.Context, cert *tls.Certificate) (*frameConn, error) {
	dctx, cancel := context.WithTimeout(ctx, r.o.Timeout*3)
	defer cancel()
	d := Dialer{Target: r.o.Target, Transport: r.o.Transport, Network: r.o.Network, Capture: r.o.Capture, KeyLog: r.o.KeyLog}
	c, err := d.Dial(dctx, cert)
	if err != nil {
		return nil, err
	}
	fc := newFrameConn(c.Conn, c.Stream, c.Chain, c.CloseUnder)
	r.conns++
	fc.id = r.conns
	return fc, nil
}

func newFrameConn(c net.Conn, stream bool, chain [][]byte, closeUnder func()) *frameConn {
	f := &frameConn{
		stream: stream, c: c, closeUnder: closeUnder, peerChain: chain,
		skipped: make(map[uint32]bool), sentAt: make(map[uint32]time.Time),
		autoAck: true, ackNote: make(chan struct{}, 1), inbox: make(chan dataRecord, 1024),
		done: make(chan struct{}), readDone: make(chan struct{}),
	}
	go f.reader()
	return f
}

// Close closes the connection and waits for its reader.
func (f *frameConn) Close() {
	f.closed.Do(func() {
		_ = f.c.Close()
		if f.closeUnder != nil {
			f.closeUnder()
		}
	})
	<-f.readDone
}

// Done is closed when the connection ended.
func (f *frameConn) Done() <-chan struct{} { return f.done }

// Err is why the connection ended.
func (f *frameConn) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *frameConn) reader() {
	defer close(f.readDone)
	err := ReadFrames(f.c, f.stream, f.onFrame)
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	close(f.done)
}

func (f *frameConn) onFrame(fm wire.FramedMessage) {
	now := time.Now()
	switch fm.Type {
	case wire.FrameAck:
		f.mu.Lock()
		f.acks = append(f.acks, ackRecord{f: fm, at: now})
		f.lastAck = now
		f.mu.Unlock()
		select {
		case f.ackNote <- struct{}{}:
		default:
		}
	case wire.FrameData:
		rec := dataRecord{seq: fm.Sequence, msg: fm.Message, at: now}
		f.mu.Lock()
		f.data = append(f.data, rec)
		auto := f.autoAck
		var ack wire.FramedMessage
		if auto {
			ack = f.window.Ack(fm.Sequence)
		}
		f.mu.Unlock()
		if auto {
			_ = f.writeFrame(&ack)
		}
		select {
		case f.inbox <- rec:
		default: // nobody is reading: the record stays in f.data
		}
	}
}

// setAutoAck turns the acknowledgement of the target's data frames on or
// off.
func (f *frameConn) setAutoAck(on bool) {
	f.mu.Lock()
	f.autoAck = on
	f.mu.Unlock()
}

// ack acknowledges seq now.
func (f *frameConn) ack(seq uint32) error {
	f.mu.Lock()
	a := f.window.Ack(seq)
	f.mu.Unlock()
	return f.writeFrame(&a)
}

func (f *frameConn) writeFrame(fm *wire.FramedMessage) error {
	b, err := fm.Append(nil)
	if err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_, err = f.c.Write(b)
	return err
}

// skipSeq uses up one sequence number without sending anything, as if the
// frame had been lost on the way (datagram links only).
func (f *frameConn) skipSeq() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.nextSeq
	f.nextSeq++
	f.skipped[s] = true
	return s
}

// acked reports whether the target acknowledged seq.
func (f *frameConn) acked(seq uint32) (ackRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.acks {
		if a.f.Sequence == seq {
			return a, true
		}
	}
	return ackRecord{}, false
}

// waitAck waits until the target acknowledged seq or d passed.
func (f *frameConn) waitAck(seq uint32, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if _, ok := f.acked(seq); ok {
			return true
		}
		select {
		case <-f.ackNote:
		case <-t.C:
			_, ok := f.acked(seq)
			return ok
		case <-f.done:
			_, ok := f.acked(seq)
			return ok
		}
	}
}

// errUnacked reports a message the target never acknowledged.
var errUnacked = errors.New("no ACK")

// send sends msg in a data frame. On a datagram link it is the
// stop-and-wait sender of RFC 6940 §6.6.3.1: it waits for the ACK, sends
// again under a new sequence number after 500 ms, 1 s, 2 s, and waits 10 ms
// after an ACK before a new message. It returns the sequence numbers used.
func (f *frameConn) send(msg []byte) ([]uint32, error) {
	if !f.stream {
		f.mu.Lock()
		wait := time.Until(f.lastAck.Add(10 * time.Millisecond))
		f.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait)
		}
	}
	var seqs []uint32
	rto := 500 * time.Millisecond
	for range 4 {
		f.mu.Lock()
		s := f.nextSeq
		f.nextSeq++
		f.sentSeqs = append(f.sentSeqs, s)
		f.sentAt[s] = time.Now()
		f.mu.Unlock()
		seqs = append(seqs, s)
		if err := f.writeFrame(&wire.FramedMessage{Type: wire.FrameData, Sequence: s, Message: msg}); err != nil {
			return seqs, err
		}
		if f.stream {
			return seqs, nil
		}
		for _, q := range seqs {
			if f.waitAck(q, 0) {
				return seqs, nil
			}
		}
		if f.waitAck(s, rto) {
			return seqs, nil
		}
		for _, q := range seqs {
			if _, ok := f.acked(q); ok {
				return seqs, nil
			}
		}
		rto *= 2
	}
	return seqs, errUnacked
}

// next returns the next data frame from the target, or false when d passed
// or the connection ended.
func (f *frameConn) next(d time.Duration) (dataRecord, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case rec := <-f.inbox:
		return rec, true
	case <-t.C:
	case <-f.done:
		// Frames may still be queued.
		select {
		case rec := <-f.inbox:
			return rec, true
		default:
		}
	}
	return dataRecord{}, false
}

// drain discards the queued data frames.
func (f *frameConn) drain() {
	for {
		select {
		case <-f.inbox:
		default:
			return
		}
	}
}

// snapshot copies what the connection recorded.
func (f *frameConn) snapshot() (sent []uint32, skipped map[uint32]bool, acks []ackRecord, data []dataRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sk := make(map[uint32]bool, len(f.skipped))
	for k, v := range f.skipped {
		sk[k] = v
	}
	return append([]uint32(nil), f.sentSeqs...), sk, append([]ackRecord(nil), f.acks...), append([]dataRecord(nil), f.data...)
}

// nextBefore waits until deadline for the target's next data frame on f:
// ok is false with a nil error when none came in time, with an error when
// the connection ended.
func (f *frameConn) nextBefore(deadline time.Time) (rec dataRecord, ok bool, err error) {
	d := time.Until(deadline)
	if d <= 0 {
		return dataRecord{}, false, nil
	}
	if rec, ok = f.next(d); ok {
		return rec, true, nil
	}
	select {
	case <-f.Done():
		return dataRecord{}, false, fmt.Errorf("connection closed: %v", f.Err())
	default:
	}
	return dataRecord{}, false, nil
}
