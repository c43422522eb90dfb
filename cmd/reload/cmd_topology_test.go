package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreload/reload/config"
)

// TestOverlayInitTopology: --topology writes the plugin's name into the
// configuration (RFC 6940 §11.1 topology-plugin); an unknown one is a
// usage error naming the plugins there are.
func TestOverlayInitTopology(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "test.example.org", "--nodes", "0", "--topology", "one-hop")
	if code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Configurations[0].TopologyPlugin; got != "ONE-HOP" {
		t.Fatalf("topology-plugin %q", got)
	}
	code, _, errs = runCmd(t, runOverlay, "init", "--dir", filepath.Join(t.TempDir(), "x"), "--name", "test.example.org", "--topology", "PASTRY")
	if code != exitUsage || !strings.Contains(errs, "PASTRY") || !strings.Contains(errs, "ONE-HOP") {
		t.Fatalf("unknown topology: %d %s", code, errs)
	}
}

// TestSimTopology: reload sim --topology ONE-HOP runs the simulator with
// the ONE-HOP plugin: the ring converges and lookups take at most one hop
// once every peer has the whole membership.
func TestSimTopology(t *testing.T) {
	code, out, errs := runCmd(t, runSim, "--nodes", "20", "--lookups", "200", "--topology", "ONE-HOP", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("sim: %d\n%s", code, errs)
	}
	var r struct {
		Converged bool `json:"converged"`
		Lookups   struct {
			MeanHops float64 `json:"mean_hops"`
		} `json:"lookups"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Converged || r.Lookups.MeanHops > 1.2 {
		t.Fatalf("report %+v", r)
	}
	if code, _, _ := runCmd(t, runSim, "--topology", "NOPE"); code != exitUsage {
		t.Fatalf("unknown topology: exit %d", code)
	}
}
