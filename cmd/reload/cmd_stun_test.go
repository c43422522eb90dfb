package main

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func TestSTUNURIs(t *testing.T) {
	got, err := stunURIs([]string{"203.0.113.1:3478", "stun:stun.example.org:3478", "[2001:db8::1]:3478"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stun:203.0.113.1:3478", "stun:stun.example.org:3478", "stun:[2001:db8::1]:3478"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %q, want %q", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"203.0.113.1", "stun:", "turn:x:1", ""} {
		if _, err := stunURIs([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// reload node --stun-server answers Binding requests on a real socket.
func TestServeSTUN(t *testing.T) {
	pc, err := serveSTUN("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1500)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	m := &stun.Message{Raw: b[:n]}
	var xa stun.XORMappedAddress
	if err := m.Decode(); err != nil || xa.GetFrom(m) != nil || xa.Port != c.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("response %v, mapped %v: %v", m, xa, err)
	}
}
