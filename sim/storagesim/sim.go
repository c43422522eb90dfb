package storagesim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// Config configures a Sim. Zero values take the defaults given.
type Config struct {
	// Seed seeds every random choice of the simulation and of the peers.
	Seed uint64
	// MinLatency and MaxLatency bound the per-hop delivery delay in ticks
	// (default 1 and 1).
	MinLatency, MaxLatency int64
	// DetectDelay is the most ticks a live peer takes to notice a dead
	// link and call PeerFailed (default 10).
	DetectDelay int64
	// TTL is the initial TTL of routed messages (default 100).
	TTL int
	// IDLen is the Node-ID length (default 16).
	IDLen int
	// Chord adjusts each peer's chord.Config (chord.DefaultConfig with a
	// peer-specific Rand); nil keeps it.
	Chord func(*chord.Config)

	// Kinds is the overlay's Kind table (required).
	Kinds *storage.KindTable
	// Verifier returns the signature verifier of peer id (required): a
	// *security.Verifier per peer, or a fake one.
	Verifier func(id wire.NodeID) storage.Verifier
	// Signer returns how peer id appears as the signer of the replica
	// and handover Stores it sends (required): its Node-ID and
	// certificate.
	Signer func(id wire.NodeID) security.Signer
	// Start is the virtual time of tick 0 (default 2025-06-01 12:00 UTC).
	Start time.Time
	// StoresFirst sends the handover Stores an event calls for before
	// the plugin's messages of the same Ready instead of after them.
	StoresFirst bool
	// NeighborsOnly makes AcceptReplica accept replica Stores only from
	// the current predecessors and successors, as node's adapter does,
	// instead of asking chord.Chord.AcceptReplica (which also accepts the
	// transfer of a peer that has just left).
	NeighborsOnly bool
}

// Purpose says why a Store was sent.
type Purpose uint8

// Purposes of Stores.
const (
	Original    Purpose = iota // a client's Store (§7.4.1), routed
	Replica                    // replica_number > 0 after an original Store (§10.4)
	Transfer                   // EventTransfer: to a joining node or from a leaving one (§10.5, §10.9)
	ReplicaSet                 // EventReplicaSetChanged (§10.7.3)
	RangeGained                // EventResponsibilityChanged, range widened (§10.7.1)
	numPurposes
)

func (p Purpose) String() string {
	return [...]string{"original", "replica", "transfer", "replica-set", "range-gained"}[p]
}

// Handover reports whether p is one of the Stores of topology events.
func (p Purpose) Handover() bool { return p >= Transfer }

// StoreStats counts Stores of one purpose.
type StoreStats struct {
	Sent, Bytes, Values int
	// OK and Failed count answers; Lost counts Stores that never reached
	// a live handler (dead target, dropped, died in flight), Unanswered
	// those handled whose answer was lost (a leaving peer's transfers
	// are often answered after it has gone).
	OK, Lost, Unanswered int
	Failed               map[wire.ErrorCode]int
	// Refused counts the Stores their handler refused, answered or not.
	Refused int
}

// Stats counts what happened on the bus.
type Stats struct {
	// Messages counts every hop of every message.
	Messages, Lost, TTLExceeded, Unroutable int
	// Stores counts Stores by purpose.
	Stores [numPurposes]StoreStats
	// Fetches counts Fetches delivered to a responsible peer.
	Fetches int
}

// HandoverStores sums the Stores sent because of topology events.
func (st *Stats) HandoverStores() (sent, bytes, values int) {
	for p := Transfer; p < numPurposes; p++ {
		sent += st.Stores[p].Sent
		bytes += st.Stores[p].Bytes
		values += st.Stores[p].Values
	}
	return sent, bytes, values
}

// Peer is one simulated peer.
type Peer struct {
	ID      wire.NodeID
	Chord   *chord.Chord
	Store   *storage.Store
	Backend *mem.Backend
	Alive   bool
	Events  int // events the plugin emitted

	signer  security.Signer
	rng     topology.Range
	replica []wire.NodeID
}

// peerTopology is what storage asks of the plugin.
type peerTopology struct {
	p             *Peer
	neighborsOnly bool
}

