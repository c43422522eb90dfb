package coap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/tcp"
	tcpclient "github.com/plgd-dev/go-coap/v3/tcp/client"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Errors of New.
var (
	ErrNoOverlay = errors.New("coap: no overlay")
	// ErrDeviceAuth: the only device security mode implemented is NoSec
	// (RFC 7252 §9), which must be asked for.
	ErrDeviceAuth = errors.New("coap: devices are not authenticated (only CoAP NoSec is implemented): set NoSec to accept them on a trusted network")
)

// Defaults.
const (
	DefaultLifetime      = time.Hour
	DefaultDeviceTimeout = 5 * time.Second
	DefaultCacheLifetime = 60 * time.Second
	maxPayload           = 0xffff
)

// Config configures a Frontend.
type Config struct {
	Overlay Overlay
	// Addr is the UDP address devices and CoAP clients send to
	// ("127.0.0.1:0" for any port).
	Addr string
	// Names are the coap: URIs this node's certificate holds (RFC 7650
	// §9): a device may register as <name> only if coap://<name>/ is
	// among them, and report a measurement for <path> only if
	// coap://<name><path> is.
	Names []string
	// NoSec accepts devices without authentication (RFC 7252 §9 NoSec).
	// Required: see ErrDeviceAuth.
	NoSec bool
	// DeviceTimeout bounds a request forwarded to a device or to another
	// proxy (default DefaultDeviceTimeout).
	DeviceTimeout time.Duration
	// Hash is the overlay's hash from names to Resource-IDs (default
	// storage.ChordHash, RFC 6940 §10.2).
	Hash   storage.HashFunc
	Logger *slog.Logger
}

// device is a registered constrained device.
type device struct {
	addr  *net.UDPAddr
	links []byte
}

// Frontend is the CoAP front end of one node.
type Frontend struct {
	cfg      Config
	ov       Overlay
	log      *slog.Logger
	names    map[string]bool // resource names of cfg.Names
	ln       *coapnet.UDPConn
	srv      *udpserver.Server
	ctx      context.Context
	cancel   context.CancelFunc
	periodic periodic.Func
	wg       sync.WaitGroup

	mu      sync.Mutex
	devices map[string]*device
	peers   map[wire.NodeID]*tcpclient.Conn
	served  map[*tcpclient.Conn]struct{}
}

// New starts a front end listening on cfg.Addr.
func New(cfg Config) (*Frontend, error) {
	if cfg.Overlay == nil {
		return nil, ErrNoOverlay
	}
	if !cfg.NoSec {
		return nil, ErrDeviceAuth
	}
	if cfg.DeviceTimeout <= 0 {
		cfg.DeviceTimeout = DefaultDeviceTimeout
	}
	if cfg.Hash == nil {
		cfg.Hash = storage.ChordHash
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Frontend{cfg: cfg, ov: cfg.Overlay, log: cfg.Logger, names: map[string]bool{},
		devices: map[string]*device{}, peers: map[wire.NodeID]*tcpclient.Conn{}, served: map[*tcpclient.Conn]struct{}{}}
	for _, n := range cfg.Names {
		rn, err := storage.CoAPResourceName(n)
		if err != nil {
			return nil, fmt.Errorf("coap: name %q: %w", n, err)
		}
		f.names[rn] = true
	}
	ln, err := coapnet.NewListenUDP("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("coap: listen %s: %w", cfg.Addr, err)
	}
	f.ln = ln
	f.ctx, f.cancel = context.WithCancel(context.Background())
	// One timer goroutine for every connection's expirations, ended with
	// the front end (go-coap's default runs one per connection until its
	// next tick).
	f.periodic = periodic.New(f.ctx.Done(), time.Second)
	f.srv = udp.NewServer(options.WithMux(mux.HandlerFunc(f.serveLocal)), options.WithContext(f.ctx), options.WithPeriodicRunner(f.periodic))
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := f.srv.Serve(ln); err != nil && f.ctx.Err() == nil {
			f.log.Warn("coap: front end stopped", "err", err)
		}
	}()
	return f, nil
}

