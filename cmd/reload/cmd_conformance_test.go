package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/wire"
)

// oneNodeRouter: the target knows no other node.
type oneNodeRouter struct{}

func (oneNodeRouter) Route(*wire.Destination) (wire.NodeID, bool, error) {
	return wire.NodeID{}, false, &wire.ProtocolError{Code: wire.ErrCodeNotFound}
}

// conformanceBed makes an overlay with two nodes and starts node1 as a
// forwarding engine on loopback; it returns the overlay directory and the
// engine's address.
func conformanceBed(t *testing.T) (dir, addr string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "conf.example.org", "--nodes", "3"); code != 0 {
		t.Fatalf("overlay init: %d\n%s%s", code, out, errs)
	}
	doc, err := config.Parse(readFile(t, filepath.Join(dir, fileConfig)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e, err := forwarding.New(forwarding.Options{
		Identity: loadIdentity(t, filepath.Join(dir, dirNodes, "node1")), Config: doc.Configurations[0],
		Router: oneNodeRouter{}, Listener: ln,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return dir, ln.Addr().String()
}

func TestConformanceCommand(t *testing.T) {
	dir, addr := conformanceBed(t)
	node1 := loadIdentity(t, filepath.Join(dir, dirNodes, "node1")).NodeID()
	pcap := filepath.Join(t.TempDir(), "run.pcap")
	base := []string{"--target", addr, "--config", filepath.Join(dir, fileConfig),
		"--identity", filepath.Join(dir, dirNodes, "node2"), "--timeout", "2s", "--quiet", "300ms"}

	args := append(append([]string(nil), base...), "--expect-node-id", node1.String(), "--json", "--pcap", pcap,
		"--checks", "link.cert,ping.,fh.,frame.")
	code, out, errs := runCmd(t, runConformance, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var rep struct {
		PeerNodeID string `json:"peer_node_id"`
		Results    []struct {
			ID, Status, Section string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	if rep.PeerNodeID != node1.String() || len(rep.Results) < 8 {
		t.Errorf("report for %s with %d results", rep.PeerNodeID, len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Status == "fail" || r.Section == "" {
			t.Errorf("%s: %s (section %q)", r.ID, r.Status, r.Section)
		}
	}
	// The capture holds the TLS connections; the key log their secrets.
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err := pr.ReadPacketData(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n < 20 {
		t.Errorf("%d packets captured", n)
	}
	if keys := readFile(t, pcap+".keys"); !bytes.Contains(keys, []byte("CLIENT_")) {
		t.Errorf("key log %q", keys)
	}

	// A pair of identities: the checks that need a link of their own use
	// the second; the JSON report names it and carries its schema version.
	node3 := loadIdentity(t, filepath.Join(dir, dirNodes, "node3")).NodeID()
	args = append(append([]string(nil), base...), "--identity", filepath.Join(dir, dirNodes, "node3"), "--json",
		"--checks", "frame.seq,frame.ack,err.too-large")
	code, out, errs = runCmd(t, runConformance, args...)
	if code != 0 {
		t.Fatalf("pair: exit %d\n%s%s", code, out, errs)
	}
	var pair struct {
		Schema  int    `json:"schema_version"`
		Second  string `json:"second_node_id"`
		Summary struct{ Pass, Total int }
		Results []struct{ ID, Status, Sent string }
	}
	if err := json.Unmarshal([]byte(out), &pair); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	if pair.Schema != 1 || pair.Second != node3.String() || pair.Summary.Pass != 3 || pair.Summary.Total != 3 {
		t.Errorf("pair report: %+v", pair)
	}
	for _, r := range pair.Results {
		if !strings.Contains(r.Sent, "second identity") {
			t.Errorf("%s ran on %q, want the second identity's link", r.ID, r.Sent)
		}
	}

	// The same identity twice is no pair.
	args = append(append([]string(nil), base...), "--identity", filepath.Join(dir, dirNodes, "node2"))
	if code, _, errs := runCmd(t, runConformance, args...); code != 2 || !strings.Contains(errs, "same Node-ID") {
		t.Errorf("same identity twice: exit %d, %s", code, errs)
	}

	// A wrong expected Node-ID fails link.cert: exit 1, table output.
	args = append(append([]string(nil), base...), "--expect-node-id", strings.Repeat("ab", 16), "--checks", "link.cert")
	code, out, _ = runCmd(t, runConformance, args...)
	if code != 1 || !strings.Contains(out, "link.cert") || !strings.Contains(out, "FAIL") {
		t.Errorf("wrong Node-ID: exit %d\n%s", code, out)
	}
}

func TestConformanceUsage(t *testing.T) {
	if code, _, _ := runCmd(t, runConformance, "--help"); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	for _, args := range [][]string{
		{},
		{"--target", "127.0.0.1:1", "--config", "x.xml"},
		{"--target", "127.0.0.1:1", "--config", "x.xml", "--identity", "d", "--transport", "udp"},
		{"--target", "127.0.0.1:1", "--config", "x.xml", "--identity", "d", "--keylog", "k"},
		{"--target", "127.0.0.1:1", "--config", "x.xml", "--identity", "d", "--expect-node-id", "zz"},
		{"--target", "127.0.0.1:1", "--config", "x.xml", "--identity", "a", "--identity", "b", "--identity", "c"},
		{"stray"},
	} {
		if code, _, _ := runCmd(t, runConformance, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// The whole catalogue against a real node of this stack (node package:
// forwarding, CHORD-RELOAD, storage, diagnostics) over TLS: nothing fails.
func TestConformanceAgainstNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", "conf.example.org", "--nodes", "3"); code != 0 {
		t.Fatalf("overlay init: %d\n%s%s", code, out, errs)
	}
	raw := readFile(t, filepath.Join(dir, fileConfig))
	doc, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Overlay: doc.Configurations[0], ConfigDocument: raw, Seed: true,
		Identity: loadIdentity(t, filepath.Join(dir, dirNodes, "node1"))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-n.Joined()
	code, out, errs := runCmd(t, runConformance, "--target", n.Addr(), "--config", filepath.Join(dir, fileConfig),
		"--identity", filepath.Join(dir, dirNodes, "node2"), "--timeout", "3s", "--quiet", "300ms", "--json")
	var rep struct {
		Results []struct{ ID, Status, Detail, Reason, Got string }
	}
	_ = json.Unmarshal([]byte(out), &rep)
	for _, r := range rep.Results {
		if r.Status == "fail" {
			t.Errorf("%s failed: %s %s %s", r.ID, r.Detail, r.Reason, r.Got)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}
