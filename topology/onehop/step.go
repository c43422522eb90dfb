package onehop

import (
	"fmt"
	"math"
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

type body interface {
	Append([]byte) ([]byte, error)
	Len() int
}

func encode(b body) []byte {
	out, err := b.Append(make([]byte, 0, b.Len()))
	if err != nil {
		// Only the plugin's own, bounded state is encoded here.
		panic("onehop: encoding own message: " + err.Error())
	}
	return out
}

func (o *OneHop) become(s state) {
	o.state = s
	o.changed = true
	o.resnap()
}

func (o *OneHop) event(e topology.Event) { o.events = append(o.events, e) }

func (o *OneHop) request(m topology.Outgoing, kind reqKind) uint64 {
	o.token++
	m.Token = o.token
	o.msgs = append(o.msgs, m)
	deadline := o.now + o.timeout
	if o.cfg.HostTimeouts {
		deadline = math.MaxInt64
	}
	o.reqs = append(o.reqs, request{token: o.token, kind: kind, to: m.To, deadline: deadline})
	if m.Code == wire.CodeUpdateReq {
		o.stats.UpdatesSent++
	}
	return o.token
}

func (o *OneHop) take(t uint64) (request, bool) {
	for i, r := range o.reqs {
		if r.token == t {
			o.reqs = slices.Delete(o.reqs, i, i+1)
			return r, true
		}
	}
	return request{}, false
}

func (o *OneHop) outstanding(kind reqKind, to wire.NodeID) bool {
	return slices.ContainsFunc(o.reqs, func(r request) bool { return r.kind == kind && r.to == to })
}

func (o *OneHop) answer(in *topology.Incoming, code wire.MessageCode, b body) {
	o.msgs = append(o.msgs, topology.Outgoing{To: in.From, Code: code, Body: encode(b), Token: in.Token, Answer: true})
}

func (o *OneHop) answerError(in *topology.Incoming, code wire.ErrorCode, info string) {
	o.answer(in, wire.CodeError, &wire.ErrorResponse{Code: code, Info: []byte(info)})
}

// update builds a full Update: the neighbour sets and every other member
// in the fingers list, ascending (§10.7).
func (o *OneHop) update() *wire.ChordUpdate {
	succ, pred := o.neighbors()
	fingers := o.Fingers()
	slices.SortFunc(fingers, wire.NodeID.Compare)
	return &wire.ChordUpdate{Uptime: o.Uptime(), Type: wire.ChordUpdateFull, Predecessors: pred, Successors: succ, Fingers: fingers, IDLen: o.idLen}
}

func (o *OneHop) sendUpdate(to wire.NodeID, kind reqKind) {
	o.request(topology.Outgoing{To: to, Code: wire.CodeUpdateReq, Body: encode(o.update())}, kind)
}

// admit puts id into the membership table.
func (o *OneHop) admit(id wire.NodeID) bool {
	if id == o.id || id.Len() != o.idLen || !id.Valid() || id.IsWildcard() || len(o.members) >= MaxMembers {
		return false
	}
	i, found := slices.BinarySearchFunc(o.members, id, wire.NodeID.Compare)
	if found {
		return false
	}
	o.members = slices.Insert(o.members, i, id)
	o.changed = true
	o.lastSeen[id] = o.now
	o.dead = dropID(o.dead, id)
	o.vouched = dropID(o.vouched, id)
	o.heard = dropID(o.heard, id)
	o.resnap()
	return true
}

// remove takes id out of the membership table and remembers it as dead,
// so that gossip does not bring it back (§10.7.1).
func (o *OneHop) remove(id wire.NodeID, failure bool) {
	i, found := slices.BinarySearchFunc(o.members, id, wire.NodeID.Compare)
	if !found {
		return
	}
	o.members = slices.Delete(o.members, i, i+1)
	o.changed = true
	delete(o.lastSeen, id)
	o.dead = append(dropID(o.dead, id), expiring{id: id, at: o.now + deadTimeouts*o.timeout})
	if failure {
		o.stats.PeerFailures++
		o.failureSeen = true
		if len(o.members) == 0 && o.state == statePeer {
			o.detach = true
		}
	}
	o.resnap()
}

func dropID(s []expiring, id wire.NodeID) []expiring {
	return slices.DeleteFunc(s, func(e expiring) bool { return e.id == id })
}

func find(s []expiring, id wire.NodeID) int {
	return slices.IndexFunc(s, func(e expiring) bool { return e.id == id })
}

// Step hands the plugin one message (see package topology). An error
// answer with a zero From is the host's verdict that a request got no
// answer (§6.2.1).
func (o *OneHop) Step(in topology.Incoming) error {
	defer o.finish()
	if in.From.IsZero() && in.Code == wire.CodeError {
		if r, ok := o.take(in.Token); ok {
			o.expire(r)
		}
		return nil
	}
	if in.From.Len() != o.idLen || !in.From.Valid() || in.From.IsWildcard() || in.From == o.id {
		if !in.IsAnswer() {
			o.answerError(&in, wire.ErrCodeInvalidMessage, "bad sender")
		}
		return ErrBadSender
	}
	if in.IsAnswer() {
		return o.onAnswer(&in)
	}
	switch in.Code {
	case wire.CodeProbeReq:
		return o.onProbe(&in)
	case wire.CodeUpdateReq:
		return o.onUpdate(&in)
	}
	if o.state != statePeer {
		o.answerError(&in, wire.ErrCodeForbidden, "not a peer of the overlay: "+o.state.String())
		return fmt.Errorf("onehop: %v refused in state %v", in.Code, o.state)
	}
	switch in.Code {
	case wire.CodeJoinReq:
		return o.onJoin(&in)
	case wire.CodeLeaveReq:
		return o.onLeave(&in)
	case wire.CodeRouteQueryReq:
		return o.onRouteQuery(&in)
	}
	o.answerError(&in, wire.ErrCodeInvalidMessage, "not a topology request")
	return topology.ErrUnexpected
}

// onJoin admits a joining node when this peer is responsible for its
// Node-ID (§6.4.2.1, §10.5).
func (o *OneHop) onJoin(in *topology.Incoming) error {
	j := wire.JoinReq{IDLen: o.idLen}
	if _, err := j.Decode(in.Body); err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "bad JoinReq")
		return err
	}
	jn := in.From
	if j.JoiningPeerID != jn {
		o.answerError(in, wire.ErrCodeForbidden, "joining_peer_id is not the sender")
		return fmt.Errorf("onehop: join for %v sent by %v", j.JoiningPeerID, jn)
	}
	// Responsible for jn's Node-ID, ignoring jn itself (a restarted
	// process joins again while it may still be listed).
	r := o.respRange()
	if p := o.predExcept(jn); !p.IsZero() {
		r.Start = p
	}
	if !topology.InOC(r.Start, jn, r.End) {
		o.answerError(in, wire.ErrCodeForbidden, "not the peer responsible for the joining Node-ID")
		return fmt.Errorf("onehop: join of %v, for which this peer is not responsible", jn)
	}
	if len(o.members) >= MaxMembers && !o.isMember(jn) {
		o.answerError(in, wire.ErrCodeForbidden, "overlay full for a one-hop table")
		return fmt.Errorf("onehop: join of %v refused: %d members", jn, len(o.members))
	}
	o.answer(in, wire.CodeJoinAns, &wire.JoinAns{})
	o.reqs = slices.DeleteFunc(o.reqs, func(q request) bool { return q.to == jn && q.kind != reqLeave })
	// Step 6: the data jn becomes responsible for.
	o.event(topology.Event{Type: topology.EventTransfer, Peer: jn, Range: topology.Range{Start: r.Start, End: jn}})
	o.admit(jn)
	o.lastSeen[jn] = o.now
	// The membership to jn, and jn to every other member.
	o.sendUpdate(jn, reqUpdate)
	for _, m := range o.members {
		if m != jn {
			o.sendUpdate(m, reqUpdate)
		}
	}
	return nil
}

