package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The TURN flags of reload node (RFC 6940 §9) are checked before the
// node starts: they need --ice, relay-only needs a server given in
// advance, and --turn-advertise goes with --turn-server.
func TestNodeTURNFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "none.xml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"server without ICE", []string{"--turn-server", "127.0.0.1:3479"}, exitUsage, "need --ice"},
		{"use without ICE", []string{"--turn-use"}, exitUsage, "need --ice"},
		{"relay-only without a server", []string{"--ice", "--turn-relay-only"}, exitUsage, "--turn-relay-only needs --turn"},
		{"advertise without a server", []string{"--ice", "--turn-use", "--turn-advertise", "192.0.2.1:3479"}, exitUsage, "--turn-advertise needs --turn-server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runReload(t, append([]string{"node", "--config", cfg, "--identity", dir}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
}
