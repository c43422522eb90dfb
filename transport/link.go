package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/wire"
)

// LinkType is the OverlayLinkType of RFC 6940 §6.5.1.1 (IANA "RELOAD
// Overlay Link Types").
type LinkType uint8

// Overlay link types.
const (
	LinkDTLSUDPSR      LinkType = 1 // DTLS-UDP-SR (§6.6.4), with ICE
	LinkDTLSUDPSRNoICE LinkType = 3 // DTLS-UDP-SR-NO-ICE (§6.6.6)
	LinkTLSTCPFHNoICE  LinkType = 4 // TLS-TCP-FH-NO-ICE (§6.6.5)
)

func (t LinkType) String() string {
	switch t {
	case LinkDTLSUDPSR:
		return "DTLS-UDP-SR"
	case LinkDTLSUDPSRNoICE:
		return "DTLS-UDP-SR-NO-ICE"
	case LinkTLSTCPFHNoICE:
		return "TLS-TCP-FH-NO-ICE"
	}
	return "LinkType(" + strconv.Itoa(int(t)) + ")"
}

// Role is a node's side of the Attach that set the link up (§6.5.1.9,
// §6.5.1.13).
type Role uint8

// Roles.
const (
	// Requester sent the Attach request: it is ICE-controlling and the
	// (D)TLS server, and requests client authentication.
	Requester Role = 1
	// Responder sent the Attach answer: ICE-controlled and (D)TLS client.
	Responder Role = 2
)

