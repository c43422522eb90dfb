package host

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// Purpose says why the host sends a request.
type Purpose uint8

// Purposes of the host's requests.
const (
	// Topology: a request of the topology plugin (Join, Update, Leave,
	// RouteQuery, Probe, Ping; RFC 6940 §10).
	Topology Purpose = iota
	// Replica: a replica Store after a Store this peer took (§10.4).
	Replica
	// Transfer: EventTransfer, to a joining node or from a leaving one
	// (§10.5 step 6, §10.9).
	Transfer
	// ReplicaSet: EventReplicaSetChanged, to a new member of the replica
	// set (§10.7.3).
	ReplicaSet
	// RangeGained: EventResponsibilityChanged, the range this peer is
	// responsible for widened (§10.7.1).
	RangeGained
	// Prune: data this peer is no longer responsible for nor a replica
	// of, to the responsible peer of its Resource-ID before it is
	// deleted here (§10.7.3, §10.4; see Config.Replicas).
	Prune
	// NumPurposes is the number of purposes.
	NumPurposes
)

func (p Purpose) String() string {
	switch p {
	case Topology:
		return "topology"
	case Replica:
		return "replica"
	case Transfer:
		return "transfer"
	case ReplicaSet:
		return "replica-set"
	case RangeGained:
		return "range-gained"
	case Prune:
		return "prune"
	}
	return fmt.Sprintf("Purpose(%d)", uint8(p))
}

// Handover reports whether p is one of the Stores of topology events.
func (p Purpose) Handover() bool { return p >= Transfer && p < NumPurposes }

// Message is a request the host asks its driver to send, or, with Attach
// set, a link to open.
//
// Dest is the destination list; To names the neighbour a direct request
// goes to (Dest is then that one Node-ID; the host has a link to it, as
// far as LinkUp, LinkDown and Attached told it). The driver reports the
// outcome with Answered (the answer or error answer that came back) or
// Failed (no answer: the transaction timed out, or the link could not be
// set up). For an Attach (RFC 6940 §6.5.1) the driver Attaches along
// Dest and reports Attached with the Node-ID of the peer that answered,
// or Failed.
type Message struct {
	Token  uint64
	Attach bool
	Dest   []wire.Destination
	To     wire.NodeID
	Code   wire.MessageCode
	Body   []byte
	// Certificates go into the request's SecurityBlock: the certificates
	// of the values a handover or replica Store carries (§6.3.4).
	Certificates []wire.GenericCertificate
	Purpose      Purpose
	// Timeout, when not zero, is how long the driver may take over an
	// Attach before it gives it up (Failed), sooner than its transaction
	// layer would: the join's Attach through a bootstrap peer (see
	// Config.JoinAttachTimeout).
	Timeout time.Duration
	// Extensions go into the request's MessageContents (RFC 6940 §6.3.3).
	Extensions []wire.MessageExtension
}

// Request is a request delivered to this node (its signature verified by
// forwarding), for the host to answer: a topology request or a storage
// request. Token is the driver's, given back in the Answer.
type Request struct {
	Token uint64
	Code  wire.MessageCode
	Body  []byte
	// From is the signer (and its certificates, for the data signatures
	// of a Store).
	From storage.Requester
	// Extensions are the request's message extensions (RFC 6940 §6.3.3).
	Extensions []wire.MessageExtension
}

// Answer is the host's answer to a delivered Request.
type Answer struct {
	Token uint64
	// Code is the answer's message code, or wire.CodeError with an
	// ErrorResponse in Body; Err is then the error it encodes (a
	// *wire.ProtocolError, the code this node answers with).
	Code wire.MessageCode
	Body []byte
	Err  error
	// Certificates go into the answer's SecurityBlock (a FetchAns's
	// values' signers, §6.3.4).
	Certificates []wire.GenericCertificate
	// Extensions go into the answer's MessageContents (RFC 6940 §6.3.3).
	Extensions []wire.MessageExtension
}

// Ready is what the host wants done, in this order: act on Events, send
// Messages in order, then send Answers. (The topology contract has the
// Stores of EventTransfer leave before the plugin's messages and answers,
// RFC 6940 §10.5 step 6.) Routes, when not nil, is a new snapshot of the
// routing state to publish for transit routing.
type Ready struct {
	Events   []topology.Event
	Messages []Message
	Answers  []Answer
	Routes   topology.Routes
}

// Empty reports whether there is nothing to do.
func (r *Ready) Empty() bool {
	return len(r.Events) == 0 && len(r.Messages) == 0 && len(r.Answers) == 0 && r.Routes == nil
}

