package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// system is one of the two overlays under test.
type system interface {
	// start starts n nodes and returns when they are ready.
	start(ctx context.Context, n int) error
	// pair stores value from one node and fetches it from another; j
	// numbers the pair and chooses the nodes and the key.
	pair(ctx context.Context, j int, value []byte) error
	// conns is the number of open connections summed over the nodes
	// (each link counted at both ends).
	conns() int
	close()
}

type options struct {
	system  string
	nodes   int
	pairs   int
	workers int
	size    int
	timeout time.Duration
	json    bool
}

// Phase is the result of one run of pairs.
type Phase struct {
	Name       string  `json:"name"`
	Pairs      int     `json:"pairs"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	PairsPerS  float64 `json:"pairs_per_s"`
	MedianMs   float64 `json:"median_ms"`
	P99Ms      float64 `json:"p99_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// Result is the result of one system in one process.
type Result struct {
	System     string  `json:"system"`
	Nodes      int     `json:"nodes"`
	ValueBytes int     `json:"value_bytes"`
	SetupS     float64 `json:"setup_s"`
	Phases     []Phase `json:"phases"`
	// RSSMiB is VmRSS after the runs and a garbage collection;
	// PeakRSSMiB is VmHWM; HeapMiB is the Go heap in use after that
	// collection.
	// ReadyRSSMiB and ReadyHeapMiB are the same once the nodes are
	// ready, before any pair.
	ReadyRSSMiB  float64 `json:"ready_rss_mib"`
	ReadyHeapMiB float64 `json:"ready_heap_mib"`
	RSSMiB       float64 `json:"rss_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	HeapMiB      float64 `json:"heap_mib"`
	Goroutines   int     `json:"goroutines"`
	// Conns is the open connections summed over the nodes after the
	// runs, each counted at both ends.
	Conns int `json:"conns"`
}

func main() {
	var o options
	fs := flag.NewFlagSet("sidebyside", flag.ContinueOnError)
	fs.StringVar(&o.system, "system", "both", "which system to measure: reload, libp2p, or both (each in a fresh process of its own, one after the other)")
	fs.IntVar(&o.nodes, "nodes", 16, "number of nodes started in the process")
	fs.IntVar(&o.pairs, "pairs", 1000, "store+fetch pairs in each phase (sequential, then concurrent)")
	fs.IntVar(&o.workers, "workers", 16, "concurrent workers of the second phase")
	fs.IntVar(&o.size, "size", 64, "value size in bytes")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound on one pair; a pair that takes longer counts as failed")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON (what -system both reads from each process)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sidebyside [flags]\n\nStore+Fetch on a RELOAD overlay against PutValue+GetValue on go-libp2p's kad-dht,\n-nodes nodes each in one process on loopback TCP, each system in a process of its own.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(2)
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	switch o.system {
	case "reload", "libp2p", "both":
	default:
		return fmt.Errorf("-system %q: want reload, libp2p or both", o.system)
	}
	if o.nodes < 2 || o.nodes > 256 {
		return fmt.Errorf("-nodes %d: want 2 to 256", o.nodes)
	}
	if o.pairs < 1 {
		return fmt.Errorf("-pairs %d: want at least 1", o.pairs)
	}
	if o.workers < 1 {
		return fmt.Errorf("-workers %d: want at least 1", o.workers)
	}
	// 256 is the Kind's max-size below; 8 bytes carry the pair number.
	if o.size < 8 || o.size > 256 {
		return fmt.Errorf("-size %d: want 8 to 256 bytes", o.size)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("-timeout %v: want a positive duration", o.timeout)
	}
	return nil
}

func run(o options, out io.Writer) error {
	if o.system == "both" {
		var results []Result
		for _, s := range []string{"reload", "libp2p"} {
			r, err := runChild(o, s)
			if err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			results = append(results, r)
		}
		if o.json {
			return json.NewEncoder(out).Encode(results)
		}
		printTable(out, results)
		return nil
	}
	var s system
	switch o.system {
	case "reload":
		s = &reloadSystem{}
	case "libp2p":
		s = &libp2pSystem{}
	}
	r, err := measure(o, s)
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(out).Encode(r)
	}
	printTable(out, []Result{r})
	return nil
}

// runChild runs this program again for one system and reads its JSON.
func runChild(o options, sys string) (Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return Result{}, err
	}
	cmd := exec.Command(exe, "-system", sys, "-json",
		"-nodes", strconv.Itoa(o.nodes), "-pairs", strconv.Itoa(o.pairs),
		"-workers", strconv.Itoa(o.workers), "-size", strconv.Itoa(o.size), "-timeout", o.timeout.String())
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return Result{}, fmt.Errorf("reading the result: %w", err)
	}
	return r, nil
}

func measure(o options, s system) (Result, error) {
	r := Result{System: o.system, Nodes: o.nodes, ValueBytes: o.size}
	ctx := context.Background()
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err := s.start(sctx, o.nodes)
	cancel()
	defer s.close()
	if err != nil {
		return r, fmt.Errorf("starting %d nodes: %w", o.nodes, err)
	}
	r.SetupS = time.Since(t0).Seconds()
	r.ReadyRSSMiB, _, r.ReadyHeapMiB = memory()
	// A few pairs first, outside the figures: links and caches warm.
	next := 0
	for range min(o.nodes, o.pairs) {
		if err := pairWithin(ctx, s, next, o); err != nil {
			return r, fmt.Errorf("warm-up pair: %w", err)
		}
		next++
	}
	r.Phases = append(r.Phases, runPhase(ctx, s, o, "sequential", 1, &next))
	r.Phases = append(r.Phases, runPhase(ctx, s, o, fmt.Sprintf("%d workers", o.workers), o.workers, &next))
	r.RSSMiB, r.PeakRSSMiB, r.HeapMiB = memory()
	r.Goroutines = runtime.NumGoroutine()
	r.Conns = s.conns()
	return r, nil
}

func pairWithin(ctx context.Context, s system, j int, o options) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return s.pair(ctx, j, valueFor(j, o.size))
}

// valueFor is the value of pair j: the pair number and filler.
func valueFor(j, size int) []byte {
	v := bytes.Repeat([]byte{'v'}, size)
	copy(v, fmt.Sprintf("%08x", uint32(j)))
	return v
}

// runPhase runs o.pairs pairs on workers goroutines, numbering them on
// from *next.
func runPhase(ctx context.Context, s system, o options, name string, workers int, next *int) Phase {
	base := *next
	*next += o.pairs
	lat := make([]time.Duration, o.pairs)
	var failed atomic.Int64
	var firstErr atomic.Pointer[string]
	var counter atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(counter.Add(1) - 1)
				if i >= o.pairs {
					return
				}
				p0 := time.Now()
				if err := pairWithin(ctx, s, base+i, o); err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
				}
				lat[i] = time.Since(p0)
			}
		})
	}
	wg.Wait()
	d := time.Since(t0)
	slices.Sort(lat)
	p := Phase{Name: name, Pairs: o.pairs, Failed: int(failed.Load()), Seconds: d.Seconds(),
		PairsPerS: float64(o.pairs) / d.Seconds(), MedianMs: ms(percentile(lat, 50)), P99Ms: ms(percentile(lat, 99))}
	if e := firstErr.Load(); e != nil {
		p.FirstError = *e
	}
	return p
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, pct int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (pct*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory is VmRSS and VmHWM from /proc/self/status and the Go heap in
// use, in MiB, after a garbage collection.
func memory() (rss, peak, heap float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	heap = float64(m.HeapInuse) / (1 << 20)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, heap
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, heap
}

func printTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-7s %-11s %6s %6s %9s %9s %9s %8s %8s %8s %6s %6s\n",
		"system", "phase", "pairs", "failed", "pairs/s", "median", "p99", "RSS", "peakRSS", "heap", "setup", "conns")
	for _, r := range rs {
		for _, p := range r.Phases {
			fmt.Fprintf(w, "%-7s %-11s %6d %6d %9.1f %7.2fms %7.2fms %6.0fMiB %6.0fMiB %6.0fMiB %5.1fs %6d\n",
				r.System, p.Name, p.Pairs, p.Failed, p.PairsPerS, p.MedianMs, p.P99Ms, r.RSSMiB, r.PeakRSSMiB, r.HeapMiB, r.SetupS, r.Conns)
			if p.FirstError != "" {
				fmt.Fprintf(w, "        first error: %s\n", p.FirstError)
			}
		}
	}
	for _, r := range rs {
		fmt.Fprintf(w, "%s when ready, before the pairs: RSS %.0f MiB, heap %.0f MiB\n", r.System, r.ReadyRSSMiB, r.ReadyHeapMiB)
	}
	if len(rs) == 2 {
		a, b := rs[0], rs[1]
		for i := range min(len(a.Phases), len(b.Phases)) {
			fmt.Fprintf(w, "%s: %s/%s pairs/s %.2f×, median latency %s/%s %.2f×\n", a.Phases[i].Name, a.System, b.System,
				a.Phases[i].PairsPerS/b.Phases[i].PairsPerS, b.System, a.System, b.Phases[i].MedianMs/a.Phases[i].MedianMs)
		}
		fmt.Fprintf(w, "RSS %s/%s %.2f×, heap %.2f× (when ready: %.2f×, %.2f×)\n", a.System, b.System,
			a.RSSMiB/b.RSSMiB, a.HeapMiB/b.HeapMiB, a.ReadyRSSMiB/b.ReadyRSSMiB, a.ReadyHeapMiB/b.ReadyHeapMiB)
	}
}
