package main

import (
	"io"
	"log"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/enroll"
)

// Once an account is locked out for failed attempts, "reload enroll"
// says so, and when to retry, instead of a bare HTTP status.
func TestEnrollTooManyAttempts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "test.example.org", "--nodes", "1"); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	run, _, err := startOverlayServerWith(dir, "127.0.0.1:0", log.New(io.Discard, "", 0),
		enroll.Limits{AccountFailures: 1, Lockout: time.Hour, MaxLockout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	enrollAs := func(pw string) (int, string) {
		code, _, errs := runCmd(t, runEnroll, "--server", run.URL, "--user", "node1", "--password", pw,
			"--out", filepath.Join(t.TempDir(), "x"), "--ca-cert", filepath.Join(dir, fileCA), "--enroll-url", run.URL+"/enroll")
		return code, errs
	}
	if code, errs := enrollAs("wrong"); code != 1 || !strings.Contains(errs, "failed_authentication") {
		t.Fatalf("wrong password: exit %d, %q", code, errs)
	}
	code, errs := enrollAs(password(t, dir, "node1"))
	if code != 1 || !strings.Contains(errs, "too many failed attempts") || !strings.Contains(errs, "retry in 1h0m0s") {
		t.Fatalf("locked-out account: exit %d, %q", code, errs)
	}
}