// Config configures a Host.
type Config struct {
	// Plugin is the topology plugin (required), idle: the host calls
	// Start or Join on it.
	Plugin topology.Plugin
	// Kinds, Backend and Verifier are the storage's (required); the host
	// builds the storage.Store with itself as its Topology.
	Kinds    *storage.KindTable
	Backend  storage.Backend
	Verifier storage.Verifier
	// MaxStorageTimeAhead and MaxLifetime are storage.Config's.
	MaxStorageTimeAhead, MaxLifetime time.Duration
	// Clock is the time storage rules are applied at (required: time.Now
	// for a real node, a virtual clock in a simulation).
	Clock func() time.Time
	// ExpireEvery is how often Tick removes expired values (default 10 s
	// of Clock time).
	ExpireEvery time.Duration
	// JoinAttachTimeout is the Timeout of the join's Attach through a
	// bootstrap peer (default the overlay-reliability-timer's default,
	// 3 s). One whose route runs into a dead peer gets no answer, and
	// each retransmission takes the same route; given up, it reaches
	// the plugin as the Join's timeout, and the plugin joins through its
	// next bootstrap peer instead (RFC 6940 §10.5, §11.4).
	JoinAttachTimeout time.Duration
	// Replicas is the plugin's replica count (RFC 6940 §10.4: the
	// responsible peer and its next Replicas successors hold the data
	// of a Resource-ID). With it set, the host prunes: data whose
	// Resource-ID lies outside (Replicas-th predecessor, this peer] —
	// this peer is then neither its responsible peer nor one of its
	// replicas (§10.7.3) — is sent in a replica Store to the
	// Resource-ID's responsible peer, and deleted here once that peer
	// has acknowledged it (or answered that it holds newer data). A
	// Store that fails or is refused leaves the data here, to be tried
	// again on the next topology change or expiry pass. Zero: nothing
	// is pruned; data stays until it expires.
	Replicas int
	// OnError, when set, receives the errors of the storage work that
	// topology events call for (they are logged at Debug otherwise).
	OnError func(error)
	Logger  *slog.Logger
}

// reqKind is what a request the host sent is for.
type reqKind uint8

const (
	reqPlugin reqKind = iota // the plugin's request; ptoken is its token
	reqStore                 // a replica or handover Store
	reqAttach                // an Attach; waiting lists what it holds up
)

type outReq struct {
	kind    reqKind
	purpose Purpose
	code    wire.MessageCode
	ptoken  uint64
	to      wire.NodeID
	// prune is the Store of a Prune request, for DropHandedOver.
	prune *wire.StoreReq
	// reqAttach: the target (zero for the join Attach) and the messages
	// waiting for the link; join marks the Attach to the admitting peer,
	// whose JoinReq goes to whichever peer answers.
	waiting []Message
	join    bool
}

// Host is the deterministic host of a RELOAD node: it owns the topology
// plugin, the storage rules and replication, and the tokens of the
// requests they send, and turns topology events into Stores and Attaches.
// It is not safe for concurrent use; one goroutine (or the simulator)
// drives it. See the package documentation.
type Host struct {
	cfg   Config
	p     topology.Plugin
	self  wire.NodeID
	store *storage.Store
	log   *slog.Logger

	tok  uint64
	reqs map[uint64]*outReq
	// delivered maps the token a delivered request has in the plugin to
	// the driver's.
	delivered map[uint64]uint64
	linked    map[wire.NodeID]struct{}
	attaching map[wire.NodeID]uint64 // target → token of its Attach

	rng        topology.Range
	replica    []wire.NodeID
	nextExpire time.Time
	routes     topology.Routes

	// pruning holds the Resource-IDs whose Prune Store is under way.
	pruning map[string]struct{}

	// joinAP is the peer the JoinReq went to (RFC 6940 §10.5 step 5),
	// until the plugin has joined: see storageView.AcceptReplica.
	joinAP wire.NodeID

	rd Ready
}

