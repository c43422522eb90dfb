package node

import (
	"cmp"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/topology/onehop"
)

// TopologyPlugins are the names of the topology plugins a node can run,
// as the overlay configuration's <topology-plugin> names them (RFC 6940
// §11.1): CHORD-RELOAD (§10, the default) and ONE-HOP (package
// topology/onehop, a full-membership one-hop topology for small
// overlays).
var TopologyPlugins = []string{config.DefaultTopologyPlugin, onehop.Name}

// newPlugin makes the topology plugin the configuration names, with the
// node's settings; replicas is its replica count (RFC 6940 §10.4). An
// unknown name is an error: every peer of an overlay must run the same
// plugin.
func newPlugin(cfg *Config, r *mrand.Rand) (p topology.Plugin, replicas int, err error) {
	ov := cfg.Overlay
	timeout := ov.OverlayReliabilityTimer
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	name := ov.TopologyPlugin
	if name == "" {
		name = config.DefaultTopologyPlugin
	}
	switch {
	case strings.EqualFold(name, config.DefaultTopologyPlugin):
		ccfg := chord.DefaultConfig(cfg.Identity.NodeID(), r)
		ccfg.Client = cfg.Client
		ccfg.TickLength = cfg.TickLength
		ccfg.Reactive = ov.ChordReactive
		if ov.ChordUpdateInterval > 0 {
			ccfg.UpdateInterval = ov.ChordUpdateInterval
		}
		if ov.ChordPingInterval > 0 {
			ccfg.PingInterval = ov.ChordPingInterval
		}
		ccfg.RequestTimeout = timeout
		// RFC 7363 §7: self-tuning when the overlay lists its namespace.
		if ccfg.SelfTuning, ccfg.PeersToProbe, err = ov.SelfTuning(); err != nil {
			return nil, 0, err
		}
		ccfg.NumResources = func() uint32 { return 0 }
		// The transaction layer's timeout (§6.2.1) is the only one: the
		// host reports it to chord.
		ccfg.HostTimeouts = true
		c, err := chord.New(ccfg)
		if err != nil {
			return nil, 0, fmt.Errorf("chord: %w", err)
		}
		return c, cmp.Or(ccfg.Replicas, chord.DefaultReplicas), nil
	case strings.EqualFold(name, onehop.Name):
		ocfg := onehop.Config{ID: cfg.Identity.NodeID(), Client: cfg.Client, TickLength: cfg.TickLength,
			UpdateInterval: ov.ChordUpdateInterval, RequestTimeout: timeout, HostTimeouts: true,
			NumResources: func() uint32 { return 0 }, Rand: r}
		o, err := onehop.New(ocfg)
		if err != nil {
			return nil, 0, err
		}
		return o, onehop.DefaultReplicas, nil
	}
	return nil, 0, fmt.Errorf("unknown topology-plugin %q in the overlay configuration (this node runs %s)", name, strings.Join(TopologyPlugins, ", "))
}

// topoStats are the maintenance counters of the topology plugin, for
// metrics; a plugin without some of them reports zero.
type topoStats struct {
	Stabilizations, UpdatesSent, UpdatesReceived, PeerFailures, Rejoins uint64
	PartitionChecks, PartitionsFound                                    uint64
}

func pluginStats(p topology.Plugin) topoStats {
	switch p := p.(type) {
	case *chord.Chord:
		s := p.Stats()
		return topoStats{s.Stabilizations, s.UpdatesSent, s.UpdatesReceived, s.PeerFailures, s.Rejoins, s.PartitionChecks, s.PartitionsFound}
	case *onehop.OneHop:
		s := p.Stats()
		return topoStats{Stabilizations: s.Stabilizations, UpdatesSent: s.UpdatesSent, UpdatesReceived: s.UpdatesReceived, PeerFailures: s.PeerFailures}
	}
	return topoStats{}
}

// pluginState is the plugin's life-cycle state for diagnostics ("" when
// it does not say).
func pluginState(p topology.Plugin) string {
	if s, ok := p.(interface{ State() string }); ok {
		return s.State()
	}
	return ""
}
