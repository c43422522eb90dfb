package node

import (
	"context"
	"io"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// router makes the plugin forwarding's Router; Route is a query, safe
// under the node's lock.
type router struct{ n *Node }

func (r router) Route(d *wire.Destination) (wire.NodeID, bool, error) {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	next, local, err := r.n.ch.Route(d)
	if err != nil || local || r.n.eng == nil || r.n.eng.Table().Connected(next) {
		return next, local, err
	}
	// The plugin names a peer of its routing table that has no link yet
	// (it is being attached): go through the connected peer of the
	// routing table that gets closest to the destination without passing
	// it, so that the message still makes progress (RFC 6940 §10.3).
	// Only peers of the routing table: a connected node the plugin does
	// not list may be a node still joining through this one, which would
	// drop the message, and its own join Attach (to its Node-ID + 1)
	// would come straight back to it.
	target := topology.Point(d.ID, r.n.cfg.Overlay.NodeIDLength)
	self := r.n.ID()
	best, found := wire.NodeID{}, false
	for _, id := range r.n.eng.Table().Neighbors() {
		if id == next || !r.n.ch.InTable(id) {
			continue
		}
		if topology.InOC(self, id, target) && (!found || topology.InOO(best, id, target)) {
			best, found = id, true
		}
	}
	if !found && r.n.cfg.Client {
		// A client sends everything through a peer it is connected to
		// (its bootstrap peer until it has attached to its responsible
		// peer, RFC 6940 §3.2).
		if nb := r.n.eng.Table().Neighbors(); len(nb) > 0 {
			return nb[0], false, nil
		}
	}
	if !found {
		return next, false, err
	}
	return best, false, nil
}

// diagRouter is the same for the diagnostics usage.
type diagRouter struct{ n *Node }

func (r diagRouter) NextHop(d wire.Destination) (wire.NodeID, bool, error) {
	next, local, err := router(r).Route(&d)
	if local {
		return r.n.ID(), true, err
	}
	return next, false, err
}

// storageTopology is what storage asks of the topology.
type storageTopology struct{ n *Node }

func (t storageTopology) Responsible(res wire.ResourceID) bool {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	return t.n.ch.Responsible(res)
}

func (t storageTopology) ReplicaSet(res wire.ResourceID) []wire.NodeID {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	return t.n.ch.ReplicaSet(res)
}

// AcceptReplica accepts replica and transfer Stores from peers that may
// send them (RFC 6940 §10.4, §10.5 step 6, §10.9): current neighbours,
// recently departed ones, and this node's admitting peer.
func (t storageTopology) AcceptReplica(res wire.ResourceID, from wire.NodeID) bool {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	return t.n.ch.AcceptReplica(res, from)
}

func (n *Node) handleStore(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	req := wire.StoreReq{Models: n.kinds}
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed StoreReq"), Err: err}
	}
	res, err := n.store.HandleStore(&req, storage.Requester{Signer: in.Signer, Certificates: in.Certificates}, time.Now())
	if err != nil {
		return nil, err
	}
	n.sendStores(res.Replicas, nil)
	return res.Answer.Append(nil)
}

func (n *Node) handleFetch(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	req := wire.FetchReq{Models: n.kinds}
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed FetchReq"), Err: err}
	}
	ans, certs, err := n.store.HandleFetchCerts(&req, time.Now())
	if err != nil {
		return nil, err
	}
	// §6.3.4: the certificates of the values' signers go into the
	// answer's SecurityBlock, so that the fetching node can verify every
	// value (§7.4.2.2) without fetching them.
	in.ReplyCertificates = certs
	return ans.Append(nil)
}

func (n *Node) handleStat(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	req := wire.StatReq{Models: n.kinds}
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed StatReq"), Err: err}
	}
	ans, err := n.store.HandleStat(&req, time.Now())
	if err != nil {
		return nil, err
	}
	return ans.Append(nil)
}

func (n *Node) handleFind(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	var req wire.FindReq
	if _, err := req.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed FindReq"), Err: err}
	}
	ans, err := n.store.HandleFind(&req, time.Now())
	if err != nil {
		return nil, err
	}
	return ans.Append(nil)
}

// handlePing answers a Ping (RFC 6940 §6.5.3), with the diagnostics of
// RFC 7851 §4.2 when the request carries a Diagnostic_Ping extension.
func (n *Node) handlePing(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	var p wire.PingReq
	if _, err := p.Decode(in.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed ping"), Err: err}
	}
	ext, ok, err := n.diag.HandlePing(n.diagRequest(in))
	if err != nil {
		return nil, err
	}
	if ok {
		in.ReplyExtensions = []wire.MessageExtension{ext}
	}
	ans := wire.PingAns{ResponseID: n.token.Add(1)<<20 ^ uint64(time.Now().UnixNano()), Time: uint64(time.Now().UnixMilli())}
	return ans.Append(nil)
}

func (n *Node) handlePathTrack(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	return n.diag.HandlePathTrack(n.diagRequest(in))
}

func (n *Node) diagRequest(in *forwarding.Incoming) diag.Request {
	return diag.Request{From: in.Signer.NodeID, TTL: in.Header.TTL, Code: in.Code, Body: in.Body, Extensions: in.Extensions}
}

// closeBackend closes a backend that holds resources (bbolt's file).
func closeBackend(b storage.Backend) error {
	if c, ok := b.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