// predExcept is the nearest predecessor other than x (zero if none).
func (o *OneHop) predExcept(x wire.NodeID) wire.NodeID {
	for i := 1; i <= len(o.members); i++ {
		if p := o.nth(-i); p != x {
			return p
		}
	}
	return wire.NodeID{}
}

func (o *OneHop) decodeUpdate(in *topology.Incoming) ([]wire.NodeID, error) {
	u := wire.ChordUpdate{IDLen: o.idLen}
	if _, err := u.Decode(in.Body); err != nil {
		return nil, err
	}
	ids := slices.Concat(u.Predecessors, u.Successors, u.Fingers)
	return ids, nil
}

// onUpdate handles an Update (§6.4.2.3). Only a member's, a vouched
// candidate's or a recently failed member's Update changes the table.
func (o *OneHop) onUpdate(in *topology.Incoming) error {
	o.stats.UpdatesReceived++
	ids, err := o.decodeUpdate(in)
	if err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "bad Update")
		return err
	}
	switch o.state {
	case stateJoining:
		// Held until the JoinAns says who admitted us.
		if len(o.early) < 8 {
			o.early = append(o.early, early{from: in.From, ids: slices.Clone(ids)})
		}
		o.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
		return nil
	case statePeer:
	default:
		o.answerError(in, wire.ErrCodeForbidden, "not a peer of the overlay: "+o.state.String())
		return nil
	}
	o.answer(in, wire.CodeUpdateAns, &wire.UpdateAns{})
	from := in.From
	switch {
	case o.isMember(from):
	case find(o.vouched, from) >= 0 || find(o.dead, from) >= 0:
		if o.admit(from) {
			o.welcome(from)
		}
	default:
		// A stranger: a hint only, remembered as proof of life should a
		// member name it soon. The member that would be its successor
		// admitted it if it joined (§10.5): that member is asked whether
		// it has the stranger in its table (a RouteQuery for its Node-ID
		// answered with the stranger itself, §10.8), so that two peers
		// that joined at once through different admitting peers learn of
		// each other without waiting for stabilisation.
		if i := find(o.heard, from); i >= 0 {
			o.heard[i].at = o.now
		} else if len(o.heard) < 64 {
			o.heard = append(o.heard, expiring{id: from, at: o.now})
			o.askAbout(from)
		}
		return nil
	}
	o.lastSeen[from] = o.now
	if from == o.ap && o.now-o.joinedAt <= o.timeout {
		// The admitting peer's membership, sent with its JoinAns and
		// arriving after it (§10.5 step 7): taken as at the join, and
		// the new members learn of us.
		for _, id := range ids {
			if find(o.dead, id) < 0 && o.admit(id) {
				o.sendUpdate(id, reqUpdate)
			}
		}
		return nil
	}
	for _, id := range ids {
		o.vouch(id)
	}
	return nil
}

