package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/sim"
	"github.com/goreload/reload/sim/svgplot"
)

const simUsage = `usage: reload sim [flags]

Simulate a CHORD-RELOAD overlay (RFC 6940 §10) of --nodes peers with the
deterministic simulator (package sim): the peers join one --join-rate per
tick (a tick is 100 ms of virtual time) through random peers until every
successor and predecessor set equals the brute-force sorted ring; lookups
for random Resource-IDs from random peers measure hops. With --churn, that
fraction of the peers then fails at once while lookups go on (10 per tick,
each retried up to 3 attempts 3 s apart) until the survivors have repaired
the ring. Progress goes to stderr, the report to stdout (text, or JSON with
--json). --plot-dir writes hops.svg (mean hops against N over a sweep of
ring sizes, with the ½·log2 N reference) and, with --churn, churn.svg
(lookup success over time). --topology ONE-HOP runs the ONE-HOP plugin
(full membership, one hop per lookup) instead of CHORD-RELOAD; the hops
sweep of --plot-dir is always CHORD-RELOAD's.

The same --seed gives the same run. Exit status 1 when the ring does not
converge or does not repair.

Flags:
`

// simResult is the JSON report: the experiment's report, the sweep and
// the plot files.
type simResult struct {
	*sim.Report
	Sweep []sim.SweepPoint `json:"sweep,omitempty"`
	Plots []string         `json:"plots,omitempty"`
}

// runSim implements "reload sim".
func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simUsage)
		fs.PrintDefaults()
	}
	nodes := fs.Int("nodes", 1000, "number of peers")
	churn := fs.Float64("churn", 0, "fraction of the peers that fail abruptly after convergence, in [0, 1)")
	seed := fs.Uint64("seed", 1, "random seed")
	lookups := fs.Int("lookups", 10000, "lookups measured on the converged ring, and again after repair")
	joinRate := fs.Int("join-rate", 1, "joins started per tick")
	window := fs.Int64("window", 600, "ticks of lookups after the failures (with --churn)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	plotDir := fs.String("plot-dir", "", "write hops.svg and churn.svg into `DIR`")
	sweepMax := fs.Int("sweep-max", 4096, "largest ring of the hops sweep (powers of 2 from 16, up to --nodes)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	topo := fs.String("topology", "CHORD-RELOAD", "topology plugin every peer runs: CHORD-RELOAD or ONE-HOP")

	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	switch {
	case *nodes < 2:
		fmt.Fprintln(stderr, "reload sim: --nodes must be at least 2")
		return exitUsage
	case *churn < 0 || *churn >= 1:
		fmt.Fprintln(stderr, "reload sim: --churn must be in [0, 1)")
		return exitUsage
	case *churn > 0 && *nodes-int(math.Round(*churn*float64(*nodes))) < 2:
		fmt.Fprintln(stderr, "reload sim: --churn leaves fewer than 2 peers")
		return exitUsage
	case !slices.ContainsFunc(node.TopologyPlugins, func(p string) bool { return strings.EqualFold(p, *topo) }):
		fmt.Fprintf(stderr, "reload sim: --topology %q is not one of %s\n", *topo, strings.Join(node.TopologyPlugins, ", "))
		return exitUsage
	case *lookups < 1 || *joinRate < 1 || *window < 1:
		fmt.Fprintln(stderr, "reload sim: --lookups, --join-rate and --window must be positive")
		return exitUsage
	}

	prog := &progress{w: stderr, quiet: *quiet}
	e := sim.Experiment{
		Nodes: *nodes, JoinRate: *joinRate, Seed: *seed, Lookups: *lookups,
		Churn: *churn, Window: *window, Progress: prog.show, Sim: sim.Config{Topology: *topo},
	}
	rep, err := e.Run()
	if err != nil {
		fmt.Fprintln(stderr, "reload sim:", err)
		return exitFail
	}
	res := simResult{Report: rep}

	if *plotDir != "" {
		var sizes []int
		for n := 16; n <= min(*sweepMax, *nodes) && n < *nodes; n *= 2 {
			sizes = append(sizes, n)
		}
		pts, err := sim.Sweep(sizes, *seed, min(*lookups, 5000), func(p sim.SweepPoint) {
			prog.printf("sweep: N=%d mean hops %.2f (½·log2 N %.2f)", p.N, p.MeanHops, p.HalfLog2N)
		})
		if err != nil {
			fmt.Fprintln(stderr, "reload sim: sweep:", err)
			return exitFail
		}
		res.Sweep = append(pts, sim.SweepPoint{N: rep.Nodes, MeanHops: rep.Lookups.MeanHops, P99Hops: rep.Lookups.P99Hops,
			HalfLog2N: rep.Lookups.HalfLog2N, Success: rep.Lookups.Success, Converged: rep.Converged, ConvergeTicks: rep.ConvergeTicks})
		if res.Plots, err = writePlots(*plotDir, &res); err != nil {
			fmt.Fprintln(stderr, "reload sim:", err)
			return exitFail
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "reload sim:", err)
			return exitFail
		}
	} else {
		printSimReport(stdout, &res)
	}
	if !rep.Converged || (rep.Churn != nil && !rep.Churn.Reconverged) {
		return exitFail
	}
	return exitOK
}

