package node

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// AppAttach (RFC 6940 §6.5.2) opens an application connection to a peer,
// over TLS links and over DTLS-over-ICE; bytes go both ways.
func TestAppAttach(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(int, *Config)
	}{{"tls", nil}, {"ice", iceLoopback}} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 3, tc.mod)
			c.waitConverged(t, 30*time.Second)
			const app = 61441
			c.nodes[2].HandleApp(app, func(peer wire.NodeID, conn net.Conn) {
				defer conn.Close()
				buf := make([]byte, 5)
				if _, err := io.ReadFull(conn, buf); err == nil {
					conn.Write(append([]byte("echo:"), buf...))
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			id := c.nodes[2].ID()
			conn, peer, err := c.nodes[0].Engine().AppAttach(ctx, []wire.Destination{wire.NodeDest(&id)}, app)
			if err != nil {
				t.Fatalf("AppAttach: %v", err)
			}
			defer conn.Close()
			if peer != id {
				t.Fatalf("peer %s", peer)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 10)
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != "echo:hello" {
				t.Fatalf("got %q %v", got, err)
			}
		})
	}
}
