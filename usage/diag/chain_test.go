package diag

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/goreload/reload/wire"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// procFS is a fake /proc and /sys for LocalStats.
func procFS() fstest.MapFS {
	return fstest.MapFS{
		"proc/uptime":      {Data: []byte("3600.50 7000.00\n")},
		"proc/loadavg":     {Data: []byte("0.00 0.00 0.00 1/100 4242\n")},
		"proc/cpuinfo":     {Data: []byte("processor\t: 0\nbogomips\t: 4000.00\n\nprocessor\t: 1\nbogomips\t: 4000.00\n")},
		"proc/self/status": {Data: []byte("Name:\treload\nVmRSS:\t   20480 kB\n")},
	}
}

func testID(i int) wire.NodeID {
	h := sha256.Sum256(fmt.Appendf(nil, "node-%d", i))
	return wire.MustNodeID(h[:16])
}

// chain is an overlay of n peers in a line with a static route: peer i
// forwards toward a higher index to i+1 and toward a lower one to i-1; a
// Resource-ID belongs to the last peer. Peer 0 is the client. Each link
// takes latency one way. Every message is encoded as a whole wire.Message,
// decoded again, and its body and extensions decoded with wire.NewBody and
// wire.NewExtension.
type chain struct {
	t       *testing.T
	clock   *fakeClock
	latency time.Duration
	ids     []wire.NodeID
	servers []*Server
	stats   []*LocalStats
	// next overrides the static route: next[i] = j makes peer i name
	// peer j as its next hop toward any destination but itself.
	next map[int]int
	// plain lists peers that do not support RFC 7851: they answer Pings
	// without the extension.
	plain map[int]bool

	mu       sync.Mutex
	txid     uint64
	messages int // whole messages encoded and checked
}

func newChain(t *testing.T, n int, pol Policy) *chain {
	t.Helper()
	c := &chain{t: t, clock: newClock(), latency: time.Millisecond, next: map[int]int{}, plain: map[int]bool{}}
	for i := range n {
		c.ids = append(c.ids, testID(i))
	}
	for i := range n {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 6084)
		st := NewLocalStats(LocalConfig{
			Now: c.clock.Now, FS: procFS(), Software: "test/1.0",
			RoutingTableSize: func() int { return min(i, 1) + min(n-1-i, 1) },
			DatasizeStored:   func() uint64 { return 1000 * uint64(i) },
			InstancesStored:  func() map[wire.KindID]uint64 { return map[wire.KindID]uint64{1: uint64(i), 3: 1} },
			Addresses:        func() []netip.AddrPort { return []netip.AddrPort{addr} },
		})
		s, err := NewServer(ServerConfig{Self: c.ids[i], Router: chainRouter{c, i}, Stats: st, Policy: pol, Now: c.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.stats = append(c.stats, st)
		c.servers = append(c.servers, s)
	}
	return c
}

func (c *chain) index(id wire.NodeID) (int, bool) {
	for i, x := range c.ids {
		if x == id {
			return i, true
		}
	}
	return 0, false
}

// responsible is the peer responsible for d.
func (c *chain) responsible(d wire.Destination) (int, bool) {
	if d.Type == wire.DestResource {
		return len(c.ids) - 1, true
	}
	id, ok := d.NodeID()
	if !ok {
		return 0, false
	}
	return c.index(id)
}

type chainRouter struct {
	c *chain
	i int
}

func (r chainRouter) NextHop(d wire.Destination) (wire.NodeID, bool, error) {
	j, ok := r.c.responsible(d)
	if !ok {
		return wire.NodeID{}, false, errors.New("chain: unknown destination")
	}
	if j == r.i {
		return r.c.ids[r.i], true, nil
	}
	if k, ok := r.c.next[r.i]; ok {
		return r.c.ids[k], false, nil
	}
	if j > r.i {
		return r.c.ids[r.i+1], false, nil
	}
	return r.c.ids[r.i-1], false, nil
}

// overlay is the client's view, from peer 0.
func (c *chain) overlay() Overlay { return chainOverlay{c} }

type chainOverlay struct{ c *chain }

func (o chainOverlay) NextHop(d wire.Destination) (wire.NodeID, bool, error) {
	return chainRouter{o.c, 0}.NextHop(d)
}

// roundTrip encodes m, decodes it back and checks its body and extensions
// decode with the wire registry.
func (c *chain) roundTrip(m *wire.Message) *wire.Message {
	c.t.Helper()
	raw, err := m.Append(nil)
	if err != nil {
		c.t.Fatalf("encode %v: %v", m.Contents.Code, err)
	}
	var d wire.Message
	if n, err := d.Decode(raw); err != nil || n != len(raw) {
		c.t.Fatalf("decode %v: n=%d/%d %v", m.Contents.Code, n, len(raw), err)
	}
	body, ok := wire.NewBody(d.Contents.Code, 0)
	if !ok {
		c.t.Fatalf("wire.NewBody has no body for %v", d.Contents.Code)
	}
	if n, err := body.Decode(d.Contents.Body); err != nil || n != len(d.Contents.Body) {
		c.t.Fatalf("wire.NewBody(%v).Decode: n=%d/%d %v", d.Contents.Code, n, len(d.Contents.Body), err)
	}
	for _, e := range d.Contents.Extensions {
		x, ok := wire.NewExtension(e.Type, d.Contents.Code)
		if !ok {
			c.t.Fatalf("wire.NewExtension has nothing for %v", e.Type)
		}
		if n, err := x.Decode(e.Contents); err != nil || n != len(e.Contents) {
			c.t.Fatalf("wire.NewExtension(%v, %v).Decode: n=%d/%d %v", e.Type, d.Contents.Code, n, len(e.Contents), err)
		}
	}
	c.mu.Lock()
	c.messages++
	c.mu.Unlock()
	return &d
}

func (c *chain) header(ttl uint8, dest []wire.Destination, txid uint64) wire.ForwardingHeader {
	return wire.ForwardingHeader{
		Overlay: wire.OverlayHash("diag.test"), ConfigSequence: 1, Version: wire.Version10,
		TTL: ttl, Fragment: wire.FragmentUnfragmed, TransactionID: txid, MaxResponseLength: 65535,
		Destinations: dest,
	}
}

func sig(id wire.NodeID) wire.Signature {
	h := sha256.Sum256(id.Bytes())
	return wire.Signature{
		Algorithm: wire.AlgECDSASHA256,
		Identity:  wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256, Hash: h[:]},
		Value:     make([]byte, 64),
	}
}

