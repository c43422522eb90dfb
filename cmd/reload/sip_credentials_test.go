package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeSIPCredentials: "reload overlay init" gives each node a SIP
// credentials file (0600) with its user's password; "reload node
// --sip-udp" reads it by default, and refuses to start without
// credentials unless --sip-no-auth says so.
func TestNodeSIPCredentials(t *testing.T) {
	dir := t.TempDir()
	ov := filepath.Join(dir, "ov")
	if code, _, errs := runReload(t, "overlay", "init", "--dir", ov, "--name", "sipauth.example.org", "--nodes", "1"); code != exitOK {
		t.Fatalf("overlay init: %d\n%s", code, errs)
	}
	idDir := filepath.Join(ov, dirNodes, "node1")
	st, err := os.Stat(filepath.Join(idDir, fileSIPUsers))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %o, want 600", fileSIPUsers, st.Mode().Perm())
	}
	pw, err := readSIPPassword(idDir, "node1")
	if err != nil || len(pw) < 16 {
		t.Fatalf("password of node1: %q, %v", pw, err)
	}

	// The default file of the identity directory.
	c, err := sipFrontend("127.0.0.1:0", "", "", idDir, false)
	if err != nil || c.NoAuth || c.Credentials["node1"].Password != pw {
		t.Fatalf("sipFrontend with IDENTITY/sip-users: %+v, %v", c, err)
	}
	if c, err := sipFrontend("127.0.0.1:0", "", "", idDir, true); err != nil || !c.NoAuth {
		t.Fatalf("sipFrontend --sip-no-auth: %+v, %v", c, err)
	}
	if _, err := sipFrontend("127.0.0.1:0", "", filepath.Join(idDir, fileSIPUsers), idDir, true); err == nil {
		t.Fatal("--sip-no-auth with --sip-credentials accepted")
	}
	if c, err := sipFrontend("", "", "", idDir, false); err != nil || c != nil {
		t.Fatalf("no SIP flags: %+v, %v", c, err)
	}

	// An identity without credentials: the node does not start.
	bare := filepath.Join(dir, "bare")
	if err := os.MkdirAll(bare, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fileCert, fileKey} {
		b, err := os.ReadFile(filepath.Join(idDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bare, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"node", "--config", filepath.Join(ov, fileConfig), "--identity", bare, "--listen", "127.0.0.1:0",
		"--control", "127.0.0.1:0", "--seed", "--sip-udp", "127.0.0.1:0"}
	code, _, errs := runReload(t, args...)
	if code != exitFail || !strings.Contains(errs, "no credentials") || !strings.Contains(errs, "--sip-no-auth") {
		t.Fatalf("reload node --sip-udp without credentials: exit %d\n%s", code, errs)
	}
	// A credentials file others can read: refused with the fix.
	loose := filepath.Join(dir, "loose-users")
	if err := os.WriteFile(loose, []byte("node1 "+pw+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runReload(t, append(args, "--sip-credentials", loose)...)
	if code != exitFail || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("reload node --sip-credentials (mode 644): exit %d\n%s", code, errs)
	}
}
