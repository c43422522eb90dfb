package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
)

// The operator's path for a new configuration (RFC 6940 §6.5.4, §11.1):
// edit overlay.xml, "reload overlay sign" raises its sequence and signs it
// again with the overlay's configuration signer, "reload overlay push"
// hands it to one running node through the control API, and every peer
// of the overlay ends up with it. Pushing it again is refused as too old.
func TestOverlaySignPush(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "push.example.org", "--nodes", "3"); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	path := filepath.Join(dir, fileConfig)
	doc, raw, err := readConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	var ids []*security.Identity
	for i := range 3 {
		id, err := readIdentity(filepath.Join(dir, "nodes", fmt.Sprintf("node%d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	nodes := startNodes(t, c, raw, ids)
	ctl, err := serveControlAPI(nodes[2], "127.0.0.1:0", "", false, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.close)

	// The operator edits the document: a lower initial TTL.
	edited := strings.Replace(string(raw), "<initial-ttl>100</initial-ttl>", "<initial-ttl>50</initial-ttl>", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, runOverlay, "sign", "--dir", dir)
	want := config.NextSequence(c.Sequence)
	if code != 0 || !strings.Contains(out, "sequence") {
		t.Fatalf("sign: %d\n%s%s", code, out, errs)
	}
	signed, err := config.Parse(readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if s := signed.Configurations[0]; s.Sequence != want {
		t.Fatalf("signed sequence %d, want %d", s.Sequence, want)
	}
	code, out, errs = runReload(t, "overlay", "push", "--control", ctl.addr, path)
	if code != 0 || !strings.Contains(out, "took sequence") {
		t.Fatalf("push: %d\n%s%s", code, out, errs)
	}
	var seqs []uint16
	if !eventually(30*time.Second, func() bool {
		seqs = seqs[:0]
		done := true
		for _, n := range nodes {
			nc, _ := n.Configuration()
			seqs = append(seqs, nc.Sequence)
			done = done && nc.Sequence == want
		}
		return done
	}) {
		t.Fatalf("sequences %v, want all %d", seqs, want)
	}
	if nc, _ := nodes[0].Configuration(); nc.InitialTTL != 50 {
		t.Errorf("initial-ttl %d after the update, want 50", nc.InitialTTL)
	}
	// The same document again is not newer: Error_Config_Too_Old.
	if code, _, errs = runReload(t, "overlay", "push", "--control", ctl.addr, path); code != 1 || !strings.Contains(errs, "Config_Too_Old") {
		t.Fatalf("second push: %d %s", code, errs)
	}
	// Signing an unchanged document still raises the sequence; signing
	// with a directory whose signer is not a configuration-signer fails.
	other := filepath.Join(t.TempDir(), "other")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", other, "--name", "push.example.org", "--nodes", "1"); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	if code, _, errs = runCmd(t, runOverlay, "sign", "--dir", other, "--config", path, "--out", filepath.Join(t.TempDir(), "x.xml")); code != 1 || !strings.Contains(errs, "not a configuration-signer") {
		t.Fatalf("sign with a foreign signer: %d %s", code, errs)
	}
}