func (r Role) String() string {
	switch r {
	case Requester:
		return "requester"
	case Responder:
		return "responder"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// PeerVerifier checks the certificate chain a peer presented in the (D)TLS
// handshake (leaf first) against the overlay's enrollment authority and
// returns the Node-IDs the leaf certificate binds (RFC 6940 §11.3,
// §13.2.1). The security package provides the real one.
type PeerVerifier interface {
	VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error)
}

// Authentication errors.
var (
	ErrNoCertificate  = errors.New("transport: peer sent no certificate")
	ErrNodeIDMismatch = errors.New("transport: peer certificate does not carry the expected Node-ID")
	ErrNoNodeID       = errors.New("transport: peer certificate carries no Node-ID")
)

// Config is what every link needs: the local identity, how to check the
// peer's, and the link parameters. Zero fields take defaults.
type Config struct {
	// Certificate is this node's certificate chain and private key.
	Certificate *tls.Certificate
	// Verifier checks the peer's chain and extracts its Node-IDs.
	Verifier PeerVerifier
	// KeyLogWriter receives the (D)TLS secrets in NSS key log format for
	// Wireshark. When nil, the file named by SSLKEYLOGFILE is used, if set.
	// Links may share one writer: the transport serialises their writes.
	KeyLogWriter io.Writer
	// Reliability tunes the sender.
	Reliability ReliabilityConfig
	// MTU is, on DTLS links, the largest UDP payload to send (1200);
	// larger RELOAD messages are fragmented (§6.7).
	MTU int
	// MaxMessageSize bounds an incoming framed message (the overlay's
	// max-message-size); a larger one closes the link (§6.6). Default
	// 2^24-1, the framing limit.
	MaxMessageSize int
	// NoICEKeepalive is, on DTLS-UDP-SR-NO-ICE links, the idle time after
	// which the sender sends an empty DATA frame (default
	// DefaultNoICEKeepalive; negative: none). Reliability.Keepalive, when
	// set, is used instead, on every link type.
	NoICEKeepalive time.Duration
	// RecvQueue bounds the received messages waiting for Receive (256).
	RecvQueue int
	// HandshakeTimeout bounds the (D)TLS handshake when ctx has no
	// deadline (30 s).
	HandshakeTimeout time.Duration
	// FirstRecordTimeout bounds, on a TLS link where this node is the
	// server, the wait for the client's first TLS record (its
	// ClientHello) once the connection is open: a connection that has
	// not delivered it by then is closed with ErrNoClientHello (default
	// DefaultFirstRecordTimeout). A connection that sends nothing holds
	// a pending handshake that long at most, not the whole
	// HandshakeTimeout.
	FirstRecordTimeout time.Duration
	// Counters, when set, add up the handshakes, link ends, frames and
	// retransmissions of every link made with this Config.
	Counters *Counters
	// Logger receives the links' events: handshakes and link ends (nil:
	// nothing is logged).
	Logger *slog.Logger
	// Observer, when set, is told of every frame each link sends and
	// receives (a conformance monitor; see LinkObserver).
	Observer LinkObserver
}

// Defaults for Config.
const (
	DefaultMTU       = 1200
	DefaultRecvQueue = 256
	// DefaultFirstRecordTimeout is Config.FirstRecordTimeout's default:
	// a client sends its ClientHello right after the TCP handshake, so
	// one round trip suffices; 3 s leaves room for slow paths.
	DefaultFirstRecordTimeout = 3 * time.Second
	// DefaultNoICEKeepalive is Config.NoICEKeepalive's default. A
	// DTLS-UDP-SR-NO-ICE link has no STUN keepalives (RFC 6940 §6.6.6),
	// unlike DTLS-UDP-SR with ICE (§6.5.1.10.3, RFC 8445 §11), and the
	// overlay's own traffic on a link may pause for minutes (CHORD
	// Updates "about every ten minutes" by default, §10.7.4.1; finger
	// Pings at most hourly, §10.7.4.2), longer than UDP NAT bindings
	// last (RFC 4787 REQ-5 asks for 2 minutes at least; many NATs keep
	// less). So an idle link sends an empty DATA frame, which Simple
	// Reliability's receiver acknowledges like any other (§6.6.3): it
	// refreshes the bindings both ways, and its missing ACK declares a
	// dead link failed as a lost message would (§6.6.3.1), in seconds
	// rather than at the next Update. 15 s is ICE's keepalive interval
	// Tr, which RFC 8445 §11 also makes the shortest allowed: the rate
	// at which ICE would have sent STUN keepalives on such a link.
	// TLS-TCP-FH-NO-ICE links have none: TCP NAT bindings last hours
	// (RFC 5382 REQ-5) and the framing header's RTT timeout watches the
	// traffic there is (§6.6.5).
	DefaultNoICEKeepalive = 15 * time.Second
	// dtlsOverhead is the most a DTLS 1.2 record adds to its payload with
	// the AEAD suites pion offers (13 header + 8 nonce + 16 tag), rounded
	// up for CBC suites.
	dtlsOverhead  = 64
	frameOverhead = 8
)

func (c *Config) mtu() int {
	if c.MTU > 0 {
		return c.MTU
	}
	return DefaultMTU
}

func (c *Config) maxMessage() int {
	if c.MaxMessageSize > 0 && c.MaxMessageSize < 1<<24 {
		return c.MaxMessageSize
	}
	return 1<<24 - 1
}

func (c *Config) check() error {
	if c == nil || c.Certificate == nil || c.Verifier == nil {
		return errors.New("transport: Config needs Certificate and Verifier")
	}
	return nil
}

var (
	keyLogOnce sync.Once
	keyLogFile io.Writer
)

// keyLog returns the configured key log writer or the SSLKEYLOGFILE one,
// with its writes serialised.
func (c *Config) keyLog() io.Writer {
	if c.KeyLogWriter != nil {
		return lockedKeyLog{c.KeyLogWriter}
	}
	keyLogOnce.Do(func() {
		if name := os.Getenv("SSLKEYLOGFILE"); name != "" {
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err == nil {
				keyLogFile = lockedKeyLog{f}
			}
		}
	})
	return keyLogFile
}

// keyLogMu serialises the key log writes of all links: handshakes run
// concurrently and links share one writer (a node's, or SSLKEYLOGFILE's).
// A handshake writes a few lines, so one lock for every writer costs
// nothing that matters.
var keyLogMu sync.Mutex

type lockedKeyLog struct{ w io.Writer }

func (l lockedKeyLog) Write(p []byte) (int, error) {
	keyLogMu.Lock()
	defer keyLogMu.Unlock()
	return l.w.Write(p)
}

// verifyChain parses the raw chain, runs the verifier and checks the
// expected Node-ID (zero: any).
func verifyChain(v PeerVerifier, raw [][]byte, expect wire.NodeID) ([]wire.NodeID, error) {
	if len(raw) == 0 {
		return nil, ErrNoCertificate
	}
	chain := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return nil, fmt.Errorf("transport: peer certificate %d: %w", i, err)
		}
		chain[i] = c
	}
	ids, err := v.VerifyPeer(chain)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, ErrNoNodeID
	}
	if expect.IsZero() {
		return ids, nil
	}
	for _, id := range ids {
		if id.Compare(expect) == 0 {
			return ids, nil
		}
	}
	return nil, fmt.Errorf("%w: want %v, have %v", ErrNodeIDMismatch, expect, ids)
}

