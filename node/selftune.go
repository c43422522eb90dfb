package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
)

// SelfTuningStatus is a self-tuning peer's state (RFC 7363 §6), in Status.
type SelfTuningStatus struct {
	// NetworkSize is the overlay size estimate in use (the 75th
	// percentile of this peer's and the estimates shared with it, §6.5);
	// LocalSize this peer's own, from its neighbourhood density (§6.1).
	NetworkSize float64 `json:"network_size"`
	LocalSize   float64 `json:"local_size"`
	// FailureRate is the per-peer failure rate U, failures per second
	// (§6.3); JoinRate the overlay's join rate L, joins per second (§6.4).
	FailureRate float64 `json:"failure_rate"`
	JoinRate    float64 `json:"join_rate"`
	// UpdateInterval is the stabilisation interval (§6.6).
	UpdateInterval string `json:"update_interval"`
	// Successors, Predecessors and Fingers are the table sizes (§6.2).
	Successors   int `json:"successor_list_size"`
	Predecessors int `json:"predecessor_list_size"`
	Fingers      int `json:"finger_table_size"`
}

// pluginSelfTuning is the topology plugin's self-tuning state; ok is false
// when it does not self-tune.
func pluginSelfTuning(p topology.Plugin) (chord.SelfTuning, bool) {
	if c, ok := p.(*chord.Chord); ok {
		return c.SelfTuning()
	}
	return chord.SelfTuning{}, false
}

// selfTuningStatus is the Status view of the plugin's self-tuning state
// (nil when it does not self-tune). It runs on the loop.
func selfTuningStatus(p topology.Plugin) *SelfTuningStatus {
	st, ok := pluginSelfTuning(p)
	if !ok {
		return nil
	}
	return &SelfTuningStatus{NetworkSize: st.NetworkSize, LocalSize: st.LocalSize, FailureRate: st.FailureRate,
		JoinRate: st.JoinRate, UpdateInterval: st.UpdateInterval.String(),
		Successors: st.Successors, Predecessors: st.Predecessors, Fingers: st.Fingers}
}

var (
	descTuneSize     = desc("selftune_network_size", "Overlay size estimate in use by self-tuning CHORD-RELOAD (RFC 7363 §6.1, §6.5); absent when self-tuning is off.")
	descTuneLocal    = desc("selftune_local_network_size", "This peer's own overlay size estimate from its neighbourhood density (RFC 7363 §6.1).")
	descTuneFailure  = desc("selftune_failure_rate", "Estimated per-peer failure rate U in failures per second (RFC 7363 §6.3).")
	descTuneJoin     = desc("selftune_join_rate", "Estimated overlay join rate L in joins per second (RFC 7363 §6.4).")
	descTuneInterval = desc("selftune_update_interval_seconds", "Stabilisation interval set by self-tuning (RFC 7363 §6.6).")
)

// selfTuneCollector exports the self-tuning estimates (RFC 7363).
type selfTuneCollector struct{ n *Node }

func (c selfTuneCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTuneSize, descTuneLocal, descTuneFailure, descTuneJoin, descTuneInterval} {
		ch <- d
	}
}

func (c selfTuneCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	if n.ch == nil {
		return
	}
	// Read on the loop into a value of its own, which is given up if the
	// loop does not get to it in time (the closure may still run later).
	type result struct {
		st chord.SelfTuning
		ok bool
	}
	r := new(result)
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	err := n.do(ctx, func() { r.st, r.ok = pluginSelfTuning(n.ch) })
	cancel()
	if err != nil {
		return
	}
	st, ok := r.st, r.ok
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descTuneSize, st.NetworkSize)
	gauge(descTuneLocal, st.LocalSize)
	gauge(descTuneFailure, st.FailureRate)
	gauge(descTuneJoin, st.JoinRate)
	gauge(descTuneInterval, st.UpdateInterval.Seconds())
}
