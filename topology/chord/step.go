package chord

import (
	"errors"
	"fmt"
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// ErrBadSender is returned by Step for a message whose From is not a
// Node-ID of this overlay.
var ErrBadSender = errors.New("chord: sender is not a Node-ID of this overlay")

// Step hands the plugin one message: a request addressed to it (Join,
// Leave, Update, RouteQuery, Probe), or the answer or error answer to one
// of its own requests (matched by Token). Requests are always answered
// (possibly with an error answer) through Ready. The error reports a
// malformed or refused message; the plugin stays usable.
//
// An error answer with a zero From is the host's own verdict that a request
// failed without an answer (its transaction timed out after the last
// retransmission, RFC 6940 §6.2.1, or no link could be set up for it): the
// plugin handles it as it handles a request whose RequestTimeout ran out.
func (c *Chord) Step(in topology.Incoming) error {
	var err error
	if in.From.IsZero() && in.Code == wire.CodeError {
		if r, ok := c.take(in.Token); ok {
			c.expire(r)
		}
		c.finish()
		return nil
	}
	if in.From == c.id && in.IsAnswer() && c.partitionToken(in.Token) {
		// Our own answer to a partition check (§10.7.4.4): the Ping for
		// our Node-ID came back to us, so B's ring is ours.
		err = c.step(c, &in)
	} else if in.From.Len() != c.idLen || !in.From.Valid() || in.From.IsWildcard() || in.From == c.id {
		if !in.IsAnswer() {
			c.answerError(&in, wire.ErrCodeInvalidMessage, "bad sender")
		}
		err = ErrBadSender
	} else {
		err = c.step(c, &in)
	}
	c.finish()
	return err
}

// refuse answers a request this state does not serve.
func (c *Chord) refuse(in *topology.Incoming) error {
	switch in.Code {
	case wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeUpdateReq, wire.CodeRouteQueryReq:
		c.answerError(in, wire.ErrCodeForbidden, "not a peer of the overlay: "+c.state.String())
		return fmt.Errorf("chord: %v refused in state %v", in.Code, c.state)
	case wire.CodeProbeReq:
		return c.onProbe(in)
	}
	return topology.ErrUnexpected
}

func stepIdle(c *Chord, in *topology.Incoming) error {
	if in.IsAnswer() {
		_, _ = c.take(in.Token)
		return nil
	}
	return c.refuse(in)
}

func stepLeft(c *Chord, in *topology.Incoming) error { return stepIdle(c, in) }

func stepJoining(c *Chord, in *topology.Incoming) error {
	if in.IsAnswer() {
		return c.onAnswer(in)
	}
	switch in.Code {
	case wire.CodeUpdateReq:
		if err := c.decodeUpdate(in); err != nil {
			return err
		}
		// §10.5 step 7: the admitting peer's Update names us as its
		// predecessor; its neighbours are trusted while joining: JN
		// "immediately knows most of its expected neighbors". The
		// admitting peer is the one that answered our Join (step 5); an
		// Update that arrives before that answer is held until it says
		// who that is, so that no other node can pose as the admitting
		// peer and hand us its own neighbour sets. Others learn of us too
		// early: refuse them until we have joined, and our own Updates
		// (step 9) will reach them.
		ids := slices.Concat(c.upd.Predecessors, c.upd.Successors)
		switch {
		case c.joinAns && in.From == c.ap:
			c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
			c.admitted(ids)
		case !c.joinAns && slices.Contains(c.upd.Predecessors, c.id):
			c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
			c.holdEarly(in.From, ids)
		default:
			c.answerError(in, wire.ErrCodeForbidden, "joining")
		}
		return nil
	case wire.CodeLeaveReq:
		if _, err := c.decodeLeave(in); err != nil {
			return err
		}
		c.answer(in, wire.CodeLeaveAns, &wire.LeaveAns{})
		c.failed(in.From)
		return nil
	}
	return c.refuse(in)
}

func stepPeer(c *Chord, in *topology.Incoming) error {
	if in.IsAnswer() {
		return c.onAnswer(in)
	}
	switch in.Code {
	case wire.CodeJoinReq:
		return c.onJoin(in)
	case wire.CodeLeaveReq:
		ids, err := c.decodeLeave(in)
		if err != nil {
			return err
		}
		c.answer(in, wire.CodeLeaveAns, &wire.LeaveAns{})
		// §10.9: "as if it had detected a peer failure". Only a member's
		// Leave names peers worth verifying: a stranger's list would let
		// it nominate neighbours.
		member := c.vouched(in.From)
		c.failed(in.From)
		if member {
			c.learn(ids, wire.NodeID{})
		}
		return nil
	case wire.CodeUpdateReq:
		return c.onUpdate(in)
	case wire.CodeRouteQueryReq:
		return c.onRouteQuery(in)
	case wire.CodeProbeReq:
		return c.onProbe(in)
	}
	return topology.ErrUnexpected
}

func stepClient(c *Chord, in *topology.Incoming) error {
	if in.IsAnswer() {
		return c.onAnswer(in)
	}
	switch in.Code {
	case wire.CodeUpdateReq:
		if err := c.decodeUpdate(in); err != nil {
			return err
		}
		c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
		// §4.2.1: an Update can say the peer is no longer responsible for
		// the client's Node-ID.
		if in.From == c.peer && len(c.upd.Predecessors) > 0 && !topology.InOC(c.upd.Predecessors[0], c.id, c.peer) {
			c.attach()
		}
		return nil
	case wire.CodeLeaveReq:
		if _, err := c.decodeLeave(in); err != nil {
			return err
		}
		c.answer(in, wire.CodeLeaveAns, &wire.LeaveAns{})
		c.failed(in.From)
		return nil
	}
	return c.refuse(in)
}

func stepLeaving(c *Chord, in *topology.Incoming) error {
	if in.IsAnswer() {
		return c.onAnswer(in)
	}
	switch in.Code {
	case wire.CodeUpdateReq:
		c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
		return nil
	case wire.CodeLeaveReq:
		c.answer(in, wire.CodeLeaveAns, &wire.LeaveAns{})
		return nil
	}
	return c.refuse(in)
}

// onAnswer matches an answer to an outstanding request.
func (c *Chord) onAnswer(in *topology.Incoming) error {
	r, ok := c.take(in.Token)
	if !ok {
		// Late: the request timed out and its peer was taken for failed
		// (§10.7.1), but an UpdateAns from it proves it alive. Without
		// this a neighbour that answered slowly stays out of the sets,
		// and gossip naming it is ignored while it is listed as dead.
		// Only for a peer that was vouched for: corrections (reqInfo) go
		// to strangers too, and a late answer must not admit one.
		if in.Code == wire.CodeUpdateAns && c.state == statePeer && c.vouched(in.From) {
			c.verified(in.From)
		}
		// A JoinAns can only answer a Join of ours: one that timed out
		// (the Join wandered through tables still converging and its
		// answer came back late) still admitted us, and the admitting
		// peer now routes our next Join to us, which cannot route it.
		if in.Code == wire.CodeJoinAns && c.state == stateJoining && !c.joinAns {
			c.joinToken = 0
			c.admittedBy(in.From)
		}
		return nil
	}
	if !r.to.IsZero() && r.to != in.From {
		c.reqs = append(c.reqs, r) // not from the peer asked: keep waiting
		return fmt.Errorf("chord: answer for token %d from %v, sent to %v", in.Token, in.From, r.to)
	}
	isErr := in.Code == wire.CodeError
	switch r.kind {
	case reqUpdate, reqVerify, reqPeerReady, reqInfo:
		if isErr || in.Code != wire.CodeUpdateAns {
			if r.kind == reqUpdate && c.state == statePeer && c.isNeighbor(in.From) {
				// A neighbour that refuses an Update is not a peer of
				// the ring (any more): a process restarted with the
				// same Node-ID that is still joining, or a client.
				// Keeping it would route its range to a node that
				// drops it. It comes back when it joins and speaks to
				// us (onJoin, onUpdate).
				c.failed(in.From)
				return nil
			}
			// Alive but refusing (joining, leaving, a client).
			c.pending = slices.DeleteFunc(c.pending, func(p expiring) bool { return p.id == in.From })
			if r.kind == reqVerify || r.kind == reqPeerReady {
				c.dropFinger(in.From)
			}
			if r.kind == reqVerify && c.state == statePeer {
				c.retryVerify(in.From)
			}
			return nil
		}
		if c.state == statePeer && r.kind != reqInfo {
			c.verified(in.From)
		}
	case reqFingerPing:
		c.searching[r.finger] = false
		if in.Code != wire.CodePingAns || c.state != statePeer {
			return nil
		}
		var p wire.PingAns
		if _, err := p.Decode(in.Body); err != nil {
			return err
		}
		c.verified(in.From)
	case reqJoin:
		if c.state != stateJoining || r.token != c.joinToken {
			return nil
		}
		if isErr || in.Code != wire.CodeJoinAns {
			c.joinFailed(false)
			return nil
		}
		c.joinToken = 0
		c.admittedBy(in.From)
	case reqVouch:
		// A member names the stranger as where it routes for its
		// Node-ID: the stranger is in its routing table (see hint). It
		// is now a candidate like one a member's Update names: it enters
		// the tables when it answers an Update of ours (§10.7.3).
		if isErr || in.Code != wire.CodeRouteQueryAns || c.state != statePeer {
			return nil
		}
		a := wire.ChordRouteQueryAns{IDLen: c.idLen}
		if _, err := a.Decode(in.Body); err != nil {
			return err
		}
		if a.NextPeer == r.about {
			c.candidate(r.about, r.to)
		}
	case reqSelfCheck:
		if isErr || in.Code != wire.CodeRouteQueryAns || c.state != statePeer {
			return nil
		}
		a := wire.ChordRouteQueryAns{IDLen: c.idLen}
		if _, err := a.Decode(in.Body); err != nil {
			return err
		}
		if a.NextPeer != c.id && len(c.succ) > 0 && c.succ[0] == in.From {
			c.rejoin(in.From)
		}
	case reqPartition:
		if isErr || in.Code != wire.CodePingAns || c.state != statePeer {
			return nil
		}
		var p wire.PingAns
		if _, err := p.Decode(in.Body); err != nil {
			return err
		}
		c.partitionAnswer(in.From, r.via)
	case reqRejoin:
		if in.Code == wire.CodeJoinAns && c.state == statePeer {
			c.verified(in.From)
			return nil
		}
		// Refused: the successor takes a peer it still holds (perhaps
		// one that failed and it has not noticed yet) for the one
		// between us. Ask again later.
		c.recheck()
	case reqLeave:
		c.leaveDone()
	case reqTuneProbe:
		c.tuneProbeAnswer(in)
	case reqAttach:
		if c.state != stateClient {
			return nil
		}
		if isErr || in.Code != wire.CodeRouteQueryAns {
			c.bootIdx++
			c.attach()
			return nil
		}
		a := wire.ChordRouteQueryAns{IDLen: c.idLen}
		if _, err := a.Decode(in.Body); err != nil {
			return err
		}
		if a.NextPeer != in.From {
			// Not the responsible peer itself: ask the one it names.
			c.request(topology.Outgoing{Dest: selfDest(c.id), Via: a.NextPeer, Code: wire.CodeRouteQueryReq,
				Body: encode(&wire.RouteQueryReq{Destination: selfDest(c.id)})}, reqAttach, 0)
			return nil
		}
		if c.peer != in.From {
			c.peer = in.From
			c.event(topology.Event{Type: topology.EventJoined, Peer: c.peer})
		}
	}
	return nil
}

// dropFinger removes a peer that refuses to act as a peer from the
// fingers.
func (c *Chord) dropFinger(n wire.NodeID) {
	for i := range c.fingers {
		if c.fingers[i] == n {
			c.fingers[i] = wire.NodeID{}
			c.refillFinger(i)
		}
	}
}

func selfDest(id wire.NodeID) wire.Destination {
	return wire.Destination{Type: wire.DestNode, ID: slices.Clone(id.Bytes())}
}

func (c *Chord) decodeUpdate(in *topology.Incoming) error {
	if _, err := c.upd.Decode(in.Body); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad ChordUpdate")
		return err
	}
	return nil
}

