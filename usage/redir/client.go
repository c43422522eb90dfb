package redir

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Kind is the REDIR Kind (RFC 7374 §6, §10.3).
const Kind = wire.KindREDIR

// Defaults of RFC 7374.
const (
	// DefaultStartLevel is the recommended Lstart (§4.2).
	DefaultStartLevel = 2
	// DefaultLifetime is the recommended lifetime of a record (§4.4).
	DefaultLifetime = 10 * time.Minute
	// lookupHistory is how many completed lookups pick the next Lstart
	// (§4.2).
	lookupHistory = 16
)

// Errors.
var (
	// ErrNoProvider: the tree of the namespace holds no provider.
	ErrNoProvider = errors.New("redir: no provider of the service")
	// ErrNamespace: the namespace is empty, not UTF-8 or too long (§2,
	// §4.1).
	ErrNamespace = errors.New("redir: invalid namespace")
)

// Overlay is what the usage needs from the RELOAD node. The node layer
// implements it; this package never imports transport, forwarding or
// topology.
type Overlay interface {
	// LocalNodeID is this node's Node-ID: the dictionary key of its
	// records and the key it looks up by default.
	LocalNodeID() wire.NodeID

	// Store signs values as this node and stores them at resource under
	// kind with the given lifetime; an error means the storing peer did
	// not accept them.
	Store(ctx context.Context, resource wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error

	// Fetch is a wildcard Fetch of every value of kind at resource (§4.3
	// step 2). It must return only values that passed the checks of RFC
	// 6940 §7.4.2.2, the Kind's access policy (NODE-ID-MATCH) included,
	// and none whose lifetime has run out. No data is an empty result
	// with a nil error.
	Fetch(ctx context.Context, resource wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error)
}

// Config configures a Client. Zero fields take the defaults.
type Config struct {
	// Branching is the overlay's redir:branching-factor (§8); 0 means 10.
	Branching int
	// Hash is the overlay's hash; nil means CHORD-RELOAD's.
	Hash storage.HashFunc
	// Lifetime of the records stored (§4.4); 0 means 10 minutes.
	Lifetime time.Duration
	// StartLevel is Lstart of registrations and of the first lookups
	// (§4.2); 0 means 2.
	StartLevel int
}

// Client registers and looks up service providers through an Overlay.
// It is safe for concurrent use.
type Client struct {
	ov       Overlay
	tree     Tree
	lifetime time.Duration
	start    int

	mu      sync.Mutex
	history []int // levels of the last lookups, oldest first
}

// New returns a Client for ov.
func New(ov Overlay, cfg Config) (*Client, error) {
	self := ov.LocalNodeID()
	t := Tree{Branching: cfg.Branching, Bits: 8 * self.Len(), Hash: cfg.Hash}
	if t.Branching == 0 {
		t.Branching = DefaultBranchingFactor
	}
	if t.Hash == nil {
		t.Hash = storage.ChordHash
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	c := &Client{ov: ov, tree: t, lifetime: cfg.Lifetime, start: cfg.StartLevel}
	if c.lifetime <= 0 {
		c.lifetime = DefaultLifetime
	}
	if c.start <= 0 {
		c.start = DefaultStartLevel
	}
	c.start = min(c.start, t.MaxLevel())
	return c, nil
}

// Tree is the tree shape the Client uses.
func (c *Client) Tree() Tree { return c.tree }

// Lifetime is the lifetime of the records the Client stores.
func (c *Client) Lifetime() time.Duration { return c.lifetime }

// Stats counts the overlay requests of one registration or lookup.
type Stats struct {
	Fetches int `json:"fetches"`
	Stores  int `json:"stores"`
	// Levels are the levels visited, in order.
	Levels []int `json:"levels"`
}

// Messages is the number of requests sent.
func (s *Stats) Messages() int { return s.Fetches + s.Stores }

// Registration is the outcome of one registration pass (§4.3).
type Registration struct {
	Namespace string
	// Stored maps each level the record was stored at to the tree node.
	Stored map[int]uint16
	Stats  Stats
}

func checkNamespace(ns string) error {
	if ns == "" || len(ns) > 0xffff || !utf8.ValidString(ns) {
		return fmt.Errorf("%w: %q", ErrNamespace, ns)
	}
	return nil
}

// record is this node's RedirServiceProvider for tree node (level,node)
// as a dictionary entry keyed by its Node-ID (§4.1, §6).
func (c *Client) record(self wire.NodeID, ns string, level int, node uint16, dest []wire.Destination) (wire.StoredDataValue, error) {
	r := wire.RedirServiceProvider{Type: wire.RedirExtNone, Destinations: dest, Namespace: []byte(ns), Level: uint16(level), Node: node}
	b, err := r.Append(nil)
	if err != nil {
		return wire.StoredDataValue{}, fmt.Errorf("redir: record: %w", err)
	}
	return wire.DictionaryValue(self.Bytes(), b), nil
}

// fetchNode fetches tree node (level, node of key) of ns.
func (c *Client) fetchNode(ctx context.Context, ns string, level int, key *big.Int, st *Stats) ([]Provider, uint16, error) {
	node := c.tree.Node(level, key)
	st.Fetches++
	st.Levels = append(st.Levels, level)
	sds, err := c.ov.Fetch(ctx, c.tree.ResourceID(ns, level, node), Kind)
	if err != nil {
		return nil, node, fmt.Errorf("redir: fetch %s level %d node %d: %w", ns, level, node, err)
	}
	return decodeProviders(sds, ns, level, node, c.tree.Bits/8), node, nil
}

func (c *Client) storeNode(ctx context.Context, self wire.NodeID, ns string, level int, node uint16, dest []wire.Destination, st *Stats, reg *Registration) error {
	v, err := c.record(self, ns, level, node, dest)
	if err != nil {
		return err
	}
	st.Stores++
	if err := c.ov.Store(ctx, c.tree.ResourceID(ns, level, node), Kind, []wire.StoredDataValue{v}, c.lifetime); err != nil {
		return fmt.Errorf("redir: store %s level %d node %d: %w", ns, level, node, err)
	}
	reg.Stored[level] = node
	return nil
}

// without returns entries without the one keyed id.
func without(entries []Provider, id wire.NodeID) []Provider {
	out := entries[:0:0]
	for _, e := range entries {
		if e.NodeID.Compare(id) != 0 {
			out = append(out, e)
		}
	}
	return out
}

// Register runs one registration of this node as a provider of ns (RFC
// 7374 §4.3). dest is the route stored in the records; nil means this
// node's Node-ID. Records are stored with the Client's lifetime; call
// Register again before it ends (Keep does).
func (c *Client) Register(ctx context.Context, ns string, dest []wire.Destination) (*Registration, error) {
	if err := checkNamespace(ns); err != nil {
		return nil, err
	}
	self := c.ov.LocalNodeID()
	if dest == nil {
		dest = []wire.Destination{wire.NodeDest(&self)}
	}
	key := Key(self)
	reg := &Registration{Namespace: ns, Stored: map[int]uint16{}}
	st := &reg.Stats
	// Steps 1-4: store at Lstart, then upward while n.id is the lowest
	// or highest Node-ID in its interval, storing at every level reached.
	// "Its interval" is I(level,n.id), not the whole tree node: step 4
	// ends on "the interval I(level,n.id)" and the examples of §7.1 (peer
	// 7 at level 1) count only the interval.
	var atStart []Provider
	for level := c.start; ; level-- {
		entries, node, err := c.fetchNode(ctx, ns, level, key, st)
		if err != nil {
			return reg, err
		}
		entries = without(entries, self)
		if level == c.start {
			atStart = entries
		}
		if err := c.storeNode(ctx, self, ns, level, node, dest, st, reg); err != nil {
			return reg, err
		}
		lower, higher := c.tree.extremes(level, key, entries)
		if level == 0 || (lower && higher) {
			break
		}
	}
	// Step 5: downward from Lstart, storing where n.id is the lowest or
	// highest in its interval, until it is alone in its interval.
	entries := atStart
	for level := c.start; level < c.tree.MaxLevel(); {
		if lower, higher := c.tree.extremes(level, key, entries); !lower && !higher {
			break
		}
		level++
		var node uint16
		var err error
		if entries, node, err = c.fetchNode(ctx, ns, level, key, st); err != nil {
			return reg, err
		}
		entries = without(entries, self)
		if lower, higher := c.tree.extremes(level, key, entries); !lower || !higher {
			if err := c.storeNode(ctx, self, ns, level, node, dest, st, reg); err != nil {
				return reg, err
			}
		}
	}
	return reg, nil
}

// Remove stores exists=False in place of the records reg stored (§4.6).
func (c *Client) Remove(ctx context.Context, reg *Registration) error {
	self := c.ov.LocalNodeID()
	var errs []error
	for level, node := range reg.Stored {
		v := wire.StoredDataValue{Model: wire.ModelDictionary, Key: self.Bytes()}
		if err := c.ov.Store(ctx, c.tree.ResourceID(reg.Namespace, level, node), Kind, []wire.StoredDataValue{v}, c.lifetime); err != nil {
			errs = append(errs, fmt.Errorf("redir: remove level %d node %d: %w", level, node, err))
		}
	}
	return errors.Join(errs...)
}

// RefreshInterval is when a refresh starts after a registration: 90% of
// the lifetime (§4.4).
func (c *Client) RefreshInterval() time.Duration { return c.lifetime / 10 * 9 }

// Keep keeps this node registered as a provider of ns: it repeats the
// whole registration every RefreshInterval (§4.4) until ctx ends, and
// retries a failed pass after a tenth of the lifetime. first is the
// outcome of a Register the caller already ran (Keep then waits before
// the first refresh); nil makes Keep register at once. Each pass's
// outcome goes to report when it is not nil. When ctx ends, Keep returns;
// it then removes the records of every pass (§4.6) if remove is set,
// with a fresh context bounded by ten seconds, and otherwise leaves them
// to expire.
func (c *Client) Keep(ctx context.Context, ns string, dest []wire.Destination, first *Registration, remove bool, report func(*Registration, error)) {
	stored := &Registration{Namespace: ns, Stored: map[int]uint16{}}
	add := func(reg *Registration) {
		if reg != nil {
			for l, n := range reg.Stored {
				stored.Stored[l] = n
			}
		}
	}
	add(first)
	wait := time.Duration(0)
	if first != nil {
		wait = c.RefreshInterval()
	}
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if remove && len(stored.Stored) > 0 {
				rctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
				_ = c.Remove(rctx, stored)
				cancel()
			}
			return
		case <-t.C:
		}
		reg, err := c.Register(ctx, ns, dest)
		add(reg)
		if report != nil && ctx.Err() == nil {
			report(reg, err)
		}
		wait = c.RefreshInterval()
		if err != nil {
			wait = c.lifetime / 10
		}
	}
}

