package main

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/pion/stun/v4"

	"github.com/goreload/reload/transport"
)

// stunURIs turns the --stun values (host:port, or stun: URIs) into the
// stun: URIs that ICE gathers server-reflexive candidates from.
func stunURIs(vals []string) ([]string, error) {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		u := v
		if !strings.HasPrefix(u, "stun:") {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return nil, fmt.Errorf("--stun %q: want host:port or a stun: URI", v)
			}
			u = "stun:" + v
		}
		if _, err := stun.ParseURI(u); err != nil {
			return nil, fmt.Errorf("--stun %q: %v", v, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// serveSTUN answers STUN Binding requests on the UDP address addr (RFC
// 5389; a peer with a public address serves as the overlay's STUN server,
// RFC 6940 §6.5.1.4) until the returned socket is closed.
func serveSTUN(addr string, log *slog.Logger) (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("STUN server: %w", err)
	}
	go func() {
		if err := (&transport.STUNServer{Software: "reload"}).Serve(pc); err != nil {
			log.Warn("STUN server stopped", "err", err)
		}
	}()
	return pc, nil
}
