package sim

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/host"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/topology/onehop"
	"github.com/goreload/reload/wire"
)

// Config configures a Sim. Zero values take the defaults given.
type Config struct {
	// Seed seeds every random choice of the simulation and of the nodes.
	Seed uint64
	// MinLatency and MaxLatency bound the per-hop delivery delay in ticks
	// (default 1 and 1; at least 1).
	MinLatency, MaxLatency int64
	// DetectDelay is the most ticks a live node takes to notice that a
	// link is dead (keepalive, per-hop retransmission failure) and report
	// LinkDown to its host (default 10).
	DetectDelay int64
	// Timeout is the transaction timeout in ticks: a request (or Attach)
	// that got no answer is reported to its host with Failed
	// (forwarding.ErrRequestTimeout) this long after it was sent. The
	// default is forwarding's, DefaultReliabilityTimer ×
	// DefaultTransmissions (15 s), in ticks (RFC 6940 §6.2.1). The join's
	// Attach through a bootstrap peer is given up after one
	// DefaultReliabilityTimer (3 s), as node does.
	Timeout int64
	// TTL is the initial TTL of routed messages (default 100, the
	// configuration's initial-ttl).
	TTL int
	// IDLen is the Node-ID length for RandomID (default 16).
	IDLen int
	// Chord adjusts each node's chord.Config, which starts as
	// chord.DefaultConfig with a node-specific Rand and HostTimeouts set
	// (as package node configures it: the simulator's transaction layer
	// is the only timer); nil keeps it.
	Chord func(*chord.Config)
	// Topology is the topology plugin every node runs, by its overlay
	// configuration name: "" or CHORD-RELOAD (topology/chord), or
	// ONE-HOP (topology/onehop, whose Config OneHop adjusts).
	Topology string
	// OneHop adjusts each ONE-HOP node's onehop.Config, which starts with
	// a node-specific Rand and HostTimeouts set; nil keeps it.
	OneHop func(*onehop.Config)
	// DropEvents stops the simulator from keeping every event in
	// Node.Events, which large runs do not need.
	DropEvents bool
	// Rejoin makes a node whose plugin reports EventDetached join again
	// through a random live peer, as a node with bootstrap peers does.
	Rejoin bool

	// Kinds is the overlay's Kind table (default: storage.BaseKinds).
	Kinds *storage.KindTable
	// Verifier returns the signature verifier of node id (default: one
	// that refuses every signature, for runs that store nothing).
	Verifier func(id wire.NodeID) storage.Verifier
	// Signer returns how node id appears as the signer of the requests
	// it sends, which matters to the replica and handover Stores its
	// host sends (default: its Node-ID without a certificate). It is
	// called once per node, by Add.
	Signer func(id wire.NodeID) security.Signer
	// Start is the virtual time of tick 0 (default 2025-06-01 12:00
	// UTC): the storage rules see Start plus the ticks elapsed times the
	// tick length.
	Start time.Time
}

// Node is one simulated node: a host.Host over a topology plugin and a
// storage.Store on an in-memory backend.
type Node struct {
	ID   wire.NodeID
	Host *host.Host
	// Plugin is the node's topology plugin; Chord is the same plugin
	// when it is CHORD-RELOAD, else nil.
	Plugin  topology.Plugin
	Chord   *chord.Chord
	Backend *mem.Backend
	Alive   bool
	Events  []topology.Event // every event of the host, unless Config.DropEvents

	index  int32
	routes topology.Routes // the host's routing snapshot (Ready.Routes)
	links  []int32         // the nodes this one has a link to
	signer *security.Signer
	busy   bool // its Ready is being carried out
}

// Stats counts what happened on the network. Sent counts hops (a message
// routed over three hops is sent three times), lookups included; Probes
// is the lookups' share of Sent. Originated counts messages once each,
// requests and answers (including the Ping and Attach answers the
// simulator gives for forwarding). Delivered and ByCode count requests
// that reached their destination (Ping and Attach included). Lost counts
// messages that reached no live node (dead or cut next hop, died in
// flight, not deliverable), Dropped those SetDrop lost, TimedOut the
// requests and Attaches reported to their host with Failed.
type Stats struct {
	Sent, Delivered, Dropped, Lost, TTLExceeded, Unroutable int
	Probes, Originated, TimedOut                            int
	ByCode                                                  map[wire.MessageCode]int
	// Stores counts the hosts' Stores by purpose (replica and handover
	// Stores), Puts the original Stores of Put; Fetches counts Fetches
	// delivered.
	Stores  [host.NumPurposes]StoreStats
	Puts    StoreStats
	Fetches int
}

