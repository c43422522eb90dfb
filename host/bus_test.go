package host_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// The bus is an in-memory overlay of hosts for the tests: it plays the
// driver of each host (package node's role) with a transaction layer of
// its own. Messages go hop by hop, each node routing with the Routes its
// host published last (RFC 6940 §6.1.1, §10.3); an Attach is routed like
// a request, and where it is delivered the bus opens a link between the
// two nodes and reports Attached to the attaching host and LinkUp to the
// other. A request that gets no answer within busTimeout ticks is failed
// (Failed), as the transaction layer gives up after its last
// retransmission (§6.2.1). Everything is processed in FIFO order without
// delay, so runs are deterministic.

const (
	// busTimeout is the transaction layer's give-up time in ticks (5 s
	// of 100 ms ticks), deliberately longer than chord's RequestTimeout
	// (3 s) so that scenarios show whose timer decides.
	busTimeout = 50
	tickLength = 100 * time.Millisecond
	// appToken marks the tokens of the requests the test itself sends.
	appToken = 1 << 62
	maxHops  = 32
)

// errTimeout is the bus's verdict on an unanswered request, like
// forwarding.ErrRequestTimeout (no RELOAD error code of its own).
var errTimeout = errors.New("bus: request timed out")

type bnode struct {
	id     wire.NodeID
	name   string
	client bool
	h      *host.Host
	ch     *chord.Chord
	signer security.Signer
	routes topology.Routes
	alive  bool
	mute   bool // hung: keeps its links, handles nothing
	// delivered maps the bus token of a request delivered to the host to
	// the packet it came in.
	delivered map[uint64]*packet
	// answers counts the answers the host gave per bus token.
	answers map[uint64]int
	log     []string
	// keep makes process keep the host's Readies in kept.
	keep bool
	kept []host.Ready
}

// packet is a request (or an Attach) on its way.
type packet struct {
	origin wire.NodeID
	token  uint64
	attach bool
	dest   []wire.Destination
	code   wire.MessageCode
	body   []byte
	from   storage.Requester
	app    *appResult // a request of the test's
}

// appResult is the outcome of a request the test sent.
type appResult struct {
	done bool
	from wire.NodeID
	code wire.MessageCode
	body []byte
}

type txKey struct {
	from  wire.NodeID
	token uint64
}

type bus struct {
	t      testing.TB
	pki    *st.PKI
	kinds  *storage.KindTable
	now    time.Time
	tick   int64
	nodes  map[wire.NodeID]*bnode
	order  []*bnode
	links  map[[2]wire.NodeID]bool
	q      []func()
	tx     map[txKey]int64 // deadline tick
	tok    uint64
	appTok uint64
	apps   map[uint64]*appResult
	// chord adjusts every node's chord configuration.
	chord func(*chord.Config)
	// lose names the purposes whose requests the bus loses (they time
	// out).
	lose map[host.Purpose]bool
	// replicas is host.Config.Replicas of the nodes added next (zero:
	// no pruning).
	replicas int
	users    map[string]*security.Identity
	// resNames names the Resource-IDs of users, for printing.
	resNames map[string]string
	stime    uint64
}

func newBus(t testing.TB, adjust func(*chord.Config)) *bus {
	return &bus{t: t, pki: st.NewPKI(t), kinds: st.Kinds(t), now: st.Now, nodes: map[wire.NodeID]*bnode{},
		links: map[[2]wire.NodeID]bool{}, tx: map[txKey]int64{}, apps: map[uint64]*appResult{}, chord: adjust,
		users: map[string]*security.Identity{}, resNames: map[string]string{}}
}

// idOf is the 16-byte Node-ID whose leading bytes are the hex digits
// prefix.
func idOf(tb testing.TB, prefix string) wire.NodeID {
	tb.Helper()
	b := make([]byte, 16)
	for i := 0; i < len(prefix); i += 2 {
		v, err := strconv.ParseUint(prefix[i:min(i+2, len(prefix))], 16, 8)
		if err != nil {
			tb.Fatalf("bad node id %q", prefix)
		}
		if i+1 == len(prefix) {
			v <<= 4
		}
		b[i/2] = byte(v)
	}
	return wire.MustNodeID(b)
}

