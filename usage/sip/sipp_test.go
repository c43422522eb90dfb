package sip

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/internal/poll"
	"github.com/goreload/reload/usage/sip/sipptest"
)

func hostport(a net.Addr) string { return a.String() }

// sippRegister registers user@example.com at fe with the contact port of a
// UAS sipp.
func sippRegister(ctx context.Context, t *testing.T, fe *Frontend, user string, contactPort, expires int) {
	t.Helper()
	registerTB(ctx, t, fe, user, contactPort, expires)
}

func registerTB(ctx context.Context, t testing.TB, fe *Frontend, user string, contactPort, expires int) {
	t.Helper()
	_, err := sipptest.Run(ctx, t, "",
		"-sf", sipptest.Scenario(t, "testdata/register.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-key", "user", user, "-key", "domain", "example.com",
		"-key", "contact_port", strconv.Itoa(contactPort), "-key", "expires", strconv.Itoa(expires),
		"-m", "1", "-timeout", "10s", "-timeout_error",
		hostport(fe.UDPAddr()))
	if err != nil {
		t.Fatal(err)
	}
}

// startUAS starts the UAS sipp for calls calls on port.
func startUAS(ctx context.Context, t *testing.T, port, calls int) *sipptest.Proc {
	t.Helper()
	return sipptest.Start(ctx, t, "",
		"-sf", sipptest.Scenario(t, "testdata/uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", strconv.Itoa(calls), "-timeout", "40s", "-timeout_error")
}

func runUAC(ctx context.Context, t *testing.T, dir string, fe *Frontend, scenario, user string, calls int, extra ...string) (*sipptest.Proc, error) {
	t.Helper()
	domain := "example.com"
	if i := slices.Index(extra, "domain"); i > 0 && i+1 < len(extra) && extra[i-1] == "-key" {
		// sipp takes the first -key of a name: the caller's wins.
		domain = extra[i+1]
		extra = slices.Delete(slices.Clone(extra), i-1, i+2)
	}
	args := []string{
		"-sf", sipptest.Scenario(t, scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", user, "-key", "domain", domain,
		"-m", strconv.Itoa(calls), "-l", "1", "-r", "10000",
		"-timeout", "40s", "-timeout_error", "-recv_timeout", "5s",
	}
	args = append(args, extra...)
	args = append(args, hostport(fe.UDPAddr()))
	return sipptest.Run(ctx, t, dir, args...)
}

// waitFor polls cond until it holds, failing the test with what after
// timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	if !poll.Until(timeout, 10*time.Millisecond, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

func TestSippCallThroughTwoPeers(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	n := newFakeNet()
	callee := n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)

	uasPort := sipptest.FreePort(t)
	uas := startUAS(ctx, t, uasPort, 1)
	sippRegister(ctx, t, callee, "bob", uasPort, 60)
	if b := callee.Bindings("bob@example.com"); len(b) != 1 {
		t.Fatalf("bindings = %v", b)
	}
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

// fixture is two front ends (callee at node 1, caller at node 2) with a
// UAS sipp registered as bob at the callee's.
type fixture struct {
	n              *fakeNet
	callee, caller *Frontend
	uas            *sipptest.Proc
	uasPort        int
}

func newFixture(ctx context.Context, t *testing.T, uasScenario string, calls int) *fixture {
	t.Helper()
	sipptest.Require(t)
	fx := &fixture{n: newFakeNet()}
	fx.callee = fx.n.newPeer(t, 1, nil)
	fx.caller = fx.n.newPeer(t, 2, nil)
	fx.uasPort = sipptest.FreePort(t)
	fx.uas = sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, uasScenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(fx.uasPort),
		"-m", strconv.Itoa(calls), "-timeout", "40s", "-timeout_error")
	sipptest.WaitUDP(fx.uasPort, 5*time.Second)
	sippRegister(ctx, t, fx.callee, "bob", fx.uasPort, 60)
	return fx
}

func TestSipp100SequentialCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	fx := newFixture(ctx, t, "testdata/uas.xml", 100)
	p, err := runUAC(ctx, t, "", fx.caller, "testdata/uac.xml", "bob", 100, "-trace_stat", "-stf", "stat.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.uas.Wait(); err != nil {
		t.Fatal(err)
	}
	st := readStats(t, p.Dir+"/stat.csv")
	if ok, _ := st.Int("SuccessfulCall(C)"); ok != 100 {
		t.Fatalf("SuccessfulCall = %d, want 100", ok)
	}
	if fail, _ := st.Int("FailedCall(C)"); fail != 0 {
		t.Fatalf("FailedCall = %d", fail)
	}
	fx.n.mu.Lock()
	attachs := fx.n.attachs
	fx.n.mu.Unlock()
	if attachs != 1 {
		t.Errorf("AppAttach calls = %d, want 1 (the SIP connection is reused, RFC 7904 §5.1)", attachs)
	}
}

func TestSippCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fx := newFixture(ctx, t, "testdata/uas_cancel.xml", 1)
	if _, err := runUAC(ctx, t, "", fx.caller, "testdata/uac_cancel.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := fx.uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestSippUnknownAOR404(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := newFakeNet()
	n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac_404.xml", "nobody", 3); err != nil {
		t.Fatal(err)
	}
}

