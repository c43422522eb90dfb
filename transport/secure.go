package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/goreload/reload/wire"
	"github.com/pion/dtls/v3"
)

// Per-link read buffers, held for the link's whole life: a node has one
// link per neighbour, finger and client, and these buffers are a large
// part of what an idle node holds.
const (
	// streamReadBuffer buffers a TLS link's frame headers and small
	// messages. crypto/tls already holds the decrypted record, and reads
	// of a message body at least this long bypass the buffer, so it
	// need not hold a whole record (2^14 bytes): 16 KiB here cost 14 KiB
	// more per link for no gain in throughput.
	streamReadBuffer = 2 << 10
	// maxDTLSPlaintext is the largest plaintext of one DTLS record (RFC
	// 6347 §4.1, RFC 9147 §4: 2^14 bytes), so one Read never needs more.
	maxDTLSPlaintext = 1 << 14
)

func handshakeCtx(ctx context.Context, cfg *Config) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	d := cfg.HandshakeTimeout
	if d <= 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// NewTLSLink runs the TLS handshake on conn and returns a
// TLS-TCP-FH-NO-ICE link (RFC 6940 §6.6.5). The Attach requester is the
// TLS server and requires a client certificate; either side may have
// opened the TCP connection. When expect is not zero, the peer's
// certificate must carry that Node-ID. The link owns conn.
func NewTLSLink(ctx context.Context, conn net.Conn, role Role, expect wire.NodeID, cfg *Config) (*Link, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var peer []wire.NodeID
	tc := &tls.Config{
		Certificates: []tls.Certificate{*cfg.Certificate},
		MinVersion:   tls.VersionTLS12,
		KeyLogWriter: cfg.keyLog(),
		// The overlay's enrollment CA, not the Web PKI, vouches for peers:
		// the verifier checks the chain and the Node-IDs.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		ClientAuth:         tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			ids, err := verifyChain(cfg.Verifier, raw, expect)
			peer = ids
			return err
		},
	}
	var tlsConn *tls.Conn
	var first *firstRecordConn
	switch role {
	case Requester:
		// The client speaks first: bound the wait for its ClientHello
		// far below the whole handshake's, so that connections that
		// send nothing cannot hold the server's pending handshakes.
		first = &firstRecordConn{Conn: conn}
		if err := conn.SetReadDeadline(time.Now().Add(cfg.firstRecordTimeout())); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("transport: TLS handshake: %w", err)
		}
		tlsConn = tls.Server(first, tc)
	case Responder:
		tlsConn = tls.Client(conn, tc)
	default:
		return nil, fmt.Errorf("transport: bad role %v", role)
	}
	hctx, cancel := handshakeCtx(ctx, cfg)
	defer cancel()
	if err := tlsConn.HandshakeContext(hctx); err != nil {
		_ = conn.Close()
		err = fmt.Errorf("transport: TLS handshake: %w", err)
		lvl := slog.LevelWarn
		if first != nil && !first.done {
			// A connection that never sent its ClientHello (a port scan,
			// a flood of idle connections, one the server evicted): not
			// worth a warning each.
			lvl = slog.LevelDebug
		}
		cfg.handshakeFailedAt(lvl, LinkTLSTCPFHNoICE, conn.RemoteAddr(), err)
		return nil, err
	}
	return newLink(linkParams{
		typ:    LinkTLSTCPFHNoICE,
		role:   role,
		peer:   peer,
		expect: expect,
		conn:   tlsConn,
		io:     &streamIO{c: tlsConn, r: bufio.NewReaderSize(tlsConn, streamReadBuffer), max: cfg.maxMessage()},
		stream: true,
	}, cfg), nil
}

// NewDTLSLink runs the DTLS handshake with raddr over pc and returns a
// DTLS-UDP-SR-NO-ICE link (RFC 6940 §6.6.6). The Attach requester is the
// DTLS server. pc must carry only this peer's datagrams (see Mux). The
// link owns pc.
func NewDTLSLink(ctx context.Context, pc net.PacketConn, raddr net.Addr, role Role, expect wire.NodeID, cfg *Config) (*Link, error) {
	return newDTLSLink(ctx, pc, raddr, role, expect, cfg, LinkDTLSUDPSRNoICE, 0, nil)
}