// add creates a host named name with the Node-ID of the hex prefix, a
// certificate of the test PKI and a real verifier.
func (b *bus) add(name, prefix string, client bool) *bnode {
	b.t.Helper()
	id := idOf(b.t, prefix)
	cfg := chord.DefaultConfig(id, rand.New(rand.NewPCG(1, uint64(id.Bytes()[0]))))
	cfg.Client = client
	cfg.HostTimeouts = true
	cfg.TickLength = tickLength
	cfg.UpdateInterval = time.Minute
	cfg.HoldDown = 2 * time.Second
	if b.chord != nil {
		b.chord(&cfg)
	}
	c, err := chord.New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	ident := b.pki.Identity(b.t, "", id)
	h, err := host.New(host.Config{Plugin: c, Kinds: b.kinds, Backend: mem.New(), Verifier: b.pki.Verifier(),
		Clock: func() time.Time { return b.now }, Replicas: b.replicas})
	if err != nil {
		b.t.Fatal(err)
	}
	n := &bnode{id: id, name: name, client: client, h: h, ch: c, signer: security.Signer{NodeID: id, Cert: ident.Cert},
		alive: true, delivered: map[uint64]*packet{}, answers: map[uint64]int{}}
	b.nodes[id] = n
	b.order = append(b.order, n)
	b.process(n) // the first Ready publishes the Routes
	return n
}

func (b *bus) node(name string) *bnode {
	b.t.Helper()
	for _, n := range b.order {
		if n.name == name {
			return n
		}
	}
	b.t.Fatalf("no node %q", name)
	return nil
}

func linkKey(x, y wire.NodeID) [2]wire.NodeID {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return [2]wire.NodeID{x, y}
}

func (b *bus) linked(x, y wire.NodeID) bool { return b.links[linkKey(x, y)] }

// connect opens a link between x and y, as dialling a bootstrap peer's
// address does, and reports it at both ends.
func (b *bus) connect(x, y *bnode) {
	if b.linked(x.id, y.id) {
		return
	}
	b.links[linkKey(x.id, y.id)] = true
	x.h.LinkUp(y.id)
	b.process(x)
	y.h.LinkUp(x.id)
	b.process(y)
}

// fail kills n: its links go down at the other ends, and what is sent to
// it is lost.
func (b *bus) fail(n *bnode) {
	n.alive = false
	for _, o := range b.order {
		if o != n && b.linked(n.id, o.id) {
			delete(b.links, linkKey(n.id, o.id))
			if o.alive {
				o.h.LinkDown(n.id)
				b.process(o)
			}
		}
	}
	for k := range b.tx {
		if k.from == n.id {
			delete(b.tx, k)
		}
	}
	b.run()
}

func (b *bus) enqueue(f func()) { b.q = append(b.q, f) }

// run processes the queue until it is empty.
func (b *bus) run() {
	b.t.Helper()
	for i := 0; len(b.q) > 0; i++ {
		if i > 1_000_000 {
			b.t.Fatal("bus: no quiescence")
		}
		f := b.q[0]
		b.q[0] = nil
		b.q = b.q[1:]
		f()
	}
}

// ticks advances time by k ticks: every live host ticks, then the
// transactions whose time ran out fail.
func (b *bus) ticks(k int) {
	for range k {
		b.tick++
		b.now = b.now.Add(tickLength)
		for _, n := range b.order {
			if n.alive && !n.mute {
				n.h.Tick()
				b.process(n)
			}
		}
		var due []txKey
		for k, d := range b.tx {
			if d <= b.tick {
				due = append(due, k)
			}
		}
		slices.SortFunc(due, func(x, y txKey) int {
			if c := x.from.Compare(y.from); c != 0 {
				return c
			}
			return int(x.token) - int(y.token)
		})
		for _, k := range due {
			delete(b.tx, k)
			if k.token >= appToken {
				continue // the test's own request: no answer
			}
			if n := b.nodes[k.from]; n.alive && !n.mute {
				n.h.Failed(k.token, errTimeout)
				b.process(n)
			}
		}
		b.run()
	}
}