func TestSippRegistrationExpiry(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := newFakeNet()
	callee := n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)
	port := sipptest.FreePort(t)
	sippRegister(ctx, t, callee, "eve", port, 1)
	if len(callee.Bindings("eve@example.com")) != 1 {
		t.Fatal("no binding after REGISTER")
	}
	if _, err := callee.Resolver().Resolve(ctx, "eve@example.com"); err != nil {
		t.Fatalf("resolve before expiry: %v", err)
	}
	// Expires: 1 — poll until the binding and the stored registration are
	// gone rather than sleep a fixed margin past the second.
	waitFor(t, 10*time.Second, func() bool {
		if len(callee.Bindings("eve@example.com")) != 0 {
			return false
		}
		_, err := callee.Resolver().Resolve(ctx, "eve@example.com")
		return errors.Is(err, ErrNoRegistration)
	}, "eve's binding and registration to expire")
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac_404.xml", "eve", 1); err != nil {
		t.Fatal(err)
	}
}

func TestSippUnregister(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := newFakeNet()
	callee := n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)
	port := sipptest.FreePort(t)
	sippRegister(ctx, t, callee, "dave", port, 60)
	sippRegister(ctx, t, callee, "dave", port, 0) // Expires: 0 removes the binding
	if b := callee.Bindings("dave@example.com"); len(b) != 0 {
		t.Fatalf("bindings after Expires: 0: %v", b)
	}
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac_404.xml", "dave", 1); err != nil {
		t.Fatal(err)
	}
}

func TestSippMalformed400(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fx := newFixture(ctx, t, "testdata/uas.xml", 1)
	if _, err := runUAC(ctx, t, "", fx.caller, "testdata/malformed.xml", "bob", 2); err != nil {
		t.Fatal(err)
	}
	// Nothing else broke: a call still completes.
	if _, err := runUAC(ctx, t, "", fx.caller, "testdata/uac.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := fx.uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestSippRedirect is the seed's second call style: bob's peer stores a
// sip_registration_uri bob -> carol, carol is registered at a third peer,
// and a call to bob is resolved hop by hop to carol's peer.
func TestSippRedirect(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := newFakeNet()
	bobPeer := n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)
	carolPeer := n.newPeer(t, 3, nil)
	port := sipptest.FreePort(t)
	uas := sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, "testdata/uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "20s", "-timeout_error")
	sippRegister(ctx, t, carolPeer, "carol", port, 60)
	if err := bobPeer.RegisterURI(ctx, "sip:bob@example.com", "sip:carol@example.com", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestSippTCP runs the caller over TCP and the callee over UDP.
func TestSippTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fx := newFixture(ctx, t, "testdata/uas.xml", 5)
	_, err := sipptest.Run(ctx, t, "", "-sf", sipptest.Scenario(t, "testdata/uac.xml"),
		"-t", "t1", "-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", "bob", "-key", "domain", "example.com", "-m", "5", "-l", "1",
		"-timeout", "20s", "-timeout_error", "-recv_timeout", "5s",
		hostport(fx.caller.TCPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.uas.Wait(); err != nil {
		t.Fatal(err)
	}
}

func readStats(t *testing.T, path string) sipptest.Stats {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, err := sipptest.ReadStats(fh)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