// welcome sends a member admitted on another's word our membership:
// peers that joined at the same time through different admitting peers
// learn of each other this way, from whichever member learnt of both
// first.
func (o *OneHop) welcome(id wire.NodeID) { o.sendUpdate(id, reqInfo) }

// askAbout sends a RouteQuery for stranger's Node-ID to the member that
// would be its successor.
func (o *OneHop) askAbout(stranger wire.NodeID) {
	m := o.snap.owner(stranger)
	if m == o.id || m == stranger || slices.ContainsFunc(o.reqs, func(r request) bool { return r.kind == reqVouch && r.about == stranger }) {
		return
	}
	q := wire.RouteQueryReq{Destination: wire.Destination{Type: wire.DestNode, ID: slices.Clone(stranger.Bytes())}}
	o.request(topology.Outgoing{To: m, Code: wire.CodeRouteQueryReq, Body: encode(&q)}, reqVouch)
	o.reqs[len(o.reqs)-1].about = stranger
}

// vouch records that a member named id.
func (o *OneHop) vouch(id wire.NodeID) {
	if id == o.id || id.Len() != o.idLen || !id.Valid() || id.IsWildcard() || o.isMember(id) || find(o.dead, id) >= 0 || find(o.vouched, id) >= 0 {
		return
	}
	if find(o.heard, id) >= 0 {
		if o.admit(id) {
			o.welcome(id)
		}
		return
	}
	if len(o.vouched) < MaxMembers {
		o.vouched = append(o.vouched, expiring{id: id, at: o.now})
	}
}

func (o *OneHop) onLeave(in *topology.Incoming) error {
	l := wire.LeaveReq{IDLen: o.idLen}
	if _, err := l.Decode(in.Body); err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "bad LeaveReq")
		return err
	}
	if l.LeavingPeerID != in.From {
		o.answerError(in, wire.ErrCodeForbidden, "leaving_peer_id is not the sender")
		return fmt.Errorf("onehop: leave for %v sent by %v", l.LeavingPeerID, in.From)
	}
	o.answer(in, wire.CodeLeaveAns, &wire.LeaveAns{})
	o.remove(in.From, false)
	return nil
}