// process carries out n's Ready as a driver does: events, then the
// requests in order, then the answers.
func (b *bus) process(n *bnode) {
	for n.h.HasReady() {
		rd := n.h.Ready()
		b.record(n, &rd)
		if n.keep {
			n.kept = append(n.kept, rd)
		}
		if rd.Routes != nil {
			n.routes = rd.Routes
		}
		for _, m := range rd.Messages {
			p := &packet{origin: n.id, token: m.Token, attach: m.Attach, dest: slices.Clone(m.Dest), code: m.Code,
				body: slices.Clone(m.Body), from: storage.Requester{Signer: n.signer, Certificates: m.Certificates}}
			for i := range p.dest {
				p.dest[i].ID = slices.Clone(p.dest[i].ID)
			}
			b.tx[txKey{n.id, m.Token}] = b.tick + busTimeout
			if b.lose[m.Purpose] {
				continue
			}
			// The first hop is taken now, so that messages to one
			// neighbour arrive in the order sent, and before the
			// answers that follow them (one link, in order).
			b.hop(n, p, 0)
		}
		for _, a := range rd.Answers {
			b.answered(n, a)
		}
		n.h.Advance()
	}
}

// hop routes p at node at (RFC 6940 §6.1.1; forwarding's Core). At the
// origin (hops 0) it only routes: delivery to the origin itself is queued,
// since the origin's host is in the middle of its Ready.
func (b *bus) hop(at *bnode, p *packet, hops int) {
	if !at.alive || (at.mute && at.id != p.origin) || hops > maxHops {
		return
	}
	deliver := func() {
		if hops == 0 {
			b.enqueue(func() { b.deliver(at, p) })
			return
		}
		b.deliver(at, p)
	}
	for len(p.dest) > 0 {
		d := &p.dest[0]
		var next wire.NodeID
		switch d.Type {
		case wire.DestNode:
			id, ok := d.NodeID()
			if !ok {
				return
			}
			if id == at.id {
				if len(p.dest) == 1 {
					deliver()
					return
				}
				p.dest = p.dest[1:]
				continue
			}
			if b.linked(at.id, id) {
				next = id
				break
			}
			nx, local, err := b.route(at, d)
			if err != nil || local {
				return // §6.1.1: a Node-ID we are responsible for, not connected: dropped
			}
			next = nx
		case wire.DestResource:
			nx, local, err := b.route(at, d)
			if err != nil {
				return
			}
			if local {
				deliver()
				return
			}
			next = nx
		default:
			return
		}
		if !b.linked(at.id, next) {
			return
		}
		nx := b.nodes[next]
		b.enqueue(func() { b.hop(nx, p, hops+1) })
		return
	}
}

// route is the node's Routes, with the fallback of package node's router
// when the next hop has no link yet: the connected routing-table peer
// closest to the destination without passing it, or for a client any
// connected peer.
func (b *bus) route(at *bnode, d *wire.Destination) (wire.NodeID, bool, error) {
	next, local, err := at.routes.Route(d)
	if err != nil || local || b.linked(at.id, next) {
		return next, local, err
	}
	target := topology.Point(d.ID, 16)
	var best wire.NodeID
	found := false
	for _, o := range b.order {
		if o == at || o.id == next || !b.linked(at.id, o.id) || !at.routes.InTable(o.id) {
			continue
		}
		if topology.InOC(at.id, o.id, target) && (!found || topology.InOO(best, o.id, target)) {
			best, found = o.id, true
		}
	}
	if !found && at.client {
		for _, o := range b.order {
			if o != at && b.linked(at.id, o.id) {
				return o.id, false, nil
			}
		}
	}
	if !found {
		return next, false, nil
	}
	return best, false, nil
}

// deliver hands p to the node it is for: an Attach sets up the link, a
// Ping is answered as forwarding answers it, anything else goes to the
// host, which must answer it before Deliver returns.
func (b *bus) deliver(at *bnode, p *packet) {
	origin := b.nodes[p.origin]
	switch {
	case p.attach:
		if origin == at {
			return
		}
		if !b.linked(at.id, origin.id) {
			b.links[linkKey(at.id, origin.id)] = true
			at.h.LinkUp(origin.id)
			b.process(at)
		}
		b.enqueue(func() {
			if origin.alive && !origin.mute {
				delete(b.tx, txKey{origin.id, p.token})
				origin.h.Attached(p.token, at.id)
				b.process(origin)
			}
		})
		return
	case p.code == wire.CodePingReq:
		body, _ := (&wire.PingAns{ResponseID: uint64(b.tick)}).Append(nil)
		b.reply(at, p, wire.CodePingAns, body)
		return
	}
	b.tok++
	tok := b.tok
	at.delivered[tok] = p
	at.h.Deliver(host.Request{Token: tok, Code: p.code, Body: p.body, From: p.from})
	b.process(at)
	if _, open := at.delivered[tok]; open {
		b.t.Errorf("%s: %v from %s not answered by Deliver", at.name, p.code, origin.name)
	}
}