// New returns a host over cfg.Plugin, which must be idle.
func New(cfg Config) (*Host, error) {
	if cfg.Plugin == nil || cfg.Kinds == nil || cfg.Backend == nil || cfg.Verifier == nil || cfg.Clock == nil {
		return nil, errors.New("host: Config needs Plugin, Kinds, Backend, Verifier and Clock")
	}
	if cfg.ExpireEvery <= 0 {
		cfg.ExpireEvery = 10 * time.Second
	}
	if cfg.JoinAttachTimeout <= 0 {
		cfg.JoinAttachTimeout = config.DefaultOverlayReliabilityTimer
	}
	h := &Host{cfg: cfg, p: cfg.Plugin, self: cfg.Plugin.ID(), log: cfg.Logger,
		reqs: make(map[uint64]*outReq), delivered: make(map[uint64]uint64), linked: make(map[wire.NodeID]struct{})}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var err error
	h.store, err = storage.New(storage.Config{Kinds: cfg.Kinds, Backend: cfg.Backend, Verifier: cfg.Verifier,
		Topology: storageView{h}, Logger: cfg.Logger, MaxStorageTimeAhead: cfg.MaxStorageTimeAhead, MaxLifetime: cfg.MaxLifetime})
	if err != nil {
		return nil, err
	}
	h.nextExpire = cfg.Clock().Add(cfg.ExpireEvery)
	h.routes = h.p.Routes()
	h.rd.Routes = h.routes
	return h, nil
}

// storageView is what storage asks of the topology. Storage is only
// called on the host's goroutine, so it reads the plugin directly.
type storageView struct{ h *Host }

func (v storageView) Responsible(res wire.ResourceID) bool { return v.h.p.Responsible(res) }

func (v storageView) ReplicaSet(res wire.ResourceID) []wire.NodeID { return v.h.p.ReplicaSet(res) }

// AcceptReplica accepts replica and transfer Stores from peers that may
// send them (RFC 6940 §10.4, §10.5 step 6, §10.9): see the plugin's.
func (v storageView) AcceptReplica(res wire.ResourceID, from wire.NodeID) bool {
	if v.h.p.AcceptReplica(res, from) {
		return true
	}
	// §10.5 step 6: the admitting peer's Stores leave before its JoinAns
	// and its Update (see Ready), so they arrive before the plugin knows
	// it as the admitting peer: take them from the peer the JoinReq went
	// to while the join is under way.
	return !v.h.joinAP.IsZero() && from == v.h.joinAP && !v.h.p.Joined()
}

// Plugin is the topology plugin, for queries on the host's goroutine.
func (h *Host) Plugin() topology.Plugin { return h.p }

// Store is the local data store. Its queries (Usage, VerifyFetch,
// LocalCertificate, the backend) are safe from any goroutine; the
// handlers that consult the topology run on the host's.
func (h *Host) Store() *storage.Store { return h.store }

// Linked reports whether the host knows of a link to id.
func (h *Host) Linked(id wire.NodeID) bool { _, ok := h.linked[id]; return ok }

// Pending is the number of requests the host awaits an outcome for.
func (h *Host) Pending() int { return len(h.reqs) }

// Start makes this node the first peer of a new overlay.
func (h *Host) Start() error { err := h.p.Start(); h.drain(); return err }

// Join starts joining through the connected bootstrap peers via (RFC 6940
// §10.5, §11.4).
func (h *Host) Join(via ...wire.NodeID) error { err := h.p.Join(via...); h.drain(); return err }

// CheckPartition has a plugin that detects partitions (chord does,
// RFC 6940 §10.7.4.4) Ping this peer's own Node-ID through the bootstrap
// peer via, to which the caller has a link; other plugins ignore it.
func (h *Host) CheckPartition(via wire.NodeID) {
	if p, ok := h.p.(interface{ CheckPartition(wire.NodeID) }); ok {
		p.CheckPartition(via)
		h.drain()
	}
}

// Leave sends Leaves to the neighbours and hands the data over (§10.9).
func (h *Host) Leave() error { err := h.p.Leave(); h.drain(); return err }

// Tick advances the plugin's clock by one tick and removes expired values
// every ExpireEvery.
func (h *Host) Tick() {
	h.p.Tick()
	if now := h.cfg.Clock(); !now.Before(h.nextExpire) {
		h.nextExpire = now.Add(h.cfg.ExpireEvery)
		if k, err := h.store.Expire(now); err != nil {
			h.fail(fmt.Errorf("storage expiry: %w", err))
		} else if k > 0 {
			h.log.Debug("expired values removed", "count", k)
		}
		// Prune Stores that failed or were refused are tried again.
		h.prune(now)
	}
	// Most ticks change nothing: a tick that changes the routing state
	// also has the plugin send something (Updates, Pings, events), so
	// an idle one skips the comparison of the routing snapshot, which
	// costs more than the tick itself in a simulation of many nodes.
	if h.p.HasReady() {
		h.drain()
	}
}