// Addr is the UDP address the front end listens on.
func (f *Frontend) Addr() net.Addr { return f.ln.LocalAddr() }

// Close stops the front end and closes its connections.
func (f *Frontend) Close() error {
	f.cancel()
	f.srv.Stop()
	f.mu.Lock()
	var conns []*tcpclient.Conn
	for _, c := range f.peers {
		conns = append(conns, c)
	}
	for c := range f.served {
		conns = append(conns, c)
	}
	f.peers, f.served = map[wire.NodeID]*tcpclient.Conn{}, map[*tcpclient.Conn]struct{}{}
	f.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	f.wg.Wait()
	return nil
}

// idLen is the overlay's Node-ID length.
func (f *Frontend) idLen() int {
	id := f.ov.LocalNodeID()
	return id.Len()
}

// DeviceURI is the URI a device named name is registered under (RFC 7650
// §4).
func DeviceURI(name string) string { return "coap://" + name + "/" }

// validName reports whether name can be a device's name: a DNS-style
// reg-name (RFC 3986 §3.2.2) of letters, digits, '-' and '.'.
func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// mayStore reports whether this node's certificate holds uri (RFC 7650
// §9), so that a Store under it can succeed.
func (f *Frontend) mayStore(uri string) bool {
	rn, err := storage.CoAPResourceName(uri)
	return err == nil && f.names[rn]
}

// request is a CoAP request as forwarded; response an answer.
type request struct {
	code    codes.Code
	host    string
	path    string
	queries []string
	cf      message.MediaType
	hasCF   bool
	body    []byte
}

type response struct {
	code      codes.Code
	cf        message.MediaType
	hasCF     bool
	body      []byte
	maxAge    uint32
	hasMaxAge bool
}

func errResponse(code codes.Code, format string, args ...any) response {
	return response{code: code, cf: message.TextPlain, hasCF: true, body: fmt.Appendf(nil, format, args...)}
}

// readRequest copies what is forwarded of r.
func readRequest(r *mux.Message) (request, error) {
	rq := request{code: r.Code()}
	if cf, err := r.ContentFormat(); err == nil {
		rq.cf, rq.hasCF = cf, true
	}
	if r.Body() != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body(), maxPayload+1))
		if err != nil {
			return rq, err
		}
		if len(b) > maxPayload {
			return rq, errors.New("payload too large")
		}
		rq.body = b
	}
	if p, err := r.Path(); err == nil {
		rq.path = p
	}
	if qs, err := r.Queries(); err == nil {
		rq.queries = qs
	}
	if h, err := r.Options().GetString(message.URIHost); err == nil {
		rq.host = h
	}
	return rq, nil
}

