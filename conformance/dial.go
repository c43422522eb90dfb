package conformance

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/pion/dtls/v3"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Dialer opens the (D)TLS connections of a testing tool to a target of
// another implementation: the kit's, and those of the network fuzzer
// (package netfuzz), which speak the framing layer themselves.
type Dialer struct {
	Target    string
	Transport Transport
	Network   Network
	Capture   *Capture  // nil: no capture
	KeyLog    io.Writer // nil: no key log
}

// Conn is a connection Dialer opened: the (D)TLS connection, whether it
// is a stream (TLS), the target's certificate chain as it presented it,
// and, for DTLS, the UDP socket underneath, for Close to close as well.
type Conn struct {
	net.Conn
	Stream bool
	Chain  [][]byte
	under  net.PacketConn
}

// CloseUnder closes the UDP socket under a DTLS connection; nothing for
// TLS.
func (c *Conn) CloseUnder() {
	if c.under != nil {
		_ = c.under.Close()
	}
}

// Dial opens a connection with cert as the tool's certificate (nil:
// none). It does not check the target's certificate: the overlay's CA
// vouches for it, not the Web PKI, and the kit's link.cert checks the
// chain Dial keeps.
func (d Dialer) Dial(ctx context.Context, cert *tls.Certificate) (*Conn, error) {
	if d.Transport == DTLS {
		return d.dialDTLS(ctx, cert)
	}
	return d.dialTLS(ctx, cert)
}

func (d Dialer) dialTLS(ctx context.Context, cert *tls.Certificate) (*Conn, error) {
	raw, err := d.Network.DialTCP(ctx, d.Target)
	if err != nil {
		return nil, err
	}
	conn := d.Capture.Conn(raw, true)
	var chain [][]byte
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		KeyLogWriter:       d.KeyLog,
		InsecureSkipVerify: true, //nolint:gosec // see Dial: the chain is kept and checked by link.cert
		VerifyConnection: func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				chain = append(chain, c.Raw)
			}
			return nil
		},
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	tconn := tls.Client(conn, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return &Conn{Conn: tconn, Stream: true, Chain: chain}, nil
}

func (d Dialer) dialDTLS(ctx context.Context, cert *tls.Certificate) (*Conn, error) {
	raddr, err := net.ResolveUDPAddr("udp", d.Target)
	if err != nil {
		return nil, err
	}
	under, err := d.Network.ListenUDP(ctx, raddr)
	if err != nil {
		return nil, err
	}
	var chain [][]byte
	opts := []dtls.ClientOption{
		dtls.WithInsecureSkipVerify(true), // see Dial
		dtls.WithVerifyConnection(func(s *dtls.State) error {
			chain = append(chain, s.PeerCertificates...)
			return nil
		}),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithMTU(transport.DefaultMTU),
	}
	if cert != nil {
		opts = append(opts, dtls.WithCertificates(*cert))
	}
	if d.KeyLog != nil {
		opts = append(opts, dtls.WithKeyLogWriter(d.KeyLog))
	}
	conn, err := dtls.ClientWithOptions(d.Capture.PacketConn(under), raddr, opts...)
	if err != nil {
		_ = under.Close()
		return nil, err
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		_ = under.Close()
		return nil, fmt.Errorf("DTLS handshake: %w", err)
	}
	return &Conn{Conn: conn, Chain: chain, under: under}, nil
}

// ReadFrames reads FramedMessages (RFC 6940 §6.6.2) from c until reading
// fails, and hands each to onFrame: on a stream one after the other as
// their lengths say, a bad frame type ending the stream; on DTLS every
// frame of each record, the rest of a malformed record being lost. A data
// frame's message is its own copy.
func ReadFrames(c net.Conn, stream bool, onFrame func(wire.FramedMessage)) error {
	if stream {
		return readStreamFrames(c, onFrame)
	}
	buf := make([]byte, 1<<16)
	for {
		n, err := c.Read(buf)
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
				fm.Message = append([]byte(nil), fm.Message...)
			}
			onFrame(fm)
		}
	}
}

func readStreamFrames(c net.Conn, onFrame func(wire.FramedMessage)) error {
	r := bufio.NewReaderSize(c, 32<<10)
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
			onFrame(wire.FramedMessage{Type: wire.FrameAck, Sequence: seq, Received: binary.BigEndian.Uint32(hdr[5:9])})
		case wire.FrameData:
			if _, err := io.ReadFull(r, hdr[5:8]); err != nil {
				return err
			}
			n := int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
			m := make([]byte, n)
			if _, err := io.ReadFull(r, m); err != nil {
				return err
			}
			onFrame(wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: m})
		default:
			return fmt.Errorf("bad frame type %d on the stream", hdr[0])
		}
	}
}