// decodeLeave checks a LeaveReq (§6.4.2.2) and returns the peers its
// ChordLeaveData lists.
func (c *Chord) decodeLeave(in *topology.Incoming) ([]wire.NodeID, error) {
	l := wire.LeaveReq{IDLen: c.idLen}
	if _, err := l.Decode(in.Body); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad LeaveReq")
		return nil, err
	}
	if l.LeavingPeerID != in.From {
		c.answerError(in, wire.ErrCodeForbidden, "leaving_peer_id is not the sender")
		return nil, fmt.Errorf("chord: leave for %v sent by %v", l.LeavingPeerID, in.From)
	}
	if _, err := c.leave.Decode(l.OverlaySpecificData); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad ChordLeaveData")
		return nil, err
	}
	return slices.Concat(c.leave.Successors, c.leave.Predecessors), nil
}

// onJoin admits a joining node (§10.5 steps 5-8, §6.4.2.1).
func (c *Chord) onJoin(in *topology.Incoming) error {
	j := wire.JoinReq{IDLen: c.idLen}
	if _, err := j.Decode(in.Body); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad JoinReq")
		return err
	}
	if j.JoiningPeerID != in.From {
		c.answerError(in, wire.ErrCodeForbidden, "joining_peer_id is not the sender")
		return fmt.Errorf("chord: join for %v sent by %v", j.JoiningPeerID, in.From)
	}
	jn := in.From
	if !c.admits(jn) {
		// §6.4.2.1: "The JoinReq is sent to the responsible peer"; a peer
		// that is not responsible for JN's Node-ID is not its admitting
		// peer, and JN would take a place next to it that the ring does
		// not give it. JN routes its Join again (§10.5 step 5).
		c.answerError(in, wire.ErrCodeForbidden, "not the peer responsible for the joining Node-ID")
		return fmt.Errorf("chord: join of %v, for which this peer is not responsible", jn)
	}
	c.answer(in, wire.CodeJoinAns, &wire.JoinAns{})
	// A refusal of an earlier request to jn (sent while it was still
	// joining, or to its previous process) must not undo its admission.
	c.reqs = slices.DeleteFunc(c.reqs, func(r request) bool {
		return r.to == jn && (r.kind == reqUpdate || r.kind == reqVerify || r.kind == reqPeerReady)
	})
	if r := c.respRange(); topology.InOC(r.Start, jn, r.End) {
		// Step 6: the data JN becomes responsible for.
		start := r.Start
		c.event(topology.Event{Type: topology.EventTransfer, Peer: jn, Range: topology.Range{Start: start, End: jn}})
	}
	c.verified(jn)
	// Step 7: an Update labelling JN as our predecessor, with our whole
	// routing table; step 8: an Update to every other neighbour.
	c.sendUpdate(jn, wire.ChordUpdateFull, reqUpdate)
	c.mustUpdate, c.except = true, jn
	return nil
}

