package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/pion/dtls/v3"
	"github.com/pion/transport/v5/stdnet"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// overlayChecks test the overlay's topology messages (the §10.5 join,
// Update and Leave), Attach with and without ICE, fragmentation (§6.7),
// the framing layer under loss, every RFC 7851 diagnostic kind and the SIP
// AppAttach of RFC 7904. They run after the other active checks and before
// the summary checks, which examine their answers too.
var overlayChecks = []check{
	{"update.peer-ready", "RFC 6940 §6.4.2.3, §10.7", "a peer_ready Update from a node that is not a neighbour is answered with UpdateAns", checkUpdatePeerReady},
	{"join.forbidden-id", "RFC 6940 §6.4.2.1", "a Join for a Node-ID other than the signer's is Error_Forbidden", checkJoinForbiddenID},
	{"leave.forbidden-id", "RFC 6940 §6.4.2.2", "a Leave for a Node-ID other than the signer's is Error_Forbidden", checkLeaveForbiddenID},
	{"join.attach", "RFC 6940 §10.5, §6.5.1", "the join's Attach to the tester's Node-ID+1 is answered by the admitting peer", checkJoinAttach},
	{"join.join", "RFC 6940 §10.5, §6.4.2.1", "Join to the admitting peer is answered with a JoinAns signed by it", checkJoinJoin},
	{"join.update", "RFC 6940 §10.5, §10.7", "after the Join the admitting peer sends an Update naming the tester its predecessor", checkJoinUpdate},
	{"update.answer", "RFC 6940 §6.4.2.3, §10.7.3", "a neighbours Update from a neighbour is answered with an empty UpdateAns", checkUpdateAnswer},
	{"leave.answer", "RFC 6940 §6.4.2.2, §10.9", "a Leave with ChordLeaveData from a neighbour is answered with an empty LeaveAns", checkLeaveAnswer},
	{"attach.no-ice", "RFC 6940 §6.5.1.11, §6.5.1.13", "after an Attach with a No-ICE candidate the target (active) opens a (D)TLS link to it", checkAttachNoICE},
	{"attach.ice", "RFC 6940 §6.5.1.3, §6.5.1.10, §6.6.4", "an Attach with ICE: connectivity checks on the target's candidates and DTLS succeed", checkAttachICE},
	{"appattach.sip", "RFC 7904 §5, RFC 6940 §6.5.2.2", "AppAttach for SIP (5060) is answered with AppAttachAns or refused with Error_Not_Found", checkAppAttachSIP},
	{"frag.in-order", "RFC 6940 §6.7", "a request sent in fragments, in order, is reassembled and answered", checkFragInOrder},
	{"frag.out-of-order", "RFC 6940 §6.7", "a request sent in fragments, last first, is reassembled and answered", checkFragOutOfOrder},
	{"frag.answer", "RFC 6940 §6.7, §6.6.4", "an answer larger than the DTLS MTU comes in fragments the tester reassembles (DTLS)", checkFragAnswer},
	{"frame.loss-retransmit", "RFC 6940 §6.6.3.1", "each of the target's frames left unACKed is retransmitted under a new sequence number (DTLS)", checkFrameLossRetransmit},
	{"frame.duplicate", "RFC 6940 §6.6.2, §6.6.3", "a data frame sent twice is ACKed each time and answered once (DTLS)", checkFrameDuplicate},
	{"frame.reorder", "RFC 6940 §6.6.2", "a withheld frame is missing from the received map, and present once it arrives (DTLS)", checkFrameReorder},
	{"diag.kinds", "RFC 7851 §5.3, §6.3", "each diagnostic kind, requested alone, is returned well-formed or omitted, nothing else", checkDiagKinds},
}

func init() {
	i := slices.IndexFunc(catalogue, func(c check) bool { return c.id == "fh.version" })
	if i < 0 {
		i = len(catalogue)
	}
	catalogue = slices.Insert(catalogue, i, overlayChecks...)
}

// plusOne is id+1 modulo 2^(8·len) (§10.5: the join Attaches to n+1).
func plusOne(id wire.NodeID) wire.NodeID {
	b := slices.Clone(id.Bytes())
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			break
		}
	}
	return wire.MustNodeID(b)
}

// otherID is a Node-ID that is neither the tester's nor the target's.
func (r *runner) otherID() wire.NodeID {
	b := slices.Clone(r.self.Bytes())
	b[len(b)-1] ^= 0x5a
	b[0] ^= 0x01
	return wire.MustNodeID(b)
}

// joinState is what the join checks learnt, in order.
type joinState struct {
	ap      wire.NodeID // the admitting peer, the AttachAns's signer
	skip    string      // why the later join checks do not apply
	joined  bool
	updates []wire.ChordUpdate // Updates the target sent the tester
}

// joinStates keeps each run's joinState beside the runner, dropped when
// the runner is collected.
var (
	joinMu     sync.Mutex
	joinStates = map[weak.Pointer[runner]]*joinState{}
)

func (r *runner) join() *joinState {
	k := weak.Make(r)
	joinMu.Lock()
	defer joinMu.Unlock()
	js := joinStates[k]
	if js == nil {
		js = &joinState{}
		joinStates[k] = js
		runtime.AddCleanup(r, func(k weak.Pointer[runner]) {
			joinMu.Lock()
			delete(joinStates, k)
			joinMu.Unlock()
		}, k)
	}
	return js
}

