package monitor

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Config configures a Monitor.
type Config struct {
	// Out receives one JSON line (a Deviation) per deviation; nil
	// writes none (the counts are kept).
	Out io.Writer
	// Self is this node's Node-ID: answers addressed to it are matched
	// against the requests it sent.
	Self wire.NodeID
	// Verifier checks signatures (§6.3.4); nil skips the signature
	// checks.
	Verifier *security.Verifier
	// InitialTTL is the overlay's initial-ttl (0: 100) and NodeIDLength
	// its Node-ID length (0: 16).
	InitialTTL   uint8
	NodeIDLength int
	// MaxLinesPerCheck bounds the lines written for one peer and check
	// (default 20), so that a peer that deviates on every frame does not
	// fill the disk; every deviation is counted all the same.
	MaxLinesPerCheck int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Deviation is one report line: what a peer sent that the RFC does not
// allow. The JSON field names are stable.
type Deviation struct {
	Time     time.Time `json:"time"`
	Peer     string    `json:"peer"`    // the sending peer's Node-ID (hex)
	Address  string    `json:"address"` // its address on the link
	Link     string    `json:"link"`    // the overlay link type
	Check    string    `json:"check"`   // the check's id (Checks)
	Section  string    `json:"section"`
	Seen     string    `json:"seen"`     // what the peer sent
	Required string    `json:"required"` // what the RFC requires
	Hex      string    `json:"hex"`      // an excerpt of the frame or message, at most 64 bytes
}

// Monitor checks what peers send to one node; it is safe for concurrent
// use. It implements transport.LinkObserver and
// forwarding.MessageObserver.
type Monitor struct {
	cfg    Config
	counts [numChecks]atomic.Uint64

	outMu sync.Mutex
	lines map[string]int // per peer and check, bounded by maxKeys

	txMu  sync.Mutex
	sent  map[uint64]struct{} // transaction ids of the requests this node sent
	order []uint64            // ring of the ids in sent, oldest first to go
	opos  int

	fragMu sync.Mutex
	frags  map[fragKey]*fragState
	forder []fragKey
}

const (
	maxKeys     = 1 << 14 // peer×check line counters kept
	maxSentTx   = 1 << 16 // transaction ids remembered
	maxFragMsgs = 64      // fragmented messages followed at once
	maxFragKeep = 1 << 16 // bytes of one fragmented message kept for comparison
	excerptLen  = 64
	minFragBody = 256 // §6.7
)

// New returns a Monitor.
func New(cfg Config) *Monitor {
	if cfg.InitialTTL == 0 {
		cfg.InitialTTL = wire.DefaultTTL
	}
	if cfg.NodeIDLength == 0 {
		cfg.NodeIDLength = wire.DefaultNodeIDLen
	}
	if cfg.MaxLinesPerCheck <= 0 {
		cfg.MaxLinesPerCheck = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Monitor{
		cfg:   cfg,
		lines: map[string]int{},
		sent:  make(map[uint64]struct{}),
		order: make([]uint64, 0, 1024),
		frags: map[fragKey]*fragState{},
	}
}

// Count is the number of deviations found by check c.
func (m *Monitor) Count(c Check) uint64 {
	if c >= numChecks {
		return 0
	}
	return m.counts[c].Load()
}

// Counts maps each check id to its count of deviations (every check,
// zero counts included).
func (m *Monitor) Counts() map[string]uint64 {
	out := make(map[string]uint64, numChecks)
	for c := range numChecks {
		out[c.String()] = m.counts[c].Load()
	}
	return out
}

// Total is the number of deviations found by all checks.
func (m *Monitor) Total() uint64 {
	var n uint64
	for c := range numChecks {
		n += m.counts[c].Load()
	}
	return n
}

// peerOf names the sending side of a link.
type peerOf struct {
	id   wire.NodeID
	addr string
	link string
}

func linkPeer(l *transport.Link) peerOf {
	p := peerOf{id: l.PeerNodeID(), link: l.Type().String()}
	if a := l.RemoteAddr(); a != nil {
		p.addr = a.String()
	}
	return p
}

// report counts a deviation and writes its line.
func (m *Monitor) report(p peerOf, c Check, seen string, excerpt []byte) {
	m.counts[c].Add(1)
	if m.cfg.Out == nil {
		return
	}
	info := catalogue[c]
	if len(excerpt) > excerptLen {
		excerpt = excerpt[:excerptLen]
	}
	d := Deviation{
		Time: m.cfg.Now().UTC(), Peer: p.id.String(), Address: p.addr, Link: p.link,
		Check: info.ID, Section: info.Section, Seen: seen, Required: info.Required,
		Hex: hex.EncodeToString(excerpt),
	}
	b, err := json.Marshal(d)
	if err != nil {
		return
	}
	b = append(b, '\n')
	key := d.Peer + " " + d.Check
	m.outMu.Lock()
	defer m.outMu.Unlock()
	n, ok := m.lines[key]
	if !ok && len(m.lines) >= maxKeys {
		return
	}
	if n >= m.cfg.MaxLinesPerCheck {
		return
	}
	m.lines[key] = n + 1
	_, _ = m.cfg.Out.Write(b)
}

// ObserveLink implements transport.LinkObserver.
func (m *Monitor) ObserveLink(l *transport.Link) transport.FrameObserver {
	return &linkWatch{m: m, p: linkPeer(l), stream: l.Type() == transport.LinkTLSTCPFHNoICE}
}

// linkWatch checks one link's frames (§6.6.2).
type linkWatch struct {
	m      *Monitor
	p      peerOf
	stream bool

	mu       sync.Mutex
	gotData  bool
	last     uint32     // last data sequence number received
	recent   [64]uint32 // DTLS: recently received data sequence numbers
	nrecent  int
	head     int
	sentNext uint64 // one above the highest data sequence number sent
}

func frameExcerpt(f *wire.FramedMessage) []byte {
	g := *f
	if len(g.Message) > excerptLen {
		g.Message = g.Message[:excerptLen]
	}
	b, _ := g.Append(nil)
	return b
}

// FrameSent implements transport.FrameObserver.
func (w *linkWatch) FrameSent(f wire.FramedMessage) {
	if f.Type != wire.FrameData {
		return
	}
	w.mu.Lock()
	if s := uint64(f.Sequence) + 1; s > w.sentNext {
		w.sentNext = s
	}
	w.mu.Unlock()
}

// FrameReceived implements transport.FrameObserver.
func (w *linkWatch) FrameReceived(f wire.FramedMessage) {
	switch f.Type {
	case wire.FrameData:
		w.data(&f)
	case wire.FrameAck:
		w.ack(&f)
	}
}

func (w *linkWatch) data(f *wire.FramedMessage) {
	seq := f.Sequence
	w.mu.Lock()
	first, last := !w.gotData, w.last
	reused := false
	if !w.stream {
		for i := 0; i < w.nrecent; i++ {
			if w.recent[i] == seq {
				reused = true
				break
			}
		}
		w.recent[w.head] = seq
		w.head = (w.head + 1) % len(w.recent)
		if w.nrecent < len(w.recent) {
			w.nrecent++
		}
	}
	w.gotData, w.last = true, seq
	w.mu.Unlock()
	switch {
	case first && seq != 0:
		seen := fmt.Sprintf("first data frame has sequence number %d", seq)
		if !w.stream {
			// A lost frame 0, retransmitted under 1, looks the same.
			seen += " (or frame 0 was lost on the path)"
		}
		w.m.report(w.p, FrameSeqStart, seen, frameExcerpt(f))
	case reused:
		// DTLS drops replayed records (RFC 6347 §4.1.2.6), so the
		// same sequence number twice is the peer sending a frame
		// again under its old number.
		w.m.report(w.p, FrameSeqReused, fmt.Sprintf("data frame sequence number %d received again (a retransmission under the same number)", seq), frameExcerpt(f))
	case w.stream && !first && seq != last+1:
		w.m.report(w.p, FrameSeqStep, fmt.Sprintf("data frame sequence number %d after %d", seq, last), frameExcerpt(f))
	}
}

func (w *linkWatch) ack(f *wire.FramedMessage) {
	w.mu.Lock()
	sent := w.sentNext
	w.mu.Unlock()
	seq := uint64(f.Sequence)
	if seq >= sent {
		w.m.report(w.p, FrameAckUnsent, fmt.Sprintf("ACK of sequence number %d; data frames sent so far: %d", seq, sent), frameExcerpt(f))
		return
	}
	// Bit k-1 stands for sequence number seq-k (k = 1..32); every
	// number below seq was sent, so only those below 0 cannot be.
	want := uint32(0xffffffff)
	if seq < 32 {
		want = 1<<seq - 1
	}
	switch {
	case w.stream && f.Received != want:
		// A stream delivers in order and loses nothing: when the
		// frame seq arrived, every one before it had, and the receiver
		// keeps the 32 most recent numbers to say so.
		w.m.report(w.p, FrameAckMask, fmt.Sprintf("ACK of sequence number %d with received mask %#08x; on a stream every frame before it arrived: %#08x", seq, f.Received, want), frameExcerpt(f))
	case !w.stream && f.Received&^want != 0:
		w.m.report(w.p, FrameAckMask, fmt.Sprintf("ACK of sequence number %d with received mask %#08x: it claims frames before sequence number 0 (bits %#08x)", seq, f.Received, f.Received&^want), frameExcerpt(f))
	}
}
