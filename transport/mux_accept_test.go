package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// A peer that opens a DTLS-UDP-SR-NO-ICE link itself (a joining node
// contacting its bootstrap node, RFC 6940 §11.4) reaches the node
// through Mux.Accept: its ClientHello makes the route, the node runs the
// DTLS server's side on it, and the link authenticates both ends. Other
// datagrams from unknown addresses still make no route.
func TestMuxAcceptBootstrapLink(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	cfgA := &Config{Certificate: ca.node(t, nodeID(0xa)), Verifier: ca}
	cfgB := &Config{Certificate: ca.node(t, nodeID(0xb)), Verifier: ca}
	pa, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := NewMux(pa), NewMux(pb)
	defer ma.Close()
	defer mb.Close()

	// Before anyone accepts, and for what is not a ClientHello, no route.
	junk, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if _, err := junk.WriteTo([]byte("not dtls at all, long enough to be looked at"), ma.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return ma.Dropped() == 1 }) {
		t.Fatalf("dropped %d, want 1", ma.Dropped())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type accepted struct {
		l   *Link
		err error
	}
	acc := make(chan accepted, 1)
	go func() {
		pc, raddr, err := ma.Accept()
		if err != nil {
			acc <- accepted{nil, err}
			return
		}
		l, err := NewDTLSLink(ctx, pc, raddr, Requester, nodeID(0xb), cfgA)
		acc <- accepted{l, err}
	}()
	pc, err := mb.Conn(ma.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewDTLSLink(ctx, pc, ma.LocalAddr(), Responder, nodeID(0xa), cfgB)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	r := <-acc
	if r.err != nil {
		t.Fatal(r.err)
	}
	la := r.l
	defer la.Close()
	if la.PeerNodeID() != nodeID(0xb) || lb.PeerNodeID() != nodeID(0xa) {
		t.Fatalf("peers %v, %v", la.PeerNodeID(), lb.PeerNodeID())
	}
	exchange(t, ctx, pair{la, lb}, 5, []int{10, 3000})

	// The address now has its route: Conn refuses it with ErrRouted.
	if _, err := ma.Conn(lb.LocalAddr()); !errors.Is(err, ErrRouted) {
		t.Fatalf("Conn for a routed address: %v, want ErrRouted", err)
	}
	// A junk datagram is still dropped while accepting is on.
	before := ma.Dropped()
	if _, err := junk.WriteTo(make([]byte, 40), ma.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return ma.Dropped() == before+1 }) {
		t.Fatalf("dropped %d, want %d", ma.Dropped(), before+1)
	}
}

// Accept ends with net.ErrClosed once the Mux is closed.
func TestMuxAcceptClosed(t *testing.T) {
	defer goleak.VerifyNone(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(pc)
	errc := make(chan error, 1)
	go func() { _, _, err := m.Accept(); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	m.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestIsClientHello(t *testing.T) {
	hello := make([]byte, 25)
	hello[0], hello[1], hello[2], hello[13] = 22, 0xfe, 0xfd, 1
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
		want bool
	}{
		{"client hello", func(b []byte) []byte { return b }, true},
		{"short", func(b []byte) []byte { return b[:24] }, false},
		{"application data", func(b []byte) []byte { b[0] = 23; return b }, false},
		{"TLS version", func(b []byte) []byte { b[1] = 3; return b }, false},
		{"epoch 1", func(b []byte) []byte { b[4] = 1; return b }, false},
		{"server hello", func(b []byte) []byte { b[13] = 2; return b }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.edit(append([]byte(nil), hello...))
			if got := isClientHello(b); got != tc.want {
				t.Fatalf("isClientHello = %v, want %v", got, tc.want)
			}
		})
	}
}

// A DTLS-UDP-SR-NO-ICE link has no STUN keepalives (RFC 6940 §6.6.6), so
// an idle one sends empty DATA frames by default, acknowledged by the
// peer (§6.6.3); NoICEKeepalive < 0 turns them off.
func TestNoICEKeepaliveDefault(t *testing.T) {
	defer goleak.VerifyNone(t)
	if DefaultNoICEKeepalive <= 0 {
		t.Fatal("keepalives off by default")
	}
	ca := newTestCA(t)
	for _, tc := range []struct {
		name  string
		every time.Duration
		want  bool
	}{
		{"on", 100 * time.Millisecond, true},
		{"off", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgA := &Config{Certificate: ca.node(t, nodeID(0xa)), Verifier: ca, NoICEKeepalive: tc.every}
			cfgB := &Config{Certificate: ca.node(t, nodeID(0xb)), Verifier: ca, NoICEKeepalive: -1}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, ea, eb := dtlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
			defer p.close()
			if ea != nil || eb != nil {
				t.Fatal(ea, eb)
			}
			if tc.want {
				// Idle: the keepalives are sent and acknowledged.
				if !eventually(20*time.Second, func() bool { s := p.a.Stats(); return s.Frames >= 3 && s.Acks >= 3 }) {
					t.Fatalf("no keepalives acknowledged: %+v", p.a.Stats())
				}
				return
			}
			time.Sleep(500 * time.Millisecond)
			if s := p.a.Stats(); s.Frames != 0 {
				t.Fatalf("frames sent on an idle link without keepalives: %+v", s)
			}
		})
	}
}
