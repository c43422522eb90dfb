package node

import (
	"context"
	"net"
	"time"

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
	return o.n.appAttach(ctx, dest, app, o.trust, "coap")
}

// secure is secureAppConn with this node's identity and the overlay's
// trust: server is the AppAttach answerer's side, expect the Node-ID of
// the AppAttach's other end.
func (o coapOverlay) secure(ctx context.Context, conn net.Conn, server bool, expect wire.NodeID) (net.Conn, error) {
	return secureAppConn(ctx, conn, o.n.cfg.Identity, o.trust, expect, server, "coap")
}
