package transport

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/goreload/reload/wire"
)

// Fragmentation limits (RFC 6940 §6.7).
const (
	// MinFragmentBody is the least message body a fragment carries; when
	// the header leaves less room, the message is not fragmented.
	MinFragmentBody = 256
	// fragmentHeadroom is kept free in each fragment so that the via list
	// can grow before refragmentation ("PMTU ... minus 32 bytes").
	fragmentHeadroom = 32
	// DefaultReassemblyTimeout is the maximum request lifetime.
	DefaultReassemblyTimeout = 15 * time.Second
	// partialOverhead and pieceOverhead are what an incomplete message
	// and each fragment held for it cost beyond their bytes (map entry,
	// structs, slice headers). They are charged against the limits, so
	// that a flood of tiny fragments of messages never completed holds
	// no more memory than PerLink and Total say.
	partialOverhead = 256
	pieceOverhead   = 64
)

// Fragmentation errors.
var (
	ErrFragmentInvalid  = errors.New("transport: invalid fragment")
	ErrFragmentOverlap  = errors.New("transport: overlapping or inconsistent fragments")
	ErrReassemblyFull   = errors.New("transport: reassembly buffer full")
	ErrFragmentTooLarge = errors.New("transport: reassembled message too large")
)

// Fragment splits the RELOAD message msg into fragments of at most size
// bytes each (§6.7): each carries a full copy of the forwarding header with
// the fragment offset and last-fragment bit set and the length field set to
// the fragment's size; the body is cut into equal pieces. A message that
// is itself a fragment is refragmented relative to its own offset. When
// msg fits, or the header leaves room for fewer than MinFragmentBody body
// bytes, msg is returned whole (a copy) and IP fragmentation takes over.
func Fragment(msg []byte, size int) ([][]byte, error) {
	if len(msg) <= size {
		return [][]byte{append([]byte(nil), msg...)}, nil
	}
	var h wire.ForwardingHeader
	hn, err := h.Decode(msg)
	if err != nil {
		return nil, err
	}
	if int64(h.Length) != int64(len(msg)) {
		return nil, fmt.Errorf("%w: length field %d, message %d bytes", ErrFragmentInvalid, h.Length, len(msg))
	}
	body := msg[hn:]
	room := size - hn
	if room < MinFragmentBody {
		return [][]byte{append([]byte(nil), msg...)}, nil
	}
	base := h.FragmentOffsetBytes()
	if base+len(body) > wire.FragmentOffset+1 {
		return nil, fmt.Errorf("%w: offset past 2^24", ErrFragmentTooLarge)
	}
	last := h.LastFragment()
	n := (len(body) + room - 1) / room
	piece := (len(body) + n - 1) / n
	out := make([][]byte, 0, n)
	for off := 0; off < len(body); off += piece {
		end := min(off+piece, len(body))
		h.Fragment = wire.FragmentHistoric | uint32(base+off)
		if end == len(body) && last {
			h.Fragment |= wire.FragmentLast
		}
		f, err := h.AppendMessage(make([]byte, 0, hn+end-off), body[off:end])
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// ReassemblyConfig bounds a Reassembler. Zero fields take defaults.
type ReassemblyConfig struct {
	// Timeout drops a message whose first fragment is older (15 s).
	Timeout time.Duration
	// MaxMessage is the largest reassembled body (the overlay's
	// max-message-size; 2^24).
	MaxMessage int
	// PerLink bounds the buffered bytes from one link (1 MiB) and Total
	// those from all links (16 MiB).
	PerLink, Total int
}

func (c ReassemblyConfig) withDefaults() ReassemblyConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultReassemblyTimeout
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 1 << 24
	}
	if c.PerLink <= 0 {
		c.PerLink = 1 << 20
	}
	if c.Total <= 0 {
		c.Total = 16 << 20
	}
	return c
}

type reasmKey struct {
	link    uint64
	overlay uint32
	txid    uint64
}

type piece struct {
	off  int
	data []byte
}

type partial struct {
	key     reasmKey
	elem    *list.Element // in Reassembler.order
	first   time.Time
	header  []byte // forwarding header of the offset-0 fragment, if seen
	pieces  []piece
	end     int // body size, -1 until the last fragment arrives
	have    int // body bytes held
	charged int // bytes counted against the limits
}

// Reassembler collects fragments at the destination and returns whole
// messages (§6.7). It is a pure value: the caller passes the time, and
// calls Expire at Deadline. Fragments are grouped by the caller's link
// number, the overlay and the transaction ID. Memory is bounded per link
// and in total (each message and fragment held is charged a fixed
// overhead besides its bytes); incomplete messages time out, oldest
// first; a fragment that overlaps
// another with different bytes, or disagrees about the end, discards the
// message.
type Reassembler struct {
	cfg     ReassemblyConfig
	msgs    map[reasmKey]*partial
	order   *list.List // of *partial, oldest first
	perLink map[uint64]int
	total   int
}

// NewReassembler returns an empty reassembler.
func NewReassembler(cfg ReassemblyConfig) *Reassembler {
	return &Reassembler{
		cfg:     cfg.withDefaults(),
		msgs:    make(map[reasmKey]*partial),
		order:   list.New(),
		perLink: make(map[uint64]int),
	}
}

