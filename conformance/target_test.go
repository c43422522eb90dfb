package conformance

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

const testOverlay = "conformance.example.org"

var testStart = time.Now()

var testCA = sync.OnceValue(func() *security.CA {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		panic(err)
	}
	ca, err := security.NewCA(key, "conformance test CA", testStart.Add(-time.Hour), testStart.Add(48*time.Hour))
	if err != nil {
		panic(err)
	}
	return ca
})

var (
	identMu    sync.Mutex
	identities = map[byte]*security.Identity{}
)

func nid(b byte) wire.NodeID { return wire.MustNodeID(bytes.Repeat([]byte{b}, 16)) }

// ident is the identity of test node b, issued by the test CA.
func ident(t testing.TB, b byte) *security.Identity {
	t.Helper()
	identMu.Lock()
	defer identMu.Unlock()
	if id, ok := identities[b]; ok {
		return id
	}
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := testCA().Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: []wire.NodeID{nid(b)}, User: "node@" + testOverlay,
		Overlay: testOverlay, NotBefore: testStart.Add(-time.Hour), NotAfter: testStart.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	identities[b] = id
	return id
}

func testConfig(dtls bool) *config.Configuration {
	c := config.New(testOverlay)
	c.RootCerts = [][]byte{testCA().Cert.Raw}
	c.RequiredKinds = config.StandardKinds()
	if dtls {
		c.NoICE = true
		c.OverlayLinkProtocols = []string{"DTLS"}
	}
	return c
}

const (
	testerID = 0x11
	targetID = 0x22
)

// router is the topology of a one-peer overlay: the target is responsible
// for every Resource-ID and knows no other node.
type router struct{}

func (router) Route(d *wire.Destination) (wire.NodeID, bool, error) {
	if d.Type == wire.DestResource {
		return wire.NodeID{}, true, nil
	}
	return wire.NodeID{}, false, &wire.ProtocolError{Code: wire.ErrCodeNotFound, Info: []byte("no route")}
}

// NextHop makes router a diag.Router too.
func (router) NextHop(wire.Destination) (wire.NodeID, bool, error) { return nid(targetID), true, nil }

// linkVerifier checks a link peer against the test overlay and caches its
// certificate in the engine's verifier.
type linkVerifier struct{ v *security.Verifier }

func (l linkVerifier) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	nc, err := l.v.Trust().VerifyChain(chain, time.Now())
	if err != nil {
		return nil, err
	}
	l.v.Cache().Add(nc)
	return nc.NodeIDs, nil
}

// target is our own peer built from forwarding.Engine, storage and
// diagnostics, on real loopback sockets.
type target struct {
	e    *forwarding.Engine
	addr string
	net  Network
}

