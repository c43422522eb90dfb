package sip

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipptest"
)

func hostport(a net.Addr) string { return a.String() }

// sippRegister registers user@example.com at fe with the contact port of a
// UAS sipp.
func sippRegister(ctx context.Context, t *testing.T, fe *Frontend, user string, contactPort, expires int) {
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
	args := []string{
		"-sf", sipptest.Scenario(t, scenario),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", user, "-key", "domain", "example.com",
		"-m", strconv.Itoa(calls), "-l", "1", "-r", "1000",
		"-timeout", "40s", "-timeout_error", "-recv_timeout", "5s",
	}
	args = append(args, extra...)
	args = append(args, hostport(fe.UDPAddr()))
	return sipptest.Run(ctx, t, dir, args...)
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
