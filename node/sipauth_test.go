package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	usip "github.com/goreload/reload/usage/sip"
	"github.com/goreload/reload/usage/sip/sipua"
	"github.com/icholy/digest"
)

// sipPassword is the digest password of node i's user (node1, node2, …)
// in the SIP tests.
func sipPassword(i int) string { return fmt.Sprintf("sip-secret-%d", i+1) }

// sipConfig is the SIP front end of node i on udp, with digest
// credentials for node i's own user.
func sipConfig(i int, udp string) *SIPConfig {
	return &SIPConfig{UDPAddr: udp, Credentials: usip.Credentials{fmt.Sprintf("node%d", i+1): {Password: sipPassword(i)}}}
}

// rogueUA is an attacker's SIP user agent: a plain UDP socket that sends
// hand-built requests to a front end and reads the answers.
type rogueUA struct {
	t    *testing.T
	c    net.PacketConn
	fe   net.Addr
	seq  int
	port int
}

func newRogueUA(t *testing.T, fe net.Addr) *rogueUA {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rogueUA{t: t, c: c, fe: fe, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// contact is the rogue's own address, the contact it tries to bind.
func (r *rogueUA) contact(user string) string {
	return "sip:" + user + "@127.0.0.1:" + strconv.Itoa(r.port)
}

func (r *rogueUA) register(aor, auth string) *sip.Response {
	r.t.Helper()
	r.seq++
	user, _, _ := strings.Cut(aor, "@")
	h := []string{
		"REGISTER sip:" + aor[len(user)+1:] + " SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(r.port) + ";branch=z9hG4bK-rogue" + strconv.Itoa(r.seq),
		"From: <sip:" + aor + ">;tag=rogue" + strconv.Itoa(r.seq),
		"To: <sip:" + aor + ">",
		"Call-ID: rogue-reg-" + strconv.Itoa(r.port),
		"CSeq: " + strconv.Itoa(r.seq) + " REGISTER",
		"Contact: <" + r.contact(user) + ">",
		"Expires: 300",
		"Max-Forwards: 70",
	}
	if auth != "" {
		h = append(h, "Authorization: "+auth)
	}
	return r.roundTrip(strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

func (r *rogueUA) invite(aor string) *sip.Response {
	r.t.Helper()
	r.seq++
	h := []string{
		"INVITE sip:" + aor + " SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(r.port) + ";branch=z9hG4bK-rogue" + strconv.Itoa(r.seq),
		"From: <sip:mallory@127.0.0.1>;tag=rogue" + strconv.Itoa(r.seq),
		"To: <sip:" + aor + ">",
		"Call-ID: rogue-inv-" + strconv.Itoa(r.seq),
		"CSeq: 1 INVITE",
		"Contact: <sip:mallory@127.0.0.1:" + strconv.Itoa(r.port) + ">",
		"Max-Forwards: 70",
	}
	return r.roundTrip(strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

// roundTrip sends msg and returns the final response to it.
func (r *rogueUA) roundTrip(msg string) *sip.Response {
	r.t.Helper()
	if _, err := r.c.WriteTo([]byte(msg), r.fe); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_ = r.c.SetReadDeadline(deadline)
		n, _, err := r.c.ReadFrom(buf)
		if err != nil {
			r.t.Fatalf("no answer to\n%s: %v", msg, err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		if res, ok := m.(*sip.Response); ok && !res.IsProvisional() {
			return res
		}
	}
}

// digestAnswer answers the MD5 challenge of a 401 as user with password.
func digestAnswer(t *testing.T, res *sip.Response, uri, user, password string) string {
	t.Helper()
	if res.StatusCode != 401 {
		t.Fatalf("want a 401 challenge, got %d %s", res.StatusCode, res.Reason)
	}
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil || chal.Algorithm != "MD5" {
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: user, Password: password, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	t.Fatalf("no MD5 challenge in\n%s", res)
	return ""
}

// TestSIPRogueRegister is the attack on the SIP front end of a real node
// over real UDP sockets: a host that reaches the SIP socket tries to bind
// the node user's AOR (node2) to its own contact, without credentials,
// with a wrong password, and with other users' AORs. Each attempt is
// refused (401, 403) and binds nothing; the legitimate phone registers
// with its password, and a call from another peer reaches it, not the
// rogue. The rogue's unauthenticated INVITE is challenged (407).
func TestSIPRogueRegister(t *testing.T) {
	c := startCluster(t, 3, func(i int, cfg *Config) {
		cfg.SIP = sipConfig(i, "127.0.0.1:0")
		if i == 1 {
			// A misconfigured credentials file also naming node1, whose
			// AOR this node's certificate does not carry.
			cfg.SIP.Credentials["node1"] = usip.Secret{Password: "node1-here"}
		}
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	domain := c.ov.Name
	nd := c.nodes[1]
	aor := "node2@" + domain
	rogue := newRogueUA(t, nd.SIP().UDPAddr())
	noBinding := func(step string) {
		t.Helper()
		if b := nd.SIP().Bindings(aor); len(b) != 0 {
			t.Fatalf("%s: %s is bound to %v", step, aor, b)
		}
	}

	// 1. No credentials: 401 with a challenge, nothing bound.
	res := rogue.register(aor, "")
	if res.StatusCode != 401 || res.GetHeader("WWW-Authenticate") == nil {
		t.Fatalf("unauthenticated REGISTER: %d %s, want 401 with WWW-Authenticate", res.StatusCode, res.Reason)
	}
	noBinding("unauthenticated REGISTER")
	// 2. A wrong password: 403.
	res = rogue.register(aor, digestAnswer(t, res, "sip:"+domain, "node2", "guess"))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER with a wrong password: %d %s, want 403", res.StatusCode, res.Reason)
	}
	noBinding("wrong password")
	// 3. Another user's AOR, with that user's right credentials, at a node
	// that may not store it (USER-NODE-MATCH): 403, not 500.
	res = rogue.register("node1@"+domain, "")
	res = rogue.register("node1@"+domain, digestAnswer(t, res, "sip:"+domain, "node1", "node1-here"))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER of an AOR the node cannot store: %d %s, want 403", res.StatusCode, res.Reason)
	}
	if b := nd.SIP().Bindings("node1@" + domain); len(b) != 0 {
		t.Fatalf("node1 bound at node2's peer: %v", b)
	}
	// 4. node2's AOR with node1's right credentials: 403 (only the AOR's
	// own user may register it).
	res = rogue.register(aor, "")
	res = rogue.register(aor, digestAnswer(t, res, "sip:"+domain, "node1", "node1-here"))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER of node2 as node1: %d %s, want 403", res.StatusCode, res.Reason)
	}
	noBinding("another user's credentials")

	// The legitimate phone registers with its password and is called.
	callee := c.phone(ctx, t, 1)
	if b := nd.SIP().Bindings(aor); len(b) != 1 || !strings.Contains(b[0].Contact, ":"+strconv.Itoa(callee.Addr().Port)) {
		t.Fatalf("bindings after the phone registered: %v", b)
	}
	// The rogue tries again after it: still 401, the binding unchanged.
	if res = rogue.register(aor, ""); res.StatusCode != 401 {
		t.Fatalf("unauthenticated REGISTER after the phone's: %d, want 401", res.StatusCode)
	}
	if b := nd.SIP().Bindings(aor); len(b) != 1 || strings.Contains(b[0].Contact, ":"+strconv.Itoa(rogue.port)) {
		t.Fatalf("bindings after the rogue's second attempt: %v", b)
	}
	caller := c.phone(ctx, t, 2)
	call, err := caller.Call(ctx, "node2")
	if err != nil {
		t.Fatalf("call to node2: %v", err)
	}
	if call.Responses[len(call.Responses)-1] != 200 || callee.Answered() != 1 {
		t.Fatalf("the call did not reach the phone: responses %v, answered %d", call.Responses, callee.Answered())
	}

	// The rogue's own INVITE is challenged, not routed.
	if res = rogue.invite(aor); res.StatusCode != 407 || res.GetHeader("Proxy-Authenticate") == nil {
		t.Fatalf("unauthenticated INVITE: %d %s, want 407 with Proxy-Authenticate", res.StatusCode, res.Reason)
	}
	if callee.Answered() != 1 {
		t.Fatalf("the phone answered %d calls, want 1", callee.Answered())
	}
	if v := scrape(t, nd)[`reload_sip_auth_total{result="forbidden"}`]; v < 3 {
		t.Errorf("reload_sip_auth_total{result=\"forbidden\"} = %v, want >= 3", v)
	}
}

// TestSIPPhoneWithoutPassword: a phone with no password is refused by the
// registrar (the front end asks for credentials it cannot give).
func TestSIPPhoneWithoutPassword(t *testing.T) {
	c := startCluster(t, 1, func(i int, cfg *Config) { cfg.SIP = sipConfig(i, "127.0.0.1:0") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := sipua.New(sipua.Config{User: "node1", Domain: c.ov.Name, Proxy: c.nodes[0].SIP().UDPAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Register(ctx, time.Minute); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("REGISTER without a password: %v, want 401", err)
	}
	if b := c.nodes[0].SIP().Bindings(p.AOR()); len(b) != 0 {
		t.Fatalf("bindings: %v", b)
	}
}

// TestSIPRequiresCredentials: a node with the SIP front end and no
// credentials does not start, unless NoAuth says so.
func TestSIPRequiresCredentials(t *testing.T) {
	c := startCluster(t, 1, nil)
	ids, err := c.ov.Identities(2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Overlay: c.ov.Config, Identity: ids[1], TickLength: 50 * time.Millisecond,
		Bootstrap: []string{c.nodes[0].Addr()}, SIP: &SIPConfig{UDPAddr: "127.0.0.1:0"}}
	if nd, err := New(cfg); !errors.Is(err, usip.ErrNoCredentials) {
		if nd != nil {
			nd.Close()
		}
		t.Fatalf("New with SIP and no credentials: %v, want ErrNoCredentials", err)
	}
	cfg.SIP.NoAuth = true
	nd, err := New(cfg)
	if err != nil {
		t.Fatalf("New with NoAuth: %v", err)
	}
	nd.Close()
}