// progress prints the experiment's progress on stderr, a line at most
// about once a second and at every change of phase.
type progress struct {
	w     io.Writer
	quiet bool
	last  time.Time
	phase string
}

func (p *progress) show(s sim.Progress) {
	if p.quiet || (s.Phase == p.phase && time.Since(p.last) < time.Second) {
		return
	}
	var line string
	switch s.Phase {
	case "join":
		line = fmt.Sprintf("joining: %d/%d peers in the ring, tick %d", s.Peers, s.Target, s.Tick)
	case "converge":
		line = fmt.Sprintf("converging: %d/%d peers have the brute-force neighbour sets, tick %d", s.Converged, s.Target, s.Tick)
	case "churn":
		line = fmt.Sprintf("lookups before the failures: %d/%d succeeded", s.LookupsOK, s.LookupsDone)
	case "repair":
		line = fmt.Sprintf("repairing: tick +%d, %d/%d survivors have the brute-force neighbour sets; lookups %d/%d succeeded",
			s.Tick, s.Converged, s.Target, s.LookupsOK, s.LookupsDone)
	case "lookups":
		line = fmt.Sprintf("lookups on %d peers", s.Peers)
	default:
		line = s.Phase
	}
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", s.Elapsed.Seconds(), line)
	p.phase, p.last = s.Phase, time.Now()
}

func (p *progress) printf(format string, a ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, format+"\n", a...)
	}
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func printSimReport(w io.Writer, res *simResult) {
	r := res.Report
	sec := func(ticks int64) float64 { return float64(ticks) * r.TickMillis / 1000 }
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "NO"
	}
	fmt.Fprintf(w, "reload sim: %d peers, seed %d, %d join(s) per tick, tick %g ms\n", r.Nodes, r.Seed, r.JoinRate, r.TickMillis)
	fmt.Fprintf(w, "  converged:      %s, at tick %d (%.1f s virtual; last join at tick %d), %.1f s wall\n",
		yes(r.Converged), r.ConvergeTicks, sec(r.ConvergeTicks), r.LastJoinTick, r.ConvergeWall)
	m := r.Messages
	var reqs []string
	for _, code := range slices.Sorted(maps.Keys(m.RequestsPerJoin)) {
		reqs = append(reqs, fmt.Sprintf("%s %.1f", code, m.RequestsPerJoin[code]))
	}
	fmt.Fprintf(w, "  messages/join:  %.1f hops, %.1f messages (requests and answers); requests: %s\n",
		m.HopsPerJoin, m.OriginatedPerJoin, strings.Join(reqs, ", "))
	fmt.Fprintf(w, "  memory/peer:    %.1f KiB (heap growth %.1f MiB)\n", r.MemoryPerPeer/1024, float64(r.HeapBytes)/(1<<20))
	printLookups(w, "  lookups:        ", r.Lookups)
	if c := r.Churn; c != nil {
		fmt.Fprintf(w, "  churn:          %d of %d peers failed at once (%.0f%%); %d survivors\n",
			c.Failed, r.Nodes, 100*float64(c.Failed)/float64(r.Nodes), c.Survivors)
		d := c.During
		fmt.Fprintf(w, "  during repair:  %d lookups: %s succeeded within 3 attempts, %s at the first; %d reached a wrong peer\n",
			d.Lookups, pct(d.Success), pct(d.FirstTrySuccess), d.WrongPeer)
		fmt.Fprintf(w, "  repaired:       %s, %d ticks after the failures (%.1f s virtual), %.1f s wall; %d message hops (%d messages)\n",
			yes(c.Reconverged), c.RepairTicks, sec(c.RepairTicks), c.RepairWall, c.RepairHops, c.RepairOriginated)
		if c.Repair999Ticks >= 0 {
			fmt.Fprintf(w, "  99.9%% repaired: %d ticks after the failures (%.1f s virtual)\n", c.Repair999Ticks, sec(c.Repair999Ticks))
		}
		printLookups(w, "  after repair:   ", c.After)
	}
	if len(res.Sweep) > 0 {
		fmt.Fprintf(w, "  hops sweep:    ")
		for _, p := range res.Sweep {
			fmt.Fprintf(w, " N=%d %.2f (½·log2 N %.1f);", p.N, p.MeanHops, p.HalfLog2N)
		}
		fmt.Fprintln(w)
	}
	for _, p := range res.Plots {
		fmt.Fprintf(w, "  plot:           %s\n", p)
	}
	fmt.Fprintf(w, "  wall:           %.1f s\n", r.Wall)
}

