package transport

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// Link.SendParts delivers head followed by rest as one message, on TLS
// (framed straight into the write buffer) and on DTLS, one frame or
// fragmented (§6.7), and keeps neither part: the caller may reuse both
// as soon as it returns.
func TestLinkSendParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		dial func(*testing.T, context.Context, *Config, *Config, wire.NodeID, wire.NodeID) (pair, error, error)
	}{
		{"TLS", tlsPair},
		{"DTLS", dtlsPair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, cfgA, cfgB := testConfigs(t)
			p, ea, eb := tc.dial(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
			defer p.close()
			if ea != nil || eb != nil {
				t.Fatalf("handshake: %v / %v", ea, eb)
			}
			for _, size := range []int{300, 5000} {
				msg := pingMessage(t, uint64(size), size, nodeID(0xa), nodeID(0xb))
				want := append([]byte(nil), msg...)
				head, rest := msg[:40], msg[40:]
				if err := p.a.SendParts(ctx, head, rest); err != nil {
					t.Fatal(err)
				}
				clear(msg) // SendParts kept nothing
				got, err := p.b.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var h wire.ForwardingHeader
				if _, err := h.Decode(got); err != nil {
					t.Fatal(err)
				}
				if h.IsFragment() {
					r := NewReassembler(ReassemblyConfig{})
					for {
						whole, err := r.Add(1, got, time.Now())
						if err != nil {
							t.Fatal(err)
						}
						if whole != nil {
							got = whole
							break
						}
						if got, err = p.b.Receive(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: got %d bytes, not the message sent", size, len(got))
				}
			}
		})
	}
}
