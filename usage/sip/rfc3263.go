package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/internal/dnsresolver"
)

// Requests for AORs of other domains (outside the overlay's domain
// restriction, RFC 7904 §3.4) go to that domain's conventional SIP server,
// found as RFC 3263 §4 says: the transport from the URI's transport
// parameter or from SRV records (_sip._udp, then _sip._tcp: the first
// that exists decides), the server from the SRV targets in priority and
// weight order (RFC 2782), or A/AAAA of the domain on port 5060 when it
// has no SRV record. NAPTR (§4.1's first step) is not looked up: the
// RFC lets a client go straight to SRV when it has no NAPTR preference,
// and the transports this front end can reach (UDP and TCP) are exactly
// the SRV services it tries.

// ErrNoSIPServer is the error of a domain whose SIP server cannot be found.
var ErrNoSIPServer = errors.New("sip: no SIP server found")

// NewDNSResolver returns a resolver that asks the DNS server at
// server (host:port) instead of the system's; an empty server means the
// system resolver.
func NewDNSResolver(server string) (*net.Resolver, error) {
	r, err := dnsresolver.New(server)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	return r, nil
}

// LocateServers returns the hops to try, in order, for a request to u
// (RFC 3263 §4.1 and §4.2): transport "UDP" or "TCP" and host:port.
func LocateServers(ctx context.Context, r *net.Resolver, u *sip.Uri) ([]ServerHop, error) {
	if u.IsEncrypted() {
		return nil, fmt.Errorf("%w: %s: sips to another domain needs TLS, which this front end does not speak to SIP servers", ErrNoSIPServer, u.Host)
	}
	host := strings.Trim(u.Host, "[]")
	if host == "" {
		return nil, fmt.Errorf("%w: no host", ErrNoSIPServer)
	}
	tp := ""
	if v, ok := u.UriParams.Get("transport"); ok {
		switch strings.ToLower(v) {
		case "udp":
			tp = tUDP
		case "tcp":
			tp = tTCP
		default:
			return nil, fmt.Errorf("%w: %s: transport %q is not UDP or TCP", ErrNoSIPServer, host, v)
		}
	}
	// §4.1: a numeric address, or an explicit port: no SRV.
	if ip := net.ParseIP(host); ip != nil || u.Port != 0 {
		if tp == "" {
			tp = tUDP
		}
		port := u.Port
		if port == 0 {
			port = 5060
		}
		if ip != nil {
			return []ServerHop{{Transport: tp, Addr: net.JoinHostPort(host, strconv.Itoa(port))}}, nil
		}
		return addrHops(ctx, r, host, port, tp)
	}
	// §4.1 without NAPTR: the SRV services for the transports we have,
	// UDP first; the first that has records decides the transport.
	services := []struct{ proto, tp string }{{"udp", tUDP}, {"tcp", tTCP}}
	for _, s := range services {
		if tp != "" && s.tp != tp {
			continue
		}
		_, srvs, err := r.LookupSRV(ctx, "sip", s.proto, host)
		if err != nil || len(srvs) == 0 {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		// §4.2: the SRV targets in the order RFC 2782 gives (LookupSRV
		// sorts by priority and shuffles by weight), each target's
		// addresses in turn.
		var out []ServerHop
		for _, srv := range srvs {
			if srv.Target == "." {
				continue // RFC 2782: the service is decidedly not available
			}
			hs, err := addrHops(ctx, r, strings.TrimSuffix(srv.Target, "."), int(srv.Port), s.tp)
			if err == nil {
				out = append(out, hs...)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: _sip._%s.%s names no reachable target", ErrNoSIPServer, s.proto, host)
		}
		return out, nil
	}
	// §4.2: no SRV records: the domain's own addresses, port 5060.
	if tp == "" {
		tp = tUDP
	}
	hs, err := addrHops(ctx, r, host, 5060, tp)
	if err != nil {
		return nil, fmt.Errorf("%w: %s has no SRV record for _sip._udp or _sip._tcp and no address", ErrNoSIPServer, host)
	}
	return hs, nil
}

// ServerHop is one place to send a request for another domain.
type ServerHop struct {
	Transport string // "UDP" or "TCP"
	Addr      string // host:port
}

func addrHops(ctx context.Context, r *net.Resolver, host string, port int, tp string) ([]ServerHop, error) {
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSIPServer, err)
	}
	out := make([]ServerHop, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ServerHop{Transport: tp, Addr: net.JoinHostPort(ip.IP.String(), strconv.Itoa(port))})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no address", ErrNoSIPServer, host)
	}
	return out, nil
}

// toForeign proxies a local user agent's request for an AOR of another
// domain to that domain's SIP server (RFC 3263), statelessly. The server
// chosen for a request is kept for its CANCEL and ACK (RFC 3261 §16.11: a
// stateless proxy sends them where the request went).
func (f *Frontend) toForeign(ctx context.Context, req *sip.Request, src source) {
	key := routeKey(req)
	f.mu.Lock()
	h, cached := f.foreign.get(key)
	f.mu.Unlock()
	var hops []ServerHop
	if cached {
		hops = []ServerHop{h}
	} else {
		if req.IsAck() || req.IsCancel() {
			if req.IsCancel() {
				f.reply(req, src, 481, "Call/Transaction Does Not Exist")
			}
			return
		}
		var err error
		hops, err = LocateServers(ctx, f.dns, &req.Recipient)
		if err != nil {
			f.log.Debug("sip: RFC 3263", "uri", req.Recipient.String(), "err", err)
			code, reason := 404, "Not Found"
			if ctx.Err() != nil {
				code, reason = 504, "Server Time-out"
			}
			f.reply(req, src, code, reason)
			return
		}
	}
	// §4.3 of RFC 3263 tries the next server when one fails; a stateless
	// proxy learns that only from a TCP connection that cannot be made.
	for _, h := range hops {
		var s *stream
		if h.Transport == tTCP {
			var err error
			if s, err = f.tcpTo(ctx, h.Addr); err != nil {
				f.log.Debug("sip: RFC 3263 server", "addr", h.Addr, "err", err)
				continue
			}
		}
		f.mu.Lock()
		f.foreign.put(key, h, time.Now())
		f.mu.Unlock()
		f.send(ctx, req, src, hop{transport: h.Transport, addr: h.Addr}, s)
		return
	}
	if !req.IsAck() {
		f.reply(req, src, 503, "Service Unavailable")
	}
}