func (o *OneHop) onRouteQuery(in *topology.Incoming) error {
	var q wire.RouteQueryReq
	if _, err := q.Decode(in.Body); err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "bad RouteQueryReq")
		return err
	}
	next, local, err := o.snap.Route(&q.Destination)
	if err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "destination cannot be routed")
		return err
	}
	if local {
		next = o.id
	}
	o.answer(in, wire.CodeRouteQueryAns, &wire.ChordRouteQueryAns{NextPeer: next, IDLen: o.idLen})
	if q.SendUpdate {
		o.sendUpdate(in.From, reqInfo)
	}
	return nil
}

func (o *OneHop) onProbe(in *topology.Incoming) error {
	var p wire.ProbeReq
	if _, err := p.Decode(in.Body); err != nil {
		o.answerError(in, wire.ErrCodeInvalidMessage, "bad ProbeReq")
		return err
	}
	rng, ok := o.ResponsibleRange()
	a := topology.ProbeAnswer(&p, rng, ok, o.cfg.NumResources, o.Uptime())
	o.answer(in, wire.CodeProbeAns, &a)
	return nil
}

func (o *OneHop) onAnswer(in *topology.Incoming) error {
	r, ok := o.take(in.Token)
	if !ok {
		// A JoinAns to a Join that timed out still admitted us.
		if in.Code == wire.CodeJoinAns && o.state == stateJoining {
			o.joined(in.From)
		}
		return nil
	}
	if !r.to.IsZero() && r.to != in.From {
		o.reqs = append(o.reqs, r) // not from the peer asked: keep waiting
		return fmt.Errorf("onehop: answer for token %d from %v, sent to %v", in.Token, in.From, r.to)
	}
	ok = in.Code != wire.CodeError
	switch r.kind {
	case reqUpdate:
		if !ok || in.Code != wire.CodeUpdateAns {
			// A member that refuses an Update is not a peer (any more):
			// a restarted process, still joining.
			o.remove(in.From, true)
			return nil
		}
		o.lastSeen[in.From] = o.now
	case reqVerify:
		if ok && in.Code == wire.CodeUpdateAns && o.state == statePeer && find(o.vouched, in.From) >= 0 {
			o.admit(in.From)
		} else {
			o.vouched = dropID(o.vouched, in.From)
		}
	case reqJoin:
		o.joinToken = 0
		if ok && in.Code == wire.CodeJoinAns && o.state == stateJoining {
			o.joined(in.From)
		} else if o.state == stateJoining {
			o.joinFailed(false)
		}
	case reqLeave:
		o.leaveAnswered()
	case reqVouch:
		a := wire.ChordRouteQueryAns{IDLen: o.idLen}
		if ok && in.Code == wire.CodeRouteQueryAns && o.state == statePeer && o.isMember(in.From) {
			if _, err := a.Decode(in.Body); err == nil && a.NextPeer == r.about && find(o.heard, r.about) >= 0 && find(o.dead, r.about) < 0 && o.admit(r.about) {
				o.welcome(r.about)
			}
		}
	}
	return nil
}

// expire handles a request that got no answer.
func (o *OneHop) expire(r request) {
	switch r.kind {
	case reqUpdate:
		o.remove(r.to, true)
	case reqVerify:
		o.vouched = dropID(o.vouched, r.to)
	case reqJoin:
		if r.token == o.joinToken {
			o.joinToken = 0
			if o.state == stateJoining {
				o.joinFailed(true)
			}
		}
	case reqLeave:
		o.leaveAnswered()
	}
}

// Start makes this node the first peer of a new overlay.
func (o *OneHop) Start() error {
	if o.state != stateIdle {
		return topology.ErrState
	}
	o.started = o.now
	o.members = nil
	o.becomePeer()
	o.finish()
	return nil
}

// Join starts joining through the bootstrap peers via, tried in turn
// (§10.5).
func (o *OneHop) Join(via ...wire.NodeID) error {
	if o.state != stateIdle || len(via) == 0 {
		return topology.ErrState
	}
	for _, v := range via {
		if v.Len() != o.idLen || v == o.id || !v.Valid() {
			return ErrBadSender
		}
	}
	o.bootstrap, o.bootIdx = slices.Clone(via), 0
	o.started = o.now
	o.dead, o.early, o.members = nil, nil, nil
	o.become(stateJoining)
	o.sendJoin()
	o.finish()
	return nil
}

