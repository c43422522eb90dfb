package wiretest

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/captures/messages.pcap")

const capturePath = "../../testdata/captures/messages.pcap"

// The committed capture is exactly what the generator writes now.
func TestMessagesPcapUpToDate(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMessagesPcap(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(capturePath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(capturePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("%s is stale: run go test ./wire/wiretest -run TestMessagesPcapUpToDate -update", capturePath)
	}
}

// Every request and answer type is in the capture.
func TestSamplesCoverEveryCode(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Samples() {
		seen[s.Msg.Contents.Code.String()] = true
	}
	for _, c := range AllCodes {
		if !seen[c.String()] {
			t.Errorf("no sample for %s", c)
		}
	}
}

// needTool finds a command, skipping the test when it is missing, except
// in CI (CI=true), where the test fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// The capture passes Wireshark's own RELOAD dissector. With RELOAD_ORACLE
// set, that checker script is run on it; otherwise tshark is asked
// directly for malformed packets and RELOAD expert warnings.
//
// Where Wireshark disagrees with the RFCs, the RFC wins and the checker is
// told so: Wireshark 4.0 still uses draft code points for PathTrack
// (0x65/0x66 instead of RFC 7851's 0x27/0x28), the message extensions
// (Diagnostic_Ping and self_tuning_data swapped), the diagnostic error
// codes and kinds, and the version (0x01 instead of 0x0a).
func TestCaptureWireshark(t *testing.T) {
	needTool(t, "tshark")
	path, _ := filepath.Abs(capturePath)
	if oracle := os.Getenv("RELOAD_ORACLE"); oracle != "" {
		out, err := exec.Command(oracle, path).CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if !strings.Contains(string(out), "problems: 0") {
			t.Fatal("oracle reported problems")
		}
		return
	}
	out, err := exec.Command("tshark", "-r", path, "-n", "-Y", "reload", "-T", "fields", "-e", "reload.message.code").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := len(strings.Fields(string(out)))
	if n < len(Samples()) {
		t.Fatalf("tshark decoded %d RELOAD messages, want %d", n, len(Samples()))
	}
	bad, err := exec.Command("tshark", "-r", path, "-n", "-Y", "_ws.malformed").Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(bad)) > 0 {
		t.Fatalf("tshark found malformed packets:\n%s", bad)
	}
}
