package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// Request sends a request to a destination list and waits for the answer
// (RFC 6940 §6.2). An error answer is returned as a *wire.RemoteError
// (the answering peer's code, info and Node-ID) with the Answer that
// carried it; a request left unanswered fails with
// forwarding.ErrRequestTimeout. wire.ErrorCodeOf gives the code of either.
// The same holds for Store, Fetch, Stat and the other requests below; a
// *wire.ProtocolError from them is a refusal of this node's own (for
// example Error_Unknown_Kind for a Kind it does not know).
func (n *Node) Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte) (*forwarding.Answer, error) {
	return n.request(ctx, dest, code, body, true)
}

// request is Request; omit allows leaving this node's certificate out
// (Config.OmitCertificates).
func (n *Node) request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, omit bool) (*forwarding.Answer, error) {
	n.sent.Add(1)
	return n.eng.RequestWith(ctx, dest, code, body, n.requestOptions(code, omit))
}

// Handle registers the handler for requests with message code code (a
// usage's own messages).
func (n *Node) Handle(code wire.MessageCode, h forwarding.Handler) { n.eng.Handle(code, h) }

// HandleApp registers the receiver of AppAttach connections for an
// Application-ID (RFC 6940 §6.5.2).
func (n *Node) HandleApp(app uint16, h forwarding.AppHandler) { n.eng.HandleApp(app, h) }

// PingResult is the outcome of a Ping.
type PingResult struct {
	From wire.NodeID
	RTT  time.Duration
	Hops int
	Ans  wire.PingAns
}

// Ping sends a Ping to dest and measures the round trip (RFC 6940 §6.5.3).
func (n *Node) Ping(ctx context.Context, dest wire.Destination) (PingResult, error) {
	start := time.Now()
	n.sent.Add(1)
	pa, ans, err := n.eng.Ping(ctx, []wire.Destination{dest})
	if err != nil {
		return PingResult{}, err
	}
	r := PingResult{RTT: time.Since(start), Ans: *pa}
	if ans != nil {
		r.From = ans.Signer.NodeID
		r.Hops = len(ans.Via)
	}
	return r, nil
}

// Store signs values as this node and stores them at resource under kind
// (RFC 6940 §7.4.1); lifetime 0 means one hour.
func (n *Node) Store(ctx context.Context, resource wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) (*wire.StoreAns, error) {
	return n.store1(ctx, resource, kind, values, lifetime, true)
}

// store1 is Store; omit as for request.
func (n *Node) store1(ctx context.Context, resource wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration, omit bool) (*wire.StoreAns, error) {
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	now := uint64(time.Now().UnixMilli())
	kd := wire.StoreKindData{Kind: kind}
	for _, v := range values {
		sd := wire.StoredData{StorageTime: now, Lifetime: uint32(lifetime / time.Second), Value: v}
		if err := storage.Sign(n.cfg.Identity, resource, kind, &sd); err != nil {
			return nil, err
		}
		kd.Values = append(kd.Values, sd)
	}
	self := n.ID()
	sa := wire.StoreAns{IDLen: self.Len()}
	if _, err := n.resourceAnswer(ctx, resource, wire.CodeStoreReq, &wire.StoreReq{Resource: resource, KindData: []wire.StoreKindData{kd}}, &sa, omit); err != nil {
		return nil, err
	}
	return &sa, nil
}

// resourceRequest sends req to the peer responsible for resource and
// decodes its answer into ans.
func (n *Node) resourceRequest(ctx context.Context, resource wire.ResourceID, code wire.MessageCode, req, ans wire.Body) error {
	_, err := n.resourceAnswer(ctx, resource, code, req, ans, true)
	return err
}

// resourceAnswer is resourceRequest that also returns the answer; omit as
// for request.
func (n *Node) resourceAnswer(ctx context.Context, resource wire.ResourceID, code wire.MessageCode, req, ans wire.Body, omit bool) (*forwarding.Answer, error) {
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	a, err := n.request(ctx, []wire.Destination{wire.ResourceDest(resource)}, code, body, omit)
	if err != nil {
		return nil, err
	}
	if _, err = ans.Decode(a.Body); err != nil {
		return nil, err
	}
	return a, nil
}

// allOf is the specifier of every value of kind (RFC 6940 §7.4.2.1: all
// indices of an array, all keys of a dictionary).
func (n *Node) allOf(kind wire.KindID) (wire.StoredDataSpecifier, error) {
	model, ok := n.kinds.Model(kind)
	if !ok {
		return wire.StoredDataSpecifier{}, &wire.ProtocolError{Code: wire.ErrCodeUnknownKind}
	}
	spec := wire.StoredDataSpecifier{Kind: kind, Model: model}
	if model == wire.ModelArray {
		spec.Indices = []wire.ArrayRange{{First: 0, Last: 0xffffffff}}
	}
	return spec, nil
}

