package transport

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// A STUN client on a real UDP socket learns its own address from the
// server's XOR-MAPPED-ADDRESS (RFC 5389 §7.3.1, §15.2).
func TestSTUNServerBinding(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- (&STUNServer{Software: "reload test"}).Serve(pc) }()
	defer func() {
		pc.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	c, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(setters ...stun.Setter) *stun.Message {
		t.Helper()
		req := stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.BindingRequest}, setters...)...)
		if _, err := c.Write(req.Raw); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		resp := &stun.Message{Raw: buf[:n]}
		if err := resp.Decode(); err != nil {
			t.Fatal(err)
		}
		if resp.TransactionID != req.TransactionID {
			t.Fatal("transaction ID not echoed")
		}
		if err := stun.Fingerprint.Check(resp); err != nil {
			t.Errorf("fingerprint: %v", err)
		}
		return resp
	}

	resp := ask(stun.Fingerprint)
	if resp.Type != stun.BindingSuccess {
		t.Fatalf("type %v, want binding success", resp.Type)
	}
	var xa stun.XORMappedAddress
	if err := xa.GetFrom(resp); err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(*net.UDPAddr)
	if !xa.IP.Equal(local.IP) || xa.Port != local.Port {
		t.Errorf("mapped %v:%d, want %v", xa.IP, xa.Port, local)
	}
	var sw stun.Software
	if err := sw.GetFrom(resp); err != nil || sw.String() != "reload test" {
		t.Errorf("software %q, %v", sw, err)
	}

	// An unknown comprehension-required attribute: 420 naming it.
	resp = ask(stun.RawAttribute{Type: 0x7f01, Value: []byte{1, 2, 3, 4}})
	if resp.Type != stun.NewType(stun.MethodBinding, stun.ClassErrorResponse) {
		t.Fatalf("type %v, want binding error", resp.Type)
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(resp); err != nil || code.Code != stun.CodeUnknownAttribute {
		t.Errorf("error code %v, %v", code, err)
	}
	var ua stun.UnknownAttributes
	if err := ua.GetFrom(resp); err != nil || len(ua) != 1 || ua[0] != 0x7f01 {
		t.Errorf("unknown attributes %v, %v", ua, err)
	}
}

// Datagrams that are not Binding requests get no answer, and none makes
// the server fail.
func TestSTUNServerIgnoresOthers(t *testing.T) {
	s := &STUNServer{}
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5000}
	ind := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	ok := stun.MustBuild(stun.TransactionID, stun.BindingSuccess)
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	for name, b := range map[string][]byte{
		"empty": nil, "short": {0, 1, 0}, "dtls": {22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"indication": ind.Raw, "response": ok.Raw, "truncated": req.Raw[:len(req.Raw)-1],
		"bad length": append(append([]byte(nil), req.Raw[:2]...), append([]byte{0xff, 0xfc}, req.Raw[4:]...)...),
	} {
		if resp := s.Answer(b, from); resp != nil {
			t.Errorf("%s: answered %x", name, resp)
		}
	}
	if resp := s.Answer(req.Raw, &net.TCPAddr{IP: from.IP, Port: from.Port}); resp != nil {
		t.Error("answered a non-UDP source")
	}
	if resp := s.Answer(req.Raw, from); resp == nil {
		t.Error("no answer to a Binding request")
	}
}
