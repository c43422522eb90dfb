package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
	"go.uber.org/goleak"
)

// pair holds the two ends of a link under test: a is the Attach requester
// (server), b the responder (client).
type pair struct{ a, b *Link }

func (p pair) close() {
	if p.a != nil {
		_ = p.a.Close()
	}
	if p.b != nil {
		_ = p.b.Close()
	}
}

type result struct {
	l   *Link
	err error
}

// both runs the two handshakes concurrently.
func both(fa, fb func() (*Link, error)) (pair, error, error) {
	ca, cb := make(chan result, 1), make(chan result, 1)
	go func() { l, err := fa(); ca <- result{l, err} }()
	go func() { l, err := fb(); cb <- result{l, err} }()
	ra, rb := <-ca, <-cb
	return pair{ra.l, rb.l}, ra.err, rb.err
}

// tlsPair connects two TLS links on real loopback TCP.
func tlsPair(t *testing.T, ctx context.Context, cfgA, cfgB *Config, expectA, expectB wire.NodeID) (pair, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return both(func() (*Link, error) {
		c, err := ln.Accept()
		if err != nil {
			return nil, err
		}
		return NewTLSLink(ctx, c, Requester, expectA, cfgA)
	}, func() (*Link, error) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		return NewTLSLink(ctx, c, Responder, expectB, cfgB)
	})
}

// dtlsPair connects two DTLS-NO-ICE links on real loopback UDP sockets
// through Muxes.
func dtlsPair(t *testing.T, ctx context.Context, cfgA, cfgB *Config, expectA, expectB wire.NodeID) (pair, error, error) {
	t.Helper()
	pa, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := NewMux(pa), NewMux(pb)
	t.Cleanup(func() { _ = ma.Close(); _ = mb.Close() })
	return muxPair(ctx, ma, mb, cfgA, cfgB, expectA, expectB)
}

// muxPair connects two DTLS-NO-ICE links between two Muxes, a the
// requester.
func muxPair(ctx context.Context, ma, mb *Mux, cfgA, cfgB *Config, expectA, expectB wire.NodeID) (pair, error, error) {
	return both(func() (*Link, error) {
		c, err := ma.Conn(mb.LocalAddr())
		if err != nil {
			return nil, err
		}
		return NewDTLSLink(ctx, c, mb.LocalAddr(), Requester, expectA, cfgA)
	}, func() (*Link, error) {
		c, err := mb.Conn(ma.LocalAddr())
		if err != nil {
			return nil, err
		}
		return NewDTLSLink(ctx, c, ma.LocalAddr(), Responder, expectB, cfgB)
	})
}

// exchange sends n messages each way, some of them larger than the MTU,
// reassembles them, and checks that every one arrives. The windowed
// sender delivers in order only while nothing is lost (§6.6.3 leaves
// order to the layers above), so arrival order is not checked.
func exchange(t *testing.T, ctx context.Context, p pair, n int, sizes []int) {
	t.Helper()
	errc := make(chan error, 2)
	dir := func(from, to *Link, base uint64) {
		go func() {
			for i := range n {
				pad := sizes[i%len(sizes)]
				if err := from.Send(ctx, pingMessage(t, base+uint64(i), pad, nodeID(1), nodeID(2))); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		r := NewReassembler(ReassemblyConfig{})
		seen := map[uint64]bool{}
		for i := 0; i < n; {
			m, err := to.Receive(ctx)
			if err != nil {
				t.Fatalf("receive %d: %v (sender: %v)", i, err, from.Err())
			}
			w, err := r.Add(1, m, time.Now())
			if err != nil {
				t.Fatalf("reassemble %d: %v", i, err)
			}
			if w == nil {
				continue
			}
			// Simple reliability may deliver a message twice (a spurious
			// retransmission under a new sequence number); the forwarding
			// layer drops duplicates by transaction ID.
			var h wire.ForwardingHeader
			if _, err := h.Decode(w); err != nil {
				t.Fatal(err)
			}
			if seen[h.TransactionID] {
				continue
			}
			seen[h.TransactionID] = true
			k := h.TransactionID - base
			if k >= uint64(n) {
				t.Fatalf("message %d was never sent", h.TransactionID)
			}
			want := pingMessage(t, base+k, sizes[k%uint64(len(sizes))], nodeID(1), nodeID(2))
			if !bytes.Equal(w, want) {
				t.Fatalf("message %d differs (%d bytes, want %d)", k, len(w), len(want))
			}
			i++
		}
	}
	dir(p.a, p.b, 1000)
	dir(p.b, p.a, 2000)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func testConfigs(t *testing.T) (*testCA, *Config, *Config) {
	ca := newTestCA(t)
	fast := ReliabilityConfig{NoAckGap: true}
	return ca,
		&Config{Certificate: ca.node(t, nodeID(0xa)), Verifier: ca, Reliability: fast},
		&Config{Certificate: ca.node(t, nodeID(0xb)), Verifier: ca, Reliability: fast}
}

func TestLinksLoopback(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name  string
		dial  func(*testing.T, context.Context, *Config, *Config, wire.NodeID, wire.NodeID) (pair, error, error)
		typ   LinkType
		sizes []int
	}{
		{"TLS", tlsPair, LinkTLSTCPFHNoICE, []int{10, 70000 - 200, 3000}},
		{"DTLS", dtlsPair, LinkDTLSUDPSRNoICE, []int{10, 900, 5000, 20000}},
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
			if p.a.Type() != tc.typ || p.a.PeerNodeID() != nodeID(0xb) || p.b.PeerNodeID() != nodeID(0xa) {
				t.Fatalf("type %v peers %v %v", p.a.Type(), p.a.PeerNodeIDs(), p.b.PeerNodeIDs())
			}
			exchange(t, ctx, p, 40, tc.sizes)
			if st := p.a.Stats(); st.Messages == 0 || st.Received == 0 {
				t.Fatalf("stats %+v", st)
			}
			_ = p.a.Close()
			if !errors.Is(p.a.Err(), ErrClosed) {
				t.Fatalf("err after close %v", p.a.Err())
			}
			select {
			case <-p.b.Done():
			case <-ctx.Done():
				t.Fatal("peer did not see the close")
			}
		})
	}
}

