package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzCommand fuzzes a peer built from our forwarding engine for two
// seconds: no failure, exit 0, a JSON report; then replays an input file.
func TestFuzzCommand(t *testing.T) {
	dir, addr := conformanceBed(t)
	base := []string{"--target", addr, "--config", filepath.Join(dir, fileConfig),
		"--identity", filepath.Join(dir, dirNodes, "node2"), "--timeout", "5s"}
	out := t.TempDir()
	code, stdout, errs := runCmd(t, runFuzz, append(append([]string(nil), base...),
		"--duration", "2s", "--seed", "3", "--out", out, "--json", "--progress", "1s")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	var rep struct {
		Seed  uint64
		Stats struct {
			Inputs  int
			Answers map[string]int
			Sent    map[string]int
		}
		Failure *json.RawMessage
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, stdout)
	}
	if rep.Seed != 3 || rep.Stats.Inputs == 0 || len(rep.Stats.Answers) == 0 || rep.Failure != nil {
		t.Errorf("report %s", stdout)
	}
	if !strings.Contains(errs, "inputs") {
		t.Errorf("no progress line on stderr: %q", errs)
	}

	// A harmless input replays without failure: exit 0.
	in := filepath.Join(out, "ping.hex")
	// A data frame with an empty message: the target ignores it.
	if err := os.WriteFile(in, []byte("# empty frame\n8000000000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(out, "replay.pcap")
	code, stdout, errs = runCmd(t, runFuzz, append(append([]string(nil), base...), "--replay", in, "--pcap", pcap)...)
	if code != 0 || !strings.Contains(stdout, "still answers") {
		t.Fatalf("replay: exit %d\n%s%s", code, stdout, errs)
	}
	if st, err := os.Stat(pcap); err != nil || st.Size() == 0 {
		t.Errorf("pcap: %v", err)
	}
	if keys := readFile(t, pcap+".keys"); !strings.Contains(string(keys), "CLIENT_") {
		t.Errorf("key log %q", keys)
	}
}

func TestFuzzUsage(t *testing.T) {
	if code, _, _ := runCmd(t, runFuzz, "--help"); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	ok := []string{"--target", "127.0.0.1:1", "--config", "x.xml", "--identity", "d"}
	for _, args := range [][]string{
		{},
		{"--target", "127.0.0.1:1", "--config", "x.xml"},
		append(append([]string(nil), ok...), "--transport", "udp"),
		append(append([]string(nil), ok...), "--seed", "abc"),
		append(append([]string(nil), ok...), "--duration", "0s"),
		append(append([]string(nil), ok...), "--batch", "0"),
		append(append([]string(nil), ok...), "--pcap", "x.pcap"),
		{"stray"}, // a target, but no --config nor --identity
		{"127.0.0.1:1", "127.0.0.2:1", "--config", "x.xml", "--identity", "d"},
		{"127.0.0.1:1", "--target", "127.0.0.2:1", "--config", "x.xml", "--identity", "d"},
	} {
		if code, _, _ := runCmd(t, runFuzz, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	// A missing identity is a failure with a hint, not a usage error.
	if code, _, errs := runCmd(t, runFuzz, "--target", "127.0.0.1:1", "--config", "testdata/none.xml", "--identity", t.TempDir()); code != 1 ||
		!strings.Contains(errs, "reload fuzz: ") {
		t.Errorf("missing config: exit %d %q", code, errs)
	}
	// The target as the positional argument, as in "reload fuzz HOST:PORT".
	if code, _, errs := runCmd(t, runFuzz, "127.0.0.1:1", "--config", "testdata/none.xml", "--identity", t.TempDir()); code != 1 ||
		!strings.Contains(errs, "reload fuzz: ") {
		t.Errorf("positional target: exit %d %q", code, errs)
	}
}
