package portmap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/huin/goupnp/dcps/internetgateway1"
	"github.com/huin/goupnp/dcps/internetgateway2"
	natpmp "github.com/jackpal/go-nat-pmp"
)

// Errors.
var (
	// ErrNoGateway reports that neither UPnP nor NAT-PMP found a gateway.
	ErrNoGateway = errors.New("portmap: no UPnP IGD or NAT-PMP gateway found")
	// ErrBadExternal reports a gateway whose external address is not a
	// usable public-side address (unspecified, or not an IP at all).
	ErrBadExternal = errors.New("portmap: gateway reported no usable external address")
)

// Config configures discovery.
type Config struct {
	// Gateway is the NAT-PMP gateway (RFC 6886 §3.1: the default
	// gateway). Default: the IPv4 default route's gateway.
	Gateway netip.Addr
	// NoUPnP and NoNATPMP leave a protocol out of discovery.
	NoUPnP, NoNATPMP bool
	// Timeout bounds discovery (default 5 s).
	Timeout time.Duration
}

// Gateway is a NAT that maps ports for this host.
type Gateway struct {
	method   string // "upnp" or "nat-pmp"
	internal netip.Addr
	c        client
}

// client is one protocol's side of a gateway.
type client interface {
	externalIP(ctx context.Context) (netip.Addr, error)
	// add maps internal port to external (a suggestion; 0 for any) for
	// lease and returns the external port and the lease granted.
	add(ctx context.Context, proto string, internal netip.AddrPort, external uint16, lease time.Duration) (uint16, time.Duration, error)
	del(ctx context.Context, proto string, internal, external uint16) error
}

// Method is "upnp" or "nat-pmp".
func (g *Gateway) Method() string { return g.method }

// InternalAddr is this host's address toward the gateway: the address
// mappings forward to.
func (g *Gateway) InternalAddr() netip.Addr { return g.internal }

// ExternalIP asks the gateway for its public-side address.
func (g *Gateway) ExternalIP(ctx context.Context) (netip.Addr, error) {
	a, err := g.c.externalIP(ctx)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("portmap: %s external address: %w", g.method, err)
	}
	if !a.IsValid() || a.IsUnspecified() {
		return netip.Addr{}, ErrBadExternal
	}
	return a.Unmap(), nil
}

// Mapping is one port mapping.
type Mapping struct {
	Protocol string         // "udp" or "tcp"
	Internal netip.AddrPort // this host's address and port
	External netip.AddrPort // the gateway's public address and mapped port
	Method   string
	Lease    time.Duration // granted
}

// Map asks the gateway to forward proto ("udp" or "tcp") traffic for an
// external port (the same number as port when the gateway grants it) to
// this host's port, for lease.
func (g *Gateway) Map(ctx context.Context, proto string, port uint16, lease time.Duration) (Mapping, error) {
	if proto != "udp" && proto != "tcp" {
		return Mapping{}, fmt.Errorf("portmap: bad protocol %q", proto)
	}
	if port == 0 {
		return Mapping{}, errors.New("portmap: port 0")
	}
	if lease < time.Second {
		return Mapping{}, errors.New("portmap: lease under a second")
	}
	ip, err := g.ExternalIP(ctx)
	if err != nil {
		return Mapping{}, err
	}
	in := netip.AddrPortFrom(g.internal, port)
	ext, granted, err := g.c.add(ctx, proto, in, port, lease)
	if err != nil && g.method == "upnp" && ctx.Err() == nil {
		// The port may be taken by another host's mapping
		// (ConflictInMappingEntry): try one random port, as go-libp2p does.
		ext, granted, err = g.c.add(ctx, proto, in, uint16(1024+rand.N(65535-1024)), lease)
	}
	if err != nil {
		return Mapping{}, fmt.Errorf("portmap: %s map %s %d: %w", g.method, proto, port, err)
	}
	if ext == 0 {
		return Mapping{}, fmt.Errorf("portmap: %s mapped %s %d to port 0", g.method, proto, port)
	}
	return Mapping{Protocol: proto, Internal: in, External: netip.AddrPortFrom(ip, ext), Method: g.method, Lease: granted}, nil
}

// Unmap removes m.
func (g *Gateway) Unmap(ctx context.Context, m Mapping) error {
	if err := g.c.del(ctx, m.Protocol, m.Internal.Port(), m.External.Port()); err != nil {
		return fmt.Errorf("portmap: %s unmap %s %d: %w", g.method, m.Protocol, m.External.Port(), err)
	}
	return nil
}

// Discover looks for the gateway with UPnP (SSDP) and NAT-PMP at once and
// returns the first that answers with an external address, preferring
// neither (as go-libp2p's discovery does).
func Discover(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	type result struct {
		g   *Gateway
		err error
	}
	ch := make(chan result, 2)
	n := 0
	if !cfg.NoNATPMP {
		n++
		go func() {
			g, err := discoverNATPMP(ctx, cfg.Gateway)
			ch <- result{g, err}
		}()
	}
	if !cfg.NoUPnP {
		n++
		go func() {
			g, err := discoverUPnP(ctx)
			ch <- result{g, err}
		}()
	}
	var errs []error
	for range n {
		r := <-ch
		if r.err == nil {
			return r.g, nil
		}
		errs = append(errs, r.err)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoGateway, errors.Join(errs...))
}

// localAddrToward is the source address the host uses toward gw (no
// packet is sent: connecting a UDP socket only picks a route).
func localAddrToward(gw netip.Addr, port uint16) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(gw, port)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// ---- NAT-PMP (RFC 6886) ----

