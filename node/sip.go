package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
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
	// Domain is the AOR domain (default: the overlay name); it is also
	// the digest realm.
	Domain string
	// Credentials are the users local user agents authenticate as with
	// digest authentication (RFC 3261 §22): a REGISTER needs the AOR's
	// own user's, a call any user's (see package usage/sip). Required
	// unless NoAuth is set.
	Credentials sip.Credentials
	// NoAuth lets any local user agent register and call without
	// credentials (a trusted network only).
	NoAuth bool
	// DNSServer (host:port) is asked for the SIP servers of domains
	// outside the overlay (RFC 3263); empty means the system resolver.
	DNSServer string
	// NoForeignDomains answers 403 to calls for AORs outside the
	// overlay's domain restriction instead of sending them to that
	// domain's SIP server.
	NoForeignDomains bool
}

// sipDomainPolicy is the AOR domain restriction of the SIP-REGISTRATION
// kind in the overlay configuration (RFC 7904 §3.4); without one every
// AOR is the overlay's.
func (n *Node) sipDomainPolicy(domain string) sip.DomainPolicy {
	p := sip.DomainPolicy{OverlayDomain: n.cfg.Overlay.InstanceName}
	if p.OverlayDomain == "" {
		p.OverlayDomain = domain
	}
	for _, kb := range n.cfg.Overlay.RequiredKinds {
		k := &kb.Kind
		if !strings.EqualFold(k.Name, "SIP-REGISTRATION") && (k.Name != "" || k.ID != uint32(sip.Kind)) {
			continue
		}
		if d := k.DomainRestriction; d != nil {
			p.Present, p.Enable, p.Patterns = true, d.Enable, d.Patterns
		}
	}
	return p
}

// sipAuthResults are the results of reload_sip_auth_total, in the order of
// metrics.sipAuth.
var sipAuthResults = [...]string{"ok", "challenged", "forbidden", "malformed"}

// startSIP starts the front end and takes AppAttach connections for SIP.
func (n *Node) startSIP(c *SIPConfig) error {
	domain := c.Domain
	if domain == "" {
		domain = n.cfg.Overlay.InstanceName
	}
	sc := sip.Config{
		Overlay: sipOverlay{n}, UDPAddr: c.UDPAddr, TCPAddr: c.TCPAddr, Domain: domain,
		Policy: n.sipDomainPolicy(domain), Logger: n.log,
		Credentials: c.Credentials, NoAuth: c.NoAuth,
		DNSServer: c.DNSServer, NoForeignDomains: c.NoForeignDomains,
		CanRegister: n.canRegisterAOR,
		OnAuth: func(result string) {
			for i, r := range sipAuthResults {
				if r == result {
					n.met.sipAuth[i].Add(1)
				}
			}
		},
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
	// RFC 7904 §5.1: the connection is used only once (D)TLS shows the
	// certificate of the node that signed the AppAttach; otherwise it is
	// closed.
	tr := n.verifier.Trust()
	n.eng.HandleApp(sip.AppSIP, func(peer wire.NodeID, conn net.Conn) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			sc, err := secureAppConn(ctx, conn, n.cfg.Identity, tr, peer, true, "sip")
			cancel()
			if err != nil {
				n.log.Debug("sip: AppAttach connection refused", "peer", peer.String(), "err", err)
				return
			}
			n.met.sipConnsIn.Add(1)
			_ = fe.ServeConn(peer, sc)
		}()
	})
	return nil
}

// canRegisterAOR refuses an AOR this node cannot store a registration
// for: SIP-REGISTRATION is USER-NODE-MATCH (RFC 7904 §3.3, RFC 6940
// §7.3.3), so the Resource-ID must be the hash of the user name in this
// node's certificate. The REGISTER is then answered 403 at once instead
// of after a Store the storing peer refuses.
func (n *Node) canRegisterAOR(aor string) error {
	user := n.cfg.Identity.Cert.User
	if user == "" {
		return errors.New("the node's certificate names no user")
	}
	if !bytes.Equal(wire.ResourceIDFromName(aor), wire.ResourceIDFromName(user)) {
		return fmt.Errorf("the node's certificate is for %s, not %s", user, aor)
	}
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
	return o.n.fetchExisting(ctx, res, kind)
}

// AppAttach opens the SIP connection to the peer at the end of dest (RFC
// 7904 §5.1): that peer must answer the AppAttach and present its
// certificate in the (D)TLS handshake over the connection; otherwise the
// connection is closed and the error returned.
func (o sipOverlay) AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error) {
	conn, err := o.n.appAttach(ctx, dest, app, o.n.verifier.Trust(), "sip")
	if err == nil && app == sip.AppSIP {
		o.n.met.sipConnsOut.Add(1)
	}
	return conn, err
}
