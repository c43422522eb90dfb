package portmap

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNATPMP is a NAT-PMP server (RFC 6886 §3.2, §3.3) on a loopback
// address, with a public address of 203.0.113.7, that grants every
// mapping for its lifetime (capped at maxLife) on the requested port.
type fakeNATPMP struct {
	conn    *net.UDPConn
	maxLife uint32

	mu       sync.Mutex
	maps     map[uint16]uint32 // internal UDP port → lifetime
	requests int
	deleted  []uint16
}

func startFakeNATPMP(t *testing.T, addr string, maxLife uint32) *fakeNATPMP {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	f := &fakeNATPMP{conn: c, maxLife: maxLife, maps: map[uint16]uint32{}}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if resp := f.answer(buf[:n]); resp != nil {
				_, _ = c.WriteToUDP(resp, from)
			}
		}
	}()
	return f
}

func (f *fakeNATPMP) answer(req []byte) []byte {
	if len(req) < 2 || req[0] != 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	switch op := req[1]; {
	case op == 0 && len(req) == 2:
		r := []byte{0, 128, 0, 0, 0, 0, 0, 1, 203, 0, 113, 7}
		return r
	case (op == 1 || op == 2) && len(req) == 12:
		in := binary.BigEndian.Uint16(req[4:])
		ext := binary.BigEndian.Uint16(req[6:])
		life := min(binary.BigEndian.Uint32(req[8:]), f.maxLife)
		if life == 0 {
			delete(f.maps, in)
			f.deleted = append(f.deleted, in)
			ext = 0
		} else {
			f.maps[in] = life
			if ext == 0 {
				ext = in
			}
		}
		r := make([]byte, 16)
		r[1] = 128 + op
		binary.BigEndian.PutUint32(r[4:], 1)
		binary.BigEndian.PutUint16(r[8:], in)
		binary.BigEndian.PutUint16(r[10:], ext)
		binary.BigEndian.PutUint32(r[12:], life)
		return r
	}
	return nil
}

func (f *fakeNATPMP) state() (maps map[uint16]uint32, requests int, deleted []uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[uint16]uint32{}
	for k, v := range f.maps {
		m[k] = v
	}
	return m, f.requests, append([]uint16(nil), f.deleted...)
}

func TestNATPMPDiscoverMapUnmap(t *testing.T) {
	f := startFakeNATPMP(t, "127.77.0.1:5351", 3600)
	ctx := context.Background()
	g, err := Discover(ctx, Config{Gateway: netip.MustParseAddr("127.77.0.1"), NoUPnP: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Method() != "nat-pmp" || !g.InternalAddr().IsLoopback() {
		t.Fatalf("gateway %s internal %s", g.Method(), g.InternalAddr())
	}
	m, err := g.Map(ctx, "udp", 40123, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("203.0.113.7:40123"); m.External != want || m.Lease != time.Hour || m.Internal.Port() != 40123 {
		t.Fatalf("mapping %+v, want external %s for an hour", m, want)
	}
	if maps, _, _ := f.state(); maps[40123] != 3600 {
		t.Fatalf("server holds %v", maps)
	}
	if err := g.Unmap(ctx, m); err != nil {
		t.Fatal(err)
	}
	if maps, _, del := f.state(); len(maps) != 0 || len(del) != 1 || del[0] != 40123 {
		t.Fatalf("after unmap: %v, deleted %v", maps, del)
	}
}

func TestMapBadArguments(t *testing.T) {
	g := &Gateway{method: "nat-pmp", c: natpmpClient{}}
	for _, tc := range []struct {
		proto string
		port  uint16
		lease time.Duration
	}{{"sctp", 1, time.Hour}, {"udp", 0, time.Hour}, {"udp", 1, time.Millisecond}} {
		if _, err := g.Map(context.Background(), tc.proto, tc.port, tc.lease); err == nil {
			t.Errorf("Map(%q, %d, %v) succeeded", tc.proto, tc.port, tc.lease)
		}
	}
}

func TestDiscoverNoGateway(t *testing.T) {
	// Nothing answers NAT-PMP on this address.
	_, err := Discover(context.Background(), Config{Gateway: netip.MustParseAddr("127.77.0.2"), NoUPnP: true, Timeout: time.Second})
	if !errors.Is(err, ErrNoGateway) {
		t.Fatalf("err = %v, want ErrNoGateway", err)
	}
}

// The Keeper maps, renews at half the granted lease and removes the
// mapping on Close.
func TestKeeperRenewsAndRemoves(t *testing.T) {
	f := startFakeNATPMP(t, "127.77.0.3:5351", 2) // grants 2 s leases
	changed := make(chan Mapping, 4)
	k := Keep(KeepConfig{
		Config:   Config{Gateway: netip.MustParseAddr("127.77.0.3"), NoUPnP: true},
		Protocol: "udp", Port: 40124, Lease: time.Hour, Retry: 100 * time.Millisecond,
		OnChange: func(m Mapping, ok bool) {
			if ok {
				changed <- m
			}
		},
	})
	select {
	case m := <-changed:
		if m.External != netip.MustParseAddrPort("203.0.113.7:40124") {
			t.Fatalf("mapped %s", m.External)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no mapping: %v", k.Err())
	}
	// Renewals: each costs an external-address and a mapping request.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, n, _ := f.state()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests: not renewed", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, ok := k.Mapping(); !ok || m.External.Port() != 40124 {
		t.Fatalf("Mapping() = %v, %v", m, ok)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if maps, _, del := f.state(); len(maps) != 0 || len(del) != 1 {
		t.Fatalf("after Close: %v, deleted %v", maps, del)
	}
	if _, ok := k.Mapping(); ok {
		t.Fatal("Mapping() after Close")
	}
}

func TestParseRoutes(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
eth0	00000000	0100A8C0	0003	0	0	0	00000000	0	0	0
`
	a, err := parseRoutes(strings.NewReader(table))
	if err != nil || a != netip.MustParseAddr("192.168.0.1") {
		t.Fatalf("gateway %v, %v", a, err)
	}
	if _, err := parseRoutes(strings.NewReader("Iface\tDestination\n")); !errors.Is(err, ErrNoDefaultRoute) {
		t.Fatalf("err = %v", err)
	}
}