// admits reports whether this peer is responsible for the Node-ID of the
// joining node jn (§6.4.2.1, §10.5): jn lies in (p, self], p being the
// nearest predecessor other than jn itself (a restarted process joins
// again while its predecessor entry is still here), or there is none.
func (c *Chord) admits(jn wire.NodeID) bool {
	for _, p := range c.pred {
		if p != jn {
			return topology.InOC(p, jn, c.id)
		}
	}
	return true
}

// onUpdate handles an Update from a peer (§10.7.3). Its sender is the
// Node-ID that signed it (forwarding verified the signature). Only a
// vouched sender (a member of the routing table, a candidate a member
// named, a recent member) is taken as a neighbour on its own word, and
// only a vouched sender's sets are considered; a stranger's Update is
// answered but is only a hint (see hint and the package documentation).
func (c *Chord) onUpdate(in *topology.Incoming) error {
	if err := c.decodeUpdate(in); err != nil {
		return err
	}
	c.stats.UpdatesReceived++
	c.tuneUptime(in.From, c.upd.Uptime) // RFC 7363 §5.1, §6.4
	// Answered in every case: a peer whose Update is refused takes us for
	// no peer and drops us (onAnswer), and a stranger may be a peer that
	// joined through another admitting peer (§10.5 step 9).
	c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
	if !c.vouched(in.From) {
		c.hint(in.From, slices.Concat(c.upd.Predecessors, c.upd.Successors))
	} else {
		c.verified(in.From)
		if c.upd.Type == wire.ChordUpdatePeerReady {
			return nil
		}
		c.learn(c.upd.Predecessors, in.From)
		c.learn(c.upd.Successors, in.From)
	}
	if c.upd.Type == wire.ChordUpdatePeerReady {
		return nil
	}
	// The sender lacks peers we know belong in its sets: tell it, at most
	// once per request timeout.
	if c.dirty && c.cfg.Reactive && c.isNeighbor(in.From) {
		return nil // the reactive Update reaches it anyway
	}
	if !c.shouldCorrect(in.From, c.upd.Predecessors, c.upd.Successors) {
		return nil
	}
	if t, ok := c.lastCorrect[in.From]; ok && c.now < t+c.timeout {
		// Rate-limited: send the correction when the limit runs out
		// instead of dropping it, or the sender may wait for periodic
		// stabilisation (chord-update-interval) to learn its neighbours.
		if c.deferredCorrect == nil {
			c.deferredCorrect = make(map[wire.NodeID]bool)
		}
		c.deferredCorrect[in.From] = true
		return nil
	}
	if c.lastCorrect == nil {
		c.lastCorrect = make(map[wire.NodeID]int64)
	}
	c.lastCorrect[in.From] = c.now
	c.sendUpdate(in.From, wire.ChordUpdateNeighbors, reqInfo)
	return nil
}