// frameIO reads and writes frames on the secured connection.
type frameIO interface {
	// read returns the next frame; data frame messages are owned by the
	// caller.
	read() (wire.FramedMessage, error)
	write(b []byte) error
}

// streamIO frames a TLS byte stream (§6.6.5).
type streamIO struct {
	c   net.Conn
	r   *bufio.Reader
	max int

	// tooLarge, once set, is the error the link ends with: a frame
	// larger than max arrived, whose head was handed up so that the
	// request can be answered with Error_Message_Too_Large before the
	// link closes (RFC 6940 §6.6).
	tooLarge error
	closing  <-chan struct{} // the link's; ends the wait for the answer

	hdr [9]byte // a frame's header; here, not on the stack, where it would escape to io.ReadFull
}

// tooLargeHead is how much of a frame larger than max-message-size is
// read and handed up: enough for the forwarding header (§6.3.2) and the
// message code that follows it, so that the receiver can answer.
const tooLargeHead = 2048

// TooLargeGrace is how long a TLS link that received a frame larger than
// its limit stays open for the Error_Message_Too_Large answer to go out
// before it closes (RFC 6940 §6.6: send the error, then close).
var TooLargeGrace = time.Second

func (s *streamIO) read() (wire.FramedMessage, error) {
	if s.tooLarge != nil {
		// The head of the oversized frame was handed up; give the
		// answer time to go out, then end the link (the rest of the
		// frame is never read).
		t := time.NewTimer(TooLargeGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.closing:
		}
		return wire.FramedMessage{}, s.tooLarge
	}
	hdr := s.hdr[:]
	if _, err := io.ReadFull(s.r, hdr[:5]); err != nil {
		return wire.FramedMessage{}, err
	}
	seq := binary.BigEndian.Uint32(hdr[1:5])
	switch wire.FramedMessageType(hdr[0]) {
	case wire.FrameAck:
		if _, err := io.ReadFull(s.r, hdr[5:9]); err != nil {
			return wire.FramedMessage{}, err
		}
		return wire.FramedMessage{Type: wire.FrameAck, Sequence: seq, Received: binary.BigEndian.Uint32(hdr[5:9])}, nil
	case wire.FrameData:
		if _, err := io.ReadFull(s.r, hdr[5:8]); err != nil {
			return wire.FramedMessage{}, err
		}
		n := int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
		if n > s.max {
			// §6.6: the peer SHOULD send Error_Message_Too_Large and then
			// close; the error "can be sent and the session closed
			// before the peer receives the complete message". Hand up
			// the head of the message (its forwarding header says the
			// whole length), and end the link after the grace period.
			s.tooLarge = fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, n)
			head := make([]byte, min(n, tooLargeHead))
			if _, err := io.ReadFull(s.r, head); err != nil {
				return wire.FramedMessage{}, err
			}
			return wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: head}, nil
		}
		m := make([]byte, n)
		if _, err := io.ReadFull(s.r, m); err != nil {
			return wire.FramedMessage{}, err
		}
		return wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: m}, nil
	}
	return wire.FramedMessage{}, fmt.Errorf("transport: bad frame type %d: %w", hdr[0], wire.ErrInvalid)
}

