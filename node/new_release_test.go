package node

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// freeAddr is a loopback address on network ("tcp" or "udp") that was
// free a moment ago.
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	var addr string
	switch network {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	default:
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		pc.Close()
	}
	return addr
}

// busyAddr is a loopback address on network that stays taken until the
// test ends.
func busyAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "tcp" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().String()
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// A New that fails at a late step releases everything it acquired before
// (the storage and SIP bindings files, which bbolt locks, the TLS and UDP
// sockets, the engine and its goroutines): a second New with the same data
// directory and addresses starts at once instead of timing out on the file
// lock, and no goroutine is left behind.
func TestNewFailureReleasesEverything(t *testing.T) {
	ov, err := nodetest.NewOverlay("release.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ov.Identity("node1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fail func(t *testing.T, c *Config)
	}{
		{"TLS address in use", func(t *testing.T, c *Config) { c.ListenTLS = busyAddr(t, "tcp") }},
		{"UDP address in use", func(t *testing.T, c *Config) { c.ListenUDP = busyAddr(t, "udp") }},
		// The SIP front end starts last: the storage file, the TLS
		// listener, the UDP socket and the engine are all held by then,
		// and the front end has opened sip.db and bound its UDP address.
		{"SIP address in use", func(t *testing.T, c *Config) { c.SIP.TCPAddr = busyAddr(t, "tcp") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			good := Config{
				Overlay: ov.Config, Identity: id, DataDir: t.TempDir(), TickLength: 50 * time.Millisecond,
				ListenTLS: freeAddr(t, "tcp"), ListenUDP: freeAddr(t, "udp"),
				SIP: &SIPConfig{UDPAddr: freeAddr(t, "udp"), TCPAddr: freeAddr(t, "tcp"), NoAuth: true},
			}
			bad := good
			sip := *good.SIP
			bad.SIP = &sip
			tc.fail(t, &bad)
			if nd, err := New(bad); !errors.Is(err, syscall.EADDRINUSE) {
				if err == nil {
					nd.Close()
				}
				t.Fatalf("New with an address in use: %v", err)
			}

			start := time.Now()
			nd, err := New(good)
			if err != nil {
				t.Fatalf("New after a failed New: %v (after %v)", err, time.Since(start))
			}
			if err := nd.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Close releases what New acquired once: a second Close does nothing and
// returns nil, and the data directory can be opened again.
func TestCloseTwice(t *testing.T) {
	checkLeaks(t)
	ov, err := nodetest.NewOverlay("release.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ov.Identity("node1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Overlay: ov.Config, Identity: id, DataDir: t.TempDir(), Seed: true, TickLength: 50 * time.Millisecond,
		SIP: &SIPConfig{UDPAddr: "127.0.0.1:0", NoAuth: true}}
	for range 2 {
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := nd.Close(); err != nil {
				t.Fatalf("Close %d: %v", i+1, err)
			}
		}
	}
}

// RFC 7851 §7: the configuration's diagnostic-kind elements say which
// nodes may read which diagnostics. A rule New cannot read must stop the
// node, not leave the diagnostics it was to restrict open to every node.
// (config.Parse refuses such a document; a Configuration built in code
// reaches New as it is.)
func TestNewRefusesMalformedDiagnosticAccessRule(t *testing.T) {
	checkLeaks(t)
	const ok = "0123456789abcdef0123456789abcdef"
	for name, tc := range map[string]struct {
		dk    config.DiagnosticKind
		names string // what the error must name
	}{
		"access-node not hex":   {config.DiagnosticKind{Kind: 0x0009, AccessNodes: []string{ok, "0123456789abcdef0123456789abcdeg"}}, "0123456789abcdef0123456789abcdeg"},
		"access-node too short": {config.DiagnosticKind{Kind: 0x0001, AccessNodes: []string{"0123456789abcdef0123456789abcd"}}, "0123456789abcdef0123456789abcd"},
		"reserved kind":         {config.DiagnosticKind{Kind: 0xffff, AccessNodes: []string{ok}}, "0xffff"},
	} {
		t.Run(name, func(t *testing.T) {
			ov, err := nodetest.NewOverlay("diag.example.org", func(c *config.Configuration) {
				c.DiagnosticKinds = []config.DiagnosticKind{tc.dk}
			})
			if err != nil {
				t.Fatal(err)
			}
			id, err := ov.Identity("node1")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			nd, err := New(Config{Overlay: ov.Config, Identity: id, DataDir: dir})
			if err == nil {
				nd.Close()
				t.Fatal("New started a node with a diagnostic access rule it cannot read")
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("error %q does not name %q", err, tc.names)
			}
			if tc.dk.Kind != 0xffff && !errors.Is(err, wire.ErrInvalid) {
				t.Fatalf("error %v does not wrap wire.ErrInvalid", err)
			}
			// Nothing is held: the same data directory opens at once.
			ov.Config.DiagnosticKinds = nil
			nd, err = New(Config{Overlay: ov.Config, Identity: id, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			nd.Close()
		})
	}
}