func (o *OneHop) sendJoin() {
	via := o.bootstrap[o.bootIdx%len(o.bootstrap)]
	o.joinToken = o.request(topology.Outgoing{Dest: wire.Destination{Type: wire.DestNode, ID: slices.Clone(o.id.Bytes())}, Via: via,
		Code: wire.CodeJoinReq, Body: encode(&wire.JoinReq{JoiningPeerID: o.id, IDLen: o.idLen})}, reqJoin)
}

// joinFailed tries the next bootstrap peer; after a whole round a
// potential first node with the smallest Node-ID founds the overlay
// (§6.4.2.1), the others wait a little and start again.
func (o *OneHop) joinFailed(timedOut bool) {
	o.joinToken = 0
	o.bootIdx++
	if o.bootIdx%len(o.bootstrap) != 0 {
		o.joinRetryAt = o.now
		return
	}
	if o.firstNode && !slices.ContainsFunc(o.bootstrap, func(b wire.NodeID) bool { return b.Compare(o.id) < 0 }) {
		o.stats.Founded++
		o.becomePeer()
		return
	}
	if timedOut {
		o.joinRetryAt = o.now
		return
	}
	q := max(o.timeout/4, 1)
	o.joinRetryAt = o.now + q + o.cfg.Rand.Int64N(q+1)
}

// joined: ap answered our Join. Its membership (from its Update, held if
// it came first) is ours.
func (o *OneHop) joined(ap wire.NodeID) {
	o.joinToken = 0
	o.members = nil
	o.ap, o.joinedAt = ap, o.now
	o.admit(ap)
	for _, e := range o.early {
		if e.from == ap {
			for _, id := range e.ids {
				o.admit(id)
			}
		}
	}
	o.early = nil
	o.becomePeer()
	for _, m := range o.members {
		o.sendUpdate(m, reqUpdate)
	}
}

func (o *OneHop) becomePeer() {
	o.become(statePeer)
	o.resp = o.respRange()
	o.succ, o.pred = o.neighbors()
	o.replicas = o.replicaSet()
	o.replicaDue = -1
	o.event(topology.Event{Type: topology.EventJoined, Range: o.resp})
	for _, n := range union(o.succ, o.pred) {
		o.event(topology.Event{Type: topology.EventNeighborAdded, Peer: n})
	}
	if len(o.replicas) > 0 {
		o.event(topology.Event{Type: topology.EventReplicaSetChanged, Range: o.resp})
	}
	o.nextUpdate = o.now + 1 + o.cfg.Rand.Int64N(o.updateEvery)
}

// Leave hands the range to the successor and sends a Leave to every
// member (§10.9).
func (o *OneHop) Leave() error {
	if o.state != statePeer {
		return topology.ErrState
	}
	o.become(stateLeaving)
	if len(o.members) == 0 {
		o.leaveDone()
		o.finish()
		return nil
	}
	o.event(topology.Event{Type: topology.EventTransfer, Peer: o.nth(1), Range: o.resp})
	body := encode(&wire.LeaveReq{LeavingPeerID: o.id, IDLen: o.idLen})
	o.leaveLeft = len(o.members)
	for _, m := range o.members {
		o.request(topology.Outgoing{To: m, Code: wire.CodeLeaveReq, Body: slices.Clone(body)}, reqLeave)
	}
	o.finish()
	return nil
}

func (o *OneHop) leaveAnswered() {
	if o.state != stateLeaving {
		return
	}
	if o.leaveLeft--; o.leaveLeft <= 0 {
		o.leaveDone()
	}
}

func (o *OneHop) leaveDone() {
	o.become(stateLeft)
	o.members = nil
	o.resnap()
	o.event(topology.Event{Type: topology.EventLeft})
}

// PeerFailed reports that the connection to id was lost (§10.7.1).
func (o *OneHop) PeerFailed(id wire.NodeID) {
	if o.state == statePeer {
		o.remove(id, true)
	}
	o.finish()
}

// PeerLinked reports a new connection to id: a member not heard from
// for a request timeout gets an Update, to find out whether the process
// behind it is still a peer.
func (o *OneHop) PeerLinked(id wire.NodeID) {
	if o.state == statePeer && o.isMember(id) && o.now-o.lastSeen[id] > o.timeout && !o.outstanding(reqUpdate, id) {
		o.sendUpdate(id, reqUpdate)
	}
	o.finish()
}