// converse sends raw on fc and waits for the message carrying txid, as
// exchange does, while answering what the target asks the tester meanwhile
// (Update, Ping and the rest, see serveTarget); requests of the target are
// passed to seen.
func (r *runner) converse(fc *frameConn, check, what string, raw []byte, txid uint64, wait time.Duration, seen func(*wire.Message)) (*reply, error) {
	if raw != nil {
		if _, err := fc.send(raw); err != nil && !errors.Is(err, errUnacked) {
			return nil, err
		}
	}
	deadline := time.Now().Add(wait)
	for {
		rec, ok, err := fc.nextBefore(deadline)
		if !ok {
			return nil, err
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(rec.msg); err != nil {
			continue
		}
		whole := rec.msg
		if h.IsFragment() {
			w, err := r.reasm.Add(fc.id, rec.msg, time.Now())
			if err != nil || w == nil {
				continue
			}
			whole = w
		}
		p := &reply{raw: whole, seq: rec.seq}
		if _, p.decErr = p.msg.Decode(whole); p.decErr != nil {
			if h.TransactionID == txid {
				return p, nil
			}
			continue
		}
		if p.msg.Contents.Code.IsRequest() && (h.TransactionID != txid || raw == nil) {
			r.serveTarget(fc, &p.msg)
			if seen != nil {
				seen(&p.msg)
			}
			continue
		}
		if h.TransactionID != txid {
			continue
		}
		if p.isAnswer() {
			r.keepAnswer(fc, p, check, what, true, nil)
		}
		return p, nil
	}
}

// serveTarget answers a request the target sent the tester, as a minimal
// CHORD-RELOAD peer would: Update, Leave and Ping positively (§10.7.3,
// §6.5.3), Store, Attach and the rest with Error_Not_Found.
func (r *runner) serveTarget(fc *frameConn, m *wire.Message) {
	var body []byte
	code := m.Contents.Code + 1
	switch m.Contents.Code {
	case wire.CodeUpdateReq, wire.CodeLeaveReq:
	case wire.CodePingReq:
		body, _ = (&wire.PingAns{ResponseID: rand64(), Time: uint64(r.now().UnixMilli())}).Append(nil)
	default:
		code = wire.CodeError
		body, _ = (&wire.ErrorResponse{Code: wire.ErrCodeNotFound, Info: []byte("conformance tester")}).Append(nil)
	}
	// §6.2.2: the response goes back along the reversed via list.
	var dests []wire.Destination
	for i := len(m.Header.Via) - 1; i >= 0; i-- {
		dests = append(dests, m.Header.Via[i])
	}
	if len(dests) == 0 {
		peer := r.peer
		dests = []wire.Destination{wire.NodeDest(&peer)}
	}
	q := r.newRequest(code, body, func(a *wire.Message) {
		a.Header.Destinations = dests
		a.Header.TransactionID = m.Header.TransactionID
	})
	raw, err := r.encode(q, nil)
	if err == nil {
		_, _ = fc.send(raw)
	}
}

// askServing is ask on the shared session, serving the target's requests
// while it waits.
func (r *runner) askServing(ctx context.Context, check, what string, q *request, wait time.Duration, seen func(*wire.Message)) (*reply, error) {
	fc, err := r.session(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := r.encode(q, nil)
	if err != nil {
		return nil, err
	}
	fc.drain()
	return r.converse(fc, check, what, raw, q.txid, wait, seen)
}

// expectEmptyAnswer passes when p is a signed answer of code want with an
// empty body.
func (r *runner) expectEmptyAnswer(res *Result, p *reply, err error, want wire.MessageCode) bool {
	if !answerOrFail(res, p, err, want, r.o.Timeout) {
		return false
	}
	if len(p.msg.Contents.Body) != 0 {
		fail(res, "%v with a %d-byte body, want an empty one", want, len(p.msg.Contents.Body))
		return false
	}
	if err := r.signedByPeer(p); err != nil {
		fail(res, "%v", err)
		return false
	}
	return true
}

func (r *runner) updateBody(t wire.ChordUpdateType, preds, succs []wire.NodeID) []byte {
	u := wire.ChordUpdate{Uptime: 1, Type: t, Predecessors: preds, Successors: succs, IDLen: r.idLen}
	b, _ := u.Append(nil)
	return b
}

func checkUpdatePeerReady(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodeUpdateReq, r.updateBody(wire.ChordUpdatePeerReady, nil, nil), nil)
	res.Sent = "Update peer_ready from the tester, not a neighbour of the target"
	p, err := r.askServing(ctx, "update.peer-ready", res.Sent, q, r.o.Timeout, nil)
	if r.expectEmptyAnswer(res, p, err, wire.CodeUpdateAns) {
		pass(res, "empty UpdateAns (peer_ready is a connectivity check to non-neighbours, §10.7)")
	}
}

func checkJoinForbiddenID(ctx context.Context, r *runner, res *Result) {
	body, _ := (&wire.JoinReq{JoiningPeerID: r.otherID(), IDLen: r.idLen}).Append(nil)
	q := r.newRequest(wire.CodeJoinReq, body, nil)
	res.Sent = "Join for a Node-ID that is not the signer's"
	r.expectError(ctx, res, "join.forbidden-id", q, wire.ErrCodeForbidden, nil)
}

func checkLeaveForbiddenID(ctx context.Context, r *runner, res *Result) {
	ld, _ := (&wire.ChordLeaveData{Type: wire.ChordLeaveFromPred, IDLen: r.idLen}).Append(nil)
	body, _ := (&wire.LeaveReq{LeavingPeerID: r.otherID(), OverlaySpecificData: ld, IDLen: r.idLen}).Append(nil)
	q := r.newRequest(wire.CodeLeaveReq, body, nil)
	res.Sent = "Leave for a Node-ID that is not the signer's"
	r.expectError(ctx, res, "leave.forbidden-id", q, wire.ErrCodeForbidden, nil)
}

func checkJoinAttach(ctx context.Context, r *runner, res *Result) {
	js := r.join()
	fc, err := r.session(ctx)
	if err != nil {
		js.skip = "no link"
		fail(res, "%v", err)
		return
	}
	cand, closeCand, err := r.attachCandidate(ctx, fc)
	if err != nil {
		js.skip = "no Attach"
		fail(res, "opening the candidate socket: %v", err)
		return
	}
	defer closeCand()
	next := plusOne(r.self)
	body, _ := (&wire.AttachReqAns{
		Ufrag: fmt.Appendf(nil, "%08x", uint32(rand64())), Password: fmt.Appendf(nil, "%016x%08x", rand64(), uint32(rand64())),
		Role: []byte("passive"), Candidates: []wire.IceCandidate{cand}, SendUpdate: true,
	}).Append(nil)
	q := r.newRequest(wire.CodeAttachReq, body, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(wire.ResourceID(next.Bytes()))}
	})
	res.Sent = fmt.Sprintf("Attach to Resource-ID %v (the tester's Node-ID+1), send_update set", next)
	p, err := r.askServing(ctx, "join.attach", res.Sent, q, r.o.Timeout, nil)
	if !answerOrFail(res, p, err, wire.CodeAttachAns, r.o.Timeout) {
		js.skip = "the join's Attach failed"
		if code, ok := p.errorCode(); ok && code == wire.ErrCodeForbidden {
			js.skip = "the target refuses to admit the tester (Error_Forbidden)"
			skip(res, "%s: clients only, or admission closed (§10.5)", js.skip)
		}
		return
	}
	if p.sigErr != nil {
		js.skip = "the AttachAns does not verify"
		fail(res, "the AttachAns's signature does not verify: %v", p.sigErr)
		return
	}
	js.ap = p.signer.NodeID
	var ans wire.AttachReqAns
	if _, err := ans.Decode(p.msg.Contents.Body); err != nil {
		js.skip = "the AttachAns is malformed"
		fail(res, "AttachAns body: %v", err)
		return
	}
	res.Got = fmt.Sprintf("AttachAns from %v, role %s, %d candidate(s)", js.ap, printable(ans.Role), len(ans.Candidates))
	if r.peerCert != nil && !r.peerCert.HasNodeID(js.ap) {
		js.skip = fmt.Sprintf("the admitting peer is %v, not the target: the tester joins only through a target that admits it", js.ap)
		pass(res, "answered by the admitting peer %v through the target", js.ap)
		return
	}
	if string(ans.Role) != "active" || len(ans.Candidates) == 0 {
		js.skip = "the AttachAns is unusable"
		fail(res, "role %q with %d candidates: want \"active\" and at least one (§6.5.1.2)", printable(ans.Role), len(ans.Candidates))
		return
	}
	pass(res, "the target is the admitting peer; the tester is already connected to it over this link")
}

