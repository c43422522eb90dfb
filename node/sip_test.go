package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipptest"
)

const sippDir = "../usage/sip/testdata/"

// TestSIPCallsThroughOverlay: unmodified SIP user agents (sipp) register
// at one peer of an 8-peer overlay and are called from another (RFC 7904):
// INVITE/100/180/200/ACK/BYE, 100 sequential calls, 404 for an AOR with no
// registration, and registration expiry; sipp answers the front ends'
// digest challenges (401 for REGISTER, 407 for INVITE).
func TestSIPCallsThroughOverlay(t *testing.T) {
	sipptest.Require(t)
	ports := make([]int, 8)
	c := startCluster(t, 8, func(i int, cfg *Config) {
		ports[i] = sipptest.FreePort(t)
		cfg.SIP = sipConfig(i, "127.0.0.1:"+strconv.Itoa(ports[i]))
	})
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	domain := c.ov.Name
	callee, caller := 2, 6 // node3 and node7
	user := fmt.Sprintf("node%d", callee+1)

	register := func(expires int, contactPort int) {
		t.Helper()
		if _, err := sipptest.Run(ctx, t, "",
			"-sf", sipptest.Scenario(t, sippDir+"register.xml"),
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
			"-key", "user", user, "-key", "domain", domain,
			"-key", "contact_port", strconv.Itoa(contactPort), "-key", "expires", strconv.Itoa(expires),
			"-au", user, "-ap", sipPassword(callee),
			"-m", "1", "-timeout", "15s", "-timeout_error",
			net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[callee]))); err != nil {
			t.Fatalf("REGISTER: %v", err)
		}
	}
	uac := func(scenario, to string, calls int) error {
		_, err := sipptest.Run(ctx, t, "",
			"-sf", sipptest.Scenario(t, sippDir+scenario),
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
			"-s", to, "-key", "domain", domain,
			"-au", fmt.Sprintf("node%d", caller+1), "-ap", sipPassword(caller),
			"-m", strconv.Itoa(calls), "-l", "1", "-r", "10000",
			"-timeout", "60s", "-timeout_error", "-recv_timeout", "10s",
			net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[caller])))
		return err
	}

	uasPort := sipptest.FreePort(t)
	uas := sipptest.Start(ctx, t, "", "-sf", sipptest.Scenario(t, sippDir+"uas.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", "101", "-timeout", "100s", "-timeout_error")
	register(120, uasPort)
	if err := uac("uac.xml", user, 1); err != nil {
		t.Fatalf("one call: %v", err)
	}
	if err := uac("uac.xml", user, 100); err != nil {
		t.Fatalf("100 sequential calls: %v", err)
	}
	if err := uas.Wait(); err != nil {
		t.Fatalf("UAS: %v", err)
	}
	if err := uac("uac_404.xml", "nobody", 1); err != nil {
		t.Fatalf("unknown AOR: %v", err)
	}
	// Expires: 0 removes the registration (RFC 3261 §10.2.2).
	register(0, uasPort)
	if err := uac("uac_404.xml", user, 1); err != nil {
		t.Fatalf("after unregister: %v", err)
	}
}
