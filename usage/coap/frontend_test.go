package coap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/udp"
	"go.uber.org/goleak"

	"github.com/goreload/reload/wire"
)

// fakeOverlay is an in-memory overlay shared by the front ends of a test:
// one store, and AppAttach over net.Pipe to the front end of the Node-ID.
// The access policies are tested in storage and end to end in node.
type fakeOverlay struct {
	id  wire.NodeID
	net *fakeNet
}

type fakeNet struct {
	mu    sync.Mutex
	data  map[string][]wire.StoredData // resource|kind
	nodes map[wire.NodeID]*Frontend
	wg    sync.WaitGroup
}

func key(res wire.ResourceID, kind wire.KindID) string {
	return string(res) + "|" + string(rune(kind))
}

func (o *fakeOverlay) LocalNodeID() wire.NodeID { return o.id }

func (o *fakeOverlay) Store(_ context.Context, res wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	o.net.mu.Lock()
	defer o.net.mu.Unlock()
	k := key(res, kind)
	for _, v := range values {
		kept := o.net.data[k][:0]
		for _, sd := range o.net.data[k] {
			if v.Model != wire.ModelDictionary || !bytes.Equal(sd.Value.Key, v.Key) {
				kept = append(kept, sd)
			}
		}
		v.Value.Value = bytes.Clone(v.Value.Value)
		o.net.data[k] = append(kept, wire.StoredData{Lifetime: uint32(lifetime / time.Second), Value: v})
	}
	return nil
}

func (o *fakeOverlay) Fetch(_ context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	o.net.mu.Lock()
	defer o.net.mu.Unlock()
	return append([]wire.StoredData(nil), o.net.data[key(res, kind)]...), nil
}

func (o *fakeOverlay) AppAttach(_ context.Context, dest []wire.Destination, app uint16) (net.Conn, error) {
	id, ok := dest[len(dest)-1].NodeID()
	if !ok || app != AppCoAP {
		return nil, errors.New("bad AppAttach")
	}
	o.net.mu.Lock()
	f := o.net.nodes[id]
	o.net.mu.Unlock()
	if f == nil {
		return nil, errors.New("no such node")
	}
	// A loopback TCP pair, not net.Pipe: go-coap writes its CSM before it
	// reads (RFC 8323 §5.3), which needs a buffered connection as the
	// (D)TLS connections of AppAttach are.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		return nil, err
	}
	o.net.wg.Add(1)
	go func() {
		defer o.net.wg.Done()
		_ = f.ServeConn(o.id, b)
	}()
	return a, nil
}

