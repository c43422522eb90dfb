package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/goreload/reload/transport/capture"
)

// listenNear binds 127.0.0.1 at port, or any port when it is taken.
func listenNear(t *testing.T, port int) net.PacketConn {
	t.Helper()
	for p := port; p < port+10; p++ {
		if pc, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			return pc
		}
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// TestDTLSCaptureOracle records a real DTLS-UDP-SR-NO-ICE session on
// loopback, with its key log, and has Wireshark's RELOAD dissector (through
// the checker named by RELOAD_ORACLE) decrypt and check every frame.
func TestDTLSCaptureOracle(t *testing.T) {
	// RELOAD_ORACLE names the capture checker script (it runs tshark
	// with Wireshark's RELOAD dissectors and reports every problem).
	oracle := os.Getenv("RELOAD_ORACLE")
	_, errT := exec.LookPath("tshark")
	var errO error
	if oracle == "" {
		errO = errors.New("RELOAD_ORACLE not set")
	} else {
		_, errO = os.Stat(oracle)
	}
	if errT != nil || errO != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs tshark and the RELOAD_ORACLE checker: %v / %v", errT, errO)
		}
		t.Skipf("tshark or the RELOAD_ORACLE checker missing: %v / %v", errT, errO)
	}
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	capPath, keyPath := filepath.Join(dir, "dtls.pcap"), filepath.Join(dir, "keys.log")
	f, err := os.Create(capPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Both ends are recorded, so what each sends is the whole exchange.
	rec, err := capture.New(f, capture.Sent)
	if err != nil {
		t.Fatal(err)
	}
	var keys bytes.Buffer
	kl := &keys // the transport serialises the links' writes

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, cfgA, cfgB := testConfigs(t)
	cfgA.KeyLogWriter, cfgB.KeyLogWriter = kl, kl
	pa, pb := listenNear(t, 6084), listenNear(t, 6094)
	ma := NewMux(rec.PacketConn(pa))
	mb := NewMux(rec.PacketConn(pb))
	defer ma.Close()
	defer mb.Close()
	p, ea, eb := muxPair(ctx, ma, mb, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	if ea != nil || eb != nil {
		p.close()
		t.Fatal(ea, eb)
	}
	exchange(t, ctx, p, 6, []int{16, 400, 3000})
	// Every frame acknowledged before the links close, so that the last
	// ACKs are in the capture too (12 frames each way).
	if !eventually(15*time.Second, func() bool { return p.a.Stats().Messages >= 12 && p.b.Stats().Messages >= 12 }) {
		t.Fatalf("frames acknowledged: %d and %d of 12", p.a.Stats().Messages, p.b.Stats().Messages)
	}
	p.close()
	if err := rec.Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keys.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := strconv.Itoa(pa.LocalAddr().(*net.UDPAddr).Port) + "," + strconv.Itoa(pb.LocalAddr().(*net.UDPAddr).Port)
	out, err := exec.CommandContext(ctx, oracle, "-k", keyPath, "-p", ports, capPath).CombinedOutput()
	t.Logf("reload-oracle -k keys.log -p %s dtls.pcap:\n%s", ports, out)
	if d := os.Getenv("RELOAD_KEEP_CAPTURE"); d != "" {
		_ = os.WriteFile(filepath.Join(d, "dtls.pcap"), mustRead(t, capPath), 0o644)
		_ = os.WriteFile(filepath.Join(d, "keys.log"), keys.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	// 6 messages each way, 4 of them in 3 fragments that Wireshark
	// reassembles; every one decoded, nothing malformed.
	for _, want := range []string{"RELOAD messages decoded: 12\n", "problems: 0"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("oracle output lacks %q", want)
		}
	}
	// 24 DATA frames, and more when the windowed sender retransmits one
	// (a tail-loss probe, §6.6.3: a retransmission is a new DATA frame),
	// each acknowledged (§6.6.2) by an ACK of its own or, from a windowed
	// link's receiver, by a later ACK whose received map covers a batch
	// of frames read together: at most one ACK per DATA frame.
	m := regexp.MustCompile(`RELOAD framing: (\d+) DATA, (\d+) ACK`).FindSubmatch(out)
	if m == nil {
		t.Fatal("oracle output lacks the framing counts")
	}
	data, _ := strconv.Atoi(string(m[1]))
	acks, _ := strconv.Atoi(string(m[2]))
	if data < 24 || data > 30 || acks < 1 || acks > data {
		t.Errorf("framing: %d DATA and %d ACK frames, want 24 DATA (a few more for retransmissions) and at most one ACK each", data, acks)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
