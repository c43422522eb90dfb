package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// Config configures a Sim. Zero values take the defaults given.
type Config struct {
	// Seed seeds every random choice of the simulation and of the nodes.
	Seed uint64
	// MinLatency and MaxLatency bound the per-hop delivery delay in ticks
	// (default 1 and 1; at least 1).
	MinLatency, MaxLatency int64
	// DetectDelay is the most ticks a live node takes to notice a dead or
	// cut link (keepalive, per-hop retransmission failure) and call
	// PeerFailed (default 10).
	DetectDelay int64
	// TTL is the initial TTL of routed messages (default 100, the
	// configuration's initial-ttl).
	TTL int
	// IDLen is the Node-ID length for RandomID (default 16).
	IDLen int
	// Chord adjusts each node's chord.Config (which starts as
	// chord.DefaultConfig with a node-specific Rand); nil keeps it.
	Chord func(*chord.Config)
	// DropEvents stops the simulator from keeping every event in
	// Node.Events, which large runs do not need.
	DropEvents bool
}

// Node is one simulated node.
type Node struct {
	ID     wire.NodeID
	Chord  *chord.Chord
	Alive  bool
	Events []topology.Event // every event the plugin emitted
	index  int
}

// Lookup is a routed probe message sent to find the peer responsible for
// Key. At is the node that declared itself responsible (local), OK
// whether that is the responsible peer of the live ring at arrival.
type Lookup struct {
	From   wire.NodeID
	Key    wire.NodeID
	Issued int64
	Done   bool
	OK     bool
	At     wire.NodeID
	Hops   int
	Path   []wire.NodeID
	// Lost says why an unfinished lookup stopped ("" while in flight).
	Lost string
}

// Stats counts what happened on the bus. Sent counts hops (a message
// routed over three hops is sent three times), lookups included; Probes
// is the lookups' share of Sent. Originated counts the plugins' messages
// once each, requests and answers (including the Ping answers the
// simulator gives for forwarding). Delivered and ByCode count requests
// handed to a plugin.
type Stats struct {
	Sent, Delivered, Dropped, Lost, TTLExceeded, Unroutable int
	Probes, Originated                                      int
	ByCode                                                  map[wire.MessageCode]int
}

type envKind uint8

const (
	envDirect envKind = iota
	envRouted
	envAnswer
	envLookup
	envLinkFail
)

type envelope struct {
	kind   envKind
	from   wire.NodeID // previous hop
	to     wire.NodeID // this hop's receiver
	origin wire.NodeID // the request's originator or the answer's responder
	msg    topology.Outgoing
	path   []wire.NodeID // via list: origin and the hops so far
	back   []wire.NodeID // answers: the hops still to go, last first
	target wire.NodeID   // answers: the originator
	hops   int
	lookup *Lookup
	failed wire.NodeID // envLinkFail: the peer that failed
}

// Exchange is a request injected with Request; Done is set when its
// answer (Code, Body, From) comes back.
type Exchange struct {
	Done bool
	From wire.NodeID
	Code wire.MessageCode
	Body []byte
}

// exchangeBit marks tokens of injected requests.
const exchangeBit = 1 << 63

type pendingAnswer struct {
	origin wire.NodeID
	token  uint64
	path   []wire.NodeID
}

// Sim is a deterministic network of chord plugins with virtual time.
type Sim struct {
	cfg     Config
	Now     int64
	Rand    *rand.Rand
	Nodes   []*Node
	byID    map[wire.NodeID]*Node
	queue   map[int64][]*envelope
	cut     map[[2]wire.NodeID]bool
	drop    float64
	hostTok uint64
	answers map[uint64]pendingAnswer
	ring    []wire.NodeID // sorted live peers, nil when stale
	xchg    []*Exchange
	Stats   Stats
	// Trace, when set, is called for every message delivered to a
	// plugin, in order.
	Trace func(at int64, from, to wire.NodeID, code wire.MessageCode)
}

