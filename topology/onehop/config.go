package onehop

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/goreload/reload/wire"
)

// Name is the plugin's name in the overlay configuration's
// <topology-plugin> element (RFC 6940 §11.1).
const Name = "ONE-HOP"

// Defaults.
const (
	DefaultNeighbors      = 3
	DefaultReplicas       = 2
	DefaultTickLength     = 100 * time.Millisecond
	DefaultUpdateInterval = 600 * time.Second
	DefaultRequestTimeout = 3 * time.Second
	DefaultHoldDown       = 30 * time.Second
)

// deadTimeouts is how many request timeouts a failed member is remembered.
const deadTimeouts = 5

// Config configures a OneHop. Durations are converted to ticks of
// TickLength (rounded up, at least one tick); zero values take the
// defaults.
type Config struct {
	// ID is this node's Node-ID (16 to 20 bytes).
	ID wire.NodeID
	// Client is not supported: New refuses it.
	Client bool
	// Neighbors is the size of the predecessor and successor sets
	// reported (at least 1); Replicas the number of successors that hold
	// replicas (§10.4: 2), at most Neighbors.
	Neighbors, Replicas int
	// TickLength is the virtual time of one Tick. UpdateInterval is the
	// stabilisation period (the configuration's chord-update-interval).
	TickLength, UpdateInterval time.Duration
	// RequestTimeout is how long the plugin waits for an answer before
	// it declares the target failed, unless HostTimeouts.
	RequestTimeout time.Duration
	// HostTimeouts: the host steps an error answer with a zero From when
	// its transaction gives up on a request (RFC 6940 §6.2.1); requests
	// get no deadline of their own.
	HostTimeouts bool
	// HoldDown delays EventReplicaSetChanged after a failure (§10.7.1).
	HoldDown time.Duration
	// NumResources reports the number of resources stored, for Probes;
	// nil answers 0.
	NumResources func() uint32
	// Rand is the only source of randomness. Required.
	Rand *rand.Rand
}

// Errors of New.
var (
	ErrConfigID     = errors.New("onehop: Config.ID is not a valid Node-ID")
	ErrConfigSizes  = errors.New("onehop: Config.Neighbors must be at least 1 and Replicas within 0..Neighbors")
	ErrConfigRand   = errors.New("onehop: Config.Rand is required")
	ErrConfigTime   = errors.New("onehop: Config durations must not be negative")
	ErrConfigClient = errors.New("onehop: clients are not supported by the ONE-HOP topology")
)

func (c *Config) validate() error {
	if !c.ID.Valid() || c.ID.IsWildcard() {
		return ErrConfigID
	}
	if c.Client {
		return ErrConfigClient
	}
	if c.Rand == nil {
		return ErrConfigRand
	}
	if c.Neighbors == 0 {
		c.Neighbors = DefaultNeighbors
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Neighbors < 1 || c.Replicas < 0 || c.Replicas > c.Neighbors {
		return ErrConfigSizes
	}
	for _, d := range []*time.Duration{&c.TickLength, &c.UpdateInterval, &c.RequestTimeout, &c.HoldDown} {
		if *d < 0 {
			return ErrConfigTime
		}
		if *d == 0 {
			switch d {
			case &c.TickLength:
				*d = DefaultTickLength
			case &c.UpdateInterval:
				*d = DefaultUpdateInterval
			case &c.RequestTimeout:
				*d = DefaultRequestTimeout
			case &c.HoldDown:
				*d = DefaultHoldDown
			}
		}
	}
	return nil
}

func (c *Config) ticks(d time.Duration) int64 {
	return max(int64((d+c.TickLength-1)/c.TickLength), 1)
}
