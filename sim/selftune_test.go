package sim

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goreload/reload/sim/svgplot"
	"github.com/goreload/reload/topology/chord"
)

var updateSelfTune = flag.Bool("selftune.update", false, "run the long RFC 7363 experiment and rewrite docs/selftune.svg")

// selfTuneRun runs both arms of the phased-churn comparison.
func selfTuneRun(t *testing.T, nodes int, phases []ChurnPhase, bucket, settle int64) (fixed, tuned []PhasedSample) {
	t.Helper()
	neighbors := int(math.Ceil(math.Log2(float64(nodes))))
	fixedArm, tunedArm := SelfTuningArms(15*time.Second, neighbors, 15*time.Second, 120*time.Second, 60*time.Second)
	run := func(hook func(*chord.Config)) []PhasedSample {
		e := PhasedChurn{Nodes: nodes, Seed: 7, Phases: phases, Bucket: bucket, Settle: settle, Sim: Config{Chord: hook}}
		out, err := e.Run()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return run(fixedArm), run(tunedArm)
}

func totals(ss []PhasedSample) (lookups, ok, maint int) {
	for _, s := range ss {
		lookups += s.Lookups
		ok += s.OK
		maint += s.Maintenance
	}
	return
}

// TestSelfTuningPhasedChurn: under calm, storm, calm churn, self-tuning
// CHORD-RELOAD (RFC 7363) keeps lookups succeeding about as well as a
// fixed stabilisation interval tuned for the storm, with fewer
// maintenance messages (RFC 7363 §3.2, §3.3). The CI run is short; with
// -selftune.update a longer one rewrites docs/selftune.svg.
func TestSelfTuningPhasedChurn(t *testing.T) {
	// Ticks of 100 ms: calm is a failure every 100 s, the storm one every
	// 5 s, each failed peer replaced by a new one.
	nodes, bucket, settle := 24, int64(600), int64(9000)
	phases := []ChurnPhase{{"calm", 4800, 1.0 / 1000}, {"storm", 2400, 1.0 / 50}, {"calm", 4800, 1.0 / 1000}}
	if *updateSelfTune {
		nodes, settle = 100, 36000
		phases = []ChurnPhase{{"calm", 18000, 1.0 / 1000}, {"storm", 9000, 1.0 / 50}, {"calm", 18000, 1.0 / 1000}}
	}
	fixed, tuned := selfTuneRun(t, nodes, phases, bucket, settle)
	fl, fo, fm := totals(fixed)
	tl, to, tm := totals(tuned)
	t.Logf("fixed: %d/%d lookups ok (%.2f%%), %d maintenance requests", fo, fl, 100*float64(fo)/float64(fl), fm)
	t.Logf("tuned: %d/%d lookups ok (%.2f%%), %d maintenance requests", to, tl, 100*float64(to)/float64(tl), tm)
	for i := range tuned {
		t.Logf("t=%5d fixed ok %.3f maint %5d int %5.1fs | tuned ok %.3f maint %5d int %5.1fs size %.0f peers %d",
			tuned[i].Tick, ratio(fixed[i]), fixed[i].Maintenance, fixed[i].Interval, ratio(tuned[i]), tuned[i].Maintenance, tuned[i].Interval, tuned[i].Size, tuned[i].Peers)
	}
	if tm >= fm {
		t.Errorf("self-tuning sent %d maintenance requests, the fixed interval %d", tm, fm)
	}
	if float64(to)/float64(tl) < float64(fo)/float64(fl)-0.02 {
		t.Errorf("self-tuning lookup success %.4f, fixed %.4f", float64(to)/float64(tl), float64(fo)/float64(fl))
	}
	if *updateSelfTune {
		writeSelfTunePlot(t, fixed, tuned, phases, bucket)
	}
}

func ratio(s PhasedSample) float64 {
	if s.Lookups == 0 {
		return 0
	}
	return float64(s.OK) / float64(s.Lookups)
}

func writeSelfTunePlot(t *testing.T, fixed, tuned []PhasedSample, phases []ChurnPhase, bucket int64) {
	min := func(s PhasedSample) float64 { return float64(s.Tick) / 600 } // 100 ms ticks
	series := func(ss []PhasedSample, y func(PhasedSample) float64) (xs, ys []float64) {
		for _, s := range ss {
			xs, ys = append(xs, min(s)), append(ys, y(s))
		}
		return
	}
	var lines []svgplot.VLine
	var at int64
	for _, p := range phases[:len(phases)-1] {
		at += p.Ticks
		lines = append(lines, svgplot.VLine{X: float64(at) / 600, Label: "end of " + p.Name})
	}
	perMin := func(s PhasedSample) float64 { return float64(s.Maintenance) / (float64(bucket) / 600) }
	okPct := func(s PhasedSample) float64 { return 100 * ratio(s) }
	fx, fy := series(fixed, okPct)
	tx, ty := series(tuned, okPct)
	ok := &svgplot.Chart{Title: fmt.Sprintf("Lookup success under calm/storm/calm churn, %d peers", fixed[0].Peers),
		XLabel: "time (min)", YLabel: "lookups reaching the responsible peer", YSuffix: "%", VLines: lines,
		Series: []svgplot.Series{{Name: "fixed 15 s interval", X: fx, Y: fy}, {Name: "self-tuning (RFC 7363)", X: tx, Y: ty}}}
	fx, fy = series(fixed, perMin)
	tx, ty = series(tuned, perMin)
	mt := &svgplot.Chart{Title: "Maintenance requests (Update, Probe, Ping, RouteQuery) per minute",
		XLabel: "time (min)", YLabel: "requests per minute", ZeroY: true, VLines: lines,
		Series: []svgplot.Series{{Name: "fixed 15 s interval", X: fx, Y: fy}, {Name: "self-tuning (RFC 7363)", X: tx, Y: ty}}}
	fx, fy = series(fixed, func(s PhasedSample) float64 { return s.Interval })
	tx, ty = series(tuned, func(s PhasedSample) float64 { return s.Interval })
	iv := &svgplot.Chart{Title: "Mean stabilisation interval", XLabel: "time (min)", YLabel: "seconds", ZeroY: true, VLines: lines,
		Series: []svgplot.Series{{Name: "fixed 15 s interval", X: fx, Y: fy}, {Name: "self-tuning (RFC 7363)", X: tx, Y: ty}}}
	for name, c := range map[string]*svgplot.Chart{"selftune-lookups.svg": ok, "selftune-maintenance.svg": mt, "selftune-interval.svg": iv} {
		if err := os.WriteFile(filepath.Join("..", "docs", name), c.SVG(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