func (s *streamIO) write(b []byte) error {
	_, err := s.c.Write(b)
	return err
}

// datagramIO frames DTLS records: each record carries frames (§6.6.4).
type datagramIO struct {
	c       net.Conn
	buf     []byte
	pending []byte // frames left in the last record
	max     int
}

func (d *datagramIO) read() (wire.FramedMessage, error) {
	for {
		if len(d.pending) > 0 {
			var f wire.FramedMessage
			n, err := f.Decode(d.pending)
			if err != nil {
				d.pending = nil // a malformed record is dropped whole
				continue
			}
			d.pending = d.pending[n:]
			if f.Type == wire.FrameData {
				if len(f.Message) > d.max {
					continue
				}
				f.Message = append([]byte(nil), f.Message...)
			}
			return f, nil
		}
		n, err := d.c.Read(d.buf)
		if err != nil {
			return wire.FramedMessage{}, err
		}
		d.pending = d.buf[:n]
	}
}

func (d *datagramIO) write(b []byte) error {
	_, err := d.c.Write(b)
	return err
}

// Link is an authenticated overlay link to one neighbour (RFC 6940 §6.6).
// It frames, acknowledges and (on DTLS) retransmits messages, fragments
// messages larger than the link MTU, and hands received messages up
// unchanged; fragments are handed up as they are, for the destination to
// reassemble (§6.7).
//
// All methods are safe for concurrent use.
type Link struct {
	typ     LinkType
	role    Role
	peer    []wire.NodeID
	using   atomic.Pointer[wire.NodeID] // which of peer the peer runs as, once known
	conn    net.Conn
	io      frameIO
	maxMsg  int // largest message sent in one frame; 0 for no limit
	onClose func()

	sendc   chan []byte
	recvc   chan []byte
	closing chan struct{}
	done    chan struct{}
	closeMu sync.Once
	wg      sync.WaitGroup

	err     atomic.Pointer[error]
	suspect atomic.Bool
	wfree   chan []byte // DTLS: written frames' buffers, for the loop to reuse
	statsMu sync.Mutex  // guards stats, a DTLS link's copy of its loop's counts
	stats   LinkStats
	ctr     *Counters
	log     *slog.Logger
	icePair atomic.Pointer[[2]Candidate] // ICE links: the selected pair (ice.go)
	since   time.Time

	st *streamState // stream links (stream.go); nil on datagram links

	obs FrameObserver // nil unless Config.Observer gave one
}

// LinkStats counts a link's traffic.
type LinkStats struct {
	SenderStats
	Received uint64        // data frames received
	RTO      time.Duration // current RTO
	SRTT     time.Duration // smoothed RTT (RFC 6298 §2), zero before the first sample
}

// linkParams are what the constructors decide for newLink.
type linkParams struct {
	typ     LinkType
	role    Role
	peer    []wire.NodeID
	expect  wire.NodeID // the Node-ID the peer was dialled or attached as; zero: none
	conn    net.Conn
	io      frameIO
	stream  bool
	maxMsg  int
	seedRTT time.Duration
	onClose func()
}

