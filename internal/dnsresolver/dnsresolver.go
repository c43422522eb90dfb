package dnsresolver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// New returns a resolver that sends every query to the DNS server at
// server (host:port) with Go's own DNS client, instead of the system's
// servers; an empty server means the system resolver.
func New(server string) (*net.Resolver, error) {
	if server == "" {
		return net.DefaultResolver, nil
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil || host == "" {
		return nil, fmt.Errorf("DNS server %q: want HOST:PORT", server)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return nil, fmt.Errorf("DNS server %q: bad port", server)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
	}, nil
}