// onRouteQuery answers where this peer would route (§10.8).
func (c *Chord) onRouteQuery(in *topology.Incoming) error {
	var q wire.RouteQueryReq
	if _, err := q.Decode(in.Body); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad RouteQueryReq")
		return err
	}
	next, local, err := c.Route(&q.Destination)
	if err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "destination not routable")
		return err
	}
	if local {
		next = c.id
		if dn, ok := q.Destination.NodeID(); ok && dn == in.From && !slices.Contains(c.clients, dn) {
			if len(c.clients) == maxClients {
				c.clients = slices.Delete(c.clients, 0, 1)
			}
			c.clients = append(c.clients, dn)
		}
	}
	c.answer(in, wire.CodeRouteQueryAns, &wire.ChordRouteQueryAns{NextPeer: next, IDLen: c.idLen})
	if q.SendUpdate {
		c.sendUpdate(in.From, wire.ChordUpdateFull, reqInfo)
	}
	return nil
}

// maxClients bounds the clients a peer remembers.
const maxClients = 64

// onProbe answers the requested information it recognises, in the
// requested order (§6.4.2.5.2).
func (c *Chord) onProbe(in *topology.Incoming) error {
	var p wire.ProbeReq
	if _, err := p.Decode(in.Body); err != nil {
		c.answerError(in, wire.ErrCodeInvalidMessage, "bad ProbeReq")
		return err
	}
	rng, ok := c.ResponsibleRange()
	a := topology.ProbeAnswer(&p, rng, ok, c.cfg.NumResources, c.Uptime())
	c.answer(in, wire.CodeProbeAns, &a)
	c.tuneAnswerProbe(in)
	return nil
}

