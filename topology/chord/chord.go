package chord

import (
	"slices"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// state is the life-cycle state of a Chord; each has its own step function.
type state uint8

const (
	stateIdle state = iota
	stateJoining
	statePeer
	stateClient // a client attached (or attaching) to its responsible peer
	stateLeaving
	stateLeft
)

func (s state) String() string {
	return [...]string{"idle", "joining", "peer", "client", "leaving", "left"}[s]
}

// reqKind says what one of the plugin's outstanding requests was for.
type reqKind uint8

const (
	reqUpdate     reqKind = iota // Update to a neighbour: timeout = failure
	reqVerify                    // Update to an unverified candidate
	reqPeerReady                 // peer_ready connectivity check of a finger
	reqFingerPing                // Ping routed to a finger start
	reqJoin                      // the Join
	reqLeave                     // a Leave to a neighbour
	reqAttach                    // a client's RouteQuery for its own Node-ID
	reqInfo                      // an Update nobody waits for: timeouts ignored
	reqVouch                     // RouteQuery to a member about a stranger (hint)
	reqSelfCheck                 // RouteQuery to the successor about this peer
	reqRejoin                    // Join sent again to a successor that does not know us
	reqPartition                 // Ping to our own Node-ID through a bootstrap peer (§10.7.4.4)
	reqTuneProbe                 // Probe sharing self-tuning estimates with a finger (RFC 7363 §6.5)
)

type request struct {
	token    uint64
	kind     reqKind
	to       wire.NodeID // direct target; zero for routed requests
	finger   int
	deadline int64
	about    wire.NodeID // reqVouch: the stranger asked about
	via      wire.NodeID // reqPartition: the bootstrap peer the Ping went through
}

// retry is a neighbour candidate to verify again at 'at' (0: not
// scheduled), after 'tries' refusals.
type retry struct {
	id    wire.NodeID
	at    int64
	tries int
}

// early is an Update a joining node received before the answer to its
// Join (see holdEarly).
type early struct {
	from wire.NodeID
	ids  []wire.NodeID
}

type expiring struct {
	id    wire.NodeID
	until int64
	// dead entries only: what the failed peer was (see Chord.failed).
	member, neighbor bool
}

// Chord is a CHORD-RELOAD topology plugin (RFC 6940 §10). It is not safe
// for concurrent use; see package topology for the contract.
type Chord struct {
	cfg   Config
	id    wire.NodeID
	idLen int
	step  func(c *Chord, in *topology.Incoming) error
	state state

	now, started                           int64
	updateEvery, pingEvery, timeout, holdT int64
	nextUpdate, nextPing                   int64

	succ, pred  []wire.NodeID
	fingers     []wire.NodeID // slot i-1 holds finger i; zero = none
	fingerStart []wire.NodeID // id + 2^(bits-i)
	searching   []bool        // a finger search is outstanding for the slot

	pending []expiring // unverified neighbour candidates
	// reverify holds candidates whose verification Update was refused
	// (a peer still joining refuses it, §10.5) and is tried again.
	reverify []retry
	dead     []expiring // failed peers ignored in gossip until 'until'
	reqs     []request
	token    uint64

	dirty       bool // neighbour table changed: reactive Update due
	mustUpdate  bool // an Update to all neighbours is due regardless of mode
	except      wire.NodeID
	lastCorrect map[wire.NodeID]int64
	// deferredCorrect holds the peers owed a correction that the rate
	// limit held back; Tick sends it when the limit runs out. It and
	// lastCorrect are nil while empty, so that an idle Tick does not
	// load them (in a simulation of many nodes that load was a tenth of
	// the run's time).
	deferredCorrect map[wire.NodeID]bool

	checkedSucc wire.NodeID    // the successor last asked whether it knows us
	rejoinedTo  wire.NodeID    // the successor rejoin last sent a Join to
	rejoinedAt  int64          // and when
	recheckAt   int64          // when to selfCheck again (0: not scheduled)
	rechecks    int            // rechecks scheduled for the current successor
	resp        topology.Range // last announced responsible range
	replicas    []wire.NodeID  // last announced replica set
	replicaDue  int64          // -1: none due
	failureSeen bool           // the current change comes from a failure

	// joining
	bootstrap   []wire.NodeID
	bootIdx     int
	joinToken   uint64
	joinAns     bool
	ap          wire.NodeID // the peer that answered our Join
	early       []early     // Updates naming us received before the JoinAns
	joinRetryAt int64
	apWait      int64
	// firstNode: this node may found the overlay (see SetFirstNode).
	firstNode bool
	// client
	peer wire.NodeID
	// clients that attached to this peer (RouteQuery for their own id
	// answered locally); they get an Update when the range changes.
	clients []wire.NodeID
	// leaving
	leaveLeft int

	msgs   []topology.Outgoing
	events []topology.Event
	nMsgs  int
	nEvts  int

	upd   wire.ChordUpdate
	leave wire.ChordLeaveData

	key       ringKey   // ringKeyOf(id)
	fingerKey []ringKey // ringKeyOf(fingerStart[i])

	stats Stats
	// tune is the self-tuning state (RFC 7363); nil when off.
	tune *tuner
	// snap is the last Routes snapshot.
	snap *Routes
}

var _ topology.Plugin = (*Chord)(nil)

// New validates cfg and returns an idle Chord; call Start, Join or (for a
// client) Join next.
func New(cfg Config) (*Chord, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Chord{cfg: cfg, id: cfg.ID, idLen: cfg.ID.Len(), replicaDue: -1, key: ringKeyOf(cfg.ID)}
	c.updateEvery = cfg.ticks(cfg.UpdateInterval)
	c.pingEvery = cfg.ticks(cfg.PingInterval)
	c.timeout = cfg.ticks(cfg.RequestTimeout)
	c.holdT = cfg.ticks(cfg.HoldDown)
	c.fingers = make([]wire.NodeID, cfg.Fingers)
	c.searching = make([]bool, cfg.Fingers)
	c.fingerStart = make([]wire.NodeID, cfg.Fingers)
	bits := 8 * c.idLen
	for i := range c.fingerStart {
		c.fingerStart[i] = topology.AddPow2(c.id, bits-(i+1))
	}
	c.fingerKey = make([]ringKey, cfg.Fingers)
	for i, s := range c.fingerStart {
		c.fingerKey[i] = ringKeyOf(s)
	}
	c.upd.IDLen = c.idLen
	c.leave.IDLen = c.idLen
	if cfg.SelfTuning {
		c.tune = newTuner(c)
	}
	c.become(stateIdle)
	return c, nil
}

func (c *Chord) become(s state) {
	c.state = s
	switch s {
	case stateIdle:
		c.step = stepIdle
	case stateJoining:
		c.step = stepJoining
	case statePeer:
		c.step = stepPeer
	case stateClient:
		c.step = stepClient
	case stateLeaving:
		c.step = stepLeaving
	case stateLeft:
		c.step = stepLeft
	}
}

// ID is this node's Node-ID.
func (c *Chord) ID() wire.NodeID { return c.id }

// State is the life-cycle state, for diagnostics: idle, joining, peer,
// client, leaving or left.
func (c *Chord) State() string { return c.state.String() }

// Joined reports whether the node is a peer in the ring, or a client
// attached to its responsible peer.
func (c *Chord) Joined() bool {
	return c.state == statePeer || (c.state == stateClient && !c.peer.IsZero())
}

// Now is the number of ticks since New.
func (c *Chord) Now() int64 { return c.now }

// Uptime is the time since Start or Join, in seconds.
func (c *Chord) Uptime() uint32 {
	if c.state == stateIdle {
		return 0
	}
	return uint32(int64(c.cfg.TickLength) * (c.now - c.started) / 1e9)
}

// Predecessors returns a copy of the predecessor set, nearest first.
func (c *Chord) Predecessors() []wire.NodeID { return slices.Clone(c.pred) }

// Successors returns a copy of the successor set, nearest first.
func (c *Chord) Successors() []wire.NodeID { return slices.Clone(c.succ) }

// Fingers returns the distinct finger table entries in table order
// (finger 1, halfway round the ring, first).
func (c *Chord) Fingers() []wire.NodeID {
	var out []wire.NodeID
	for _, f := range c.fingers {
		if !f.IsZero() && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// FingerTable returns finger i (1-based) for i = 1..Fingers, zero where
// the slot is empty.
func (c *Chord) FingerTable() []wire.NodeID { return slices.Clone(c.fingers) }

// FingerStart is the start of finger i's range, id + 2^(bits-i) (§10.5).
func (c *Chord) FingerStart(i int) wire.NodeID { return c.fingerStart[i-1] }

// AttachedPeer is a client's responsible peer (zero when detached).
func (c *Chord) AttachedPeer() wire.NodeID { return c.peer }

// ResponsibleRange is the range (predecessor, self] this peer is
// responsible for; ok is false unless the node is a peer.
func (c *Chord) ResponsibleRange() (topology.Range, bool) {
	if c.state != statePeer {
		return topology.Range{}, false
	}
	return c.respRange(), true
}

func (c *Chord) respRange() topology.Range {
	if len(c.pred) == 0 {
		return topology.Range{Start: c.id, End: c.id}
	}
	return topology.Range{Start: c.pred[0], End: c.id}
}

// Responsible reports whether this peer is responsible for Resource-ID id
// (§10.1): id in (predecessor, self].
func (c *Chord) Responsible(id []byte) bool {
	if c.state != statePeer {
		return false
	}
	return c.responsibleFor(topology.Point(id, c.idLen))
}

func (c *Chord) responsibleFor(k wire.NodeID) bool { v := c.view(); return v.responsibleFor(k) }

// ReplicaSet returns the peers that hold replicas of data at Resource-ID
// id when this peer is responsible for it: the next Replicas successors
// (§10.4). It returns nil when this peer is not responsible.
func (c *Chord) ReplicaSet(id []byte) []wire.NodeID {
	if !c.Responsible(id) {
		return nil
	}
	return slices.Clone(c.replicaSet())
}

// AcceptReplica reports whether a replica or transfer Store
// (replica_number > 0) signed by from is plausible, as storage's
// Topology asks (RFC 6940 §7.4.1.1, §10.4): from is a neighbour (replicas
// come from the responsible peer, a predecessor; a joining node's data
// from the admitting peer, a successor, §10.5 step 6), the admitting peer
// of this joining node (the peer that answered our Join, or before that
// answer a peer whose Update named us as its predecessor, see holdEarly),
// or a peer that was a neighbour when it was removed from the tables
// within the last deadTimeouts request timeouts, because a leaving peer's
// transfer of its range (§10.9) may arrive after its Leave. Neighbours
// are admitted only as the package documentation says, so a node that
// never joined cannot push replicas by claiming a place in the ring. The
// Resource-ID is not checked.
func (c *Chord) AcceptReplica(_ []byte, from wire.NodeID) bool {
	switch c.state {
	case statePeer:
	case stateJoining:
		if from.IsZero() {
			return false
		}
		if from == c.ap || slices.ContainsFunc(c.early, func(e early) bool { return e.from == from }) {
			return true
		}
	default:
		return false
	}
	_, wasNeighbor := c.deadAs(from)
	return c.isNeighbor(from) || wasNeighbor
}

func (c *Chord) replicaSet() []wire.NodeID {
	return c.succ[:min(c.cfg.Replicas, len(c.succ))]
}

// InTable reports whether n is in the routing table (neighbours and
// fingers): a peer of the ring as far as this node knows, unlike a node
// that is merely connected (a client, or a node still joining through
// this one as its bootstrap peer).
func (c *Chord) InTable(n wire.NodeID) bool { return c.inTable(n) }

// inTable reports whether n is in the routing table (neighbours and
// fingers).
func (c *Chord) inTable(n wire.NodeID) bool { v := c.view(); return v.inTable(n) }

func (c *Chord) isNeighbor(n wire.NodeID) bool {
	return slices.Contains(c.succ, n) || slices.Contains(c.pred, n)
}

// neighbors is the union of predecessors and successors, successors first.
func (c *Chord) neighbors() []wire.NodeID {
	out := slices.Clone(c.succ)
	for _, p := range c.pred {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Route picks the next hop for a message whose first destination is d
// (§10.3). It does not allocate.
func (c *Chord) Route(d *wire.Destination) (next wire.NodeID, local bool, err error) {
	v := c.view()
	return v.Route(d)
}

// view is the state routing reads: the plugin's own tables, or the
// copies a Routes snapshot holds.
type view struct {
	id                  wire.NodeID
	idLen               int
	state               state
	peer                wire.NodeID
	succ, pred, fingers []wire.NodeID
	strict              bool
}

func (c *Chord) view() view {
	return view{id: c.id, idLen: c.idLen, state: c.state, peer: c.peer, succ: c.succ, pred: c.pred, fingers: c.fingers, strict: c.cfg.StrictRouting}
}

func (c *view) inTable(n wire.NodeID) bool {
	for i := range c.succ {
		if c.succ[i] == n {
			return true
		}
	}
	for i := range c.pred {
		if c.pred[i] == n {
			return true
		}
	}
	for i := range c.fingers {
		if c.fingers[i] == n {
			return true
		}
	}
	return false
}

func (c *view) responsibleFor(k wire.NodeID) bool {
	if len(c.pred) == 0 {
		return true // alone in the ring
	}
	return topology.InOC(c.pred[0], k, c.id)
}

// Route is Chord.Route over the view.
func (c *view) Route(d *wire.Destination) (next wire.NodeID, local bool, err error) {
	k, isNode, err := topology.DestPoint(d, c.idLen)
	if err != nil {
		return next, false, err
	}
	return c.route(k, isNode)
}

// route is Route for a point k of the ring.
func (c *view) route(k wire.NodeID, isNode bool) (wire.NodeID, bool, error) {
	var zero wire.NodeID
	if isNode && k == c.id {
		return zero, true, nil
	}
	switch c.state {
	case statePeer:
	case stateClient:
		if c.peer.IsZero() {
			return zero, false, topology.ErrNotJoined
		}
		return c.peer, false, nil
	default:
		return zero, false, topology.ErrNotJoined
	}
	// "If a peer is not responsible for a Resource-ID k, but is directly
	// connected to a node with Node-ID k, then it MUST route the message
	// to that node."
	if isNode && c.inTable(k) {
		return k, false, nil
	}
	if c.responsibleFor(k) {
		return zero, true, nil
	}
	if !c.strict {
		// The neighbour table is contiguous: when k lies between two
		// consecutive entries, the later one is the peer responsible for
		// k, to which this peer is directly connected (§10.3, first rule).
		prev := c.id
		for _, s := range c.succ {
			if topology.InOC(prev, k, s) {
				return s, false, nil
			}
			prev = s
		}
		next := c.id
		for _, p := range c.pred {
			if next != c.id && topology.InOC(p, k, next) {
				return next, false, nil
			}
			next = p
		}
	}
	// "Otherwise, it MUST route the request to the peer in the Routing
	// Table that has the largest Node-ID that is in the interval between
	// the peer and k. If no such node is found, the peer finds the
	// smallest Node-ID that is greater than k".
	var best, after wire.NodeID
	consider := func(n wire.NodeID) {
		if n.IsZero() {
			return
		}
		if topology.InOC(c.id, n, k) {
			if best.IsZero() || (best != k && topology.InOC(best, n, k)) {
				best = n
			}
		} else if best.IsZero() && (after.IsZero() || topology.InOO(k, n, after)) {
			after = n
		}
	}
	for _, n := range c.succ {
		consider(n)
	}
	for _, n := range c.pred {
		consider(n)
	}
	for _, n := range c.fingers {
		consider(n)
	}
	if !best.IsZero() {
		return best, false, nil
	}
	if !after.IsZero() {
		return after, false, nil
	}
	return zero, true, nil
}