func checkJoinJoin(ctx context.Context, r *runner, res *Result) {
	js := r.join()
	if js.skip != "" || js.ap.IsZero() {
		skip(res, "no admitting peer: %s", cmpOr(js.skip, "join.attach did not run"))
		return
	}
	body, _ := (&wire.JoinReq{JoiningPeerID: r.self, IDLen: r.idLen}).Append(nil)
	ap := js.ap
	q := r.newRequest(wire.CodeJoinReq, body, func(m *wire.Message) { m.Header.Destinations = []wire.Destination{wire.NodeDest(&ap)} })
	res.Sent = fmt.Sprintf("Join to the admitting peer %v, joining_peer_id the tester", ap)
	p, err := r.askServing(ctx, "join.join", res.Sent, q, r.o.Timeout, func(m *wire.Message) { js.note(r, m) })
	if !answerOrFail(res, p, err, wire.CodeJoinAns, r.o.Timeout) {
		return
	}
	var ja wire.JoinAns
	if _, err := ja.Decode(p.msg.Contents.Body); err != nil {
		fail(res, "JoinAns body: %v", err)
		return
	}
	// §6.4.2.1: the JN MUST check that the JoinAns is signed by the peer
	// over whose adjacency it joins.
	if p.sigErr != nil || p.signer.NodeID != ap {
		fail(res, "the JoinAns is not signed by the admitting peer %v (signer %v, %v)", ap, p.signer.NodeID, p.sigErr)
		return
	}
	js.joined = true
	pass(res, "JoinAns signed by the admitting peer")
}

// note keeps the Updates the target sends.
func (js *joinState) note(r *runner, m *wire.Message) {
	if m.Contents.Code != wire.CodeUpdateReq {
		return
	}
	u := wire.ChordUpdate{IDLen: r.idLen}
	if _, err := u.Decode(m.Contents.Body); err == nil {
		js.updates = append(js.updates, u)
	}
}

