package sip

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func request(method, ruri, callID string, extra ...string) string {
	h := []string{
		method + " " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-" + callID,
		"From: <sip:t@example.com>;tag=1",
		"To: <sip:bob@example.com>",
		"Call-ID: " + callID,
		"CSeq: 1 " + method,
		"Max-Forwards: 70",
	}
	h = append(h, extra...)
	return strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
}

func replace(msg, old, new string) string { return strings.Replace(msg, old, new, 1) }

func readResponse(t *testing.T, c net.PacketConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestMalformedUDP(t *testing.T) {
	n := newFakeNet()
	fe := n.newPeer(t, 1, nil)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok := request("OPTIONS", "sip:bob@example.com", "x")
	bad := []struct{ name, msg string }{
		{"cseq-number", replace(ok, "CSeq: 1 OPTIONS", "CSeq: one OPTIONS")},
		{"cseq-method", replace(ok, "CSeq: 1 OPTIONS", "CSeq: 1 INVITE")},
		{"no-call-id", replace(ok, "Call-ID: x\r\n", "")},
		{"no-from", replace(ok, "From: <sip:t@example.com>;tag=1\r\n", "")},
		{"max-forwards", replace(ok, "Max-Forwards: 70", "Max-Forwards: lots")},
		{"header-without-colon", replace(ok, "Max-Forwards: 70", "Max-Forwards 70")},
		{"via-without-branch", replace(ok, ";branch=z9hG4bK-x", "")},
		{"tel-request-uri", replace(ok, "sip:bob@example.com SIP", "tel:+4940 SIP")},
		{"bad-to", replace(ok, "To: <sip:bob@example.com>", "To: <sip:bob@example.com")},
	}
	for i, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			msg := strings.ReplaceAll(tc.msg, "Call-ID: x", fmt.Sprintf("Call-ID: bad%d", i))
			if _, err := c.WriteTo([]byte(msg), fe.UDPAddr()); err != nil {
				t.Fatal(err)
			}
			got := readResponse(t, c, 2*time.Second)
			if !strings.HasPrefix(got, "SIP/2.0 400 ") {
				t.Fatalf("got %q, want a 400", got)
			}
		})
	}
	// No answer to things that are not requests, nor to a malformed ACK.
	for _, junk := range []string{
		"hello\r\n\r\n",
		"SIP/2.0 200 OK\r\nCall-ID: z\r\n\r\n",
		replace(request("ACK", "sip:bob@example.com", "y"), "CSeq: 1 ACK", "CSeq: x ACK"),
		"\x00\x01\x02\xff",
	} {
		if _, err := c.WriteTo([]byte(junk), fe.UDPAddr()); err != nil {
			t.Fatal(err)
		}
		if got := readResponse(t, c, 200*time.Millisecond); got != "" {
			t.Fatalf("answer %q to %q", got, junk)
		}
	}
	// Nothing else broke.
	own := request("OPTIONS", "sip:"+fe.UDPAddr().String(), "fine")
	if _, err := c.WriteTo([]byte(own), fe.UDPAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readResponse(t, c, 2*time.Second); !strings.HasPrefix(got, "SIP/2.0 200 ") {
		t.Fatalf("OPTIONS after junk: %q", got)
	}
}

func TestMalformedTCP(t *testing.T) {
	n := newFakeNet()
	fe := n.newPeer(t, 1, nil)
	c, err := net.Dial("tcp", fe.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	readStatus := func() string {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, _ := r.ReadString('\n')
		for { // skip the rest of the message
			l, err := r.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		return line
	}
	ok := strings.ReplaceAll(request("OPTIONS", "sip:"+fe.TCPAddr().String(), "t1"), "SIP/2.0/UDP", "SIP/2.0/TCP")
	bad := replace(ok, "CSeq: 1 OPTIONS", "CSeq: one OPTIONS")
	if _, err := c.Write([]byte(bad + ok)); err != nil {
		t.Fatal(err)
	}
	if s := readStatus(); !strings.HasPrefix(s, "SIP/2.0 400 ") {
		t.Fatalf("first: %q", s)
	}
	if s := readStatus(); !strings.HasPrefix(s, "SIP/2.0 200 ") {
		t.Fatalf("second (framing kept): %q", s)
	}
	// A Content-Length that does not parse loses the framing: 400 and close.
	if _, err := c.Write([]byte(replace(ok, "Content-Length: 0", "Content-Length: x"))); err != nil {
		t.Fatal(err)
	}
	if s := readStatus(); !strings.HasPrefix(s, "SIP/2.0 400 ") {
		t.Fatalf("bad Content-Length: %q", s)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open after lost framing")
	}
}
