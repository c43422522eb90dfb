package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const capture = "../../testdata/captures/messages.pcap"

func runReload(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDissectCaptureVerify(t *testing.T) {
	code, out, errs := runReload(t, "dissect", "--verify", capture)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "33 RELOAD messages, 66 frames, 0 failed, 33 re-encoded identically") {
		t.Fatalf("summary line missing:\n%s", out)
	}
	// RFC names where Wireshark's differ.
	for _, want := range []string{"path_track_req (0x0027)", "path_track_ans (0x0028)", "Diagnostic_Ping (0x0002)", "Error_Underlay_Destination_Unreachable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestDissectJSON(t *testing.T) {
	code, out, errs := runReload(t, "dissect", "--json", "--verify", capture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	msgs := 0
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if _, ok := obj["message_code"]; ok {
			msgs++
			if obj["verify"] != "identical" {
				t.Errorf("verify = %v", obj["verify"])
			}
			if obj["body"] == nil {
				t.Errorf("%v: body not decoded", obj["message_code"])
			}
		}
	}
	if msgs != 33 {
		t.Fatalf("%d messages in JSON, want 33", msgs)
	}
}

func pingHex(t *testing.T) string {
	raw, err := os.ReadFile("../../testdata/vectors/message_ping.hex")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for line := range strings.SplitSeq(string(raw), "\n") {
		line, _, _ = strings.Cut(line, "#")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	return sb.String()
}

func TestDissectHex(t *testing.T) {
	h := pingHex(t)
	if code, out, errs := runReload(t, "dissect", "--hex", h); code != 0 || !strings.Contains(out, "ping_req (0x0017)") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// A framed DATA frame around the message is recognised too.
	framed := "80" + "00000007" + "00004f" + h
	if code, out, errs := runReload(t, "dissect", "--hex", framed); code != 0 || !strings.Contains(out, "DATA sequence=7") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

func TestDissectErrors(t *testing.T) {
	h := pingHex(t)
	// Cut inside the SecurityBlock: the length field says 79 bytes.
	code, _, errs := runReload(t, "dissect", "--hex", h[:2*70])
	if code != 1 || !strings.Contains(errs, "at byte 70") || !strings.Contains(errs, "truncated") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	// A bad body: PingReq padding length larger than the body.
	bad := []byte(h)
	copy(bad[2*62:], "ff")
	code, _, errs = runReload(t, "dissect", "--hex", string(bad))
	if code != 1 || !strings.Contains(errs, "PingReq.padding") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runReload(t, "dissect", "--hex", "zz"); code != 2 || !strings.Contains(errs, "--hex") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runReload(t, "dissect", "--no-such-flag"); code != 2 {
		t.Fatalf("exit %d for a bad flag", code)
	}
	if code, _, _ := runReload(t, "dissect", "/nonexistent/file.pcap"); code != 2 {
		t.Fatalf("exit %d for a missing file", code)
	}
	if code, out, _ := runReload(t, "dissect", "--help"); code != 0 || !strings.Contains(out, "usage: reload dissect") {
		t.Fatalf("--help: exit %d", code)
	}
	if code, _, _ := runReload(t, "nonsense"); code != 2 {
		t.Fatal("unknown command accepted")
	}
}