func (t peerTopology) Responsible(res wire.ResourceID) bool { return t.p.Chord.Responsible(res) }

func (t peerTopology) ReplicaSet(res wire.ResourceID) []wire.NodeID {
	return t.p.Chord.ReplicaSet(res)
}

// AcceptReplica is the plugin's, or node's neighbours-only check.
func (t peerTopology) AcceptReplica(res wire.ResourceID, from wire.NodeID) bool {
	if t.neighborsOnly {
		return slices.Contains(t.p.Chord.Predecessors(), from) || slices.Contains(t.p.Chord.Successors(), from)
	}
	return t.p.Chord.AcceptReplica(res, from)
}

type envKind uint8

const (
	envDirect   envKind = iota // one hop to 'to'
	envRouted                  // routed to msg.Dest
	envAnswer                  // back along the via list
	envLinkFail                // PeerFailed notification
)

// envelope is one message on the bus.
type envelope struct {
	kind   envKind
	from   wire.NodeID // previous hop
	to     wire.NodeID // this hop's receiver
	origin wire.NodeID // the request's originator or the answer's responder
	msg    topology.Outgoing
	path   []wire.NodeID // via list
	back   []wire.NodeID // answers: hops still to go, last first
	hops   int
	failed wire.NodeID // envLinkFail
	// requester stands in for the message signature of a Store: who
	// signed it and the certificates of its SecurityBlock.
	requester *storage.Requester
}

// hostBit marks the tokens of requests the host (not the plugin) sent.
const hostBit = 1 << 63

// pendingAnswer is where the answer to a request delivered to a peer
// goes.
type pendingAnswer struct {
	origin wire.NodeID
	token  uint64
	path   []wire.NodeID
}

// hostReq is a Store or Fetch the host sent and awaits.
type hostReq struct {
	purpose Purpose
	fetch   bool
	op      *Op
}

// Op is an original Store or a Fetch injected with Put or Get. Done is
// set when its answer comes back; Lost when it was lost on the way.
type Op struct {
	Done, Lost bool
	Code       wire.MessageCode
	Body       []byte
	Err        wire.ErrorCode // the error code when Code is wire.CodeError
	At         wire.NodeID    // the peer that answered
}

// Sim is a deterministic overlay of chord peers with storage.
type Sim struct {
	cfg     Config
	tick    time.Duration
	Now     int64
	Rand    *rand.Rand
	Peers   []*Peer
	byID    map[wire.NodeID]*Peer
	queue   map[int64][]*envelope
	hostTok uint64
	answers map[uint64]pendingAnswer
	host    map[uint64]hostReq
	ring    []wire.NodeID
	drop    float64
	Stats   Stats
	// Errors collects errors of the storage calls events made (they are
	// only logged by node).
	Errors []error
}

// New returns an empty simulation.
func New(cfg Config) (*Sim, error) {
	if cfg.Kinds == nil || cfg.Verifier == nil || cfg.Signer == nil {
		return nil, errors.New("storagesim: Config needs Kinds, Verifier and Signer")
	}
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
	s := &Sim{
		cfg:     cfg,
		tick:    chord.DefaultTickLength,
		Rand:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		byID:    make(map[wire.NodeID]*Peer),
		queue:   make(map[int64][]*envelope),
		answers: make(map[uint64]pendingAnswer),
		host:    make(map[uint64]hostReq),
	}
	for p := range s.Stats.Stores {
		s.Stats.Stores[p].Failed = make(map[wire.ErrorCode]int)
	}
	return s, nil
}

// Time is the virtual time now.
func (s *Sim) Time() time.Time { return s.cfg.Start.Add(time.Duration(s.Now) * s.tick) }

// TickLength is the virtual duration of one tick.
func (s *Sim) TickLength() time.Duration { return s.tick }

// RandomID draws a Node-ID no peer has from the simulation's random
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