// Start makes this node the first peer of a new overlay (§6.4.2.1: "some
// mechanism whereby nodes can determine that they are potentially the
// first node").
func (c *Chord) Start() error {
	if c.state != stateIdle || c.cfg.Client {
		return topology.ErrState
	}
	c.started = c.now
	c.become(statePeer)
	c.succ, c.pred = nil, nil
	c.startPeer()
	c.finish()
	return nil
}

// Join starts joining through the bootstrap peers via (tried in turn): a
// peer sends a Join routed to its own Node-ID (§10.5), a client a
// RouteQuery for its Node-ID to find its responsible peer (§4.2.1).
func (c *Chord) Join(via ...wire.NodeID) error {
	if c.state != stateIdle || len(via) == 0 {
		return topology.ErrState
	}
	for _, v := range via {
		if v.Len() != c.idLen || v == c.id {
			return ErrBadSender
		}
	}
	c.bootstrap, c.bootIdx = slices.Clone(via), 0
	c.started = c.now
	// A rejoin after detachment starts afresh: the peers this node took
	// for failed when it lost its links are likely alive, and gossip about
	// them must not be ignored while it finds its place again.
	c.dead = nil
	if c.cfg.Client {
		c.become(stateClient)
		c.attach()
	} else {
		c.become(stateJoining)
		c.joinAns, c.ap, c.early = false, wire.NodeID{}, nil
		c.sendJoin()
	}
	c.finish()
	return nil
}

