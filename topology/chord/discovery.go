package chord

import (
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// SetFirstNode marks this node as a potential first node of the overlay
// (RFC 6940 §6.4.2.1: "some mechanism whereby nodes can determine that
// they are potentially the first node"; §10.5 suggests comparing the
// node's own address with the bootstrap nodes of the configuration).
// Such a node founds the ring itself when a whole round of its Joins
// fails (every bootstrap peer refused or did not answer: they are not
// peers yet, having been started at the same moment) and its Node-ID is
// the smallest of its own and its bootstrap peers', so that of several
// potential first nodes started together exactly one founds the ring and
// the others join it. Call it before Join.
func (c *Chord) SetFirstNode(ok bool) { c.firstNode = ok }

// joinFailed handles a Join that was refused (an error answer) or timed
// out (timedOut) (§10.5): the next bootstrap peer is tried at once; after
// a whole round a potential first node with the smallest Node-ID founds
// the ring (SetFirstNode), and the others start the next round, at once
// after a timeout (a request timeout has passed already) and after a
// short random wait after a refusal. A refusal comes quickly and most
// likely from a bootstrap peer that is not a peer yet (a cluster started
// all at once) and becomes one within about a request timeout: waiting a
// quarter to a half of one (instead of a whole one) keeps the joins of a
// cluster started together about as fast as those of one started peer by
// peer, and the random part spreads them.
func (c *Chord) joinFailed(timedOut bool) {
	c.joinToken = 0
	c.bootIdx++
	if c.bootIdx%len(c.bootstrap) != 0 {
		c.joinRetryAt = c.now
		return
	}
	if c.firstNode && !slices.ContainsFunc(c.bootstrap, func(b wire.NodeID) bool { return b.Compare(c.id) < 0 }) {
		c.found()
		return
	}
	if timedOut {
		c.joinRetryAt = c.now
		return
	}
	q := max(c.timeout/4, 1)
	c.joinRetryAt = c.now + q + c.cfg.Rand.Int64N(q+1)
}

// found makes a joining potential first node the first peer of the
// overlay, as Start does.
func (c *Chord) found() {
	c.stats.Founded++
	c.joinAns, c.ap, c.early = false, wire.NodeID{}, nil
	c.become(statePeer)
	c.succ, c.pred = nil, nil
	c.startPeer()
}

// CheckPartition is the partition detection of §10.7.4.4: "a peer P MUST
// periodically repeat the discovery process used in the initial join for
// the overlay to locate an appropriate bootstrap node, B. P SHOULD then
// send a Ping for its own Node-ID routed through B." The host finds B
// (a bootstrap peer it has a link to) and calls this; the Ping goes to
// our Node-ID as a Resource-ID through B, so that it reaches the peer
// responsible for it in B's ring: ourselves when B's ring is ours (the
// check then ends with our own answer). A peer that answers and that we
// do not know is the successor of our Node-ID in another partition (S'):
// see partitionAnswer. At most one such Ping is outstanding.
func (c *Chord) CheckPartition(via wire.NodeID) {
	if c.state != statePeer || via == c.id || via.Len() != c.idLen || !via.Valid() || via.IsWildcard() ||
		slices.ContainsFunc(c.reqs, func(r request) bool { return r.kind == reqPartition }) {
		return
	}
	c.stats.PartitionChecks++
	c.request(topology.Outgoing{Dest: selfDest(c.id), Via: via, Code: wire.CodePingReq, Body: encode(&wire.PingReq{})}, reqPartition, 0)
	c.reqs[len(c.reqs)-1].via = via
	c.finish()
}

// partitionToken reports whether t is an outstanding partition check.
func (c *Chord) partitionToken(t uint64) bool {
	return slices.ContainsFunc(c.reqs, func(r request) bool { return r.kind == reqPartition && r.token == t })
}

// partitionAnswer takes the answer of s to the Ping of CheckPartition,
// sent through the bootstrap peer via. If s is neither us nor in our
// routing table, the overlay is partitioned (§10.7.4.4): s answered for
// our Node-ID in B's ring, as the answering peer of a finger Ping answers
// for its finger start (§10.5), so it is verified like one (entering our
// tables where it belongs), and it gets an Update, whose Attach goes
// through B ("P SHOULD send an Attach to S' routed through B, followed by
// an Update sent to S'"): routed by Node-ID in our ring it would end at a
// peer of ours. From there stabilisation merges the two rings: our
// neighbours learn of s from our Updates and Attach to it through us
// (learn), and the peers of s's ring learn of us from their own checks
// and from s's Updates.
func (c *Chord) partitionAnswer(s, via wire.NodeID) {
	if s == c.id || c.inTable(s) {
		return
	}
	c.stats.PartitionsFound++
	// Sent even when s becomes a neighbour below: the reactive Update to
	// s then waits for this Attach's link instead of being routed.
	c.sendUpdateVia(s, via, wire.ChordUpdateNeighbors, reqInfo)
	c.verified(s)
}
