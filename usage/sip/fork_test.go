package sip

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipptest"
	"github.com/goreload/reload/wire"
)

// forkLayout registers two UAS sipp for bob@example.com: at two peers
// (two SIP-REGISTRATION entries, one per storing peer, RFC 7904 §3.2) or
// as two contacts at one peer (RFC 3261 §10.3).
type forkLayout struct {
	name     string
	twoPeers bool
}

var forkLayouts = []forkLayout{{"two-peers", true}, {"one-peer-two-contacts", false}}

// startForkUAS starts one UAS sipp per scenario, registers each as bob
// and returns the caller's front end.
func startForkUAS(ctx context.Context, t testing.TB, l forkLayout, calls int, scenarios ...[]string) (*fakeNet, *Frontend, []*sipptest.Proc) {
	t.Helper()
	n := newFakeNet()
	first := n.newPeer(t, 1, nil)
	caller := n.newPeer(t, 2, nil)
	second := first
	if l.twoPeers {
		second = n.newPeer(t, 3, nil)
	}
	var procs []*sipptest.Proc
	for i, sc := range scenarios {
		var port int
		var p *sipptest.Proc
		// A port free a moment ago may be taken by the time sipp binds it
		// (other tests run on the machine too): start again on another.
		for try := 0; ; try++ {
			port = sipptest.FreePort(t)
			args := append([]string{"-sf", sipptest.Scenario(t, sc[0]),
				"-i", "127.0.0.1", "-p", strconv.Itoa(port),
				"-m", strconv.Itoa(calls), "-timeout", "60s", "-timeout_error"}, sc[1:]...)
			p = sipptest.Start(ctx, t, "", args...)
			sipptest.WaitUDP(port, 5*time.Second)
			time.Sleep(100 * time.Millisecond)
			if !p.Exited() {
				break
			}
			if try == 2 {
				t.Fatalf("UAS sipp exited at start: %v", p.Wait())
			}
		}
		procs = append(procs, p)
		fe := first
		if i == 1 {
			fe = second
		}
		registerTB(ctx, t, fe, "bob", port, 600)
	}
	return n, caller, procs
}

// TestSippForkFirst2xxWins is RFC 3261 §16.7 and §16.10 with two devices
// for one AOR: the call rings both, the answer of one reaches the caller
// as 200, and the other, still ringing, gets CANCEL (it answers 487, which
// the proxy acknowledges and does not pass on).
func TestSippForkFirst2xxWins(t *testing.T) {
	sipptest.Require(t)
	for _, l := range forkLayouts {
		t.Run(l.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, caller, uas := startForkUAS(ctx, t, l, 1,
				[]string{"testdata/uas.xml"}, []string{"testdata/uas_cancel.xml"})
			if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "bob", 1); err != nil {
				t.Fatal(err)
			}
			for i, p := range uas {
				if err := p.Wait(); err != nil {
					t.Fatalf("UAS %d: %v", i, err)
				}
			}
		})
	}
}

// TestSippForkBestResponse is RFC 3261 §16.7 step 6: when no branch
// answers, the caller gets the best final response, the lowest class (a
// 404 over a 503), after both branches were acknowledged.
func TestSippForkBestResponse(t *testing.T) {
	sipptest.Require(t)
	for _, l := range forkLayouts {
		t.Run(l.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, caller, uas := startForkUAS(ctx, t, l, 1,
				[]string{"testdata/uas_503.xml"}, []string{"testdata/uas_404.xml"})
			if _, err := runUAC(ctx, t, "", caller, "testdata/uac_404.xml", "bob", 1); err != nil {
				t.Fatal(err)
			}
			for i, p := range uas {
				if err := p.Wait(); err != nil {
					t.Fatalf("UAS %d: %v", i, err)
				}
			}
		})
	}
}

// TestSippForkCallerCancels: the caller cancels a forked call while both
// devices ring; both get CANCEL and the caller gets 200 for its CANCEL
// and 487 for the INVITE (RFC 3261 §16.10).
func TestSippForkCallerCancels(t *testing.T) {
	sipptest.Require(t)
	for _, l := range forkLayouts {
		t.Run(l.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, caller, uas := startForkUAS(ctx, t, l, 1,
				[]string{"testdata/uas_cancel.xml"}, []string{"testdata/uas_cancel.xml"})
			if _, err := runUAC(ctx, t, "", caller, "testdata/uac_cancel.xml", "bob", 1); err != nil {
				t.Fatal(err)
			}
			for i, p := range uas {
				if err := p.Wait(); err != nil {
					t.Fatalf("UAS %d: %v", i, err)
				}
			}
		})
	}
}

// TestSippForkStaleRegistration: one of bob's two registrations names a
// peer that is gone (its AppAttach fails). That branch counts as a 503
// (RFC 3261 §16.7 step 6) and does not hold up the other: the device that
// answers gets the call.
func TestSippForkStaleRegistration(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, caller, uas := startForkUAS(ctx, t, forkLayouts[0], 1, []string{"testdata/uas.xml"})
	gone := nodeID(9)
	n.put("bob@example.com", gone, RouteRegistration("(sip.schemes=SIP)", wire.NodeDest(&gone)), time.Hour)
	if _, err := runUAC(ctx, t, "", caller, "testdata/uac.xml", "bob", 1); err != nil {
		t.Fatal(err)
	}
	if err := uas[0].Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestForkBetter is the choice of the best final response (RFC 3261
// §16.7 step 6): a 6xx over anything, otherwise the lowest class, the
// first kept within a class.
func TestForkBetter(t *testing.T) {
	for _, tc := range []struct {
		a, b int
		want bool
	}{
		{404, 503, true}, {503, 404, false}, {603, 404, true}, {404, 603, false},
		{486, 404, false}, {302, 404, true}, {600, 603, false}, {408, 500, true},
	} {
		if got := better(tc.a, tc.b); got != tc.want {
			t.Errorf("better(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestSippForkTCPCaller: a forked call from a caller on TCP; the fork's
// responses go back on the caller's connection.
func TestSippForkTCPCaller(t *testing.T) {
	sipptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, caller, uas := startForkUAS(ctx, t, forkLayouts[0], 1,
		[]string{"testdata/uas.xml"}, []string{"testdata/uas_cancel.xml"})
	_, err := sipptest.Run(ctx, t, "", "-sf", sipptest.Scenario(t, "testdata/uac.xml"),
		"-t", "t1", "-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(t)),
		"-s", "bob", "-key", "domain", "example.com", "-m", "1",
		"-timeout", "30s", "-timeout_error", "-recv_timeout", "5s",
		hostport(caller.TCPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range uas {
		if err := p.Wait(); err != nil {
			t.Fatalf("UAS %d: %v", i, err)
		}
	}
}