// hop moves a message one link from peer from to peer to.
func (c *chain) hop(from, to int, code wire.MessageCode, size int) {
	c.clock.Advance(c.latency)
	c.stats[from].CountSent(code, size)
	c.stats[to].CountRcvd(code, size)
}

func errorAnswer(pe *wire.ProtocolError) (wire.MessageCode, []byte) {
	r := pe.Response()
	b, _ := r.Append(nil)
	return wire.CodeError, b
}

// Request routes a request from peer 0 along the destination list, lets
// the peer it ends at (or the one where it expires) answer, and brings the
// answer back along the same peers.
func (o chainOverlay) Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (Answer, error) {
	c := o.c
	if err := ctx.Err(); err != nil {
		return Answer{}, err
	}
	c.mu.Lock()
	c.txid++
	txid := c.txid
	c.mu.Unlock()
	req := &wire.Message{
		Header:   c.header(wire.DefaultTTL, dest, txid),
		Contents: wire.MessageContents{Code: code, Body: body, Extensions: exts},
		Security: wire.SecurityBlock{Signature: sig(c.ids[0])},
	}
	req = c.roundTrip(req)
	size := req.Len()
	pos, ttl, path := 0, uint8(wire.DefaultTTL), []int{0}
	list := append([]wire.Destination{}, req.Header.Destinations...)
	var ansCode wire.MessageCode
	var ansBody []byte
	var ansExts []wire.MessageExtension
	for {
		target, ok := c.responsible(list[0])
		if !ok {
			return Answer{}, errors.New("chain: no route")
		}
		if pos == target {
			list = list[1:]
			if len(list) > 0 {
				continue
			}
			break
		}
		if pos != 0 { // forwarding peers decrement the TTL before transmission
			ttl--
		}
		next, _, _ := chainRouter{c, pos}.NextHop(list[0])
		j, _ := c.index(next)
		c.hop(pos, j, code, size)
		pos = j
		path = append(path, pos)
		// RFC 7851 §6.2: an intermediate peer checks the expiration.
		if pos != target || len(list) > 1 {
			raw, _ := req.Contents.Append(nil)
			if err := CheckTransit(raw, c.clock.Now()); err != nil {
				pe, _ := errors.AsType[*wire.ProtocolError](err)
				ansCode, ansBody = errorAnswer(pe)
				return c.answer(path, txid, ansCode, ansBody, nil)
			}
		}
	}
	req.Header.TTL = ttl
	req = c.roundTrip(req)
	in := RequestFrom(req, c.ids[0])
	srv := c.servers[pos]
	switch code {
	case wire.CodePingReq:
		ext, ok, err := srv.HandlePing(in)
		if c.plain[pos] {
			ext, ok, err = wire.MessageExtension{}, false, nil
		}
		if err != nil {
			ansCode, ansBody = errorAnswer(err.(*wire.ProtocolError))
			break
		}
		pa := wire.PingAns{ResponseID: 0x1234 + txid, Time: unixMilli(c.clock.Now())}
		ansCode, ansBody = wire.CodePingAns, must(pa.Append(nil))
		if ok {
			ansExts = []wire.MessageExtension{ext}
		}
	case wire.CodePathTrackReq:
		b, err := srv.HandlePathTrack(in)
		if err != nil {
			ansCode, ansBody = errorAnswer(err.(*wire.ProtocolError))
			break
		}
		ansCode, ansBody = wire.CodePathTrackAns, b
	default:
		return Answer{}, fmt.Errorf("chain: %v not handled", code)
	}
	return c.answer(path, txid, ansCode, ansBody, ansExts)
}

// answer sends an answer from the last peer of path back to peer 0.
func (c *chain) answer(path []int, txid uint64, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (Answer, error) {
	from := path[len(path)-1]
	m := &wire.Message{
		Header:   c.header(wire.DefaultTTL, []wire.Destination{wire.NodeDest(&c.ids[0])}, txid),
		Contents: wire.MessageContents{Code: code, Body: body, Extensions: exts},
		Security: wire.SecurityBlock{Signature: sig(c.ids[from])},
	}
	m = c.roundTrip(m)
	for k := len(path) - 1; k > 0; k-- {
		c.hop(path[k], path[k-1], code, m.Len())
	}
	return Answer{From: c.ids[from], Code: m.Contents.Code, Body: m.Contents.Body, Extensions: m.Contents.Extensions}, nil
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
