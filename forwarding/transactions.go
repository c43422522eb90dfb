package forwarding

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Defaults of the end-to-end layer (RFC 6940 §6.2.1).
const (
	DefaultReliabilityTimer = config.DefaultOverlayReliabilityTimer // 3000 ms
	DefaultTransmissions    = 5                                     // "up to 4 times, for a total of 5 messages"
	DefaultRequestLifetime  = 15 * time.Second                      // the maximum request lifetime
)

// TxConfig configures Transactions.
type TxConfig struct {
	Local Local
	// Verifier checks the signature of every message delivered to this
	// node (§6.3.4).
	Verifier *security.Verifier
	// Rand supplies transaction ids (§6.3.2: "they MUST be randomly
	// generated"); nil means crypto/rand.
	Rand io.Reader
	// Timer is the overlay-reliability-timer (3000 ms).
	Timer time.Duration
	// Transmissions is the number of times a request is sent before it
	// fails with Error_Request_Timeout (5).
	Transmissions int
	// Lifetime is how long an answer is kept to answer a retransmitted
	// request (15 s, the maximum request lifetime).
	Lifetime time.Duration
	// MayAnswer reports whether responder may answer a request sent to
	// the Resource-ID target: §6.3.4 rule 2, it must be at least as
	// close to target as any node of the requester's Neighbor Table.
	// Nil accepts any responder.
	MayAnswer func(target []byte, responder wire.NodeID) bool
}

// Transactions is the end-to-end layer of symmetric recursive routing
// (§6.2): it originates requests and retransmits them, matches answers,
// verifies signatures at this destination, and answers retransmitted
// requests from a cache. It is a value used by one goroutine at a time;
// it reads no clock.
type Transactions struct {
	cfg     TxConfig
	pending map[uint64]*txn
	timers  []timer // deadlines in order (every timer has the same length)
	seen    map[reqKey]*seenReq
	expiry  []seenExpiry
	rbuf    [8]byte
	// RetriedSRR counts the retransmissions of DRR or RPR requests sent
	// by SRR (RFC 7263 §5.4.2).
	RetriedSRR uint64
}

type txn struct {
	msg      []byte
	expect   answerer
	sent     int
	deadline time.Time
}

// answerer is whom the answer to a request must come from (§6.3.4): the
// Node-ID it was sent to, or the peer responsible for the Resource-ID it
// was sent to, or anyone (both zero).
type answerer struct {
	node     wire.NodeID
	resource string
	// routed: the request asks for DRR or RPR; its retransmissions go
	// without the option (RFC 7263 §5.4.2).
	routed bool
}

type timer struct {
	txid     uint64
	deadline time.Time
}

// reqKey identifies a request for duplicate detection: its transaction id
// and a digest of its contents and security block, so that only the very
// same signed request gets the cached answer.
type reqKey struct {
	txid uint64
	sum  [sha256.Size]byte
}

type seenReq struct {
	rest []byte // signed contents and security block of the answer; nil while in progress
}

type seenExpiry struct {
	key reqKey
	at  time.Time
}

