package sip

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/goreload/reload/usage/sip/sipptest"
)

// measureSetup runs calls sequential sipp calls to bob@example.com sent to
// addr and returns the INVITE-to-200 times: rtt as sipp's own response
// time statistics report them (rtd "setup" of testdata/uac.xml, from
// -trace_rtt, millisecond resolution), and msg from the timestamps of its
// message log (-trace_msg, microseconds).
func measureSetup(ctx context.Context, tb testing.TB, addr string, calls int) (rtt, msg sipptest.Summary) {
	tb.Helper()
	dir := tb.TempDir()
	_, err := sipptest.Run(ctx, tb, dir, "-sf", sipptest.Scenario(tb, "testdata/uac.xml"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipptest.FreePort(tb)),
		"-s", "bob", "-key", "domain", "example.com",
		"-m", strconv.Itoa(calls), "-l", "1", "-r", "10000", "-timer_resol", "1",
		"-trace_rtt", "-rtt_freq", "1", "-trace_msg", "-message_file", "msg.log",
		"-timeout", "120s", "-timeout_error", "-recv_timeout", "5s", addr)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := sipptest.ReadRTTDir(dir, "setup")
	if err != nil {
		tb.Fatal(err)
	}
	if len(d) != calls {
		tb.Fatalf("%d set-up times in the rtt file for %d calls", len(d), calls)
	}
	fh, err := os.Open(filepath.Join(dir, "msg.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	m, err := sipptest.ReadSetupFromMessages(fh)
	if err != nil {
		tb.Fatal(err)
	}
	if len(m) != calls {
		tb.Fatalf("%d set-up times in the message log for %d calls", len(m), calls)
	}
	return sipptest.Summarize(d), sipptest.Summarize(m)
}

func reportSetup(b *testing.B, rtt, msg sipptest.Summary) {
	b.ReportMetric(float64(msg.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(msg.P99.Microseconds())/1000, "p99-ms")
	b.Logf("call set-up (INVITE to 200), sipp -trace_rtt: %v; sipp -trace_msg: %v", rtt, msg)
}

// BenchmarkCallSetup measures call set-up time with sipp, one call per
// iteration: directly from sipp to sipp, through two front ends joined by
// the fake overlay, and forked to two devices at two peers. Run with
//
//	go test -run '^$' -bench CallSetup -benchtime 500x ./usage/sip
func BenchmarkCallSetup(b *testing.B) {
	sipptest.Require(b)
	b.Run("direct", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		port := sipptest.FreePort(b)
		uas := sipptest.Start(ctx, b, "", "-sf", sipptest.Scenario(b, "testdata/uas.xml"),
			"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(b.N))
		sipptest.WaitUDP(port, 5*time.Second)
		b.ResetTimer()
		rtt, msg := measureSetup(ctx, b, "127.0.0.1:"+strconv.Itoa(port), b.N)
		b.StopTimer()
		if err := uas.Wait(); err != nil {
			b.Fatal(err)
		}
		reportSetup(b, rtt, msg)
	})
	b.Run("two-peers", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		n := newFakeNet()
		callee := n.newPeer(b, 1, nil)
		caller := n.newPeer(b, 2, nil)
		port := sipptest.FreePort(b)
		uas := sipptest.Start(ctx, b, "", "-sf", sipptest.Scenario(b, "testdata/uas.xml"),
			"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(b.N))
		registerTB(ctx, b, callee, "bob", port, 600)
		b.ResetTimer()
		rtt, msg := measureSetup(ctx, b, caller.UDPAddr().String(), b.N)
		b.StopTimer()
		if err := uas.Wait(); err != nil {
			b.Fatal(err)
		}
		reportSetup(b, rtt, msg)
	})
	// forked: bob is registered at two peers, one device answers and the
	// other rings until the caller's peer CANCELs it (fork.go).
	b.Run("forked", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, caller, uas := startForkUAS(ctx, b, forkLayouts[0], b.N,
			[]string{"testdata/uas.xml"}, []string{"testdata/uas_cancel.xml"})
		b.ResetTimer()
		rtt, msg := measureSetup(ctx, b, caller.UDPAddr().String(), b.N)
		b.StopTimer()
		for _, p := range uas {
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		reportSetup(b, rtt, msg)
	})
}