// removeTimeout bounds the removal of records when Keep ends.
const removeTimeout = 10 * time.Second

// Lookup is the outcome of one service lookup (§4.5).
type Lookup struct {
	// Provider is the closest successor of the key among the providers,
	// or, when every provider's Node-ID is below the key, the one with
	// the lowest Node-ID (the successor around the ring).
	Provider Provider
	// Level is where the lookup finished.
	Level int
	// Cached is set when the answer came from the temporary cache of
	// §4.5 (the walk ended without Condition 3).
	Cached bool
	Stats  Stats
}

// successor is the entry with the lowest key at or above key, or nil.
func successor(entries []Provider, key *big.Int) *Provider {
	var best *Provider
	for i := range entries {
		e := &entries[i]
		if e.key.Cmp(key) >= 0 && (best == nil || e.key.Cmp(best.key) < 0) {
			best = e
		}
	}
	return best
}

// lowest is the entry with the lowest key, or nil.
func lowest(entries []Provider) *Provider {
	var best *Provider
	for i := range entries {
		if best == nil || entries[i].key.Cmp(best.key) < 0 {
			best = &entries[i]
		}
	}
	return best
}

// startLevel is Lstart for a lookup: the mode of the levels of the last
// 16 lookups, the deepest on a tie, or the configured level (§4.2), but
// never deeper than the configured level. Every provider stores its
// record at the registration Lstart and the lowest and highest of each
// interval climb from there to the root (§4.3), so the levels from 0 to
// Lstart list the extremes of every interval once all providers have
// registered; deeper levels are filled by the downward walks, which see
// only what was stored before them, and a lookup that starts there can
// take a successor from a neighbouring interval for the true one.
func (c *Client) startLevel() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.history) == 0 {
		return c.start
	}
	count := map[int]int{}
	best := c.start
	for _, l := range c.history {
		count[l]++
		if count[l] > count[best] || (count[l] == count[best] && l > best) {
			best = l
		}
	}
	return min(best, c.start)
}

