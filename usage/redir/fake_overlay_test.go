package redir

import (
	"context"
	"sync"
	"time"

	"github.com/goreload/reload/wire"
)

// memTree is an in-memory overlay shared by many fake nodes: one
// dictionary per Resource-ID, as the storing peers would keep them.
type memTree struct {
	mu   sync.Mutex
	data map[string]map[string]wire.StoredData
	ops  int
}

func newMemTree() *memTree { return &memTree{data: map[string]map[string]wire.StoredData{}} }

// entries is the number of records stored in the whole tree.
func (m *memTree) entries() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, d := range m.data {
		n += len(d)
	}
	return n
}

// fakeNode is one node's view of a memTree.
type fakeNode struct {
	t  *memTree
	id wire.NodeID
}

func (f *fakeNode) LocalNodeID() wire.NodeID { return f.id }

func (f *fakeNode) Store(_ context.Context, res wire.ResourceID, _ wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	f.t.ops++
	d := f.t.data[string(res)]
	if d == nil {
		d = map[string]wire.StoredData{}
		f.t.data[string(res)] = d
	}
	for _, v := range values {
		if !v.Value.Exists {
			delete(d, string(v.Key))
			continue
		}
		c := v
		c.Key = append(wire.DictionaryKey(nil), v.Key...)
		c.Value.Value = append([]byte(nil), v.Value.Value...)
		d[string(v.Key)] = wire.StoredData{Lifetime: uint32(lifetime / time.Second), Value: c}
	}
	return nil
}

func (f *fakeNode) Fetch(_ context.Context, res wire.ResourceID, _ wire.KindID) ([]wire.StoredData, error) {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	f.t.ops++
	var out []wire.StoredData
	for _, sd := range f.t.data[string(res)] {
		out = append(out, sd)
	}
	return out, nil
}

// contents lists the Node-IDs stored in tree node (level,node) of ns.
func (m *memTree) contents(tr Tree, ns string, level int, node uint16) []wire.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.NodeID
	for k := range m.data[string(tr.ResourceID(ns, level, node))] {
		out = append(out, wire.MustNodeID([]byte(k)))
	}
	return out
}
