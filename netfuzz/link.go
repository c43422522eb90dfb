package netfuzz

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"

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
	if d.transport == DTLS {
		return d.dialDTLS(ctx, onMsg)
	}
	return d.dialTLS(ctx, onMsg)
}

func (d *dialer) dialTLS(ctx context.Context, onMsg func([]byte)) (*link, error) {
	raw, err := d.network.DialTCP(ctx, d.target)
	if err != nil {
		return nil, err
	}
	conn := raw
	if d.capture != nil {
		conn = d.capture.Conn(raw, true)
	}
	var chain [][]byte
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{d.cert},
		KeyLogWriter: d.keyLog,
		// The overlay's CA vouches for the target, not the Web PKI; the
		// fuzzer tests the target's message handling, not its certificate
		// (reload conformance checks that).
		InsecureSkipVerify: true, //nolint:gosec // see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				chain = append(chain, c.Raw)
			}
			return nil
		},
	}
	tconn := tls.Client(conn, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return newLink(tconn, true, chain, nil, onMsg, d.writeWait()), nil
}

func (d *dialer) dialDTLS(ctx context.Context, onMsg func([]byte)) (*link, error) {
	raddr, err := net.ResolveUDPAddr("udp", d.target)
	if err != nil {
		return nil, err
	}
	under, err := d.network.ListenUDP(ctx, raddr)
	if err != nil {
		return nil, err
	}
	pc := under
	if d.capture != nil {
		pc = d.capture.PacketConn(under)
	}
	var chain [][]byte
	opts := []dtls.ClientOption{
		dtls.WithInsecureSkipVerify(true), // see dialTLS
		dtls.WithVerifyConnection(func(s *dtls.State) error {
			chain = append(chain, s.PeerCertificates...)
			return nil
		}),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithMTU(transport.DefaultMTU),
		dtls.WithCertificates(d.cert),
	}
	if d.keyLog != nil {
		opts = append(opts, dtls.WithKeyLogWriter(d.keyLog))
	}
	conn, err := dtls.ClientWithOptions(pc, raddr, opts...)
	if err != nil {
		_ = under.Close()
		return nil, err
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		_ = under.Close()
		return nil, fmt.Errorf("DTLS handshake: %w", err)
	}
	return newLink(conn, false, chain, func() { _ = under.Close() }, onMsg, d.writeWait()), nil
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
	var err error
	if l.stream {
		err = l.readStream()
	} else {
		err = l.readDatagrams()
	}
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	close(l.done)
}

func (l *link) readStream() error {
	r := bufio.NewReaderSize(l.c, 32<<10)
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(r, hdr[:5]); err != nil {
			return err
		}
		seq := binary.BigEndian.Uint32(hdr[1:5])
		switch wire.FramedMessageType(hdr[0]) {
		case wire.FrameAck:
			if _, err := io.ReadFull(r, hdr[5:9]); err != nil {
				return err
			}
		case wire.FrameData:
			if _, err := io.ReadFull(r, hdr[5:8]); err != nil {
				return err
			}
			n := int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
			m := make([]byte, n)
			if _, err := io.ReadFull(r, m); err != nil {
				return err
			}
			l.onData(seq, m)
		default:
			return fmt.Errorf("bad frame type %d on the stream", hdr[0])
		}
	}
}

func (l *link) readDatagrams() error {
	buf := make([]byte, 1<<16)
	for {
		n, err := l.c.Read(buf)
		if err != nil {
			return err
		}
		b := buf[:n]
		for len(b) > 0 {
			var fm wire.FramedMessage
			k, err := fm.Decode(b)
			if err != nil {
				break
			}
			b = b[k:]
			if fm.Type == wire.FrameData {
				l.onData(fm.Sequence, append([]byte(nil), fm.Message...))
			}
		}
	}
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