func printLookups(w io.Writer, prefix string, l sim.LookupReport) {
	fmt.Fprintf(w, "%s%d/%d reached the responsible peer (%s); hops mean %.2f (½·log2 N = %.2f, %+.1f%%), p50 %d, p99 %d, max %d\n",
		prefix, l.OK, l.Count, pct(l.Success), l.MeanHops, l.HalfLog2N, 100*(l.MeanHops-l.HalfLog2N)/l.HalfLog2N, l.P50Hops, l.P99Hops, l.MaxHops)
}

// writePlots writes hops.svg and, after churn, churn.svg into dir.
func writePlots(dir string, res *simResult) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	write := func(name string, c *svgplot.Chart) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, c.SVG(), 0o644); err != nil {
			return err
		}
		files = append(files, p)
		return nil
	}

	var n, mean, p99, ref []float64
	for _, p := range res.Sweep {
		n = append(n, float64(p.N))
		mean = append(mean, p.MeanHops)
		p99 = append(p99, float64(p.P99Hops))
		ref = append(ref, p.HalfLog2N)
	}
	hops := &svgplot.Chart{
		Title:  "CHORD-RELOAD lookups: overlay hops against ring size",
		XLabel: "peers N (log scale)", YLabel: "overlay hops per lookup",
		Log2X: true, ZeroY: true,
		Series: []svgplot.Series{
			{Name: "mean hops (simulated)", X: n, Y: mean, Markers: true},
			{Name: "½·log2 N", X: n, Y: ref, Dash: "7 5", Color: "#555"},
			{Name: "99th percentile", X: n, Y: p99, Dash: "2 4", Color: "#d62728", Markers: true},
		},
	}
	if err := write("hops.svg", hops); err != nil {
		return nil, err
	}

	if c := res.Churn; c != nil && len(c.Timeline) > 0 {
		sec := func(t int64) float64 { return float64(t) * res.TickMillis / 1000 }
		var t, ok, first []float64
		lowest := 100.0
		for _, s := range c.Timeline {
			if s.Lookups == 0 {
				continue
			}
			t = append(t, sec(s.Tick)+sec(c.Bucket)/2) // the bucket's middle
			ok = append(ok, 100*float64(s.OK)/float64(s.Lookups))
			first = append(first, 100*float64(s.FirstTry)/float64(s.Lookups))
			lowest = math.Min(lowest, first[len(first)-1])
		}
		ch := &svgplot.Chart{
			Title:  fmt.Sprintf("Lookup success while %d of %d peers fail at once (t = 0)", c.Failed, res.Nodes),
			XLabel: fmt.Sprintf("seconds since the failures (lookups by start time, %g s buckets)", sec(c.Bucket)),
			YLabel: "lookups reaching the responsible peer", YSuffix: "%",
			YMin: math.Max(0, math.Floor((lowest-1)/10)*10), YMax: 102,
			Series: []svgplot.Series{
				{Name: "within 3 attempts", X: t, Y: ok, Color: "#1f77b4"},
				{Name: "first attempt", X: t, Y: first, Color: "#ff7f0e", Dash: "6 3"},
			},
			VLines: []svgplot.VLine{{X: 0, Label: "failures", Color: "#d62728"}},
		}
		if c.Repair999Ticks > 0 && c.Repair999Ticks < c.RepairTicks {
			ch.VLines = append(ch.VLines, svgplot.VLine{X: sec(c.Repair999Ticks), Label: "99.9% of survivors repaired", Color: "#2ca02c"})
		}
		if c.Reconverged && c.RepairTicks > 0 {
			ch.VLines = append(ch.VLines, svgplot.VLine{X: sec(c.RepairTicks), Label: "all survivors repaired", Color: "#2ca02c"})
		}
		if err := write("churn.svg", ch); err != nil {
			return nil, err
		}
	} else if res.Churn != nil {
		return files, errors.New("no churn timeline to plot")
	}
	return files, nil
}