func startTarget(t *testing.T, dtls bool) *target {
	t.Helper()
	cfg := testConfig(dtls)
	trust, err := cfg.Trust()
	if err != nil {
		t.Fatal(err)
	}
	v := security.NewVerifier(trust, 0)
	o := forwarding.Options{
		Identity: ident(t, targetID), Verifier: v, Config: cfg, Router: router{},
		Link: transport.Config{MaxMessageSize: int(cfg.MaxMessageSize)},
	}
	tg := &target{}
	var mux *transport.Mux
	if dtls {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mux = transport.NewMux(pc)
		o.UDP = mux
		tg.addr = pc.LocalAddr().String()
	} else {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		o.Listener = ln
		tg.addr = ln.Addr().String()
		tg.net = SystemNetwork{}
	}
	e, err := forwarding.New(o)
	if err != nil {
		t.Fatal(err)
	}
	tg.e = e
	t.Cleanup(func() { e.Close() })
	if dtls {
		cert := ident(t, targetID).TLSCertificate()
		tg.net = &dtlsAcceptor{mux: mux, e: e, cfg: transport.Config{
			Certificate: &cert, Verifier: linkVerifier{v}, MaxMessageSize: int(cfg.MaxMessageSize),
		}}
	}

	ck, err := cfg.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := storage.KindTableFromConfig(ck)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.New(storage.Config{Kinds: kinds, Backend: mem.New(), Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle(wire.CodeStoreReq, func(_ context.Context, in *forwarding.Incoming) ([]byte, error) {
		req := wire.StoreReq{Models: kinds}
		if _, err := req.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
		}
		res, err := st.HandleStore(&req, storage.Requester{Signer: in.Signer}, time.Now())
		if err != nil {
			return nil, err
		}
		return res.Answer.Append(nil)
	})
	e.Handle(wire.CodeFetchReq, func(_ context.Context, in *forwarding.Incoming) ([]byte, error) {
		req := wire.FetchReq{Models: kinds}
		if _, err := req.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
		}
		ans, err := st.HandleFetch(&req, time.Now())
		if err != nil {
			return nil, err
		}
		ans.Models = kinds
		return ans.Append(nil)
	})
	// Probe (§6.4.2.5), the topology plugin's in a real node: the whole
	// ring, no resources, the uptime.
	e.Handle(wire.CodeProbeReq, func(_ context.Context, in *forwarding.Incoming) ([]byte, error) {
		var req wire.ProbeReq
		if _, err := req.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
		}
		var ans wire.ProbeAns
		for _, typ := range req.RequestedInfo {
			switch typ {
			case wire.ProbeResponsibleSet:
				ans.ProbeInfo = append(ans.ProbeInfo, wire.ProbeInformation{Type: typ, Value: 1e9})
			case wire.ProbeNumResources:
				ans.ProbeInfo = append(ans.ProbeInfo, wire.ProbeInformation{Type: typ, Value: 0})
			case wire.ProbeUptime:
				ans.ProbeInfo = append(ans.ProbeInfo, wire.ProbeInformation{Type: typ, Value: uint32(time.Since(testStart).Seconds())})
			}
		}
		return ans.Append(nil)
	})
	// Ping with RFC 7851 diagnostics.
	ds, err := diag.NewServer(diag.ServerConfig{Self: nid(targetID), Router: router{}, Policy: diag.Policy{Default: diag.Allow}})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle(wire.CodePingReq, func(_ context.Context, in *forwarding.Incoming) ([]byte, error) {
		var p wire.PingReq
		if _, err := p.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed ping"), Err: err}
		}
		ext, ok, err := ds.HandlePing(diag.Request{From: in.Signer.NodeID, TTL: in.Header.TTL, Code: in.Code,
			Body: in.Body, Extensions: in.Extensions})
		if err != nil {
			return nil, err
		}
		if ok {
			in.ReplyExtensions = append(in.ReplyExtensions, ext)
		}
		ans := wire.PingAns{ResponseID: rand64(), Time: uint64(time.Now().UnixMilli())}
		return ans.Append(nil)
	})
	return tg
}

// dtlsAcceptor is the Network the tester uses against the DTLS target: for
// every socket the tester opens it routes the socket's datagrams on the
// target's Mux and runs the target's side of the handshake, as a bootstrap
// peer accepting DTLS links would.
type dtlsAcceptor struct {
	mux *transport.Mux
	e   *forwarding.Engine
	cfg transport.Config
	wg  sync.WaitGroup
}

func (a *dtlsAcceptor) DialTCP(ctx context.Context, address string) (net.Conn, error) {
	return SystemNetwork{}.DialTCP(ctx, address)
}

func (a *dtlsAcceptor) ListenUDP(ctx context.Context, _ *net.UDPAddr) (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	route, err := a.mux.Conn(pc.LocalAddr())
	if err != nil {
		pc.Close()
		return nil, err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := transport.NewDTLSLink(hctx, route, pc.LocalAddr(), transport.Requester, wire.NodeID{}, &a.cfg)
		if err != nil {
			return
		}
		a.e.AddLink(l)
	}()
	return pc, nil
}

func runAgainst(t *testing.T, addr string, tr Transport, nw Network, checks ...string) *Report {
	t.Helper()
	return runWith(t, addr, tr, nw, nil, checks...)
}