func newLink(p linkParams, cfg *Config) *Link {
	q := cfg.RecvQueue
	if q <= 0 {
		q = DefaultRecvQueue
	}
	l := &Link{
		typ:     p.typ,
		role:    p.role,
		peer:    p.peer,
		conn:    p.conn,
		io:      p.io,
		maxMsg:  p.maxMsg,
		onClose: p.onClose,
		sendc:   make(chan []byte, sendBuffer),
		recvc:   make(chan []byte, q),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		ctr:     cfg.Counters,
		log:     cfg.logger(),
		since:   time.Now(),
	}
	switch {
	case !p.expect.IsZero():
		id := p.expect
		l.using.Store(&id)
	case len(p.peer) == 1:
		l.using.Store(&l.peer[0])
	}
	if sio, ok := p.io.(*streamIO); ok {
		sio.closing = l.closing
	}
	if cfg.Observer != nil {
		l.obs = cfg.Observer.ObserveLink(l)
	}
	l.ctr.handshake(p.typ, nil)
	l.logUp()
	s := NewSender(cfg.Reliability, p.stream, time.Now())
	s.SeedRTT(p.seedRTT)
	if p.stream {
		l.startStream(s)
		return l
	}
	// On a datagram link the reader reads ahead, so that the loop can
	// acknowledge a batch of frames at once (see thinAcks).
	inc := make(chan wire.FramedMessage, readAhead)
	rerr := make(chan error, 1)
	wq := make(chan []byte, writeQueue)
	l.wfree = make(chan []byte, writeQueue)
	wrote := make(chan struct{}, 1)
	werr := make(chan error, 1)
	l.wg.Add(3)
	go l.reader(inc, rerr)
	go l.writer(wq, wrote, werr)
	go l.loop(s, inc, rerr, q, wq, wrote, werr)
	return l
}

// sendBuffer is how many messages a DTLS link holds for its loop beyond
// its QueueLimit: a loop busy for a moment does not make TrySend refuse,
// and one that stopped taking messages (the queue full) fills it at once.
const sendBuffer = 64

// writeQueue is the number of encoded frames waiting for the writer.
const writeQueue = 16

// maxKeptFrameBuffer is the largest frame buffer a DTLS link keeps for
// reuse: a datagram's worth (frames are at most the MTU).
const maxKeptFrameBuffer = 1 << 16

// readAhead is the number of frames a DTLS link's reader may read ahead
// of the loop.
const readAhead = 32

// thinAcks drops the ACKs that the newest one covers: its received map
// (§6.6.2) says those frames arrived. A DTLS link's loop takes every
// data frame that is already read in one batch and acknowledges the
// batch with one ACK, still at once (QUIC does the same, RFC 9000
// §13.2.2); a sender that keeps one message in flight, as stop-and-wait
// does, never has two frames in one batch, and the windowed sender reads
// the received map. Halving the records a stream of messages costs the
// receiver is what lets a link come near a bare DTLS stream.
func thinAcks(acks []wire.FramedMessage) []wire.FramedMessage {
	if len(acks) < 2 {
		return acks
	}
	newest := acks[len(acks)-1]
	j := 0
	for _, a := range acks[:len(acks)-1] {
		d := newest.Sequence - a.Sequence
		if d == 0 || (d <= 32 && newest.Received&(1<<(d-1)) != 0) {
			continue
		}
		acks[j] = a
		j++
	}
	acks[j] = newest
	clear(acks[j+1:])
	return acks[:j+1]
}

// Type is the overlay link type.
func (l *Link) Type() LinkType { return l.typ }

// Role is this node's side of the link: Requester for the (D)TLS server,
// Responder for the (D)TLS client.
func (l *Link) Role() Role { return l.role }

// Since is when the link was established (its handshake done).
func (l *Link) Since() time.Time { return l.since }

// PeerNodeIDs are the Node-IDs in the peer's authenticated certificate.
func (l *Link) PeerNodeIDs() []wire.NodeID { return append([]wire.NodeID(nil), l.peer...) }

// PeerNodeID is the Node-ID the peer runs as: the only one of its
// certificate, the one it was dialled or Attached as, or the one
// BindPeerNodeID learned. Until then (a certificate with several
// Node-IDs on a link that no Attach set up) it is the first of
// PeerNodeIDs, and PeerKnown is false.
func (l *Link) PeerNodeID() wire.NodeID {
	if p := l.using.Load(); p != nil {
		return *p
	}
	return l.peer[0]
}

