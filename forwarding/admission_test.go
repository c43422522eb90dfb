package forwarding

import (
	"net"
	"net/netip"
	"testing"
)

// The pending-handshake table never refuses a newcomer: at the
// per-source limit the source's oldest makes room; with the table full,
// the oldest of the source holding the most (the oldest such source on a
// tie); an evicted handshake that ends later is not counted twice.
func TestHandshakeTableEvicts(t *testing.T) {
	h := newHandshakes(6, 3)
	src := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, i}) }
	add := func(s netip.Addr) (*pendingHandshake, *pendingHandshake, string) {
		return h.admit(s, nil)
	}
	a1, _, _ := add(src(1))
	a2, _, _ := add(src(1))
	a3, _, _ := add(src(1))
	a4, ev, why := add(src(1))
	if ev != a1 || why != evictSource {
		t.Fatalf("per-source limit evicted %v (%s), want the source's oldest", ev, why)
	}
	b1, _, _ := add(src(2))
	b2, _, _ := add(src(2))
	if n, busiest := h.pending(); n != 5 || busiest != 3 {
		t.Fatalf("pending %d, busiest %d", n, busiest)
	}
	c1, ev, _ := add(src(3))
	if ev != nil {
		t.Fatalf("evicted %v with room left", ev)
	}
	// Full: 3 from .1, 2 from .2, 1 from .3. A newcomer from a fourth
	// source evicts .1's oldest.
	_, ev, why = add(src(4))
	if ev != a2 || why != evictTotal {
		t.Fatalf("full table evicted %+v (%s), want the busiest source's oldest", ev, why)
	}
	// Now .1 and .2 hold 2 each: the one whose oldest came first, .1, pays.
	_, ev, _ = add(src(5))
	if ev != a3 {
		t.Fatalf("tie evicted %+v, want the source with the oldest", ev)
	}
	h.done(a2) // evicted earlier: no effect
	h.done(b1)
	h.done(b2)
	h.done(c1)
	h.done(a4)
	if n, _ := h.pending(); n != 2 {
		t.Fatalf("%d pending after the ends, want 2", n)
	}
}

// IPv6 sources count by /64; IPv4 by address.
func TestHandshakeSource(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:4000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:4000", "2001:db8:1:2::"},
		{"[fe80::1%eth0]:4000", "fe80::"},
	} {
		ap := netip.MustParseAddrPort(tc.remote)
		c := fakeConn{remote: net.TCPAddrFromAddrPort(ap)}
		if got := sourceOf(c); got.String() != tc.want {
			t.Errorf("%s: source %v, want %s", tc.remote, got, tc.want)
		}
	}
}

type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }
