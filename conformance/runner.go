package conformance

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Options configure a conformance run.
type Options struct {
	// Target is the peer's address, host:port.
	Target string
	// Transport is TLS (the default) or DTLS.
	Transport Transport
	// Config is the overlay's configuration (overlay name, root
	// certificates, initial-ttl, max-message-size, node-id-length).
	Config *config.Configuration
	// Identity is the tester's enrolled identity in the overlay: it
	// authenticates the links and signs every message.
	Identity *security.Identity
	// Second, when set, is a second enrolled identity of the overlay,
	// with a Node-ID of its own (a pair: "--identity A --identity B").
	// The checks that need a link of their own (frame.*, err.too-large,
	// frame.retransmit) open it with this identity and sign on it with
	// it, so that a target allowing one link per Node-ID does not refuse
	// them. Without it those checks reuse the kit's link.
	Second *security.Identity
	// ExpectNodeID, when set, is the Node-ID the target's certificate must
	// carry; it is then the Node-ID the checks address.
	ExpectNodeID wire.NodeID
	// Timeout bounds the wait for an answer (3 s).
	Timeout time.Duration
	// Quiet is how long the tester waits where the right reaction is
	// silence (1.5 s).
	Quiet time.Duration
	// RetransmitWait is how long the tester withholds ACKs waiting for a
	// DTLS retransmission (4 s; the RFC's default RTO is 500 ms).
	RetransmitWait time.Duration
	// Network opens sockets; nil means SystemNetwork.
	Network Network
	// Capture, when set, records the traffic; KeyLog receives the (D)TLS
	// secrets in NSS key log format.
	Capture *Capture
	KeyLog  io.Writer
	// Checks, when not empty, selects the checks to run by id or id
	// prefix ("err." runs every error check).
	Checks []string
	// Now is the clock (time.Now).
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Target == "" || o.Config == nil || o.Identity == nil {
		return errors.New("conformance: Options.Target, Config and Identity are required")
	}
	if o.Second != nil && len(o.Second.Chain) == 0 {
		return errors.New("conformance: Options.Second has no certificate")
	}
	switch o.Transport {
	case "":
		o.Transport = TLS
	case TLS, DTLS:
	default:
		return fmt.Errorf("conformance: unknown transport %q", o.Transport)
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.Quiet <= 0 {
		o.Quiet = 1500 * time.Millisecond
	}
	if o.RetransmitWait <= 0 {
		o.RetransmitWait = 4 * time.Second
	}
	if o.Network == nil {
		o.Network = SystemNetwork{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// runner is the state of one run.
type runner struct {
	o          Options
	overlay    uint32
	initialTTL uint8
	idLen      int
	maxMsg     int
	trust      *security.Trust
	verifier   *security.Verifier
	self       wire.NodeID

	// Learnt while running.
	peer      wire.NodeID // the Node-ID the checks address
	peerCert  *security.NodeCert
	main      *frameConn      // the shared session
	linkErr   error           // why no session could be opened
	answers   []answerRecord  // every answer to a request of ours
	strays    []string        // answers that matched no request (wrong transaction id)
	txids     map[uint64]bool // every transaction id the tester sent
	framing   *framingProbe   // the frame.* observations, made once
	storeSkip string          // why storage checks do not apply
	lastStore time.Time       // the storage_time of the tester's last value (storeTime)
	reasm     *transport.Reassembler
	pieces    map[uint64][]uint32 // fragment fields seen, by transaction id
	conns     uint64              // frameConn ids
}

// fragmentOffset is where the fragment field sits in a forwarding header.
const fragmentOffset = 12

// answerRecord is one answer to a request of ours, kept for the fh.* and
// sec.* summary checks.
type answerRecord struct {
	check   string
	request string // what was asked
	direct  bool   // the request was addressed to the target itself
	raw     []byte
	msg     *wire.Message
	decErr  error
	signer  security.Signer
	sigErr  error
	pieces  []uint32    // the fragment fields of the fragments it came in, if any
	to      wire.NodeID // the Node-ID the answer must lead back to
}

// Run connects to the target and runs the catalogue, or the checks
// Options.Checks selects. It returns an error only when it could not start
// (bad options); a target that cannot be reached fails link.cert and the
// other checks are skipped.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	trust, err := o.Config.Trust()
	if err != nil {
		return nil, fmt.Errorf("conformance: overlay trust: %w", err)
	}
	r := &runner{
		o: o, overlay: o.Config.OverlayHash(), initialTTL: o.Config.InitialTTL, idLen: o.Config.NodeIDLength,
		maxMsg: int(o.Config.MaxMessageSize), trust: trust, verifier: security.NewVerifier(trust, 0),
		self: o.Identity.NodeID(), pieces: make(map[uint64][]uint32), txids: make(map[uint64]bool),
		reasm: transport.NewReassembler(transport.ReassemblyConfig{MaxMessage: 1 << 24}),
	}
	if r.initialTTL == 0 {
		r.initialTTL = wire.DefaultTTL
	}
	if r.idLen == 0 {
		r.idLen = wire.DefaultNodeIDLen
	}
	// The tester's own certificate verifies its stored values.
	if _, err := r.verifier.AddCertificate(o.Identity.Chain, o.Now()); err != nil {
		return nil, fmt.Errorf("conformance: the tester's identity is not valid in overlay %s: %w", o.Config.InstanceName, err)
	}
	if o.Second != nil {
		if _, err := r.verifier.AddCertificate(o.Second.Chain, o.Now()); err != nil {
			return nil, fmt.Errorf("conformance: the tester's second identity is not valid in overlay %s: %w", o.Config.InstanceName, err)
		}
	}
	rep := &Report{
		Schema: SchemaVersion,
		Target: o.Target, Transport: string(o.Transport), Overlay: o.Config.InstanceName,
		Self: r.self.String(), Started: o.Now(),
	}
	if o.Second != nil {
		rep.Second = o.Second.NodeID().String()
	}
	defer func() {
		if r.main != nil {
			r.main.Close()
		}
	}()
	if !o.selected("link.cert") {
		r.connectMain(ctx, &Result{})
	}
	for _, c := range catalogue {
		if !o.selected(c.id) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		res := Result{ID: c.id, Section: c.section, Title: c.title}
		start := time.Now()
		if c.id != "link.cert" && r.peer.IsZero() {
			res.Status, res.Detail = Skip, "no usable link to the target"
			if r.linkErr != nil {
				res.Detail += ": " + r.linkErr.Error()
			}
		} else {
			c.run(ctx, r, &res)
		}
		res.Duration = time.Since(start)
		rep.Results = append(rep.Results, res)
	}
	if !r.peer.IsZero() {
		rep.PeerNodeID = r.peer.String()
	}
	p, f, s := rep.Counts()
	rep.Summary = Summary{Pass: p, Fail: f, Skip: s, Total: len(rep.Results)}
	return rep, nil
}

func (o *Options) selected(id string) bool {
	if len(o.Checks) == 0 {
		return true
	}
	for _, s := range o.Checks {
		if s == id || (strings.HasSuffix(s, ".") && strings.HasPrefix(id, s)) || strings.HasPrefix(id, s+".") {
			return true
		}
	}
	return false
}

// session returns the shared session, reconnecting when it broke.
func (r *runner) session(ctx context.Context) (*frameConn, error) {
	if r.main != nil {
		select {
		case <-r.main.Done():
			r.main.Close()
			r.main = nil
		default:
			return r.main, nil
		}
	}
	cert := r.o.Identity.TLSCertificate()
	fc, err := r.dial(ctx, &cert)
	if err != nil {
		return nil, err
	}
	r.main = fc
	return fc, nil
}

// ownLink is a link for a check that needs one of its own (fresh
// sequence numbers, withheld ACKs, a message that may cost the link).
// With a second identity it is a new link authenticated by it, checked
// with a Ping; the check signs on it with fc.signer and closes it.
// Without one, or when the target refuses the new link, ok is false and
// why says why: the caller reuses the kit's link or skips.
func (r *runner) ownLink(ctx context.Context, check string) (fc *frameConn, why string, ok bool) {
	if r.o.Second == nil {
		return nil, "no second identity (give --identity twice)", false
	}
	cert := r.o.Second.TLSCertificate()
	fc, err := r.dial(ctx, &cert)
	if err != nil {
		return nil, fmt.Sprintf("the target refused a link for the second identity %v: %v", r.o.Second.NodeID(), err), false
	}
	fc.signer = r.o.Second
	q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	raw, err := r.encodeAs(fc.signer, q, nil)
	if err != nil {
		fc.Close()
		return nil, err.Error(), false
	}
	p, err := r.exchange(fc, check, "Ping on the second identity's link", true, raw, q.txid, r.o.Timeout)
	if err != nil || p == nil || !p.isAnswer() || p.msg.Contents.Code != wire.CodePingAns {
		fc.Close()
		got := "no PingAns"
		switch {
		case err != nil:
			got = err.Error()
		case p != nil:
			got = p.describe()
		}
		return nil, fmt.Sprintf("the target did not serve a link for the second identity %v (%s)", r.o.Second.NodeID(), got), false
	}
	return fc, "", true
}

func (r *runner) now() time.Time { return r.o.Now() }

func rand64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// request is a message the tester built.
type request struct {
	msg  wire.Message
	txid uint64
	raw  []byte // as sent
}

// newRequest is a request from the tester to the target: via list empty,
// TTL initial-ttl, the overlay's hash and configuration sequence; edit
// may change it before it is signed.
func (r *runner) newRequest(code wire.MessageCode, body []byte, edit func(*wire.Message)) *request {
	peer := r.peer
	q := &request{txid: rand64()}
	q.msg = wire.Message{
		Header: wire.ForwardingHeader{
			Overlay: r.overlay, ConfigSequence: r.o.Config.Sequence, Version: wire.Version10, TTL: r.initialTTL,
			Fragment: wire.FragmentUnfragmed, TransactionID: q.txid,
			Destinations: []wire.Destination{wire.NodeDest(&peer)},
		},
		Contents: wire.MessageContents{Code: code, Body: body},
	}
	if edit != nil {
		edit(&q.msg)
	}
	q.txid = q.msg.Header.TransactionID
	return q
}

// encode signs the request with the tester's identity and encodes it;
// tamper, when set, changes the signed message before it is encoded.
func (r *runner) encode(q *request, tamper func(*wire.Message)) ([]byte, error) {
	return r.encodeAs(r.o.Identity, q, tamper)
}

// encodeAs is encode with the signature of id.
func (r *runner) encodeAs(id *security.Identity, q *request, tamper func(*wire.Message)) ([]byte, error) {
	contents, err := q.msg.Contents.Append(nil)
	if err != nil {
		return nil, err
	}
	q.msg.Security = wire.SecurityBlock{}
	if err := id.SignMessage(&q.msg.Security, q.msg.Header.Overlay, q.txid, contents); err != nil {
		return nil, err
	}
	if tamper != nil {
		tamper(&q.msg)
	}
	raw, err := q.msg.Append(nil)
	q.raw = raw
	return raw, err
}

// reply is what came back for a request: the first message carrying its
// transaction id (an answer, or the request itself forwarded back).
type reply struct {
	raw    []byte
	msg    wire.Message
	decErr error
	seq    uint32
	// signer and sigErr are the result of verifying an answer's signature.
	signer security.Signer
	sigErr error
}

func (p *reply) isAnswer() bool { return p.decErr == nil && p.msg.Contents.Code.IsAnswer() }

// errorCode is the code of an error answer.
func (p *reply) errorCode() (wire.ErrorCode, bool) {
	if p == nil || p.decErr != nil || p.msg.Contents.Code != wire.CodeError {
		return 0, false
	}
	return wire.ParseErrorAnswer(p.msg.Contents.Body, wire.NodeID{}).ErrorCode()
}

// describe says in a few words what came back.
func (p *reply) describe() string {
	if p == nil {
		return "nothing"
	}
	if p.decErr != nil {
		return fmt.Sprintf("undecodable message (%d bytes): %v", len(p.raw), p.decErr)
	}
	c := p.msg.Contents.Code
	if c == wire.CodeError {
		re := wire.ParseErrorAnswer(p.msg.Contents.Body, wire.NodeID{})
		if re.Err != nil {
			return "error response with a malformed body"
		}
		if len(re.Info) > 0 {
			return fmt.Sprintf("%v %q", re.Code, printable(re.Info))
		}
		return re.Code.String()
	}
	if c.IsRequest() {
		return fmt.Sprintf("%v (our request, forwarded back)", c)
	}
	return fmt.Sprintf("%v (%d-byte body)", c, len(p.msg.Contents.Body))
}

func printable(b []byte) string {
	const max = 40
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// exchange sends raw on fc and waits up to wait for the first message
// carrying txid. Answers are kept for the summary checks under check.
// A nil reply means nothing came back in time; err reports a broken
// connection.
func (r *runner) exchange(fc *frameConn, check, what string, direct bool, raw []byte, txid uint64, wait time.Duration) (*reply, error) {
	fc.drain()
	r.txids[txid] = true
	if _, err := fc.send(raw); err != nil && !errors.Is(err, errUnacked) {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		rec, ok, err := fc.nextBefore(deadline)
		if !ok {
			return nil, err
		}
		p := &reply{raw: rec.msg, seq: rec.seq}
		var h wire.ForwardingHeader
		if _, err := h.Decode(rec.msg); err != nil {
			continue // not even a header: counted by nobody
		}
		if h.TransactionID != txid {
			// A late or repeated answer to an earlier request of ours (a
			// DTLS retransmission whose ACK crossed it) is no stray.
			if _, err := p.msg.Decode(rec.msg); err == nil && p.msg.Contents.Code.IsAnswer() && !r.txids[h.TransactionID] {
				r.strays = append(r.strays, fmt.Sprintf("%v with transaction id %#x during %s", p.msg.Contents.Code, h.TransactionID, check))
			}
			continue
		}
		var pieces []uint32
		if h.Fragment&wire.FragmentHistoric == 0 {
			// §6.7: without the historic bit a receiver that accepts the
			// message ignores the other bits. fh.fragment reports it.
			pieces = []uint32{h.Fragment}
			p.raw = append([]byte(nil), rec.msg...)
			binary.BigEndian.PutUint32(p.raw[fragmentOffset:], wire.FragmentUnfragmed)
		} else if h.IsFragment() {
			// §6.7: the destination reassembles.
			whole, err := r.reasm.Add(fc.id, rec.msg, time.Now())
			r.pieces[txid] = append(r.pieces[txid], h.Fragment)
			if err != nil {
				p.decErr = fmt.Errorf("reassembly: %w", err)
				return p, nil
			}
			if whole == nil {
				continue
			}
			p.raw, pieces = whole, r.pieces[txid]
			delete(r.pieces, txid)
		}
		_, p.decErr = p.msg.Decode(p.raw)
		if p.isAnswer() {
			r.keepAnswer(fc, p, check, what, direct, pieces)
		}
		return p, nil
	}
}

// keepAnswer checks the signature of p, an answer that came on fc, and
// keeps it for the summary checks (fh.*, sec.answer-signature).
func (r *runner) keepAnswer(fc *frameConn, p *reply, check, what string, direct bool, pieces []uint32) {
	a := answerRecord{check: check, request: what, direct: direct, raw: p.raw, msg: &p.msg, pieces: pieces, to: r.self}
	if fc.signer != nil {
		a.to = fc.signer.NodeID()
	}
	a.signer, a.sigErr = r.verifier.Verify(&p.msg, security.Expect{}, r.now())
	p.signer, p.sigErr = a.signer, a.sigErr
	r.answers = append(r.answers, a)
}

// ask builds, signs and sends a request on the shared session and waits
// for what comes back.
func (r *runner) ask(ctx context.Context, check, what string, q *request, wait time.Duration) (*reply, error) {
	return r.askTampered(ctx, check, what, q, nil, wait)
}

// askTampered is ask with tamper applied after signing.
func (r *runner) askTampered(ctx context.Context, check, what string, q *request, tamper func(*wire.Message), wait time.Duration) (*reply, error) {
	fc, err := r.session(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := r.encode(q, tamper)
	if err != nil {
		return nil, err
	}
	direct := len(q.msg.Header.Destinations) == 1 && q.msg.Header.Destinations[0].Type == wire.DestNode &&
		string(q.msg.Header.Destinations[0].ID) == string(r.peer.Bytes())
	return r.exchange(fc, check, what, direct, raw, q.txid, wait)
}
