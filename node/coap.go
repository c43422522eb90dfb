package node

import (
	"context"
	"net"
	"time"

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
	fe, err := coap.New(coap.Config{
		Overlay: coapOverlay{n}, Addr: c.Addr, Names: n.cfg.Identity.Cert.CoAPURIs,
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
			_ = fe.ServeConn(peer, conn)
		}()
	})
	return nil
}

// CoAP is the CoAP front end, or nil when the usage is off.
func (n *Node) CoAP() *coap.Frontend { return n.coap }

// coapOverlay is what the CoAP usage needs of the node.
type coapOverlay struct{ n *Node }

func (o coapOverlay) LocalNodeID() wire.NodeID { return o.n.ID() }

func (o coapOverlay) Store(ctx context.Context, res wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	_, err := o.n.Store(ctx, res, kind, values, lifetime)
	return err
}

func (o coapOverlay) Fetch(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	return sipOverlay(o).Fetch(ctx, res, kind)
}

func (o coapOverlay) AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error) {
	conn, _, err := o.n.eng.AppAttach(ctx, dest, app)
	return conn, err
}