// New returns an empty simulation.
func New(cfg Config) *Sim {
	if cfg.MinLatency < 1 {
		cfg.MinLatency = 1
	}
	if cfg.MaxLatency < cfg.MinLatency {
		cfg.MaxLatency = cfg.MinLatency
	}
	if cfg.DetectDelay < 1 {
		cfg.DetectDelay = 10
	}
	if cfg.TTL == 0 {
		cfg.TTL = 100
	}
	if cfg.IDLen == 0 {
		cfg.IDLen = wire.DefaultNodeIDLen
	}
	return &Sim{
		cfg:     cfg,
		Rand:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		byID:    make(map[wire.NodeID]*Node),
		queue:   make(map[int64][]*envelope),
		cut:     make(map[[2]wire.NodeID]bool),
		answers: make(map[uint64]pendingAnswer),
		Stats:   Stats{ByCode: make(map[wire.MessageCode]int)},
	}
}

// RandomID draws a Node-ID from the simulation's random source.
func (s *Sim) RandomID() wire.NodeID {
	for {
		var b [wire.MaxNodeIDLen]byte
		for i := range b {
			b[i] = byte(s.Rand.Uint32())
		}
		id, _ := wire.NodeIDFromBytes(b[:s.cfg.IDLen])
		if _, dup := s.byID[id]; !dup && id.Valid() && !id.IsWildcard() {
			return id
		}
	}
}

