package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite the generated command reference in README.md")

// subcommands lists every command line that has its own usage: each
// command, and each command of "reload overlay".
func subcommands() [][]string {
	var out [][]string
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range commands {
			if !yield(n) {
				return
			}
		}
	}) {
		out = append(out, []string{name})
		if name == "overlay" {
			out = append(out, []string{"overlay", "init"}, []string{"overlay", "serve"}, []string{"overlay", "sign"}, []string{"overlay", "push"})
		}
	}
	return out
}

// withJSON are the commands whose output a script wants: they must take
// --json. The others run until interrupted (node, overlay serve) or only
// dispatch (overlay), and need not.
var withJSON = map[string]bool{
	"conformance": true, "demo": true, "dissect": true, "enroll": true, "fetch": true, "find": true, "fuzz": true,
	"overlay init": true, "overlay push": true, "overlay sign": true, "ping": true, "sim": true, "stat": true, "status": true, "store": true, "traceroute": true,
}

// TestCLIConventions checks every subcommand: --help and "reload help"
// print the usage to stdout and exit 0; an unknown flag exits 2 with the
// command's name and its usage on stderr; --json is there where a script
// wants it.
func TestCLIConventions(t *testing.T) {
	for _, cmd := range subcommands() {
		name := strings.Join(cmd, " ")
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			code, out, errs := runReload(t, append(slices.Clone(cmd), "--help")...)
			if code != exitOK || !strings.HasPrefix(out, "usage: reload "+name) || errs != "" {
				t.Fatalf("--help: exit %d, stdout %q, stderr %q", code, firstLine(out), errs)
			}
			if len(cmd) == 1 {
				code, out2, _ := runReload(t, "help", name)
				if code != exitOK || out2 != out {
					t.Errorf("reload help %s: exit %d, output differs from --help", name, code)
				}
			}
			if withJSON[name] && !strings.Contains(out, "  -json") {
				t.Errorf("no --json")
			}
			code, out, errs = runReload(t, append(slices.Clone(cmd), "--no-such-flag")...)
			if code != exitUsage || out != "" {
				t.Fatalf("unknown flag: exit %d, want %d; stdout %q", code, exitUsage, out)
			}
			if !strings.HasPrefix(errs, "reload "+name+": ") || !strings.Contains(errs, "no-such-flag") || !strings.Contains(errs, "usage: reload "+name) {
				t.Errorf("unknown flag: stderr does not name the command, the flag and the usage:\n%s", errs)
			}
		})
	}
}

// TestCLIErrors: usage errors exit 2 and say what is wrong, failures exit
// 1 as "reload <cmd>: <error>" with a hint, and flags may follow the
// positional arguments.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, exitUsage, []string{"usage: reload <command>"}},
		{"unknown command", []string{"nope"}, exitUsage, []string{`unknown command "nope"`}},
		{"help for unknown command", []string{"help", "nope"}, exitUsage, []string{`unknown command "nope"`}},
		{"extra argument", []string{"status", "extra"}, exitUsage, []string{`reload status: unexpected argument "extra"`, "usage: reload status"}},
		{"missing argument", []string{"fetch", "alice"}, exitUsage, []string{"reload fetch: give RESOURCE KIND"}},
		{"bad kind", []string{"store", "alice", "NO-SUCH-KIND", "v"}, exitUsage, []string{"reload store: unknown kind"}},
		{"bad count", []string{"ping", "--count", "0", "alice"}, exitUsage, []string{"reload ping: --count"}},
		{"coap without a device security mode", []string{"node", "--coap", "127.0.0.1:0"}, exitUsage, []string{"reload node: --coap", "--coap-nosec"}},
		{"bad diag kind", []string{"traceroute", "--diag", "NO_SUCH", "alice"}, exitUsage, []string{"reload traceroute: --diag"}},
		{"node without config", []string{"node"}, exitUsage, []string{"reload node: --config and --identity are required"}},
		{"node with a missing config", []string{"node", "--config", filepath.Join(dir, "none.xml"), "--identity", dir},
			exitFail, []string{"reload node: ", "hint: --config"}},
		{"node with --ice-loopback but no --ice", []string{"node", "--config", filepath.Join(dir, "none.xml"), "--identity", dir, "--ice-loopback"},
			exitUsage, []string{"reload node: --ice-loopback needs --ice"}},
		{"node with an unknown sender", []string{"node", "--config", filepath.Join(dir, "none.xml"), "--identity", dir, "--dtls-sender", "fast"},
			exitUsage, []string{"reload node: --dtls-sender: want windowed or stop-and-wait"}},
		{"conformance with a missing identity", []string{"conformance", "--target", "127.0.0.1:1", "--config", "testdata/none.xml", "--identity", dir},
			exitFail, []string{"reload conformance: ", "hint: --config"}},
		{"no node at the control address, flags after the destination", []string{"ping", "alice", "--control", "127.0.0.1:1", "--json"},
			exitFail, []string{"reload ping: alice: no node answers", "give --control"}},
		{"flags after --", []string{"status", "--", "--json"}, exitUsage, []string{`unexpected argument "--json"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runReload(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// The README's command reference holds every subcommand's --help output
// between these markers; the test fails when they disagree.
const (
	helpBegin = "<!-- BEGIN reload --help: generated by `go test ./cmd/reload -run TestREADMEHelp -update` -->\n"
	helpEnd   = "<!-- END reload --help -->\n"
)

func helpReference(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	for _, cmd := range subcommands() {
		code, out, _ := runReload(t, append(slices.Clone(cmd), "--help")...)
		if code != exitOK {
			t.Fatalf("reload %s --help: exit %d", strings.Join(cmd, " "), code)
		}
		b.WriteString("```text\n$ reload " + strings.Join(cmd, " ") + " --help\n" + out)
		if !strings.HasSuffix(out, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("```\n\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestREADMEHelp checks that README.md shows the current --help output of
// every subcommand, and that its summary table names every command.
func TestREADMEHelp(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, helpBegin), strings.Index(readme, helpEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q and %q", helpBegin, helpEnd)
	}
	want := helpReference(t)
	got := readme[i+len(helpBegin) : j]
	if got != want {
		if *updateREADME {
			readme = readme[:i+len(helpBegin)] + want + readme[j:]
			if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's command reference differs from --help; run go test ./cmd/reload -run TestREADMEHelp -update")
	}
	for n := range commands {
		if !strings.Contains(readme[:i], "| `reload "+n) {
			t.Errorf("README.md's command table lacks reload %s", n)
		}
	}
}
