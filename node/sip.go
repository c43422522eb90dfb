package node

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/goreload/reload/usage/sip"
	"github.com/goreload/reload/wire"
)

// SIPConfig turns on the SIP usage (RFC 7904): a registrar and proxy for
// local SIP user agents on UDPAddr and/or TCPAddr, with registrations
// stored in the overlay and calls carried to the callee's peer over
// AppAttach connections.
type SIPConfig struct {
	UDPAddr, TCPAddr string
	// Domain is the AOR domain (default: the overlay name).
	Domain string
}

// startSIP starts the front end and takes AppAttach connections for SIP.
func (n *Node) startSIP(c *SIPConfig) error {
	domain := c.Domain
	if domain == "" {
		domain = n.cfg.Overlay.InstanceName
	}
	sc := sip.Config{
		Overlay: sipOverlay{n}, UDPAddr: c.UDPAddr, TCPAddr: c.TCPAddr, Domain: domain,
		Policy: sip.DomainPolicy{OverlayDomain: domain}, Logger: n.log,
	}
	if n.cfg.DataDir != "" {
		// Local bindings outlive a restart, like the stored data.
		kept, err := openSIPBindings(filepath.Join(n.cfg.DataDir, "sip.db"))
		if err != nil {
			return fmt.Errorf("bindings: %w", err)
		}
		n.sipKept, sc.Bindings = kept, kept
	}
	fe, err := sip.New(sc)
	if err != nil {
		if n.sipKept != nil {
			n.sipKept.Close()
			n.sipKept = nil
		}
		return err
	}
	n.sip = fe
	n.eng.HandleApp(sip.AppSIP, func(peer wire.NodeID, conn net.Conn) {
		n.met.sipConnsIn.Add(1)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			_ = fe.ServeConn(peer, conn)
		}()
	})
	return nil
}

// SIP is the SIP front end, or nil when the usage is off.
func (n *Node) SIP() *sip.Frontend { return n.sip }

// sipOverlay is what the SIP usage needs of the node.
type sipOverlay struct{ n *Node }

func (o sipOverlay) LocalNodeID() wire.NodeID { return o.n.ID() }

func (o sipOverlay) Store(ctx context.Context, res wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	_, err := o.n.Store(ctx, res, kind, values, lifetime)
	if kind == sip.Kind {
		if err != nil {
			o.n.met.sipRegisterFailed.Add(1)
		} else {
			o.n.met.sipRegistered.Add(1)
		}
	}
	return err
}

func (o sipOverlay) Fetch(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	fa, err := o.n.FetchAll(ctx, res, kind)
	if err != nil {
		return nil, err
	}
	var out []wire.StoredData
	for _, kr := range fa.KindResponses {
		if kr.Kind != kind {
			continue
		}
		for _, sd := range kr.Values {
			if sd.Value.Value.Exists {
				out = append(out, sd)
			}
		}
	}
	return out, nil
}

func (o sipOverlay) AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error) {
	conn, _, err := o.n.eng.AppAttach(ctx, dest, app)
	if err == nil && app == sip.AppSIP {
		o.n.met.sipConnsOut.Add(1)
	}
	return conn, err
}
