package enroll

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/internal/dnsresolver"
)

// ConfigService is the DNS SRV service name of configuration servers;
// they are looked up over TCP (RFC 6940 §11.2, §14.1).
const ConfigService = "reload-config"

// ErrNoConfigServer is returned (wrapped) when DNS has no SRV record for
// an overlay's configuration server, or says there is none (a target of
// ".", RFC 2782).
var ErrNoConfigServer = errors.New("enroll: no configuration server")

// targetTimeout bounds the TCP connection to one SRV target, so that a
// silent one does not keep the client from the next.
const targetTimeout = 10 * time.Second

// ConfigSRVName is the name looked up for overlay's configuration server:
// _reload-config._tcp.<overlay> (RFC 6940 §11.2).
func ConfigSRVName(overlay string) string {
	return "_" + ConfigService + "._tcp." + strings.TrimSuffix(overlay, ".")
}

// NewResolver returns a resolver that sends every query to the DNS server
// at server (host:port), using Go's own DNS client, instead of the
// system's servers.
func NewResolver(server string) (*net.Resolver, error) {
	if server == "" {
		return nil, fmt.Errorf("enroll: DNS server \"\": want HOST:PORT")
	}
	r, err := dnsresolver.New(server)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	return r, nil
}

// checkOverlayName checks that name can be looked up in DNS and be an
// HTTPS host name: dot-separated labels of 1 to 63 letters, digits,
// hyphens or underscores, 253 bytes at most.
func checkOverlayName(name string) error {
	n := strings.TrimSuffix(name, ".")
	ok := n != "" && len(n) <= 253
	for label := range strings.SplitSeq(n, ".") {
		if !ok {
			break
		}
		ok = len(label) >= 1 && len(label) <= 63
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				ok = false
			}
		}
	}
	if !ok {
		return fmt.Errorf("enroll: overlay name %q is not a domain name, such as example.org", name)
	}
	return nil
}

// resolver is the resolver for c.DNSServer, or the system's.
func (c *Client) resolver() (*net.Resolver, error) {
	if c.DNSServer == "" {
		return net.DefaultResolver, nil
	}
	return NewResolver(c.DNSServer)
}

// blameServer corrects the server named in a DNS error that came through
// the resolver of c.DNSServer: Go's resolver names the server of
// resolv.conf, whose address its Dial function was given and ignored.
func (c *Client) blameServer(err error) error {
	var dnsErr *net.DNSError
	if c.DNSServer != "" && errors.As(err, &dnsErr) && dnsErr.Server != "" {
		dnsErr.Server = c.DNSServer
	}
	return err
}

// LookupConfigServers looks up the SRV records of overlay's configuration
// server, _reload-config._tcp.<overlay> (RFC 6940 §11.2), and returns
// them in the order to try them: by priority, lowest first, and within a
// priority in a random order weighted by weight (RFC 2782). It fails
// with ErrNoConfigServer when there is no record, or only a "." target.
func (c *Client) LookupConfigServers(ctx context.Context, overlay string) ([]*net.SRV, error) {
	if err := checkOverlayName(overlay); err != nil {
		return nil, err
	}
	r, err := c.resolver()
	if err != nil {
		return nil, err
	}
	name := ConfigSRVName(overlay)
	// A rooted name: the search list of resolv.conf must not turn the
	// overlay's name into another.
	_, recs, err := r.LookupSRV(ctx, "", "", name+".")
	if len(recs) == 0 {
		var dnsErr *net.DNSError
		if err == nil || errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, fmt.Errorf("%w: no SRV record for %s", ErrNoConfigServer, name)
		}
		return nil, fmt.Errorf("enroll: looking up the configuration server (SRV %s): %w", name, c.blameServer(err))
	}
	// Malformed records were left out by LookupSRV (it reports them in
	// err); the others are usable.
	if len(recs) == 1 && (recs[0].Target == "." || recs[0].Target == "") {
		return nil, fmt.Errorf("%w: %s says the service is not available (SRV target \".\")", ErrNoConfigServer, name)
	}
	return orderSRV(recs, rand.IntN), nil
}

