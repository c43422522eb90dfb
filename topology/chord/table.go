package chord

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// isDead reports whether n failed recently; gossip naming it is ignored.
func (c *Chord) isDead(n wire.NodeID) bool {
	for _, d := range c.dead {
		if d.id == n {
			return true
		}
	}
	return false
}

// deadAs reports whether n failed recently after it had been a member of
// the routing table (or a candidate a member named, §10.7.3), and
// whether it was a neighbour then.
func (c *Chord) deadAs(n wire.NodeID) (member, neighbor bool) {
	for _, d := range c.dead {
		if d.id == n {
			return d.member, d.neighbor
		}
	}
	return false, false
}

// vouched reports whether n may enter the neighbour table on its own
// word (its Update, or a late answer to an Update of ours): it is in the
// routing table, a candidate that a member named (pending verification or
// waiting to be verified again), or a recent member taken for failed (a
// slow answer, a link that came back). Anybody else is a stranger whose
// Update is only a hint (see hint).
func (c *Chord) vouched(n wire.NodeID) bool {
	if c.inTable(n) || c.isPending(n) || slices.ContainsFunc(c.reverify, func(r retry) bool { return r.id == n }) {
		return true
	}
	member, _ := c.deadAs(n)
	return member
}

// alive records that n spoke to us directly, so it is not dead.
func (c *Chord) alive(n wire.NodeID) {
	c.dead = slices.DeleteFunc(c.dead, func(d expiring) bool { return d.id == n })
}

func (c *Chord) isPending(n wire.NodeID) bool {
	for _, p := range c.pending {
		if p.id == n {
			return true
		}
	}
	return false
}

// recompute rebuilds the neighbour table from the current neighbours, the
// fingers and the verified peers in add (§10.7.1, §10.7.3): the
// Successors closest peers clockwise and the Predecessors closest
// counter-clockwise, never this node itself.
func (c *Chord) recompute(add ...wire.NodeID) {
	// Candidates are ranked by their clockwise distance from this node,
	// computed once each: the Successors smallest distances are the
	// successors, the Predecessors largest the predecessors (a sort by
	// pairwise ring comparisons dominated large simulations). Equal
	// distances are equal Node-IDs, which is how duplicates are dropped.
	lo := make([]candidate, 0, c.cfg.Successors+1)
	hi := make([]candidate, 0, c.cfg.Predecessors+1)
	push := func(n wire.NodeID) {
		if n == c.id || n.Len() != c.idLen || !n.Valid() || n.IsWildcard() || c.isDead(n) {
			return
		}
		x := candidate{dist: ringKeyOf(n).sub(c.key), id: n}
		lo = rankInsert(lo, x, c.cfg.Successors, 1)
		hi = rankInsert(hi, x, c.cfg.Predecessors, -1)
	}
	for _, n := range c.succ {
		push(n)
	}
	for _, n := range c.pred {
		push(n)
	}
	for _, n := range add {
		push(n)
	}
	for _, n := range c.fingers {
		push(n)
	}
	succ := make([]wire.NodeID, len(lo))
	for i := range lo {
		succ[i] = lo[i].id
	}
	pred := make([]wire.NodeID, len(hi))
	for i := range hi {
		pred[i] = hi[i].id
	}
	c.setNeighbors(succ, pred)
	for _, n := range add {
		c.offerFinger(n)
	}
}

// rankInsert inserts x into r, which holds at most max candidates ordered
// by distance (ascending for dir 1, descending for dir -1), unless x is
// already there or ranks beyond max.
func rankInsert(r []candidate, x candidate, max, dir int) []candidate {
	i := 0
	for ; i < len(r); i++ {
		d := dir * x.dist.compare(r[i].dist)
		if d == 0 {
			return r // the same Node-ID
		}
		if d < 0 {
			break
		}
	}
	if i >= max {
		return r
	}
	r = slices.Insert(r, i, x)
	if len(r) > max {
		r = r[:max]
	}
	return r
}

// candidate is a neighbour candidate with its clockwise distance.
type candidate struct {
	dist ringKey
	id   wire.NodeID
}

