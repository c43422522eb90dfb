package node

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMemoryFootprint measures what an idle overlay holds: RELOAD_MEM_N
// nodes (16 by default) in this one process on loopback with real TLS
// links and ECDSA P-256 identities, converged and left idle for
// RELOAD_MEM_IDLE (10 s by default). It reports the process's VmRSS, the
// heap in use, and the goroutine count, each in total and per node, and,
// with RELOAD_MEM_PROFILES=dir, writes heap.pprof and goroutine.pprof
// there. Run only with RELOAD_MEM=1:
//
//	RELOAD_MEM=1 RELOAD_MEM_PROFILES=/tmp/mem go test -count=1 -run TestMemoryFootprint -v ./node/
func TestMemoryFootprint(t *testing.T) {
	if os.Getenv("RELOAD_MEM") != "1" {
		t.Skip("set RELOAD_MEM=1 to measure memory")
	}
	n := 16
	if s := os.Getenv("RELOAD_MEM_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2 {
			t.Fatalf("RELOAD_MEM_N=%q: want an integer of at least 2", s)
		}
		n = v
	}
	idle := 10 * time.Second
	if s := os.Getenv("RELOAD_MEM_IDLE"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			t.Fatalf("RELOAD_MEM_IDLE=%q: want a duration such as 10s", s)
		}
		idle = v
	}
	if os.Getenv("RELOAD_MEM_PROFILES") != "" {
		// Sample every 4 KiB allocated instead of every 512 KiB, so that
		// the heap profile sees per-link and per-node holders.
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 4096
		t.Cleanup(func() { runtime.MemProfileRate = old })
	}
	base := memSample(t)
	t.Logf("before the nodes: %s", base)
	// The nodes tick at the CLI's default rate, as `reload node` does.
	c := startCluster(t, n, func(_ int, c *Config) { c.TickLength = 0 })
	c.waitConverged(t, 120*time.Second)
	time.Sleep(idle)
	t.Logf("%d nodes idle %v, before a forced GC: %s", n, idle, memSample(t))
	runtime.GC()
	debug.FreeOSMemory()
	s := memSample(t)
	t.Logf("%d nodes idle %v: %s", n, idle, s)
	t.Logf("per node (minus the empty process): RSS %.2f MiB, heap in use %.2f MiB, %.1f goroutines",
		float64(s.rss-base.rss)/float64(n)/(1<<20), float64(s.heapInuse-base.heapInuse)/float64(n)/(1<<20),
		float64(s.goroutines-base.goroutines)/float64(n))
	if dir := os.Getenv("RELOAD_MEM_PROFILES"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"heap", "goroutine"} {
			f, err := os.Create(filepath.Join(dir, p+".pprof"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pprof.Lookup(p).WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("profiles in %s: go tool pprof -top -sample_index=inuse_space %s", dir, filepath.Join(dir, "heap.pprof"))
	}
}

// memStats is one sample of what the process holds.
type memStats struct {
	rss, hwm, heapInuse, stackInuse, sys uint64
	goroutines                           int
}

func (s memStats) String() string {
	const mib = 1 << 20
	return "VmRSS " + strconv.FormatFloat(float64(s.rss)/mib, 'f', 1, 64) + " MiB (peak " +
		strconv.FormatFloat(float64(s.hwm)/mib, 'f', 1, 64) + "), HeapInuse " +
		strconv.FormatFloat(float64(s.heapInuse)/mib, 'f', 1, 64) + " MiB, StackInuse " +
		strconv.FormatFloat(float64(s.stackInuse)/mib, 'f', 1, 64) + " MiB, Sys " +
		strconv.FormatFloat(float64(s.sys)/mib, 'f', 1, 64) + " MiB, " +
		strconv.Itoa(s.goroutines) + " goroutines"
}

func memSample(t *testing.T) memStats {
	t.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, hwm := vmRSS(t)
	return memStats{rss: rss, hwm: hwm, heapInuse: ms.HeapInuse, stackInuse: ms.StackInuse, sys: ms.Sys, goroutines: runtime.NumGoroutine()}
}

// vmRSS reads this process's resident set size and its peak from
// /proc/self/status, in bytes; 0 where there is no /proc.
func vmRSS(t *testing.T) (rss, hwm uint64) {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		kib, _ := strconv.ParseUint(fs[1], 10, 64)
		switch fs[0] {
		case "VmRSS:":
			rss = kib << 10
		case "VmHWM:":
			hwm = kib << 10
		}
	}
	return rss, hwm
}
