package sip

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/usage/sip/sipptest"
	"github.com/goreload/reload/wire"
	"github.com/icholy/digest"
)

var testCreds = Credentials{"bob": {Password: "bob-secret"}, "carol": {Password: "carol-secret"}}

// authPeer is a front end of the fake overlay with digest authentication.
func authPeer(t testing.TB, n *fakeNet, i byte, mod func(*Config)) *Frontend {
	t.Helper()
	return n.newPeer(t, i, func(c *Config) {
		c.NoAuth, c.Credentials = false, testCreds
		if mod != nil {
			mod(c)
		}
	})
}

// uaSocket is a raw SIP user agent on a UDP socket: it sends requests
// built by hand and reads the front end's answers.
type uaSocket struct {
	t    *testing.T
	c    net.PacketConn
	fe   net.Addr
	seq  int
	port int
}

func newUASocket(t *testing.T, fe net.Addr) *uaSocket {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &uaSocket{t: t, c: c, fe: fe, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// register sends a REGISTER of user@example.com binding contact, with
// the extra header lines, and returns the response.
func (u *uaSocket) register(user, contact string, extra ...string) *sip.Response {
	u.t.Helper()
	u.seq++
	h := []string{
		"REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(u.port) + ";branch=z9hG4bK-reg" + strconv.Itoa(u.seq),
		"From: <sip:" + user + "@example.com>;tag=r" + strconv.Itoa(u.seq),
		"To: <sip:" + user + "@example.com>",
		"Call-ID: reg-" + user + "-" + strconv.Itoa(u.port),
		"CSeq: " + strconv.Itoa(u.seq) + " REGISTER",
		"Contact: <" + contact + ">",
		"Expires: 60",
		"Max-Forwards: 70",
	}
	return u.roundTrip(strings.Join(append(h, extra...), "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

// invite sends an out-of-dialog INVITE for callee@example.com.
func (u *uaSocket) invite(callee string, extra ...string) *sip.Response {
	u.t.Helper()
	u.seq++
	h := []string{
		"INVITE sip:" + callee + "@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(u.port) + ";branch=z9hG4bK-inv" + strconv.Itoa(u.seq),
		"From: <sip:mallory@example.com>;tag=i" + strconv.Itoa(u.seq),
		"To: <sip:" + callee + "@example.com>",
		"Call-ID: inv-" + strconv.Itoa(u.port) + "-" + strconv.Itoa(u.seq),
		"CSeq: 1 INVITE",
		"Contact: <sip:mallory@127.0.0.1:" + strconv.Itoa(u.port) + ">",
		"Max-Forwards: 70",
	}
	return u.roundTrip(strings.Join(append(h, extra...), "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

// roundTrip sends msg and returns the first final response.
func (u *uaSocket) roundTrip(msg string) *sip.Response {
	u.t.Helper()
	if _, err := u.c.WriteTo([]byte(msg), u.fe); err != nil {
		u.t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = u.c.SetReadDeadline(deadline)
		n, _, err := u.c.ReadFrom(buf)
		if err != nil {
			u.t.Fatalf("no response to\n%s: %v", msg, err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			u.t.Fatalf("unparsable response: %v\n%s", err, buf[:n])
		}
		if res, ok := m.(*sip.Response); ok && !res.IsProvisional() {
			return res
		}
	}
}

// answer computes the Authorization (or Proxy-Authorization) header
// value for the first challenge of res with the given algorithm ("" for
// the first offered).
func answer(t *testing.T, res *sip.Response, alg, method, uri, user, password string, nc int) string {
	t.Helper()
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	for _, h := range res.GetHeaders(name) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if alg != "" && chal.Algorithm != alg {
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: password, Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	t.Fatalf("no %s challenge in\n%s", alg, res)
	return ""
}

// answerWithNonce is answer for the alg challenge of res with its nonce
// replaced by nonce.
func answerWithNonce(t *testing.T, res *sip.Response, alg, nonce, method, uri, user, password string, nc int) string {
	t.Helper()
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if chal.Algorithm != alg {
			continue
		}
		chal.Nonce = nonce
		cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: password, Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	t.Fatalf("no %s challenge in\n%s", alg, res)
	return ""
}

// TestRegisterRefusedByStoringPeer: a REGISTER whose Store the storing
// peer refused with Error_Forbidden (USER-NODE-MATCH, RFC 7904 §3.3), an
// error answer the overlay reports as a *wire.RemoteError, is answered 403;
// another refusal is a 500.
func TestRegisterRefusedByStoringPeer(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&wire.RemoteError{Code: wire.ErrCodeForbidden, From: nodeID(9)}, 403},
		{fmt.Errorf("store: %w", &wire.RemoteError{Code: wire.ErrCodeForbidden}), 403},
		{&wire.RemoteError{Code: wire.ErrCodeDataTooLarge, From: nodeID(9)}, 500},
		{errors.New("no route"), 500},
	} {
		n := newFakeNet()
		n.storeErr = tc.err
		fe := n.newPeer(t, 1, nil)
		ua := newUASocket(t, fe.UDPAddr())
		if res := ua.register("bob", "sip:bob@127.0.0.1:6666"); res.StatusCode != tc.want {
			t.Errorf("REGISTER with the Store refused (%v): %d, want %d", tc.err, res.StatusCode, tc.want)
		}
	}
}

func TestNewRefusesNoCredentials(t *testing.T) {
	n := newFakeNet()
	_, err := New(Config{Overlay: n.overlay(nodeID(1)), UDPAddr: "127.0.0.1:0", Domain: "example.com"})
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("New without credentials: %v, want ErrNoCredentials", err)
	}
}

// TestRegisterDigest: a REGISTER is bound only with the AOR's own user's
// digest credentials (RFC 3261 §10.3, §22).
func TestRegisterDigest(t *testing.T) {
	n := newFakeNet()
	fe := authPeer(t, n, 1, nil)
	ua := newUASocket(t, fe.UDPAddr())
	rogue := "sip:bob@127.0.0.1:6666"

	res := ua.register("bob", rogue)
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d, want 401", res.StatusCode)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 {
		t.Fatalf("challenges %v, want MD5 and SHA-256", chals)
	}
	for i, alg := range []string{"MD5", "SHA-256"} {
		c, err := digest.ParseChallenge(chals[i].Value())
		if err != nil || c.Realm != "example.com" || c.Algorithm != alg || !c.SupportsQOP("auth") || c.Stale || c.Nonce == "" {
			t.Fatalf("challenge %d %q (%v): want realm example.com, %s, qop auth", i, chals[i].Value(), err, alg)
		}
	}
	if b := fe.Bindings("bob@example.com"); len(b) != 0 {
		t.Fatalf("bindings after an unauthenticated REGISTER: %v", b)
	}

	// Wrong password: 403, nothing bound.
	res = ua.register("bob", rogue, "Authorization: "+answer(t, res, "MD5", "REGISTER", "sip:example.com", "bob", "guess", 1))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER with a wrong password: %d, want 403", res.StatusCode)
	}
	// Unknown user: 403.
	res = ua.register("bob", rogue)
	res = ua.register("bob", rogue, "Authorization: "+answer(t, res, "MD5", "REGISTER", "sip:example.com", "mallory", "x", 1))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER as an unknown user: %d, want 403", res.StatusCode)
	}
	// Another user's AOR with one's own right credentials: 403.
	res = ua.register("bob", rogue)
	res = ua.register("bob", rogue, "Authorization: "+answer(t, res, "MD5", "REGISTER", "sip:example.com", "carol", "carol-secret", 1))
	if res.StatusCode != 403 {
		t.Fatalf("REGISTER of bob's AOR as carol: %d, want 403", res.StatusCode)
	}
	// A forged nonce is challenged again.
	forged := strings.Replace(answer(t, res401(t, ua), "MD5", "REGISTER", "sip:example.com", "bob", "bob-secret", 1), `nonce="`, `nonce="AAAA`, 1)
	if res = ua.register("bob", rogue, "Authorization: "+forged); res.StatusCode != 401 {
		t.Fatalf("REGISTER with a forged nonce: %d, want 401", res.StatusCode)
	}
	if b := fe.Bindings("bob@example.com"); len(b) != 0 {
		t.Fatalf("bindings after refused REGISTERs: %v", b)
	}

	// The right credentials, MD5 and SHA-256.
	good := "sip:bob@127.0.0.1:5070"
	res = ua.register("bob", good)
	auth := answer(t, res, "MD5", "REGISTER", "sip:example.com", "bob", "bob-secret", 1)
	if res = ua.register("bob", good, "Authorization: "+auth); res.StatusCode != 200 {
		t.Fatalf("REGISTER with the right credentials: %d, want 200", res.StatusCode)
	}
	if b := fe.Bindings("bob@example.com"); len(b) != 1 || b[0].Contact != good {
		t.Fatalf("bindings: %v, want %s", b, good)
	}
	// Replaying the same credentials in a new request: the nonce-count
	// did not grow, so the nonce is stale.
	res = ua.register("bob", rogue, "Authorization: "+auth)
	if res.StatusCode != 401 {
		t.Fatalf("replayed credentials: %d, want 401", res.StatusCode)
	}
	if c, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); c == nil || !c.Stale {
		t.Fatalf("replayed credentials: challenge %q, want stale=true", res.GetHeader("WWW-Authenticate").Value())
	}
	res = ua.register("carol", "sip:carol@127.0.0.1:5071")
	if res = ua.register("carol", "sip:carol@127.0.0.1:5071", "Authorization: "+answer(t, res, "SHA-256", "REGISTER", "sip:example.com", "carol", "carol-secret", 1)); res.StatusCode != 200 {
		t.Fatalf("REGISTER with SHA-256: %d, want 200", res.StatusCode)
	}
	if b := fe.Bindings("bob@example.com"); len(b) != 1 || b[0].Contact != good {
		t.Fatalf("bob's bindings after the attacks: %v, want only %s", b, good)
	}
}

func res401(t *testing.T, ua *uaSocket) *sip.Response {
	t.Helper()
	res := ua.register("bob", "sip:bob@127.0.0.1:6666")
	if res.StatusCode != 401 {
		t.Fatalf("want 401, got %d", res.StatusCode)
	}
	return res
}

// TestRegisterDigestStaleNonce: credentials computed over an expired nonce
// get a new challenge with stale=true (RFC 7616 §3.3), and the retry with
// the new nonce succeeds.
//
// The front end reads the real clock, so rather than wait out a lifetime
// the test answers a challenge whose nonce this front end's authenticator
// issued two lifetimes ago (the same HMAC'd nonce a challenge then would
// have carried). A lifetime of a minute, shorter than the default, also
// checks that Config.NonceLifetime is the one in force.
func TestRegisterDigestStaleNonce(t *testing.T) {
	const lifetime = time.Minute
	n := newFakeNet()
	fe := authPeer(t, n, 1, func(c *Config) { c.NonceLifetime = lifetime })
	ua := newUASocket(t, fe.UDPAddr())
	res := ua.register("bob", "sip:bob@127.0.0.1:5070")
	auth := answerWithNonce(t, res, "MD5", fe.auth.nonce(time.Now().Add(-2*lifetime)),
		"REGISTER", "sip:example.com", "bob", "bob-secret", 1)
	res = ua.register("bob", "sip:bob@127.0.0.1:5070", "Authorization: "+auth)
	if res.StatusCode != 401 {
		t.Fatalf("expired nonce: %d, want 401", res.StatusCode)
	}
	if c, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); c == nil || !c.Stale {
		t.Fatalf("expired nonce: challenge %q, want stale=true", res.GetHeader("WWW-Authenticate").Value())
	}
	if res = ua.register("bob", "sip:bob@127.0.0.1:5070", "Authorization: "+answer(t, res, "MD5", "REGISTER", "sip:example.com", "bob", "bob-secret", 1)); res.StatusCode != 200 {
		t.Fatalf("retry with the fresh nonce: %d, want 200", res.StatusCode)
	}
}

// TestRegisterDigestHA1: a secret given as HA1 answers its algorithm only,
// and only that one is offered to its user.
func TestRegisterDigestHA1(t *testing.T) {
	n := newFakeNet()
	sum := md5.Sum([]byte("dave:example.com:dave-secret"))
	creds, err := ParseCredentials(strings.NewReader("# users\ndave HA1-MD5:" + hex.EncodeToString(sum[:]) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	fe := n.newPeer(t, 1, func(c *Config) { c.NoAuth, c.Credentials = false, creds })
	ua := newUASocket(t, fe.UDPAddr())
	res := ua.register("dave", "sip:dave@127.0.0.1:5070")
	if h := res.GetHeaders("WWW-Authenticate"); len(h) != 1 || !strings.Contains(h[0].Value(), "algorithm=MD5") {
		t.Fatalf("challenges for an MD5 HA1: %v", h)
	}
	if res = ua.register("dave", "sip:dave@127.0.0.1:5070", "Authorization: "+answer(t, res, "MD5", "REGISTER", "sip:example.com", "dave", "dave-secret", 1)); res.StatusCode != 200 {
		t.Fatalf("REGISTER with an HA1 secret: %d", res.StatusCode)
	}
}

// TestInviteProxyAuth: an out-of-dialog INVITE of a local user agent is
// challenged with 407 (RFC 3261 §22.3) and routed once it authenticates.
func TestInviteProxyAuth(t *testing.T) {
	n := newFakeNet()
	fe := authPeer(t, n, 1, nil)
	ua := newUASocket(t, fe.UDPAddr())
	res := ua.invite("nobody")
	if res.StatusCode != 407 || res.GetHeader("Proxy-Authenticate") == nil {
		t.Fatalf("INVITE without credentials: %d, want 407 with Proxy-Authenticate", res.StatusCode)
	}
	bad := answer(t, res, "MD5", "INVITE", "sip:nobody@example.com", "bob", "guess", 1)
	if res = ua.invite("nobody", "Proxy-Authorization: "+bad); res.StatusCode != 403 {
		t.Fatalf("INVITE with a wrong password: %d, want 403", res.StatusCode)
	}
	res = ua.invite("nobody")
	good := answer(t, res, "MD5", "INVITE", "sip:nobody@example.com", "bob", "bob-secret", 1)
	// Authenticated, the INVITE is routed: nobody is registered, 404.
	if res = ua.invite("nobody", "Proxy-Authorization: "+good); res.StatusCode != 404 {
		t.Fatalf("authenticated INVITE for an unregistered AOR: %d, want 404", res.StatusCode)
	}
	// OPTIONS for the front end itself needs no credentials.
	opt := request("OPTIONS", "sip:"+fe.UDPAddr().String(), "opt-1")
	if res = ua.roundTrip(opt); res.StatusCode != 200 {
		t.Fatalf("OPTIONS to the front end: %d, want 200", res.StatusCode)
	}
}

func TestParseCredentials(t *testing.T) {
	good := "# comment\n\nalice pw1\n  bob\tHA1-SHA-256:" + strings.Repeat("ab", 32) + "\n"
	c, err := ParseCredentials(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c["alice"].Password != "pw1" || c["bob"].HA1SHA256 != strings.Repeat("ab", 32) || len(c) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{"alice", "alice pw extra", "alice a\nalice b", "bob HA1-MD5:xyz", "bob HA1-SHA-256:abcd"} {
		if _, err := ParseCredentials(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseCredentials(%q) accepted", bad)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "sip-users")
	if err := AppendCredential(p, "alice", "pw1"); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadCredentials(p); err != nil || c["alice"].Password != "pw1" {
		t.Fatalf("LoadCredentials: %v %v", c, err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCredentials(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadCredentials of a world-readable file: %v", err)
	}
}

// TestSippDigestAuth: sipp registers with -au/-ap, answering the 401, and
// a sipp caller answers the 407 of its INVITE; the call completes.
func TestSippDigestAuth(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	n := newFakeNet()
	callee := authPeer(t, n, 1, nil)
	caller := authPeer(t, n, 2, nil)
	uasPort := sipptest.FreePort(t)
	uas := startUAS(ctx, t, uasPort, 2)
	sipptest.WaitUDP(uasPort, 5*time.Second)
	reg := func(password string) error {
		_, err := sipptest.Run(ctx, t, "",
			"-sf", sipptest.Scenario(t, "testdata/register.xml"),
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
			"-key", "user", "bob", "-key", "domain", "example.com",
			"-key", "contact_port", strconv.Itoa(uasPort), "-key", "expires", "60",
			"-au", "bob", "-ap", password,
			"-m", "1", "-timeout", "10s", "-timeout_error",
			hostport(callee.UDPAddr()))
		return err
	}
	if err := reg("wrong"); err == nil {
		t.Fatal("sipp registered with a wrong password")
	}
	if b := callee.Bindings("bob@example.com"); len(b) != 0 {
		t.Fatalf("bindings after a wrong password: %v", b)
	}
	if err := reg("bob-secret"); err != nil {
		t.Fatal(err)
	}
	if b := callee.Bindings("bob@example.com"); len(b) != 1 {
		t.Fatalf("bindings = %v", b)
	}
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "bob", 2, "-au", "carol", "-ap", "carol-secret"); err != nil {
		t.Fatal(err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

// FuzzDigestVerify feeds arbitrary Authorization values to the credential
// check of a front end with authentication: it must never panic nor
// accept them (they cannot hold a right response to a nonce of its own).
func FuzzDigestVerify(f *testing.F) {
	f.Add(`Digest username="bob", realm="example.com", nonce="x", uri="sip:example.com", response="00", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest username="bob",realm="example.com",nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",uri="sip:example.com",response="d41d8cd98f00b204e9800998ecf8427e",algorithm=MD5`)
	f.Add(`Digest realm="example.com", nc=zz`)
	f.Add(`Basic Ym9iOnNlY3JldA==`)
	f.Add(`Digest username="bob", realm="example.com", algorithm=SHA-512-256, userhash=true`)
	a, err := newAuthenticator("example.com", testCreds, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "example.com"})
		req.AppendHeader(sip.NewHeader("Authorization", v))
		if user, verdict := a.verify(req, "Authorization", time.Now()); verdict == authOK {
			t.Fatalf("accepted %q as %q", v, user)
		}
	})
}
