package forwarding

import (
	"net"
	"net/netip"
	"slices"
	"sync"
)

// handshakes is the table of the inbound TLS handshakes in progress on
// connections the listener accepted, before any peer is authenticated
// (RFC 6940 §13: outsiders must not be able to lock peers out). It is
// bounded in total and per source; when a bound is reached a newcomer is
// never refused: the oldest pending handshake of the same source makes
// room, or, when the whole table is full, the oldest of the source that
// holds the most. An address that opens many connections that never
// finish thus loses its own first, and a connection from a source with
// few pending handshakes gets in however many others are open.
type handshakes struct {
	max, perSource int

	mu      sync.Mutex
	n       int
	seq     uint64
	sources map[netip.Addr][]*pendingHandshake // oldest first
}

// pendingHandshake is one entry of the table.
type pendingHandshake struct {
	source netip.Addr
	seq    uint64 // arrival order
	conn   net.Conn
	gone   bool // ended or evicted: no longer counted
}

// eviction reasons, as logged and counted.
const (
	evictSource = "per-source limit"
	evictTotal  = "table full"
)

func newHandshakes(max, perSource int) *handshakes {
	return &handshakes{max: max, perSource: perSource, sources: make(map[netip.Addr][]*pendingHandshake)}
}

// admit enters a handshake on conn from source and returns it, with the
// handshake it evicted to make room (nil when there was room) and why.
// The caller closes the evicted handshake's connection.
func (h *handshakes) admit(source netip.Addr, conn net.Conn) (p, evicted *pendingHandshake, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case len(h.sources[source]) >= h.perSource:
		evicted, reason = h.sources[source][0], evictSource
	case h.n >= h.max:
		evicted, reason = h.busiest(), evictTotal
	}
	if evicted != nil {
		h.remove(evicted)
	}
	h.seq++
	p = &pendingHandshake{source: source, seq: h.seq, conn: conn}
	h.sources[source] = append(h.sources[source], p)
	h.n++
	return p, evicted, reason
}

// busiest is the oldest pending handshake of the source with the most;
// among sources with as many, the one whose oldest came first.
func (h *handshakes) busiest() *pendingHandshake {
	var best *pendingHandshake
	most := 0
	for _, ps := range h.sources {
		if len(ps) > most || (len(ps) == most && ps[0].seq < best.seq) {
			best, most = ps[0], len(ps)
		}
	}
	return best
}

// done removes a handshake that ended (a no-op if it was evicted).
func (h *handshakes) done(p *pendingHandshake) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(p)
}

func (h *handshakes) remove(p *pendingHandshake) {
	if p.gone {
		return
	}
	p.gone = true
	h.n--
	ps := h.sources[p.source]
	if i := slices.Index(ps, p); i >= 0 {
		ps = slices.Delete(ps, i, i+1)
	}
	if len(ps) == 0 {
		delete(h.sources, p.source)
	} else {
		h.sources[p.source] = ps
	}
}

// pending is the number of handshakes in progress, in total and from the
// source with the most.
func (h *handshakes) pending() (total, busiest int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range h.sources {
		busiest = max(busiest, len(ps))
	}
	return h.n, busiest
}

// sourceOf is the source a connection is counted under: its IPv4
// address, or the /64 prefix of its IPv6 address (one host or site
// usually holds a whole /64, so counting single IPv6 addresses would let
// it take the table). Connections without an IP address share one
// source.
func sourceOf(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}
