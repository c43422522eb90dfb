package main

import (
	"strings"
	"testing"
)

// The DTLS bootstrap flags of reload node refuse what cannot work, before
// anything is read or opened.
func TestNodeDTLSFlagsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-transport", "quic"}, "want auto, tls or dtls"},
		{[]string{"--bootstrap-transport", "dtls"}, "needs --listen-udp"},
		{[]string{"--listen-udp", "127.0.0.1:0", "--ice"}, "without ICE"},
	} {
		args := append([]string{"--config", "overlay.xml", "--identity", "id"}, tc.args...)
		code, _, errs := runCmd(t, runNode, args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, %q; want usage error with %q", tc.args, code, errs, tc.want)
		}
	}
}
