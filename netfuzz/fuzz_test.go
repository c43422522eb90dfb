package netfuzz

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// fragilePeer is a small RELOAD peer over TLS-TCP-FH-NO-ICE with a planted
// bug: it answers Pings, acknowledges every data frame, and stops reading
// a link for good (without closing it) after a message whose via list has
// exactly three entries.
type fragilePeer struct {
	id   *security.Identity
	ov   *nodetest.Overlay
	ln   net.Listener
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	hits int
}

func startFragile(t *testing.T, ov *nodetest.Overlay, id *security.Identity) *fragilePeer {
	t.Helper()
	trust, err := ov.Config.Trust()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{id.TLSCertificate()}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			var chain [][]byte
			for _, c := range cs.PeerCertificates {
				chain = append(chain, c.Raw)
			}
			_, err := trust.VerifyChainDER(chain, time.Now())
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &fragilePeer{id: id, ov: ov, ln: ln, quit: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(p.quit)
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *fragilePeer) serve(c net.Conn) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-p.quit:
		case <-done:
		}
		_ = c.Close()
	}()
	r := bufio.NewReader(c)
	var seq uint32
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:5]); err != nil {
			return
		}
		switch wire.FramedMessageType(hdr[0]) {
		case wire.FrameAck:
			if _, err := io.ReadFull(r, hdr[:4]); err != nil {
				return
			}
			continue
		case wire.FrameData:
		default:
			return
		}
		rseq := binary.BigEndian.Uint32(hdr[1:5])
		if _, err := io.ReadFull(r, hdr[5:8]); err != nil {
			return
		}
		msg := make([]byte, int(hdr[5])<<16|int(hdr[6])<<8|int(hdr[7]))
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		ack := wire.FramedMessage{Type: wire.FrameAck, Sequence: rseq}
		b, _ := ack.Append(nil)
		if _, err := c.Write(b); err != nil {
			return
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(msg); err != nil {
			continue
		}
		if len(h.Via) == 3 { // the planted bug: the link hangs
			p.mu.Lock()
			p.hits++
			p.mu.Unlock()
			<-p.quit
			return
		}
		var m wire.Message
		if _, err := m.Decode(msg); err != nil || m.Contents.Code != wire.CodePingReq {
			continue
		}
		ans := wire.Message{Header: wire.ForwardingHeader{Overlay: h.Overlay, Version: wire.Version10, TTL: 100,
			Fragment: wire.FragmentUnfragmed, TransactionID: h.TransactionID, Destinations: h.Via},
			Contents: wire.MessageContents{Code: wire.CodePingAns}}
		pa := wire.PingAns{ResponseID: 7, Time: uint64(time.Now().UnixMilli())}
		ans.Contents.Body, _ = pa.Append(nil)
		contents, _ := ans.Contents.Append(nil)
		if err := p.id.SignMessage(&ans.Security, h.Overlay, h.TransactionID, contents); err != nil {
			return
		}
		raw, err := ans.Append(nil)
		if err != nil {
			continue
		}
		f := wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: raw}
		seq++
		b, _ = f.Append(nil)
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

