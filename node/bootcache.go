package node

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// maxBootCache is how many peers the bootstrap cache holds (RFC 6940
// §11.4: "The suggested number of peers to cache is 10").
const maxBootCache = 10

// bootCacheFile is the cache's file in Config.DataDir.
const bootCacheFile = "bootstrap-cache.json"

// bootCache is the list of peers this node was directly connected to
// (RFC 6940 §11.4), most recent first: a node tries them as bootstrap
// peers before the configured ones. Only links this node dialled over
// TLS are cached, as their remote address is the peer's listening
// address (a link the peer dialled shows an ephemeral port). With a data
// directory the list is kept in its bootstrap-cache.json.
type bootCache struct {
	mu      sync.Mutex
	path    string // "" without a data directory
	entries []bootEntry
	err     error // the last failure to write the file, reported once
}

type bootEntry struct {
	Addr   string `json:"addr"`
	NodeID string `json:"node_id"`
}

// loadBootCache reads the cache from dir (nothing without one, or
// without the file). A file that cannot be read is reported and the
// cache starts empty: it is an optimisation, never a reason not to start.
func loadBootCache(dir string) (*bootCache, error) {
	c := &bootCache{}
	if dir == "" {
		return c, nil
	}
	c.path = filepath.Join(dir, bootCacheFile)
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &c.entries)
	}
	if err != nil {
		c.entries = nil
		return c, err
	}
	c.entries = slices.DeleteFunc(c.entries, func(e bootEntry) bool { return e.Addr == "" })
	if len(c.entries) > maxBootCache {
		c.entries = c.entries[:maxBootCache]
	}
	return c, nil
}

// note records that this node has a link to the peer id at addr.
func (c *bootCache) note(addr string, id wire.NodeID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := bootEntry{Addr: addr, NodeID: id.String()}
	if len(c.entries) > 0 && c.entries[0] == e {
		return nil
	}
	c.entries = slices.DeleteFunc(c.entries, func(o bootEntry) bool { return o.Addr == addr })
	c.entries = slices.Insert(c.entries, 0, e)
	if len(c.entries) > maxBootCache {
		c.entries = c.entries[:maxBootCache]
	}
	if c.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(c.entries, "", "  ")
	if err == nil {
		tmp := c.path + ".tmp"
		if err = os.WriteFile(tmp, append(b, '\n'), 0o600); err == nil {
			err = os.Rename(tmp, c.path)
		}
	}
	if err != nil && c.err == nil {
		c.err = err
		return err
	}
	return nil
}

// addrs returns the cached addresses, most recent first, except those in
// skip (this node's own).
func (c *bootCache) addrs(skip ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.entries {
		if !slices.Contains(skip, e.Addr) {
			out = append(out, e.Addr)
		}
	}
	return out
}

// cacheLink adds the peer of a link that came up to the bootstrap cache
// when this node dialled it over TLS (see bootCache): Attach answers
// carry the answerer's listening address as its host candidate, and
// bootstrap peers are dialled at theirs.
func (n *Node) cacheLink(ev forwarding.LinkEvent) {
	l := ev.Link
	if l == nil || l.Type() != transport.LinkTLSTCPFHNoICE || l.RemoteAddr() == nil || l.LocalAddr() == nil {
		return
	}
	// A link whose local end is our listener's port was dialled by the
	// peer, and its remote address is no address of the peer's to dial.
	local := transport.AddrPortOf(l.LocalAddr())
	ours, err := netip.ParseAddrPort(n.Addr())
	if err != nil || !local.IsValid() || local.Port() == ours.Port() {
		return
	}
	if err := n.bootCache.note(l.RemoteAddr().String(), ev.NodeID); err != nil {
		n.log.Warn("bootstrap cache: cannot write it", "err", err)
	}
}

// useBootCache adds the cached peers to the bootstrap addresses, to be
// tried first (see bootOrder), and reports whether there are any.
func (n *Node) useBootCache() bool {
	cached := n.bootCache.addrs(n.Addr(), n.UDPAddr())
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if n.bootAddrs == nil {
		n.bootAddrs = make(map[string]wire.NodeID, len(cached))
	}
	for _, a := range cached {
		if _, ok := n.bootAddrs[a]; !ok {
			n.bootAddrs[a] = wire.NodeID{}
		}
	}
	return len(cached) > 0
}

// bootOrder is the order in which the bootstrap addresses known are
// dialled and their peers asked to admit this node: the cached peers
// first, most recent first (RFC 6940 §11.4: "before falling back to the
// bootstrap nodes listed in the configuration file"), then the others in
// sorted order.
func (n *Node) bootOrder(known map[string]wire.NodeID) []string {
	var out []string
	for _, a := range n.bootCache.addrs() {
		if _, ok := known[a]; ok {
			out = append(out, a)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(known)) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
