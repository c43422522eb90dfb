package node

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// router makes the host's routing snapshot forwarding's Router: transit
// routing reads it without taking a lock of the node's.
type router struct{ n *Node }

func (r router) Route(d *wire.Destination) (wire.NodeID, bool, error) {
	rt := r.n.routes.Load()
	next, local, err := rt.Route(d)
	if errors.Is(err, topology.ErrNotJoined) {
		// A node that has not joined yet cannot route (a bootstrap peer
		// started at the same moment as the node joining through it):
		// answer so at once (RFC 6940 §6.2.2), rather than drop, so that
		// the joining node tries its next bootstrap peer without waiting
		// for its transaction to time out (§10.5, §11.4).
		return next, false, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Info: []byte("not a peer of the overlay yet"), Err: err}
	}
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
		if id == next || !rt.InTable(id) {
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

// mayAnswer checks an answer to a request this node sent to a Resource-ID
// against the routing snapshot's Neighbor Table (RFC 6940 §6.3.4 rule 2).
func (n *Node) mayAnswer(target []byte, responder wire.NodeID) bool {
	b := n.routes.Load()
	if b == nil {
		return true
	}
	if c, ok := b.Routes.(topology.AnswerChecker); ok {
		return c.MayAnswer(target, responder)
	}
	return true
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
