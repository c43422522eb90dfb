package sim

import (
	"slices"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/host"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

type envKind uint8

const (
	envRequest  envKind = iota // a request or Attach, routed by its destination list
	envAnswer                  // an answer, back along the via list
	envLinkDown                // a dead link noticed at 'to'
	envTimeout                 // a transaction of 'to' that gave up
)

// envelope is one message on the network, or a link failure or timeout
// due at a node. A request travels with its destination list and via
// list (path); its answer goes back in the same envelope.
type envelope struct {
	kind   envKind
	attach bool // an Attach (RFC 6940 §6.5.1), answered by the simulator
	// limit is how many ticks the originator waits for the outcome
	// before its transaction layer gives up (0: Config.Timeout); the
	// host's Message.Timeout, for the join's Attach through a bootstrap
	// peer.
	limit int64
	// req is the request's message code, code that of the message (the
	// request, then its answer).
	req, code wire.MessageCode
	// from and to are this hop's sender and receiver, origin the
	// request's originator; responder the node that answered.
	from, to, origin, responder int32
	// peer is the far end of a dead link (envLinkDown).
	peer  int32
	token uint64 // the originating host's token
	body  []byte
	dest  []wire.Destination // what is left of the destination list
	// path is the via list: the originator and the nodes that forwarded
	// the request; an answer walks it back from pos.
	path    []int32
	pos     int
	hops    int
	issued  int64
	purpose host.Purpose
	certs   []wire.GenericCertificate
	ext     []wire.MessageExtension // the message's extensions (RFC 6940 §6.3.3)
	// Exactly one of these is set for a request the simulator itself
	// originated; none for a host's request.
	lookup *Lookup
	op     *Op
	xchg   *Exchange
	// delivered: the request reached a node that handled it.
	delivered bool
}

func (e *envelope) fromHost() bool { return e.lookup == nil && e.op == nil && e.xchg == nil }

// storeStats is where e is counted: a host's replica or handover Store,
// or a Put; nil for anything else.
func (e *envelope) storeStats(s *Sim) *StoreStats {
	if e.req != wire.CodeStoreReq {
		return nil
	}
	if e.op != nil {
		return &s.Stats.Puts
	}
	if e.fromHost() {
		return &s.Stats.Stores[e.purpose]
	}
	return nil
}

// linked reports whether n has a link to node o.
func (s *Sim) linked(n *Node, o int32) bool { return slices.Contains(n.links, o) }

// connect sets up a link between a and b and tells both hosts.
func (s *Sim) connect(a, b *Node) {
	if a == b || s.linked(a, b.index) {
		return
	}
	a.links = append(a.links, b.index)
	b.links = append(b.links, a.index)
	a.Host.LinkUp(b.ID)
	s.process(a)
	b.Host.LinkUp(a.ID)
	s.process(b)
}

func (s *Sim) unlink(a *Node, b int32) {
	if i := slices.Index(a.links, b); i >= 0 {
		a.links = slices.Delete(a.links, i, i+1)
	}
}

// sendMessage starts one of node n's host's requests or Attaches.
func (s *Sim) sendMessage(n *Node, m *host.Message) {
	s.Stats.Originated++
	e := &envelope{kind: envRequest, attach: m.Attach, limit: s.ticks(m.Timeout), req: m.Code, code: m.Code,
		origin: n.index, token: m.Token, body: m.Body, dest: m.Dest, path: []int32{n.index}, issued: s.Now,
		purpose: m.Purpose, certs: m.Certificates, ext: m.Extensions}
	if st := e.storeStats(s); st != nil {
		s.countStore(st, m.Body)
	}
	s.route(n, e)
}

// countStore adds a Store of body to st.
func (s *Sim) countStore(st *StoreStats, body []byte) {
	st.Sent++
	st.Bytes += len(body)
	req := wire.StoreReq{Models: s.cfg.Kinds}
	if _, err := req.Decode(body); err == nil {
		for _, kd := range req.KindData {
			st.Values += len(kd.Values)
		}
	}
}

// sendAnswer sends one of node n's host's answers back along the via
// list of the request it answers.
func (s *Sim) sendAnswer(n *Node, a *host.Answer) {
	e, ok := s.delivered[a.Token]
	if !ok {
		return
	}
	delete(s.delivered, a.Token)
	if a.Code == wire.CodeError {
		if st := e.storeStats(s); st != nil {
			st.Refused++
		}
	}
	s.answerExt(n, e, a.Code, a.Body, a.Extensions)
}

// route makes node n's forwarding decision for a request that is at n
// (RFC 6940 §6.1.1, §6.1.2), as forwarding's core does with the routing
// snapshot the host published: deliver it, or forward it one hop.
func (s *Sim) route(n *Node, e *envelope) {
	for {
		d := &e.dest[0]
		var next *Node
		switch d.Type {
		case wire.DestNode:
			if string(d.ID) == string(n.ID.Bytes()) {
				// Our own Node-ID: deliver if it is the last entry,
				// else remove it and route on the next.
				if len(e.dest) == 1 {
					s.deliver(n, e)
					return
				}
				e.dest = e.dest[1:]
				continue
			}
			if id, ok := d.NodeID(); ok {
				if o := s.byID[id]; o != nil && s.linked(n, o.index) {
					next = o // a connected node: straight to it
				}
			}
		case wire.DestResource:
			if len(e.dest) != 1 {
				s.lost(e, "resource not last")
				return
			}
		}
		if next == nil {
			id, local, err := n.routes.Route(d)
			switch {
			case err != nil:
				s.Stats.Unroutable++
				s.unroutable(n, e, "unroutable: "+err.Error(), err)
				return
			case local && d.Type == wire.DestNode:
				// A Node-ID this node is responsible for but that
				// is neither its own nor connected: dropped.
				s.unroutable(n, e, "not for us", forwarding.ErrNoRoute)
				return
			case local:
				s.deliver(n, e)
				return
			}
			next = s.byID[id]
			if next != nil && !s.linked(n, next.index) {
				if alt := s.detour(n, d, next.index); alt != nil {
					next = alt
				} else {
					// No link to the next hop and no detour: the
					// engine has nowhere to send it.
					s.unroutable(n, e, "no link", forwarding.ErrNoRoute)
					return
				}
			}
		}
		s.forward(n, e, next)
		return
	}
}

// detour is where node's transit routing sends a message whose next hop
// next (the routing snapshot's choice) has no link yet: the linked peer
// of the routing table that gets closest to the destination without
// passing it, so that the message still makes progress (RFC 6940 §10.3);
// a client's first link when there is none. Nil when there is neither.
func (s *Sim) detour(n *Node, d *wire.Destination, next int32) *Node {
	target := topology.Point(d.ID, s.cfg.IDLen)
	var best *Node
	for _, o := range n.links {
		if o == next {
			continue
		}
		id := s.Nodes[o].ID
		if !n.routes.InTable(id) {
			continue
		}
		if topology.InOC(n.ID, id, target) && (best == nil || topology.InOO(best.ID, id, target)) {
			best = s.Nodes[o]
		}
	}
	if best == nil && n.State() == "client" && len(n.links) > 0 {
		best = s.Nodes[n.links[0]]
	}
	return best
}

// unroutable drops request e, which node n cannot route. At a transit
// node it is lost (forwarding drops it, RFC 6940 §6.1.1: the originator
// hears of it at its timeout); at its originator, the host hears err at
// once, as forwarding refuses to send it.
func (s *Sim) unroutable(n *Node, e *envelope, why string, err error) {
	if n.index != e.origin || e.hops > 0 || !e.fromHost() {
		s.lost(e, why)
		return
	}
	s.Stats.Lost++
	if st := e.storeStats(s); st != nil {
		st.Lost++
	}
	n.Host.Failed(e.token, err)
	s.process(n)
}

// forward sends request e from n to next, one hop.
func (s *Sim) forward(n *Node, e *envelope, next *Node) {
	if next == nil || next == n {
		s.Stats.Unroutable++
		s.lost(e, "no route")
		return
	}
	if e.hops >= s.cfg.TTL {
		s.Stats.TTLExceeded++
		s.lost(e, "ttl")
		return
	}
	e.hops++
	if e.lookup != nil {
		e.lookup.Path = append(e.lookup.Path, next.ID)
	}
	if e.path[len(e.path)-1] != n.index {
		e.path = append(e.path, n.index)
	}
	e.from, e.to = n.index, next.index
	s.send(e)
}

// send moves e one hop, from e.from to e.to.
func (s *Sim) send(e *envelope) {
	s.Stats.Sent++
	if e.lookup != nil {
		s.Stats.Probes++
	}
	to := s.Nodes[e.to]
	if !to.Alive || s.isCut(e.from, e.to) {
		if from := s.Nodes[e.from]; from.Alive {
			// The hop's retransmissions go unanswered: the sender
			// takes the link for dead.
			s.notifyDown(from, e.to)
		}
		s.lost(e, "dead next hop")
		return
	}
	if s.drop > 0 && s.Rand.Float64() < s.drop {
		s.Stats.Dropped++
		s.lost(e, "dropped")
		return
	}
	t := s.Now + s.cfg.MinLatency
	if d := s.cfg.MaxLatency - s.cfg.MinLatency; d > 0 {
		t += s.Rand.Int64N(d + 1)
	}
	s.queue[t] = append(s.queue[t], e)
}

// lost accounts for a message that will never arrive. A host whose
// request (or its answer) is lost hears of it from its transaction layer
// at the timeout.
func (s *Sim) lost(e *envelope, why string) {
	if why != "dropped" {
		s.Stats.Lost++
	}
	if st := e.storeStats(s); st != nil {
		if e.delivered {
			st.Unanswered++
		} else {
			st.Lost++
		}
	}
	switch {
	case e.lookup != nil:
		e.lookup.Lost = why
	case e.op != nil:
		e.op.Lost = true
	case e.xchg != nil:
	default:
		s.timeout(e)
	}
}

// timeout queues the Failed of a host's request e at its transaction
// timeout.
func (s *Sim) timeout(e *envelope) {
	if !s.Nodes[e.origin].Alive {
		return
	}
	limit := s.cfg.Timeout
	if e.limit > 0 {
		limit = min(limit, e.limit)
	}
	t := max(s.Now+1, e.issued+limit)
	s.queue[t] = append(s.queue[t], &envelope{kind: envTimeout, to: e.origin, token: e.token})
}

// deliver hands a request that reached its destination to node n: a
// lookup ends, Ping and Attach are answered by the simulator (they are
// forwarding's, RFC 6940 §6.5.1, §6.5.3), anything else goes to n's host.
func (s *Sim) deliver(n *Node, e *envelope) {
	if l := e.lookup; l != nil {
		l.Done, l.At, l.Hops = true, n.ID, e.hops
		l.OK = s.ResponsibleFor(l.Key.Bytes()) == n.ID
		return
	}
	e.delivered = true
	s.Stats.Delivered++
	s.Stats.ByCode[e.code]++
	if s.Trace != nil {
		s.Trace(s.Now, s.Nodes[e.origin].ID, n.ID, e.code)
	}
	switch {
	case e.attach:
		s.answer(n, e, wire.CodeAttachAns, nil)
	case e.code == wire.CodePingReq:
		a := wire.PingAns{ResponseID: s.Rand.Uint64(), Time: uint64(s.Now)}
		body, _ := a.Append(nil)
		s.answer(n, e, wire.CodePingAns, body)
	default:
		if e.code == wire.CodeFetchReq {
			s.Stats.Fetches++
		}
		s.dtok++
		s.delivered[s.dtok] = e
		var from storage.Requester
		if e.op != nil && e.op.signer != nil {
			from = *e.op.signer
		} else {
			from = s.Nodes[e.origin].requester(e.certs)
		}
		n.Host.Deliver(host.Request{Token: s.dtok, Code: e.code, Body: e.body, From: from, Extensions: e.ext})
		s.process(n)
	}
}

// answer sends an answer from n back along e's via list.
func (s *Sim) answer(n *Node, e *envelope, code wire.MessageCode, body []byte) {
	s.answerExt(n, e, code, body, nil)
}

// answerExt is answer with message extensions.
func (s *Sim) answerExt(n *Node, e *envelope, code wire.MessageCode, body []byte, ext []wire.MessageExtension) {
	s.Stats.Originated++
	e.kind, e.code, e.body, e.responder = envAnswer, code, body, n.index
	e.dest, e.certs, e.ext = nil, nil, ext
	e.pos = len(e.path) - 1
	if e.path[e.pos] == n.index {
		// A request n sent itself.
		s.complete(e)
		return
	}
	e.from, e.to = n.index, e.path[e.pos]
	s.send(e)
}

// arrive handles e at its receiver.
func (s *Sim) arrive(e *envelope) {
	n := s.Nodes[e.to]
	if !n.Alive {
		if e.kind == envRequest || e.kind == envAnswer {
			s.lost(e, "died in flight")
		}
		return
	}
	switch e.kind {
	case envLinkDown:
		s.unlink(n, e.peer)
		s.unlink(s.Nodes[e.peer], n.index)
		n.Host.LinkDown(s.Nodes[e.peer].ID)
		s.process(n)
	case envTimeout:
		s.Stats.TimedOut++
		n.Host.Failed(e.token, errTimeout)
		s.process(n)
	case envRequest:
		s.route(n, e)
	case envAnswer:
		if e.pos > 0 {
			e.pos--
			e.from, e.to = n.index, e.path[e.pos]
			s.send(e)
			return
		}
		s.complete(e)
	}
}

// complete hands an answer to its originator.
func (s *Sim) complete(e *envelope) {
	n, r := s.Nodes[e.origin], s.Nodes[e.responder]
	if s.Trace != nil && e.fromHost() {
		s.Trace(s.Now, r.ID, n.ID, e.code)
	}
	var ec wire.ErrorCode
	if e.code == wire.CodeError {
		ec = wire.ParseErrorAnswer(e.body, r.ID).Code
	}
	if st := e.storeStats(s); st != nil {
		if e.code == wire.CodeError {
			st.Failed[ec]++
		} else {
			st.OK++
		}
	}
	switch {
	case e.op != nil:
		op := e.op
		op.Done, op.Code, op.Body, op.Err, op.At = true, e.code, e.body, ec, r.ID
	case e.xchg != nil:
		x := e.xchg
		x.Done, x.From, x.Code, x.Body = true, r.ID, e.code, e.body
	case e.attach:
		// The Attach succeeded: the link comes up at both ends, unless
		// the responder died or the path was cut meanwhile (then the
		// driver gives up at the timeout).
		if !r.Alive || s.isCut(n.index, r.index) {
			s.timeout(e)
			return
		}
		if r != n && !s.linked(n, r.index) {
			n.links = append(n.links, r.index)
			r.links = append(r.links, n.index)
			n.Host.Attached(e.token, r.ID)
			s.process(n)
			if r.Alive {
				r.Host.LinkUp(n.ID)
				s.process(r)
			}
			return
		}
		n.Host.Attached(e.token, r.ID)
		s.process(n)
	default:
		n.Host.AnsweredExt(e.token, r.ID, e.code, e.body, e.ext)
		s.process(n)
	}
}