// answered sends the host's answer back to the request's origin.
func (b *bus) answered(n *bnode, a host.Answer) {
	n.answers[a.Token]++
	if n.answers[a.Token] > 1 {
		b.t.Errorf("%s: request %d answered %d times", n.name, a.Token, n.answers[a.Token])
	}
	p, ok := n.delivered[a.Token]
	if !ok {
		b.t.Errorf("%s: answer for unknown token %d", n.name, a.Token)
		return
	}
	delete(n.delivered, a.Token)
	b.reply(n, p, a.Code, slices.Clone(a.Body))
}

// reply returns an answer to the origin of p (along the reversed via
// list, which the bus does not model).
func (b *bus) reply(from *bnode, p *packet, code wire.MessageCode, body []byte) {
	origin := b.nodes[p.origin]
	b.enqueue(func() {
		if _, open := b.tx[txKey{origin.id, p.token}]; !open || !origin.alive || origin.mute {
			return // timed out already, or nobody to hear it
		}
		delete(b.tx, txKey{origin.id, p.token})
		if p.app != nil {
			*p.app = appResult{done: true, from: from.id, code: code, body: body}
			return
		}
		origin.h.Answered(p.token, from.id, code, body)
		b.process(origin)
	})
}

// request sends a request of the test's from node at to dest, signed by
// from, and runs the bus until it is answered or has timed out.
func (b *bus) request(at *bnode, dest wire.Destination, code wire.MessageCode, body []byte, from storage.Requester) *appResult {
	b.appTok++
	tok := appToken + b.appTok
	r := &appResult{}
	p := &packet{origin: at.id, token: tok, dest: []wire.Destination{dest}, code: code, body: body, from: from, app: r}
	b.tx[txKey{at.id, tok}] = b.tick + busTimeout
	b.enqueue(func() { b.hop(at, p, 0) })
	b.run()
	for !r.done {
		if _, open := b.tx[txKey{at.id, tok}]; !open {
			break
		}
		b.ticks(1)
	}
	return r
}

// user is the identity of a user name@overlay, with a Node-ID of its own.
func (b *bus) user(name string) (*security.Identity, wire.ResourceID) {
	full := name + "@" + st.Overlay
	res := storage.UserResourceID(storage.ChordHash, full)
	id, ok := b.users[name]
	if !ok {
		nid := wire.MustNodeID(bytes.Repeat([]byte{byte(len(b.users) + 1)}, 16))
		id = b.pki.Identity(b.t, full, nid)
		b.users[name] = id
		b.resNames[string(res)] = name
	}
	return id, res
}

// store stores value as name's KindSmall value (USER-MATCH, RFC 6940
// §7.3.1) through node at.
func (b *bus) store(at *bnode, name, value string) *appResult {
	id, res := b.user(name)
	b.stime++
	sd := st.Signed(b.t, id, res, st.KindSmall, st.Millis(b.now)+b.stime, 3600, st.Single(value))
	body, err := st.Req(res, st.KindSmall, 0, sd).Append(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.request(at, wire.ResourceDest(res), wire.CodeStoreReq, body, st.Requester(id))
}

// fetch fetches name's KindSmall value through node at.
func (b *bus) fetch(at *bnode, name string) *appResult {
	_, res := b.user(name)
	body, err := (&wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindSmall, Model: wire.ModelSingle}}}).Append(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.request(at, wire.ResourceDest(res), wire.CodeFetchReq, body, storage.Requester{Signer: at.signer})
}

// Printing.