// StoreStats counts Stores of one purpose.
type StoreStats struct {
	Sent, Bytes, Values int
	// OK and Failed count answers. Lost counts Stores that never reached
	// a live handler (dead target, dropped, died in flight), Unanswered
	// those handled whose answer was lost (a leaving peer's transfers are
	// often answered after it has gone).
	OK, Lost, Unanswered int
	Failed               map[wire.ErrorCode]int
	// Refused counts the Stores their handler refused, answered or not.
	Refused int
}

// HandoverStores sums the Stores sent because of topology events.
func (st *Stats) HandoverStores() (sent, bytes, values int) {
	for p := host.Purpose(0); p < host.NumPurposes; p++ {
		if p.Handover() {
			sent += st.Stores[p].Sent
			bytes += st.Stores[p].Bytes
			values += st.Stores[p].Values
		}
	}
	return sent, bytes, values
}

// Sim is a deterministic network of hosts with virtual time: the network
// and the transaction layer of every node.
type Sim struct {
	cfg   Config
	tick  time.Duration
	Now   int64
	Rand  *rand.Rand
	Nodes []*Node
	byID  map[wire.NodeID]*Node
	queue map[int64][]*envelope
	cut   map[[2]int32]bool
	drop  float64
	ring  []wire.NodeID // sorted live peers, nil when stale
	// delivered maps the token of a request handed to a host to the
	// envelope its answer goes back in.
	delivered map[uint64]*envelope
	dtok      uint64
	clock     func() time.Time
	log       *slog.Logger
	Stats     Stats
	// Errors collects the errors of the storage work that topology events
	// made the hosts do (a node only logs them).
	Errors []error
	// Trace, when set, is called for every request delivered to a node
	// and every answer delivered to its originator, in order.
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
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	}
	if cfg.Kinds == nil {
		k, err := storage.NewKindTable(storage.BaseKinds()...)
		if err != nil {
			panic(err) // the built-in Kinds are valid
		}
		cfg.Kinds = k
	}
	if cfg.Verifier == nil {
		cfg.Verifier = func(wire.NodeID) storage.Verifier { return refuseAll{} }
	}
	s := &Sim{
		cfg:       cfg,
		Rand:      rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		byID:      make(map[wire.NodeID]*Node),
		queue:     make(map[int64][]*envelope),
		delivered: make(map[uint64]*envelope),
		log:       slog.New(slog.DiscardHandler),
		Stats:     Stats{ByCode: make(map[wire.MessageCode]int)},
	}
	s.tick = s.chordTick()
	if s.cfg.Timeout <= 0 {
		s.cfg.Timeout = s.ticks(forwarding.DefaultReliabilityTimer * forwarding.DefaultTransmissions)
	}
	s.clock = s.Time
	for p := range s.Stats.Stores {
		s.Stats.Stores[p].Failed = make(map[wire.ErrorCode]int)
	}
	s.Stats.Puts.Failed = make(map[wire.ErrorCode]int)
	return s
}

// refuseAll is the default Verifier: it accepts no signature.
type refuseAll struct{}

func (refuseAll) VerifyData([]byte, uint32, uint64, []byte, *wire.Signature, []wire.GenericCertificate, security.Expect, time.Time) (security.Signer, error) {
	return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: security.ErrBadSignature}
}

func (refuseAll) AddCertificate([][]byte, time.Time) (*security.NodeCert, error) {
	return nil, security.ErrUntrusted
}

// newPlugin makes node id's topology plugin as Config.Topology names it;
// c is the plugin when it is CHORD-RELOAD.
func (s *Sim) newPlugin(id wire.NodeID) (p topology.Plugin, c *chord.Chord, replicas int, err error) {
	r := rand.New(rand.NewPCG(s.cfg.Seed, id.Uint64Prefix()))
	switch {
	case s.cfg.Topology == "" || strings.EqualFold(s.cfg.Topology, chordName):
		ccfg := chord.DefaultConfig(id, r)
		ccfg.HostTimeouts = true
		if s.cfg.Chord != nil {
			s.cfg.Chord(&ccfg)
		}
		if c, err = chord.New(ccfg); err != nil {
			return nil, nil, 0, err
		}
		return c, c, cmp.Or(ccfg.Replicas, chord.DefaultReplicas), nil
	case strings.EqualFold(s.cfg.Topology, onehop.Name):
		ocfg := s.oneHopConfig(id, r)
		o, err := onehop.New(ocfg)
		if err != nil {
			return nil, nil, 0, err
		}
		return o, nil, cmp.Or(ocfg.Replicas, onehop.DefaultReplicas), nil
	}
	return nil, nil, 0, fmt.Errorf("sim: unknown topology plugin %q (have %s, %s)", s.cfg.Topology, chordName, onehop.Name)
}

// chordName is CHORD-RELOAD's name in an overlay configuration.
const chordName = "CHORD-RELOAD"