// Buffered is the number of bytes charged for incomplete messages: the
// bytes held plus the fixed overheads.
func (r *Reassembler) Buffered() int { return r.total }

// Incomplete is the number of incomplete messages held.
func (r *Reassembler) Incomplete() int { return len(r.msgs) }

func (r *Reassembler) drop(k reasmKey, p *partial) {
	r.perLink[k.link] -= p.charged
	if r.perLink[k.link] == 0 {
		delete(r.perLink, k.link)
	}
	r.total -= p.charged
	delete(r.msgs, k)
	r.order.Remove(p.elem)
}

// Add takes one received message from link at now. A message that is not a
// fragment is returned as it is. A fragment is held; when it completes its
// message, Add returns the reassembled message with fragment field
// 0xC0000000 and the length of the whole. Otherwise whole is nil.
func (r *Reassembler) Add(link uint64, msg []byte, now time.Time) (whole []byte, err error) {
	r.Expire(now)
	var h wire.ForwardingHeader
	hn, err := h.Decode(msg)
	if err != nil {
		return nil, err
	}
	if int64(h.Length) != int64(len(msg)) {
		return nil, fmt.Errorf("%w: length field %d, message %d bytes", ErrFragmentInvalid, h.Length, len(msg))
	}
	if !h.IsFragment() {
		return msg, nil
	}
	k := reasmKey{link: link, overlay: h.Overlay, txid: h.TransactionID}
	off, body := h.FragmentOffsetBytes(), msg[hn:]
	end := off + len(body)
	p := r.msgs[k]
	if p == nil {
		p = &partial{key: k, first: now, end: -1}
		p.elem = r.order.PushBack(p)
		r.msgs[k] = p
	}
	fail := func(e error) ([]byte, error) {
		r.drop(k, p)
		return nil, e
	}
	if end > r.cfg.MaxMessage {
		return fail(ErrFragmentTooLarge)
	}
	if len(body) == 0 && !h.LastFragment() {
		return fail(fmt.Errorf("%w: empty fragment", ErrFragmentInvalid))
	}
	if h.LastFragment() {
		if p.end >= 0 && p.end != end {
			return fail(fmt.Errorf("%w: two different ends", ErrFragmentOverlap))
		}
		p.end = end
	}
	if p.end >= 0 && end > p.end {
		return fail(fmt.Errorf("%w: fragment past the last one", ErrFragmentOverlap))
	}
	// Place the piece; an exact duplicate is ignored.
	i := sort.Search(len(p.pieces), func(i int) bool { return p.pieces[i].off >= off })
	if i < len(p.pieces) && p.pieces[i].off == off && bytes.Equal(p.pieces[i].data, body) {
		return nil, nil
	}
	if (i > 0 && p.pieces[i-1].off+len(p.pieces[i-1].data) > off) ||
		(i < len(p.pieces) && p.pieces[i].off < end) {
		return fail(ErrFragmentOverlap)
	}
	cost := len(body) + pieceOverhead
	if len(p.pieces) == 0 {
		cost += partialOverhead
	}
	if off == 0 {
		cost += hn
	}
	if r.perLink[link]+cost > r.cfg.PerLink || r.total+cost > r.cfg.Total {
		return fail(ErrReassemblyFull)
	}
	r.perLink[link] += cost
	r.total += cost
	p.charged += cost
	data := append([]byte(nil), body...)
	p.pieces = append(p.pieces, piece{})
	copy(p.pieces[i+1:], p.pieces[i:])
	p.pieces[i] = piece{off: off, data: data}
	p.have += len(body)
	if off == 0 {
		p.header = append([]byte(nil), msg[:hn]...)
	}
	if p.end < 0 || p.have != p.end || p.header == nil {
		return nil, nil
	}
	// Complete: pieces are sorted, disjoint and sum to end, so contiguous.
	var fh wire.ForwardingHeader
	if _, err := fh.Decode(p.header); err != nil {
		return fail(err)
	}
	fh.Fragment = wire.FragmentUnfragmed
	rest := make([]byte, 0, p.end)
	for _, pc := range p.pieces {
		rest = append(rest, pc.data...)
	}
	r.drop(k, p)
	return fh.AppendMessage(make([]byte, 0, len(p.header)+len(rest)), rest)
}

// Expire drops the incomplete messages whose first fragment came more
// than Timeout before now and returns how many it dropped. It looks only
// at the oldest messages, so it is cheap however many are held (times
// passed to Add are expected not to go backwards).
func (r *Reassembler) Expire(now time.Time) int {
	n := 0
	for e := r.order.Front(); e != nil; e = r.order.Front() {
		p := e.Value.(*partial)
		if now.Before(p.first.Add(r.cfg.Timeout)) {
			break
		}
		r.drop(p.key, p)
		n++
	}
	return n
}

// Deadline is when the oldest incomplete message expires; zero when none.
func (r *Reassembler) Deadline() time.Time {
	e := r.order.Front()
	if e == nil {
		return time.Time{}
	}
	return e.Value.(*partial).first.Add(r.cfg.Timeout)
}