func newFake(t *testing.T, n *fakeNet, idByte byte, names ...string) *Frontend {
	t.Helper()
	id := wire.MustNodeID(bytes.Repeat([]byte{idByte}, 16))
	f, err := New(Config{Overlay: &fakeOverlay{id: id, net: n}, Addr: "127.0.0.1:0", Names: names, NoSec: true, DeviceTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.nodes[id] = f
	n.mu.Unlock()
	return f
}

// testRunner runs the expirations of the test's own go-coap connections
// on one goroutine that ends with the test.
func testRunner(t *testing.T) options.PeriodicRunnerOpt {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	return options.WithPeriodicRunner(periodic.New(stop, time.Second))
}

func proxyGet(ctx context.Context, t *testing.T, addr, uri string) (codes.Code, string) {
	t.Helper()
	cc, err := udp.Dial(addr, testRunner(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req, err := cc.NewGetRequest(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	req.SetOptionString(message.ProxyURI, uri)
	resp, err := cc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	if resp.Body() != nil {
		body, _ = io.ReadAll(resp.Body())
	}
	return resp.Code(), string(body)
}

func TestNewRefusesUnauthenticatedDevices(t *testing.T) {
	_, err := New(Config{Overlay: &fakeOverlay{}, Addr: "127.0.0.1:0"})
	if !errors.Is(err, ErrDeviceAuth) {
		t.Fatalf("New without NoSec: %v, want ErrDeviceAuth", err)
	}
	if _, err := New(Config{Addr: "127.0.0.1:0", NoSec: true}); !errors.Is(err, ErrNoOverlay) {
		t.Fatalf("New without overlay: %v", err)
	}
}

// TestProxyThroughFakeOverlay: RFC 7650 §4 registration, §5 lookup, §6
// forwarding over an AppAttach connection, §7 caching; and the refusals.
func TestProxyThroughFakeOverlay(t *testing.T) {
	ign := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ign) }) // after the runners stop
	fn := &fakeNet{data: map[string][]wire.StoredData{}, nodes: map[wire.NodeID]*Frontend{}}
	pn := newFake(t, fn, 1, "coap://lamp/", "coap://lamp/state")
	rn := newFake(t, fn, 2)
	defer fn.wg.Wait()
	defer rn.Close()
	defer pn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	r := mux.NewRouter()
	_ = r.Handle("/state", mux.HandlerFunc(func(w mux.ResponseWriter, m *mux.Message) {
		_ = w.SetResponse(codes.Content, message.TextPlain, strings.NewReader("on"))
	}))
	dev, err := udp.Dial(pn.Addr().String(), options.WithMux(r), testRunner(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	q := func(s string) message.Option { return message.Option{ID: message.URIQuery, Value: []byte(s)} }
	for _, tc := range []struct {
		name string
		qs   []message.Option
		want codes.Code
	}{
		{"no name", nil, codes.BadRequest},
		{"bad name", []message.Option{q("ep=a/b")}, codes.BadRequest},
		{"name not in the certificate", []message.Option{q("ep=fridge")}, codes.Forbidden},
		{"bad lifetime", []message.Option{q("ep=lamp"), q("lt=1")}, codes.BadRequest},
		{"ok", []message.Option{q("ep=lamp")}, codes.Created},
	} {
		resp, err := dev.Post(ctx, "/rd", message.AppLinkFormat, strings.NewReader("</state>"), tc.qs...)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code() != tc.want {
			t.Errorf("register %s: %v, want %v", tc.name, resp.Code(), tc.want)
		}
	}
	regs, err := rn.Lookup(ctx, "lamp")
	if err != nil || len(regs) != 1 || regs[0] != pn.ov.LocalNodeID() {
		t.Fatalf("Lookup = %v, %v", regs, err)
	}
	if code, body := proxyGet(ctx, t, rn.Addr().String(), "coap://LAMP/state"); code != codes.Content || body != "on" {
		t.Fatalf("GET via the other node: %v %q", code, body)
	}
	if code, body := proxyGet(ctx, t, pn.Addr().String(), "coap://lamp/state"); code != codes.Content || body != "on" {
		t.Fatalf("GET via the device's own proxy: %v %q", code, body)
	}
	if code, _ := proxyGet(ctx, t, rn.Addr().String(), "coap://nolamp/state"); code != codes.NotFound {
		t.Fatalf("unknown device: %v", code)
	}
	if code, _ := proxyGet(ctx, t, rn.Addr().String(), "http://lamp/state"); code != codes.ProxyingNotSupported {
		t.Fatalf("http Proxy-Uri: %v", code)
	}
	resp, err := dev.Put(ctx, "/rd-cache", message.TextPlain, strings.NewReader("off"), q("ep=lamp"), q("href=/state"))
	if err != nil || resp.Code() != codes.Changed {
		t.Fatalf("cache: %v %v", resp, err)
	}
	resp, err = dev.Put(ctx, "/rd-cache", message.TextPlain, strings.NewReader("x"), q("ep=lamp"), q("href=/other"))
	if err != nil || resp.Code() != codes.Forbidden {
		t.Fatalf("cache under a URI not in the certificate: %v %v", resp, err)
	}
	dev.Close()
	if code, body := proxyGet(ctx, t, rn.Addr().String(), "coap://lamp/state"); code != codes.Content || body != "off" {
		t.Fatalf("GET of a sleeping device: %v %q, want the cached value", code, body)
	}
}