func testOverlay(t *testing.T) (*nodetest.Overlay, *security.Identity, *security.Identity) {
	t.Helper()
	ov, err := nodetest.NewOverlay("fuzz.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(2)
	if err != nil {
		t.Fatal(err)
	}
	return ov, ids[0], ids[1]
}

// TestFuzzFindsPlantedBug runs the fuzzer with a fixed seed against a peer
// that hangs a link after a message with a via list of three entries
// (RFC 6940 §6.3.2): it must find the input, minimise it and write a
// reproducer that replays.
func TestFuzzFindsPlantedBug(t *testing.T) {
	ov, target, tester := testOverlay(t)
	p := startFragile(t, ov, target)
	out := t.TempDir()
	o := Options{Target: p.ln.Addr().String(), Config: ov.Config, Identity: tester, Seed: 1,
		Duration: 90 * time.Second, Batch: 16, Timeout: 500 * time.Millisecond, RecoverWait: 5 * time.Second, Out: out,
		ReplayArgs: "--target " + p.ln.Addr().String()}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	fl := rep.Failure
	if fl == nil {
		t.Fatalf("no failure found in %d inputs", rep.Stats.Inputs)
	}
	t.Logf("after %d inputs (%.0f/s): %s: %s; %d replays; %d bytes minimised to %d: %s", rep.Stats.Inputs, rep.Stats.Rate, fl.Kind, fl.Detail, fl.Replays, fl.Input.size(), fl.Minimized.size(), fl.Minimized.What)
	if fl.Kind != "link-unresponsive" || !fl.Reproduced || fl.Minimized == nil {
		t.Fatalf("failure %+v", fl)
	}
	if len(fl.Minimized.Records) != 1 {
		t.Fatalf("minimised to %d records", len(fl.Minimized.Records))
	}
	// The peer reads only the forwarding header before it hangs: the
	// minimised input keeps the three via entries and little else.
	var h wire.ForwardingHeader
	if _, err := h.Decode(frameMessage(fl.Minimized.Records[0])); err != nil {
		t.Fatalf("the minimised message's header does not decode: %v", err)
	}
	if len(h.Via) != 3 || len(h.Options) != 0 || len(h.Destinations) > 1 {
		t.Errorf("minimised to %s", fl.Minimized.What)
	}
	if fl.Minimized.size() >= fl.Input.size() {
		t.Errorf("minimised %d bytes to %d", fl.Input.size(), fl.Minimized.size())
	}
	for _, name := range []string{"input.hex", "original.hex", "input.pcap", "input.pcap.keys", "command.txt"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.HasPrefix(fl.Command, "reload fuzz --replay "+filepath.Join(out, "input.hex")) {
		t.Errorf("command %q", fl.Command)
	}
	res, err := Replay(context.Background(), o, filepath.Join(out, "input.hex"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed {
		t.Errorf("replay: %+v", res)
	}
}

// TestFuzzSameSeedSameInputs: the inputs depend only on the seed.
func TestFuzzSameSeedSameInputs(t *testing.T) {
	ov, err := nodetest.NewOverlay("fuzz.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ed25519 signatures are deterministic, ECDSA ones are not.
	tester, err := ov.IdentityWith("tester", security.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	mk := func() []Input {
		f, err := newFuzzer(Options{Target: "x:1", Config: ov.Config, Identity: tester, Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		f.gen.peer = tester.NodeID()
		var s uint32
		var out []Input
		for range 200 {
			out = append(out, f.gen.next(func() uint32 { s++; return s }))
		}
		return out
	}
	a, b := mk(), mk()
	covered := map[string]bool{}
	for i := range a {
		covered[a[i].Body] = true
		if a[i].What != b[i].What || len(a[i].Records) != len(b[i].Records) {
			t.Fatalf("input %d: %q vs %q", i, a[i].What, b[i].What)
		}
	}
	if len(covered) < 12 {
		t.Errorf("200 inputs cover %d message types", len(covered))
	}
}

func TestReadInputErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"empty": "# nothing\n", "nothex": "zz\n"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadInput(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// startNode starts our own node as the target, a one-node ring, and
// returns the address and Network to fuzz it with: its TLS listener, or
// with dtls its UDP socket, where it accepts DTLS-UDP-SR-NO-ICE links as
// from a joining node (RFC 6940 §11.4).
func startNode(t *testing.T, ov *nodetest.Overlay, id *security.Identity, dtls bool) (string, Network) {
	t.Helper()
	cfg := node.Config{Overlay: ov.Config, Identity: id, Seed: true, ListenTLS: "127.0.0.1:0"}
	if dtls {
		cfg.ListenUDP = "127.0.0.1:0"
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if dtls {
		return n.UDPAddr(), SystemNetwork{}
	}
	return n.Addr(), nil
}

// TestFuzzOwnNode fuzzes our own node for a few seconds over TLS and DTLS:
// no failure, and the node answers with more than one code. The
// environment variable NETFUZZ_DURATION (say 10m) makes it a long run.
func TestFuzzOwnNode(t *testing.T) {
	d := 3 * time.Second
	if s := os.Getenv("NETFUZZ_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("NETFUZZ_DURATION: %v", err)
		}
	}
	for _, tr := range []Transport{TLS, DTLS} {
		t.Run(string(tr), func(t *testing.T) {
			ov, target, tester := testOverlay(t)
			addr, nw := startNode(t, ov, target, tr == DTLS)
			rep, err := Run(context.Background(), Options{Target: addr, Transport: tr, Network: nw, Config: ov.Config, Identity: tester,
				Seed: 7, Duration: d, Batch: 16, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", rep.Stats)
			if rep.Failure != nil {
				t.Fatalf("failure %s: %s; input %s", rep.Failure.Kind, rep.Failure.Detail, rep.Failure.InputHex)
			}
			if rep.Stats.Inputs < 16 || len(rep.Stats.Answers) < 2 {
				t.Errorf("%d inputs, answers %v", rep.Stats.Inputs, rep.Stats.Answers)
			}
		})
	}
}
