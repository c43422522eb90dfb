// Package webui holds the static files of a RELOAD node's live web page:
// an HTML page, its style sheet and its script, embedded in the binary so
// that no build step or other server is needed. The node serves them on
// its control API (node.ControlHandler, under /ui/) with the JSON snapshot
// and the Server-Sent Events stream they read.
//
// The page draws the node's view of the overlay: the ring of Node-IDs
// with its successors, predecessors and fingers (RFC 6940 §10.3 for
// CHORD-RELOAD), the other peers it learnt of, including those named by
// RFC 7851 diagnostics (PathTrack hops of a traceroute, §4.3), its links
// (RFC 6940 §6.6), its traffic and storage (§7), and the SIP AORs it
// registers (RFC 7904 §3). It imports nothing from the module.
package webui

import "embed"

// Static holds index.html, app.js and style.css under static/.
//
//go:embed static
var Static embed.FS
