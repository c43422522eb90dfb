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
func (c *Chord) Step(in topology.Incoming) error {
	var err error
	if in.From.Len() != c.idLen || !in.From.Valid() || in.From.IsWildcard() || in.From == c.id {
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
		// "immediately knows most of its expected neighbors". Others learn
		// of us too early: refuse them until we have joined, and our own
		// Updates (step 9) will reach them.
		if !slices.Contains(c.upd.Predecessors, c.id) && (!c.joinAns || in.From != c.ap) {
			c.answerError(in, wire.ErrCodeForbidden, "joining")
			return nil
		}
		c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
		c.ap, c.apUpdate = in.From, true
		c.verified(in.From)
		c.recompute(slices.Concat(c.upd.Predecessors, c.upd.Successors)...)
		if c.joinAns && c.apUpdate {
			c.joined()
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
		// §10.9: "as if it had detected a peer failure".
		c.failed(in.From)
		c.learn(ids)
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
		if in.Code == wire.CodeUpdateAns && c.state == statePeer {
			c.verified(in.From)
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
		c.joinToken = 0
		if isErr || in.Code != wire.CodeJoinAns {
			c.bootIdx++
			c.joinRetryAt = c.now + c.timeout
			return nil
		}
		c.joinAns, c.ap = true, in.From
		c.apWait = c.now + c.timeout
		c.verified(in.From)
		if c.apUpdate {
			c.joined()
		}
	case reqLeave:
		c.leaveDone()
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

// onUpdate handles an Update from a peer (§10.7.3).
func (c *Chord) onUpdate(in *topology.Incoming) error {
	if err := c.decodeUpdate(in); err != nil {
		return err
	}
	c.stats.UpdatesReceived++
	c.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
	c.verified(in.From)
	if c.upd.Type == wire.ChordUpdatePeerReady {
		return nil
	}
	c.learn(c.upd.Predecessors)
	c.learn(c.upd.Successors)
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
		c.deferredCorrect[in.From] = true
		return nil
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
	var a wire.ProbeAns
	for _, t := range p.RequestedInfo {
		var v uint32
		switch t {
		case wire.ProbeResponsibleSet:
			if r, ok := c.ResponsibleRange(); ok {
				v = r.PPB()
			}
		case wire.ProbeNumResources:
			if c.cfg.NumResources != nil {
				v = c.cfg.NumResources()
			}
		case wire.ProbeUptime:
			v = c.Uptime()
		default:
			continue
		}
		a.ProbeInfo = append(a.ProbeInfo, wire.ProbeInformation{Type: t, Value: v})
	}
	c.answer(in, wire.CodeProbeAns, &a)
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
		c.joinAns, c.apUpdate, c.ap = false, false, wire.NodeID{}
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