// runWith is runAgainst with edit applied to the options (a second
// identity, say).
func runWith(t *testing.T, addr string, tr Transport, nw Network, edit func(*Options), checks ...string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := Options{
		Target: addr, Transport: tr, Config: testConfig(tr == DTLS), Identity: ident(t, testerID),
		// Generous: the suite runs these in parallel on two loaded
		// cores under -race; only absent answers wait this long.
		Timeout: 6 * time.Second, Quiet: 300 * time.Millisecond, RetransmitWait: 3 * time.Second,
		Network: nw, Checks: checks,
	}
	if edit != nil {
		edit(&o)
	}
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = rep.WriteTable(&buf)
	t.Logf("\n%s", buf.String())
	return rep
}

const secondID = 0x33

// kitChecks are the ids of the catalogue without the overlay checks
// (join, update, leave, ICE, fragments), which need a full node and are
// tested against one in overlay_test.go.
func kitChecks() []string {
	overlay := map[string]bool{}
	for _, c := range overlayChecks {
		overlay[c.id] = true
	}
	var ids []string
	for _, c := range catalogue {
		if !overlay[c.id] {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// Our own peer passes every check that applies to it, over TLS and DTLS,
// with one identity (the checks that need a link of their own reuse the
// kit's) and with a pair.
func TestOwnPeer(t *testing.T) {
	for _, tc := range []struct {
		tr   Transport
		pair bool
		skip map[string]bool // the checks that do not apply
	}{
		{TLS, false, map[string]bool{"frame.retransmit": true}},
		{DTLS, false, map[string]bool{"err.too-large": true}},
		{TLS, true, map[string]bool{"frame.retransmit": true}},
		{DTLS, true, map[string]bool{"err.too-large": true}},
	} {
		name := string(tc.tr)
		if tc.pair {
			name += "-pair"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := startTarget(t, tc.tr == DTLS)
			ids := kitChecks()
			rep := runWith(t, tg.addr, tc.tr, tg.net, func(o *Options) {
				if tc.pair {
					o.Second = ident(t, secondID)
				}
			}, ids...)
			if len(rep.Results) != len(ids) {
				t.Errorf("%d results, want %d", len(rep.Results), len(ids))
			}
			for _, res := range rep.Results {
				want := Pass
				if tc.skip[res.ID] {
					want = Skip
				}
				if res.Status != want {
					t.Errorf("%s: %s (%s; got %s), want %s", res.ID, res.Status, res.Detail, res.Got, want)
				}
			}
			if rep.PeerNodeID != nid(targetID).String() {
				t.Errorf("peer %s", rep.PeerNodeID)
			}
			if tc.pair && rep.Second != nid(secondID).String() {
				t.Errorf("second %q", rep.Second)
			}
		})
	}
}

// The capture of a DTLS run holds the datagrams both ways, and the key
// log the DTLS secrets Wireshark needs to decrypt them.
func TestCaptureDTLS(t *testing.T) {
	tg := startTarget(t, true)
	var pcap, keys bytes.Buffer
	capture, err := NewCapture(&pcap)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{
		Target: tg.addr, Transport: DTLS, Config: testConfig(true), Identity: ident(t, testerID),
		Timeout: 2 * time.Second, Network: tg.net, Capture: capture, KeyLog: &keys, Checks: []string{"ping.answer"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() {
		t.Fatalf("%+v", rep.Results)
	}
	if err := capture.Err(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&pcap)
	if err != nil {
		t.Fatal(err)
	}
	var out, in int
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatal("a packet without UDP")
		}
		if int(u.DstPort) == portOf(t, tg.addr) {
			out++
		} else {
			in++
		}
	}
	if out < 3 || in < 3 {
		t.Errorf("%d datagrams to the target, %d from it", out, in)
	}
	if !strings.Contains(keys.String(), "CLIENT_RANDOM") {
		t.Errorf("key log %q", keys.String())
	}
}

func portOf(t *testing.T, addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}