func (c *Client) remember(level int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history = append(c.history, level)
	if len(c.history) > lookupHistory {
		c.history = c.history[len(c.history)-lookupHistory:]
	}
}

// Lookup finds the provider of ns whose Node-ID is the closest successor
// of key (§4.5): a provider whose Node-ID equals key is its own
// successor. When every provider is below key, the lookup climbs to the
// root and answers with the lowest Node-ID stored there, which is the
// lowest of all (it is the lowest in each of its intervals, so its upward
// walk always reaches the root): the successor around the identifier
// ring, one of the root's entries as §4.5 suggests. A walk that ends
// without Condition 3 (the downward walk reached a tree node without a
// successor, or the deepest level) answers from the entries seen on the
// way, the temporary cache §4.5 allows.
func (c *Client) Lookup(ctx context.Context, ns string, key wire.NodeID) (*Lookup, error) {
	if err := checkNamespace(ns); err != nil {
		return nil, err
	}
	if key.Len()*8 != c.tree.Bits {
		return nil, fmt.Errorf("redir: lookup key %s is not a Node-ID of %d bytes", key, c.tree.Bits/8)
	}
	k := Key(key)
	res := &Lookup{}
	st := &res.Stats
	var cache []Provider
	down := false
	level := c.startLevel()
	for {
		entries, _, err := c.fetchNode(ctx, ns, level, k, st)
		if err != nil {
			return res, err
		}
		cache = append(cache, entries...)
		s := successor(entries, k)
		if s == nil {
			// Condition 1: the successor is further up.
			if level == 0 {
				if low := lowest(entries); low != nil {
					res.Provider, res.Level = *low, 0
					c.remember(0)
					return res, nil
				}
				return res, fmt.Errorf("%w %q", ErrNoProvider, ns)
			}
			if down {
				break // the downward walk lost the successor
			}
			level--
			continue
		}
		if s.key.Cmp(k) != 0 {
			// Condition 2: key is neither the lowest nor the highest
			// of its interval, so a closer successor may be below.
			if lower, higher := c.tree.extremes(level, k, entries); lower && higher && level < c.tree.MaxLevel() {
				level++
				down = true
				continue
			}
		}
		// Condition 3. The closest successor among all entries seen is
		// at least as close as the one of this tree node.
		res.Provider, res.Level = *successor(cache, k), level
		c.remember(level)
		return res, nil
	}
	res.Cached, res.Level = true, level
	if s := successor(cache, k); s != nil {
		res.Provider = *s
		return res, nil
	}
	return res, fmt.Errorf("%w %q", ErrNoProvider, ns)
}