// FetchResult is the answer to a Fetch after verification: the FetchAns
// with only the values that passed (RFC 6940 §7.4.2.2), and those that
// did not.
type FetchResult struct {
	wire.FetchAns
	// From is the peer that answered.
	From wire.NodeID
	// Discarded lists the values removed from the answer because their
	// signature, certificate or access policy did not check out. When it
	// is not empty the answer is partial (§7.4.2.2: the application
	// SHOULD be told).
	Discarded []storage.Discarded
}

// Partial reports whether values were discarded from the answer.
func (r *FetchResult) Partial() bool { return len(r.Discarded) > 0 }

// Fetch fetches the values that specs select at resource (RFC 6940
// §7.4.2) and verifies every value returned (§7.4.2.2): its signature
// over resource, kind, storage time and value, the signer's certificate
// against the overlay's trust anchors, and the Kind's access control
// policy (§7.3), as the storing peer checked them. Values that fail are
// removed, listed in Discarded, counted in the
// reload_fetched_values_discarded_total metric and logged with the Node-ID
// of the peer that answered.
func (n *Node) Fetch(ctx context.Context, resource wire.ResourceID, specs []wire.StoredDataSpecifier) (*FetchResult, error) {
	return n.fetch(ctx, resource, specs, true)
}

// fetch is Fetch; omit as for request (false for the fetches of
// certificates, so that the peer asked need not fetch this node's own
// first).
func (n *Node) fetch(ctx context.Context, resource wire.ResourceID, specs []wire.StoredDataSpecifier, omit bool) (*FetchResult, error) {
	req := wire.FetchReq{Resource: resource, Specifiers: specs}
	r := &FetchResult{FetchAns: wire.FetchAns{Models: n.kinds}}
	a, err := n.resourceAnswer(ctx, resource, wire.CodeFetchReq, &req, &r.FetchAns, omit)
	if err != nil {
		return nil, err
	}
	r.From = a.Signer.NodeID
	var orig []wire.FetchKindResponse
	if omit {
		// VerifyFetch removes values in place: kept to verify again.
		orig = make([]wire.FetchKindResponse, len(r.KindResponses))
		for i, kr := range r.KindResponses {
			kr.Values = slices.Clone(kr.Values)
			orig[i] = kr
		}
	}
	r.Discarded = n.store.VerifyFetch(&req, &r.FetchAns, a.Certificates, time.Now())
	if omit && n.fetchSignerCertificates(ctx, r.Discarded) {
		// §6.3.4: verified again with the certificates fetched.
		r.KindResponses = orig
		r.Discarded = n.store.VerifyFetch(&req, &r.FetchAns, a.Certificates, time.Now())
	}
	if len(r.Discarded) > 0 {
		n.met.fetchDiscarded.Add(uint64(len(r.Discarded)))
		for _, d := range r.Discarded {
			n.log.Warn("fetched value discarded (RFC 6940 §7.4.2.2)", "resource", resource.String(), "from", r.From.String(),
				"signer", d.Signer.String(), "value", d.String())
		}
	}
	return r, nil
}

// fetchExisting fetches every value of kind at res (FetchAll, so each
// passed the checks of RFC 6940 §7.4.2.2) and returns those that exist:
// what a usage's Overlay.Fetch returns.
func (n *Node) fetchExisting(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	fa, err := n.FetchAll(ctx, res, kind)
	if err != nil {
		return nil, err
	}
	var out []wire.StoredData
	for _, kr := range fa.KindResponses {
		if kr.Kind != kind {
			continue
		}
		for _, sd := range kr.Values {
			if sd.Value.Value.Exists {
				out = append(out, sd)
			}
		}
	}
	return out, nil
}

// FetchAll is Fetch of every value of kind at resource.
func (n *Node) FetchAll(ctx context.Context, resource wire.ResourceID, kind wire.KindID) (*FetchResult, error) {
	spec, err := n.allOf(kind)
	if err != nil {
		return nil, err
	}
	return n.Fetch(ctx, resource, []wire.StoredDataSpecifier{spec})
}

// Diag is a client for RFC 7851 diagnostics (ping with diagnostics and
// traceroute) through this node.
func (n *Node) Diag() diag.Overlay { return diagOverlay{n} }

type diagOverlay struct{ n *Node }

func (o diagOverlay) NextHop(d wire.Destination) (wire.NodeID, bool, error) {
	return diagRouter(o).NextHop(d)
}

func (o diagOverlay) Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (diag.Answer, error) {
	o.n.sent.Add(1)
	ans, err := o.n.eng.RequestWith(ctx, dest, code, body, forwarding.RequestOptions{Extensions: exts})
	// An error answer is an Answer to diag (diag.Overlay), not an error.
	var re *wire.RemoteError
	if ans == nil || (err != nil && !errors.As(err, &re)) {
		return diag.Answer{}, err
	}
	return diag.Answer{From: ans.Signer.NodeID, Code: ans.Code, Body: ans.Body, Extensions: ans.Extensions}, nil
}

