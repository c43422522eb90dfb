package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A --conformance-log that cannot be opened stops reload node with an
// error naming the flag, before the node starts.
func TestNodeConformanceLogUnwritable(t *testing.T) {
	dir := t.TempDir()
	ov := filepath.Join(dir, "ov")
	if code, _, errs := runReload(t, "overlay", "init", "--dir", ov, "--name", "monitor.example.org", "--nodes", "1"); code != exitOK {
		t.Fatalf("overlay init: %d\n%s", code, errs)
	}
	code, _, errs := runReload(t, "node", "--config", filepath.Join(ov, fileConfig), "--identity", filepath.Join(ov, dirNodes, "node1"),
		"--seed", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--conformance-log", dir) // a directory
	if code == exitOK || !strings.Contains(errs, "--conformance-log") {
		t.Fatalf("exit %d, stderr %q; want a failure naming --conformance-log", code, errs)
	}
}