func (s *Sim) oneHopConfig(id wire.NodeID, r *rand.Rand) onehop.Config {
	c := onehop.Config{ID: id, Rand: r, HostTimeouts: true}
	if s.cfg.OneHop != nil {
		s.cfg.OneHop(&c)
	}
	return c
}

// State is the node's topology plugin's life-cycle state (idle,
// joining, peer, client, leaving, left).
func (n *Node) State() string {
	if st, ok := n.Plugin.(interface{ State() string }); ok {
		return st.State()
	}
	if n.Plugin.Joined() {
		return "peer"
	}
	return "idle"
}

// chordTick is the plugins' configured tick length.
func (s *Sim) chordTick() time.Duration {
	if strings.EqualFold(s.cfg.Topology, onehop.Name) {
		c := s.oneHopConfig(wire.NodeID{}, nil)
		if c.TickLength <= 0 {
			return onehop.DefaultTickLength
		}
		return c.TickLength
	}
	c := chord.DefaultConfig(wire.NodeID{}, nil)
	if s.cfg.Chord != nil {
		s.cfg.Chord(&c)
	}
	if c.TickLength <= 0 {
		return chord.DefaultTickLength
	}
	return c.TickLength
}

// TickLength is the virtual time of one tick: the plugins' configured
// chord.Config.TickLength.
func (s *Sim) TickLength() time.Duration { return s.tick }

// Time is the virtual time now.
func (s *Sim) Time() time.Time { return s.cfg.Start.Add(time.Duration(s.Now) * s.tick) }

// Timeout is the transaction timeout in ticks.
func (s *Sim) Timeout() int64 { return s.cfg.Timeout }

// RandomID draws a Node-ID no node has from the simulation's random
// source.
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
	p, c, replicas, err := s.newPlugin(id)
	if err != nil {
		return nil, err
	}
	n := &Node{ID: id, Plugin: p, Chord: c, Alive: true, Backend: mem.New(), index: int32(len(s.Nodes))}
	if s.cfg.Signer != nil {
		sg := s.cfg.Signer(id)
		n.signer = &sg
	}
	hcfg := host.Config{Plugin: p, Kinds: s.cfg.Kinds, Backend: n.Backend, Verifier: s.cfg.Verifier(id),
		Clock: s.clock, Logger: s.log, Replicas: replicas,
		OnError: func(err error) { s.Errors = append(s.Errors, fmt.Errorf("%v: %w", id, err)) }}
	if n.Host, err = host.New(hcfg); err != nil {
		return nil, err
	}
	s.Nodes = append(s.Nodes, n)
	s.byID[id] = n
	s.process(n)
	return n, nil
}

// Node returns the node with Node-ID id.
func (s *Sim) Node(id wire.NodeID) *Node { return s.byID[id] }

// Start makes node id the first peer.
func (s *Sim) Start(id wire.NodeID) error {
	n := s.byID[id]
	err := n.Host.Start()
	s.process(n)
	s.ringSync(n)
	return err
}

// Join starts node id joining through the bootstrap peers via: it has a
// link to each first (as a node dials its bootstrap peers before it
// joins, RFC 6940 §11.4).
func (s *Sim) Join(id wire.NodeID, via ...wire.NodeID) error {
	n := s.byID[id]
	for _, v := range via {
		if b := s.byID[v]; b != nil && b.Alive && b != n && !s.isCut(n.index, b.index) {
			s.connect(n, b)
		}
	}
	err := n.Host.Join(via...)
	s.process(n)
	return err
}

// Leave makes node id leave gracefully (§10.9). When its plugin reports
// EventLeft it closes its links but stays up, as a node does until it is
// closed; Fail stops it.
func (s *Sim) Leave(id wire.NodeID) error {
	n := s.byID[id]
	err := n.Host.Leave()
	s.process(n)
	s.ringSync(n)
	return err
}

// Fail crashes node id abruptly: it stops, its data is gone, messages
// to it are lost, and each live node with a link to it notices within
// DetectDelay ticks.
func (s *Sim) Fail(id wire.NodeID) { s.FailMany([]wire.NodeID{id}) }

// FailMany crashes the nodes ids at once, like Fail for each.
func (s *Sim) FailMany(ids []wire.NodeID) {
	for _, id := range ids {
		if n := s.byID[id]; n != nil && n.Alive {
			s.stop(n)
		}
	}
}

// stop ends node n: the live ends of its links notice within
// DetectDelay.
func (s *Sim) stop(n *Node) {
	n.Alive = false
	s.ringSync(n)
	for _, o := range n.links {
		if s.Nodes[o].Alive {
			s.notifyDown(s.Nodes[o], n.index)
		}
	}
}

