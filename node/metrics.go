package node

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/monitor"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// metrics is the node's side of its Prometheus metrics: the counters the
// lower layers cannot keep (they do not import Prometheus), and the
// registry whose collector reads every layer's counters at scrape time.
type metrics struct {
	links transport.Counters // shared by every link of the node

	sipRegistered, sipRegisterFailed atomic.Uint64
	sipConnsOut, sipConnsIn          atomic.Uint64
	// sipAuth counts digest authentications of local user agents by
	// outcome: ok, challenged, forbidden, malformed.
	sipAuth [4]atomic.Uint64

	// fetchDiscarded counts fetched values that failed verification
	// (RFC 6940 §7.4.2.2).
	fetchDiscarded atomic.Uint64

	reg *prometheus.Registry
}

// hopBuckets are the upper bounds of reload_answer_hops.
var hopBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("reload_"+name, help, labels, nil)
}

var (
	descInfo = desc("node_info", "This node: its Node-ID and overlay (always 1).", "node_id", "overlay")

	descMsgSent = desc("messages_sent_total",
		"RELOAD messages this node originated or answered, by message code name (method) and result: ok, dropped (not routed), or the error code name of an error response.",
		"method", "result")
	descMsgRcvd = desc("messages_received_total",
		"RELOAD messages delivered to this node, by message code name (method) and result: ok, dropped (bad signature, duplicate, …), or the error code name of an error response.",
		"method", "result")
	descForwarded      = desc("messages_forwarded_total", "Messages forwarded for other nodes (transit).")
	descForwardedBytes = desc("forwarded_bytes_total", "Bytes of the messages forwarded for other nodes.")
	descDropped        = desc("messages_dropped_total", "Received messages the routing core discarded (malformed, unknown opaque id, …).")
	descQueueFull      = desc("messages_queue_full_total", "Messages not sent because the link to the next hop had its send queue full (a neighbour that reads slowly or not at all).")
	descRetrans        = desc("request_retransmissions_total", "End-to-end retransmissions of this node's requests (RFC 6940 §6.2.1).")
	descTimeouts       = desc("request_timeouts_total", "Requests of this node that failed with Error_Request_Timeout after the last transmission.")
	descHops           = desc("answer_hops", "Overlay hops the answers to this node's requests travelled (via list length + 1).")

	descLinks           = desc("links", "Links in the connection table, by overlay link type.", "transport")
	descLinkEstablished = desc("link_establishments_total", "Links established ((D)TLS handshake done), by overlay link type.", "transport")
	descLinkHandshake   = desc("link_handshake_failures_total", "(D)TLS handshakes that gave no link, by overlay link type.", "transport")
	descLinkClosed      = desc("links_closed_total", "Links that ended, by overlay link type.", "transport")
	descLinkFailed      = desc("link_failures_total", "Links that failed (no acknowledgement, broken connection) rather than being closed, by overlay link type.", "transport")
	descFramesSent      = desc("link_frames_sent_total", "DATA frames sent on links, retransmissions and keepalives included.")
	descFramesRcvd      = desc("link_frames_received_total", "DATA frames received on links.")
	descFrameRetrans    = desc("link_retransmissions_total", "DATA frames retransmitted by the link reliability layer (RFC 6940 §6.6.3).")
	descHSPending       = desc("inbound_handshakes_pending", "TLS handshakes in progress on connections the listener accepted.")
	descHSEvicted       = desc("inbound_handshakes_evicted_total", "Inbound TLS connections closed before their handshake finished to make room for newer ones, the pending-handshake limits being reached.")
	descNotResponsible  = desc("answers_not_responsible_total", "Answers to this node's requests to a Resource-ID dropped because their signer was farther from it than a node of the Neighbor Table (RFC 6940 section 6.3.4).")

	descStoreValues = desc("storage_values", "Values stored on this peer, by kind.", "kind")
	descStoreBytes  = desc("storage_bytes", "Size of the values stored on this peer as StoredData, by kind.", "kind")
	descStorePruned = desc("storage_pruned_values_total",
		"Values deleted because this peer is no longer responsible for nor a replica of their Resource-ID, after the responsible peer acknowledged the Store handing them over (RFC 6940 §10.7.3).")
	descFetchDiscarded = desc("fetched_values_discarded_total",
		"Values of this node's Fetch answers discarded because their signature, certificate or access policy failed verification (RFC 6940 §7.4.2.2).")
	descConformance = desc("conformance_deviations_total",
		"Deviations from RFC 6940 the conformance monitor found in what peers sent to this node, by check id (see package monitor; only with a conformance log).", "check")

	descJoined      = desc("ring_joined", "1 when the node is part of the ring (or attached, for a client).")
	descSuccessors  = desc("ring_successors", "Successors in the neighbour table.")
	descPreds       = desc("ring_predecessors", "Predecessors in the neighbour table.")
	descFingers     = desc("ring_fingers", "Distinct peers in the finger table.")
	descStabilize   = desc("ring_stabilizations_total", "Periodic neighbour exchanges (RFC 6940 §10.7.4.1).")
	descUpdSent     = desc("ring_updates_sent_total", "Update requests sent (RFC 6940 §10.7.3).")
	descUpdRcvd     = desc("ring_updates_received_total", "Update requests received.")
	descPeerFailure = desc("ring_peer_failures_total", "Peers declared failed by the topology plugin.")
	descRejoins     = desc("ring_rejoins_total", "Joins sent again to a first successor that did not route to this peer (RFC 6940 §10.5).")
	descPartChecks  = desc("ring_partition_checks_total", "Pings to this peer's own Node-ID through a bootstrap node (RFC 6940 §10.7.4.4).")
	descPartFound   = desc("ring_partitions_found_total", "Partition checks answered by a peer this peer did not know: another ring, merged with ours (RFC 6940 §10.7.4.4).")

	descSIPReg   = desc("sip_registrations_total", "SIP registrations the front end stored in the overlay, by result (ok, error).", "result")
	descSIPAuth  = desc("sip_auth_total", "Digest authentications of local SIP user agents, by result (ok; challenged: 401/407 sent; forbidden: 403, wrong credentials or another user's AOR; malformed: 400).", "result")
	descSIPConns = desc("sip_connections_total", "AppAttach connections carrying SIP, by direction (out: to a callee's peer; in: from a caller's).", "direction")
)