// Add creates a peer (idle until Start or Join).
func (s *Sim) Add(id wire.NodeID) (*Peer, error) {
	if _, dup := s.byID[id]; dup {
		return nil, fmt.Errorf("storagesim: duplicate node %v", id)
	}
	cfg := chord.DefaultConfig(id, rand.New(rand.NewPCG(s.cfg.Seed, id.Uint64Prefix())))
	if s.cfg.Chord != nil {
		s.cfg.Chord(&cfg)
	}
	if cfg.TickLength != 0 {
		s.tick = cfg.TickLength
	}
	c, err := chord.New(cfg)
	if err != nil {
		return nil, err
	}
	p := &Peer{ID: id, Chord: c, Alive: true, Backend: mem.New(), signer: s.cfg.Signer(id)}
	p.Store, err = storage.New(storage.Config{Kinds: s.cfg.Kinds, Backend: p.Backend, Verifier: s.cfg.Verifier(id),
		Topology: peerTopology{p, s.cfg.NeighborsOnly}})
	if err != nil {
		return nil, err
	}
	s.Peers = append(s.Peers, p)
	s.byID[id] = p
	return p, nil
}

// Peer returns the peer with Node-ID id.
func (s *Sim) Peer(id wire.NodeID) *Peer { return s.byID[id] }

// Start makes peer id the first peer of the ring.
func (s *Sim) Start(id wire.NodeID) error {
	p := s.byID[id]
	if err := p.Chord.Start(); err != nil {
		return err
	}
	s.ring = nil
	s.collect(p)
	return nil
}

// Join starts peer id joining through via.
func (s *Sim) Join(id wire.NodeID, via ...wire.NodeID) error {
	p := s.byID[id]
	if err := p.Chord.Join(via...); err != nil {
		return err
	}
	s.collect(p)
	return nil
}

// Leave makes peer id leave gracefully (§10.9); it stops once the plugin
// reports EventLeft.
func (s *Sim) Leave(id wire.NodeID) error {
	p := s.byID[id]
	if err := p.Chord.Leave(); err != nil {
		return err
	}
	s.ring = nil
	s.collect(p)
	return nil
}

// Fail crashes peer id abruptly: no Leave, its data is gone, messages to
// it are lost, and every live peer that has it in its routing table
// notices within DetectDelay ticks.
func (s *Sim) Fail(id wire.NodeID) {
	p := s.byID[id]
	if p == nil || !p.Alive {
		return
	}
	p.Alive = false
	s.ring = nil
	for _, o := range s.Peers {
		if o.Alive && s.knows(o, id) {
			s.notifyFailure(o.ID, id)
		}
	}
}

// SetDrop makes each hop lose a message with probability p.
func (s *Sim) SetDrop(p float64) { s.drop = p }

func (s *Sim) knows(o *Peer, id wire.NodeID) bool {
	return slices.Contains(o.Chord.Successors(), id) || slices.Contains(o.Chord.Predecessors(), id) ||
		slices.Contains(o.Chord.FingerTable(), id)
}

func (s *Sim) notifyFailure(at, failed wire.NodeID) {
	t := s.Now + 1 + s.Rand.Int64N(s.cfg.DetectDelay)
	s.queue[t] = append(s.queue[t], &envelope{kind: envLinkFail, to: at, failed: failed})
}

// send moves e one hop, from e.from to e.to.
func (s *Sim) send(e *envelope) {
	s.Stats.Messages++
	if p := s.byID[e.to]; p == nil || !p.Alive {
		s.lost(e)
		if n := s.byID[e.from]; n != nil && n.Alive {
			s.notifyFailure(e.from, e.to)
		}
		return
	}
	if s.drop > 0 && s.Rand.Float64() < s.drop {
		s.lost(e)
		return
	}
	t := s.Now + s.cfg.MinLatency
	if d := s.cfg.MaxLatency - s.cfg.MinLatency; d > 0 {
		t += s.Rand.Int64N(d + 1)
	}
	s.queue[t] = append(s.queue[t], e)
}

// lost accounts for a message that will never arrive.
func (s *Sim) lost(e *envelope) {
	s.Stats.Lost++
	tok := e.msg.Token
	if tok&hostBit == 0 {
		return
	}
	if hr, ok := s.host[tok]; ok {
		delete(s.host, tok)
		if hr.op != nil {
			hr.op.Lost = true
		}
		switch {
		case hr.fetch:
		case e.kind == envAnswer:
			s.Stats.Stores[hr.purpose].Unanswered++
		default:
			s.Stats.Stores[hr.purpose].Lost++
		}
	}
}

