package forwarding

import (
	"crypto/rand"
	"io"
	"slices"
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
//
// A link whose peer has a certificate with several Node-IDs and has not
// yet made known which it runs as (§6.1.2) is tentative: it is found
// under those of its Node-IDs no other link holds, so that a joining
// node can route through its bootstrap peer, and gives them up to a link
// that is known to be the Node-ID, or to itself once it is bound to one.
type ConnTable struct {
	mu    sync.RWMutex
	byID  map[wire.NodeID]*conn
	links map[*transport.Link]*conn
	slots []*conn
	gens  []uint8
	next  int
}

type conn struct {
	ids       []wire.NodeID
	link      *transport.Link
	slot      int
	tentative bool
}

// NewConnTable returns an empty table. The generation counters start at
// random values drawn from r (nil means crypto/rand), as §6.3.2.2 advises.
func NewConnTable(r io.Reader) *ConnTable {
	if r == nil {
		r = rand.Reader
	}
	t := &ConnTable{byID: make(map[wire.NodeID]*conn), links: make(map[*transport.Link]*conn),
		slots: make([]*conn, slotCount), gens: make([]uint8, slotCount)}
	_, _ = io.ReadFull(r, t.gens)
	return t
}

// Add puts link in the table under every Node-ID in ids (the Node-IDs the
// peer is known to run as). A link already registered for one of them is
// replaced and returned, so the caller can close it; a tentative link
// only gives the Node-ID up. A tentative entry of link itself is dropped.
func (t *ConnTable) Add(ids []wire.NodeID, link *transport.Link) (replaced []*transport.Link) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.links[link]; ok {
		t.removeLocked(c)
	}
	for _, id := range ids {
		old, ok := t.byID[id]
		switch {
		case !ok:
		case old.tentative:
			t.dropIDLocked(old, id)
		default:
			t.removeLocked(old)
			replaced = append(replaced, old.link)
		}
	}
	t.insertLocked(&conn{ids: append([]wire.NodeID(nil), ids...), link: link, slot: -1})
	return replaced
}

// AddTentative puts link in the table under those of ids (its peer's
// certificate's Node-IDs) that no other link holds, until Add binds it
// to the one its peer runs as.
func (t *ConnTable) AddTentative(ids []wire.NodeID, link *transport.Link) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &conn{link: link, slot: -1, tentative: true}
	for _, id := range ids {
		if _, taken := t.byID[id]; !taken {
			c.ids = append(c.ids, id)
		}
	}
	t.insertLocked(c)
}

func (t *ConnTable) insertLocked(c *conn) {
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
	for _, id := range c.ids {
		t.byID[id] = c
	}
	t.links[c.link] = c
}

// dropIDLocked takes id from a tentative entry.
func (t *ConnTable) dropIDLocked(c *conn, id wire.NodeID) {
	delete(t.byID, id)
	c.ids = slices.DeleteFunc(c.ids, func(x wire.NodeID) bool { return x == id })
}

// Remove takes link out of the table; it reports whether it was there.
func (t *ConnTable) Remove(link *transport.Link) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.links[link]
	if ok {
		t.removeLocked(c)
	}
	return ok
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
	if t.links[c.link] == c {
		delete(t.links, c.link)
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

// Neighbors lists the connected Node-IDs (the first of each link whose
// peer's Node-ID is known).
func (t *ConnTable) Neighbors() []wire.NodeID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []wire.NodeID
	for _, c := range t.links {
		if !c.tentative && len(c.ids) > 0 {
			out = append(out, c.ids[0])
		}
	}
	return out
}

// Links returns every link in the table, tentative ones included.
func (t *ConnTable) Links() []*transport.Link {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*transport.Link, 0, len(t.links))
	for l := range t.links {
		out = append(out, l)
	}
	return out
}

// Len is the number of links.
func (t *ConnTable) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.links)
}
