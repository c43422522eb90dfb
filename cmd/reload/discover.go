package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/enroll"
)

// dnsServerHelp is the help of --dns-server, shared by the commands that
// fetch the overlay configuration.
const dnsServerHelp = "DNS server HOST:PORT to ask for the configuration server's SRV and address records (default: the system resolver)"

// configSource says where a command gets the overlay configuration from
// the configuration server (RFC 6940 §11.2): the URL given (it always
// wins), or else the server found by DNS SRV for the overlay name.
type configSource struct {
	server    string // configuration server URL (flag serverFlag)
	overlay   string // overlay name
	dnsServer string // host:port, or "" for the system resolver
	caCert    string // PEM file of HTTPS roots, or "" for the system roots

	serverFlag string // "--server" or "--config-server", for messages
}

// addNodeSourceFlags registers the flags of "reload node" that fetch the
// configuration from the configuration server instead of --config.
func addNodeSourceFlags(fs *flag.FlagSet) *configSource {
	s := &configSource{serverFlag: "--config-server"}
	fs.StringVar(&s.overlay, "overlay", "", "overlay name: without --config, fetch the configuration from the overlay's configuration server, found by DNS SRV _reload-config._tcp.NAME (RFC 6940 §11.2); also picks the configuration when the document holds several (default: the first)")
	fs.StringVar(&s.server, "config-server", "", "without --config, fetch the configuration from this configuration server URL, e.g. https://overlay.example.org (instead of DNS)")
	fs.StringVar(&s.dnsServer, "dns-server", "", "DNS server HOST:PORT for this node's lookups: the configuration server's SRV and address records (RFC 6940 §11.2) and, with the SIP front end, the SIP servers of domains outside the overlay (RFC 3263) (default: the system resolver)")
	fs.StringVar(&s.caCert, "ca-cert", "", "PEM file of the CA to trust for the configuration server's HTTPS (default: system roots)")
	return s
}

// check validates the flags before anything is fetched.
func (s *configSource) check() error {
	if s.dnsServer != "" {
		if _, err := enroll.NewResolver(s.dnsServer); err != nil {
			return fmt.Errorf("--dns-server: want HOST:PORT, e.g. 192.0.2.53:53")
		}
	}
	if s.server != "" {
		if _, err := enroll.ConfigURL(s.server); err != nil {
			return fmt.Errorf("%s: %v", s.serverFlag, err)
		}
	}
	return nil
}

// client is an HTTPS client trusting --ca-cert, asking --dns-server.
// serverName, when set, is the name the servers' certificates must match
// instead of the URL's host.
func (s *configSource) client(serverName string) (*enroll.Client, error) {
	var roots *x509.CertPool
	if s.caCert != "" {
		b, err := os.ReadFile(s.caCert)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", s.caCert)
		}
	}
	c := enroll.NewClient(roots, serverName)
	c.DNSServer = s.dnsServer
	return c, nil
}

// fetch gets the configuration document with c and returns it, its
// configuration for the overlay (the first one when no overlay name is
// given) and its bytes. It does not check signatures.
func (s *configSource) fetch(ctx context.Context, c *enroll.Client) (*config.Document, *config.Configuration, []byte, error) {
	var (
		doc   *config.Document
		raw   []byte
		err   error
		where string
	)
	if s.server != "" {
		where = s.server
		doc, raw, err = c.FetchConfig(ctx, s.server)
	} else {
		where = enroll.ConfigSRVName(s.overlay) + " (DNS SRV)"
		doc, raw, err = c.DiscoverConfig(ctx, s.overlay)
	}
	switch {
	case errors.Is(err, enroll.ErrNoConfigServer):
		return nil, nil, nil, hint(fmt.Errorf("fetching the configuration: %w", err),
			fmt.Sprintf("check the overlay name and --dns-server, or give the configuration server's URL with %s", s.serverFlag))
	case err != nil:
		advice := fmt.Sprintf("check %s, and --ca-cert when the server's certificate comes from the overlay's own CA", s.serverFlag)
		if s.server == "" {
			advice = "check the overlay name and --dns-server, and --ca-cert when the server's certificate comes from the overlay's own CA"
		}
		return nil, nil, nil, hint(fmt.Errorf("fetching the configuration from %s: %w", where, err), advice)
	case len(doc.Configurations) == 0:
		return nil, nil, nil, fmt.Errorf("the configuration document from %s holds no configuration", where)
	}
	conf := doc.Configurations[0]
	if s.overlay != "" {
		if conf = doc.Configuration(s.overlay); conf == nil {
			return nil, nil, nil, fmt.Errorf("the configuration document from %s has no overlay %q", where, s.overlay)
		}
	}
	return doc, conf, raw, nil
}

// nodeConfig is the configuration of "reload node": read from path, or,
// without a path, fetched from the configuration server and its
// signature checked (RFC 6940 §11.1–11.2).
func (s *configSource) nodeConfig(ctx context.Context, path string, now time.Time) (*config.Configuration, []byte, error) {
	if path != "" {
		doc, raw, err := readConfig(path)
		if err != nil {
			return nil, nil, err
		}
		conf := doc.Configurations[0]
		if s.overlay != "" {
			if conf = doc.Configuration(s.overlay); conf == nil {
				return nil, nil, fmt.Errorf("%s holds no configuration for overlay %s", path, s.overlay)
			}
		}
		return conf, raw, nil
	}
	c, err := s.client("")
	if err != nil {
		return nil, nil, err
	}
	_, conf, raw, err := s.fetch(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conf.VerifySignature(nil, now); err != nil {
		return nil, nil, fmt.Errorf("configuration of %s: %w", conf.InstanceName, err)
	}
	return conf, raw, nil
}