// collect handles what peer p's plugin has ready, as node does: events
// first (they compute Stores), then the plugin's messages, then the
// Stores (or the reverse with Config.StoresFirst).
func (s *Sim) collect(p *Peer) {
	for p.Chord.HasReady() {
		rd := p.Chord.Ready()
		p.Events += len(rd.Events)
		var outs []out
		for _, ev := range rd.Events {
			outs = s.handleEvent(p, ev, outs)
		}
		msgs := slices.Clone(rd.Messages)
		p.Chord.Advance()
		if s.cfg.StoresFirst {
			s.sendStores(p, outs)
		}
		for i := range msgs {
			s.dispatch(p, &msgs[i])
		}
		if !s.cfg.StoresFirst {
			s.sendStores(p, outs)
		}
	}
}

// out is a handover Store to send and why.
type out struct {
	purpose Purpose
	stores  []storage.OutgoingStore
}

// handleEvent is node's handleEvent: what storage does on a topology
// event.
func (s *Sim) handleEvent(p *Peer, ev topology.Event, outs []out) []out {
	now := s.Time()
	add := func(pur Purpose, st []storage.OutgoingStore, err error) {
		if err != nil {
			s.Errors = append(s.Errors, fmt.Errorf("%v %v: %w", p.ID, pur, err))
		}
		if len(st) > 0 {
			outs = append(outs, out{pur, st})
		}
	}
	switch ev.Type {
	case topology.EventJoined, topology.EventLeft:
		s.ring = nil
		if r, ok := p.Chord.ResponsibleRange(); ok {
			p.rng = r
		}
		if ev.Type == topology.EventLeft {
			p.Alive = false
		}
	case topology.EventTransfer:
		st, err := p.Store.JoinTransfer(ev.Peer, func(id wire.ResourceID) bool { return ev.Range.Contains(id) }, now)
		add(Transfer, st, err)
	case topology.EventResponsibilityChanged:
		old := p.rng
		p.rng = ev.Range
		if !old.IsZero() {
			st, err := p.Store.RangeGained(func(id wire.ResourceID) bool { return ev.Range.Contains(id) && !old.Contains(id) }, now)
			add(RangeGained, st, err)
		}
	case topology.EventReplicaSetChanged:
		succ := p.Chord.Successors()
		if len(succ) > 2 {
			succ = succ[:2]
		}
		var added []wire.NodeID
		for _, id := range succ {
			if !slices.Contains(p.replica, id) {
				added = append(added, id)
			}
		}
		p.replica = succ
		if len(added) > 0 {
			st, err := p.Store.ReplicaSetChanged(added, now)
			add(ReplicaSet, st, err)
		}
	case topology.EventDetached:
		s.ring = nil
		if live := s.LivePeers(); len(live) > 0 {
			via := live[s.Rand.IntN(len(live))]
			if via != p.ID {
				_ = p.Chord.Join(via)
			}
		}
	}
	return outs
}

// sendStores sends replica or handover Stores from p straight to their
// targets.
func (s *Sim) sendStores(p *Peer, outs []out) {
	for _, o := range outs {
		for i := range o.stores {
			s.sendStore(p, o.purpose, &o.stores[i])
		}
	}
}

func (s *Sim) sendStore(p *Peer, pur Purpose, o *storage.OutgoingStore) {
	body, err := o.Req.Append(nil)
	if err != nil {
		s.Errors = append(s.Errors, fmt.Errorf("%v: encode store: %w", p.ID, err))
		return
	}
	st := &s.Stats.Stores[pur]
	st.Sent++
	st.Bytes += len(body)
	for _, kd := range o.Req.KindData {
		st.Values += len(kd.Values)
	}
	tok := s.hostToken(hostReq{purpose: pur})
	s.send(&envelope{kind: envDirect, from: p.ID, to: o.To, origin: p.ID, path: []wire.NodeID{p.ID},
		msg:       topology.Outgoing{To: o.To, Code: wire.CodeStoreReq, Body: body, Token: tok},
		requester: &storage.Requester{Signer: p.signer, Certificates: o.Certificates}})
}

