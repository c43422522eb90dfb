package sim

import (
	"reflect"
	"testing"
)

// TestExperimentChurn: a 300-peer ring converges; after a fifth fails at
// once, lookups with retries succeed, the survivors reconverge, and the
// report adds up. The same seed gives the same report.
func TestExperimentChurn(t *testing.T) {
	e := Experiment{Nodes: 300, Seed: 7, Churn: 0.2, Lookups: 2000, Window: 200}
	rep, err := e.Run()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Converged || rep.ConvergeTicks < rep.LastJoinTick {
		t.Fatalf("not converged: %+v", rep)
	}
	if rep.Lookups.Count != 2000 || rep.Lookups.OK != 2000 {
		t.Errorf("lookups on the converged ring: %+v", rep.Lookups)
	}
	if l := rep.Lookups; l.MeanHops <= 0 || l.P99Hops < l.P50Hops || l.MaxHops < l.P99Hops {
		t.Errorf("hop statistics inconsistent: %+v", l)
	}
	if rep.Messages.HopsPerJoin <= 0 || rep.Messages.RequestsPerJoin["join_req"] < 1 || rep.MemoryPerPeer <= 0 {
		t.Errorf("messages %+v, memory per peer %v", rep.Messages, rep.MemoryPerPeer)
	}
	c := rep.Churn
	if c == nil || c.Failed != 60 || c.Survivors != 240 {
		t.Fatalf("churn: %+v", c)
	}
	if !c.Reconverged || c.During.Lookups != 200*10 || c.During.Success < 0.99 || c.After.OK != c.After.Count {
		t.Errorf("churn outcome: reconverged %v after %d ticks, during %+v, after %+v", c.Reconverged, c.RepairTicks, c.During, c.After)
	}
	sum := 0
	for _, s := range c.Timeline {
		if s.Tick >= 0 && s.Tick < 200 {
			sum += s.Lookups
		}
	}
	if sum != c.During.Lookups {
		t.Errorf("timeline counts %d lookups in the window, During %d", sum, c.During.Lookups)
	}
	again, _ := e.Run()
	rep.Wall, rep.ConvergeWall, rep.HeapBytes, rep.MemoryPerPeer, rep.Churn.RepairWall = 0, 0, 0, 0, 0
	again.Wall, again.ConvergeWall, again.HeapBytes, again.MemoryPerPeer, again.Churn.RepairWall = 0, 0, 0, 0, 0
	if !reflect.DeepEqual(rep, again) {
		t.Error("the same seed gave different reports")
	}
}

func TestSweep(t *testing.T) {
	pts, err := Sweep([]int{16, 64}, 1, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].N != 16 || pts[1].N != 64 {
		t.Fatalf("points: %+v", pts)
	}
	for _, p := range pts {
		if !p.Converged || p.Success != 1 || p.MeanHops <= 0 {
			t.Errorf("point %+v", p)
		}
	}
}

func TestExperimentRejects(t *testing.T) {
	for _, e := range []Experiment{{Nodes: 1}, {Nodes: 10, Churn: 1}, {Nodes: 10, Churn: -0.1}, {Nodes: 3, Churn: 0.5}} {
		if _, err := e.Run(); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}