// Add creates a node (idle until Start or Join).
func (s *Sim) Add(id wire.NodeID) (*Node, error) {
	if _, dup := s.byID[id]; dup {
		return nil, fmt.Errorf("sim: duplicate node %v", id)
	}
	cfg := chord.DefaultConfig(id, rand.New(rand.NewPCG(s.cfg.Seed, id.Uint64Prefix())))
	if s.cfg.Chord != nil {
		s.cfg.Chord(&cfg)
	}
	c, err := chord.New(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{ID: id, Chord: c, Alive: true, index: len(s.Nodes)}
	s.Nodes = append(s.Nodes, n)
	s.byID[id] = n
	return n, nil
}

// TickLength is the virtual time of one tick: the plugins' configured
// chord.Config.TickLength.
func (s *Sim) TickLength() time.Duration {
	c := chord.DefaultConfig(wire.NodeID{}, nil)
	if s.cfg.Chord != nil {
		s.cfg.Chord(&c)
	}
	if c.TickLength <= 0 {
		return chord.DefaultTickLength
	}
	return c.TickLength
}

// Node returns the node with Node-ID id.
func (s *Sim) Node(id wire.NodeID) *Node { return s.byID[id] }

// Start makes node id the first peer.
func (s *Sim) Start(id wire.NodeID) error {
	n := s.byID[id]
	if err := n.Chord.Start(); err != nil {
		return err
	}
	s.ringSync(n)
	s.collect(n)
	return nil
}

// Join starts node id joining through via.
func (s *Sim) Join(id wire.NodeID, via ...wire.NodeID) error {
	n := s.byID[id]
	if err := n.Chord.Join(via...); err != nil {
		return err
	}
	s.collect(n)
	return nil
}

// Leave makes node id leave gracefully.
func (s *Sim) Leave(id wire.NodeID) error {
	n := s.byID[id]
	if err := n.Chord.Leave(); err != nil {
		return err
	}
	s.ringSync(n)
	s.collect(n)
	return nil
}

// Fail crashes node id abruptly: it stops, messages to it are lost, and
// each live node that has it in its routing table notices within
// DetectDelay ticks.
func (s *Sim) Fail(id wire.NodeID) {
	n := s.byID[id]
	if n == nil || !n.Alive {
		return
	}
	n.Alive = false
	s.ringSync(n)
	for _, o := range s.Nodes {
		if o.Alive && s.knows(o, id) {
			s.notifyFailure(o.ID, id)
		}
	}
}

// FailMany crashes the nodes ids at once, like Fail for each, with one
// pass over the live nodes' tables instead of one per failed node.
func (s *Sim) FailMany(ids []wire.NodeID) {
	failed := make(map[wire.NodeID]bool, len(ids))
	for _, id := range ids {
		if n := s.byID[id]; n != nil && n.Alive {
			n.Alive = false
			s.ringSync(n)
			failed[id] = true
		}
	}
	var seen []wire.NodeID
	for _, o := range s.Nodes {
		if !o.Alive {
			continue
		}
		seen = seen[:0]
		note := func(id wire.NodeID) {
			if failed[id] && !slices.Contains(seen, id) {
				seen = append(seen, id)
				s.notifyFailure(o.ID, id)
			}
		}
		for _, id := range o.Chord.Successors() {
			note(id)
		}
		for _, id := range o.Chord.Predecessors() {
			note(id)
		}
		for _, id := range o.Chord.FingerTable() {
			note(id)
		}
		note(o.Chord.AttachedPeer())
	}
}

func (s *Sim) knows(o *Node, id wire.NodeID) bool {
	return slices.Contains(o.Chord.Successors(), id) || slices.Contains(o.Chord.Predecessors(), id) ||
		slices.Contains(o.Chord.FingerTable(), id) || o.Chord.AttachedPeer() == id
}

func (s *Sim) notifyFailure(at, failed wire.NodeID) {
	t := s.Now + 1 + s.Rand.Int64N(s.cfg.DetectDelay)
	s.queue[t] = append(s.queue[t], &envelope{kind: envLinkFail, to: at, failed: failed})
}

// Cut breaks the link between a and b in both directions; both notice
// within DetectDelay if they know each other.
func (s *Sim) Cut(a, b wire.NodeID) {
	s.cut[[2]wire.NodeID{a, b}] = true
	s.cut[[2]wire.NodeID{b, a}] = true
	if n := s.byID[a]; n != nil && n.Alive && s.knows(n, b) {
		s.notifyFailure(a, b)
	}
	if n := s.byID[b]; n != nil && n.Alive && s.knows(n, a) {
		s.notifyFailure(b, a)
	}
}

// Heal restores the link between a and b.
func (s *Sim) Heal(a, b wire.NodeID) {
	delete(s.cut, [2]wire.NodeID{a, b})
	delete(s.cut, [2]wire.NodeID{b, a})
}

// Isolate cuts every link of a.
func (s *Sim) Isolate(a wire.NodeID) {
	for _, o := range s.Nodes {
		if o.ID != a {
			s.Cut(a, o.ID)
		}
	}
}

// Reconnect heals every link of a.
func (s *Sim) Reconnect(a wire.NodeID) {
	for _, o := range s.Nodes {
		s.Heal(a, o.ID)
	}
}

// SetDrop makes each hop lose a message with probability p, silently.
func (s *Sim) SetDrop(p float64) { s.drop = p }

func (s *Sim) linkUp(a, b wire.NodeID) bool {
	n := s.byID[b]
	return n != nil && n.Alive && !s.cut[[2]wire.NodeID{a, b}]
}

// send moves e one hop, from e.from to e.to.
func (s *Sim) send(e *envelope) {
	s.Stats.Sent++
	if e.lookup != nil {
		s.Stats.Probes++
	}
	if !s.linkUp(e.from, e.to) {
		s.Stats.Lost++
		if e.lookup != nil {
			e.lookup.Lost = "dead next hop"
		}
		if n := s.byID[e.from]; n != nil && n.Alive {
			s.notifyFailure(e.from, e.to)
		}
		return
	}
	if s.drop > 0 && s.Rand.Float64() < s.drop {
		s.Stats.Dropped++
		if e.lookup != nil {
			e.lookup.Lost = "dropped"
		}
		return
	}
	t := s.Now + s.cfg.MinLatency
	if d := s.cfg.MaxLatency - s.cfg.MinLatency; d > 0 {
		t += s.Rand.Int64N(d + 1)
	}
	s.queue[t] = append(s.queue[t], e)
}

// collect sends what node n's plugin has ready.
func (s *Sim) collect(n *Node) {
	for n.Chord.HasReady() {
		rd := n.Chord.Ready()
		if !s.cfg.DropEvents {
			n.Events = append(n.Events, rd.Events...)
		}
		for _, ev := range rd.Events {
			if ev.Type == topology.EventJoined || ev.Type == topology.EventLeft || ev.Type == topology.EventDetached {
				s.ringSync(n)
			}
		}
		msgs := slices.Clone(rd.Messages)
		n.Chord.Advance()
		for i := range msgs {
			s.dispatch(n, &msgs[i])
		}
	}
}

func (s *Sim) dispatch(n *Node, m *topology.Outgoing) {
	if !n.Alive {
		return
	}
	s.Stats.Originated++
	switch {
	case m.Answer:
		pa, ok := s.answers[m.Token]
		if !ok {
			return
		}
		delete(s.answers, m.Token)
		msg := *m
		msg.Token = pa.token
		back := slices.Clone(pa.path)
		e := &envelope{kind: envAnswer, from: n.ID, origin: n.ID, msg: msg, target: pa.origin}
		e.to, e.back = back[len(back)-1], back[:len(back)-1]
		s.send(e)
	case m.Routed():
		e := &envelope{kind: envRouted, origin: n.ID, msg: *m, path: []wire.NodeID{n.ID}}
		if !m.Via.IsZero() {
			e.from, e.to = n.ID, m.Via
			s.send(e)
			return
		}
		s.route(n, e)
	default:
		s.send(&envelope{kind: envDirect, from: n.ID, to: m.To, origin: n.ID, msg: *m, path: []wire.NodeID{n.ID}})
	}
}

// route makes node n's forwarding decision for a routed envelope that is
// at n: deliver locally or forward one hop.
func (s *Sim) route(n *Node, e *envelope) {
	next, local, err := n.Chord.Route(&e.msg.Dest)
	if err != nil {
		s.Stats.Unroutable++
		if e.lookup != nil {
			e.lookup.Lost = "unroutable: " + err.Error()
		}
		return
	}
	if local {
		s.deliver(n, e)
		return
	}
	if e.hops >= s.cfg.TTL {
		s.Stats.TTLExceeded++
		if e.lookup != nil {
			e.lookup.Lost = "ttl"
		}
		return
	}
	e.hops++
	if e.lookup != nil {
		e.lookup.Path = append(e.lookup.Path, next)
	}
	if len(e.path) == 0 || e.path[len(e.path)-1] != n.ID {
		e.path = append(e.path, n.ID)
	}
	e.from, e.to = n.ID, next
	s.send(e)
}

// deliver hands a request that reached its destination to node n.
func (s *Sim) deliver(n *Node, e *envelope) {
	if e.lookup != nil {
		l := e.lookup
		l.Done, l.At, l.Hops = true, n.ID, e.hops
		l.OK = s.ResponsibleFor(l.Key.Bytes()) == n.ID
		return
	}
	s.Stats.Delivered++
	s.Stats.ByCode[e.msg.Code]++
	if s.Trace != nil {
		s.Trace(s.Now, e.origin, n.ID, e.msg.Code)
	}
	path := e.path
	if e.msg.Code == wire.CodePingReq {
		// Ping belongs to forwarding (§6.5.3): the simulator answers it.
		a := wire.PingAns{ResponseID: s.Rand.Uint64(), Time: uint64(s.Now)}
		body, _ := a.Append(nil)
		s.hostTok++
		s.answers[s.hostTok] = pendingAnswer{origin: e.origin, token: e.msg.Token, path: path}
		s.dispatch(n, &topology.Outgoing{To: e.origin, Code: wire.CodePingAns, Body: body, Token: s.hostTok, Answer: true})
		return
	}
	s.hostTok++
	s.answers[s.hostTok] = pendingAnswer{origin: e.origin, token: e.msg.Token, path: path}
	_ = n.Chord.Step(topology.Incoming{From: e.origin, Code: e.msg.Code, Body: e.msg.Body, Token: s.hostTok})
	s.collect(n)
}

func (s *Sim) arrive(e *envelope) {
	n := s.byID[e.to]
	if n == nil || !n.Alive {
		s.Stats.Lost++
		if e.lookup != nil {
			e.lookup.Lost = "died in flight"
		}
		return
	}
	switch e.kind {
	case envLinkFail:
		n.Chord.PeerFailed(e.failed)
		s.collect(n)
	case envDirect:
		s.deliver(n, e)
	case envRouted, envLookup:
		s.route(n, e)
	case envAnswer:
		if len(e.back) > 0 {
			e.from, e.to = n.ID, e.back[len(e.back)-1]
			e.back = e.back[:len(e.back)-1]
			s.send(e)
			return
		}
		if e.msg.Token&exchangeBit != 0 {
			x := s.xchg[e.msg.Token&^exchangeBit]
			x.Done, x.From, x.Code, x.Body = true, e.origin, e.msg.Code, e.msg.Body
			return
		}
		if s.Trace != nil {
			s.Trace(s.Now, e.origin, n.ID, e.msg.Code)
		}
		_ = n.Chord.Step(topology.Incoming{From: e.origin, Code: e.msg.Code, Body: e.msg.Body, Token: e.msg.Token})
		s.collect(n)
	}
}

// Tick advances the simulation by one tick: messages due are delivered,
// then every live node ticks.
func (s *Sim) Tick() {
	s.Now++
	q := s.queue[s.Now]
	delete(s.queue, s.Now)
	for _, e := range q {
		s.arrive(e)
	}
	for _, n := range s.Nodes {
		if n.Alive {
			n.Chord.Tick()
			s.collect(n)
		}
	}
}

// Run ticks n times.
func (s *Sim) Run(n int64) {
	for range n {
		s.Tick()
	}
}

// InFlight is the number of messages and notifications queued.
func (s *Sim) InFlight() int {
	k := 0
	for _, q := range s.queue {
		k += len(q)
	}
	return k
}

// Lookup sends a lookup for key from node from; it is routed hop by hop
// with every node's Route and completes at the node that says local.
func (s *Sim) Lookup(from wire.NodeID, key []byte) *Lookup {
	k := topology.Point(key, s.cfg.IDLen)
	l := &Lookup{From: from, Key: k, Issued: s.Now}
	n := s.byID[from]
	e := &envelope{kind: envLookup, origin: from, lookup: l,
		msg: topology.Outgoing{Dest: wire.ResourceDest(wire.ResourceID(slices.Clone(k.Bytes())))}}
	s.route(n, e)
	return l
}

// ringSync keeps the cached ring in step with node n: n is in it exactly
// when it is alive and a peer. It costs a binary search (and a move of
// the tail of the ring when n enters or leaves), not a rebuild.
func (s *Sim) ringSync(n *Node) {
	if s.ring == nil {
		return
	}
	in := n.Alive && n.Chord.State() == "peer"
	i, found := slices.BinarySearchFunc(s.ring, n.ID, wire.NodeID.Compare)
	switch {
	case in && !found:
		s.ring = slices.Insert(s.ring, i, n.ID)
	case !in && found:
		s.ring = slices.Delete(s.ring, i, i+1)
	}
}

// Peers returns the live peers of the ring in ascending Node-ID order.
// The slice is the simulator's cache: it changes as peers come and go, so
// clone it to keep it.
func (s *Sim) Peers() []wire.NodeID {
	if s.ring == nil {
		s.ring = []wire.NodeID{}
		for _, n := range s.Nodes {
			if n.Alive && n.Chord.State() == "peer" {
				s.ring = append(s.ring, n.ID)
			}
		}
		slices.SortFunc(s.ring, wire.NodeID.Compare)
	}
	return s.ring
}

// ResponsibleFor is the brute-force responsible peer for key on the live
// ring: the first peer at or after it (§10.1).
func (s *Sim) ResponsibleFor(key []byte) wire.NodeID {
	ring := s.Peers()
	if len(ring) == 0 {
		return wire.NodeID{}
	}
	k := topology.Point(key, s.cfg.IDLen)
	i, _ := slices.BinarySearchFunc(ring, k, wire.NodeID.Compare)
	return ring[i%len(ring)]
}

// Expected returns the brute-force successor and predecessor sets of id
// (sizes ns and np) on the live ring.
func (s *Sim) Expected(id wire.NodeID, ns, np int) (succ, pred []wire.NodeID) {
	ring := s.Peers()
	i, found := slices.BinarySearchFunc(ring, id, wire.NodeID.Compare)
	if !found {
		return nil, nil
	}
	m := len(ring)
	for k := 1; k <= ns && k < m; k++ {
		succ = append(succ, ring[(i+k)%m])
	}
	for k := 1; k <= np && k < m; k++ {
		pred = append(pred, ring[(i-k+m)%m])
	}
	return succ, pred
}

// Converged reports how many live peers have exactly the brute-force
// successor and predecessor sets, and the first that does not (or that is
// still joining).
func (s *Sim) Converged(ns, np int) (ok int, bad *Node) {
	for _, n := range s.Nodes {
		if n.Alive && n.Chord.State() == "joining" && bad == nil {
			bad = n
		}
		if !n.Alive || n.Chord.State() != "peer" {
			continue
		}
		succ, pred := s.Expected(n.ID, ns, np)
		if slices.Equal(succ, n.Chord.Successors()) && slices.Equal(pred, n.Chord.Predecessors()) {
			ok++
		} else if bad == nil {
			bad = n
		}
	}
	return ok, bad
}

// Request injects a request with body from node from, as its host would
// send it: directly to to, or, when dest is not nil, routed to dest
// starting at from. The answer is captured in the returned Exchange
// instead of being given to from's plugin.
func (s *Sim) Request(from, to wire.NodeID, dest *wire.Destination, code wire.MessageCode, body []byte) *Exchange {
	x := &Exchange{}
	m := topology.Outgoing{To: to, Code: code, Body: body, Token: exchangeBit | uint64(len(s.xchg))}
	s.xchg = append(s.xchg, x)
	if dest != nil {
		m.To, m.Dest = wire.NodeID{}, *dest
	}
	s.dispatch(s.byID[from], &m)
	return x
}

// Grow adds n nodes with random Node-IDs. If the ring is empty the first
// one starts it; each other joins, one every 'every' ticks, through a
// random live peer.
func (s *Sim) Grow(n int, every int64) []wire.NodeID {
	ids := make([]wire.NodeID, 0, n)
	for range n {
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			panic(err)
		}
		ids = append(ids, id)
		peers := s.Peers()
		if len(peers) == 0 {
			if err := s.Start(id); err != nil {
				panic(err)
			}
		} else if err := s.Join(id, peers[s.Rand.IntN(len(peers))]); err != nil {
			panic(err)
		}
		s.Run(every)
	}
	return ids
}

