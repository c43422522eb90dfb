package monitor_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// syncBuffer is a conformance log the test reads while the node writes.
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

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNodes starts one node per identity on loopback with a
// conformance log each: the first seeds the ring, the others join
// through it.
func startNodes(t testing.TB, ov *nodetest.Overlay, ids []*security.Identity, mod func(*node.Config)) ([]*node.Node, []*syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nodes []*node.Node
	var logs []*syncBuffer
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	for i, id := range ids {
		log := &syncBuffer{}
		cfg := node.Config{Overlay: ov.Config, Identity: id, TickLength: 50 * time.Millisecond, ConformanceLog: log}
		if i == 0 {
			cfg.Seed = true
		} else {
			cfg.Bootstrap = []string{nodes[0].Addr()}
		}
		if mod != nil {
			mod(&cfg)
		}
		nd, err := node.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		logs = append(logs, log)
		if err := nd.Start(ctx); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		select {
		case <-nd.Joined():
		case <-ctx.Done():
			t.Fatalf("node %d did not join", i)
		}
	}
	return nodes, logs
}

func scrape(t *testing.T, nd *node.Node) string {
	t.Helper()
	rec := httptest.NewRecorder()
	nd.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// metric is the value of reload_conformance_deviations_total for check
// in a scrape, -1 when absent.
func metric(scraped, check string) int {
	prefix := `reload_conformance_deviations_total{check="` + check + `"} `
	for line := range strings.SplitSeq(scraped, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// Our own nodes are conformant peers: a join, pings between every pair
// and a store and fetch through the overlay leave every conformance log
// empty and every count at zero.
func TestConformantPeersLeaveNoLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*node.Config)
	}{
		{"tls", nil},
		{"dtls", func(c *node.Config) {
			c.ICE, c.ICELoopback = true, true
			c.ICEInterfaces = func(name string) bool { return name == "lo" }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov, err := nodetest.NewOverlay("test.example.org", nil)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := ov.Identities(3)
			if err != nil {
				t.Fatal(err)
			}
			nodes, logs := startNodes(t, ov, ids, tc.mod)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Every node reaches every other (the ring settles meanwhile).
			waitFor(t, 60*time.Second, "pings between all nodes", func() bool {
				for _, a := range nodes {
					for _, b := range nodes {
						id := b.ID()
						pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
						r, err := a.Ping(pctx, wire.NodeDest(&id))
						pcancel()
						if err != nil || r.From != id {
							return false
						}
					}
				}
				return true
			})
			// node2's user stores its registration; node3 fetches it.
			res := wire.ResourceIDFromName("node2@test.example.org")
			bid := nodes[1].ID()
			// Over DTLS links (MTU 1200) a value this large travels in
			// fragments (§6.7).
			contact := "sip:node2@127.0.0.1:5060;x=" + strings.Repeat("a", 3000)
			val := wire.DictionaryValue(bid.Bytes(), []byte(contact))
			if _, err := nodes[1].Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour); err != nil {
				t.Fatalf("store: %v", err)
			}
			fa, err := nodes[2].FetchAll(ctx, res, wire.KindSIPRegistration)
			if err != nil || len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 {
				t.Fatalf("fetch: %+v, %v", fa, err)
			}
			if tc.mod != nil {
				dtls := 0
				for _, nd := range nodes {
					for _, l := range nd.Status().Links {
						if strings.HasPrefix(l.Type, "DTLS") {
							dtls++
						}
					}
				}
				if dtls == 0 {
					t.Fatal("no DTLS link among the nodes")
				}
			}
			for i, nd := range nodes {
				if n := nd.Conformance().Total(); n != 0 || logs[i].String() != "" {
					t.Errorf("node %d: %d deviations:\n%s", i, n, logs[i].String())
				}
				if got := metric(scrape(t, nd), "frame.seq-start"); got != 0 {
					t.Errorf("node %d: reload_conformance_deviations_total{check=\"frame.seq-start\"} = %d, want 0", i, got)
				}
			}
		})
	}
}

// rawPeer is an enrolled peer that drives a TLS link to a node by hand,
// frame by frame, as a deviating implementation would.
type rawPeer struct {
	t   *testing.T
	id  *security.Identity
	ov  *nodetest.Overlay
	c   *tls.Conn
	wmu sync.Mutex

	mu   sync.Mutex
	data []uint32 // sequence numbers of the node's data frames
	win  transport.AckWindow
}

func dialRaw(t *testing.T, ov *nodetest.Overlay, id *security.Identity, addr string) *rawPeer {
	t.Helper()
	cert := id.TLSCertificate()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(conn, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// The test plays the peer under test; it does not check the node.
		InsecureSkipVerify: true, //nolint:gosec // test peer
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, id: id, ov: ov, c: c}
	t.Cleanup(func() { c.Close() })
	go p.read()
	return p
}

// read acknowledges the node's data frames as §6.6.2 asks.
func (p *rawPeer) read() {
	r := bufio.NewReader(p.c)
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(r, hdr[:5]); err != nil {
			return
		}
		seq := binary.BigEndian.Uint32(hdr[1:5])
		switch wire.FramedMessageType(hdr[0]) {
		case wire.FrameAck:
			if _, err := io.ReadFull(r, hdr[5:9]); err != nil {
				return
			}
		case wire.FrameData:
			if _, err := io.ReadFull(r, hdr[5:8]); err != nil {
				return
			}
			n := int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return
			}
			p.mu.Lock()
			p.data = append(p.data, seq)
			a := p.win.Ack(seq)
			p.mu.Unlock()
			p.write(&a)
		default:
			return
		}
	}
}

func (p *rawPeer) write(f *wire.FramedMessage) {
	b, err := f.Append(nil)
	if err != nil {
		p.t.Error(err)
		return
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, _ = p.c.Write(b)
}

func (p *rawPeer) frame(seq uint32, msg []byte) {
	p.write(&wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: msg})
}

func (p *rawPeer) sawData(seq uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.data {
		if s == seq {
			return true
		}
	}
	return false
}

// msg builds a message from the peer to dest, signed by signer (nil: the
// peer), after edit changed it (before signing).
func (p *rawPeer) msg(dest wire.NodeID, code wire.MessageCode, body []byte, txid uint64, signer *security.Identity, edit func(*wire.Message)) []byte {
	p.t.Helper()
	m := &wire.Message{
		Header: wire.ForwardingHeader{
			Overlay: p.ov.Config.OverlayHash(), ConfigSequence: p.ov.Config.Sequence, Version: wire.Version10,
			TTL: p.ov.Config.InitialTTL, Fragment: wire.FragmentUnfragmed, TransactionID: txid,
			Destinations: []wire.Destination{wire.NodeDest(&dest)},
		},
		Contents: wire.MessageContents{Code: code, Body: body},
	}
	if edit != nil {
		edit(m)
	}
	if signer == nil {
		signer = p.id
	}
	contents, err := m.Contents.Append(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := signer.SignMessage(&m.Security, m.Header.Overlay, m.Header.TransactionID, contents); err != nil {
		p.t.Fatal(err)
	}
	b, err := m.Append(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}