// Status is a snapshot of the node for `reload status`.
type Status struct {
	NodeID       string   `json:"node_id"`
	Overlay      string   `json:"overlay"`
	Joined       bool     `json:"joined"`
	Client       bool     `json:"client"`
	Listen       string   `json:"listen"`
	Predecessors []string `json:"predecessors"`
	Successors   []string `json:"successors"`
	Fingers      []string `json:"fingers"`
	Links        []Link   `json:"links"`
	Range        string   `json:"responsible_range,omitempty"`
	Uptime       string   `json:"uptime"`
	Sent         uint64   `json:"requests_sent"`
	Received     uint64   `json:"requests_received"`
	// SelfTuning is the self-tuning state (RFC 7363), when the overlay
	// uses it.
	SelfTuning *SelfTuningStatus `json:"self_tuning,omitempty"`
	// PortMap is the NAT gateway's port mapping, with Config.PortMap.
	PortMap *PortMapStatus `json:"portmap,omitempty"`
}

// Link describes one link of the connection table.
type Link struct {
	NodeID string `json:"node_id"`
	Type   string `json:"type"`
	Remote string `json:"remote"`
	// ICE is the candidate pair that ICE selected, on ICE links.
	ICE *CandidatePair `json:"ice,omitempty"`
	// Frames and Retransmissions count the data frames the link sent,
	// retransmissions included (RFC 6940 §6.6.3).
	Frames          uint64 `json:"frames_sent"`
	Retransmissions uint64 `json:"retransmissions"`
}

// CandidatePair is the local and remote candidate of an ICE link
// (RFC 6940 §6.5.1.1): type (host, srflx, prflx, relay) and address.
type CandidatePair struct {
	LocalType  string `json:"local_type"`
	Local      string `json:"local"`
	RemoteType string `json:"remote_type"`
	Remote     string `json:"remote"`
}

// Status returns the node's state.
func (n *Node) Status() Status {
	s := Status{NodeID: n.ID().String(), Overlay: n.cfg.Overlay.InstanceName, Client: n.cfg.Client, Listen: n.Addr(),
		Uptime: time.Since(n.start).Round(time.Second).String(), Sent: n.sent.Load(), Received: n.rcvd.Load()}
	// The tables are read on the loop into t, which is given up if the
	// loop does not get to it in time (the closure may still run later).
	t := new(Status)
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	if n.do(ctx, func() {
		t.Joined = n.ch.Joined()
		t.Predecessors = ids(n.ch.Predecessors())
		t.Successors = ids(n.ch.Successors())
		t.Fingers = ids(n.ch.Fingers())
		if r, ok := n.ch.ResponsibleRange(); ok {
			t.Range = r.String()
		}
		t.SelfTuning = selfTuningStatus(n.ch)
	}) == nil {
		s.Joined, s.Predecessors, s.Successors, s.Fingers, s.Range = t.Joined, t.Predecessors, t.Successors, t.Fingers, t.Range
		s.SelfTuning = t.SelfTuning
	}
	cancel()
	s.PortMap = n.portMapStatus()
	for _, l := range n.eng.Table().Links() {
		var remote string
		if a := l.RemoteAddr(); a != nil {
			remote = a.String()
		}
		st := l.Stats()
		sl := Link{NodeID: l.PeerNodeID().String(), Type: l.Type().String(), Remote: remote,
			Frames: st.Frames, Retransmissions: st.Retransmissions}
		if lc, rc, ok := l.ICEPair(); ok {
			sl.ICE = &CandidatePair{LocalType: lc.Type.String(), Local: lc.Addr.String(), RemoteType: rc.Type.String(), Remote: rc.Addr.String()}
		}
		s.Links = append(s.Links, sl)
	}
	slices.SortFunc(s.Links, func(a, b Link) int {
		if a.NodeID < b.NodeID {
			return -1
		}
		if a.NodeID > b.NodeID {
			return 1
		}
		return 0
	})
	return s
}

func ids(l []wire.NodeID) []string {
	out := make([]string, len(l))
	for i, id := range l {
		out[i] = id.String()
	}
	return out
}

// Stat returns the metadata of every value of kind at resource (RFC 6940
// §7.4.3).
func (n *Node) Stat(ctx context.Context, resource wire.ResourceID, kind wire.KindID) (*wire.StatAns, error) {
	spec, err := n.allOf(kind)
	if err != nil {
		return nil, err
	}
	sa := wire.StatAns{Models: n.kinds}
	if err := n.resourceRequest(ctx, resource, wire.CodeStatReq, &wire.StatReq{Resource: resource, Specifiers: []wire.StoredDataSpecifier{spec}}, &sa); err != nil {
		return nil, err
	}
	return &sa, nil
}

// Find asks the peer responsible for resource for the closest
// Resource-ID it stores of each kind (RFC 6940 §7.4.4).
func (n *Node) Find(ctx context.Context, resource wire.ResourceID, kinds []wire.KindID) (*wire.FindAns, error) {
	var fa wire.FindAns
	if err := n.resourceRequest(ctx, resource, wire.CodeFindReq, &wire.FindReq{Resource: resource, Kinds: kinds}, &fa); err != nil {
		return nil, err
	}
	return &fa, nil
}