func (s *Sim) hostToken(hr hostReq) uint64 {
	s.hostTok++
	tok := hostBit | s.hostTok
	s.host[tok] = hr
	return tok
}

func (s *Sim) dispatch(p *Peer, m *topology.Outgoing) {
	if !p.Alive {
		return
	}
	switch {
	case m.Answer:
		pa, ok := s.answers[m.Token]
		if !ok {
			return
		}
		delete(s.answers, m.Token)
		s.answer(p, pa, m.Code, m.Body)
	case m.Routed():
		e := &envelope{kind: envRouted, origin: p.ID, msg: *m, path: []wire.NodeID{p.ID}}
		if !m.Via.IsZero() {
			e.from, e.to = p.ID, m.Via
			s.send(e)
			return
		}
		s.route(p, e)
	default:
		s.send(&envelope{kind: envDirect, from: p.ID, to: m.To, origin: p.ID, msg: *m, path: []wire.NodeID{p.ID}})
	}
}

// answer sends an answer from p back along pa's via list.
func (s *Sim) answer(p *Peer, pa pendingAnswer, code wire.MessageCode, body []byte) {
	back := slices.Clone(pa.path)
	e := &envelope{kind: envAnswer, from: p.ID, origin: p.ID,
		msg: topology.Outgoing{To: pa.origin, Code: code, Body: body, Token: pa.token, Answer: true}}
	e.to, e.back = back[len(back)-1], back[:len(back)-1]
	if e.to == p.ID { // a request p sent itself
		s.arrive(e)
		return
	}
	s.send(e)
}

// route makes peer p's forwarding decision for a routed envelope at p.
func (s *Sim) route(p *Peer, e *envelope) {
	next, local, err := p.Chord.Route(&e.msg.Dest)
	if err != nil {
		s.Stats.Unroutable++
		s.lost(e)
		return
	}
	if local {
		s.deliver(p, e)
		return
	}
	if e.hops >= s.cfg.TTL {
		s.Stats.TTLExceeded++
		s.lost(e)
		return
	}
	e.hops++
	if len(e.path) == 0 || e.path[len(e.path)-1] != p.ID {
		e.path = append(e.path, p.ID)
	}
	e.from, e.to = p.ID, next
	s.send(e)
}

// deliver hands a request that reached its destination to peer p.
func (s *Sim) deliver(p *Peer, e *envelope) {
	pa := pendingAnswer{origin: e.origin, token: e.msg.Token, path: e.path}
	switch e.msg.Code {
	case wire.CodePingReq:
		// Ping belongs to forwarding (§6.5.3): the host answers it.
		a := wire.PingAns{ResponseID: s.Rand.Uint64(), Time: uint64(s.Now)}
		body, _ := a.Append(nil)
		s.answer(p, pa, wire.CodePingAns, body)
	case wire.CodeStoreReq:
		code, body := s.handleStore(p, e)
		s.answer(p, pa, code, body)
	case wire.CodeFetchReq:
		code, body := s.handleFetch(p, e)
		s.answer(p, pa, code, body)
	default:
		s.hostTok++
		s.answers[s.hostTok] = pa
		_ = p.Chord.Step(topology.Incoming{From: e.origin, Code: e.msg.Code, Body: e.msg.Body, Token: s.hostTok})
		s.collect(p)
	}
}

// errorBody is the ErrorResponse for err.
func errorBody(err error) (wire.MessageCode, []byte) {
	er := wire.ErrorResponse{Code: wire.ErrCodeInvalidMessage}
	var pe *wire.ProtocolError
	var cn *security.CertificateNeededError
	switch {
	case errors.As(err, &pe):
		er.Code, er.Info = pe.Code, pe.Info
	case errors.As(err, &cn):
		er.Code = wire.ErrCodeForbidden
	}
	body, _ := er.Append(nil)
	return wire.CodeError, body
}