func checkJoinUpdate(ctx context.Context, r *runner, res *Result) {
	js := r.join()
	if !js.joined {
		skip(res, "the tester did not join: %s", cmpOr(js.skip, "join.join did not pass"))
		return
	}
	res.Sent = "(waiting after the JoinAns; the tester answers each Update)"
	fc, err := r.session(ctx)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	has := func() bool {
		for _, u := range js.updates {
			if slices.Contains(u.Predecessors, r.self) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(r.o.Timeout * 2)
	for !has() && time.Now().Before(deadline) {
		_, err := r.converse(fc, "join.update", "", nil, 0, time.Until(deadline), func(m *wire.Message) {
			js.note(r, m)
			if has() {
				deadline = time.Now()
			}
		})
		if err != nil {
			break
		}
	}
	var got []string
	for _, u := range js.updates {
		got = append(got, fmt.Sprintf("%v preds %s succs %s", u.Type, nodeIDList(u.Predecessors), nodeIDList(u.Successors)))
	}
	res.Got = fmt.Sprintf("%d Update(s): %s", len(js.updates), strings.Join(got, "; "))
	switch {
	case len(js.updates) == 0:
		fail(res, "no Update within %v of the JoinAns (§10.5 step 7: the AP MUST send one)", r.o.Timeout*2)
	case !has():
		fail(res, "no Update lists the tester among the predecessors (§10.5 step 7)")
	default:
		pass(res, "Update names the tester a predecessor")
	}
}

func checkUpdateAnswer(ctx context.Context, r *runner, res *Result) {
	js := r.join()
	peer := r.peer
	q := r.newRequest(wire.CodeUpdateReq, r.updateBody(wire.ChordUpdateNeighbors, []wire.NodeID{peer}, []wire.NodeID{peer}), nil)
	res.Sent = "Update neighbors from the tester: predecessors and successors [target]"
	if !js.joined {
		res.Sent += " (the tester did not join)"
	}
	p, err := r.askServing(ctx, "update.answer", res.Sent, q, r.o.Timeout, func(m *wire.Message) { js.note(r, m) })
	if r.expectEmptyAnswer(res, p, err, wire.CodeUpdateAns) {
		pass(res, "empty UpdateAns")
	}
}

func checkLeaveAnswer(ctx context.Context, r *runner, res *Result) {
	js := r.join()
	if !js.joined {
		skip(res, "the tester did not join, so it has no neighbour to leave: %s", cmpOr(js.skip, "join.join did not pass"))
		return
	}
	// The tester joined just before the target's Node-ID (it was the
	// Attach's n+1 target), so it is the target's predecessor.
	ld, _ := (&wire.ChordLeaveData{Type: wire.ChordLeaveFromPred, Predecessors: []wire.NodeID{r.peer}, IDLen: r.idLen}).Append(nil)
	body, _ := (&wire.LeaveReq{LeavingPeerID: r.self, OverlaySpecificData: ld, IDLen: r.idLen}).Append(nil)
	q := r.newRequest(wire.CodeLeaveReq, body, nil)
	res.Sent = "Leave from_pred from the tester, predecessors [target]"
	p, err := r.askServing(ctx, "leave.answer", res.Sent, q, r.o.Timeout, nil)
	if r.expectEmptyAnswer(res, p, err, wire.CodeLeaveAns) {
		js.joined = false
		pass(res, "empty LeaveAns")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// trustVerifier checks the (D)TLS peer of a link the target opens to the
// tester against the overlay's roots.
type trustVerifier struct{ r *runner }

func (v trustVerifier) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	nc, err := v.r.trust.VerifyChain(chain, v.r.now())
	if err != nil {
		return nil, err
	}
	return nc.NodeIDs, nil
}

// attachBody is an Attach of the tester with cands.
func attachBody(ufrag, pwd string, cands []wire.IceCandidate) ([]byte, error) {
	return (&wire.AttachReqAns{Ufrag: []byte(ufrag), Password: []byte(pwd), Role: []byte("passive"), Candidates: cands}).Append(nil)
}

// dropSession closes the shared session after a check made the target open
// a second link to the tester's Node-ID: a target that keeps one link per
// Node-ID may close either, so the next check starts on a new one.
func (r *runner) dropSession() {
	if r.main != nil {
		r.main.Close()
		r.main = nil
	}
}

// noICEServer is the tester's passive side of a No-ICE Attach: a TLS or
// DTLS server on a candidate of its own that takes one link from the
// target and reports the Node-IDs of the certificate the target presented.
type noICEServer struct {
	cand  wire.IceCandidate
	close func()
	got   chan noICEResult
}

type noICEResult struct {
	ids []wire.NodeID
	err error
}

func (r *runner) startNoICEServer(ctx context.Context, host string) (*noICEServer, error) {
	cert := r.o.Identity.TLSCertificate()
	s := &noICEServer{got: make(chan noICEResult, 1)}
	verify := func(chain [][]byte, err error) {
		if err != nil {
			s.got <- noICEResult{err: err}
			return
		}
		var certs []*x509.Certificate
		for _, der := range chain {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				s.got <- noICEResult{err: err}
				return
			}
			certs = append(certs, c)
		}
		ids, err := trustVerifier{r}.VerifyPeer(certs)
		s.got <- noICEResult{ids: ids, err: err}
	}
	var ln net.Listener
	var lt transport.LinkType
	var handshake func(c net.Conn) ([][]byte, error)
	if r.o.Transport == DTLS {
		var err error
		ln, err = dtls.ListenWithOptions("udp", &net.UDPAddr{IP: net.ParseIP(host)},
			dtls.WithCertificates(cert), dtls.WithClientAuth(dtls.RequireAnyClientCert),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret), dtls.WithInsecureSkipVerify(true))
		if err != nil {
			return nil, err
		}
		lt = transport.LinkDTLSUDPSRNoICE
		handshake = func(c net.Conn) ([][]byte, error) {
			dc, ok := c.(*dtls.Conn)
			if !ok {
				return nil, errors.New("not a DTLS connection")
			}
			hctx, cancel := context.WithTimeout(context.Background(), r.o.Timeout*2)
			defer cancel()
			if err := dc.HandshakeContext(hctx); err != nil {
				return nil, fmt.Errorf("DTLS handshake: %w", err)
			}
			st, _ := dc.ConnectionState()
			return st.PeerCertificates, nil
		}
	} else {
		var lc net.ListenConfig
		var err error
		ln, err = lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		lt = transport.LinkTLSTCPFHNoICE
		handshake = func(c net.Conn) ([][]byte, error) {
			tc := tls.Server(c, &tls.Config{
				MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert,
			})
			_ = c.SetDeadline(time.Now().Add(r.o.Timeout * 2))
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			var chain [][]byte
			for _, c := range tc.ConnectionState().PeerCertificates {
				chain = append(chain, c.Raw)
			}
			return chain, nil
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			s.got <- noICEResult{err: err}
			return
		}
		defer c.Close()
		verify(handshake(c))
	}()
	s.close = func() {
		_ = ln.Close()
		<-done
	}
	s.cand = wire.IceCandidate{AddrPort: wire.IPAddressPortFrom(transport.AddrPortOf(ln.Addr())),
		OverlayLink: wire.OverlayLinkType(lt), Foundation: []byte("1"), Priority: 1 << 24, Type: wire.CandHost}
	return s, nil
}

func checkAttachNoICE(ctx context.Context, r *runner, res *Result) {
	host := "127.0.0.1"
	if fc, err := r.session(ctx); err == nil {
		if ap := transport.AddrPortOf(fc.c.LocalAddr()); ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
			host = ap.Addr().String()
		}
	}
	srv, err := r.startNoICEServer(ctx, host)
	if err != nil {
		fail(res, "opening the candidate socket: %v", err)
		return
	}
	defer srv.close()
	defer r.dropSession()
	lt := transport.LinkType(srv.cand.OverlayLink)
	body, err := attachBody("", "", []wire.IceCandidate{srv.cand})
	if err != nil {
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeAttachReq, body, nil)
	res.Sent = fmt.Sprintf("Attach, role passive, %v candidate %v; then wait for the target's link", lt, srv.cand.AddrPort)
	p, err := r.askServing(ctx, "attach.no-ice", res.Sent, q, r.o.Timeout, nil)
	if err == nil && p != nil {
		if code, ok := p.errorCode(); ok && code == wire.ErrCodeIncompatibleWithOverlay {
			res.Got = p.describe()
			skip(res, "the target does not serve %v links (§6.5.1.8)", lt)
			return
		}
	}
	if !answerOrFail(res, p, err, wire.CodeAttachAns, r.o.Timeout) {
		return
	}
	select {
	case g := <-srv.got:
		if g.err != nil {
			res.Got = "AttachAns; the target's link failed"
			fail(res, "the target's connection to our candidate: %v", g.err)
			return
		}
		res.Got = fmt.Sprintf("AttachAns; %v link from Node-ID %s", lt, nodeIDList(g.ids))
		if r.peerCert != nil && !slices.ContainsFunc(g.ids, r.peerCert.HasNodeID) {
			fail(res, "the link's certificate is not the target's")
			return
		}
		pass(res, "the target, role active, connected as (D)TLS client with its overlay certificate (§6.5.1.13)")
	case <-time.After(r.o.Timeout * 2):
		res.Got = "AttachAns; no connection to our candidate"
		fail(res, "the target did not connect to the tester's candidate within %v (role active, §6.5.1.11)", r.o.Timeout*2)
	}
}

func checkAttachICE(ctx context.Context, r *runner, res *Result) {
	if r.o.Config.NoICE {
		skip(res, "the overlay is no-ice (§11.1): Attach carries No-ICE candidates only")
		return
	}
	nw, err := stdnet.NewNet()
	if err != nil {
		fail(res, "%v", err)
		return
	}
	sess, err := transport.NewICESession(transport.Requester, transport.ICEConfig{Net: nw, IncludeLoopback: true})
	if err != nil {
		fail(res, "ICE agent: %v", err)
		return
	}
	gctx, cancel := context.WithTimeout(ctx, r.o.Timeout*2)
	ufrag, pwd, local, err := sess.Gather(gctx)
	cancel()
	if err != nil || len(local) == 0 {
		_ = sess.Close()
		skip(res, "the tester gathered no ICE candidate: %v", err)
		return
	}
	var cands []wire.IceCandidate
	for _, c := range local {
		if w, err := c.WireCandidate(); err == nil {
			cands = append(cands, w)
		}
	}
	body, err := attachBody(ufrag, pwd, cands)
	if err != nil {
		_ = sess.Close()
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeAttachReq, body, nil)
	res.Sent = fmt.Sprintf("Attach with %d DTLS-UDP-SR ICE candidate(s), the tester ICE-controlling", len(cands))
	p, err := r.askServing(ctx, "attach.ice", res.Sent, q, r.o.Timeout, nil)
	if err == nil && p != nil {
		if code, ok := p.errorCode(); ok && code == wire.ErrCodeIncompatibleWithOverlay {
			_ = sess.Close()
			res.Got = p.describe()
			skip(res, "the target does not do ICE (§6.5.1.8)")
			return
		}
	}
	if !answerOrFail(res, p, err, wire.CodeAttachAns, r.o.Timeout) {
		_ = sess.Close()
		return
	}
	var ans wire.AttachReqAns
	if _, err := ans.Decode(p.msg.Contents.Body); err != nil {
		_ = sess.Close()
		fail(res, "AttachAns body: %v", err)
		return
	}
	var remote []transport.Candidate
	for i := range ans.Candidates {
		if c, err := transport.CandidateFromWire(&ans.Candidates[i]); err == nil && !wire.OverlayLinkType(c.LinkType).NoICE() {
			remote = append(remote, c)
		}
	}
	res.Got = fmt.Sprintf("AttachAns with %d candidate(s), %d for ICE", len(ans.Candidates), len(remote))
	if len(remote) == 0 {
		_ = sess.Close()
		skip(res, "the target offered no ICE candidate the tester can use")
		return
	}
	defer r.dropSession()
	cert := r.o.Identity.TLSCertificate()
	cfg := transport.Config{Certificate: &cert, Verifier: trustVerifier{r}, KeyLogWriter: r.o.KeyLog, MaxMessageSize: r.maxMsg}
	lctx, cancel := context.WithTimeout(ctx, r.o.Timeout*3)
	defer cancel()
	l, err := transport.NewICELink(lctx, sess, string(ans.Ufrag), string(ans.Password), remote, r.peer, &cfg)
	if err != nil {
		fail(res, "ICE and DTLS with the target's candidates: %v", err)
		return
	}
	defer l.Close()
	lc, rc, _ := l.ICEPair()
	// A Ping over the new link shows it carries RELOAD.
	pq := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	raw, err := r.encode(pq, nil)
	if err == nil {
		err = l.Send(lctx, raw)
	}
	for err == nil {
		var b []byte
		if b, err = l.Receive(lctx); err != nil {
			break
		}
		var m wire.Message
		if _, derr := m.Decode(b); derr == nil && m.Header.TransactionID == pq.txid {
			res.Got += fmt.Sprintf("; ICE pair %v %v → %v %v; PingAns over the DTLS link", lc.Type, lc.Addr, rc.Type, rc.Addr)
			if m.Contents.Code != wire.CodePingAns {
				fail(res, "the Ping over the ICE link was answered %v", m.Contents.Code)
				return
			}
			pass(res, "connectivity checks, DTLS and a Ping over the selected pair")
			return
		}
	}
	res.Got += fmt.Sprintf("; ICE pair %v %v → %v %v", lc.Type, lc.Addr, rc.Type, rc.Addr)
	fail(res, "the link is up but the Ping over it was not answered: %v", err)
}

// sipApplication is the Application-ID of SIP (RFC 7904 §5, RFC 6940
// §14.5).
const sipApplication = 5060

func checkAppAttachSIP(ctx context.Context, r *runner, res *Result) {
	fc, err := r.session(ctx)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	cand, closeCand, err := r.attachCandidate(ctx, fc)
	if err != nil {
		fail(res, "opening the candidate socket: %v", err)
		return
	}
	defer closeCand()
	cand.OverlayLink = wire.OverlayLinkType(transport.LinkTLSTCPFHNoICE)
	body, err := (&wire.AppAttachReq{Ufrag: []byte("u"), Password: []byte("p"), Application: sipApplication,
		Role: []byte("passive"), Candidates: []wire.IceCandidate{cand}}).Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeAppAttachReq, body, nil)
	res.Sent = "AppAttach, application 5060 (SIP), role passive"
	p, err := r.askServing(ctx, "appattach.sip", res.Sent, q, r.o.Timeout, nil)
	if err == nil && p != nil {
		if code, ok := p.errorCode(); ok {
			res.Got = p.describe()
			switch code {
			case wire.ErrCodeNotFound:
				pass(res, "refused with %v: the target offers no SIP (§6.5.2.2)", code)
			case wire.ErrCodeIncompatibleWithOverlay:
				pass(res, "refused with %v: the target does not take this candidate", code)
			default:
				fail(res, "refused with %v; an unsupported application is Error_Not_Found (§6.5.2.2)", code)
			}
			return
		}
	}
	if !answerOrFail(res, p, err, wire.CodeAppAttachAns, r.o.Timeout) {
		return
	}
	var ans wire.AppAttachAns
	if _, err := (*wire.AppAttachReq)(&ans).Decode(p.msg.Contents.Body); err != nil {
		fail(res, "AppAttachAns body: %v", err)
		return
	}
	res.Got = fmt.Sprintf("AppAttachAns application %d, role %s", ans.Application, printable(ans.Role))
	if ans.Application != sipApplication {
		fail(res, "application %d, want 5060 echoed", ans.Application)
		return
	}
	if err := r.signedByPeer(p); err != nil {
		fail(res, "%v", err)
		return
	}
	pass(res, "AppAttachAns for SIP")
}

// fragPing is a signed Ping padded so that it needs fragments of at most
// size bytes, and its fragments.
func (r *runner) fragPing(size, pieces int) (*request, [][]byte, error) {
	q := r.newRequest(wire.CodePingReq, pingBody(size*pieces), nil)
	raw, err := r.encode(q, nil)
	if err != nil {
		return nil, nil, err
	}
	frags, err := transport.Fragment(raw, size)
	if err != nil {
		return nil, nil, err
	}
	return q, frags, nil
}

func (r *runner) fragCheck(ctx context.Context, res *Result, check string, reverse bool) {
	size := 500
	q, frags, err := r.fragPing(size, 3)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	if len(frags) < 2 {
		fail(res, "the Ping did not fragment")
		return
	}
	order := "in order"
	if reverse {
		slices.Reverse(frags)
		order = "last first"
	}
	res.Sent = fmt.Sprintf("a %d-byte Ping in %d fragments of at most %d bytes, %s", len(q.raw), len(frags), size, order)
	fc, err := r.session(ctx)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	fc.drain()
	for _, f := range frags[:len(frags)-1] {
		if _, err := fc.send(f); err != nil && !errors.Is(err, errUnacked) {
			fail(res, "%v", err)
			return
		}
	}
	p, err := r.exchange(fc, check, res.Sent, true, frags[len(frags)-1], q.txid, r.o.Timeout)
	if err == nil && p != nil {
		if code, ok := p.errorCode(); ok && code == wire.ErrCodeMessageTooLarge {
			res.Got = p.describe()
			skip(res, "the target refuses a %d-byte message", len(q.raw))
			return
		}
	}
	if !answerOrFail(res, p, err, wire.CodePingAns, r.o.Timeout) {
		return
	}
	pass(res, "reassembled and answered")
}

func checkFragInOrder(ctx context.Context, r *runner, res *Result) {
	r.fragCheck(ctx, res, "frag.in-order", false)
}

func checkFragOutOfOrder(ctx context.Context, r *runner, res *Result) {
	r.fragCheck(ctx, res, "frag.out-of-order", true)
}

func checkFragAnswer(ctx context.Context, r *runner, res *Result) {
	if r.o.Transport != DTLS {
		skip(res, "a TLS link carries whole messages: the target need not fragment (§6.7); run with --transport dtls")
		return
	}
	// Three copies of the tester's certificate under its own resource make
	// a FetchAns of well over the 1200-byte DTLS MTU.
	resID := storage.NodeResourceID(storage.ChordHash, r.self)
	for range 3 {
		body, err := r.storeBody(resID, r.now())
		if err != nil {
			fail(res, "%v", err)
			return
		}
		q := r.newRequest(wire.CodeStoreReq, body, func(m *wire.Message) { m.Header.Destinations = []wire.Destination{wire.ResourceDest(resID)} })
		p, err := r.ask(ctx, "frag.answer", "Store", q, r.o.Timeout)
		if err == nil && p != nil && p.msg.Contents.Code == wire.CodeError {
			res.Got = p.describe()
			skip(res, "the target does not take the Store that would make a large answer")
			return
		}
		if !answerOrFail(res, p, err, wire.CodeStoreAns, r.o.Timeout) {
			return
		}
	}
	fr := wire.FetchReq{Resource: resID, Specifiers: []wire.StoredDataSpecifier{{
		Kind: storeKind, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}},
	}}}
	fbody, err := fr.Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	fq := r.newRequest(wire.CodeFetchReq, fbody, func(m *wire.Message) { m.Header.Destinations = []wire.Destination{wire.ResourceDest(resID)} })
	res.Sent = "three Stores of the tester's certificate, then a Fetch of them all"
	n := len(r.answers)
	p, err := r.ask(ctx, "frag.answer", "Fetch", fq, r.o.Timeout)
	if !answerOrFail(res, p, err, wire.CodeFetchAns, r.o.Timeout) {
		return
	}
	var pieces []uint32
	for _, a := range r.answers[n:] {
		pieces = append(pieces, a.pieces...)
	}
	res.Got = fmt.Sprintf("a %d-byte FetchAns in %d fragment(s)", len(p.raw), max(len(pieces), 1))
	if len(pieces) < 2 {
		if len(p.raw) > 1200 {
			skip(res, "the answer came whole: the target's DTLS MTU is larger than this answer")
			return
		}
		skip(res, "the answer fits one datagram; nothing to reassemble")
		return
	}
	pass(res, "reassembled from %d fragments", len(pieces))
}

// needDTLS skips res unless the link is DTLS: over TLS the framing layer
// does not retransmit (§6.6.5).
func (r *runner) needDTLS(res *Result) bool {
	if r.o.Transport != DTLS {
		skip(res, "TLS-TCP-FH does not retransmit at the link layer (§6.6.5); run with --transport dtls")
		return false
	}
	return true
}

// frameLink is the link a framing check works on: the kit's own, which
// these checks leave as they found it (ACKs back on, their answers
// collected), so that a target allowing one link per Node-ID serves them
// too. done releases it.
func (r *runner) frameLink(ctx context.Context, res *Result) (fc *frameConn, done func(), ok bool) {
	fc, err := r.session(ctx)
	if err != nil {
		fail(res, "%v", err)
		return nil, nil, false
	}
	return fc, func() {}, true
}

func checkFrameLossRetransmit(ctx context.Context, r *runner, res *Result) {
	if !r.needDTLS(res) {
		return
	}
	fc, done, ok := r.frameLink(ctx, res)
	if !ok {
		return
	}
	defer done()
	fc.drain()
	fc.setAutoAck(false)
	defer fc.setAutoAck(true)
	res.Sent = "three Pings; the first frame of each answer left unACKed, the retransmission ACKed"
	var got []string
	for i := range 3 {
		q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
		raw, err := r.encode(q, nil)
		if err != nil {
			fail(res, "%v", err)
			return
		}
		if _, err := fc.send(raw); err != nil {
			fail(res, "sending Ping %d: %v", i, err)
			return
		}
		first, ok := nextWith(fc, q.txid, r.o.Timeout)
		if !ok {
			fail(res, "no answer to Ping %d within %v", i, r.o.Timeout)
			return
		}
		var again dataRecord
		found := false
		deadline := time.Now().Add(r.o.RetransmitWait)
		for !found {
			rec, ok := fc.next(time.Until(deadline))
			if !ok {
				break
			}
			if bytes.Equal(rec.msg, first.msg) {
				again, found = rec, true
			}
		}
		if !found {
			res.Got = strings.Join(got, ", ")
			_ = fc.ack(first.seq)
			fail(res, "answer %d (frame %d) not retransmitted within %v", i, first.seq, r.o.RetransmitWait)
			return
		}
		_ = fc.ack(again.seq)
		got = append(got, fmt.Sprintf("%d→%d", first.seq, again.seq))
		if again.seq <= first.seq {
			res.Got = strings.Join(got, ", ")
			fail(res, "answer %d retransmitted under sequence %d after %d (MUST be new)", i, again.seq, first.seq)
			return
		}
		// The ACK of the retransmission ends it: nothing more of this
		// answer may come (the target's own copies aside).
		fc.drain()
	}
	res.Got = "dropped frame → retransmission: " + strings.Join(got, ", ")
	pass(res, "every dropped frame retransmitted under a new sequence number")
}

// nextWith returns the next data frame carrying a message with
// transaction id txid, skipping others.
func nextWith(fc *frameConn, txid uint64, d time.Duration) (dataRecord, bool) {
	deadline := time.Now().Add(d)
	for {
		rec, ok := fc.next(time.Until(deadline))
		if !ok {
			return rec, false
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(rec.msg); err == nil && h.TransactionID == txid {
			return rec, true
		}
	}
}

// sendFrame writes msg in a data frame of sequence seq, recording it as
// sent, without waiting for its ACK.
func sendFrame(fc *frameConn, seq uint32, msg []byte) error {
	fc.mu.Lock()
	fc.sentSeqs = append(fc.sentSeqs, seq)
	fc.sentAt[seq] = time.Now()
	if seq >= fc.nextSeq {
		fc.nextSeq = seq + 1
	}
	fc.mu.Unlock()
	return fc.writeFrame(&wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: msg})
}