func newDTLSLink(ctx context.Context, pc net.PacketConn, raddr net.Addr, role Role, expect wire.NodeID,
	cfg *Config, typ LinkType, seedRTT time.Duration, onClose func()) (*Link, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if typ == LinkDTLSUDPSRNoICE && cfg.Reliability.Keepalive == 0 {
		// No STUN keepalives without ICE (§6.6.6): empty DATA frames
		// keep the link and its NAT bindings alive (see
		// DefaultNoICEKeepalive).
		c := *cfg
		c.Reliability.Keepalive = c.NoICEKeepalive
		if c.Reliability.Keepalive == 0 {
			c.Reliability.Keepalive = DefaultNoICEKeepalive
		}
		cfg = &c
	}
	var peer []wire.NodeID
	verify := dtls.WithVerifyConnection(func(s *dtls.State) error {
		ids, err := verifyChain(cfg.Verifier, s.PeerCertificates, expect)
		peer = ids
		return err
	})
	common := []dtls.Option{
		dtls.WithCertificates(*cfg.Certificate),
		dtls.WithInsecureSkipVerify(true), // the verifier checks the chain
		verify,
		dtls.WithMTU(cfg.mtu()),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
	}
	if kl := cfg.keyLog(); kl != nil {
		common = append(common, dtls.WithKeyLogWriter(kl))
	}
	var (
		conn *dtls.Conn
		err  error
	)
	switch role {
	case Requester:
		opts := make([]dtls.ServerOption, 0, len(common)+1)
		for _, o := range common {
			opts = append(opts, o)
		}
		opts = append(opts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		conn, err = dtls.ServerWithOptions(pc, raddr, opts...)
	case Responder:
		opts := make([]dtls.ClientOption, 0, len(common))
		for _, o := range common {
			opts = append(opts, o)
		}
		conn, err = dtls.ClientWithOptions(pc, raddr, opts...)
	default:
		err = fmt.Errorf("transport: bad role %v", role)
	}
	fail := func(err error) (*Link, error) {
		cfg.handshakeFailed(typ, raddr, err)
		if conn != nil {
			_ = conn.Close()
		}
		_ = pc.Close()
		if onClose != nil {
			onClose()
		}
		return nil, err
	}
	if err != nil {
		return fail(err)
	}
	hctx, cancel := handshakeCtx(ctx, cfg)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		return fail(fmt.Errorf("transport: DTLS handshake: %w", err))
	}
	maxMsg := cfg.mtu() - dtlsOverhead - frameOverhead
	return newLink(linkParams{
		role:    role,
		typ:     typ,
		peer:    peer,
		expect:  expect,
		conn:    conn,
		io:      &datagramIO{c: conn, buf: make([]byte, maxDTLSPlaintext), max: cfg.maxMessage()},
		maxMsg:  maxMsg,
		seedRTT: seedRTT,
		onClose: func() {
			_ = pc.Close()
			if onClose != nil {
				onClose()
			}
		},
	}, cfg), nil
}

// ErrNoClientHello reports an inbound TLS connection closed because the
// client's first record had not arrived within Config.FirstRecordTimeout.
var ErrNoClientHello = errors.New("transport: no TLS ClientHello within the first-record timeout")

func (c *Config) firstRecordTimeout() time.Duration {
	if c.FirstRecordTimeout > 0 {
		return c.FirstRecordTimeout
	}
	return DefaultFirstRecordTimeout
}

// firstRecordConn is a TLS server's connection until the client's first
// record is in: the connection's read deadline, set by the caller, bounds
// the wait for it and is lifted once the record is complete. A TLS record
// is a 5-byte header (type, version, 16-bit length) and that many bytes
// (RFC 5246 §6.2.1, RFC 8446 §5.1). The TLS connection reads it from one
// goroutine at a time.
type firstRecordConn struct {
	net.Conn
	hdr  [5]byte
	seen int  // bytes of the first record read so far
	done bool // the first record is complete and the deadline lifted
}

func (c *firstRecordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.done {
		return n, err
	}
	if n > 0 {
		copy(c.hdr[min(c.seen, len(c.hdr)):], p[:n])
		c.seen += n
		if c.seen >= len(c.hdr) && c.seen >= len(c.hdr)+int(binary.BigEndian.Uint16(c.hdr[3:])) {
			c.done = true
			if derr := c.Conn.SetReadDeadline(time.Time{}); derr != nil && err == nil {
				err = derr
			}
		}
	}
	if err != nil && !c.done && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w (%d bytes received): %w", ErrNoClientHello, c.seen, err)
	}
	return n, err
}
