package onehop

import (
	"errors"
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// MaxMembers bounds the membership table: an Update lists every member
// in a field of at most 2^16-1 bytes (RFC 6940 §10.7), and a one-hop table
// is meant for small overlays. Nodes beyond it are not admitted.
const MaxMembers = 1000

// ErrBadSender is returned by Step for a message whose From is not a
// Node-ID of this overlay (or is this node's own).
var ErrBadSender = errors.New("onehop: sender is not a Node-ID of this overlay")

type state uint8

const (
	stateIdle state = iota
	stateJoining
	statePeer
	stateLeaving
	stateLeft
)

func (s state) String() string {
	return [...]string{"idle", "joining", "peer", "leaving", "left"}[s]
}

type reqKind uint8

const (
	reqUpdate reqKind = iota // Update to a member: no answer or a refusal = failure
	reqVerify                // Update to a candidate a member named
	reqInfo                  // Update nobody waits for
	reqJoin
	reqLeave
	reqVouch // RouteQuery to a member about a stranger that sent an Update
)

type request struct {
	token    uint64
	kind     reqKind
	to       wire.NodeID
	deadline int64
	about    wire.NodeID // reqVouch: the stranger asked about
}

// expiring is a Node-ID remembered since 'at' (vouched candidates,
// strangers heard from) or until 'at' (dead members).
type expiring struct {
	id   wire.NodeID
	at   int64
	sent bool // vouched: the verification Update has been sent
}

// early is an Update a joining node received before its JoinAns.
type early struct {
	from wire.NodeID
	ids  []wire.NodeID
}

// Stats counts the maintenance work of a OneHop since it was made.
type Stats struct {
	// Stabilizations counts the periodic Update rounds (§10.7.4).
	Stabilizations uint64
	// UpdatesSent and UpdatesReceived count Update requests.
	UpdatesSent, UpdatesReceived uint64
	// PeerFailures counts members declared failed.
	PeerFailures uint64
	// Founded counts the times this potential first node founded the
	// overlay after a round of failed Joins.
	Founded uint64
}

// OneHop is the ONE-HOP topology plugin. It is not safe for concurrent
// use; see package topology for the contract.
type OneHop struct {
	cfg   Config
	id    wire.NodeID
	idLen int
	state state

	now, started                         int64
	updateEvery, timeout, holdT, verifyT int64
	nextUpdate                           int64

	members  []wire.NodeID // sorted ascending, never this node
	lastSeen map[wire.NodeID]int64
	dead     []expiring // until at
	vouched  []expiring // since at
	heard    []expiring // strangers whose Update we answered, since at
	reqs     []request
	token    uint64

	bootstrap   []wire.NodeID
	bootIdx     int
	joinToken   uint64
	joinRetryAt int64
	early       []early
	ap          wire.NodeID // the peer that answered our Join
	joinedAt    int64
	firstNode   bool
	leaveLeft   int

	// what the events last announced
	resp        topology.Range
	succ, pred  []wire.NodeID
	replicas    []wire.NodeID
	replicaDue  int64 // -1: none due
	failureSeen bool
	detach      bool
	changed     bool // the table or state changed since the last finish

	msgs   []topology.Outgoing
	events []topology.Event
	nMsgs  int
	nEvts  int

	stats Stats
	snap  *Routes
}

var _ topology.Plugin = (*OneHop)(nil)

// New validates cfg and returns an idle OneHop.
func New(cfg Config) (*OneHop, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := &OneHop{cfg: cfg, id: cfg.ID, idLen: cfg.ID.Len(), replicaDue: -1, lastSeen: map[wire.NodeID]int64{}}
	o.updateEvery = cfg.ticks(cfg.UpdateInterval)
	o.timeout = cfg.ticks(cfg.RequestTimeout)
	o.holdT = cfg.ticks(cfg.HoldDown)
	o.verifyT = max(o.timeout/2, 1)
	o.resnap()
	return o, nil
}

// ID is this node's Node-ID.
func (o *OneHop) ID() wire.NodeID { return o.id }

// State is the life-cycle state, for diagnostics: idle, joining, peer,
// leaving or left.
func (o *OneHop) State() string { return o.state.String() }

// Stats returns the counters.
func (o *OneHop) Stats() Stats { return o.stats }

// SetFirstNode marks this node as a potential first node (RFC 6940
// §6.4.2.1): it founds the overlay when a whole round of Joins through
// its bootstrap peers failed and its Node-ID is the smallest of theirs.
func (o *OneHop) SetFirstNode(ok bool) { o.firstNode = ok }

// Joined reports whether the node is a peer.
func (o *OneHop) Joined() bool { return o.state == statePeer }

// Uptime is the time since Start or Join, in seconds.
func (o *OneHop) Uptime() uint32 {
	if o.state == stateIdle {
		return 0
	}
	return uint32(int64(o.cfg.TickLength) * (o.now - o.started) / 1e9)
}

// Members returns a copy of the membership table, ascending.
func (o *OneHop) Members() []wire.NodeID { return slices.Clone(o.members) }

// Route picks the next hop for d: the peer responsible for it, in one hop.
// It does not allocate.
func (o *OneHop) Route(d *wire.Destination) (wire.NodeID, bool, error) { return o.snap.Route(d) }

// Routes returns the current immutable routing snapshot.
func (o *OneHop) Routes() topology.Routes { return o.snap }

// InTable reports whether id is a member.
func (o *OneHop) InTable(id wire.NodeID) bool { return o.isMember(id) }

func (o *OneHop) isMember(id wire.NodeID) bool {
	_, ok := slices.BinarySearchFunc(o.members, id, wire.NodeID.Compare)
	return ok
}

// ring is the membership with this node, ascending.
func (o *OneHop) ring() []wire.NodeID { return o.snap.ring }

// Responsible reports whether this peer is responsible for Resource-ID id:
// it is the successor of id on the ring (§10.1).
func (o *OneHop) Responsible(id []byte) bool {
	if o.state != statePeer {
		return false
	}
	return o.snap.owner(topology.Point(id, o.idLen)) == o.id
}

// ResponsibleRange is (predecessor, self]; ok is false unless a peer.
func (o *OneHop) ResponsibleRange() (topology.Range, bool) {
	if o.state != statePeer {
		return topology.Range{}, false
	}
	return o.respRange(), true
}

func (o *OneHop) respRange() topology.Range {
	p := o.nth(-1)
	if p.IsZero() {
		return topology.Range{Start: o.id, End: o.id}
	}
	return topology.Range{Start: p, End: o.id}
}

// nth is the member i places after this node on the ring (i < 0: before);
// zero when there are no members.
func (o *OneHop) nth(i int) wire.NodeID {
	r := o.ring()
	if len(r) < 2 {
		return wire.NodeID{}
	}
	self, _ := slices.BinarySearchFunc(r, o.id, wire.NodeID.Compare)
	j := ((self+i)%len(r) + len(r)) % len(r)
	return r[j]
}

// neighbors returns the nearest Neighbors successors and predecessors,
// nearest first.
func (o *OneHop) neighbors() (succ, pred []wire.NodeID) {
	n := min(o.cfg.Neighbors, len(o.members))
	for i := 1; i <= n; i++ {
		succ = append(succ, o.nth(i))
		pred = append(pred, o.nth(-i))
	}
	return succ, pred
}

// Successors returns the nearest Config.Neighbors successors.
func (o *OneHop) Successors() []wire.NodeID { s, _ := o.neighbors(); return s }

// Predecessors returns the nearest Config.Neighbors predecessors.
func (o *OneHop) Predecessors() []wire.NodeID { _, p := o.neighbors(); return p }

// Fingers returns every other member (not a neighbour), in ring order
// after this node: the host keeps a link to each, so that every lookup
// takes one hop.
func (o *OneHop) Fingers() []wire.NodeID {
	succ, pred := o.neighbors()
	var out []wire.NodeID
	for i := 1; i < len(o.ring()); i++ {
		m := o.nth(i)
		if !slices.Contains(succ, m) && !slices.Contains(pred, m) {
			out = append(out, m)
		}
	}
	return out
}

// ReplicaSet is the next Replicas successors when this peer is
// responsible for id (§10.4), else nil.
func (o *OneHop) ReplicaSet(id []byte) []wire.NodeID {
	if !o.Responsible(id) {
		return nil
	}
	return o.replicaSet()
}

func (o *OneHop) replicaSet() []wire.NodeID {
	s, _ := o.neighbors()
	return s[:min(o.cfg.Replicas, len(s))]
}

// AcceptReplica reports whether a replica or transfer Store signed by from
// is plausible (§10.4): from is a member, or was one until it failed or
// left within the last few request timeouts (a leaving peer's transfer
// may arrive after its Leave). A joining node accepts its admitting
// peer's transfer through the host.
func (o *OneHop) AcceptReplica(_ []byte, from wire.NodeID) bool {
	if o.state != statePeer || from.IsZero() {
		return false
	}
	return o.isMember(from) || slices.ContainsFunc(o.dead, func(e expiring) bool { return e.id == from })
}

// Routes is a ONE-HOP routing snapshot: the ring of members, immutable,
// safe for concurrent use.
type Routes struct {
	id    wire.NodeID
	idLen int
	peer  bool
	ring  []wire.NodeID // members and this node, ascending
}

var _ topology.Routes = (*Routes)(nil)

// resnap makes a new snapshot; it is called on every change of the
// table or the state, so Routes is the same value between changes.
func (o *OneHop) resnap() {
	peer := o.state == statePeer
	ring := make([]wire.NodeID, 0, len(o.members)+1)
	ring = append(ring, o.members...)
	i, _ := slices.BinarySearchFunc(ring, o.id, wire.NodeID.Compare)
	ring = slices.Insert(ring, i, o.id)
	o.snap = &Routes{id: o.id, idLen: o.idLen, peer: peer, ring: ring}
}

// owner is the successor of k on the ring: the peer responsible for k.
func (r *Routes) owner(k wire.NodeID) wire.NodeID {
	i, _ := slices.BinarySearchFunc(r.ring, k, wire.NodeID.Compare)
	if i == len(r.ring) {
		i = 0
	}
	return r.ring[i]
}

// InTable reports whether id is a member.
func (r *Routes) InTable(id wire.NodeID) bool {
	if id == r.id {
		return false
	}
	_, ok := slices.BinarySearchFunc(r.ring, id, wire.NodeID.Compare)
	return ok
}

// Route returns the responsible peer for d (local when it is this node),
// or d's Node-ID when that is a member.
func (r *Routes) Route(d *wire.Destination) (next wire.NodeID, local bool, err error) {
	k, isNode, err := topology.DestPoint(d, r.idLen)
	if err != nil {
		return next, false, err
	}
	if isNode && k == r.id {
		return next, true, nil
	}
	if !r.peer {
		return next, false, topology.ErrNotJoined
	}
	if isNode && r.InTable(k) {
		return k, false, nil
	}
	if o := r.owner(k); o != r.id {
		return o, false, nil
	}
	return next, true, nil
}