// ackCount is how many ACKs the target sent for seq.
func ackCount(fc *frameConn, seq uint32) (n int, last wire.FramedMessage) {
	_, _, acks, _ := fc.snapshot()
	for _, a := range acks {
		if a.f.Sequence == seq {
			n++
			last = a.f
		}
	}
	return n, last
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func checkFrameDuplicate(ctx context.Context, r *runner, res *Result) {
	if !r.needDTLS(res) {
		return
	}
	fc, done, ok := r.frameLink(ctx, res)
	if !ok {
		return
	}
	defer done()
	fc.drain()
	q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	raw, err := r.encode(q, nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	fc.mu.Lock()
	seq := fc.nextSeq
	fc.mu.Unlock()
	res.Sent = fmt.Sprintf("one Ping in data frame %d, sent twice", seq)
	if err := sendFrame(fc, seq, raw); err != nil {
		fail(res, "%v", err)
		return
	}
	waitFor(r.o.Timeout, func() bool { n, _ := ackCount(fc, seq); return n >= 1 })
	if err := sendFrame(fc, seq, raw); err != nil {
		fail(res, "%v", err)
		return
	}
	answers := 0
	deadline := time.Now().Add(r.o.Timeout)
	for {
		rec, ok := fc.next(time.Until(deadline))
		if !ok {
			break
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(rec.msg); err == nil && h.TransactionID == q.txid {
			answers++
			deadline = time.Now().Add(r.o.Quiet) // wait a little for a second answer
		}
	}
	n, _ := ackCount(fc, seq)
	res.Got = fmt.Sprintf("%d ACK(s) for frame %d, %d answer(s)", n, seq, answers)
	switch {
	case n < 2:
		fail(res, "the duplicate was not ACKed: a lost ACK would leave the sender retransmitting (§6.6.3)")
	case answers == 0:
		fail(res, "the Ping was not answered")
	case answers > 1:
		pass(res, "both copies ACKed; the duplicate was delivered again (answered %d times), which RELOAD's transaction ids tolerate", answers)
	default:
		pass(res, "both copies ACKed, the message delivered once")
	}
}

func checkFrameReorder(ctx context.Context, r *runner, res *Result) {
	if !r.needDTLS(res) {
		return
	}
	fc, done, ok := r.frameLink(ctx, res)
	if !ok {
		return
	}
	defer done()
	var raws [3][]byte
	var txids [3]uint64
	defer func() {
		// Collect the three answers so that later checks do not see them.
		for _, id := range txids {
			nextWith(fc, id, r.o.Quiet)
		}
	}()
	for i := range raws {
		q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
		txids[i] = q.txid
		raw, err := r.encode(q, nil)
		if err != nil {
			fail(res, "%v", err)
			return
		}
		raws[i] = raw
	}
	fc.mu.Lock()
	base := fc.nextSeq
	fc.mu.Unlock()
	// base is withheld (as if lost), base+1 goes first, then base, then
	// base+2.
	res.Sent = fmt.Sprintf("data frames %d, %d (late), %d", base+1, base, base+2)
	steps := []struct {
		seq uint32
		raw []byte
	}{{base + 1, raws[1]}, {base, raws[0]}, {base + 2, raws[2]}}
	for _, s := range steps {
		if err := sendFrame(fc, s.seq, s.raw); err != nil {
			fail(res, "%v", err)
			return
		}
		if !waitFor(r.o.Timeout, func() bool { n, _ := ackCount(fc, s.seq); return n >= 1 }) {
			res.Got = fmt.Sprintf("no ACK for frame %d", s.seq)
			fail(res, "frame %d was not ACKed within %v", s.seq, r.o.Timeout)
			return
		}
	}
	_, a1 := ackCount(fc, base+1)
	_, a2 := ackCount(fc, base+2)
	res.Got = fmt.Sprintf("ACK %d received %#08x; ACK %d received %#08x", base+1, a1.Received, base+2, a2.Received)
	// In the ACK of base+1, base (1 back) is missing; in the ACK of
	// base+2, base+1 (1 back) and base (2 back) are present. Frames
	// before base are the link's earlier ones and are not examined.
	for _, o := range maskOrders {
		if a1.Received&o.bit(1) == 0 && a2.Received&o.bit(1) != 0 && a2.Received&o.bit(2) != 0 {
			pass(res, "the received maps show the late frame missing, then present (%s)", o.name)
			return
		}
	}
	fail(res, "no reading of the bitmask shows frame %d missing from ACK %d and frames %d, %d in ACK %d", base, base+1, base, base+1, base+2)
}

func checkDiagKinds(ctx context.Context, r *runner, res *Result) {
	var kinds []wire.DiagnosticKindID
	for k := wire.DiagStatusInfo; k <= wire.DiagBatteryStatus; k++ {
		kinds = append(kinds, k)
	}
	res.Sent = fmt.Sprintf("%d Pings with Diagnostic_Ping, each requesting one kind (0x0001-0x0010)", len(kinds))
	var returned, omitted []string
	for _, k := range kinds {
		now := r.now()
		dr := &wire.DiagnosticsRequest{
			Expiration: uint64(now.Add(time.Minute).UnixMilli()), TimestampInitiated: uint64(now.UnixMilli()), Flags: wire.FlagsFor(k),
		}
		c, err := dr.Append(nil)
		if err != nil {
			fail(res, "%v", err)
			return
		}
		q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
			m.Contents.Extensions = []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: c}}
		})
		p, err := r.ask(ctx, "diag.kinds", "Diagnostic Ping "+k.String(), q, r.o.Timeout)
		if err == nil && p != nil {
			if code, ok := p.errorCode(); ok && code == wire.ErrCodeForbidden {
				omitted = append(omitted, k.String()+" (Error_Forbidden)")
				continue // §4.1: the policy may refuse a kind
			}
		}
		if !answerOrFail(res, p, err, wire.CodePingAns, r.o.Timeout) {
			res.Detail = k.String() + ": " + res.Detail
			return
		}
		ext, ok := p.msg.Contents.Extension(wire.ExtDiagnosticPing)
		if !ok {
			if len(returned) == 0 && len(omitted) == 0 {
				res.Got = "PingAns without Diagnostic_Ping"
				skip(res, "the target ignores Diagnostic_Ping: it does not implement RFC 7851 diagnostics")
				return
			}
			fail(res, "the PingAns for %v lacks Diagnostic_Ping, which earlier answers carried", k)
			return
		}
		var resp wire.DiagnosticsResponse
		if err := resp.DecodeExact(ext.Contents); err != nil {
			fail(res, "%v: DiagnosticsResponse: %v", k, err)
			return
		}
		found := false
		for _, in := range resp.Info {
			if in.Kind != k {
				fail(res, "asked for %v only, got %v too", k, in.Kind)
				return
			}
			if found {
				fail(res, "%v returned twice", k)
				return
			}
			found = true
			if err := wire.CheckDiagValue(in.Kind, in.Contents); err != nil {
				fail(res, "%v value: %v", k, err)
				return
			}
		}
		if found {
			returned = append(returned, k.String())
		} else {
			omitted = append(omitted, k.String())
		}
	}
	res.Got = fmt.Sprintf("returned [%s]; omitted [%s]", strings.Join(returned, " "), strings.Join(omitted, " "))
	pass(res, "%d kinds returned well-formed, %d omitted (a node returns the kinds it supports and allows, RFC 7851 §5.3, §6.3)", len(returned), len(omitted))
}