// LinkUp reports a link to id (a new one: a node that comes back with the
// same Node-ID may be a new process, which the plugin checks).
func (h *Host) LinkUp(id wire.NodeID) {
	if id == h.self {
		return
	}
	h.linked[id] = struct{}{}
	h.p.PeerLinked(id)
	h.drain()
}

// LinkDown reports that the last link to id is gone.
func (h *Host) LinkDown(id wire.NodeID) {
	delete(h.linked, id)
	h.p.PeerFailed(id)
	h.drain()
}

// Deliver hands the host a request addressed to this node: Join, Leave,
// Update, RouteQuery and Probe go to the topology plugin, Store, Fetch,
// Stat and Find to storage. Every request is answered through Ready.
func (h *Host) Deliver(r Request) {
	switch r.Code {
	case wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeUpdateReq, wire.CodeRouteQueryReq, wire.CodeProbeReq:
		h.tok++
		pt := h.tok
		h.delivered[pt] = r.Token
		err := h.p.Step(topology.Incoming{From: r.From.Signer.NodeID, Code: r.Code, Body: r.Body, Token: pt, Ext: r.Extensions})
		if err != nil {
			h.log.Debug("topology request", "code", r.Code.String(), "from", r.From.Signer.NodeID.String(), "err", err)
		}
		h.drain()
		if tok, ok := h.delivered[pt]; ok {
			// The plugin answers every request it knows in Step; one
			// it does not is refused here, so that none goes
			// unanswered.
			delete(h.delivered, pt)
			h.answerErr(tok, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("not handled by the topology"), Err: err})
		}
	case wire.CodeStoreReq:
		h.handleStore(r)
	case wire.CodeFetchReq:
		req := wire.FetchReq{Models: h.cfg.Kinds}
		if _, err := req.Decode(r.Body); err != nil {
			h.answerErr(r.Token, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed FetchReq"), Err: err})
			return
		}
		ans, certs, err := h.store.HandleFetchCerts(&req, h.cfg.Clock())
		h.answer(r.Token, wire.CodeFetchAns, &ans, err, certs)
	case wire.CodeStatReq:
		req := wire.StatReq{Models: h.cfg.Kinds}
		if _, err := req.Decode(r.Body); err != nil {
			h.answerErr(r.Token, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed StatReq"), Err: err})
			return
		}
		ans, err := h.store.HandleStat(&req, h.cfg.Clock())
		h.answer(r.Token, wire.CodeStatAns, &ans, err, nil)
	case wire.CodeFindReq:
		var req wire.FindReq
		if _, err := req.Decode(r.Body); err != nil {
			h.answerErr(r.Token, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed FindReq"), Err: err})
			return
		}
		ans, err := h.store.HandleFind(&req, h.cfg.Clock())
		h.answer(r.Token, wire.CodeFindAns, &ans, err, nil)
	default:
		h.answerErr(r.Token, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("not handled by this node")})
	}
}

func (h *Host) handleStore(r Request) {
	req := wire.StoreReq{Models: h.cfg.Kinds}
	if _, err := req.Decode(r.Body); err != nil {
		h.answerErr(r.Token, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed StoreReq"), Err: err})
		return
	}
	res, err := h.store.HandleStore(&req, r.From, h.cfg.Clock())
	if err != nil {
		h.answerErr(r.Token, err)
		return
	}
	h.sendStores(Replica, res.Replicas, nil)
	h.answer(r.Token, wire.CodeStoreAns, &res.Answer, nil, nil)
}

type appender interface {
	Append(b []byte) ([]byte, error)
}

func (h *Host) answer(tok uint64, code wire.MessageCode, body appender, err error, certs []wire.GenericCertificate) {
	if err != nil {
		h.answerErr(tok, err)
		return
	}
	b, err := body.Append(nil)
	if err != nil {
		h.answerErr(tok, err)
		return
	}
	h.rd.Answers = append(h.rd.Answers, Answer{Token: tok, Code: code, Body: b, Certificates: certs})
}

// answerErr answers with the ErrorResponse err calls for: its RELOAD
// error code, Error_Invalid_Message for an error without one.
func (h *Host) answerErr(tok uint64, err error) {
	var pe *wire.ProtocolError
	if !errors.As(err, &pe) {
		code, ok := wire.ErrorCodeOf(err)
		if !ok {
			code = wire.ErrCodeInvalidMessage
		}
		pe = &wire.ProtocolError{Code: code, Err: err}
	}
	er := pe.Response()
	b, _ := er.Append(nil)
	h.rd.Answers = append(h.rd.Answers, Answer{Token: tok, Code: wire.CodeError, Body: b, Err: err})
}

// Answered hands the host the answer (or error answer, Code
// wire.CodeError) that peer from sent to its request token.
func (h *Host) Answered(token uint64, from wire.NodeID, code wire.MessageCode, body []byte) {
	h.AnsweredExt(token, from, code, body, nil)
}

// AnsweredExt is Answered for an answer with message extensions (RFC 6940
// §6.3.3), which the topology plugin sees.
func (h *Host) AnsweredExt(token uint64, from wire.NodeID, code wire.MessageCode, body []byte, ext []wire.MessageExtension) {
	r, ok := h.take(token)
	if !ok {
		return
	}
	switch r.kind {
	case reqPlugin:
		if err := h.p.Step(topology.Incoming{From: from, Code: code, Body: body, Token: r.ptoken, Ext: ext}); err != nil {
			h.log.Debug("topology answer", "code", code.String(), "from", from.String(), "err", err)
		}
		if r.code == wire.CodeRouteQueryReq && code == wire.CodeRouteQueryAns && h.clientPeer() == from {
			// §3.2: a client keeps a connection to its responsible
			// peer, which has just answered its RouteQuery.
			h.link(from)
		}
	case reqAttach:
		// An Attach ends with Attached or Failed only.
		h.reqs[token] = r
		return
	case reqStore:
		if code == wire.CodeError {
			h.log.Debug("handover store refused", "purpose", r.purpose.String(), "to", r.to.String(),
				"err", wire.ParseErrorAnswer(body, from))
		}
		if r.prune != nil {
			h.pruned(r.prune, code, body, from)
		}
	}
	h.drain()
}

// keepFunc returns whether this peer keeps the data of a Resource-ID:
// it is responsible for it or one of its Config.Replicas replicas, that
// is, the Resource-ID lies in (Replicas-th predecessor, this peer] (RFC
// 6940 §10.4: the replicas are the responsible peer's next successors).
// With fewer predecessors known than that (a small ring, or tables not
// yet full) it keeps everything.
func (h *Host) keepFunc() func(wire.ResourceID) bool {
	all := func(wire.ResourceID) bool { return true }
	if h.cfg.Replicas <= 0 || !h.p.Joined() {
		return all
	}
	if _, peer := h.p.ResponsibleRange(); !peer {
		return all // a client stores nothing of its own
	}
	preds := h.p.Predecessors()
	if len(preds) <= h.cfg.Replicas {
		return all
	}
	preds = preds[:h.cfg.Replicas+1]
	if slices.Contains(preds, h.self) {
		return all
	}
	for i, p := range preds {
		if slices.Contains(preds[i+1:], p) {
			return all
		}
	}
	keep := topology.Range{Start: preds[h.cfg.Replicas], End: h.self}
	return func(r wire.ResourceID) bool { return keep.Contains(r) || h.p.Responsible(r) }
}

// prune sends a Prune Store for the data this peer no longer keeps (see
// Config.Replicas), except where one is under way.
func (h *Host) prune(now time.Time) {
	if h.cfg.Replicas <= 0 {
		return
	}
	keep := h.keepFunc()
	outs, err := h.store.OrphanStores(func(r wire.ResourceID) bool {
		_, busy := h.pruning[string(r)]
		return busy || keep(r)
	}, uint8(min(h.cfg.Replicas+1, 255)), now)
	if err != nil {
		h.fail(fmt.Errorf("prune stores: %w", err))
	}
	if len(outs) == 0 {
		return
	}
	if h.pruning == nil {
		h.pruning = make(map[string]struct{})
	}
	for i := range outs {
		o := &outs[i]
		body, err := o.Req.Append(nil)
		if err != nil {
			h.fail(fmt.Errorf("prune store: %w", err))
			continue
		}
		h.pruning[string(o.Req.Resource)] = struct{}{}
		req := o.Req
		// §10.7.3: routed to the Resource-ID, it reaches the peer now
		// responsible for it, which takes a replica Store from this
		// peer while this peer is among its successors (a former
		// replica of its range).
		dest := []wire.Destination{wire.ResourceDest(o.Req.Resource)}
		tok := h.newReq(&outReq{kind: reqStore, purpose: Prune, code: wire.CodeStoreReq, prune: &req})
		h.rd.Messages = append(h.rd.Messages, Message{Token: tok, Dest: dest, Code: wire.CodeStoreReq, Body: body,
			Certificates: o.Certificates, Purpose: Prune})
	}
}

// pruned handles the answer to the Prune Store req. The local copy goes
// once the responsible peer has the data and has said that this peer is
// not one of its replicas: its StoreAns lists its replica set (§7.4.1.2),
// which must not name this peer (this peer's predecessors may be stale: a
// predecessor that left or failed and is still listed makes this peer
// think it is further from the data than it is). It also goes when the
// peer answered that it holds newer data (a generation counter or
// storage time answer, §7.4.1.1): this copy is stale. Either way it stays
// if this peer has become responsible for it or a replica of it again in
// the meantime.
func (h *Host) pruned(req *wire.StoreReq, code wire.MessageCode, body []byte, from wire.NodeID) {
	delete(h.pruning, string(req.Resource))
	ok := false
	switch code {
	case wire.CodeStoreAns:
		ans := wire.StoreAns{IDLen: h.self.Len()}
		if _, err := ans.Decode(body); err == nil && len(ans.KindResponses) > 0 {
			ok = true
			for _, k := range ans.KindResponses {
				if len(k.Replicas) == 0 || slices.Contains(k.Replicas, h.self) {
					ok = false // not the responsible peer, or we are its replica
				}
			}
		}
	case wire.CodeError:
		switch wire.ParseErrorAnswer(body, from).Code {
		case wire.ErrCodeGenerationCounterTooLow, wire.ErrCodeDataTooOld:
			ok = true
		}
	}
	if !ok || h.keepFunc()(req.Resource) {
		return
	}
	n, err := h.store.DropHandedOver(req)
	if err != nil {
		h.fail(fmt.Errorf("prune: %w", err))
		return
	}
	if n > 0 {
		h.log.Debug("pruned values handed over", "resource", fmt.Sprintf("%x", []byte(req.Resource)), "values", n, "to", from.String())
	}
}

// clientPeer is the responsible peer of a client that has found it.
func (h *Host) clientPeer() wire.NodeID {
	if c, ok := h.p.(interface{ AttachedPeer() wire.NodeID }); ok {
		return c.AttachedPeer()
	}
	return wire.NodeID{}
}

// Failed reports that request (or Attach) token got no answer: err is why
// (forwarding.ErrRequestTimeout after the last retransmission, or the
// Attach's error). The plugin gets it as an error answer with
// Error_Request_Timeout (or err's own code) from nobody (a zero From), so
// that the transaction layer's timer is the only one (RFC 6940 §6.2.1).
func (h *Host) Failed(token uint64, err error) {
	h.failed(token, err)
	h.drain()
}

func (h *Host) failed(token uint64, err error) {
	r, ok := h.take(token)
	if !ok {
		return
	}
	switch r.kind {
	case reqPlugin:
		code, ok := wire.ErrorCodeOf(err)
		if !ok {
			code = wire.ErrCodeRequestTimeout
		}
		er := wire.ErrorResponse{Code: code}
		b, _ := er.Append(nil)
		_ = h.p.Step(topology.Incoming{Code: wire.CodeError, Body: b, Token: r.ptoken})
	case reqStore:
		h.log.Debug("handover store failed", "purpose", r.purpose.String(), "to", r.to.String(), "err", err)
		if r.prune != nil {
			// The data stays; the next pass tries again.
			delete(h.pruning, string(r.prune.Resource))
		}
	case reqAttach:
		if !r.to.IsZero() && h.attaching[r.to] == token {
			delete(h.attaching, r.to)
		}
		for _, m := range r.waiting {
			h.failed(m.Token, err)
		}
	}
}

// Attached reports that the Attach token set up a link to peer.
func (h *Host) Attached(token uint64, peer wire.NodeID) {
	r, ok := h.take(token)
	if ok {
		if !r.to.IsZero() && h.attaching[r.to] == token {
			delete(h.attaching, r.to)
		}
	}
	if _, up := h.linked[peer]; !up && peer != h.self {
		h.linked[peer] = struct{}{}
		h.p.PeerLinked(peer)
	}
	if ok {
		for _, m := range r.waiting {
			if r.join {
				// §10.5 step 5: the Join goes to the admitting peer
				// directly, over the link just set up.
				m.To, m.Dest = peer, []wire.Destination{wire.NodeDest(&peer)}
				h.joinAP = peer
			}
			h.rd.Messages = append(h.rd.Messages, m)
		}
	}
	h.drain()
}

// HasReady reports whether Ready has something.
func (h *Host) HasReady() bool { return !h.rd.Empty() }

// Ready hands over what the host wants done, and the host starts a new
// one: inputs the driver gives while it carries this one out (a request
// that fails at once, an answer it already has) go into the next Ready
// and are not lost. Its slices belong to the driver.
func (h *Host) Ready() Ready {
	rd := h.rd
	h.rd = Ready{}
	return rd
}

// Advance acknowledges the last Ready. Ready has already handed it over;
// Advance is kept so that drivers read as the Ready contract does (and
// for a host that will need it).
func (h *Host) Advance() {}

// drain moves what the plugin has ready into the host's Ready: for each
// of the plugin's Ready, the events and the Stores they call for first,
// then the plugin's messages (the topology contract).
func (h *Host) drain() {
	for h.p.HasReady() {
		rd := h.p.Ready()
		for _, ev := range rd.Events {
			h.handleEvent(ev)
		}
		for i := range rd.Messages {
			h.pluginMessage(&rd.Messages[i])
		}
		h.p.Advance()
	}
	if r := h.p.Routes(); r != h.routes {
		h.routes, h.rd.Routes = r, r
		if h.p.Joined() {
			// §10.5 step 3, §10.7.4.2: a peer connects to the peers of
			// its finger table (the plugin finds them with routed
			// Pings), so that transit routing can use them.
			for _, f := range h.p.Fingers() {
				h.link(f)
			}
			// The predecessors may have changed: data this peer is
			// no longer a replica of goes (§10.7.3).
			h.prune(h.cfg.Clock())
		}
	}
}

func (h *Host) handleEvent(ev topology.Event) {
	h.rd.Events = append(h.rd.Events, ev)
	now := h.cfg.Clock()
	switch ev.Type {
	case topology.EventJoined:
		h.joinAP = wire.NodeID{}
		if r, ok := h.p.ResponsibleRange(); ok {
			h.rng = r
		}
	case topology.EventTransfer:
		outs, err := h.store.JoinTransfer(ev.Peer, func(id wire.ResourceID) bool { return ev.Range.Contains(id) }, now)
		h.sendStores(Transfer, outs, err)
	case topology.EventResponsibilityChanged:
		old := h.rng
		h.rng = ev.Range
		if !old.IsZero() {
			outs, err := h.store.RangeGained(func(id wire.ResourceID) bool { return ev.Range.Contains(id) && !old.Contains(id) }, now)
			h.sendStores(RangeGained, outs, err)
		}
	case topology.EventReplicaSetChanged:
		// The replica set of this peer's own range: the plugin's
		// ReplicaSet of its own Node-ID, which it is responsible for
		// (§10.4).
		set := h.p.ReplicaSet(h.self.Bytes())
		var added []wire.NodeID
		for _, s := range set {
			if !slices.Contains(h.replica, s) {
				added = append(added, s)
			}
		}
		h.replica = set
		if len(added) > 0 {
			outs, err := h.store.ReplicaSetChanged(added, now)
			h.sendStores(ReplicaSet, outs, err)
		}
	}
}

func (h *Host) fail(err error) {
	if h.cfg.OnError != nil {
		h.cfg.OnError(err)
	}
	h.log.Debug("host", "err", err)
}

// sendStores sends replica or handover Stores to their targets.
func (h *Host) sendStores(p Purpose, outs []storage.OutgoingStore, err error) {
	if err != nil {
		h.fail(fmt.Errorf("%v stores: %w", p, err))
	}
	for i := range outs {
		o := &outs[i]
		body, err := o.Req.Append(nil)
		if err != nil {
			h.fail(fmt.Errorf("%v store: %w", p, err))
			continue
		}
		h.direct(&outReq{kind: reqStore, purpose: p, code: wire.CodeStoreReq, to: o.To},
			Message{To: o.To, Code: wire.CodeStoreReq, Body: body, Certificates: o.Certificates, Purpose: p})
	}
}

// pluginMessage turns one of the plugin's messages into the host's.
func (h *Host) pluginMessage(m *topology.Outgoing) {
	if m.Answer {
		tok, ok := h.delivered[m.Token]
		if !ok {
			return
		}
		delete(h.delivered, m.Token)
		a := Answer{Token: tok, Code: m.Code, Body: m.Body, Extensions: m.Ext}
		if m.Code == wire.CodeError {
			// The plugin's error answer is this node's own.
			a.Err = wire.ParseErrorAnswer(m.Body, h.self).Relay()
		}
		h.rd.Answers = append(h.rd.Answers, a)
		return
	}
	r := &outReq{kind: reqPlugin, ptoken: m.Token, code: m.Code, to: m.To}
	switch {
	case m.Code == wire.CodeJoinReq && m.Routed():
		// RFC 6940 §10.5 steps 2 and 5: Attach to the admitting peer
		// through Resource-ID n+1 (through the bootstrap peer Via),
		// then send it the Join directly.
		next := topology.Add(h.self, one(h.self.Len()))
		d := []wire.Destination{wire.ResourceDest(wire.ResourceID(slices.Clone(next.Bytes())))}
		var limit time.Duration
		if !m.Via.IsZero() {
			via := m.Via
			d = append([]wire.Destination{wire.NodeDest(&via)}, d...)
			limit = h.cfg.JoinAttachTimeout
		}
		jt := h.newReq(r)
		at := h.newReq(&outReq{kind: reqAttach, join: true, waiting: []Message{{Token: jt, Code: m.Code, Body: m.Body, Purpose: Topology}}})
		h.rd.Messages = append(h.rd.Messages, Message{Token: at, Attach: true, Dest: d, Code: wire.CodeAttachReq, Purpose: Topology, Timeout: limit})
	case m.Routed():
		d := m.Dest
		if d.Type == wire.DestNode && string(d.ID) == string(h.self.Bytes()) {
			// §6.1.1: "the peer that controls region X" is reached
			// through Resource-ID X, not Node-ID X (a client's
			// RouteQuery for its own Node-ID).
			d = wire.ResourceDest(wire.ResourceID(slices.Clone(h.self.Bytes())))
		}
		dest := []wire.Destination{d}
		if !m.Via.IsZero() {
			via := m.Via
			dest = append([]wire.Destination{wire.NodeDest(&via)}, dest...)
		}
		h.rd.Messages = append(h.rd.Messages, Message{Token: h.newReq(r), Dest: dest, Code: m.Code, Body: m.Body, Purpose: Topology, Extensions: m.Ext})
	default:
		h.directVia(r, Message{To: m.To, Code: m.Code, Body: m.Body, Purpose: Topology, Extensions: m.Ext}, m.Via)
	}
}

// direct sends m to the neighbour m.To, Attaching first when the host
// knows of no link to it (RFC 6940 §10.6: neighbours are connected).
func (h *Host) direct(r *outReq, m Message) { h.directVia(r, m, wire.NodeID{}) }

// directVia is direct, Attaching through the linked neighbour via (when
// set) instead of routing to m.To's Node-ID.
func (h *Host) directVia(r *outReq, m Message, via wire.NodeID) {
	m.Token = h.newReq(r)
	to := m.To
	m.Dest = []wire.Destination{wire.NodeDest(&to)}
	if _, up := h.linked[to]; up || to == h.self {
		h.rd.Messages = append(h.rd.Messages, m)
		return
	}
	if at, ok := h.attaching[to]; ok {
		if a := h.reqs[at]; a != nil {
			a.waiting = append(a.waiting, m)
			return
		}
	}
	h.linkVia(to, via)
	a := h.reqs[h.attaching[to]]
	a.waiting = append(a.waiting, m)
}

// link Attaches to id unless the host has a link or an Attach under way.
func (h *Host) link(id wire.NodeID) { h.linkVia(id, wire.NodeID{}) }

// linkVia is link, with the Attach routed through the linked neighbour via
// when it is set (RFC 6940 §6.5.1.1: the Attach follows its destination
// list).
func (h *Host) linkVia(id, via wire.NodeID) {
	if _, up := h.linked[id]; up || id == h.self {
		return
	}
	if _, ok := h.attaching[id]; ok {
		return
	}
	if h.attaching == nil {
		h.attaching = make(map[wire.NodeID]uint64)
	}
	at := h.newReq(&outReq{kind: reqAttach, to: id})
	h.attaching[id] = at
	dest := []wire.Destination{wire.NodeDest(&id)}
	if _, up := h.linked[via]; up && via != id {
		dest = append([]wire.Destination{wire.NodeDest(&via)}, dest...)
	}
	h.rd.Messages = append(h.rd.Messages, Message{Token: at, Attach: true, Dest: dest, Code: wire.CodeAttachReq, To: id, Purpose: Topology})
}

// newReq records a request the host sends and returns its token.
func (h *Host) newReq(r *outReq) uint64 {
	h.tok++
	h.reqs[h.tok] = r
	return h.tok
}

// take removes and returns the request with token t.
func (h *Host) take(t uint64) (*outReq, bool) {
	r, ok := h.reqs[t]
	if ok {
		delete(h.reqs, t)
	}
	return r, ok
}

// one is the Node-ID 1 of length n.
func one(n int) wire.NodeID {
	b := make([]byte, n)
	b[n-1] = 1
	id, _ := wire.NodeIDFromBytes(b)
	return id
}
