package sim

import (
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Op is an original Store or a Fetch injected with Put or Get. Done is
// set when its answer comes back; Lost when it was lost on the way.
type Op struct {
	Done, Lost bool
	Code       wire.MessageCode
	Body       []byte
	Err        wire.ErrorCode // the error code when Code is wire.CodeError
	At         wire.NodeID    // the peer that answered

	signer *storage.Requester
}

// Put sends an original Store (replica_number 0, RFC 6940 §7.4.1) from
// node from, routed to the peer responsible for req.Resource; signer is
// the identity that signs the request (and, for the access control
// policies, the values).
func (s *Sim) Put(from wire.NodeID, req *wire.StoreReq, signer storage.Requester) (*Op, error) {
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	op := &Op{signer: &signer}
	st := &s.Stats.Puts
	st.Sent++
	st.Bytes += len(body)
	for _, kd := range req.KindData {
		st.Values += len(kd.Values)
	}
	s.inject(from, op, nil, wire.CodeStoreReq, body, wire.ResourceDest(req.Resource))
	return op, nil
}

// Get sends a Fetch (§7.4.2) from node from, routed to the peer
// responsible for req.Resource.
func (s *Sim) Get(from wire.NodeID, req *wire.FetchReq) (*Op, error) {
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	op := &Op{}
	s.inject(from, op, nil, wire.CodeFetchReq, body, wire.ResourceDest(req.Resource))
	return op, nil
}

// inject routes a request the simulator originates at node from.
func (s *Sim) inject(from wire.NodeID, op *Op, x *Exchange, code wire.MessageCode, body []byte, dest wire.Destination) {
	n := s.byID[from]
	s.Stats.Originated++
	e := &envelope{kind: envRequest, req: code, code: code, body: body, origin: n.index, dest: []wire.Destination{dest},
		path: []int32{n.index}, issued: s.Now, op: op, xchg: x}
	s.route(n, e)
}
