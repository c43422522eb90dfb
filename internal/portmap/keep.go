package portmap

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// KeepConfig configures a Keeper.
type KeepConfig struct {
	Config
	// Protocol ("udp" or "tcp") and Port to map.
	Protocol string
	Port     uint16
	// Lease asked for (default 1 hour); the mapping is renewed at half
	// of the lease granted.
	Lease time.Duration
	// Retry is the wait after a failed discovery or mapping (default 1
	// minute).
	Retry time.Duration
	// OnChange, when set, is called from the Keeper's goroutine with the
	// new mapping, or ok false when it was lost.
	OnChange func(m Mapping, ok bool)
	// OnError, when set, is told of each failed attempt.
	OnError func(error)
}

// Keeper keeps one port mapped: it discovers the gateway, maps the port,
// renews the mapping at half its lease (rediscovering the gateway when a
// renewal fails) and removes it on Close.
type Keeper struct {
	cfg    KeepConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	m       Mapping
	ok      bool
	expires time.Time
	gw      *Gateway
	err     error
}

// Keep starts a Keeper.
func Keep(cfg KeepConfig) *Keeper {
	if cfg.Lease <= 0 {
		cfg.Lease = time.Hour
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Keeper{cfg: cfg, cancel: cancel, done: make(chan struct{})}
	go k.run(ctx)
	return k
}

// Mapping is the current mapping, ok false when there is none.
func (k *Keeper) Mapping() (m Mapping, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m, k.ok
}

// Err is the last error, nil after a success.
func (k *Keeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *Keeper) run(ctx context.Context) {
	defer close(k.done)
	var gw *Gateway
	for {
		wait := k.cfg.Retry
		m, err := k.attempt(ctx, &gw)
		if ctx.Err() != nil {
			return
		}
		k.mu.Lock()
		k.err = err
		prev, had := k.m, k.ok
		if err == nil {
			k.m, k.ok, k.gw = m, true, gw
			k.expires = time.Now().Add(m.Lease)
			wait = max(m.Lease/2, time.Second)
		}
		expired := had && err != nil && time.Now().After(k.expires)
		if expired {
			k.ok = false
		}
		k.mu.Unlock()
		switch {
		case err == nil && (!had || prev.External != m.External):
			if k.cfg.OnChange != nil {
				k.cfg.OnChange(m, true)
			}
		case err != nil:
			gw = nil // rediscover next time
			if k.cfg.OnError != nil {
				k.cfg.OnError(err)
			}
			// A mapping whose lease ran out is lost.
			if expired && k.cfg.OnChange != nil {
				k.cfg.OnChange(prev, false)
			}
		}
		// Jitter of up to a tenth keeps many nodes behind one
		// gateway from renewing together.
		wait += rand.N(wait/10 + 1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (k *Keeper) attempt(ctx context.Context, gw **Gateway) (Mapping, error) {
	if *gw == nil {
		g, err := Discover(ctx, k.cfg.Config)
		if err != nil {
			return Mapping{}, err
		}
		*gw = g
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return (*gw).Map(ctx, k.cfg.Protocol, k.cfg.Port, k.cfg.Lease)
}

// Close stops renewing and removes the mapping (waiting at most a few
// seconds for the gateway).
func (k *Keeper) Close() error {
	k.cancel()
	<-k.done
	k.mu.Lock()
	m, ok, gw := k.m, k.ok, k.gw
	k.ok = false
	k.mu.Unlock()
	if !ok || gw == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return gw.Unmap(ctx, m)
}