func TestLinkAuthentication(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	other := newTestCA(t)
	good := func(id byte) *Config {
		return &Config{Certificate: ca.node(t, nodeID(id)), Verifier: ca}
	}
	expired := &Config{Certificate: ca.issue(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour), nodeID(0xb)), Verifier: ca}
	stranger := &Config{Certificate: other.node(t, nodeID(0xb)), Verifier: ca}
	tests := []struct {
		name    string
		a, b    *Config
		expectA wire.NodeID // what a expects of b
		expectB wire.NodeID
	}{
		{"unknown CA", good(0xa), stranger, nodeID(0xb), nodeID(0xa)},
		{"expired", good(0xa), expired, nodeID(0xb), nodeID(0xa)},
		{"requester expects another node", good(0xa), good(0xb), nodeID(0xc), nodeID(0xa)},
		{"responder expects another node", good(0xa), good(0xb), nodeID(0xb), nodeID(0xc)},
		{"responder sees unknown CA", &Config{Certificate: other.node(t, nodeID(0xa)), Verifier: ca}, good(0xb), nodeID(0xb), nodeID(0xa)},
	}
	dials := map[string]func(*testing.T, context.Context, *Config, *Config, wire.NodeID, wire.NodeID) (pair, error, error){
		"TLS": tlsPair, "DTLS": dtlsPair,
	}
	for _, kind := range []string{"TLS", "DTLS"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				p, ea, eb := dials[kind](t, ctx, tt.a, tt.b, tt.expectA, tt.expectB)
				defer p.close()
				if ea == nil && eb == nil {
					t.Fatal("link came up")
				}
				// Whichever side accepted the handshake, it must not be
				// left with a working link.
				for _, l := range []*Link{p.a, p.b} {
					if l == nil {
						continue
					}
					select {
					case <-l.Done():
					case <-ctx.Done():
						t.Fatal("one side kept a link to an unauthenticated peer")
					}
				}
			})
		}
	}
}

// TestLinkFailureDetected black-holes a DTLS link and checks that the
// sender declares it failed after five transmissions, telling Receive,
// Send and Done.
func TestLinkFailureDetected(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	cfgA.Reliability = ReliabilityConfig{InitialRTO: 20 * time.Millisecond, MinRTO: 20 * time.Millisecond, NoAckGap: true}
	ca, cb := memPipe(0, 0, 1)
	p, ea, eb := both(func() (*Link, error) {
		return NewDTLSLink(ctx, ca, cb.local, Requester, wire.NodeID{}, cfgA)
	}, func() (*Link, error) {
		return NewDTLSLink(ctx, cb, ca.local, Responder, wire.NodeID{}, cfgB)
	})
	defer p.close()
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	exchange(t, ctx, p, 3, []int{10})
	ca.setLoss(1)
	if err := p.a.Send(ctx, pingMessage(t, 1, 10, nodeID(1), nodeID(2))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.a.Done():
	case <-ctx.Done():
		t.Fatal("failure not detected")
	}
	if !errors.Is(p.a.Err(), ErrLinkFailed) {
		t.Fatalf("err %v", p.a.Err())
	}
	if err := p.a.Send(ctx, []byte("x")); !errors.Is(err, ErrLinkFailed) {
		t.Fatalf("send after failure: %v", err)
	}
	if st := p.a.Stats(); st.Retransmissions < 4 {
		t.Fatalf("stats %+v", st)
	}
}
