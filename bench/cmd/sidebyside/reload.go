package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// benchKind is a private-use Kind-ID (RFC 6940 §14.6) for the values.
const benchKind wire.KindID = 0xf0000b01

// maxMultiple is the Kind's max-node-multiple (RFC 6940 §7.3.4): each
// node may write at H(Node-ID || i) for i from 1 to 255.
const maxMultiple = 255

type reloadSystem struct {
	nodes []*node.Node
}

func (s *reloadSystem) start(ctx context.Context, n int) error {
	ov, err := nodetest.NewOverlay("bench.example.org", func(c *config.Configuration) {
		c.RequiredKinds = append(c.RequiredKinds, config.KindBlock{Kind: config.Kind{
			ID: uint32(benchKind), DataModel: config.DataModelSingle, AccessControl: config.AccessNodeMultiple,
			MaxNodeMultiple: maxMultiple, MaxCount: 1, MaxSize: 256,
		}})
	})
	if err != nil {
		return err
	}
	ids, err := ov.Identities(n)
	if err != nil {
		return err
	}
	for i, id := range ids {
		// Defaults: TLS links on loopback, the default tick.
		cfg := node.Config{Overlay: ov.Config, Identity: id}
		if i == 0 {
			cfg.Seed = true
		} else {
			cfg.Bootstrap = []string{s.nodes[0].Addr()}
		}
		nd, err := node.New(cfg)
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, nd)
		if err := nd.Start(ctx); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		select {
		case <-nd.Joined():
		case <-ctx.Done():
			return fmt.Errorf("node %d did not join: %w", i, ctx.Err())
		}
	}
	// Ready: every node's first successor and predecessor are those of
	// the sorted ring (RFC 6940 §10.7).
	for {
		err := s.converged()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ring did not converge: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *reloadSystem) converged() error {
	ids := make([]wire.NodeID, len(s.nodes))
	for i, nd := range s.nodes {
		ids[i] = nd.ID()
	}
	slices.SortFunc(ids, func(a, b wire.NodeID) int { return a.Compare(b) })
	for _, nd := range s.nodes {
		st := nd.Status()
		i := slices.Index(ids, nd.ID())
		succ := ids[(i+1)%len(ids)].String()
		pred := ids[(i+len(ids)-1)%len(ids)].String()
		if len(st.Successors) == 0 || st.Successors[0] != succ || len(st.Predecessors) == 0 || st.Predecessors[0] != pred {
			return fmt.Errorf("node %s: successors %v, predecessors %v", st.NodeID, st.Successors, st.Predecessors)
		}
	}
	return nil
}

// pair stores value from one node at a Resource-ID of its own, then
// fetches it from another node and checks it (the fetcher verifies the
// value's signature, §7.4.2.2).
func (s *reloadSystem) pair(ctx context.Context, j int, value []byte) error {
	from, to := pairNodes(j, len(s.nodes))
	st, ft := s.nodes[from], s.nodes[to]
	res := storage.NodeMultipleResourceID(storage.ChordHash, st.ID(), (j/len(s.nodes))%maxMultiple+1)
	if _, err := st.Store(ctx, res, benchKind, []wire.StoredDataValue{wire.SingleValue(value)}, time.Hour); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	r, err := ft.Fetch(ctx, res, []wire.StoredDataSpecifier{{Kind: benchKind, Model: wire.ModelSingle}})
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if len(r.KindResponses) != 1 || len(r.KindResponses[0].Values) != 1 {
		return fmt.Errorf("fetch: %d kinds in the answer, want one value", len(r.KindResponses))
	}
	if got := r.KindResponses[0].Values[0].Value.Value.Value; !bytes.Equal(got, value) {
		return fmt.Errorf("fetch: got %q, want %q", got, value)
	}
	return nil
}

func (s *reloadSystem) conns() int {
	n := 0
	for _, nd := range s.nodes {
		n += len(nd.Status().Links)
	}
	return n
}

func (s *reloadSystem) close() {
	for _, nd := range s.nodes {
		nd.Close()
	}
}

// pairNodes chooses the storing and the fetching node of pair j: every
// node stores in turn, and fetches come from each of the others in turn.
func pairNodes(j, n int) (from, to int) {
	from = j % n
	to = (from + 1 + (j/n)%(n-1)) % n
	return from, to
}
