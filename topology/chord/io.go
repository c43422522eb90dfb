package chord

import (
	"math"
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// body is a message body the plugin encodes.
type body interface {
	Len() int
	Append(b []byte) ([]byte, error)
}

func encode(b body) []byte {
	out, err := b.Append(make([]byte, 0, b.Len()))
	if err != nil {
		// Only the plugin's own, validated state is encoded here.
		panic("chord: encoding own message: " + err.Error())
	}
	return out
}

func (c *Chord) event(e topology.Event) { c.events = append(c.events, e) }

// request queues a request and records it as outstanding.
func (c *Chord) request(m topology.Outgoing, kind reqKind, finger int) uint64 {
	c.token++
	m.Token = c.token
	c.msgs = append(c.msgs, m)
	deadline := c.now + c.timeout
	if c.cfg.HostTimeouts {
		deadline = math.MaxInt64 // the host reports the timeout (Step)
	}
	c.reqs = append(c.reqs, request{token: c.token, kind: kind, to: m.To, finger: finger, deadline: deadline})
	return c.token
}

// take removes and returns the outstanding request with token t.
func (c *Chord) take(t uint64) (request, bool) {
	for i, r := range c.reqs {
		if r.token == t {
			c.reqs = slices.Delete(c.reqs, i, i+1)
			return r, true
		}
	}
	return request{}, false
}

func (c *Chord) outstanding(kind reqKind, to wire.NodeID) bool {
	for _, r := range c.reqs {
		if r.kind == kind && r.to == to {
			return true
		}
	}
	return false
}

func (c *Chord) answer(in *topology.Incoming, code wire.MessageCode, b body) {
	c.msgs = append(c.msgs, topology.Outgoing{To: in.From, Code: code, Body: encode(b), Token: in.Token, Answer: true})
}

func (c *Chord) answerError(in *topology.Incoming, code wire.ErrorCode, info string) {
	c.answer(in, wire.CodeError, &wire.ErrorResponse{Code: code, Info: []byte(info)})
}

// sendUpdate sends an Update of type t to peer n.
func (c *Chord) sendUpdate(n wire.NodeID, t wire.ChordUpdateType, kind reqKind) {
	c.sendUpdateVia(n, wire.NodeID{}, t, kind)
}

// sendUpdateVia sends n an Update; when the host has no link to n, it
// Attaches through via, a neighbour that named n and so can reach it
// (zero: routed by Node-ID, which cannot reach a node in our own range).
func (c *Chord) sendUpdateVia(n, via wire.NodeID, t wire.ChordUpdateType, kind reqKind) {
	u := wire.ChordUpdate{Uptime: c.Uptime(), Type: t, IDLen: c.idLen}
	if t != wire.ChordUpdatePeerReady {
		u.Predecessors, u.Successors = c.pred, c.succ
	}
	if t == wire.ChordUpdateFull {
		u.Fingers = c.Fingers()
		slices.SortFunc(u.Fingers, wire.NodeID.Compare)
	}
	c.request(topology.Outgoing{To: n, Via: via, Code: wire.CodeUpdateReq, Body: encode(&u)}, kind, 0)
	c.stats.UpdatesSent++
}

// updateNeighbors sends an Update (neighbors) to every neighbour but skip
// (§10.7.3, §10.7.4.1).
func (c *Chord) updateNeighbors(skip wire.NodeID) {
	for _, n := range c.neighbors() {
		if n != skip {
			c.sendUpdate(n, wire.ChordUpdateNeighbors, reqUpdate)
		}
	}
}

// searchFinger routes a Ping to find finger slot i (§10.5, §10.7.4.2):
// to the slot's start, or with random to a random id in its range.
func (c *Chord) searchFinger(i int, random bool) {
	if c.searching[i] {
		return
	}
	target := c.fingerStart[i]
	if random {
		// A random id in the slot's range [start, start+2^e).
		e := 8*c.idLen - (i + 1)
		var off [wire.MaxNodeIDLen]byte
		for j := range c.idLen {
			lo := (c.idLen - 1 - j) * 8 // lowest bit held by byte j
			switch {
			case lo >= e:
			case lo+8 > e:
				off[j] = byte(c.cfg.Rand.Uint32()) & (byte(1<<(e-lo)) - 1)
			default:
				off[j] = byte(c.cfg.Rand.Uint32())
			}
		}
		o, _ := wire.NodeIDFromBytes(off[:c.idLen])
		target = topology.Add(target, o)
	}
	if c.responsibleFor(target) || topology.InOC(c.id, target, c.lastSucc()) {
		// The answer is known without asking: ourselves or a successor.
		return
	}
	c.searching[i] = true
	d := wire.ResourceDest(wire.ResourceID(slices.Clone(target.Bytes())))
	c.request(topology.Outgoing{Dest: d, Code: wire.CodePingReq, Body: encode(&wire.PingReq{})}, reqFingerPing, i)
}

func (c *Chord) lastSucc() wire.NodeID {
	if len(c.succ) == 0 {
		return c.id
	}
	return c.succ[len(c.succ)-1]
}

// finish runs after every input: it sends the Updates a change calls for
// and announces range and replica changes.
func (c *Chord) finish() {
	if c.state == statePeer {
		r := c.respRange()
		if r != c.resp {
			c.resp = r
			c.event(topology.Event{Type: topology.EventResponsibilityChanged, Range: r})
			// §10.7.3: "When a peer discovers that its range of responsible
			// IDs has changed, it MUST send an Update to all entries".
			c.mustUpdate = true
			// §4.2.1: clients attached here learn whether this peer is still
			// responsible for them.
			for _, cl := range c.clients {
				if !c.isNeighbor(cl) {
					c.sendUpdate(cl, wire.ChordUpdateNeighbors, reqInfo)
				}
			}
		}
		if (c.dirty && c.cfg.Reactive) || c.mustUpdate {
			c.updateNeighbors(c.except)
		}
		if len(c.succ) > 0 && c.succ[0] != c.checkedSucc {
			c.checkedSucc, c.rechecks, c.recheckAt = c.succ[0], 0, 0
			c.selfCheck()
		}
		rs := c.replicaSet()
		switch {
		case slices.Equal(rs, c.replicas):
			c.replicaDue = -1
		case c.replicaDue < 0:
			c.replicaDue = c.now
			if c.failureSeen {
				c.replicaDue = c.now + c.holdT
			}
		}
		if c.replicaDue >= 0 && c.now >= c.replicaDue {
			c.replicas = slices.Clone(rs)
			c.replicaDue = -1
			c.event(topology.Event{Type: topology.EventReplicaSetChanged})
		}
	}
	c.dirty, c.mustUpdate, c.failureSeen = false, false, false
	c.except = wire.NodeID{}
}

// Tick advances virtual time by one tick: request timeouts, periodic
// stabilisation (§10.7.4) and finger refresh.
func (c *Chord) Tick() {
	c.now++
	// Most ticks of most peers change nothing: the checks below are
	// cheap, and finish (which compares the range and replica set) runs
	// only when something may have changed or the replica hold-down is
	// running. Every other input ends with finish, so an idle tick
	// cannot leave work for it.
	busy := c.state != statePeer || c.replicaDue >= 0
	if len(c.dead) > 0 {
		back := false
		c.dead = slices.DeleteFunc(c.dead, func(d expiring) bool {
			if d.until > c.now {
				return false
			}
			back = back || c.wouldEnter(d.id)
			return true
		})
		if back && c.state == statePeer {
			// A peer taken for failed that would be a neighbour may be
			// alive after all (its requests timed out under load), and
			// gossip naming it counts again: take it back from the
			// fingers, and exchange neighbour sets so that peers that
			// know it correct us (§10.7.3), instead of waiting for the
			// periodic stabilisation minutes away.
			busy = true
			c.recompute()
			c.mustUpdate = true
		}
	}
	if len(c.pending) > 0 {
		c.pending = slices.DeleteFunc(c.pending, func(p expiring) bool { return p.until < c.now })
	}
	if len(c.reqs) > 0 {
		var expired []request
		c.reqs = slices.DeleteFunc(c.reqs, func(r request) bool {
			if r.deadline <= c.now {
				expired = append(expired, r)
				return true
			}
			return false
		})
		for _, r := range expired {
			busy = true
			c.expire(r)
		}
	}
	switch c.state {
	case stateJoining:
		if c.now >= c.joinRetryAt && c.joinToken == 0 && !c.joinAns {
			c.sendJoin()
		}
		if c.joinAns && c.now >= c.apWait {
			c.joined() // no Update from the admitting peer: go on without it
		}
	case statePeer:
		if c.now >= c.nextUpdate {
			busy = true
			if c.tune != nil {
				// RFC 7363 §6: recalculated at the end of each
				// stabilisation period, before the timer restarts.
				c.retune()
			}
			c.nextUpdate = c.now + c.updateEvery
			c.stabilize()
		}
		if c.now >= c.nextPing {
			busy = true
			c.nextPing = c.now + c.pingEvery
			c.refreshFingers()
		}
		if len(c.reverify) > 0 && c.reverifyDue() {
			busy = true
		}
		if c.recheckAt > 0 && c.now >= c.recheckAt {
			busy = true
			c.recheckAt = 0
			c.selfCheck()
		}
		if len(c.deferredCorrect) > 0 {
			for _, n := range sortedIDs(c.deferredCorrect) {
				if t, ok := c.lastCorrect[n]; ok && c.now < t+c.timeout {
					continue
				}
				delete(c.deferredCorrect, n)
				if c.isDead(n) {
					continue
				}
				busy = true
				if c.lastCorrect == nil {
					c.lastCorrect = make(map[wire.NodeID]int64)
				}
				c.lastCorrect[n] = c.now
				c.sendUpdate(n, wire.ChordUpdateNeighbors, reqInfo)
			}
			if len(c.deferredCorrect) == 0 {
				c.deferredCorrect = nil
			}
		}
		if len(c.lastCorrect) > 0 && c.now%c.timeout == 0 {
			for n, t := range c.lastCorrect {
				if t+c.timeout <= c.now {
					delete(c.lastCorrect, n)
				}
			}
			if len(c.lastCorrect) == 0 {
				c.lastCorrect = nil
			}
		}
	}
	if busy || c.dirty || c.mustUpdate {
		c.finish()
	}
}

// expire handles a request that got no answer in time.
func (c *Chord) expire(r request) {
	switch r.kind {
	case reqInfo, reqVouch, reqSelfCheck, reqPartition:
	case reqRejoin:
		c.recheck()
	case reqUpdate, reqVerify, reqPeerReady, reqLeave:
		if r.kind == reqLeave {
			c.leaveDone()
		}
		c.failed(r.to)
	case reqFingerPing:
		c.searching[r.finger] = false
	case reqJoin:
		c.joinFailed(true)
	case reqAttach:
		c.attach()
	}
}

// stabilize is the periodic neighbour exchange (§10.7.4.1), plus a
// peer_ready connectivity check of each finger that is not a neighbour.
func (c *Chord) stabilize() {
	c.stats.Stabilizations++
	if c.tune != nil {
		// RFC 7363 §5.2: an Update (neighbors) to the first successor
		// and the first predecessor only; §6.5: estimates shared with
		// random fingers.
		if len(c.succ) > 0 {
			c.sendUpdate(c.succ[0], wire.ChordUpdateNeighbors, reqUpdate)
		}
		if len(c.pred) > 0 && (len(c.succ) == 0 || c.pred[0] != c.succ[0]) {
			c.sendUpdate(c.pred[0], wire.ChordUpdateNeighbors, reqUpdate)
		}
		c.tuneProbe()
	} else {
		c.updateNeighbors(wire.NodeID{})
	}
	c.selfCheck()
	for _, f := range c.Fingers() {
		if !c.isNeighbor(f) && !c.outstanding(reqPeerReady, f) {
			c.sendUpdate(f, wire.ChordUpdatePeerReady, reqPeerReady)
		}
	}
}

// refreshFingers is Alternative 1 of §10.7.4.2: walk the slots from i=1,
// and for each invalid one search a random id of its range with
// probability 1/2.
func (c *Chord) refreshFingers() {
	for i := range c.fingers {
		if !c.fingerValid(i) && c.cfg.Rand.IntN(2) == 0 {
			c.searchFinger(i, true)
		}
	}
}

// HasReady reports whether Ready would return messages or events.
func (c *Chord) HasReady() bool { return len(c.msgs) > 0 || len(c.events) > 0 }

// Ready returns the messages to send and the events to handle, in order.
// They stay valid until Advance.
func (c *Chord) Ready() topology.Ready {
	c.nMsgs, c.nEvts = len(c.msgs), len(c.events)
	return topology.Ready{Messages: c.msgs[:c.nMsgs:c.nMsgs], Events: c.events[:c.nEvts:c.nEvts]}
}

// Advance forgets what the last Ready returned; anything queued since
// stays for the next Ready.
func (c *Chord) Advance() {
	n := copy(c.msgs, c.msgs[c.nMsgs:])
	clear(c.msgs[n:])
	c.msgs = c.msgs[:n]
	n = copy(c.events, c.events[c.nEvts:])
	clear(c.events[n:])
	c.events = c.events[:n]
	c.nMsgs, c.nEvts = 0, 0
}

// sortedIDs returns the keys of m in ring order, so that iteration is
// deterministic.
func sortedIDs(m map[wire.NodeID]bool) []wire.NodeID {
	out := make([]wire.NodeID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b wire.NodeID) int { return a.Compare(b) })
	return out
}