// PeerKnown reports whether PeerNodeID is known to be the Node-ID the
// peer runs as. RFC 6940 §6.1.2: a node whose certificate has several
// Node-IDs makes the one it uses known by an Attach (or a Ping, §4.2.1).
func (l *Link) PeerKnown() bool { return l.using.Load() != nil }

// ErrNodeIDNotInPeerCert is BindPeerNodeID's error for a Node-ID the
// peer's certificate does not carry, or a second, different one.
var ErrNodeIDNotInPeerCert = errors.New("transport: Node-ID not in the peer's certificate, or another one already bound")

// BindPeerNodeID records that the peer runs as id, one of its
// certificate's Node-IDs, once learned from a message the peer signed as
// id. Binding the Node-ID it is already bound to is a no-op.
func (l *Link) BindPeerNodeID(id wire.NodeID) error {
	if !slices.ContainsFunc(l.peer, func(p wire.NodeID) bool { return p.Compare(id) == 0 }) {
		return ErrNodeIDNotInPeerCert
	}
	if l.using.CompareAndSwap(nil, &id) {
		return nil
	}
	if l.PeerNodeID().Compare(id) == 0 {
		return nil
	}
	return ErrNodeIDNotInPeerCert
}

// LocalAddr and RemoteAddr are the addresses of the underlying connection.
func (l *Link) LocalAddr() net.Addr { return l.conn.LocalAddr() }

// RemoteAddr is the peer's address.
func (l *Link) RemoteAddr() net.Addr { return l.conn.RemoteAddr() }

// MaxFrameMessage is the largest message sent without fragmentation, 0
// when the link does not fragment (TLS).
func (l *Link) MaxFrameMessage() int { return l.maxMsg }