func (c *Chord) sendJoin() {
	via := c.bootstrap[c.bootIdx%len(c.bootstrap)]
	c.joinToken = c.request(topology.Outgoing{Dest: selfDest(c.id), Via: via, Code: wire.CodeJoinReq,
		Body: encode(&wire.JoinReq{JoiningPeerID: c.id, IDLen: c.idLen})}, reqJoin, 0)
}

// attach sends a client's RouteQuery for its own Node-ID, through its
// current peer or a bootstrap peer.
func (c *Chord) attach() {
	for _, r := range c.reqs {
		if r.kind == reqAttach {
			return
		}
	}
	via := c.peer
	if via.IsZero() {
		via = c.bootstrap[c.bootIdx%len(c.bootstrap)]
	}
	c.request(topology.Outgoing{Dest: selfDest(c.id), Via: via, Code: wire.CodeRouteQueryReq,
		Body: encode(&wire.RouteQueryReq{Destination: selfDest(c.id)})}, reqAttach, 0)
}

// selfCheck asks the successor where it would route a message for this
// peer's Node-ID taken as a Resource-ID (a RouteQuery, §6.4.2.4; as a
// Node-ID it would register us as a client, onRouteQuery): a successor
// that has us in its routing table names us, the peer responsible for
// that point (§10.3). One that does not know us has not
// admitted us and does not take us for its predecessor (§10.5), and its
// neighbours, which learn of peers from it, will not either (see hint):
// the peers around us learnt the ring while we were joining, or forgot
// us. We then join again through it (rejoin).
func (c *Chord) selfCheck() {
	if c.state != statePeer || len(c.succ) == 0 || c.outstanding(reqSelfCheck, c.succ[0]) {
		return
	}
	d := wire.ResourceDest(wire.ResourceID(slices.Clone(c.id.Bytes())))
	c.request(topology.Outgoing{To: c.succ[0], Code: wire.CodeRouteQueryReq, Body: encode(&wire.RouteQueryReq{Destination: d})}, reqSelfCheck, 0)
}

// rejoin sends our Join to successor s, which does not know us (see
// selfCheck): s admits us as the peer responsible for our Node-ID
// (§6.4.2.1), hands us the data of our range and names us to its
// neighbours (§10.5 steps 6-8), and our place in the ring is then one the
// ring gave us. A successor that is not responsible for our Node-ID
// refuses, and our Updates find the peer between. One Join per request
// timeout goes to the same successor.
func (c *Chord) rejoin(s wire.NodeID) {
	if c.outstanding(reqRejoin, s) {
		return
	}
	if c.rejoinedTo == s && c.now < c.rejoinedAt+c.timeout {
		c.recheck()
		return
	}
	c.rejoinedTo, c.rejoinedAt = s, c.now
	c.stats.Rejoins++
	c.request(topology.Outgoing{To: s, Code: wire.CodeJoinReq, Body: encode(&wire.JoinReq{JoiningPeerID: c.id, IDLen: c.idLen})}, reqRejoin, 0)
}