// RunUntil ticks until cond holds, checking every 'step' ticks, for at
// most max ticks; it reports whether cond held.
func (s *Sim) RunUntil(max, step int64, cond func() bool) bool {
	for end := s.Now + max; s.Now < end; {
		if cond() {
			return true
		}
		s.Run(step)
	}
	return cond()
}

// Settle runs until the live ring has converged to the brute-force
// neighbour sets of size ns and np, at most max ticks.
func (s *Sim) Settle(ns, np int, max int64) bool {
	return s.RunUntil(max, 10, func() bool {
		ok, bad := s.Converged(ns, np)
		return bad == nil && ok > 0
	})
}

// Lookups issues count lookups for random keys from random live peers and
// runs until they complete (at most max ticks). It returns them.
func (s *Sim) Lookups(count int, max int64) []*Lookup {
	peers := s.Peers()
	ls := make([]*Lookup, 0, count)
	for range count {
		k := s.RandomID()
		ls = append(ls, s.Lookup(peers[s.Rand.IntN(len(peers))], k.Bytes()))
	}
	s.RunUntil(max, 1, func() bool {
		for _, l := range ls {
			if !l.Done && l.Lost == "" {
				return false
			}
		}
		return true
	})
	return ls
}

// LookupStats summarises lookups: how many reached the responsible peer,
// and their mean hop count.
func LookupStats(ls []*Lookup) (ok int, meanHops float64) {
	hops := 0
	for _, l := range ls {
		if l.OK {
			ok++
			hops += l.Hops
		}
	}
	if ok > 0 {
		meanHops = float64(hops) / float64(ok)
	}
	return ok, meanHops
}
