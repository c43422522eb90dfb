package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo runs end to end with --pcap; its report is asserted step by
// step, and Wireshark decrypts the capture with the key log and finds the
// RELOAD messages of every step in it.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "demo.pcap")
	code, out, errs := runReload(t, "demo", "--nodes", "6", "--json", "--pcap", pcap)
	var rep demoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errs)
	}
	_, sippErr := exec.LookPath("sipp")
	hasSipp := sippErr == nil
	// Each step in order, with what its detail must say.
	want := []struct{ name, detail string }{
		{"CA and configuration", `^enrollment CA, signed configuration, 6 accounts$`},
		{"enrollment server", `^https://127\.0\.0\.1:\d+$`},
		{"fetch configuration", `^over HTTPS \(/\.well-known/reload-config\), sequence \d+$`},
		{"enroll peers", `^6 certificates with Node-IDs chosen by the server$`},
		{"start and join peers", `^6 peers, DTLS over ICE$`},
		{"ring converged", `^every successor and predecessor is the next and previous peer of the sorted ring$`},
		{"store and fetch", `^stored by peer 1 under node1@demo\.reload\.test, fetched by peer [2-6]$`},
		{"diagnostic ping", `^\d+ hops, .+, [1-9]\d* diagnostic values$`},
		{"traceroute", `^[1-9]\d* hops: [0-9a-f]{8}( → [0-9a-f]{8})*$`},
		{"SIP call", `^node6@demo\.reload\.test called node1@demo\.reload\.test \(peer 6 to peer 1\): INVITE \[407 180 200\], ACK, BYE; set-up .+$`},
		{"SIP call (sipp)", `^skipped: sipp`},
	}
	if hasSipp {
		want[len(want)-1] = struct{ name, detail string }{"SIP call (sipp)",
			`^node1 registered at peer 1, called from peer 6: INVITE/100/180/200/ACK/BYE in .+$`}
	}
	for i, w := range want {
		if i >= len(rep.Steps) {
			t.Errorf("step %d %q missing", i+1, w.name)
			continue
		}
		s := rep.Steps[i]
		if s.Name != w.name || !s.OK || !regexp.MustCompile(w.detail).MatchString(s.Detail) {
			t.Errorf("step %d: %+v, want %q ok with detail matching %s", i+1, s, w.name, w.detail)
		}
	}
	if len(rep.Steps) != len(want) {
		t.Errorf("%d steps, want %d: %+v", len(rep.Steps), len(want), rep.Steps)
	}
	if code != 0 || !rep.OK || len(rep.Ring) != 6 || rep.Nodes != 6 || rep.Links != "DTLS over ICE" {
		t.Fatalf("exit %d, ok %v, nodes %d, links %q, ring %v\n%s", code, rep.OK, rep.Nodes, rep.Links, rep.Ring, errs)
	}

	// The capture's files, and the command that opens them.
	c := rep.Capture
	if c == nil {
		t.Fatal("the report names no capture")
	}
	if c.Pcap != pcap || c.KeyLog != pcap+".keys" || c.Lua != pcap+".lua" || len(c.TLSPorts) == 0 {
		t.Fatalf("capture %+v", c)
	}
	if w := "wireshark -X lua_script:" + c.Lua + " -o tls.keylog_file:" + c.KeyLog + " " + c.Pcap; c.Wireshark != w {
		t.Errorf("command %q, want %q", c.Wireshark, w)
	}
	if keys := readFile(t, c.KeyLog); !bytes.Contains(keys, []byte("CLIENT_RANDOM ")) {
		t.Errorf("key log without CLIENT_RANDOM lines:\n%s", keys)
	}
	for _, p := range c.TLSPorts {
		if !bytes.Contains(readFile(t, c.Lua), []byte(strconv.Itoa(int(p)))) {
			t.Errorf("Lua script lacks port %d", p)
		}
	}

	// What Wireshark makes of it.
	methods := []string{"attach_req", "attach_ans", "join_req", "join_ans", "update_req", "update_ans",
		"store_req", "store_ans", "fetch_req", "fetch_ans", "ping_req", "ping_ans", "app_attach_req", "app_attach_ans"}
	oracle := os.Getenv("RELOAD_ORACLE")
	tshark, tsharkErr := exec.LookPath("tshark")
	if oracle == "" && tsharkErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI needs tshark or the RELOAD_ORACLE checker")
		}
		t.Skip("neither RELOAD_ORACLE nor tshark: the capture is not dissected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if oracle != "" {
		ports := make([]string, len(c.TLSPorts))
		for i, p := range c.TLSPorts {
			ports[i] = strconv.Itoa(int(p))
		}
		out, err := exec.CommandContext(ctx, oracle, "-k", c.KeyLog, "-p", strings.Join(ports, ","), c.Pcap).CombinedOutput()
		t.Logf("oracle -k %s -p %s %s:\n%s", c.KeyLog, strings.Join(ports, ","), c.Pcap, out)
		if err != nil || !bytes.Contains(out, []byte("\nproblems: 0\n")) {
			t.Errorf("oracle: %v", err)
		}
		for _, m := range methods {
			if !regexp.MustCompile(`(?m)^ +[1-9]\d*  ` + m + ` \(\d+\)$`).Match(out) {
				t.Errorf("oracle decoded no %s", m)
			}
		}
	}
	if tsharkErr == nil {
		// As the report tells a user to open it, with tshark.
		args := []string{"-r", c.Pcap, "-n", "-X", "lua_script:" + c.Lua, "-o", "tls.keylog_file:" + c.KeyLog}
		out, err := exec.CommandContext(ctx, tshark, append(args, "-Y", "reload", "-T", "fields", "-e", "reload.message.code")...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		codes := map[string]int{}
		for _, f := range strings.FieldsFunc(string(out), func(r rune) bool { return r == ',' || r == '\n' }) {
			codes[f]++
		}
		t.Logf("tshark with the demo's Lua script: RELOAD message codes %v", codes)
		// Codes of RFC 6940 §14.8 for the methods above.
		for _, code := range []string{"3", "4", "15", "16", "19", "20", "7", "8", "9", "10", "23", "24", "29", "30"} {
			if codes[code] == 0 {
				t.Errorf("tshark decoded no message with code %s", code)
			}
		}
		// The demo's sockets take ephemeral ports, and Wireshark's
		// Elasticsearch dissector claims UDP 54328 by port: a DTLS link
		// that lands there is taken for "Zen Ping" and reported malformed.
		// That dissector has nothing to say about RELOAD.
		bad, err := exec.CommandContext(ctx, tshark, append(args, "--disable-protocol", "elasticsearch", "-Y", "_ws.malformed")...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if len(bytes.TrimSpace(bad)) > 0 {
			t.Errorf("tshark found malformed packets:\n%s", bad)
		}
	}
}
