package netfuzz

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/conformance"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/transport/capture"
	"github.com/goreload/reload/wire"
)

// link is one authenticated framing-level connection to the target: the
// fuzzer's own (D)TLS client speaking FramedMessage (RFC 6940 §6.6.2)
// directly, so that it can write any bytes it likes. It acknowledges the
// target's data frames and hands every message the target sends to onMsg.
type link struct {
	stream     bool
	c          net.Conn
	closeUnder func()
	peerChain  [][]byte

	wmu       sync.Mutex
	nextSeq   uint32
	writeWait time.Duration
	// stalled is set when a write failed: the fuzzer closed the link.
	stalled atomic.Bool

	mu     sync.Mutex
	window transport.AckWindow
	onMsg  func([]byte)
	// acks go out from a goroutine of their own, so that the reader never
	// waits for a write: a target that does not read while we write and
	// that we do not read while it writes would deadlock the link.
	acks    chan []byte
	ackDone chan struct{}

	done     chan struct{}
	err      error
	closed   sync.Once
	readDone chan struct{}
}

// Network opens the sockets the fuzzer uses, so that tests can redirect
// them: the conformance kit's.
type Network = conformance.Network

// SystemNetwork is the Network of the operating system.
type SystemNetwork = conformance.SystemNetwork

// dialer opens links to the target.
type dialer struct {
	target    string
	transport Transport
	cert      tls.Certificate
	timeout   time.Duration
	network   Network
	capture   *capture.Capture // nil: none
	keyLog    io.Writer        // nil: none
}

func (d *dialer) dial(ctx context.Context, onMsg func([]byte)) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	cd := conformance.Dialer{Target: d.target, Transport: d.transport, Network: d.network, Capture: d.capture, KeyLog: d.keyLog}
	c, err := cd.Dial(ctx, &d.cert)
	if err != nil {
		return nil, err
	}
	return newLink(c.Conn, c.Stream, c.Chain, c.CloseUnder, onMsg, d.writeWait()), nil
}

// writeWait bounds a write: twice the answer timeout, at least 5 s.
func (d *dialer) writeWait() time.Duration { return max(2*d.timeout, 5*time.Second) }

func newLink(c net.Conn, stream bool, chain [][]byte, closeUnder func(), onMsg func([]byte), writeWait time.Duration) *link {
	l := &link{stream: stream, c: c, closeUnder: closeUnder, peerChain: chain, onMsg: onMsg, writeWait: writeWait,
		done: make(chan struct{}), readDone: make(chan struct{}),
		acks: make(chan []byte, 256), ackDone: make(chan struct{})}
	go l.reader()
	go l.acker()
	return l
}

// Close closes the link and waits for its goroutines.
func (l *link) Close() {
	l.closed.Do(func() {
		_ = l.c.SetWriteDeadline(time.Now().Add(time.Second))
		_ = l.c.Close()
		if l.closeUnder != nil {
			l.closeUnder()
		}
	})
	<-l.readDone
	<-l.ackDone
}

// acker writes the queued ACKs until the reader ended.
func (l *link) acker() {
	defer close(l.ackDone)
	for {
		select {
		case b := <-l.acks:
			_ = l.write(b)
		case <-l.done:
			return
		}
	}
}

// alive reports whether the link is still open.
func (l *link) alive() bool {
	if l.stalled.Load() {
		return false
	}
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

func (l *link) reader() {
	defer close(l.readDone)
	err := conformance.ReadFrames(l.c, l.stream, func(fm wire.FramedMessage) {
		if fm.Type == wire.FrameData {
			l.onData(fm.Sequence, fm.Message)
		}
	})
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	close(l.done)
}

// onData acknowledges a data frame of the target (§6.6.2) and passes its
// message on.
func (l *link) onData(seq uint32, msg []byte) {
	l.mu.Lock()
	ack := l.window.Ack(seq)
	l.mu.Unlock()
	if b, err := ack.Append(nil); err == nil {
		select {
		case l.acks <- b:
		default: // the link is not writable for now: the ACK is lost
		}
	}
	if l.onMsg != nil {
		l.onMsg(msg)
	}
}

// write writes one record: on TLS a piece of the stream, on DTLS one
// datagram. A write that fails or does not finish within writeWait (the
// target stopped reading) may have left half a record on the stream: the
// link is closed, so that nothing more is sent on it.
func (l *link) write(b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_ = l.c.SetWriteDeadline(time.Now().Add(l.writeWait))
	_, err := l.c.Write(b)
	if err != nil {
		l.stalled.Store(true)
		_ = l.c.Close()
	}
	return err
}

// seq takes the next sequence number of a data frame.
func (l *link) seq() uint32 {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	s := l.nextSeq
	l.nextSeq++
	return s
}

// sendMessage sends msg in a data frame of its own.
func (l *link) sendMessage(msg []byte) error {
	f := wire.FramedMessage{Type: wire.FrameData, Sequence: l.seq(), Message: msg}
	b, err := f.Append(nil)
	if err != nil {
		return err
	}
	return l.write(b)
}