// Tick advances virtual time by one tick.
func (o *OneHop) Tick() {
	o.now++
	for i := 0; i < len(o.reqs); {
		if r := o.reqs[i]; r.deadline <= o.now {
			o.reqs = slices.Delete(o.reqs, i, i+1)
			o.expire(r)
			continue
		}
		i++
	}
	o.dead = slices.DeleteFunc(o.dead, func(e expiring) bool { return e.at <= o.now })
	o.heard = slices.DeleteFunc(o.heard, func(e expiring) bool { return o.now-e.at > deadTimeouts*o.timeout })
	switch o.state {
	case stateJoining:
		if o.joinToken == 0 && o.now >= o.joinRetryAt {
			o.sendJoin()
		}
	case statePeer:
		o.vouched = slices.DeleteFunc(o.vouched, func(e expiring) bool { return o.now-e.at > deadTimeouts*o.timeout })
		for i := range o.vouched {
			if v := &o.vouched[i]; !v.sent && o.now-v.at >= o.verifyT {
				v.sent = true
				o.sendUpdate(v.id, reqVerify)
			}
		}
		if o.now >= o.nextUpdate {
			o.stabilize()
			o.nextUpdate = o.now + o.updateEvery
		}
	}
	o.finish()
}

// stabilize sends an Update to the neighbours and to one random other
// member (§10.7.4).
func (o *OneHop) stabilize() {
	o.stats.Stabilizations++
	succ, pred := o.neighbors()
	targets := union(succ, pred)
	if f := o.Fingers(); len(f) > 0 {
		targets = append(targets, f[o.cfg.Rand.IntN(len(f))])
	}
	for _, t := range targets {
		if !o.outstanding(reqUpdate, t) {
			o.sendUpdate(t, reqUpdate)
		}
	}
}

func union(a, b []wire.NodeID) []wire.NodeID {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// finish turns table changes into events (neighbours, range, replica
// set, detachment).
func (o *OneHop) finish() {
	if o.state == statePeer && (o.changed || o.replicaDue >= 0) {
		succ, pred := o.neighbors()
		was, now := union(o.succ, o.pred), union(succ, pred)
		for _, n := range was {
			if !slices.Contains(now, n) {
				o.event(topology.Event{Type: topology.EventNeighborRemoved, Peer: n})
			}
		}
		for _, n := range now {
			if !slices.Contains(was, n) {
				o.event(topology.Event{Type: topology.EventNeighborAdded, Peer: n})
			}
		}
		o.succ, o.pred = succ, pred
		if r := o.respRange(); r != o.resp {
			o.resp = r
			o.event(topology.Event{Type: topology.EventResponsibilityChanged, Range: r})
		}
		rs := o.replicaSet()
		switch {
		case slices.Equal(rs, o.replicas):
			o.replicaDue = -1
		case o.replicaDue < 0 && o.failureSeen:
			o.replicaDue = o.now + o.holdT
		case o.replicaDue < 0:
			o.replicaDue = o.now
		}
		if o.replicaDue >= 0 && o.now >= o.replicaDue {
			o.replicas, o.replicaDue = rs, -1
			o.event(topology.Event{Type: topology.EventReplicaSetChanged, Range: o.resp})
		}
		if o.detach {
			// §10.7.1: every other peer is lost.
			o.event(topology.Event{Type: topology.EventDetached})
			o.become(stateIdle)
			o.resp, o.succ, o.pred, o.replicas, o.replicaDue = topology.Range{}, nil, nil, nil, -1
		}
	}
	o.detach, o.failureSeen, o.changed = false, false, false
}

// HasReady reports whether Ready would return something.
func (o *OneHop) HasReady() bool { return len(o.msgs) > o.nMsgs || len(o.events) > o.nEvts }

// Ready returns the pending messages and events.
func (o *OneHop) Ready() topology.Ready {
	o.nMsgs, o.nEvts = len(o.msgs), len(o.events)
	return topology.Ready{Messages: o.msgs[:o.nMsgs:o.nMsgs], Events: o.events[:o.nEvts:o.nEvts]}
}

// Advance forgets what the last Ready returned.
func (o *OneHop) Advance() {
	o.msgs = slices.Delete(o.msgs, 0, o.nMsgs)
	o.events = slices.Delete(o.events, 0, o.nEvts)
	o.nMsgs, o.nEvts = 0, 0
}
