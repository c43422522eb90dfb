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
	"github.com/goreload/reload/usage/coap"
	"github.com/goreload/reload/wire"
)

// CoAPConfig turns on the CoAP usage (RFC 7650): a CoAP front end on a
// UDP address where constrained devices register (their registrations
// and cached measurements are stored in the overlay under the coap: URIs
// of this node's certificate) and CoAP clients send requests with a
// Proxy-Uri, carried to the device's proxy over AppAttach connections.
type CoAPConfig struct {
	Addr string
	// NoSec accepts devices without authentication (RFC 7252 §9 NoSec,
	// the only mode implemented); New fails without it.
	NoSec bool
	// DeviceTimeout bounds a request forwarded to a device or another
	// proxy (0: coap.DefaultDeviceTimeout).
	DeviceTimeout time.Duration
}

// startCoAP starts the front end and takes AppAttach connections for
// CoAP.
func (n *Node) startCoAP(c *CoAPConfig) error {
	tr, err := n.cfg.Overlay.Trust()
	if err != nil {
		return err
	}
	ov := coapOverlay{n: n, trust: tr}
	fe, err := coap.New(coap.Config{
		Overlay: ov, Addr: c.Addr, Names: n.cfg.Identity.Cert.CoAPURIs,
		NoSec: c.NoSec, DeviceTimeout: c.DeviceTimeout, Logger: n.log,
	})
	if err != nil {
		return err
	}
	n.coap = fe
	n.eng.HandleApp(coap.AppCoAP, func(peer wire.NodeID, conn net.Conn) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			sc, err := ov.secure(ctx, conn, true, peer)
			cancel()
			if err != nil {
				n.log.Debug("coap: AppAttach connection refused", "peer", peer.String(), "err", err)
				return
			}
			_ = fe.ServeConn(peer, sc)
		}()
	})
	return nil
}

// CoAP is the CoAP front end, or nil when the usage is off.
func (n *Node) CoAP() *coap.Frontend { return n.coap }

// coapOverlay is what the CoAP usage needs of the node.
type coapOverlay struct {
	n     *Node
	trust *security.Trust
}

func (o coapOverlay) LocalNodeID() wire.NodeID { return o.n.ID() }

func (o coapOverlay) Store(ctx context.Context, res wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	_, err := o.n.Store(ctx, res, kind, values, lifetime)
	return err
}

func (o coapOverlay) Fetch(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	return sipOverlay{o.n}.Fetch(ctx, res, kind)
}

func (o coapOverlay) AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error) {
	conn, peer, err := o.n.eng.AppAttach(ctx, dest, app)
	if err != nil {
		return nil, err
	}
	return o.secure(ctx, conn, false, peer)
}

// secure runs (D)TLS with mutual certificate authentication over an
// AppAttach connection, which the application must secure itself (RFC
// 6940 §6.5.2): TLS over the TCP connection of an AppAttach without ICE,
// DTLS over the ICE pair, as for overlay links (§6.6.1, §13.6.3). The
// AppAttach answerer is the server. The peer's certificate must chain to
// the overlay's roots and carry expect, the Node-ID that signed the
// AppAttach (the requester's) or its answer. conn is closed on failure.
func (o coapOverlay) secure(ctx context.Context, conn net.Conn, server bool, expect wire.NodeID) (net.Conn, error) {
	check := func(raw [][]byte) error {
		nc, err := o.trust.VerifyChainDER(raw, time.Now())
		if err != nil {
			return err
		}
		if !nc.HasNodeID(expect) {
			return fmt.Errorf("coap: AppAttach peer's certificate does not carry %v", expect)
		}
		return nil
	}
	id := o.n.cfg.Identity
	if _, stream := conn.(*net.TCPConn); stream {
		cfg := o.trust.TLSConfig(id, time.Now)
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error { return check(raw) }
		var tc *tls.Conn
		if server {
			tc = tls.Server(conn, cfg)
		} else {
			tc = tls.Client(conn, cfg)
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("coap: TLS over AppAttach: %w", err)
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
		return nil, fmt.Errorf("coap: DTLS over AppAttach: %w", err)
	}
	return dc, nil
}
