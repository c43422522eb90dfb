// Package node is the composition root of the RELOAD stack and the public
// API for custom overlay clients: a Node runs forwarding and link
// management (RFC 6940 §6), CHORD-RELOAD (§10), the storage protocol (§7)
// and overlay diagnostics (RFC 7851) over real TLS and DTLS links, and
// offers Start/Leave, Request to any destination, Store/Fetch, Ping, and
// Handle/HandleApp to add a usage's own messages and application
// connections.
//
// The topology plugin is driven as its contract says (package topology):
// one lock around it, Ready drained after every input, events handled
// before messages. Joining follows §10.5: the node connects to a
// bootstrap peer over TLS, Attaches to the peer responsible for its
// Node-ID+1 through it, and sends that admitting peer its Join.
//
// Observability: each Node has its own Prometheus registry (Metrics,
// MetricsRegistry; the control API serves it at /metrics) whose collector
// reads the counters of forwarding, transport, storage and the topology
// plugin at scrape time, so the lower layers never import Prometheus.
// Config.Logger is handed down to forwarding, the links and storage,
// tagged with the node's Node-ID. docs/metrics.md lists the metrics and
// the log records.
//
// Layering: node may import every layer; no layer imports node.
package node
