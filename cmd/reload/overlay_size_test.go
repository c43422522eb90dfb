package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goreload/reload/config"
)

// RFC 6940 §6.5.4, §11.1: "overlay init" writes a max-message-size that a
// ConfigUpdate carrying its signed document fits in (64 KiB by default),
// and refuses, with a hint and without writing the configuration, a size
// too small for it, such as RFC 6940's default of 5000 bytes.
func TestOverlayInitMaxMessageSize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "size.example.org"); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	raw := readFile(t, filepath.Join(dir, fileConfig))
	doc, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configuration("size.example.org")
	if c.MaxMessageSize != config.RecommendedMaxMessageSize {
		t.Errorf("max-message-size %d, want %d", c.MaxMessageSize, config.RecommendedMaxMessageSize)
	}
	if len(raw) <= config.DefaultMaxMessageSize {
		t.Errorf("document of %d bytes: a ConfigUpdate would fit RFC 6940's default", len(raw))
	}
	if err := c.CheckUpdateSize(len(raw)); err != nil {
		t.Error(err)
	}

	small := filepath.Join(t.TempDir(), "small")
	code, _, errs := runCmd(t, runOverlay, "init", "--dir", small, "--name", "size.example.org", "--max-message-size", "5000")
	if code == 0 || !strings.Contains(errs, "too large for max-message-size") || !strings.Contains(errs, "--max-message-size") {
		t.Fatalf("init with 5000: exit %d\n%s", code, errs)
	}
	for _, f := range []string{fileConfig, fileCAKey, dirSigner} {
		if _, err := os.Stat(filepath.Join(small, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a refused init: %v", f, err)
		}
	}
	if code, _, _ := runCmd(t, runOverlay, "init", "--dir", small, "--name", "size.example.org", "--max-message-size", "0"); code != 2 {
		t.Errorf("--max-message-size 0: exit %d, want 2", code)
	}
}