// ringKey is a Node-ID of up to 24 bytes as a 192-bit big-endian number,
// padded on the right with zero bytes. Subtracting two keys of Node-IDs
// of one length gives their distance on the ring of that length, scaled
// by the same power of two, so keys compare as the distances do.
type ringKey [3]uint64

func ringKeyOf(n wire.NodeID) ringKey {
	var b [24]byte
	copy(b[:], n.Bytes())
	return ringKey{binary.BigEndian.Uint64(b[0:]), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:])}
}

// sub is k - o modulo 2^192.
func (k ringKey) sub(o ringKey) ringKey {
	var r ringKey
	var borrow uint64
	r[2], borrow = bits.Sub64(k[2], o[2], 0)
	r[1], borrow = bits.Sub64(k[1], o[1], borrow)
	r[0], _ = bits.Sub64(k[0], o[0], borrow)
	return r
}

func (k ringKey) compare(o ringKey) int {
	for i := range k {
		if k[i] != o[i] {
			if k[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// setNeighbors installs new neighbour sets and reports the differences as
// events.
func (c *Chord) setNeighbors(succ, pred []wire.NodeID) {
	if slices.Equal(succ, c.succ) && slices.Equal(pred, c.pred) {
		return
	}
	old := c.neighbors()
	c.succ, c.pred = succ, pred
	now := c.neighbors()
	for _, n := range old {
		if !slices.Contains(now, n) {
			c.event(topology.Event{Type: topology.EventNeighborRemoved, Peer: n})
		}
	}
	for _, n := range now {
		if !slices.Contains(old, n) {
			c.event(topology.Event{Type: topology.EventNeighborAdded, Peer: n})
			c.offerFinger(n)
		}
	}
	c.dirty = true
}

// offerFinger puts the verified peer n into every finger slot where it is
// the closest known peer at or after the slot's start (§10.5: finger i is
// the peer responsible for id + 2^(bits-i)).
func (c *Chord) offerFinger(n wire.NodeID) {
	if n == c.id || !n.Valid() || n.IsWildcard() || n.Len() != c.idLen {
		return
	}
	kn := ringKeyOf(n)
	for i, s := range c.fingerKey {
		// closer(fingerStart[i], n, fingers[i]), by distances from the
		// slot's start.
		if cur := c.fingers[i]; cur.IsZero() || kn.sub(s).compare(ringKeyOf(cur).sub(s)) < 0 {
			c.fingers[i] = n
		}
	}
}

// closer reports whether n is nearer than cur at or after start, going
// clockwise (a zero cur is farthest).
func closer(start, n, cur wire.NodeID) bool {
	return cur.IsZero() || (n != cur && cur != start && topology.InCO(start, n, cur))
}

// fingerValid reports whether slot i (0-based) holds a peer in its range
// [start_i, start_{i-1}) (§10.7.4.2).
func (c *Chord) fingerValid(i int) bool {
	f := c.fingers[i]
	if f.IsZero() {
		return false
	}
	end := c.id
	if i > 0 {
		end = c.fingerStart[i-1]
	}
	return topology.InCO(c.fingerStart[i], f, end)
}

// refillFinger replaces slot i with the closest known peer at or after its
// start (§10.7.2).
func (c *Chord) refillFinger(i int) {
	s := c.fingerStart[i]
	var best wire.NodeID
	try := func(n wire.NodeID) {
		if n.IsZero() || n == c.id || c.isDead(n) {
			return
		}
		if closer(s, n, best) {
			best = n
		}
	}
	for _, n := range c.fingers {
		try(n)
	}
	for _, n := range c.succ {
		try(n)
	}
	for _, n := range c.pred {
		try(n)
	}
	c.fingers[i] = best
}

// deadTimeouts is how long, in request timeouts, a failed peer is
// remembered (gossip naming it ignored): long enough for the neighbours'
// Updates that still name it to be answered, short enough that a peer
// taken for failed only because its answers were slow (a loaded machine)
// is taken back soon (see Tick).
const deadTimeouts = 5

// failed handles the loss of peer n (§10.7.1, §10.7.2): it is removed from
// every table, remembered as dead so gossip does not bring it back, the
// neighbour table is refilled from the routing table, and in reactive mode
// a search starts for each finger it held.
func (c *Chord) failed(n wire.NodeID) {
	if n == c.id || n.IsZero() {
		return
	}
	// What n was matters later: a recent member may come back on its own
	// word (vouched), a recent neighbour's transfer may still arrive
	// (AcceptReplica). A stranger's link failure or Leave makes it neither.
	member, neighbor := c.deadAs(n)
	member = member || c.vouched(n)
	neighbor = neighbor || c.isNeighbor(n)
	c.tuneFailure(n) // RFC 7363 §6.3.1
	c.pending = slices.DeleteFunc(c.pending, func(p expiring) bool { return p.id == n })
	c.stats.PeerFailures++
	if i := slices.IndexFunc(c.dead, func(d expiring) bool { return d.id == n }); i >= 0 {
		c.dead[i].member, c.dead[i].neighbor = member, neighbor
	} else {
		c.dead = append(c.dead, expiring{id: n, until: c.now + deadTimeouts*c.timeout, member: member, neighbor: neighbor})
	}
	delete(c.lastCorrect, n)
	delete(c.deferredCorrect, n)
	c.clients = slices.DeleteFunc(c.clients, func(x wire.NodeID) bool { return x == n })
	if c.state == stateClient {
		if c.peer == n {
			c.peer = wire.NodeID{}
			c.event(topology.Event{Type: topology.EventDetached, Peer: n})
			c.attach()
		}
		return
	}
	if c.state != statePeer && c.state != stateJoining {
		return
	}
	wasNeighbor := c.isNeighbor(n)
	var lost []int
	for i := range c.fingers {
		if c.fingers[i] == n {
			c.fingers[i] = wire.NodeID{}
			lost = append(lost, i)
		}
	}
	if wasNeighbor {
		c.failureSeen = true
		c.succ = slices.DeleteFunc(slices.Clone(c.succ), func(x wire.NodeID) bool { return x == n })
		c.pred = slices.DeleteFunc(slices.Clone(c.pred), func(x wire.NodeID) bool { return x == n })
		c.event(topology.Event{Type: topology.EventNeighborRemoved, Peer: n})
		c.dirty = true
		c.recompute()
	}
	for _, i := range lost {
		c.refillFinger(i)
		if c.cfg.Reactive && c.state == statePeer {
			c.searchFinger(i, false)
		}
	}
	if c.state == statePeer && len(c.succ) == 0 && len(c.pred) == 0 && wasNeighbor {
		// §10.7.1: connectivity to every successor is lost.
		c.event(topology.Event{Type: topology.EventDetached, Peer: n})
		c.become(stateIdle)
	}
}

// PeerFailed reports that the connection to id was lost (§10.7.1).
func (c *Chord) PeerFailed(id wire.NodeID) {
	c.failed(id)
	c.finish()
}

// PeerLinked reports that a connection to id came up. A peer already in
// the tables is asked for its neighbour sets (an Update, or a peer_ready
// Update for a finger): the link may be a restarted process with the
// same Node-ID that replaced the old process's link without a link
// failure to tell us, and that has not joined yet. If it refuses to act
// as a peer it is dropped (see onAnswer); until then it would be routed
// to for its old range, its own join included, and drop all of it.
func (c *Chord) PeerLinked(id wire.NodeID) {
	if c.state != statePeer || id == c.id {
		return
	}
	switch {
	case c.isNeighbor(id):
		if !c.outstanding(reqUpdate, id) {
			c.sendUpdate(id, wire.ChordUpdateNeighbors, reqUpdate)
		}
	case slices.Contains(c.fingers, id):
		if !c.outstanding(reqPeerReady, id) {
			c.sendUpdate(id, wire.ChordUpdatePeerReady, reqPeerReady)
		}
	}
	c.finish()
}

// learn considers peers named in an Update or Leave from a neighbour
// (§10.7.3): those that are not known and would enter the neighbour table
// become candidates, and an Update is sent to each; they enter the table
// when they answer. from is the neighbour that named them (zero if none
// is to be used): the Update's Attach goes through it, as a candidate
// inside our own range cannot be reached by routing to its Node-ID (we
// are responsible for it until it enters our table).
func (c *Chord) learn(ids []wire.NodeID, from wire.NodeID) {
	for _, n := range ids {
		if n == c.id || n.Len() != c.idLen || !n.Valid() || n.IsWildcard() || c.isDead(n) || c.isNeighbor(n) || c.isPending(n) {
			continue
		}
		if !c.wouldEnter(n) {
			continue
		}
		if c.inTable(n) {
			c.recompute(n) // a finger: already verified
			continue
		}
		if len(c.pending) >= 2*(c.cfg.Successors+c.cfg.Predecessors) {
			return
		}
		c.pending = append(c.pending, expiring{id: n, until: c.now + c.timeout})
		c.sendUpdateVia(n, from, wire.ChordUpdateNeighbors, reqVerify)
	}
}

// hint handles an Update from a stranger x, a node that is not vouched
// for (see vouched). It may be a peer that joined through another
// admitting peer and whose name has not reached us yet, or one that the
// peers around it learnt of while they were joining at the same time, or
// a peer that holds us as a finger (peer_ready); it may also be a node
// that never joined (a client, an attacker) and claims a place in the
// ring: the Update proves only that x holds a certificate for its Node-ID
// (RFC 6940 §13). x enters no table on its own word. If it would change
// the routing table (a neighbour, or a closer finger), the members that
// would know x if it were a peer are asked with a RouteQuery for Node-ID
// x sent directly to each (§6.4.2.4): where they would route a message
// for x. A member that has x in its routing table names x itself (§10.3:
// a peer directly connected to node x routes to it), and x is then a
// candidate that enters the tables when it answers an Update of ours
// (onAnswer, reqVouch; candidate). Those asked are the members of our routing
// table nearest to x on either side and those that x's Update names in
// its sets (claimed): the peers that admitted x or learnt of it. At most
// one query per member and stranger, and maxVouch in all, are
// outstanding, which bounds what strangers can make us send.
func (c *Chord) hint(x wire.NodeID, claimed []wire.NodeID) {
	if x.Len() != c.idLen || !x.Valid() || x.IsWildcard() || c.isDead(x) {
		return
	}
	if !c.wouldEnter(x) && !c.closerFinger(x) {
		return
	}
	before, after := c.around(x)
	c.askAbout(after, x)
	c.askAbout(before, x)
	for _, m := range claimed {
		c.askAbout(m, x)
	}
}

// maxVouch bounds the outstanding RouteQueries about strangers.
const maxVouch = 16

// askAbout sends member m a RouteQuery for Node-ID x (see hint).
func (c *Chord) askAbout(m, x wire.NodeID) {
	if m.IsZero() || m == x || m == c.id || !c.inTable(m) {
		return
	}
	n := 0
	for _, r := range c.reqs {
		if r.kind == reqVouch {
			if r.to == m && r.about == x {
				return
			}
			n++
		}
	}
	if n >= maxVouch {
		return
	}
	d := wire.NodeDest(&x)
	c.request(topology.Outgoing{To: m, Code: wire.CodeRouteQueryReq, Body: encode(&wire.RouteQueryReq{Destination: d})}, reqVouch, 0)
	c.reqs[len(c.reqs)-1].about = x
}

// closerFinger reports whether n would replace a finger (see
// offerFinger).
func (c *Chord) closerFinger(n wire.NodeID) bool {
	kn := ringKeyOf(n)
	for i, s := range c.fingerKey {
		if cur := c.fingers[i]; cur.IsZero() || kn.sub(s).compare(ringKeyOf(cur).sub(s)) < 0 {
			return true
		}
	}
	return false
}

// around returns the members of the routing table nearest to x
// counter-clockwise (before) and clockwise (after); zero when there are
// none.
func (c *Chord) around(x wire.NodeID) (before, after wire.NodeID) {
	kx := ringKeyOf(x)
	var db, da ringKey
	try := func(n wire.NodeID) {
		if n.IsZero() || n == x {
			return
		}
		kn := ringKeyOf(n)
		if d := kn.sub(kx); after.IsZero() || d.compare(da) < 0 {
			after, da = n, d
		}
		if d := kx.sub(kn); before.IsZero() || d.compare(db) < 0 {
			before, db = n, d
		}
	}
	for _, n := range c.succ {
		try(n)
	}
	for _, n := range c.pred {
		try(n)
	}
	for _, n := range c.fingers {
		try(n)
	}
	if before == after {
		before = wire.NodeID{}
	}
	return before, after
}

// candidate sends an Update to n, which the member via vouched for (see
// hint; the Attach goes through via), unless it is known already; n enters the tables when it answers
// (reqVerify), so that a peer that failed meanwhile is not taken in.
func (c *Chord) candidate(n, via wire.NodeID) {
	if c.isDead(n) || c.inTable(n) || c.isPending(n) || len(c.pending) >= 2*(c.cfg.Successors+c.cfg.Predecessors) {
		return
	}
	c.pending = append(c.pending, expiring{id: n, until: c.now + c.timeout})
	c.sendUpdateVia(n, via, wire.ChordUpdateNeighbors, reqVerify)
}

// maxReverify bounds the verifications of one candidate that are tried
// again after a refusal (a client refuses for good).
const maxReverify = 5

// retryVerify schedules another verification of a candidate that refused
// the last one: a peer that was still joining when gossip named it has
// joined a request timeout later, and nothing else may name it again
// before the periodic stabilisation (§10.7.4.1), minutes away. Without it
// two peers that joined into the same gap at once could stay out of each
// other's neighbour sets.
func (c *Chord) retryVerify(n wire.NodeID) {
	i := slices.IndexFunc(c.reverify, func(r retry) bool { return r.id == n })
	if i < 0 {
		if len(c.reverify) >= 2*(c.cfg.Successors+c.cfg.Predecessors) {
			c.reverify = slices.Delete(c.reverify, 0, 1)
		}
		c.reverify = append(c.reverify, retry{id: n})
		i = len(c.reverify) - 1
	}
	r := &c.reverify[i]
	r.tries++
	if r.tries > maxReverify {
		c.reverify = slices.Delete(c.reverify, i, i+1)
		return
	}
	r.at = c.now + c.timeout
}

// reverifyDue verifies again the refused candidates whose time has come;
// it reports whether there were any.
func (c *Chord) reverifyDue() bool {
	var due []wire.NodeID
	for i := range c.reverify {
		if r := &c.reverify[i]; r.at > 0 && r.at <= c.now {
			r.at = 0
			due = append(due, r.id)
		}
	}
	c.learn(due, wire.NodeID{})
	return len(due) > 0
}

// wouldEnter reports whether n is closer than the farthest successor or
// predecessor (or a set has room).
func (c *Chord) wouldEnter(n wire.NodeID) bool {
	if len(c.succ) < c.cfg.Successors || len(c.pred) < c.cfg.Predecessors {
		return true
	}
	if topology.InOO(c.id, n, c.succ[len(c.succ)-1]) {
		return true
	}
	return topology.InOO(c.pred[len(c.pred)-1], n, c.id)
}

// verified makes n, which answered or spoke to us directly, a neighbour
// candidate.
func (c *Chord) verified(n wire.NodeID) {
	if n == c.id || n.Len() != c.idLen || !n.Valid() {
		return
	}
	c.alive(n)
	c.pending = slices.DeleteFunc(c.pending, func(p expiring) bool { return p.id == n })
	c.reverify = slices.DeleteFunc(c.reverify, func(r retry) bool { return r.id == n })
	c.recompute(n)
}

// shouldCorrect reports whether a peer that sent us its neighbour sets
// (preds, succs) is missing a peer we know to be alive that belongs in
// them, in which case we send it our sets.
func (c *Chord) shouldCorrect(x wire.NodeID, preds, succs []wire.NodeID) bool {
	known := append(c.neighbors(), c.id)
	for _, m := range known {
		if m == x {
			continue
		}
		if !slices.Contains(succs, m) {
			if len(succs) < c.cfg.Successors || topology.InOO(x, m, succs[len(succs)-1]) {
				return true
			}
		}
		if !slices.Contains(preds, m) {
			if len(preds) < c.cfg.Predecessors || topology.InOO(preds[len(preds)-1], m, x) {
				return true
			}
		}
	}
	return false
}