func (b *bus) name(id wire.NodeID) string {
	if n, ok := b.nodes[id]; ok {
		return n.name
	}
	return strings.TrimRight(id.String(), "0")
}

func (b *bus) names(ids []wire.NodeID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = b.name(id)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (b *bus) rng(r topology.Range) string {
	if r.IsZero() {
		return "()"
	}
	return "(" + b.name(r.Start) + "," + b.name(r.End) + "]"
}

// dest prints a destination: a node's name, a user's resource, n+1 of a
// node n, or the id.
func (b *bus) dest(d wire.Destination) string {
	switch d.Type {
	case wire.DestNode:
		id, _ := d.NodeID()
		return b.name(id)
	case wire.DestResource:
		if u, ok := b.resNames[string(d.ID)]; ok {
			return "res:" + u
		}
		if len(d.ID) == 16 {
			p := wire.MustNodeID(d.ID)
			if n, ok := b.nodes[p]; ok {
				return "res:" + n.name
			}
			for _, n := range b.order {
				if topology.Add(n.id, wire.MustNodeID(append(make([]byte, 15), 1))) == p {
					return "res:" + n.name + "+1"
				}
			}
		}
		return "res:" + strings.TrimRight(fmt.Sprintf("%x", d.ID), "0")
	}
	return d.String()
}

func (b *bus) event(ev topology.Event) string {
	s := ev.Type.String()
	if !ev.Peer.IsZero() {
		s += " peer=" + b.name(ev.Peer)
	}
	if !ev.Range.IsZero() {
		s += " range=" + b.rng(ev.Range)
	}
	return s
}

func (b *bus) message(m *host.Message) string {
	if m.Attach {
		ds := make([]string, len(m.Dest))
		for i, d := range m.Dest {
			ds[i] = b.dest(d)
		}
		return "attach [" + strings.Join(ds, " ") + "]"
	}
	var s string
	if !m.To.IsZero() {
		s = fmt.Sprintf("%v to %s", m.Code, b.name(m.To))
	} else {
		ds := make([]string, len(m.Dest))
		for i, d := range m.Dest {
			ds[i] = b.dest(d)
		}
		s = fmt.Sprintf("%v [%s]", m.Code, strings.Join(ds, " "))
	}
	if m.Purpose != host.Topology {
		s += " " + m.Purpose.String()
	}
	if m.Code == wire.CodeStoreReq {
		req := wire.StoreReq{Models: b.kinds}
		if _, err := req.Decode(m.Body); err == nil {
			s += fmt.Sprintf(" %s#%d", b.dest(wire.ResourceDest(req.Resource)), req.ReplicaNumber)
		}
	}
	return s
}

func (b *bus) errorText(body []byte) string {
	var e wire.ErrorResponse
	if _, err := e.Decode(body); err != nil {
		return "bad error answer: " + err.Error()
	}
	return fmt.Sprintf("error %v (%s)", e.Code, e.Info)
}

func (b *bus) answer(a *host.Answer) string {
	if a.Code == wire.CodeError {
		return "answer " + b.errorText(a.Body)
	}
	return fmt.Sprintf("answer %v", a.Code)
}

// record keeps n's Ready in a stable text form for the ready command.
func (b *bus) record(n *bnode, rd *host.Ready) {
	n.log = append(n.log, fmt.Sprintf("t=%d", b.tick))
	for _, ev := range rd.Events {
		n.log = append(n.log, "  event "+b.event(ev))
	}
	for i := range rd.Messages {
		n.log = append(n.log, "  send "+b.message(&rd.Messages[i]))
	}
	for i := range rd.Answers {
		n.log = append(n.log, "  "+b.answer(&rd.Answers[i]))
	}
	if rd.Routes != nil {
		n.log = append(n.log, "  routes")
	}
}

// data lists the users whose values n holds.
func (b *bus) data(n *bnode) string {
	var names []string
	_ = n.h.Store().Backend().Slots(func(res wire.ResourceID, _ wire.KindID, gen uint64) bool {
		u, ok := b.resNames[string(res)]
		if !ok {
			u = fmt.Sprintf("%x", res)
		}
		names = append(names, fmt.Sprintf("%s(gen %d)", u, gen))
		return true
	})
	slices.Sort(names)
	return "[" + strings.Join(names, " ") + "]"
}