// handleStore is node's handleStore.
func (s *Sim) handleStore(p *Peer, e *envelope) (wire.MessageCode, []byte) {
	req := wire.StoreReq{Models: s.cfg.Kinds}
	if _, err := req.Decode(e.msg.Body); err != nil {
		return errorBody(&wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err})
	}
	var from storage.Requester
	if e.requester != nil {
		from = *e.requester
	}
	res, err := p.Store.HandleStore(&req, from, s.Time())
	if err != nil {
		if hr, ok := s.host[e.msg.Token]; ok {
			s.Stats.Stores[hr.purpose].Refused++
		}
		return errorBody(err)
	}
	for i := range res.Replicas {
		s.sendStore(p, Replica, &res.Replicas[i])
	}
	body, err := res.Answer.Append(nil)
	if err != nil {
		return errorBody(err)
	}
	return wire.CodeStoreAns, body
}

// handleFetch is node's handleFetch.
func (s *Sim) handleFetch(p *Peer, e *envelope) (wire.MessageCode, []byte) {
	s.Stats.Fetches++
	req := wire.FetchReq{Models: s.cfg.Kinds}
	if _, err := req.Decode(e.msg.Body); err != nil {
		return errorBody(&wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err})
	}
	ans, err := p.Store.HandleFetch(&req, s.Time())
	if err != nil {
		return errorBody(err)
	}
	body, err := ans.Append(nil)
	if err != nil {
		return errorBody(err)
	}
	return wire.CodeFetchAns, body
}

func (s *Sim) arrive(e *envelope) {
	p := s.byID[e.to]
	if p == nil || !p.Alive {
		s.lost(e)
		return
	}
	switch e.kind {
	case envLinkFail:
		p.Chord.PeerFailed(e.failed)
		s.collect(p)
	case envDirect:
		s.deliver(p, e)
	case envRouted:
		s.route(p, e)
	case envAnswer:
		if len(e.back) > 0 {
			e.from, e.to = p.ID, e.back[len(e.back)-1]
			e.back = e.back[:len(e.back)-1]
			s.send(e)
			return
		}
		if e.msg.Token&hostBit != 0 {
			s.hostAnswer(e)
			return
		}
		_ = p.Chord.Step(topology.Incoming{From: e.origin, Code: e.msg.Code, Body: e.msg.Body, Token: e.msg.Token})
		s.collect(p)
	}
}

// hostAnswer takes the answer to a Store or Fetch the host sent.
func (s *Sim) hostAnswer(e *envelope) {
	hr, ok := s.host[e.msg.Token]
	if !ok {
		return
	}
	delete(s.host, e.msg.Token)
	var ec wire.ErrorCode // ErrCodeInvalid for an undecodable error body
	if e.msg.Code == wire.CodeError {
		ec = wire.ParseErrorAnswer(e.msg.Body, e.origin).Code
	}
	if !hr.fetch {
		st := &s.Stats.Stores[hr.purpose]
		if e.msg.Code == wire.CodeError {
			st.Failed[ec]++
		} else {
			st.OK++
		}
	}
	if op := hr.op; op != nil {
		op.Done, op.Code, op.Body, op.Err, op.At = true, e.msg.Code, e.msg.Body, ec, e.origin
	}
}

// Tick advances the simulation by one tick: messages due are delivered,
// then every live peer ticks.
func (s *Sim) Tick() {
	s.Now++
	q := s.queue[s.Now]
	delete(s.queue, s.Now)
	for _, e := range q {
		s.arrive(e)
	}
	for _, p := range s.Peers {
		if p.Alive {
			p.Chord.Tick()
			s.collect(p)
		}
	}
}

// Run ticks n times.
func (s *Sim) Run(n int64) {
	for range n {
		s.Tick()
	}
}

// RunUntil ticks until cond holds, checking every step ticks, for at most
// max ticks; it reports whether cond held.
func (s *Sim) RunUntil(max, step int64, cond func() bool) bool {
	for end := s.Now + max; s.Now < end; {
		if cond() {
			return true
		}
		s.Run(step)
	}
	return cond()
}

// InFlight is the number of messages and notifications queued.
func (s *Sim) InFlight() int {
	k := 0
	for _, q := range s.queue {
		k += len(q)
	}
	return k
}

