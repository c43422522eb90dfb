package forwarding

import (
	"crypto/rand"
	"io"
	"sync"

	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Compressed ids name a connection table slot (RFC 6940 §6.3.2.2: "An
// implementation MAY use 12 bits for the Connection Table index and 3 bits
// for the generation counter").
const (
	slotBits  = 12
	slotCount = 1 << slotBits
	genMask   = 0x7
)

// ConnTable is the Connection Table (RFC 6940 §1.2.2, §6.1.2): the links
// to the nodes this node is directly connected to, by Node-ID. Each
// connection also has a slot whose index and generation counter make the
// 16-bit compressed id of §6.3.2.2. Safe for concurrent use.
type ConnTable struct {
	mu    sync.RWMutex
	byID  map[wire.NodeID]*conn
	slots []*conn
	gens  []uint8
	next  int
}

type conn struct {
	ids  []wire.NodeID
	link *transport.Link
	slot int
}

// NewConnTable returns an empty table. The generation counters start at
// random values drawn from r (nil means crypto/rand), as §6.3.2.2 advises.
func NewConnTable(r io.Reader) *ConnTable {
	if r == nil {
		r = rand.Reader
	}
	t := &ConnTable{byID: make(map[wire.NodeID]*conn), slots: make([]*conn, slotCount), gens: make([]uint8, slotCount)}
	_, _ = io.ReadFull(r, t.gens)
	return t
}

// Add puts link in the table under every Node-ID in ids (the peer's
// authenticated Node-IDs). A link already registered for one of them is
// replaced and returned, so the caller can close it.
func (t *ConnTable) Add(ids []wire.NodeID, link *transport.Link) (replaced []*transport.Link) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		if old, ok := t.byID[id]; ok && old.link != link {
			t.removeLocked(old)
			replaced = append(replaced, old.link)
		}
	}
	c := &conn{ids: append([]wire.NodeID(nil), ids...), link: link, slot: -1}
	// Slots are used on a rotating basis (§6.3.2.2), each reuse bumping
	// its generation counter.
	for i := 0; i < slotCount; i++ {
		s := (t.next + i) % slotCount
		if t.slots[s] == nil {
			t.slots[s] = c
			t.gens[s] = (t.gens[s] + 1) & genMask
			c.slot = s
			t.next = (s + 1) % slotCount
			break
		}
	}
	for _, id := range ids {
		t.byID[id] = c
	}
	return replaced
}

// Remove takes link out of the table; it reports whether it was there.
func (t *ConnTable) Remove(link *transport.Link) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.byID {
		if c.link == link {
			t.removeLocked(c)
			return true
		}
	}
	return false
}

func (t *ConnTable) removeLocked(c *conn) {
	for _, id := range c.ids {
		if t.byID[id] == c {
			delete(t.byID, id)
		}
	}
	if c.slot >= 0 && t.slots[c.slot] == c {
		t.slots[c.slot] = nil
	}
}

// Lookup returns the link to id.
func (t *ConnTable) Lookup(id wire.NodeID) (*transport.Link, bool) {
	t.mu.RLock()
	c, ok := t.byID[id]
	t.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return c.link, true
}

// Connected reports whether id is directly connected.
func (t *ConnTable) Connected(id wire.NodeID) bool {
	t.mu.RLock()
	_, ok := t.byID[id]
	t.mu.RUnlock()
	return ok
}

// Compress returns the compressed id of the connection to id:
// 1 | generation (3 bits) | slot index (12 bits).
func (t *ConnTable) Compress(id wire.NodeID) (uint16, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.byID[id]
	if !ok || c.slot < 0 {
		return 0, false
	}
	return 0x8000 | uint16(t.gens[c.slot])<<slotBits | uint16(c.slot), true
}

// Expand returns the Node-ID of the connection a compressed id names.
// §6.3.2.2: the generation counter must match that of the slot, or the
// message MUST be silently dropped (ok false).
func (t *ConnTable) Expand(v uint16) (wire.NodeID, bool) {
	if v&0x8000 == 0 {
		return wire.NodeID{}, false
	}
	s := int(v & (slotCount - 1))
	g := uint8(v>>slotBits) & genMask
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := t.slots[s]
	if c == nil || t.gens[s] != g || len(c.ids) == 0 {
		return wire.NodeID{}, false
	}
	return c.ids[0], true
}

// Neighbors lists the connected Node-IDs (the first of each link).
func (t *ConnTable) Neighbors() []wire.NodeID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := make(map[*conn]bool)
	var out []wire.NodeID
	for _, c := range t.byID {
		if !seen[c] {
			seen[c] = true
			out = append(out, c.ids[0])
		}
	}
	return out
}

// Links returns every link in the table.
func (t *ConnTable) Links() []*transport.Link {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := make(map[*conn]bool)
	var out []*transport.Link
	for _, c := range t.byID {
		if !seen[c] {
			seen[c] = true
			out = append(out, c.link)
		}
	}
	return out
}

// Len is the number of links.
func (t *ConnTable) Len() int { return len(t.Links()) }