// recheck schedules another selfCheck a request timeout from now, at
// most maxReverify times for one successor.
func (c *Chord) recheck() {
	if c.rechecks >= maxReverify {
		return
	}
	c.rechecks++
	c.recheckAt = c.now + c.timeout
}

// maxEarly bounds the Updates held while the Join is unanswered.
const maxEarly = 4

// holdEarly keeps the neighbour sets ids of an Update from 'from' that
// names this joining node as its predecessor, received before the answer
// to our Join: it is the admitting peer's step 7 Update if 'from' turns
// out to have answered the Join (the Update may overtake the answer).
func (c *Chord) holdEarly(from wire.NodeID, ids []wire.NodeID) {
	c.early = slices.DeleteFunc(c.early, func(e early) bool { return e.from == from })
	if len(c.early) == maxEarly {
		c.early = slices.Delete(c.early, 0, 1)
	}
	c.early = append(c.early, early{from: from, ids: ids})
}

// admittedBy takes the answer of ap to our Join (§10.5 step 5): ap is
// the admitting peer, and the Update it sent first, if any, is taken now.
func (c *Chord) admittedBy(ap wire.NodeID) {
	c.joinAns, c.ap = true, ap
	c.apWait = c.now + c.timeout
	c.verified(ap)
	i := slices.IndexFunc(c.early, func(e early) bool { return e.from == ap })
	if i >= 0 {
		c.admitted(c.early[i].ids)
	}
	c.early = nil
}

// admitted takes the admitting peer's Update (§10.5 step 7), with its
// neighbour sets ids, and completes the join.
func (c *Chord) admitted(ids []wire.NodeID) {
	c.verified(c.ap)
	c.recompute(ids...)
	c.joined()
}

// joined completes a join (§10.5 step 9 and the finger Attaches).
func (c *Chord) joined() {
	c.become(statePeer)
	c.startPeer()
	c.mustUpdate = true
	for i := range c.fingers {
		c.searchFinger(i, false)
	}
}

func (c *Chord) startPeer() {
	c.resp = c.respRange()
	c.event(topology.Event{Type: topology.EventJoined, Range: c.resp})
	// §10.7.4.1: "randomly offset these Update requests".
	c.nextUpdate = c.now + 1 + c.cfg.Rand.Int64N(c.updateEvery)
	c.nextPing = c.now + c.pingEvery
	c.tuneJoined()
}

// Leave hands the node's range to its successor and sends a Leave to each
// neighbour (§10.9): from_succ with our successors to predecessors,
// from_pred with our predecessors to successors. EventLeft follows when
// all are answered or timed out.
func (c *Chord) Leave() error {
	switch c.state {
	case statePeer:
	case stateLeaving, stateLeft:
		return topology.ErrState
	default:
		c.become(stateLeft)
		c.event(topology.Event{Type: topology.EventLeft})
		c.finish()
		return nil
	}
	if len(c.succ) > 0 {
		c.event(topology.Event{Type: topology.EventTransfer, Peer: c.succ[0], Range: c.respRange()})
	}
	for _, n := range c.neighbors() {
		d := wire.ChordLeaveData{Type: wire.ChordLeaveFromPred, Predecessors: c.pred, IDLen: c.idLen}
		if slices.Contains(c.pred, n) {
			d = wire.ChordLeaveData{Type: wire.ChordLeaveFromSucc, Successors: c.succ, IDLen: c.idLen}
		}
		l := wire.LeaveReq{LeavingPeerID: c.id, OverlaySpecificData: encode(&d), IDLen: c.idLen}
		c.request(topology.Outgoing{To: n, Code: wire.CodeLeaveReq, Body: encode(&l)}, reqLeave, 0)
		c.leaveLeft++
	}
	c.become(stateLeaving)
	if c.leaveLeft == 0 {
		c.leaveDone()
	}
	c.finish()
	return nil
}

func (c *Chord) leaveDone() {
	if c.leaveLeft > 0 {
		c.leaveLeft--
	}
	if c.leaveLeft == 0 && c.state == stateLeaving {
		c.become(stateLeft)
		c.event(topology.Event{Type: topology.EventLeft})
	}
}
