//go:build unix

package node

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUIStreamCPU measures the process CPU time of a 16-node in-process
// overlay for 20 s without and then with 4 event streams (one state
// event per second each). It prints figures and asserts nothing about
// them; RELOAD_UI_CPU=1 runs it.
func TestUIStreamCPU(t *testing.T) {
	if os.Getenv("RELOAD_UI_CPU") == "" {
		t.Skip("set RELOAD_UI_CPU=1 to measure")
	}
	c := startCluster(t, 16, nil)
	c.waitConverged(t, 120*time.Second)
	srv := httptest.NewServer(c.nodes[0].ControlHandler(ControlOptions{Token: uiTestToken}))
	defer srv.Close()
	const span = 20 * time.Second
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	measure := func() (time.Duration, time.Duration) {
		c0, w0 := cpu(), time.Now()
		time.Sleep(span)
		return cpu() - c0, time.Since(w0)
	}
	time.Sleep(5 * time.Second) // let the joins' work end
	idleCPU, idleWall := measure()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan int, 4)
	for range 4 {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/events", nil)
		req.Header.Set("Cookie", uiCookieFor(srv.URL)+"="+uiTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			n := 0
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: state") {
					n++
				}
			}
			events <- n
		}()
	}
	time.Sleep(2 * time.Second)
	busyCPU, busyWall := measure()
	cancel()
	total := 0
	for range 4 {
		total += <-events
	}
	pct := func(c, w time.Duration) float64 { return 100 * c.Seconds() / w.Seconds() }
	t.Logf("16-node overlay, process CPU: %.2f%% of one core without streams, %.2f%% with 4 streams (%d state events in %.0f s); difference %.2f points",
		pct(idleCPU, idleWall), pct(busyCPU, busyWall), total, (busyWall + 2*time.Second).Seconds(), pct(busyCPU, busyWall)-pct(idleCPU, idleWall))
}
