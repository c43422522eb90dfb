package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// The demo runs end to end and its report is asserted step by step.
func TestDemo(t *testing.T) {
	code, out, errs := runReload(t, "demo", "--nodes", "6", "--json")
	var rep demoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errs)
	}
	want := []string{"CA and configuration", "enrollment server", "fetch configuration", "enroll peers",
		"start and join peers", "ring converged", "store and fetch", "diagnostic ping", "traceroute", "SIP call"}
	if _, err := exec.LookPath("sipp"); err == nil {
		want = append(want, "SIP call (sipp)")
	}
	steps := map[string]demoStep{}
	for _, s := range rep.Steps {
		steps[s.Name] = s
	}
	for _, name := range want {
		s, ok := steps[name]
		if !ok || !s.OK {
			t.Errorf("step %q: %+v", name, s)
		}
	}
	if code != 0 || !rep.OK || len(rep.Ring) != 6 {
		t.Fatalf("exit %d, ok %v, ring %v", code, rep.OK, rep.Ring)
	}
}