// Put sends an original Store (replica_number 0) from peer from, routed
// to the peer responsible for req.Resource; signer is the identity that
// signs the request (and, for the access control policies, the values).
func (s *Sim) Put(from wire.NodeID, req *wire.StoreReq, signer storage.Requester) (*Op, error) {
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	op := &Op{}
	st := &s.Stats.Stores[Original]
	st.Sent++
	st.Bytes += len(body)
	for _, kd := range req.KindData {
		st.Values += len(kd.Values)
	}
	tok := s.hostToken(hostReq{purpose: Original, op: op})
	e := &envelope{kind: envRouted, origin: from, path: []wire.NodeID{from}, requester: &signer,
		msg: topology.Outgoing{Dest: wire.ResourceDest(req.Resource), Code: wire.CodeStoreReq, Body: body, Token: tok}}
	s.route(s.byID[from], e)
	return op, nil
}

// Get sends a Fetch from peer from, routed to the peer responsible for
// req.Resource.
func (s *Sim) Get(from wire.NodeID, req *wire.FetchReq) (*Op, error) {
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	op := &Op{}
	tok := s.hostToken(hostReq{fetch: true, op: op})
	e := &envelope{kind: envRouted, origin: from, path: []wire.NodeID{from},
		msg: topology.Outgoing{Dest: wire.ResourceDest(req.Resource), Code: wire.CodeFetchReq, Body: body, Token: tok}}
	s.route(s.byID[from], e)
	return op, nil
}

// LivePeers returns the live peers of the ring in ascending Node-ID
// order.
func (s *Sim) LivePeers() []wire.NodeID {
	if s.ring == nil {
		s.ring = []wire.NodeID{}
		for _, p := range s.Peers {
			if p.Alive && p.Chord.State() == "peer" {
				s.ring = append(s.ring, p.ID)
			}
		}
		slices.SortFunc(s.ring, wire.NodeID.Compare)
	}
	return s.ring
}

// ReplicaPeers is the brute-force responsible peer of key on the live
// ring followed by the next n live peers (§10.1, §10.4).
func (s *Sim) ReplicaPeers(key []byte, n int) []wire.NodeID {
	ring := s.LivePeers()
	if len(ring) == 0 {
		return nil
	}
	k := topology.Point(key, s.cfg.IDLen)
	i, _ := slices.BinarySearchFunc(ring, k, wire.NodeID.Compare)
	out := make([]wire.NodeID, 0, n+1)
	for j := 0; j <= n && j < len(ring); j++ {
		out = append(out, ring[(i+j)%len(ring)])
	}
	return out
}

// Converged reports whether every live peer has exactly the brute-force
// successor and predecessor sets of size ns and np, and none is joining.
func (s *Sim) Converged(ns, np int) bool {
	ring := s.LivePeers()
	m := len(ring)
	for _, p := range s.Peers {
		if !p.Alive {
			continue
		}
		if p.Chord.State() != "peer" {
			return false
		}
		i, found := slices.BinarySearchFunc(ring, p.ID, wire.NodeID.Compare)
		if !found {
			return false
		}
		var succ, pred []wire.NodeID
		for k := 1; k <= ns && k < m; k++ {
			succ = append(succ, ring[(i+k)%m])
		}
		for k := 1; k <= np && k < m; k++ {
			pred = append(pred, ring[(i-k+m)%m])
		}
		if !slices.Equal(succ, p.Chord.Successors()) || !slices.Equal(pred, p.Chord.Predecessors()) {
			return false
		}
	}
	return m > 0
}

// Grow adds n peers with random Node-IDs: the first starts the ring if
// it is empty, each other joins through a random live peer, one every
// 'every' ticks.
func (s *Sim) Grow(n int, every int64) ([]wire.NodeID, error) {
	ids := make([]wire.NodeID, 0, n)
	for range n {
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			return ids, err
		}
		ids = append(ids, id)
		peers := s.LivePeers()
		var err error
		if len(peers) == 0 && len(s.Peers) == 1 {
			err = s.Start(id)
		} else {
			err = s.Join(id, peers[s.Rand.IntN(len(peers))])
		}
		if err != nil {
			return ids, err
		}
		s.Run(every)
	}
	return ids, nil
}