var allDescs = []*prometheus.Desc{
	descInfo, descMsgSent, descMsgRcvd, descForwarded, descForwardedBytes, descDropped, descQueueFull, descRetrans, descTimeouts, descHops,
	descLinks, descLinkEstablished, descLinkHandshake, descLinkClosed, descLinkFailed, descFramesSent, descFramesRcvd, descFrameRetrans,
	descHSPending, descHSEvicted, descNotResponsible,
	descStoreValues, descStoreBytes, descStorePruned, descFetchDiscarded, descConformance,
	descJoined, descSuccessors, descPreds, descFingers, descStabilize, descUpdSent, descUpdRcvd, descPeerFailure, descRejoins, descPartChecks, descPartFound,
	descSIPReg, descSIPConns, descSIPAuth,
}

// newMetrics makes the node's registry (its own, not the global one, so
// that many nodes live in one process) with the node collector and the
// Go runtime and process collectors.
func newMetrics(n *Node) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(nodeCollector{n}, routeCollector{n}, selfTuneCollector{n},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Metrics serves the node's metrics in the Prometheus exposition format
// (the control API serves it at /metrics). Every reload_ metric is read
// from the layers' counters when scraped; docs/metrics.md lists them.
func (n *Node) Metrics() http.Handler {
	return promhttp.HandlerFor(n.met.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// MetricsRegistry is the node's registry, to gather from directly or to
// add an application's own collectors to.
func (n *Node) MetricsRegistry() *prometheus.Registry { return n.met.reg }

// nodeCollector reads a node's counters at scrape time.
type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge(descInfo, 1, n.ID().String(), n.cfg.Overlay.InstanceName)

	// Forwarding.
	st := n.eng.Stats()
	for _, mc := range st.Messages() {
		d := descMsgRcvd
		if mc.Sent {
			d = descMsgSent
		}
		counter(d, mc.N, mc.Method, mc.Result)
	}
	counter(descForwarded, st.Forwarded.Load())
	counter(descForwardedBytes, st.ForwardedBytes.Load())
	counter(descDropped, st.Dropped.Load())
	counter(descQueueFull, st.QueueFull.Load())
	counter(descRetrans, st.Retransmissions.Load())
	counter(descTimeouts, st.Timeouts.Load())
	hops, sum := st.Hops()
	ch <- prometheus.MustNewConstHistogram(descHops, total(hops), float64(sum), cumulative(hops, hopBuckets))

	// Links.
	open := map[transport.LinkType]int{}
	for _, l := range n.eng.Table().Links() {
		open[l.Type()]++
	}
	lc := &n.met.links
	for _, t := range transport.LinkTypes {
		name := t.String()
		gauge(descLinks, float64(open[t]), name)
		counter(descLinkEstablished, lc.Established[t].Load(), name)
		counter(descLinkHandshake, lc.HandshakeFailures[t].Load(), name)
		counter(descLinkClosed, lc.Closed[t].Load(), name)
		counter(descLinkFailed, lc.Failed[t].Load(), name)
	}
	counter(descFramesSent, lc.FramesSent.Load())
	counter(descFramesRcvd, lc.FramesReceived.Load())
	counter(descFrameRetrans, lc.Retransmissions.Load())
	gauge(descHSPending, float64(n.eng.PendingHandshakes()))
	counter(descHSEvicted, st.HandshakesEvicted.Load())
	counter(descNotResponsible, st.AnswersNotResponsible.Load())

	// Storage.
	if usage, err := n.store.Usage(); err != nil {
		ch <- prometheus.NewInvalidMetric(descStoreValues, err)
	} else {
		for _, u := range usage {
			k := n.kindName(u.Kind)
			gauge(descStoreValues, float64(u.Values), k)
			gauge(descStoreBytes, float64(u.Bytes), k)
		}
	}
	counter(descStorePruned, n.store.Pruned())

	// Topology.
	type topo struct {
		joined              bool
		succ, pred, fingers int
		cs                  topoStats
	}
	var tp topo
	t := new(topo)
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	if n.do(ctx, func() {
		*t = topo{n.ch.Joined(), len(n.ch.Successors()), len(n.ch.Predecessors()), len(n.ch.Fingers()), pluginStats(n.ch)}
	}) == nil {
		tp = *t
	}
	cancel()
	joined, succ, pred, fingers, cs := tp.joined, tp.succ, tp.pred, tp.fingers, tp.cs
	j := 0.0
	if joined {
		j = 1
	}
	gauge(descJoined, j)
	gauge(descSuccessors, float64(succ))
	gauge(descPreds, float64(pred))
	gauge(descFingers, float64(fingers))
	counter(descStabilize, cs.Stabilizations)
	counter(descUpdSent, cs.UpdatesSent)
	counter(descUpdRcvd, cs.UpdatesReceived)
	counter(descPeerFailure, cs.PeerFailures)
	counter(descRejoins, cs.Rejoins)
	counter(descPartChecks, cs.PartitionChecks)
	counter(descPartFound, cs.PartitionsFound)
	counter(descFetchDiscarded, n.met.fetchDiscarded.Load())
	if n.mon != nil {
		for _, c := range monitor.Checks() {
			counter(descConformance, n.mon.Count(c), c.String())
		}
	}

	// SIP usage.
	if n.sip != nil {
		counter(descSIPReg, n.met.sipRegistered.Load(), "ok")
		counter(descSIPReg, n.met.sipRegisterFailed.Load(), "error")
		counter(descSIPConns, n.met.sipConnsOut.Load(), "out")
		counter(descSIPConns, n.met.sipConnsIn.Load(), "in")
		for i, r := range sipAuthResults {
			counter(descSIPAuth, n.met.sipAuth[i].Load(), r)
		}
	}
}

// kindName is a kind's label: its IANA name, or its Kind-ID in decimal.
func (n *Node) kindName(id wire.KindID) string {
	if k, ok := n.kinds.Lookup(id); ok && k.Name != "" {
		return k.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}

func total(c []uint64) uint64 {
	var t uint64
	for _, v := range c {
		t += v
	}
	return t
}

// cumulative turns per-hop counts into the cumulative buckets of a
// Prometheus histogram.
func cumulative(perHop []uint64, bounds []float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bounds))
	for _, b := range bounds {
		var c uint64
		for h := 0; h < len(perHop) && float64(h) <= b; h++ {
			if h == forwarding.MaxHops+1 {
				break // the overflow slot is only in +Inf
			}
			c += perHop[h]
		}
		out[b] = c
	}
	return out
}

// logEvent logs a topology event: joining and leaving the ring and
// neighbour changes at Info, a lost attachment at Warn, the rest at Debug.
func (n *Node) logEvent(ev topology.Event) {
	lvl := slog.LevelDebug
	switch ev.Type {
	case topology.EventJoined, topology.EventLeft, topology.EventNeighborAdded, topology.EventNeighborRemoved:
		lvl = slog.LevelInfo
	case topology.EventDetached:
		// Losing the ring is a failure, unless this node is leaving
		// it (its neighbours may be leaving too).
		if st := pluginState(n.ch); st != "leaving" && st != "left" {
			lvl = slog.LevelWarn
		}
	}
	if !n.log.Enabled(n.ctx, lvl) {
		return
	}
	attrs := []any{"event", ev.Type.String()}
	if !ev.Peer.IsZero() {
		attrs = append(attrs, "peer", ev.Peer.String())
	}
	if lvl == slog.LevelInfo && ev.Type != topology.EventLeft {
		attrs = append(attrs, "successors", len(n.ch.Successors()), "predecessors", len(n.ch.Predecessors()))
	}
	n.log.Log(n.ctx, lvl, "topology", attrs...)
}

// Conformance is the node's conformance monitor (its counts per check),
// nil unless Config.ConformanceLog is set.
func (n *Node) Conformance() *monitor.Monitor { return n.mon }
