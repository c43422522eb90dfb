package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/enroll"
	"github.com/goreload/reload/enroll/dnstest"
)

const discoveryOverlay = "test.example.org"

// discoveryFixture is an overlay directory made by "reload overlay init",
// its configuration and enrollment server on loopback, and a DNS server
// on loopback UDP that names that server for the overlay by SRV and A
// records (RFC 6940 §11.2).
type discoveryFixture struct {
	dir string
	run *enroll.Running
	dns *dnstest.Server
}

func startDiscovery(t *testing.T) *discoveryFixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ov")
	if code, out, errs := runCmd(t, runOverlay, "init", "--dir", dir, "--name", discoveryOverlay, "--nodes", "1"); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	run, _, err := startOverlayServer(dir, "127.0.0.1:0", log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	_, p, _ := net.SplitHostPort(run.Addr.String())
	port, _ := strconv.ParseUint(p, 10, 16)
	dns := dnstest.Start(t)
	dns.AddSRV(enroll.ConfigSRVName(discoveryOverlay), 10, 1, uint16(port), "config."+discoveryOverlay)
	dns.AddAddr("config."+discoveryOverlay, netip.MustParseAddr("127.0.0.1"))
	return &discoveryFixture{dir: dir, run: run, dns: dns}
}

// "reload enroll --overlay NAME" finds the configuration server by DNS
// SRV alone; an explicit --server wins over DNS; a name without SRV
// records is a clear failure.
func TestEnrollDiscoversConfigServer(t *testing.T) {
	f := startDiscovery(t)
	node1 := loadIdentity(t, filepath.Join(f.dir, dirNodes, "node1"))
	enrollArgs := func(out string, extra ...string) []string {
		return append([]string{"--user", "node1", "--password", password(t, f.dir, "node1"), "--out", out,
			"--ca-cert", filepath.Join(f.dir, fileCA), "--enroll-url", f.run.URL + enroll.DefaultEnrollPath, "--dns-server", f.dns.Addr}, extra...)
	}

	out := filepath.Join(t.TempDir(), "byname")
	code, stdout, errs := runCmd(t, runEnroll, enrollArgs(out, "--overlay", discoveryOverlay)...)
	if code != 0 {
		t.Fatalf("enroll by name: exit %d\n%s%s", code, stdout, errs)
	}
	if f.dns.Queries() == 0 {
		t.Fatal("enroll by name asked no DNS question")
	}
	if id := loadIdentity(t, out); id.NodeID() != node1.NodeID() {
		t.Fatalf("enrolled as %v, want %v", id.NodeID(), node1.NodeID())
	}
	if !bytes.Equal(readFile(t, filepath.Join(out, fileConfig)), readFile(t, filepath.Join(f.dir, fileConfig))) {
		t.Fatal("enroll by name saved another configuration")
	}

	// An explicit URL always wins: DNS is not asked.
	asked := f.dns.Queries()
	code, stdout, errs = runCmd(t, runEnroll, enrollArgs(filepath.Join(t.TempDir(), "byurl"), "--overlay", discoveryOverlay, "--server", f.run.URL)...)
	if code != 0 {
		t.Fatalf("enroll by URL: exit %d\n%s%s", code, stdout, errs)
	}
	if f.dns.Queries() != asked {
		t.Fatal("enroll with --server asked DNS")
	}

	// No SRV record: exit 1, the name looked up and what to do.
	code, _, errs = runCmd(t, runEnroll, enrollArgs(filepath.Join(t.TempDir(), "x"), "--overlay", "nosuch.example.org")...)
	if code != exitFail || !strings.Contains(errs, "no SRV record for _reload-config._tcp.nosuch.example.org") || !strings.Contains(errs, "hint:") {
		t.Fatalf("unknown overlay: exit %d, %q", code, errs)
	}
	// Neither --overlay nor --server, or a bad --dns-server: usage errors.
	if code, _, errs := runCmd(t, runEnroll, "--user", "u", "--out", t.TempDir()); code != exitUsage || !strings.Contains(errs, "--overlay") {
		t.Fatalf("no source: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, runEnroll, "--overlay", discoveryOverlay, "--user", "u", "--out", t.TempDir(), "--dns-server", "nowhere"); code != exitUsage || !strings.Contains(errs, "--dns-server") {
		t.Fatalf("bad --dns-server: exit %d, %q", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// "reload node --overlay NAME" without --config fetches the
// configuration from the server DNS names, checks its signature and
// starts a ring with it.
func TestNodeDiscoversConfigServer(t *testing.T) {
	f := startDiscovery(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runNodeContext(ctx, []string{"--overlay", discoveryOverlay, "--dns-server", f.dns.Addr,
			"--ca-cert", filepath.Join(f.dir, fileCA), "--identity", filepath.Join(f.dir, dirNodes, "node1"),
			"--seed", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--control-token", filepath.Join(t.TempDir(), "token")},
			&stdout, &stderr)
	}()
	joined := eventually(2*time.Minute, func() bool {
		select {
		case code := <-exit:
			exit <- code
			return true
		default:
		}
		return strings.Contains(stdout.String(), "joined the overlay")
	})
	if !joined || !strings.Contains(stdout.String(), "joined the overlay") {
		t.Fatalf("node did not start:\n%s%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), " of "+discoveryOverlay+"\n") {
		t.Errorf("node output does not name the overlay:\n%s", stdout.String())
	}
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("node exit %d\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("node did not stop")
	}

	// An overlay name DNS does not know: exit 1 before anything starts.
	code, _, errs := runCmd(t, runNode, "--overlay", "nosuch.example.org", "--dns-server", f.dns.Addr,
		"--identity", filepath.Join(f.dir, dirNodes, "node1"), "--control", "127.0.0.1:0")
	if code != exitFail || !strings.Contains(errs, "no SRV record for _reload-config._tcp.nosuch.example.org") {
		t.Fatalf("unknown overlay: exit %d, %q", code, errs)
	}
	// --config and --config-server together, or no source at all.
	id := filepath.Join(f.dir, dirNodes, "node1")
	if code, _, errs := runCmd(t, runNode, "--config", "x.xml", "--config-server", f.run.URL, "--identity", id); code != exitUsage || !strings.Contains(errs, "not both") {
		t.Fatalf("--config and --config-server: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, runNode, "--identity", id); code != exitUsage || !strings.Contains(errs, "--overlay") {
		t.Fatalf("no configuration: exit %d, %q", code, errs)
	}
}
