// Package node is the composition root of the RELOAD stack and the public
// API for custom overlay clients: a Node runs forwarding and link
// management (RFC 6940 §6), CHORD-RELOAD (§10), the storage protocol (§7)
// and overlay diagnostics (RFC 7851) over real TLS and DTLS links, and
// offers Start/Leave, Request to any destination, Store/Fetch, Ping, and
// Handle/HandleApp to add a usage's own messages and application
// connections.
//
// A Node is the shell of a host.Host (package host), which owns the
// topology plugin, the storage rules and the tokens of their requests.
// One goroutine runs the host; link events, the requests handlers
// deliver, the answers of the host's requests (started in order with
// forwarding.Engine.Start), ticks and the application's calls reach it
// through an unbounded queue, so that neither the engine's loop nor the
// node's ever waits for the other. Transit routing reads the routing
// snapshot the host publishes (atomic.Pointer) and takes no lock of the
// node's. The node keeps what a host cannot know: sockets, bootstrap
// addresses (it dials them again to rejoin after EventDetached, §10.7.1,
// §11.4), and the Attaches themselves (§6.5.1). Joining follows §10.5:
// the node connects to a bootstrap peer over TLS, Attaches through it to
// the peer responsible for its Node-ID+1, and sends that admitting peer
// its Join.
//
// Config.Net is the network of the node's UDP sockets, so that tests can
// run whole nodes behind pion's virtual NATs (vnet).
//
// Config.TURN adds the TURN server usage (§9, turn.go): a node may run a
// TURN server and advertise it in TURN-SERVICE values, and finds other
// peers' servers with Find and Fetch, so that ICE can offer relay
// candidates (§6.5.1.1) where NATs allow no direct path.
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