// natpmpPort is the NAT-PMP server port (RFC 6886 §3.1).
const natpmpPort = 5351

type natpmpClient struct{ c *natpmp.Client }

func discoverNATPMP(ctx context.Context, gw netip.Addr) (*Gateway, error) {
	if !gw.IsValid() {
		var err error
		if gw, err = DefaultGateway(); err != nil {
			return nil, fmt.Errorf("nat-pmp: %w", err)
		}
	}
	local, err := localAddrToward(gw, natpmpPort)
	if err != nil {
		return nil, fmt.Errorf("nat-pmp: %w", err)
	}
	timeout := 2 * time.Second
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	g := &Gateway{method: "nat-pmp", internal: local, c: natpmpClient{natpmp.NewClientWithTimeout(gw.AsSlice(), timeout)}}
	if _, err := g.ExternalIP(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// The library's calls are not cancellable; each is bounded by the client's
// timeout, so they run to completion and ctx only limits the wait.
func natpmpDo[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type r struct {
		v   T
		err error
	}
	ch := make(chan r, 1)
	go func() { v, err := f(); ch <- r{v, err} }()
	select {
	case x := <-ch:
		return x.v, x.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (c natpmpClient) externalIP(ctx context.Context) (netip.Addr, error) {
	res, err := natpmpDo(ctx, c.c.GetExternalAddress)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4(res.ExternalIPAddress), nil
}

func (c natpmpClient) add(ctx context.Context, proto string, internal netip.AddrPort, external uint16, lease time.Duration) (uint16, time.Duration, error) {
	res, err := natpmpDo(ctx, func() (*natpmp.AddPortMappingResult, error) {
		return c.c.AddPortMapping(proto, int(internal.Port()), int(external), int(lease/time.Second))
	})
	if err != nil {
		return 0, 0, err
	}
	return res.MappedExternalPort, time.Duration(res.PortMappingLifetimeInSeconds) * time.Second, nil
}

// del asks for a lifetime of 0, which removes the mapping (RFC 6886 §3.4).
func (c natpmpClient) del(ctx context.Context, proto string, internal, _ uint16) error {
	_, err := natpmpDo(ctx, func() (*natpmp.AddPortMappingResult, error) {
		return c.c.AddPortMapping(proto, int(internal), 0, 0)
	})
	return err
}

// ---- UPnP IGD ----

// igd is what WANIPConnection:1, :2 and WANPPPConnection:1 share.
type igd interface {
	AddPortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string, internalPort uint16,
		internalClient string, enabled bool, description string, leaseDuration uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string) error
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
}

type upnpClient struct{ c igd }

// discoverUPnP searches with SSDP for an IGD's WANIPConnection:2 and :1
// services (IGDv2 and v1), then for v1's WANPPPConnection:1, and keeps the
// first that gives an external address; the internal address is the one
// this host reaches the device's description URL from.
func discoverUPnP(ctx context.Context) (*Gateway, error) {
	type found struct {
		c   igd
		loc string
	}
	var all []found
	var errs []error
	ip2, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx)
	for _, c := range ip2 {
		all = append(all, found{c, c.Location.Host})
	}
	errs = append(errs, err)
	ip1, _, err := internetgateway2.NewWANIPConnection1ClientsCtx(ctx)
	for _, c := range ip1 {
		all = append(all, found{c, c.Location.Host})
	}
	errs = append(errs, err)
	if len(all) == 0 {
		v1, _, err := internetgateway1.NewWANIPConnection1ClientsCtx(ctx)
		for _, c := range v1 {
			all = append(all, found{c, c.Location.Host})
		}
		errs = append(errs, err)
		ppp, _, err := internetgateway1.NewWANPPPConnection1ClientsCtx(ctx)
		for _, c := range ppp {
			all = append(all, found{c, c.Location.Host})
		}
		errs = append(errs, err)
	}
	for _, f := range all {
		host := f.loc
		if h, _, err := net.SplitHostPort(f.loc); err == nil {
			host = h
		}
		gw, err := netip.ParseAddr(host)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway host %q: %w", f.loc, err))
			continue
		}
		local, err := localAddrToward(gw.Unmap(), 1900)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g := &Gateway{method: "upnp", internal: local, c: upnpClient{f.c}}
		if _, err := g.ExternalIP(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		return g, nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("upnp: %w", err)
	}
	return nil, errors.New("upnp: no internet gateway device answered")
}

func (c upnpClient) externalIP(ctx context.Context) (netip.Addr, error) {
	s, err := c.c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrBadExternal, s)
	}
	return a, nil
}

const upnpDescription = "RELOAD"

func (c upnpClient) add(ctx context.Context, proto string, internal netip.AddrPort, external uint16, lease time.Duration) (uint16, time.Duration, error) {
	secs := uint32(min(lease/time.Second, 1<<31))
	err := c.c.AddPortMappingCtx(ctx, "", external, protoUPnP(proto), internal.Port(), internal.Addr().String(), true,
		upnpDescription+" "+strconv.Itoa(int(internal.Port())), secs)
	if err != nil {
		return 0, 0, err
	}
	return external, lease, nil
}

func (c upnpClient) del(ctx context.Context, proto string, _, external uint16) error {
	return c.c.DeletePortMappingCtx(ctx, "", external, protoUPnP(proto))
}

func protoUPnP(p string) string {
	if p == "tcp" {
		return "TCP"
	}
	return "UDP"
}