// Done is closed when the link has failed or was closed.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err is why the link ended: ErrClosed after Close, ErrLinkFailed when
// the peer stopped acknowledging, or the connection's error. It is nil
// while the link is up.
func (l *Link) Err() error {
	if p := l.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Suspect reports the early-failure signal of §6.6.3.1 (DTLS) or an
// unacknowledged frame older than the RTO (TLS, §6.6.5): the routing layer
// should stop using the link until it clears.
func (l *Link) Suspect() bool { return l.suspect.Load() }

// Stats returns the link's counters.
func (l *Link) Stats() LinkStats {
	if st := l.st; st != nil {
		st.mu.Lock()
		ls := LinkStats{SenderStats: st.s.Stats(), RTO: st.s.RTO(), SRTT: st.s.SRTT()}
		st.mu.Unlock()
		ls.Received = st.received.Load()
		return ls
	}
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	return l.stats
}

// Send queues one RELOAD message for the peer. A message larger than the
// link allows in one frame is split into fragments (§6.7). Send returns
// once the message is queued; delivery failure ends the link (see Done
// and Err). Send does not keep msg.
func (l *Link) Send(ctx context.Context, msg []byte) error { return l.send(ctx, msg, nil, false) }

// SendParts is Send of head followed by rest, one message, without
// joining the two first: a forwarding peer holds a message in transit as
// a new header and the rest of what it received. A TLS link frames both
// straight into its write buffer, the one copy between the caller and
// the socket; a DTLS link joins them into the one copy it keeps for
// retransmission. Like Send, it keeps neither.
func (l *Link) SendParts(ctx context.Context, head, rest []byte) error {
	return l.send(ctx, head, rest, false)
}

// send queues head followed by rest as one message, fragmented when it
// is larger than one frame may carry. With try it never waits for room
// (TrySend): ctx is then the ended context, and a full queue is
// ErrQueueFull.
func (l *Link) send(ctx context.Context, head, rest []byte, try bool) error {
	n := len(head) + len(rest)
	if l.maxMsg <= 0 || n <= l.maxMsg {
		if l.st != nil {
			return queueFull(l.sendStreamParts(ctx, head, rest), try)
		}
		return l.enqueue(ctx, append(append(make([]byte, 0, n), head...), rest...), try)
	}
	msg := head
	if len(rest) > 0 {
		msg = append(append(make([]byte, 0, n), head...), rest...)
	}
	frags, err := Fragment(msg, l.maxMsg-fragmentHeadroom)
	if err != nil {
		return err
	}
	for _, f := range frags {
		if err := l.enqueue(ctx, f, try); err != nil {
			return err
		}
	}
	return nil
}

// enqueue hands m, which the link may keep, to the link: with try
// without waiting (a DTLS link's loop takes messages through a buffered
// channel, which fills only once the loop stops taking them at its
// QueueLimit).
func (l *Link) enqueue(ctx context.Context, m []byte, try bool) error {
	if l.st != nil {
		return queueFull(l.sendStream(ctx, m), try)
	}
	// An ended link refuses, even when sendc (buffered) has room.
	select {
	case <-l.done:
		return l.Err()
	default:
	}
	if try {
		select {
		case l.sendc <- m:
			return nil
		default:
			return ErrQueueFull
		}
	}
	select {
	case l.sendc <- m:
		return nil
	case <-l.done:
		return l.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receive returns the next message from the peer: a whole message, or a
// fragment to give to a Reassembler at the destination.
func (l *Link) Receive(ctx context.Context) ([]byte, error) {
	select {
	case m := <-l.recvc:
		return m, nil
	case <-l.done:
		// drain what arrived before the end
		select {
		case m := <-l.recvc:
			return m, nil
		default:
		}
		return nil, l.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes the link and waits for its goroutines.
func (l *Link) Close() error {
	l.closeMu.Do(func() { close(l.closing) })
	<-l.done
	return nil
}

func (l *Link) setErr(err error) {
	l.err.CompareAndSwap(nil, &err)
}

// finish ends the link with final: the goroutine that ends it calls it
// last. Done closes once the others have returned too.
func (l *Link) finish(final error) {
	l.setErr(final)
	if st := l.st; st != nil {
		st.mu.Lock()
		st.s.Fail(final) // Send fails from now on
		st.mu.Unlock()
	}
	l.ctr.closed(l.typ, final)
	l.logEnd(final)
	l.closeMu.Do(func() { close(l.closing) })
	_ = l.conn.Close()
	l.wg.Done()
	go func() {
		l.wg.Wait()
		if l.onClose != nil {
			l.onClose()
		}
		close(l.done)
	}()
}

// readFrame reads the peer's next frame and shows it to the observer.
func (l *Link) readFrame() (wire.FramedMessage, error) {
	f, err := l.io.read()
	if err == nil && l.obs != nil {
		l.obs.FrameReceived(f)
	}
	return f, err
}

// readErr is the error a link ends with when its reader fails.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("transport: peer closed the link: %w", err)
	}
	return err
}

func (l *Link) reader(inc chan<- wire.FramedMessage, rerr chan<- error) {
	defer l.wg.Done()
	for {
		f, err := l.readFrame()
		if err != nil {
			rerr <- err
			return
		}
		// A data frame's message goes straight to Receive, its
		// sequence number to the loop for the ACK. When Receive is
		// behind, the ACK goes first: it need not wait for room.
		var m []byte
		if f.Type == wire.FrameData && len(f.Message) > 0 {
			m, f.Message = f.Message, nil
			select {
			case l.recvc <- m:
				m = nil
			default:
			}
		}
		select {
		case inc <- f:
		case <-l.closing:
			return
		}
		if m != nil {
			select {
			case l.recvc <- m:
			case <-l.closing:
				return
			}
		}
	}
}

// writer writes the frames the loop encoded, so that a peer that does not
// read cannot stop the loop from reading: when both ends write more than
// the connection holds, each must go on reading for the other's writes to
// finish. It reports each write on wrote and the first error on werr.
func (l *Link) writer(wq <-chan []byte, wrote chan<- struct{}, werr chan<- error) {
	defer l.wg.Done()
	for b := range wq {
		if err := l.io.write(b); err != nil {
			werr <- err
			for range wq { // until the loop closes it
			}
			return
		}
		// The DTLS connection keeps nothing of what it was given to
		// write: the loop may encode the next frame into it.
		if cap(b) <= maxKeptFrameBuffer {
			select {
			case l.wfree <- b[:0]:
			default:
			}
		}
		select {
		case wrote <- struct{}{}:
		default:
		}
	}
}

// loop owns a datagram link's sender and ACK window; it hands every
// frame to the writer. The reader hands received messages to Receive
// itself and only the frames' sequence numbers to the loop.
func (l *Link) loop(s *Sender, inc <-chan wire.FramedMessage, rerr <-chan error, recvLimit int,
	wq chan<- []byte, wrote <-chan struct{}, werr <-chan error) {
	var (
		win   AckWindow
		acks  []wire.FramedMessage // ACKs not yet handed to the writer
		timer = time.NewTimer(time.Hour)
		st    LinkStats
		final error
	)
	defer func() {
		timer.Stop()
		close(wq)
		l.finish(final)
	}()
	// write hands f to the writer; the caller checks that wq has room.
	write := func(f *wire.FramedMessage) error {
		var buf []byte
		select {
		case buf = <-l.wfree:
		default:
		}
		if l.obs != nil {
			l.obs.FrameSent(*f)
		}
		b, err := f.Append(buf)
		if err != nil {
			return err
		}
		wq <- b
		return nil
	}
	// A stop-and-wait link acknowledges every frame on its own, as
	// §6.6.2 describes, for interoperability experiments.
	batch := s.Algorithm() != SenderStopAndWait
	take := func(f wire.FramedMessage) {
		switch f.Type {
		case wire.FrameData:
			st.Received++
			l.ctr.received()
			acks = append(acks, win.Ack(f.Sequence))
		case wire.FrameAck:
			s.OnAck(f, time.Now())
		}
	}
	for {
		now := time.Now()
		if batch {
			acks = thinAcks(acks)
		}
		for len(acks) > 0 && len(wq) < cap(wq) {
			if err := write(&acks[0]); err != nil {
				final = err
				return
			}
			acks = acks[1:]
		}
		for len(wq) < cap(wq) {
			f, ok := s.Poll(now)
			if !ok {
				break
			}
			if err := write(&f); err != nil {
				final = err
				return
			}
		}
		if err := s.Err(); err != nil {
			final = err
			return
		}
		l.suspect.Store(s.Suspect())
		l.ctr.frames(st.SenderStats, s.Stats())
		st.SenderStats, st.RTO, st.SRTT = s.Stats(), s.RTO(), s.SRTT()
		// Copied under a lock, not published as a new snapshot: the
		// loop runs several times per message.
		l.statsMu.Lock()
		l.stats = st
		l.statsMu.Unlock()

		// With the writer's queue full, Poll waits for room (a write
		// wakes the loop), so its deadline must not.
		if d := s.Deadline(); !d.IsZero() && len(wq) < cap(wq) {
			timer.Reset(time.Until(d))
		} else {
			timer.Stop()
		}
		sendc := l.sendc
		if s.Pending() >= s.cfg.QueueLimit {
			sendc = nil
		}
		incC := inc
		if len(acks) >= recvLimit {
			incC = nil
		}
		select {
		case m := <-sendc:
			_ = s.Push(m)
		case f := <-incC:
			take(f)
			// The frames already read form one batch.
			for n := len(inc); batch && n > 0 && len(acks) < recvLimit; n-- {
				take(<-inc)
			}
		case err := <-rerr:
			final = readErr(err)
			return
		case <-timer.C:
		case <-wrote:
		case err := <-werr:
			final = err
			return
		case <-l.closing:
			final = ErrClosed
			return
		}
	}
}
