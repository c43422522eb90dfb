package chord

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/goreload/reload/wire"
)

// Defaults (RFC 6940 §10.7, §10.7.1, §10.7.4; CODEPOINTS.md "Chord").
const (
	DefaultSuccessors     = 3
	DefaultPredecessors   = 3
	DefaultFingers        = 16
	DefaultReplicas       = 2
	DefaultTickLength     = 100 * time.Millisecond
	DefaultUpdateInterval = 600 * time.Second  // chord-update-interval, §10.7.4.1
	DefaultPingInterval   = 3600 * time.Second // chord-ping-interval, §10.7.4.2
	DefaultRequestTimeout = 3 * time.Second
	DefaultHoldDown       = 30 * time.Second // successor replacement hold-down, §10.7.1
)

// Config configures a Chord. Durations are converted to ticks of
// TickLength (rounded up, at least one tick); zero values take the
// defaults above, except Reactive, whose zero value is periodic recovery:
// copy config.Config.ChordReactive (default true) into it, or start from
// DefaultConfig.
type Config struct {
	// ID is this node's Node-ID; its length is the overlay's
	// node-id-length (16 to 20 bytes).
	ID wire.NodeID
	// Client makes the node a client (RFC 6940 §4.2): it attaches to the
	// peer responsible for its Node-ID, routes everything through that
	// peer and is never responsible for anything.
	Client bool

	// Successors and Predecessors are the neighbour set sizes (at least
	// 3, §10.7). Fingers is the finger table size (1 to 8·idLen, 16 by
	// default, §10.7.4.3). Replicas is the number of successors that hold
	// replicas (§10.4: 2).
	Successors, Predecessors, Fingers, Replicas int

	// TickLength is the virtual time of one Tick.
	TickLength time.Duration
	// UpdateInterval is chord-update-interval, PingInterval
	// chord-ping-interval and Reactive chord-reactive (§11.1).
	UpdateInterval, PingInterval time.Duration
	Reactive                     bool
	// RequestTimeout is how long the plugin waits for the answer to one of
	// its requests before it declares the target failed (Update) or
	// retries (Join).
	RequestTimeout time.Duration
	// HostTimeouts gives the requests no deadline of their own: the host
	// steps an error answer with a zero From when its transaction layer
	// gives up on one (see Step), so that one timer, the transaction's,
	// decides (RFC 6940 §6.2.1). RequestTimeout still paces join retries
	// and how long failed peers are remembered.
	HostTimeouts bool
	// HoldDown is the successor replacement hold-down time (§10.7.1):
	// EventReplicaSetChanged after a successor failure waits this long.
	HoldDown time.Duration

	// StrictRouting applies the §10.3 rule literally: the next hop is
	// the routing-table peer with the largest Node-ID in (self, k], else
	// the smallest after k. By default a peer that knows the responsible
	// peer for k from its contiguous neighbour table (k between two
	// consecutive successors or predecessors) sends the message straight
	// to it, which saves the last hop of most lookups.
	StrictRouting bool

	// SelfTuning turns on self-tuning CHORD-RELOAD (RFC 7363): the peer
	// estimates the overlay size, failure and join rates, shares them in
	// Probes with PeersToProbe fingers (number-of-peers-to-probe, 4 by
	// default), and sets its stabilisation interval between
	// MinUpdateInterval (15 s by default, §6.6) and MaxUpdateInterval
	// (UpdateInterval by default, which is also the first interval) and
	// its table sizes from them. Recovery is then periodic (§5), and the
	// periodic Update goes to the first successor and predecessor only
	// (§5.2). See SelfTuning.
	SelfTuning                           bool
	PeersToProbe                         int
	MinUpdateInterval, MaxUpdateInterval time.Duration

	// NumResources reports the number of resources stored, for
	// num_resources Probes; nil answers 0.
	NumResources func() uint32
	// Rand is the only source of randomness (stabilisation offsets,
	// finger search). Required.
	Rand *rand.Rand
}

// DefaultConfig is the CHORD-RELOAD default configuration for id: reactive
// recovery, 3 successors and predecessors, 16 fingers.
func DefaultConfig(id wire.NodeID, r *rand.Rand) Config {
	return Config{ID: id, Reactive: true, Rand: r}
}

// Errors of New.
var (
	ErrConfigID    = errors.New("chord: Config.ID is not a valid Node-ID")
	ErrConfigSizes = errors.New("chord: Config neighbour set sizes must be at least 3 and fingers within 1..8·idLen")
	ErrConfigRand  = errors.New("chord: Config.Rand is required")
	ErrConfigTime  = errors.New("chord: Config durations must not be negative")
)

func (c *Config) validate() error {
	if !c.ID.Valid() || c.ID.IsWildcard() {
		return ErrConfigID
	}
	if c.Rand == nil {
		return ErrConfigRand
	}
	if c.Successors == 0 {
		c.Successors = DefaultSuccessors
	}
	if c.Predecessors == 0 {
		c.Predecessors = DefaultPredecessors
	}
	if c.Fingers == 0 {
		c.Fingers = DefaultFingers
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Successors < 3 || c.Predecessors < 3 || c.Fingers < 1 || c.Fingers > 8*c.ID.Len() ||
		c.Replicas < 0 || c.Replicas > c.Successors {
		return ErrConfigSizes
	}
	for _, d := range []*time.Duration{&c.TickLength, &c.UpdateInterval, &c.PingInterval, &c.RequestTimeout, &c.HoldDown, &c.MinUpdateInterval, &c.MaxUpdateInterval} {
		if *d < 0 {
			return ErrConfigTime
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.TickLength, DefaultTickLength)
	def(&c.UpdateInterval, DefaultUpdateInterval)
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.HoldDown, DefaultHoldDown)
	if c.SelfTuning {
		if c.PeersToProbe < 0 {
			return ErrConfigSizes
		}
		if c.PeersToProbe == 0 {
			c.PeersToProbe = DefaultPeersToProbe
		}
		def(&c.MinUpdateInterval, DefaultMinUpdateInterval)
		def(&c.MaxUpdateInterval, c.UpdateInterval)
		c.Reactive = false // RFC 7363 §5: "the periodic recovery strategy is used"
	}
	return nil
}

// ticks converts d to ticks, rounding up, at least 1.
func (c *Config) ticks(d time.Duration) int64 {
	t := int64((d + c.TickLength - 1) / c.TickLength)
	if t < 1 {
		t = 1
	}
	return t
}
