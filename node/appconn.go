package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// appAttach opens a secured connection for application app (RFC 6940
// §6.5.2) along dest: the AppAttach's connection, with (D)TLS and the
// answerer's certificate checked by secureAppConn. When dest ends in a
// Node-ID, the answer must be signed by that node (RFC 7904 §5.1: "the
// responding Peer MUST present a certificate with a Node-ID matching the
// terminal entry in the destination list"); otherwise the connection is
// closed. usage names the application in errors.
func (n *Node) appAttach(ctx context.Context, dest []wire.Destination, app uint16, tr *security.Trust, usage string) (net.Conn, error) {
	conn, peer, err := n.eng.AppAttach(ctx, dest, app)
	if err != nil {
		return nil, err
	}
	if len(dest) > 0 {
		if want, ok := dest[len(dest)-1].NodeID(); ok && want != peer {
			conn.Close()
			return nil, fmt.Errorf("%s: AppAttach to %v answered by %v", usage, want, peer)
		}
	}
	return secureAppConn(ctx, conn, n.cfg.Identity, tr, peer, false, usage)
}

// secureAppConn runs (D)TLS with mutual certificate authentication over
// an AppAttach connection, which the application must secure itself (RFC
// 6940 §6.5.2; RFC 7904 §5.1 for SIP): TLS over the TCP connection of an
// AppAttach without ICE, DTLS over the ICE pair, as for overlay links
// (§6.6.1, §13.6.3). The AppAttach answerer is the server. The peer's
// certificate must chain to the overlay's roots (tr) and carry peer, the
// Node-ID that signed the AppAttach (the requester's) or its answer; a
// connection from anyone else (for instance whoever connects first to the
// listener of an AppAttach without ICE) is refused. id is this node's
// identity, usage names the application in errors. conn is closed on
// failure.
func secureAppConn(ctx context.Context, conn net.Conn, id *security.Identity, tr *security.Trust, peer wire.NodeID, server bool, usage string) (net.Conn, error) {
	check := func(raw [][]byte) error {
		nc, err := tr.VerifyChainDER(raw, time.Now())
		if err != nil {
			return err
		}
		if !nc.HasNodeID(peer) {
			return fmt.Errorf("%s: AppAttach peer's certificate does not carry %v", usage, peer)
		}
		return nil
	}
	if _, stream := conn.(*net.TCPConn); stream {
		cfg := tr.TLSConfig(id, time.Now)
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error { return check(raw) }
		var tc *tls.Conn
		if server {
			tc = tls.Server(conn, cfg)
		} else {
			tc = tls.Client(conn, cfg)
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: TLS over AppAttach: %w", usage, err)
		}
		return tc, nil
	}
	opts := []dtls.Option{
		dtls.WithCertificates(id.TLSCertificate()),
		dtls.WithInsecureSkipVerify(true), // check verifies the chain
		dtls.WithVerifyConnection(func(s *dtls.State) error { return check(s.PeerCertificates) }),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
	}
	pc := dtlsnet.PacketConnFromConn(conn)
	var dc *dtls.Conn
	var err error
	if server {
		sopts := make([]dtls.ServerOption, 0, len(opts)+1)
		for _, op := range opts {
			sopts = append(sopts, op)
		}
		dc, err = dtls.ServerWithOptions(pc, conn.RemoteAddr(), append(sopts, dtls.WithClientAuth(dtls.RequireAnyClientCert))...)
	} else {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, op := range opts {
			copts = append(copts, op)
		}
		dc, err = dtls.ClientWithOptions(pc, conn.RemoteAddr(), copts...)
	}
	if err == nil {
		err = dc.HandshakeContext(ctx)
	}
	if err != nil {
		if dc != nil {
			dc.Close()
		}
		conn.Close()
		return nil, fmt.Errorf("%s: DTLS over AppAttach: %w", usage, err)
	}
	return dc, nil
}