// notifyDown tells node at, within DetectDelay ticks, that its link to
// node peer is dead (or that a message to peer could not be sent): its
// host gets LinkDown.
func (s *Sim) notifyDown(at *Node, peer int32) {
	t := s.Now + 1 + s.Rand.Int64N(s.cfg.DetectDelay)
	s.queue[t] = append(s.queue[t], &envelope{kind: envLinkDown, to: at.index, peer: peer})
}

// Cut breaks the link between a and b in both directions: messages
// between them are lost, and both ends of a link between them notice
// within DetectDelay.
func (s *Sim) Cut(a, b wire.NodeID) {
	na, nb := s.byID[a], s.byID[b]
	if na == nil || nb == nil || na == nb {
		return
	}
	if s.cut == nil {
		s.cut = make(map[[2]int32]bool)
	}
	s.cut[pair(na.index, nb.index)] = true
	if s.linked(na, nb.index) {
		if na.Alive {
			s.notifyDown(na, nb.index)
		}
		if nb.Alive {
			s.notifyDown(nb, na.index)
		}
	}
}

// Heal restores the path between a and b; a link comes back when a host
// attaches again.
func (s *Sim) Heal(a, b wire.NodeID) {
	na, nb := s.byID[a], s.byID[b]
	if na != nil && nb != nil {
		delete(s.cut, pair(na.index, nb.index))
	}
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

func pair(a, b int32) [2]int32 {
	if a > b {
		a, b = b, a
	}
	return [2]int32{a, b}
}

func (s *Sim) isCut(a, b int32) bool { return s.cut != nil && s.cut[pair(a, b)] }

// Tick advances the simulation by one tick: messages, link failures and
// timeouts due are delivered in the order they were queued, then every
// live node's host ticks.
func (s *Sim) Tick() {
	s.Now++
	q := s.queue[s.Now]
	delete(s.queue, s.Now)
	for _, e := range q {
		s.arrive(e)
	}
	for _, n := range s.Nodes {
		if n.Alive {
			n.Host.Tick()
			s.process(n)
		}
	}
}

// Run ticks n times.
func (s *Sim) Run(n int64) {
	for range n {
		s.Tick()
	}
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

// InFlight is the number of messages, link failures and timeouts queued.
func (s *Sim) InFlight() int {
	k := 0
	for _, q := range s.queue {
		k += len(q)
	}
	return k
}

// process carries out node n's Ready as package node does: events
// first, then the requests in order, then the answers to delivered
// requests. A Ready is taken and acknowledged before it is carried out,
// so that a node that delivers to itself meanwhile adds to the next one.
func (s *Sim) process(n *Node) {
	if n.busy {
		return
	}
	n.busy = true
	defer func() { n.busy = false }()
	h := n.Host
	for h.HasReady() {
		rd := h.Ready()
		h.Advance()
		if rd.Routes != nil {
			n.routes = rd.Routes
		}
		if !s.cfg.DropEvents {
			n.Events = append(n.Events, rd.Events...)
		}
		for _, ev := range rd.Events {
			s.event(n, ev)
		}
		if !n.Alive {
			return
		}
		for i := range rd.Messages {
			s.sendMessage(n, &rd.Messages[i])
		}
		for i := range rd.Answers {
			s.sendAnswer(n, &rd.Answers[i])
		}
	}
}

func (s *Sim) event(n *Node, ev topology.Event) {
	switch ev.Type {
	case topology.EventJoined:
		s.ringSync(n)
	case topology.EventLeft:
		// The node has left (§10.9): it closes its links, which the
		// other ends notice at once. It stays up, answering as a node
		// that is no longer part of the overlay, until it is failed.
		s.ringSync(n)
		for _, o := range n.links {
			s.unlink(s.Nodes[o], n.index)
			if s.Nodes[o].Alive {
				s.queue[s.Now+1] = append(s.queue[s.Now+1], &envelope{kind: envLinkDown, to: o, peer: n.index})
			}
		}
		n.links = nil
	case topology.EventDetached:
		s.ringSync(n)
		if !s.cfg.Rejoin {
			return
		}
		if live := s.Peers(); len(live) > 0 {
			via := live[s.Rand.IntN(len(live))]
			if via != n.ID {
				if b := s.byID[via]; !s.isCut(n.index, b.index) {
					s.connect(n, b)
				}
				_ = n.Host.Join(via)
			}
		}
	}
}

// requester is how node n signs its requests.
func (n *Node) requester(certs []wire.GenericCertificate) storage.Requester {
	if n.signer != nil {
		return storage.Requester{Signer: *n.signer, Certificates: certs}
	}
	return storage.Requester{Signer: security.Signer{NodeID: n.ID}, Certificates: certs}
}

// errTimeout is what a host hears when its request got no answer.
var errTimeout = forwarding.ErrRequestTimeout

// ticks is d in ticks, rounded up.
func (s *Sim) ticks(d time.Duration) int64 { return int64((d + s.tick - 1) / s.tick) }
