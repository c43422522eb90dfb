package forwarding

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// paddedPing is a Ping body of about n bytes.
func paddedPing(n int) []byte {
	b, _ := (&wire.PingReq{Padding: make([]byte, n)}).Append(nil)
	return b
}

// RFC 6940 §6.6, §6.7: at its destination, a message larger than
// max-message-size is answered with Error_Message_Too_Large when it is a
// request, whole or as its first fragment (the first fragment gives the
// size of the body, and the error may be sent before the rest arrives);
// what cannot be answered (a response, a later fragment) is dropped as
// too large.
func TestCoreMessageTooLarge(t *testing.T) {
	const limit = 5000
	big := request(t, 1, wire.CodePingReq, paddedPing(8000), func(m *wire.Message) { m.Header.Destinations = dests(idB) })
	frags, err := transport.Fragment(big, 1200)
	if err != nil || len(frags) < 7 {
		t.Fatalf("%d fragments, %v", len(frags), err)
	}
	bigAnswer := request(t, 1, wire.CodePingAns, paddedPing(8000), func(m *wire.Message) { m.Header.Destinations = dests(idB) })
	small := request(t, 1, wire.CodePingReq, pingBody(), func(m *wire.Message) { m.Header.Destinations = dests(idB) })
	for _, tc := range []struct {
		name string
		msg  []byte
		want ActionKind
	}{
		{"whole request", big, ActAnswer},
		{"first fragment of a request", frags[0], ActAnswer},
		{"last fragment", frags[len(frags)-1], ActDrop},
		{"whole response", bigAnswer, ActDrop},
		{"small request", small, ActDeliver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := local(t, 2)
			l.MaxMessageSize = limit
			c, err := NewCore(CoreConfig{Local: l, Router: &staticRouter{}, Neighbors: neighbors(idA),
				Reassembly: transport.ReassemblyConfig{MaxMessage: limit}})
			if err != nil {
				t.Fatal(err)
			}
			a := c.Process(idA, tc.msg, testStart)
			if a.Kind != tc.want {
				t.Fatalf("%v (%v), want %v", a.Kind, a.Err, tc.want)
			}
			switch a.Kind {
			case ActAnswer:
				if code := errorCode(t, decode(t, a.Head)); code != wire.ErrCodeMessageTooLarge {
					t.Fatalf("answered %v", code)
				}
			case ActDrop:
				if !errors.Is(a.Err, ErrTooLarge) {
					t.Fatalf("dropped for %v, want ErrTooLarge", a.Err)
				}
			}
		})
	}
}

// dtlsNoICE gives an engine a loopback UDP socket and makes it Attach
// with DTLS-UDP-SR-NO-ICE host candidates.
func dtlsNoICE(t *testing.T, o *Options) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.UDP = transport.NewMux(pc)
	o.Config.NoICE = true
	o.Config.OverlayLinkProtocols = []string{"DTLS"}
}

// dtlsEdit gives an engine a DTLS-UDP-SR-NO-ICE socket and the
// overlay's max-message-size max.
func dtlsEdit(t *testing.T, max uint32) func(*Options) {
	return func(o *Options) {
		dtlsNoICE(t, o)
		o.Config.MaxMessageSize = max
		o.Config.OverlayReliabilityTimer = 500 * time.Millisecond
	}
}

// RFC 6940 §6.6, §6.7, §14.9: a peer whose max-message-size is the RFC's
// 5000 bytes receives, over a real DTLS link, a request of about 10 KB
// from a peer that allows 64 KiB (§6.7 fragments of at most the link
// MTU). It answers Error_Message_Too_Large instead of dropping the
// fragments it cannot reassemble, the link stays up and smaller
// requests still go through.
func TestEngineTooLargeAnsweredOverDTLS(t *testing.T) {
	checkLeaks(t)
	a := startEngine(t, 1, &staticRouter{next: idB}, dtlsEdit(t, config.RecommendedMaxMessageSize))
	b := startEngine(t, 2, &staticRouter{}, nil)
	c := startEngine(t, 3, &staticRouter{next: idB}, dtlsEdit(t, config.DefaultMaxMessageSize))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	linkThroughB(ctx, t, a, b, c)
	link, err := a.Attach(ctx, dests(idC))
	if err != nil {
		t.Fatal(err)
	}
	if link.Type() != transport.LinkDTLSUDPSRNoICE {
		t.Fatalf("link type %v", link.Type())
	}
	waitFor(t, func() bool { return c.Table().Connected(idA) })

	_, err = a.Request(ctx, dests(idC), wire.CodePingReq, paddedPing(10000))
	if !isRemoteCode(err, wire.ErrCodeMessageTooLarge) {
		t.Fatalf("10 KB request to a 5000-byte peer: %v, want Error_Message_Too_Large", err)
	}
	if !c.Table().Connected(idA) || !a.Table().Connected(idC) {
		t.Error("the A — C link went down")
	}
	if _, err := a.Request(ctx, dests(idC), wire.CodePingReq, paddedPing(3000)); err != nil {
		t.Fatalf("3 KB request: %v", err)
	}
}

// records keeps the log records at Warn and above.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// find reports whether a record with message msg has the attribute key
// with value val.
func (r *records) find(msg, key, val string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			found = a.Key == key && a.Value.String() == val
			return !found
		})
		if rec.Message == msg && found {
			return true
		}
	}
	return false
}

// RFC 6940 §6.6: over TLS, B's link reads only the head of a message
// larger than B's max-message-size, B answers it with
// Error_Message_Too_Large, and then the session is closed. B logs it at
// Warn, naming the peer that sent it.
func TestEngineTooLargeOverTLSAnsweredThenClosed(t *testing.T) {
	checkLeaks(t)
	logs := &records{}
	a := startEngine(t, 1, &staticRouter{next: idB}, func(o *Options) {
		o.Config.MaxMessageSize = config.RecommendedMaxMessageSize
		o.Config.OverlayReliabilityTimer = 200 * time.Millisecond
	})
	b := startEngine(t, 2, &staticRouter{}, func(o *Options) { o.Logger = slog.New(logs) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := a.DialTLS(ctx, tlsAddr(b), idB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.Table().Connected(idA) })
	// §6.6: "the peer SHOULD send an Error_Message_Too_Large error and
	// then close the TLS or DTLS session".
	if _, err := a.Request(ctx, dests(idB), wire.CodePingReq, paddedPing(10000)); !isRemoteCode(err, wire.ErrCodeMessageTooLarge) {
		t.Fatalf("10 KB request to a 5000-byte peer over TLS: %v, want Error_Message_Too_Large", err)
	}
	waitFor(t, func() bool {
		return logs.find("link closed: the peer sent a message larger than max-message-size", "peer", idA.String())
	})
	waitFor(t, func() bool { return !b.Table().Connected(idA) })
}