// orderSRV sorts recs as RFC 2782 says a client must try them: lowest
// priority first; within one priority, repeatedly pick one of the records
// left with probability proportional to its weight (weight-0 records
// first in the running sum, so they are picked rarely but can be).
// intN(n) returns a uniform integer in [0, n).
func orderSRV(recs []*net.SRV, intN func(int) int) []*net.SRV {
	left := slices.Clone(recs)
	slices.SortStableFunc(left, func(a, b *net.SRV) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		// Weight 0 first within a priority (RFC 2782).
		return cmp.Compare(min(a.Weight, 1), min(b.Weight, 1))
	})
	out := make([]*net.SRV, 0, len(left))
	for len(left) > 0 {
		end := 1
		for end < len(left) && left[end].Priority == left[0].Priority {
			end++
		}
		group := left[:end]
		for len(group) > 0 {
			sum := 0
			for _, r := range group {
				sum += int(r.Weight)
			}
			// "a random number between 0 and the running sum", inclusive.
			pick, run := intN(sum+1), 0
			i := 0
			for ; i < len(group)-1; i++ {
				run += int(group[i].Weight)
				if run >= pick {
					break
				}
			}
			out = append(out, group[i])
			group = slices.Delete(group, i, i+1)
		}
		left = left[end:]
	}
	return out
}

// targetsError lists why each configuration server found in DNS failed.
type targetsError struct {
	overlay string
	errs    []error
}

func (e *targetsError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("enroll: no configuration server of %s answered: %s", e.overlay, strings.Join(msgs, "; "))
}

func (e *targetsError) Unwrap() []error { return e.errs }

// DiscoverConfig finds the configuration server of overlay through DNS
// and fetches the configuration document from it (RFC 6940 §11.2): it
// looks up _reload-config._tcp.<overlay> (see LookupConfigServers) and,
// target after target in SRV order until one answers, connects to the
// target's address and port and GETs
// https://<overlay>/.well-known/reload-config, with the server's
// certificate matched to the overlay name. A document without a
// configuration whose instance-name is overlay is discarded, and the
// next target tried. It returns the document and its bytes; it does not
// check signatures.
func (c *Client) DiscoverConfig(ctx context.Context, overlay string) (*config.Document, []byte, error) {
	recs, err := c.LookupConfigServers(ctx, overlay)
	if err != nil {
		return nil, nil, err
	}
	overlay = strings.TrimSuffix(overlay, ".")
	resolver, err := c.resolver()
	if err != nil {
		return nil, nil, err
	}
	fail := &targetsError{overlay: overlay}
	for _, r := range recs {
		if r.Target == "." || r.Target == "" {
			continue
		}
		addr := net.JoinHostPort(strings.TrimSuffix(r.Target, "."), strconv.Itoa(int(r.Port)))
		doc, raw, err := c.fetchFrom(ctx, resolver, addr, overlay)
		if err == nil {
			return doc, raw, nil
		}
		fail.errs = append(fail.errs, fmt.Errorf("%s: %w", addr, c.blameServer(err)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, fail
}

// fetchFrom fetches https://<overlay>/.well-known/reload-config from the
// server at addr, which must hold a certificate for overlay; r resolves
// addr's host.
func (c *Client) fetchFrom(ctx context.Context, r *net.Resolver, addr, overlay string) (*config.Document, []byte, error) {
	var tr *http.Transport
	if t, ok := c.HTTP.Transport.(*http.Transport); ok {
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		tlsConf = tr.TLSClientConfig.Clone()
	}
	// §11.2: "the certificate MUST match the overlay name".
	tlsConf.ServerName = overlay
	tr.TLSClientConfig = tlsConf
	// The connection goes to the SRV target, never through a proxy.
	tr.Proxy = nil
	d := &net.Dialer{Timeout: targetTimeout, Resolver: r}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	tr.DialTLSContext = nil
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: c.HTTP.Timeout}
	doc, raw, err := fetchConfigFrom(ctx, hc, "https://"+overlay+config.WellKnownPath)
	if err != nil {
		return nil, nil, err
	}
	if doc.Configuration(overlay) == nil {
		return nil, nil, fmt.Errorf("enroll: the configuration served holds no overlay %q", overlay)
	}
	return doc, raw, nil
}