// NewTransactions returns an empty end-to-end layer.
func NewTransactions(cfg TxConfig) (*Transactions, error) {
	if cfg.Local.Identity == nil {
		return nil, errors.New("forwarding: TxConfig.Local.Identity is required")
	}
	if cfg.Verifier == nil {
		return nil, errors.New("forwarding: TxConfig.Verifier is required")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Timer <= 0 {
		cfg.Timer = DefaultReliabilityTimer
	}
	if cfg.Transmissions <= 0 {
		cfg.Transmissions = DefaultTransmissions
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultRequestLifetime
	}
	return &Transactions{cfg: cfg, pending: make(map[uint64]*txn), seen: make(map[reqKey]*seenReq)}, nil
}

// SetLocal replaces the node's overlay parameters (after a ConfigUpdate).
func (t *Transactions) SetLocal(l Local) { t.cfg.Local = l }

// SetTimer changes the overlay-reliability-timer for new transmissions.
func (t *Transactions) SetTimer(d time.Duration) {
	if d > 0 {
		t.cfg.Timer = d
	}
}

// Pending is the number of requests waiting for an answer.
func (t *Transactions) Pending() int { return len(t.pending) }

// Rand64 draws a random 64-bit value from the configured source.
func (t *Transactions) Rand64() (uint64, error) {
	if _, err := io.ReadFull(t.cfg.Rand, t.rbuf[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(t.rbuf[:]), nil
}

// Start originates a request to dests: a fresh random transaction id, the
// message built and signed, the retransmission timer armed at now. Route
// the returned message with Core.Originate. maxResponse is the
// max_response_length to ask for (0 for none).
func (t *Transactions) Start(dests []wire.Destination, code wire.MessageCode, body []byte, maxResponse uint32, now time.Time) (uint64, []byte, error) {
	return t.StartWith(dests, code, body, RequestOptions{}, maxResponse, now)
}

// StartWith is Start with message extensions in the request's
// MessageContents (§6.3.3), extra certificates in its SecurityBlock, and
// configuration_sequence 65535 when opt.SequenceUpdate is set.
func (t *Transactions) StartWith(dests []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions, maxResponse uint32, now time.Time) (uint64, []byte, error) {
	if err := checkRequest(dests, code); err != nil {
		return 0, nil, err
	}
	var txid uint64
	for {
		v, err := t.Rand64()
		if err != nil {
			return 0, nil, err
		}
		if _, dup := t.pending[v]; !dup {
			txid = v
			break
		}
	}
	msg, expect, err := requestMessage(&t.cfg.Local, txid, dests, code, body, opt, maxResponse)
	if err != nil {
		return 0, nil, err
	}
	t.track(txid, msg, expect, now)
	return txid, msg, nil
}

func checkRequest(dests []wire.Destination, code wire.MessageCode) error {
	if !code.IsRequest() {
		return errors.New("forwarding: " + code.String() + " is not a request code")
	}
	if len(dests) == 0 {
		return errors.New("forwarding: empty destination list")
	}
	return nil
}

// requestMessage builds and signs a new request of local's with
// transaction id txid (see StartWith), and returns it with the Node-ID
// its answer must be signed by (zero for any). It uses no Transactions,
// so that it can run on another goroutine than the one that owns them:
// the signature is the costly part of a request.
func requestMessage(local *Local, txid uint64, dests []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions, maxResponse uint32) ([]byte, answerer, error) {
	if err := checkRequest(dests, code); err != nil {
		return nil, answerer{}, err
	}
	b := builder{local: local}
	h := b.requestHeader(txid, dests, maxResponse)
	if opt.SequenceUpdate {
		h.ConfigSequence = config.SequenceUpdate
	}
	if opt.NeighbourOnly {
		h.TTL = 0
	}
	if opt.Route != nil {
		o, err := opt.Route.option(local.Identity.NodeID())
		if err != nil {
			return nil, answerer{}, err
		}
		h.Options = []wire.ForwardingOption{o}
	}
	msg, _, err := b.sealMessage(&h, code, body, opt)
	if err != nil {
		return nil, answerer{}, err
	}
	// §6.3.4: the response to a message sent to a Node-ID MUST have been
	// sent by that Node-ID unless it was sent to the wildcard; one to a
	// Resource-ID by a node at least as close to it as any neighbour.
	var expect answerer
	switch last := &dests[len(dests)-1]; {
	case last.Compressed:
	case last.Type == wire.DestNode && !isWildcard(last.ID):
		expect.node, _ = last.NodeID()
	case last.Type == wire.DestResource:
		expect.resource = string(last.ID)
	}
	expect.routed = opt.Route != nil
	return msg, expect, nil
}

// track arms the retransmission timer of a request that requestMessage
// built with transaction id txid; false when txid is pending already.
func (t *Transactions) track(txid uint64, msg []byte, expect answerer, now time.Time) bool {
	if _, dup := t.pending[txid]; dup {
		return false
	}
	tx := &txn{msg: msg, expect: expect, sent: 1, deadline: now.Add(t.cfg.Timer)}
	t.pending[txid] = tx
	t.timers = append(t.timers, timer{txid, tx.deadline})
	return true
}

// Cancel forgets a pending request (its caller gave up).
func (t *Transactions) Cancel(txid uint64) { delete(t.pending, txid) }

// Deadline is when Tick next has work: the earliest retransmission or
// cache expiry; zero when none.
func (t *Transactions) Deadline() time.Time {
	var d time.Time
	k := 0
	for ; k < len(t.timers); k++ {
		tm := t.timers[k]
		if tx, ok := t.pending[tm.txid]; ok && tx.deadline.Equal(tm.deadline) {
			d = tm.deadline
			break
		}
	}
	// Drop answered and cancelled requests' timers; with none left the
	// array is kept for the next request.
	if k == len(t.timers) {
		t.timers = t.timers[:0]
	} else {
		t.timers = t.timers[k:]
	}
	if len(t.expiry) > 0 && (d.IsZero() || t.expiry[0].at.Before(d)) {
		d = t.expiry[0].at
	}
	return d
}

// TxEvent is what a timer produced: a retransmission (Resend, the same
// message with the same transaction id, §6.2.1) or a failure (Err).
type TxEvent struct {
	TxID   uint64
	Resend []byte
	Err    error
}

// ErrRequestTimeout is the failure of a request whose last transmission
// (the fifth by default, §6.2.1) went unanswered. It is this node's own
// verdict, not an answer: no peer sent Error_Request_Timeout, so it is
// neither a *wire.RemoteError nor a *wire.ProtocolError. wire.ErrorCodeOf
// reports it as Error_Request_Timeout, the code RFC 6940 §6.3.3.1 gives
// this condition, and a Handler that returns it is answered with that
// code. Test with errors.Is.
var ErrRequestTimeout error = requestTimeout{}

type requestTimeout struct{}

func (requestTimeout) Error() string {
	return "forwarding: request timed out (Error_Request_Timeout): no answer after the last retransmission"
}

// ErrorCode makes wire.ErrorCodeOf report Error_Request_Timeout.
func (requestTimeout) ErrorCode() (wire.ErrorCode, bool) { return wire.ErrCodeRequestTimeout, true }

// Tick runs the timers due at now and appends their events to ev.
func (t *Transactions) Tick(now time.Time, ev []TxEvent) []TxEvent {
	i := 0
	for ; i < len(t.timers); i++ {
		tm := t.timers[i]
		tx, ok := t.pending[tm.txid]
		if !ok || !tx.deadline.Equal(tm.deadline) {
			continue // answered, cancelled or rearmed
		}
		if tm.deadline.After(now) {
			break
		}
		if tx.sent >= t.cfg.Transmissions {
			delete(t.pending, tm.txid)
			ev = append(ev, TxEvent{TxID: tm.txid, Err: ErrRequestTimeout})
			continue
		}
		tx.sent++
		if tx.expect.routed {
			tx.msg, tx.expect.routed = withoutRouteOption(tx.msg), false
			t.RetriedSRR++
		}
		tx.deadline = now.Add(t.cfg.Timer)
		t.timers = append(t.timers, timer{tm.txid, tx.deadline})
		ev = append(ev, TxEvent{TxID: tm.txid, Resend: tx.msg})
	}
	t.timers = compactTimers(t.timers, i)
	j := 0
	for ; j < len(t.expiry) && !t.expiry[j].at.After(now); j++ {
		delete(t.seen, t.expiry[j].key)
	}
	if j > 0 {
		t.expiry = append(t.expiry[:0], t.expiry[j:]...)
	}
	return ev
}

func compactTimers(ts []timer, i int) []timer {
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

// DeliveryKind says what Receive made of a delivered message.
type DeliveryKind uint8

// Delivery kinds.
const (
	// DeliverDrop: nothing to do; Err says why.
	DeliverDrop DeliveryKind = iota
	// DeliverAnswer: Answer completes the pending request TxID.
	DeliverAnswer
	// DeliverFailed: the pending request TxID failed with Err (a
	// *security.CertificateNeededError for an answer whose signer's
	// certificate is unknown).
	DeliverFailed
	// DeliverRequest: Request is a new, verified request to dispatch;
	// answer it with Respond.
	DeliverRequest
	// DeliverSend: route Send with Core.Originate (a cached answer to a
	// retransmitted request, or an error answer).
	DeliverSend
)

// Delivery is the result of Receive.
type Delivery struct {
	Kind    DeliveryKind
	TxID    uint64
	Answer  *Answer
	Request *Incoming
	Send    []byte
	// UpdatePath, when set with DeliverSend, is the destination list of a
	// requester whose configuration is too old: §6.3.2.1 says this node
	// MUST send it a ConfigUpdate.
	UpdatePath []wire.Destination
	Err        error
}

// Answer is a verified answer to a request this node sent. Its fields do
// not alias the message.
type Answer struct {
	TxID   uint64
	Code   wire.MessageCode
	Body   []byte
	Signer security.Signer
	// Extensions of the answer's MessageContents (RFC 7851 puts the
	// diagnostics of a Ping answer there).
	Extensions []wire.MessageExtension
	// Via is the via list the answer collected (the path back).
	Via []wire.Destination
	// Certificates of the answer's SecurityBlock: beside the responder's
	// own, those of the signers of stored values it carries (RFC 6940
	// §6.3.4), with which a FetchAns is verified (§7.4.2.2).
	Certificates []wire.GenericCertificate
}

// Incoming is a verified request for this node. Its fields do not alias
// the message.
type Incoming struct {
	TxID uint64
	Code wire.MessageCode
	Body []byte
	// Extensions of the request's MessageContents.
	Extensions []wire.MessageExtension
	// From is the neighbour that delivered it; Signer the origin.
	From   wire.NodeID
	Signer security.Signer
	// Certificates of the request's SecurityBlock (the signers of stored
	// values among them).
	Certificates []wire.GenericCertificate
	// ReplyExtensions, set by the handler, go into the answer's
	// MessageContents.
	ReplyExtensions []wire.MessageExtension
	// ReplyCertificates, set by the handler, go into the answer's
	// SecurityBlock beside this node's own certificate: RFC 6940 §6.3.4
	// asks for every certificate needed to verify the signatures inside
	// the message, such as those of the values of a FetchAns.
	ReplyCertificates []wire.GenericCertificate
	// Via is the request's via list; Header its forwarding header (with
	// Via and the destination list as received).
	Via    []wire.Destination
	Header wire.ForwardingHeader

	key reqKey
}

// Receive takes a message the core delivered to this node (ActDeliver)
// at now.
func (t *Transactions) Receive(a *Action, now time.Time) Delivery {
	m := a.Msg
	h := &m.Header
	if m.Contents.Code.IsAnswer() {
		return t.receiveAnswer(a, now)
	}
	// A request. A retransmission of one already seen gets the same
	// answer (§6.2.1) without being processed again.
	key := reqKey{txid: h.TransactionID, sum: sha256.Sum256(m.Payload)}
	if s, ok := t.seen[key]; ok {
		if s.rest == nil {
			return Delivery{Kind: DeliverDrop, TxID: key.txid, Err: errInProgress}
		}
		b := builder{local: &t.cfg.Local}
		ah := b.answerHeader(h, a.From)
		msg, err := b.message(nil, &ah, s.rest)
		if err != nil {
			return Delivery{Kind: DeliverDrop, Err: err}
		}
		return Delivery{Kind: DeliverSend, TxID: key.txid, Send: msg}
	}
	// §6.3.4: the destination MUST verify the signature; a request is
	// signed by its origin, the first via-list entry (or the neighbour
	// itself when the via list is empty).
	var want security.Expect
	if len(h.Via) == 0 {
		want.NodeID = a.From
	} else if id, ok := h.Via[0].NodeID(); ok {
		want.NodeID = id
	}
	signer, err := t.verify(a, want, now)
	if err != nil {
		// "If the signature fails, the implementation SHOULD simply drop
		// the message"; a missing certificate is surfaced as is.
		return Delivery{Kind: DeliverDrop, TxID: key.txid, Err: err}
	}
	ar := newArena(m, true)
	in := &Incoming{
		TxID:         h.TransactionID,
		Code:         m.Contents.Code,
		Body:         ar.bytes(m.Contents.Body),
		Extensions:   ar.extensions(m.Contents.Extensions),
		Certificates: ar.certs(m.Security.Certificates),
		From:         a.From,
		Signer:       signer,
		Header:       ar.header(h),
		key:          key,
	}
	in.Via = in.Header.Via
	t.remember(key, now)
	// §6.3.2.1: the destination MUST check the configuration sequence.
	sendUpdate, err := config.CheckSequence(t.cfg.Local.ConfigSequence, h.ConfigSequence, m.Contents.Code)
	if err != nil {
		var pe *wire.ProtocolError
		errors.As(err, &pe)
		msg, berr := t.RespondError(in, pe)
		if berr != nil {
			return Delivery{Kind: DeliverDrop, Err: berr}
		}
		d := Delivery{Kind: DeliverSend, TxID: in.TxID, Send: msg, Err: err}
		if sendUpdate {
			bh := builder{local: &t.cfg.Local}.answerHeader(&in.Header, in.From)
			d.UpdatePath = bh.Destinations
		}
		return d
	}
	return Delivery{Kind: DeliverRequest, TxID: in.TxID, Request: in}
}

var errInProgress = errors.New("forwarding: retransmitted request still being processed")

// ErrNotResponsible reports an answer to a request sent to a Resource-ID
// from a node farther from it than a neighbour of this node (§6.3.4).
var ErrNotResponsible = errors.New("forwarding: answer from a node not responsible for the Resource-ID")

// ErrUnexpectedAnswer reports an answer to no pending request (late, or a
// duplicate of one already matched).
var ErrUnexpectedAnswer = errors.New("forwarding: answer to no pending request")

func (t *Transactions) receiveAnswer(a *Action, now time.Time) Delivery {
	m := a.Msg
	txid := m.Header.TransactionID
	tx, ok := t.pending[txid]
	if !ok {
		return Delivery{Kind: DeliverDrop, TxID: txid, Err: ErrUnexpectedAnswer}
	}
	signer, err := t.verify(a, security.Expect{NodeID: tx.expect.node}, now)
	if err != nil {
		var need *security.CertificateNeededError
		if errors.As(err, &need) {
			delete(t.pending, txid)
			return Delivery{Kind: DeliverFailed, TxID: txid, Err: err}
		}
		// A forged or misdirected answer: drop it and let the
		// retransmission find the real one.
		return Delivery{Kind: DeliverDrop, TxID: txid, Err: err}
	}
	if r := tx.expect.resource; r != "" && t.cfg.MayAnswer != nil && !t.cfg.MayAnswer([]byte(r), signer.NodeID) {
		// §6.3.4 rule 2: an answer from a node farther from the
		// Resource-ID than one of our neighbours is rejected and the
		// request retransmitted (in churn, a closer neighbour may have
		// come while the request was out).
		return Delivery{Kind: DeliverDrop, TxID: txid, Err: fmt.Errorf("%w: %v for %x", ErrNotResponsible, signer.NodeID, r)}
	}
	delete(t.pending, txid)
	ar := newArena(m, false)
	return Delivery{Kind: DeliverAnswer, TxID: txid, Answer: &Answer{
		TxID: txid, Code: m.Contents.Code, Body: ar.bytes(m.Contents.Body), Signer: signer,
		Extensions: ar.extensions(m.Contents.Extensions), Via: ar.dests(m.Header.Via),
		Certificates: ar.certs(m.Security.Certificates),
	}}
}

func (t *Transactions) remember(key reqKey, now time.Time) {
	t.seen[key] = &seenReq{}
	t.expiry = append(t.expiry, seenExpiry{key, now.Add(t.cfg.Lifetime)})
}

// Respond builds the signed answer to in (code in.Code+1, or CodeError with
// an ErrorResponse body), remembers it for retransmissions of in, and
// returns the whole message to route with Core.Originate. §6.3.2: when the
// request set max_response_length and the answer would exceed it, the
// answer is an error instead (see errResponseTooLarge).
func (t *Transactions) Respond(in *Incoming, code wire.MessageCode, body []byte) ([]byte, error) {
	return t.RespondWith(in, code, body, nil)
}

// RespondWith is Respond with message extensions in the answer. The
// answer's SecurityBlock also carries in.ReplyCertificates.
func (t *Transactions) RespondWith(in *Incoming, code wire.MessageCode, body []byte, exts []wire.MessageExtension) ([]byte, error) {
	msg, rest, err := answerMessage(&t.cfg.Local, in, code, body, exts)
	if err != nil {
		return nil, err
	}
	t.answered(in, rest)
	return msg, nil
}

// answerMessage builds and signs local's answer to in (see RespondWith)
// and returns it with its part after the forwarding header. Like
// requestMessage it uses no Transactions: a handler's goroutine signs
// its own answer.
func answerMessage(local *Local, in *Incoming, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (msg, rest []byte, err error) {
	b := builder{local: local}
	h := b.answerHeader(&in.Header, in.From)
	msg, rest, err = b.sealMessage(&h, code, body, RequestOptions{Extensions: exts, Certificates: in.ReplyCertificates})
	if err != nil {
		return nil, nil, err
	}
	if max := in.Header.MaxResponseLength; max != 0 && int64(len(msg)) > int64(max) {
		rest, err = b.errorRest(h.Overlay, h.TransactionID, errResponseTooLarge)
		if err != nil {
			return nil, nil, err
		}
		if msg, err = b.message(nil, &h, rest); err != nil {
			return nil, nil, err
		}
	}
	return msg, rest, nil
}

// errorMessage is answerMessage for an error response.
func errorMessage(local *Local, in *Incoming, pe *wire.ProtocolError) (msg, rest []byte, err error) {
	er := pe.Response()
	body, err := er.Append(nil)
	if err != nil {
		return nil, nil, err
	}
	return answerMessage(local, in, wire.CodeError, body, nil)
}

// answered keeps a copy of rest, the signed part of the answer to in, to
// answer a retransmission of in (§6.2.1) for the request lifetime. A copy,
// not the answer's own bytes: those sit in a buffer sized for the largest
// signature and forwarding header, which kept every answer of the last
// 15 s about half as large again (the largest holder of an idle node's
// heap); one copy of a signed answer costs little beside the signature.
func (t *Transactions) answered(in *Incoming, rest []byte) {
	if s, ok := t.seen[in.key]; ok {
		s.rest = bytes.Clone(rest)
	}
}

// RespondError answers in with an error response.
func (t *Transactions) RespondError(in *Incoming, pe *wire.ProtocolError) ([]byte, error) {
	msg, rest, err := errorMessage(&t.cfg.Local, in, pe)
	if err != nil {
		return nil, err
	}
	t.answered(in, rest)
	return msg, nil
}

// errResponseTooLarge answers a request whose answer would exceed its
// max_response_length. RFC 6940 disagrees with itself here: §6.3.2 says
// responding peers "MUST check that any response would not exceed it and
// if so generate an Error_Incompatible_with_Overlay value", while §6.3.3.1
// defines Error_Response_Too_Large as exactly this case ("A node would
// have generated a response that is too large per the
// max_response_length field") and §14.9 registers it. This package sends
// the code whose definition names the condition, Error_Response_Too_Large;
// §6.3.2's Error_Incompatible_with_Overlay reads as a leftover, that code
// being defined (§6.3.3.1) for a peer "using a different overlay, overlay
// algorithm, or hash algorithm".
var errResponseTooLarge = &wire.ProtocolError{Code: wire.ErrCodeResponseTooLarge, Info: []byte("response exceeds max_response_length")}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// arena copies the parts of a delivered message that an Answer or an
// Incoming keeps, so that they do not alias the message, into one byte
// buffer and one slice per element type, sized up front: a handful of
// allocations per message instead of one per field.
type arena struct {
	b  []byte
	ds []wire.Destination
}

// newArena sizes an arena for m's body, extensions, certificates and via
// list, and with header also its destination list and options.
func newArena(m *wire.Message, header bool) arena {
	n := len(m.Contents.Body)
	for _, e := range m.Contents.Extensions {
		n += len(e.Contents)
	}
	for _, c := range m.Security.Certificates {
		n += len(c.Certificate)
	}
	nd := len(m.Header.Via)
	for _, d := range m.Header.Via {
		n += len(d.ID)
	}
	if header {
		nd += len(m.Header.Destinations)
		for _, d := range m.Header.Destinations {
			n += len(d.ID)
		}
		for _, o := range m.Header.Options {
			n += len(o.Value)
		}
	}
	var a arena
	if n > 0 {
		a.b = make([]byte, 0, n)
	}
	if nd > 0 {
		a.ds = make([]wire.Destination, 0, nd)
	}
	return a
}

// bytes returns a copy of p (nil for nil), capped so that appending to
// it cannot reach the next copy.
func (a *arena) bytes(p []byte) []byte {
	if p == nil {
		return nil
	}
	if len(p) == 0 {
		return []byte{}
	}
	k := len(a.b)
	a.b = append(a.b, p...)
	return a.b[k:len(a.b):len(a.b)]
}

func (a *arena) dests(ds []wire.Destination) []wire.Destination {
	if len(ds) == 0 {
		return nil
	}
	k := len(a.ds)
	for _, d := range ds {
		a.ds = append(a.ds, wire.Destination{Type: d.Type, ID: a.bytes(d.ID), Compressed: d.Compressed})
	}
	return a.ds[k:len(a.ds):len(a.ds)]
}

func (a *arena) extensions(es []wire.MessageExtension) []wire.MessageExtension {
	if len(es) == 0 {
		return nil
	}
	out := make([]wire.MessageExtension, len(es))
	for i, e := range es {
		out[i] = wire.MessageExtension{Type: e.Type, Critical: e.Critical, Contents: a.bytes(e.Contents)}
	}
	return out
}

func (a *arena) header(h *wire.ForwardingHeader) wire.ForwardingHeader {
	c := *h
	c.Via = a.dests(h.Via)
	c.Destinations = a.dests(h.Destinations)
	c.Options = nil
	if len(h.Options) > 0 {
		c.Options = make([]wire.ForwardingOption, len(h.Options))
		for i, o := range h.Options {
			c.Options[i] = wire.ForwardingOption{Type: o.Type, Flags: o.Flags, Value: a.bytes(o.Value)}
		}
	}
	return c
}

func (a *arena) certs(cs []wire.GenericCertificate) []wire.GenericCertificate {
	if len(cs) == 0 {
		return nil
	}
	out := make([]wire.GenericCertificate, len(cs))
	for i, c := range cs {
		out[i] = wire.GenericCertificate{Type: c.Type, Certificate: a.bytes(c.Certificate)}
	}
	return out
}