func query(qs []string, key string) (string, bool) {
	for _, q := range qs {
		if k, v, ok := strings.Cut(q, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func write(w mux.ResponseWriter, rs response) {
	var body io.ReadSeeker
	if len(rs.body) > 0 || rs.hasCF {
		body = bytes.NewReader(rs.body)
	}
	cf := rs.cf
	if !rs.hasCF {
		cf = message.AppOctets
	}
	var opts []message.Option
	if rs.hasMaxAge {
		buf := make([]byte, 4)
		n, _ := message.EncodeUint32(buf, rs.maxAge)
		opts = append(opts, message.Option{ID: message.MaxAge, Value: buf[:n]})
	}
	_ = w.SetResponse(rs.code, cf, body, opts...)
}

// do sends rq on c and reads the answer.
func do(ctx context.Context, c mux.Conn, rq request) (response, error) {
	var opts []message.Option
	if rq.host != "" {
		opts = append(opts, message.Option{ID: message.URIHost, Value: []byte(rq.host)})
	}
	for _, q := range rq.queries {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	path := rq.path
	if path == "" {
		path = "/"
	}
	var body io.ReadSeeker
	if len(rq.body) > 0 || rq.hasCF {
		body = bytes.NewReader(rq.body)
	}
	cf := rq.cf
	if !rq.hasCF {
		cf = message.AppOctets
	}
	var req *pool.Message
	var err error
	switch rq.code {
	case codes.GET:
		req, err = c.NewGetRequest(ctx, path, opts...)
	case codes.DELETE:
		req, err = c.NewDeleteRequest(ctx, path, opts...)
	case codes.POST:
		req, err = c.NewPostRequest(ctx, path, cf, body, opts...)
	case codes.PUT:
		req, err = c.NewPutRequest(ctx, path, cf, body, opts...)
	default:
		return errResponse(codes.MethodNotAllowed, "method %v not forwarded", rq.code), nil
	}
	if err != nil {
		return response{}, err
	}
	defer c.ReleaseMessage(req)
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer c.ReleaseMessage(resp)
	rs := response{code: resp.Code()}
	if cf, err := resp.ContentFormat(); err == nil {
		rs.cf, rs.hasCF = cf, true
	}
	if v, err := resp.GetOptionUint32(message.MaxAge); err == nil {
		rs.maxAge, rs.hasMaxAge = v, true
	}
	if resp.Body() != nil {
		b, err := io.ReadAll(io.LimitReader(resp.Body(), maxPayload+1))
		if err != nil {
			return response{}, err
		}
		rs.body = b
	}
	return rs, nil
}

// serveLocal answers devices and CoAP clients on the UDP socket.
func (f *Frontend) serveLocal(w mux.ResponseWriter, r *mux.Message) {
	rq, err := readRequest(r)
	if err != nil {
		write(w, errResponse(codes.BadRequest, "%v", err))
		return
	}
	if pu, err := r.Options().GetString(message.ProxyURI); err == nil {
		write(w, f.proxy(r.Context(), pu, rq))
		return
	}
	switch {
	case rq.path == "/rd" && rq.code == codes.POST:
		write(w, f.register(w.Conn().RemoteAddr(), rq))
	case rq.path == "/rd-cache" && (rq.code == codes.PUT || rq.code == codes.POST):
		write(w, f.cache(rq, r))
	default:
		write(w, errResponse(codes.NotFound, "no resource %s here; send requests with Proxy-Uri", rq.path))
	}
}

// register stores a device's CoAP-REGISTRATION (RFC 7650 §4).
func (f *Frontend) register(from net.Addr, rq request) response {
	name, _ := query(rq.queries, "ep")
	if !validName(name) {
		return errResponse(codes.BadRequest, "ep=<name> missing or not a host name")
	}
	name = strings.ToLower(name)
	lt := DefaultLifetime
	if s, ok := query(rq.queries, "lt"); ok {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil || v < 60 || v > 7*24*3600 {
			return errResponse(codes.BadRequest, "lt must be 60 to 604800 seconds")
		}
		lt = time.Duration(v) * time.Second
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return errResponse(codes.InternalServerError, "no UDP source address")
	}
	uri := DeviceURI(name)
	if !f.mayStore(uri) {
		return errResponse(codes.Forbidden, "this node's certificate does not hold %s (RFC 7650 §9 URI-NODE-MATCH)", uri)
	}
	self := f.ov.LocalNodeID()
	reg := wire.CoAPRegistration{NodeID: self, URIs: rq.body, IDLen: self.Len()}
	val, err := reg.Append(nil)
	if err != nil {
		return errResponse(codes.BadRequest, "registration: %v", err)
	}
	res, err := storage.CoAPResourceID(f.cfg.Hash, uri)
	if err != nil {
		return errResponse(codes.BadRequest, "%v", err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	if err := f.ov.Store(ctx, res, KindRegistration, []wire.StoredDataValue{wire.DictionaryValue(self.Bytes(), val)}, lt); err != nil {
		if code, ok := wire.ErrorCodeOf(err); ok && code == wire.ErrCodeForbidden {
			return errResponse(codes.Forbidden, "store refused: %v", err)
		}
		return errResponse(codes.BadGateway, "store: %v", err)
	}
	f.mu.Lock()
	f.devices[name] = &device{addr: ua, links: bytes.Clone(rq.body)}
	f.mu.Unlock()
	f.log.Info("coap: device registered", "name", name, "addr", ua.String())
	return response{code: codes.Created}
}

// cache stores a device's latest measurement as a SensorCache (RFC 7650
// §7, §7.2).
func (f *Frontend) cache(rq request, r *mux.Message) response {
	name, _ := query(rq.queries, "ep")
	href, _ := query(rq.queries, "href")
	name = strings.ToLower(name)
	if !validName(name) || !strings.HasPrefix(href, "/") {
		return errResponse(codes.BadRequest, "ep=<name> and href=/<path> required")
	}
	f.mu.Lock()
	_, known := f.devices[name]
	f.mu.Unlock()
	if !known {
		return errResponse(codes.Forbidden, "device %s is not registered here", name)
	}
	uri := "coap://" + name + href
	if !f.mayStore(uri) {
		return errResponse(codes.Forbidden, "this node's certificate does not hold %s (RFC 7650 §9 URI-MATCH)", uri)
	}
	lifetime := DefaultCacheLifetime
	if v, err := r.GetOptionUint32(message.MaxAge); err == nil && v > 0 {
		lifetime = time.Duration(v) * time.Second
	}
	self := f.ov.LocalNodeID()
	info := "<" + href + ">"
	if rq.hasCF {
		info += ";ct=" + strconv.Itoa(int(rq.cf))
	}
	c := wire.CoAPCaching{Type: wire.CoAPSensorCache, NodeID: self, IDLen: self.Len(), DevInfo: []byte(info),
		Values: []wire.SensorValue{{MeasurementTime: uint32(time.Now().UnixMilli()), Lifetime: uint32(lifetime / time.Millisecond), Value: rq.body}}}
	val, err := c.Append(nil)
	if err != nil {
		return errResponse(codes.BadRequest, "%v", err)
	}
	res, err := storage.CoAPResourceID(f.cfg.Hash, uri)
	if err != nil {
		return errResponse(codes.BadRequest, "%v", err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	if err := f.ov.Store(ctx, res, KindCaching, []wire.StoredDataValue{wire.SingleValue(val)}, lifetime); err != nil {
		return errResponse(codes.BadGateway, "store: %v", err)
	}
	return response{code: codes.Changed}
}

// ErrUnknownDevice: no CoAP-REGISTRATION for the name (RFC 7650 §5).
var ErrUnknownDevice = errors.New("coap: no registration for the device")

// Lookup fetches the Node-IDs of the proxies registered for the device
// name (RFC 7650 §5). Only values whose Node_ID is the dictionary key of
// the storing node count.
func (f *Frontend) Lookup(ctx context.Context, name string) ([]wire.NodeID, error) {
	res, err := storage.CoAPResourceID(f.cfg.Hash, DeviceURI(name))
	if err != nil {
		return nil, err
	}
	sds, err := f.ov.Fetch(ctx, res, KindRegistration)
	if err != nil {
		return nil, err
	}
	var out []wire.NodeID
	for _, sd := range sds {
		reg := wire.CoAPRegistration{IDLen: f.idLen()}
		if _, err := reg.Decode(sd.Value.Value.Value); err != nil || !bytes.Equal(reg.NodeID.Bytes(), sd.Value.Key) {
			continue
		}
		out = append(out, reg.NodeID)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %s", ErrUnknownDevice, DeviceURI(name))
	}
	return out, nil
}

// proxy answers a request with Proxy-Uri (RFC 7252 §5.7.2) through the
// overlay (RFC 7650 §5, §6).
func (f *Frontend) proxy(_ context.Context, proxyURI string, rq request) response {
	u, err := url.Parse(proxyURI)
	if err != nil || u.Host == "" || u.User != nil {
		return errResponse(codes.BadOption, "bad Proxy-Uri %q", proxyURI)
	}
	if !strings.EqualFold(u.Scheme, "coap") {
		return errResponse(codes.ProxyingNotSupported, "only coap: URIs are proxied")
	}
	host := strings.ToLower(u.Hostname())
	rq.path = u.Path
	rq.queries = nil
	if u.RawQuery != "" {
		rq.queries = strings.Split(u.RawQuery, "&")
	}
	ctx, cancel := context.WithTimeout(f.ctx, 2*f.cfg.DeviceTimeout+30*time.Second)
	defer cancel()
	var nodes []wire.NodeID
	if id, err := wire.ParseNodeID(host); err == nil && id.Len() == f.idLen() {
		nodes = []wire.NodeID{id}
	} else {
		if !validName(host) {
			return errResponse(codes.BadRequest, "bad host %q", host)
		}
		if nodes, err = f.Lookup(ctx, host); err != nil {
			if errors.Is(err, ErrUnknownDevice) {
				return errResponse(codes.NotFound, "%v", err)
			}
			return errResponse(codes.BadGateway, "lookup: %v", err)
		}
	}
	rq.host = host
	var rs response
	for _, n := range nodes {
		if rs, err = f.forward(ctx, n, rq); err == nil && rs.code != codes.GatewayTimeout && rs.code != codes.ServiceUnavailable {
			return rs
		}
		if err != nil {
			rs = errResponse(codes.BadGateway, "%v", err)
		}
	}
	if rq.code == codes.GET {
		if c, ok := f.cached(ctx, host, u.Path); ok {
			return c
		}
	}
	return rs
}

// forward sends rq to the proxy node n, or to the local device when n is
// this node.
func (f *Frontend) forward(ctx context.Context, n wire.NodeID, rq request) (response, error) {
	if n == f.ov.LocalNodeID() {
		return f.servePeerRequest(ctx, rq), nil
	}
	for attempt := 0; ; attempt++ {
		c, err := f.peerConn(ctx, n)
		if err != nil {
			return response{}, err
		}
		dctx, cancel := context.WithTimeout(ctx, 2*f.cfg.DeviceTimeout)
		rs, err := do(dctx, c, rq)
		cancel()
		if err == nil || attempt > 0 || ctx.Err() != nil {
			return rs, err
		}
		// A connection that failed is dropped and opened again once.
		f.dropPeer(n, c)
	}
}

// cached answers a GET from a fresh CoAP-CACHING value (RFC 7650 §7).
func (f *Frontend) cached(ctx context.Context, host, path string) (response, bool) {
	if path == "" {
		path = "/"
	}
	res, err := storage.CoAPResourceID(f.cfg.Hash, "coap://"+host+path)
	if err != nil {
		return response{}, false
	}
	sds, err := f.ov.Fetch(ctx, res, KindCaching)
	if err != nil {
		return response{}, false
	}
	now := uint32(time.Now().UnixMilli())
	for _, sd := range sds {
		c := wire.CoAPCaching{IDLen: f.idLen()}
		if _, err := c.Decode(sd.Value.Value.Value); err != nil || c.Type != wire.CoAPSensorCache {
			continue
		}
		for i := len(c.Values) - 1; i >= 0; i-- {
			v := c.Values[i]
			// Millisecond times modulo 2^32 (§7.2): the age is the
			// difference in the same arithmetic.
			age := now - v.MeasurementTime
			if age < v.Lifetime {
				return response{code: codes.Content, body: bytes.Clone(v.Value), maxAge: (v.Lifetime - age) / 1000, hasMaxAge: true}, true
			}
		}
	}
	return response{}, false
}

// peerConn returns a CoAP connection to node n over AppAttach (RFC 7650
// §6), opening one if needed.
func (f *Frontend) peerConn(ctx context.Context, n wire.NodeID) (*tcpclient.Conn, error) {
	f.mu.Lock()
	if c := f.peers[n]; c != nil {
		select {
		case <-c.Done():
			delete(f.peers, n)
		default:
			f.mu.Unlock()
			return c, nil
		}
	}
	f.mu.Unlock()
	nc, err := f.ov.AppAttach(ctx, []wire.Destination{wire.NodeDest(&n)}, AppCoAP)
	if err != nil {
		return nil, fmt.Errorf("AppAttach to %v: %w", n, err)
	}
	c, err := tcp.Client(nc, options.WithCloseSocket(), options.WithContext(f.ctx), options.WithPeriodicRunner(f.periodic),
		options.WithMux(mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
			write(w, errResponse(codes.Forbidden, "requests are sent the other way on this connection"))
		})))
	if err != nil {
		nc.Close()
		return nil, err
	}
	f.mu.Lock()
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		c.Close()
		return nil, f.ctx.Err()
	}
	if old := f.peers[n]; old != nil {
		f.mu.Unlock()
		c.Close()
		return old, nil
	}
	f.peers[n] = c
	f.mu.Unlock()
	return c, nil
}

func (f *Frontend) dropPeer(n wire.NodeID, c *tcpclient.Conn) {
	f.mu.Lock()
	if f.peers[n] == c {
		delete(f.peers, n)
	}
	f.mu.Unlock()
	c.Close()
}

// ServeConn serves CoAP requests from another node on an AppAttach
// connection for AppCoAP (RFC 7650 §6) until it closes. peer is the
// authenticated Node-ID at its other end.
func (f *Frontend) ServeConn(peer wire.NodeID, conn net.Conn) error {
	c, err := tcp.Client(conn, options.WithCloseSocket(), options.WithContext(f.ctx), options.WithPeriodicRunner(f.periodic),
		options.WithMux(mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
			rq, err := readRequest(r)
			if err != nil {
				write(w, errResponse(codes.BadRequest, "%v", err))
				return
			}
			write(w, f.servePeerRequest(r.Context(), rq))
		})))
	if err != nil {
		conn.Close()
		return err
	}
	f.mu.Lock()
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		return c.Close()
	}
	f.served[c] = struct{}{}
	f.mu.Unlock()
	f.log.Debug("coap: connection from peer", "peer", peer.String())
	<-c.Done()
	f.mu.Lock()
	delete(f.served, c)
	f.mu.Unlock()
	return nil
}

// servePeerRequest answers a request that reached this proxy: Uri-Host
// names a local device, or is this node's Node-ID.
func (f *Frontend) servePeerRequest(_ context.Context, rq request) response {
	host := strings.ToLower(rq.host)
	path := rq.path
	if id, err := wire.ParseNodeID(host); err == nil && id == f.ov.LocalNodeID() {
		if path == "/.well-known/core" {
			return f.directory()
		}
		name, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		host, path = name, "/"+rest
	}
	f.mu.Lock()
	d := f.devices[host]
	f.mu.Unlock()
	if d == nil {
		return errResponse(codes.NotFound, "no device %s at this proxy", host)
	}
	cc, err := f.srv.NewConn(d.addr)
	if err != nil {
		return errResponse(codes.ServiceUnavailable, "device %s: %v", host, err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.DeviceTimeout)
	defer cancel()
	rq.host, rq.path = "", path
	rs, err := do(ctx, cc, rq)
	if err != nil {
		return errResponse(codes.GatewayTimeout, "device %s: %v", host, err)
	}
	return rs
}

// directory lists this proxy's devices in link format (RFC 6690).
func (f *Frontend) directory() response {
	f.mu.Lock()
	var b []byte
	for name := range f.devices {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, "<"+DeviceURI(name)+">"...)
	}
	f.mu.Unlock()
	return response{code: codes.Content, cf: message.AppLinkFormat, hasCF: true, body: b}
}
