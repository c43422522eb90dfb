package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// check is one entry of the catalogue.
type check struct {
	id, section, title string
	run                func(ctx context.Context, r *runner, res *Result)
}

// catalogue is every check, in the order they run. doc.go lists it; keep
// both in step.
var catalogue = []check{
	{"link.cert", "RFC 6940 §6.6, §11.3, §13.3", "the target presents a node certificate of the overlay CA with a Node-ID", checkLinkCert},
	{"link.reject-untrusted", "RFC 6940 §11.3, §13.3", "a link with a certificate from a foreign CA is refused", checkRejectUntrusted},
	{"link.require-client-cert", "RFC 6940 §13.3", "a link without a client certificate is refused", checkRequireClientCert},
	{"ping.answer", "RFC 6940 §6.5.3", "Ping is answered with a signed, well-formed PingAns", checkPing},
	{"ping.wildcard", "RFC 6940 §6.1.1, §6.5.3", "a Ping to the wildcard Node-ID is answered by the target", checkPingWildcard},
	{"probe.answer", "RFC 6940 §6.4.2.5", "Probe returns the requested information, nothing else, in order", checkProbe},
	{"attach.answer", "RFC 6940 §6.5.1", "Attach is answered with the target's candidates, role active", checkAttach},
	{"fh.forward", "RFC 6940 §6.1.1, §6.1.2, §6.3.2", "a transit message: own entry removed, TTL decremented, via list handled, rest untouched", checkForward},
	{"err.ttl-above-initial", "RFC 6940 §6.3.2", "TTL above initial-ttl is answered Error_TTL_Exceeded", checkTTLAboveInitial},
	{"err.ttl-zero", "RFC 6940 §6.3.2", "TTL 0 for a destination beyond the target: not forwarded, Error_TTL_Exceeded", checkTTLZero},
	{"err.forward-critical", "RFC 6940 §6.3.2.3", "an unknown FORWARD_CRITICAL option is answered Error_Unsupported_Forwarding_Option", checkForwardCritical},
	{"err.destination-critical", "RFC 6940 §6.3.2.3", "an unknown DESTINATION_CRITICAL option is answered Error_Unsupported_Forwarding_Option", checkDestinationCritical},
	{"err.unknown-extension", "RFC 6940 §6.3.3", "an unknown critical message extension is answered Error_Unknown_Extension", checkUnknownExtension},
	{"err.unknown-node", "RFC 6940 §6.1.1, §6.1.2", "a Ping to an absent Node-ID gets no PingAns (dropped, or an error)", checkUnknownNode},
	{"err.invalid-body", "RFC 6940 §6.3.3.1, §6.5.3.1", "a truncated PingReq body is answered Error_Invalid_Message", checkInvalidBody},
	{"err.truncated-contents", "RFC 6940 §6.3.3, §6.3.3.1", "truncated MessageContents: Error_Invalid_Message or dropped, never answered", checkTruncatedContents},
	{"sec.bad-signature", "RFC 6940 §6.3.4", "a request with a broken signature is not answered positively", checkBadSignature},
	{"store.roundtrip", "RFC 6940 §7.4.1, §7.4.2, §8", "Store then Fetch of our CERTIFICATE_BY_NODE value", checkStoreRoundTrip},
	{"store.forbidden", "RFC 6940 §7.3.2, §6.3.3.1", "a Store under a resource we may not write is Error_Forbidden", checkStoreForbidden},
	{"store.forbidden.user-match", "RFC 6940 §7.3.1, §7.4.1.1", "CERTIFICATE_BY_USER under another user's name is Error_Forbidden", checkForbiddenUserMatch},
	{"store.forbidden.user-node-match", "RFC 6940 §7.3.3, §7.4.1.1", "SIP-REGISTRATION under our user with another Node-ID as key is Error_Forbidden", checkForbiddenUserNodeMatch},
	{"store.forbidden.node-multiple", "RFC 6940 §7.3.4, §7.4.1.1", "TURN-SERVICE under H(another Node-ID || i) is Error_Forbidden", checkForbiddenNodeMultiple},
	{"store.user-match", "RFC 6940 §7.3.1, §8", "Store then Fetch of our CERTIFICATE_BY_USER value, signature intact", checkStoreUserMatch},
	{"store.too-old", "RFC 6940 §7, §7.4.1.1", "a value with a storage_time older than the stored one is Error_Data_Too_Old", checkStoreTooOld},
	{"store.replay", "RFC 6940 §7, §7.1, §7.4.1.1", "a replayed older StoredData is Error_Data_Too_Old and the newer value stays", checkStoreReplay},
	{"store.generation", "RFC 6940 §7.4.1.1, §7.4.1.2", "a generation counter below the stored one is Error_Generation_Counter_Too_Low with the current one in error_info", checkStoreGeneration},
	{"store.too-large", "RFC 6940 §7.4.1.2, §11.1", "a value above max-size (or values above max-count) is Error_Data_Too_Large", checkStoreTooLarge},
	{"store.unknown-kind", "RFC 6940 §7.4.1.1, §7.4.1.2", "a Kind the overlay does not define is Error_Unknown_Kind listing it", checkStoreUnknownKind},
	{"store.forged", "RFC 6940 §7.1, §7.4.1.1", "a StoredData whose signature does not match its value is Error_Forbidden and not stored", checkStoreForged},
	{"sip.register-uri", "RFC 7904 §3.2, §3.3; RFC 6940 §7.2.3", "a sip_registration_uri SIP-REGISTRATION is stored and fetched back intact", checkSIPRegisterURI},
	{"sip.register-route", "RFC 7904 §3.2, §3.3; RFC 6940 §7.2.3", "a sip_registration_route SIP-REGISTRATION is stored and fetched back intact", checkSIPRegisterRoute},
	{"diag.ping", "RFC 7851 §4.2, §5.2, §6.3", "a Ping with Diagnostic_Ping returns a DiagnosticsResponse", checkDiagPing},
	{"frame.seq", "RFC 6940 §6.6.2", "the target's data frames are numbered from 0, up by one", checkFrameSeq},
	{"frame.ack", "RFC 6940 §6.6.2, §6.6.3", "each of our data frames is ACKed with its sequence number", checkFrameAck},
	{"frame.ack-mask", "RFC 6940 §6.6.2", "the ACK's received bitmask reflects the 32 previous sequence numbers", checkFrameAckMask},
	{"frame.retransmit", "RFC 6940 §6.6.3.1", "with ACKs withheld, the target retransmits under a new sequence number (DTLS)", checkFrameRetransmit},
	{"fh.version", "RFC 6940 §6.3.2", "answers carry relo_token, the overlay hash and version 0x0a", checkFHVersion},
	{"fh.fragment", "RFC 6940 §6.3.2, §6.7", "unfragmented answers carry fragment 0xC0000000", checkFHFragment},
	{"fh.ttl", "RFC 6940 §6.3.2", "answers start with a TTL no larger than initial-ttl", checkFHTTL},
	{"fh.txid", "RFC 6940 §6.3.2", "answers echo the request's transaction id", checkFHTxID},
	{"fh.destination", "RFC 6940 §6.2.2, §6.1.2", "answers are routed back to the tester (reversed via list)", checkFHDestination},
	{"sec.answer-signature", "RFC 6940 §6.3.4", "every answer is signed by a certificate of the overlay", checkAnswerSignatures},
	// Last: without a second identity it costs the kit's link.
	{"err.too-large", "RFC 6940 §6.6, §6.3.3.1", "a message above max-message-size is answered Error_Message_Too_Large", checkTooLarge},
}

func pass(res *Result, format string, a ...any) {
	res.Status, res.Detail = Pass, fmt.Sprintf(format, a...)
}

func fail(res *Result, format string, a ...any) {
	res.Status, res.Detail = Fail, fmt.Sprintf(format, a...)
}

func skip(res *Result, format string, a ...any) {
	res.Status, res.Detail = Skip, fmt.Sprintf(format, a...)
}

func (r *runner) transportName() string {
	if r.o.Transport == DTLS {
		return "DTLS"
	}
	return "TLS"
}

// connectMain opens the shared session and learns the target's Node-ID
// from its certificate.
func (r *runner) connectMain(ctx context.Context, res *Result) {
	res.Sent = r.transportName() + " handshake with the tester's certificate"
	fc, err := r.session(ctx)
	if err != nil {
		r.linkErr = err
		res.Got = "no link"
		fail(res, "could not connect: %v", err)
		return
	}
	chain := fc.peerChain
	if len(chain) == 0 {
		r.linkErr = errors.New("the target presented no certificate")
		res.Got = "no certificate"
		fail(res, "%v", r.linkErr)
		return
	}
	now := r.now()
	nc, verr := r.trust.VerifyChainDER(chain, now)
	if verr != nil {
		// Go on with the Node-IDs the certificate claims, to test the rest.
		ids, _, perr := security.NodeIDsFromCert(chain[0])
		if perr != nil || len(ids) == 0 {
			r.linkErr = fmt.Errorf("the target's certificate carries no Node-ID: %v", verr)
			res.Got = "certificate without Node-ID"
			fail(res, "%v", r.linkErr)
			return
		}
		nc = &security.NodeCert{NodeIDs: ids}
	} else {
		_, _ = r.verifier.AddCertificate(chain, now)
	}
	r.peerCert = nc
	r.peer = nc.NodeIDs[0]
	res.Got = fmt.Sprintf("certificate for Node-ID %v", nodeIDList(nc.NodeIDs))
	if nc.User != "" {
		res.Got += " user " + nc.User
	}
	if !r.o.ExpectNodeID.IsZero() {
		if !nc.HasNodeID(r.o.ExpectNodeID) {
			fail(res, "the certificate does not carry the expected Node-ID %v", r.o.ExpectNodeID)
			return
		}
		r.peer = r.o.ExpectNodeID
	}
	if verr != nil {
		fail(res, "the certificate is not valid in overlay %s: %v", r.o.Config.InstanceName, verr)
		return
	}
	pass(res, "chains to a root of the overlay and names overlay %s", nc.Overlay)
}

func nodeIDList(ids []wire.NodeID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func checkLinkCert(ctx context.Context, r *runner, res *Result) { r.connectMain(ctx, res) }

// foreignCert is a node certificate for this overlay from a CA the overlay
// does not trust.
func (r *runner) foreignIdentity() (*security.Identity, error) {
	now := r.now()
	caKey, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	ca, err := security.NewCA(caKey, "conformance foreign CA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	b := make([]byte, r.idLen)
	for i := 0; i < len(b); i += 8 {
		v := rand64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	id, err := wire.NodeIDFromBytes(b)
	if err != nil {
		return nil, err
	}
	der, err := ca.Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: []wire.NodeID{id}, Overlay: r.o.Config.InstanceName,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	})
	if err != nil {
		return nil, err
	}
	return security.NewIdentity(key, [][]byte{der})
}

// expectRefused connects with cert and says whether the target refused the
// link: the handshake failed, or the connection closed before a Ping was
// answered.
func (r *runner) expectRefused(ctx context.Context, res *Result, cert *tls.Certificate, signer *security.Identity) {
	fc, err := r.dial(ctx, cert)
	if err != nil {
		res.Got = "handshake refused"
		pass(res, "handshake failed: %v", err)
		return
	}
	defer fc.Close()
	peer := r.peer
	m := wire.Message{Header: wire.ForwardingHeader{
		Overlay: r.overlay, ConfigSequence: r.o.Config.Sequence, Version: wire.Version10, TTL: r.initialTTL,
		Fragment: wire.FragmentUnfragmed, TransactionID: rand64(), Destinations: []wire.Destination{wire.NodeDest(&peer)},
	}, Contents: wire.MessageContents{Code: wire.CodePingReq, Body: pingBody(0)}}
	contents, _ := m.Contents.Append(nil)
	if signer == nil {
		signer = r.o.Identity
	}
	_ = signer.SignMessage(&m.Security, r.overlay, m.Header.TransactionID, contents)
	raw, err := m.Append(nil)
	if err != nil {
		fail(res, "building the Ping: %v", err)
		return
	}
	_, _ = fc.send(raw)
	deadline := time.Now().Add(r.o.Quiet)
	for {
		rec, ok := fc.next(time.Until(deadline))
		if !ok {
			break
		}
		var got wire.Message
		if _, err := got.Decode(rec.msg); err == nil && got.Header.TransactionID == m.Header.TransactionID &&
			got.Contents.Code == wire.CodePingAns {
			res.Got = "PingAns over the link"
			fail(res, "the target accepted the link and answered a Ping")
			return
		}
	}
	select {
	case <-fc.Done():
		res.Got = "connection closed"
		pass(res, "the target closed the connection after the handshake: %v", fc.Err())
	default:
		res.Got = "link left open, no answer"
		fail(res, "the target completed the handshake and kept the link open for %v (no alert); the Ping was not answered", r.o.Quiet)
	}
}

func checkRejectUntrusted(ctx context.Context, r *runner, res *Result) {
	id, err := r.foreignIdentity()
	if err != nil {
		fail(res, "making a foreign certificate: %v", err)
		return
	}
	res.Sent = r.transportName() + " handshake with a certificate of a foreign CA, then a Ping signed with it"
	cert := id.TLSCertificate()
	r.expectRefused(ctx, res, &cert, id)
}

func checkRequireClientCert(ctx context.Context, r *runner, res *Result) {
	res.Sent = r.transportName() + " handshake without a client certificate, then a Ping"
	r.expectRefused(ctx, res, nil, nil)
}

func pingBody(padding int) []byte {
	p := wire.PingReq{Padding: make([]byte, padding)}
	b, _ := p.Append(nil)
	return b
}

// signedByPeer checks that an answer was signed by the target.
func (r *runner) signedByPeer(p *reply) error {
	if p.sigErr != nil {
		return fmt.Errorf("signature does not verify: %w", p.sigErr)
	}
	if r.peerCert != nil && !r.peerCert.HasNodeID(p.signer.NodeID) {
		return fmt.Errorf("signed by %v, not by the target", p.signer.NodeID)
	}
	return nil
}

// answerOrFail fails res when p is not an answer of code want.
func answerOrFail(res *Result, p *reply, err error, want wire.MessageCode, wait time.Duration) bool {
	switch {
	case err != nil:
		res.Got = "connection failed"
		fail(res, "%v", err)
	case p == nil:
		res.Got = "nothing"
		fail(res, "no answer within %v", wait)
	default:
		res.Got = p.describe()
		if p.decErr != nil {
			fail(res, "the answer does not decode: %v", p.decErr)
		} else if p.msg.Contents.Code != want {
			fail(res, "got %v, want %v", p.msg.Contents.Code, want)
		} else {
			return true
		}
	}
	return false
}

func (r *runner) pingCheck(ctx context.Context, res *Result, check string, dest wire.Destination, what string) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) { m.Header.Destinations = []wire.Destination{dest} })
	res.Sent = what
	p, err := r.ask(ctx, check, what, q, r.o.Timeout)
	if !answerOrFail(res, p, err, wire.CodePingAns, r.o.Timeout) {
		return
	}
	var pa wire.PingAns
	if _, err := pa.Decode(p.msg.Contents.Body); err != nil {
		fail(res, "PingAns body: %v", err)
		return
	}
	t := time.UnixMilli(int64(pa.Time))
	res.Got = fmt.Sprintf("PingAns response_id=%#x time=%s", pa.ResponseID, t.UTC().Format(time.RFC3339))
	if err := r.signedByPeer(p); err != nil {
		fail(res, "%v", err)
		return
	}
	note := ""
	if d := t.Sub(r.now()); d > time.Minute || d < -time.Minute {
		note = fmt.Sprintf(" (its clock is %v off ours)", d.Round(time.Second))
	}
	pass(res, "signed by %v%s", p.signer.NodeID, note)
}

func checkPing(ctx context.Context, r *runner, res *Result) {
	peer := r.peer
	r.pingCheck(ctx, res, "ping.answer", wire.NodeDest(&peer), fmt.Sprintf("Ping to %v", peer))
}

func checkPingWildcard(ctx context.Context, r *runner, res *Result) {
	w := wire.MustNodeID(bytes.Repeat([]byte{0xff}, r.idLen))
	r.pingCheck(ctx, res, "ping.wildcard", wire.NodeDest(&w), "Ping to the wildcard Node-ID")
}

func checkProbe(ctx context.Context, r *runner, res *Result) {
	want := []wire.ProbeInformationType{wire.ProbeResponsibleSet, wire.ProbeNumResources, wire.ProbeUptime}
	body, _ := (&wire.ProbeReq{RequestedInfo: want}).Append(nil)
	q := r.newRequest(wire.CodeProbeReq, body, nil)
	res.Sent = "Probe for responsible_set, num_resources, uptime"
	p, err := r.ask(ctx, "probe.answer", res.Sent, q, r.o.Timeout)
	if !answerOrFail(res, p, err, wire.CodeProbeAns, r.o.Timeout) {
		return
	}
	var pa wire.ProbeAns
	if _, err := pa.Decode(p.msg.Contents.Body); err != nil {
		fail(res, "ProbeAns body: %v", err)
		return
	}
	var got []string
	seen := map[wire.ProbeInformationType]bool{}
	last := -1
	inOrder := true
	for _, pi := range pa.ProbeInfo {
		got = append(got, fmt.Sprintf("%v=%d", pi.Type, pi.Value))
		idx := -1
		for i, w := range want {
			if w == pi.Type {
				idx = i
			}
		}
		if idx < 0 {
			res.Got = "ProbeAns " + strings.Join(got, " ")
			fail(res, "returned %v, which was not requested (MUST NOT)", pi.Type)
			return
		}
		if seen[pi.Type] {
			res.Got = "ProbeAns " + strings.Join(got, " ")
			fail(res, "returned %v twice", pi.Type)
			return
		}
		seen[pi.Type] = true
		if idx < last {
			inOrder = false
		}
		last = idx
	}
	res.Got = "ProbeAns " + strings.Join(got, " ")
	if err := r.signedByPeer(p); err != nil {
		fail(res, "%v", err)
		return
	}
	note := ""
	if !inOrder {
		note = "; not in the requested order (SHOULD)"
	}
	if len(pa.ProbeInfo) < len(want) {
		note += fmt.Sprintf("; %d of %d requested values returned (SHOULD include those it recognizes)", len(pa.ProbeInfo), len(want))
	}
	pass(res, "only requested information returned%s", note)
}

// attachCandidate opens a socket for the tester's Attach candidate and
// returns the candidate; the socket accepts and drops whatever the target
// sends until close is called. (The tester opens this listener itself: it
// is the one socket not taken from Options.Network.)
func (r *runner) attachCandidate(ctx context.Context, fc *frameConn) (wire.IceCandidate, func(), error) {
	host := "127.0.0.1"
	if ap := transport.AddrPortOf(fc.c.LocalAddr()); ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
		host = ap.Addr().String()
	}
	var lc net.ListenConfig
	if r.o.Transport == TLS {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return wire.IceCandidate{}, nil, err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		c := wire.IceCandidate{AddrPort: wire.IPAddressPortFrom(transport.AddrPortOf(ln.Addr())),
			OverlayLink: wire.OverlayLinkType(transport.LinkTLSTCPFHNoICE), Foundation: []byte("1"),
			Priority: 1 << 24, Type: wire.CandHost}
		return c, func() { _ = ln.Close() }, nil
	}
	pc, err := lc.ListenPacket(ctx, "udp", net.JoinHostPort(host, "0"))
	if err != nil {
		return wire.IceCandidate{}, nil, err
	}
	go func() {
		b := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	lt := transport.LinkDTLSUDPSRNoICE
	if !r.o.Config.NoICE {
		lt = transport.LinkDTLSUDPSR
	}
	c := wire.IceCandidate{AddrPort: wire.IPAddressPortFrom(transport.AddrPortOf(pc.LocalAddr())),
		OverlayLink: wire.OverlayLinkType(lt), Foundation: []byte("1"), Priority: 1 << 24, Type: wire.CandHost}
	return c, func() { _ = pc.Close() }, nil
}

func checkAttach(ctx context.Context, r *runner, res *Result) {
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
	req := wire.AttachReqAns{
		Ufrag: []byte(fmt.Sprintf("%08x", uint32(rand64()))), Password: []byte(fmt.Sprintf("%016x%08x", rand64(), uint32(rand64()))),
		Role: []byte("passive"), Candidates: []wire.IceCandidate{cand},
	}
	body, err := req.Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeAttachReq, body, nil)
	res.Sent = fmt.Sprintf("Attach, role passive, candidate %v %v", transport.LinkType(cand.OverlayLink), cand.AddrPort)
	p, err := r.ask(ctx, "attach.answer", res.Sent, q, r.o.Timeout)
	if !answerOrFail(res, p, err, wire.CodeAttachAns, r.o.Timeout) {
		return
	}
	var ans wire.AttachReqAns
	if _, err := ans.Decode(p.msg.Contents.Body); err != nil {
		fail(res, "AttachAns body: %v", err)
		return
	}
	var cands []string
	for _, c := range ans.Candidates {
		cands = append(cands, fmt.Sprintf("%v %v", transport.LinkType(c.OverlayLink), c.AddrPort))
	}
	res.Got = fmt.Sprintf("AttachAns role %s, candidates [%s]", printable(ans.Role), strings.Join(cands, ", "))
	switch {
	case string(ans.Role) != "active":
		fail(res, "role %q, want \"active\" in an answer (§6.5.1.1)", printable(ans.Role))
	case len(ans.Candidates) == 0:
		fail(res, "no candidates")
	default:
		if err := r.signedByPeer(p); err != nil {
			fail(res, "%v", err)
			return
		}
		pass(res, "%d candidate(s)", len(ans.Candidates))
	}
}

// viaToTester is the destination list [target, tester]: the target must
// remove its own entry and forward the message to the tester, a node it
// is connected to (§6.1.1, §6.1.2).
func (r *runner) viaToTester(m *wire.Message) {
	peer, self := r.peer, r.self
	m.Header.Destinations = []wire.Destination{wire.NodeDest(&peer), wire.NodeDest(&self)}
}

func checkForward(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), r.viaToTester)
	res.Sent = fmt.Sprintf("Ping with destination list [target, tester], TTL %d", q.msg.Header.TTL)
	p, err := r.ask(ctx, "fh.forward", res.Sent, q, r.o.Timeout)
	switch {
	case err != nil:
		fail(res, "%v", err)
		return
	case p == nil:
		res.Got = "nothing"
		fail(res, "the request did not come back within %v: the target must remove its own entry and forward to the next, a node connected to it", r.o.Timeout)
		return
	}
	res.Got = p.describe()
	if p.decErr != nil || !p.msg.Contents.Code.IsRequest() {
		fail(res, "the target answered instead of forwarding")
		return
	}
	h := &p.msg.Header
	res.Got = fmt.Sprintf("our Ping back: TTL %d, via %s, destinations %s", h.TTL, destList(h.Via), destList(h.Destinations))
	if h.TTL != q.msg.Header.TTL-1 {
		fail(res, "TTL %d, want %d (decremented by one per hop)", h.TTL, q.msg.Header.TTL-1)
		return
	}
	if len(h.Destinations) != 1 || string(h.Destinations[0].ID) != string(r.self.Bytes()) {
		fail(res, "destination list %s, want [tester]: the target's own entry removed", destList(h.Destinations))
		return
	}
	var hq wire.ForwardingHeader
	n, _ := hq.Decode(q.raw)
	var hp wire.ForwardingHeader
	m, _ := hp.Decode(p.raw)
	if !bytes.Equal(q.raw[n:], p.raw[m:]) {
		fail(res, "the message after the forwarding header was changed in transit")
		return
	}
	if h.TransactionID != q.txid || h.Overlay != q.msg.Header.Overlay {
		fail(res, "transaction id or overlay changed in transit")
		return
	}
	var via string
	switch {
	case len(h.Via) == 0:
		via = "via list unchanged (the target keeps per-transaction state, §6.1.2)"
	case len(h.Via) == 1 && h.Via[0].Compressed:
		via = "via list holds an opaque id (list compression, §6.1.2)"
	case len(h.Via) == 1 && string(h.Via[0].ID) == string(r.self.Bytes()):
		via = "the previous hop (tester) appended to the via list"
	default:
		fail(res, "via list %s: want [tester] appended, an opaque id, or unchanged", destList(h.Via))
		return
	}
	pass(res, "TTL decremented, own entry removed, %s, rest untouched", via)
}

func destList(ds []wire.Destination) string {
	s := make([]string, len(ds))
	for i := range ds {
		s[i] = ds[i].String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// expectError sends q and passes when the answer is an error of code want.
// A request that comes back forwarded fails.
func (r *runner) expectError(ctx context.Context, res *Result, check string, q *request, want wire.ErrorCode, tamper func(*wire.Message)) {
	p, err := r.askTampered(ctx, check, res.Sent, q, tamper, r.o.Timeout)
	switch {
	case err != nil:
		res.Got = "connection failed"
		fail(res, "%v", err)
		return
	case p == nil:
		res.Got = "nothing"
		fail(res, "no %v within %v", want, r.o.Timeout)
		return
	}
	res.Got = p.describe()
	if p.decErr == nil && p.msg.Contents.Code.IsRequest() {
		fail(res, "the target forwarded the request instead of answering %v", want)
		return
	}
	code, ok := p.errorCode()
	switch {
	case !ok:
		fail(res, "want %v", want)
	case code != want:
		fail(res, "answered %v, want %v", code, want)
	default:
		pass(res, "answered %v", code)
	}
}

func checkTTLAboveInitial(ctx context.Context, r *runner, res *Result) {
	if r.initialTTL == 255 {
		skip(res, "initial-ttl is 255: no TTL can exceed it")
		return
	}
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) { m.Header.TTL = r.initialTTL + 1 })
	res.Sent = fmt.Sprintf("Ping to the target with TTL %d (initial-ttl %d)", r.initialTTL+1, r.initialTTL)
	r.expectError(ctx, res, "err.ttl-above-initial", q, wire.ErrCodeTTLExceeded, nil)
}

func checkTTLZero(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
		r.viaToTester(m)
		m.Header.TTL = 0
	})
	res.Sent = "Ping with destination list [target, tester], TTL 0"
	r.expectError(ctx, res, "err.ttl-zero", q, wire.ErrCodeTTLExceeded, nil)
}

// unknownOption is a forwarding option type no registry assigns.
const unknownOption wire.ForwardingOptionType = 0xf7

func checkForwardCritical(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
		r.viaToTester(m)
		m.Header.Options = []wire.ForwardingOption{{Type: unknownOption, Flags: wire.FlagForwardCritical}}
	})
	res.Sent = fmt.Sprintf("Ping via the target with option type %#x FORWARD_CRITICAL", uint8(unknownOption))
	r.expectError(ctx, res, "err.forward-critical", q, wire.ErrCodeUnsupportedForwardingOption, nil)
}

func checkDestinationCritical(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
		m.Header.Options = []wire.ForwardingOption{{Type: unknownOption, Flags: wire.FlagDestinationCritical}}
	})
	res.Sent = fmt.Sprintf("Ping to the target with option type %#x DESTINATION_CRITICAL", uint8(unknownOption))
	r.expectError(ctx, res, "err.destination-critical", q, wire.ErrCodeUnsupportedForwardingOption, nil)
}

func checkUnknownExtension(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
		m.Contents.Extensions = []wire.MessageExtension{{Type: 0xf7f7, Critical: true, Contents: []byte("x")}}
	})
	res.Sent = "Ping with critical message extension 0xf7f7"
	r.expectError(ctx, res, "err.unknown-extension", q, wire.ErrCodeUnknownExtension, nil)
}

func checkInvalidBody(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, []byte{0x00, 0x10, 0x01}, nil)
	res.Sent = "Ping whose body declares 16 bytes of padding and holds 1"
	r.expectError(ctx, res, "err.invalid-body", q, wire.ErrCodeInvalidMessage, nil)
}

// expectNoAnswer sends q (tampered after signing) and passes on silence or
// an error of one of the codes in ok; a positive answer or a forwarded
// request fails.
func (r *runner) expectNoAnswer(ctx context.Context, res *Result, check string, q *request, tamper func(*wire.Message), wait time.Duration, ok ...wire.ErrorCode) {
	p, err := r.askTampered(ctx, check, res.Sent, q, tamper, wait)
	switch {
	case err != nil:
		res.Got = "connection failed"
		fail(res, "%v", err)
		return
	case p == nil:
		res.Got = "nothing"
		pass(res, "dropped silently")
		return
	}
	res.Got = p.describe()
	if p.decErr == nil && p.msg.Contents.Code.IsRequest() {
		fail(res, "the request was forwarded to the tester")
		return
	}
	code, isErr := p.errorCode()
	if !isErr {
		fail(res, "the target answered positively")
		return
	}
	if len(ok) == 0 {
		pass(res, "answered %v", code)
		return
	}
	for _, c := range ok {
		if c == code {
			pass(res, "answered %v", code)
			return
		}
	}
	fail(res, "answered %v; acceptable: silence or %v", code, ok)
}

func checkUnknownNode(ctx context.Context, r *runner, res *Result) {
	b := make([]byte, r.idLen)
	for i := range b {
		b[i] = byte(rand64())
	}
	b[0] ^= 0x5a // never the wildcard
	id := wire.MustNodeID(b)
	q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) { m.Header.Destinations = []wire.Destination{wire.NodeDest(&id)} })
	res.Sent = fmt.Sprintf("Ping to absent Node-ID %v", id)
	r.expectNoAnswer(ctx, res, "err.unknown-node", q, nil, r.o.Timeout)
}

func checkTruncatedContents(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(8), nil)
	res.Sent = "Ping cut 7 bytes into its MessageContents (length field adjusted)"
	fc, err := r.session(ctx)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	raw, err := r.encode(q, nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	var h wire.ForwardingHeader
	n, err := h.Decode(raw)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	cut, err := h.AppendForRest(nil, 7)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	cut = append(cut, raw[n:n+7]...)
	p, err := r.exchange(fc, "err.truncated-contents", res.Sent, true, cut, q.txid, r.o.Quiet)
	switch {
	case err != nil:
		fail(res, "%v", err)
		return
	case p == nil:
		res.Got = "nothing"
		pass(res, "dropped silently (Error_Invalid_Message would also do)")
		return
	}
	res.Got = p.describe()
	if code, ok := p.errorCode(); ok && code == wire.ErrCodeInvalidMessage {
		pass(res, "answered %v", code)
		return
	}
	fail(res, "want Error_Invalid_Message or silence")
}

func checkBadSignature(ctx context.Context, r *runner, res *Result) {
	q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	res.Sent = "Ping whose signature value has one bit flipped"
	tamper := func(m *wire.Message) {
		v := append([]byte(nil), m.Security.Signature.Value...)
		if len(v) > 0 {
			v[len(v)/2] ^= 0x01
		}
		m.Security.Signature.Value = v
	}
	r.expectNoAnswer(ctx, res, "sec.bad-signature", q, tamper, r.o.Quiet, wire.ErrCodeForbidden, wire.ErrCodeInvalidMessage)
}

// storeKind is the Kind the storage checks use: every RELOAD node stores
// certificates (§8), and NODE-MATCH lets a node write exactly one
// resource, the hash of its Node-ID.
const storeKind = wire.KindCertificateByNode

// storeUnsupported says whether an error answer to a Store or Fetch means
// the target (or the overlay behind it) does not offer storage.
func (r *runner) storeUnsupported(p *reply) (string, bool) {
	code, ok := p.errorCode()
	if !ok {
		return "", false
	}
	switch code {
	case wire.ErrCodeUnknownKind, wire.ErrCodeInvalidMessage, wire.ErrCodeNotFound:
		return fmt.Sprintf("the target answered a Store of CERTIFICATE_BY_NODE with %s: no storage reachable there", p.describe()), true
	}
	return "", false
}

func (r *runner) storeBody(res wire.ResourceID, now time.Time) ([]byte, error) {
	sd := wire.StoredData{
		StorageTime: uint64(now.UnixMilli()), Lifetime: 600,
		Value: wire.ArrayValue(wire.ArrayAppendIndex, r.o.Identity.Chain[0]),
	}
	if err := storage.Sign(r.o.Identity, res, storeKind, &sd); err != nil {
		return nil, err
	}
	req := wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: storeKind, Values: []wire.StoredData{sd}}}}
	return req.Append(nil)
}

func checkStoreRoundTrip(ctx context.Context, r *runner, res *Result) {
	resID := storage.NodeResourceID(storage.ChordHash, r.self)
	body, err := r.storeBody(resID, r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeStoreReq, body, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(resID)}
	})
	res.Sent = fmt.Sprintf("Store of our certificate, CERTIFICATE_BY_NODE, resource %v; then Fetch", resID)
	p, err := r.ask(ctx, "store.roundtrip", "Store", q, r.o.Timeout)
	if err == nil && p != nil {
		if why, ok := r.storeUnsupported(p); ok {
			r.storeSkip = why
			res.Got = p.describe()
			skip(res, "%s", why)
			return
		}
	}
	if !answerOrFail(res, p, err, wire.CodeStoreAns, r.o.Timeout) {
		return
	}
	var sa wire.StoreAns
	sa.IDLen = r.idLen
	if _, err := sa.Decode(p.msg.Contents.Body); err != nil {
		fail(res, "StoreAns body: %v", err)
		return
	}
	if len(sa.KindResponses) != 1 || sa.KindResponses[0].Kind != storeKind {
		fail(res, "StoreAns with %d kind responses, want one for CERTIFICATE_BY_NODE", len(sa.KindResponses))
		return
	}
	gen := sa.KindResponses[0].Generation
	fr := wire.FetchReq{Resource: resID, Specifiers: []wire.StoredDataSpecifier{{
		Kind: storeKind, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}},
	}}}
	fbody, err := fr.Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	fq := r.newRequest(wire.CodeFetchReq, fbody, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(resID)}
	})
	fp, err := r.ask(ctx, "store.roundtrip", "Fetch", fq, r.o.Timeout)
	if !answerOrFail(res, fp, err, wire.CodeFetchAns, r.o.Timeout) {
		res.Detail = "Store answered (generation " + fmt.Sprint(gen) + "), Fetch: " + res.Detail
		return
	}
	var fa wire.FetchAns
	if _, err := fa.Decode(fp.msg.Contents.Body); err != nil {
		fail(res, "FetchAns body: %v", err)
		return
	}
	for _, kr := range fa.KindResponses {
		if kr.Kind != storeKind {
			continue
		}
		for i := range kr.Values {
			v := &kr.Values[i]
			if !v.Value.Value.Exists || !bytes.Equal(v.Value.Value.Value, r.o.Identity.Chain[0]) {
				continue
			}
			enc, err := v.Value.Append(nil)
			if err != nil {
				fail(res, "%v", err)
				return
			}
			res.Got = fmt.Sprintf("StoreAns generation %d; FetchAns generation %d with our value at index %d", gen, kr.Generation, v.Value.Index)
			if _, err := r.verifier.VerifyData(resID, uint32(storeKind), v.StorageTime, enc, &v.Signature,
				fp.msg.Security.Certificates, security.Expect{NodeID: r.self}, r.now()); err != nil {
				fail(res, "the fetched value's signature does not verify: %v", err)
				return
			}
			if kr.Generation < gen {
				fail(res, "Fetch generation %d below the Store's %d", kr.Generation, gen)
				return
			}
			pass(res, "stored value fetched back intact, signature intact")
			return
		}
	}
	res.Got = fmt.Sprintf("StoreAns generation %d; FetchAns without our value", gen)
	fail(res, "the stored value was not returned by Fetch")
}

func checkStoreForbidden(ctx context.Context, r *runner, res *Result) {
	if r.storeSkip != "" {
		skip(res, "%s", r.storeSkip)
		return
	}
	resID := storage.NodeResourceID(storage.ChordHash, r.peer)
	body, err := r.storeBody(resID, r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	q := r.newRequest(wire.CodeStoreReq, body, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(resID)}
	})
	res.Sent = "Store of our certificate, CERTIFICATE_BY_NODE (NODE-MATCH), under the target's Node-ID resource"
	p, err := r.ask(ctx, "store.forbidden", res.Sent, q, r.o.Timeout)
	if err == nil && p != nil {
		if why, ok := r.storeUnsupported(p); ok {
			res.Got = p.describe()
			skip(res, "%s", why)
			return
		}
	}
	if err != nil || p == nil {
		answerOrFail(res, p, err, wire.CodeError, r.o.Timeout)
		return
	}
	res.Got = p.describe()
	if code, ok := p.errorCode(); ok && code == wire.ErrCodeForbidden {
		pass(res, "answered %v", code)
		return
	}
	fail(res, "want Error_Forbidden")
}

func checkDiagPing(ctx context.Context, r *runner, res *Result) {
	now := r.now()
	ask := func(flags wire.DMFlags) (*reply, *wire.DiagnosticsRequest, error) {
		dr := &wire.DiagnosticsRequest{
			Expiration: uint64(now.Add(time.Minute).UnixMilli()), TimestampInitiated: uint64(now.UnixMilli()), Flags: flags,
		}
		c, err := dr.Append(nil)
		if err != nil {
			return nil, nil, err
		}
		q := r.newRequest(wire.CodePingReq, pingBody(0), func(m *wire.Message) {
			m.Contents.Extensions = []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: c}}
		})
		p, err := r.ask(ctx, "diag.ping", "Diagnostic Ping", q, r.o.Timeout)
		return p, dr, err
	}
	res.Sent = "Ping with Diagnostic_Ping, dMFlags 0, then dMFlags STATUS_INFO|SOFTWARE_VERSION"
	p, dr, err := ask(wire.DMFlagsNone)
	if !answerOrFail(res, p, err, wire.CodePingAns, r.o.Timeout) {
		return
	}
	ext, ok := p.msg.Contents.Extension(wire.ExtDiagnosticPing)
	if !ok {
		res.Got = "PingAns without Diagnostic_Ping"
		skip(res, "the target ignores Diagnostic_Ping: it does not implement RFC 7851 diagnostics")
		return
	}
	var resp wire.DiagnosticsResponse
	if err := resp.DecodeExact(ext.Contents); err != nil {
		res.Got = "PingAns with a malformed Diagnostic_Ping"
		fail(res, "DiagnosticsResponse: %v", err)
		return
	}
	res.Got = fmt.Sprintf("DiagnosticsResponse hop_counter %d, %d values", resp.HopCounter, len(resp.Info))
	if resp.TimestampInitiated != dr.TimestampInitiated {
		fail(res, "timestamp_initiated %d, want ours, %d (RFC 7851 §5.2)", resp.TimestampInitiated, dr.TimestampInitiated)
		return
	}
	if len(resp.Info) != 0 {
		fail(res, "returned %d values for dMFlags 0", len(resp.Info))
		return
	}
	flags := wire.FlagsFor(wire.DiagStatusInfo, wire.DiagSoftwareVersion)
	p2, _, err := ask(flags)
	if err != nil || p2 == nil {
		answerOrFail(res, p2, err, wire.CodePingAns, r.o.Timeout)
		return
	}
	if code, ok := p2.errorCode(); ok && code == wire.ErrCodeForbidden {
		res.Got += "; kinds: Error_Forbidden"
		pass(res, "empty request answered; STATUS_INFO/SOFTWARE_VERSION refused by the target's policy (RFC 7851 §4.1)")
		return
	}
	if !answerOrFail(res, p2, nil, wire.CodePingAns, r.o.Timeout) {
		return
	}
	ext, ok = p2.msg.Contents.Extension(wire.ExtDiagnosticPing)
	if !ok {
		fail(res, "the second PingAns lacks Diagnostic_Ping")
		return
	}
	if err := resp.DecodeExact(ext.Contents); err != nil {
		fail(res, "DiagnosticsResponse: %v", err)
		return
	}
	var kinds []string
	for _, in := range resp.Info {
		kinds = append(kinds, in.Kind.String())
		if !flags.Has(in.Kind) {
			fail(res, "returned %v, which was not requested", in.Kind)
			return
		}
		if err := wire.CheckDiagValue(in.Kind, in.Contents); err != nil {
			fail(res, "%v value: %v", in.Kind, err)
			return
		}
	}
	res.Got = fmt.Sprintf("DiagnosticsResponse with [%s]", strings.Join(kinds, " "))
	pass(res, "diagnostics returned for the requested kinds only")
}

// framingProbe is what a link showed of the target's framing: six Pings,
// one sequence number skipped on DTLS as if lost. The link is one of its
// own, opened with the second identity, or else the kit's link, whose
// frames are all kept from its first.
type framingProbe struct {
	err     error
	skip    string // why the probe could not run
	via     string // the link it ran on
	sent    []uint32
	skipped map[uint32]bool
	acks    []ackRecord
	data    []dataRecord
	msgs    [][]uint32 // the sequence numbers of each message we sent
}

// linkFor returns the link a check that needs one of its own runs on:
// ownLink's, or the kit's when there is no second identity. own says
// whether the caller must close it; why, with fc nil, is the reason to
// skip (the target refused the second identity's link).
func (r *runner) linkFor(ctx context.Context, check string) (fc *frameConn, via string, own bool, why string) {
	fc, why, ok := r.ownLink(ctx, check)
	if ok {
		return fc, fmt.Sprintf("a link of its own (second identity %v)", r.o.Second.NodeID()), true, ""
	}
	if r.o.Second != nil {
		return nil, "", false, why
	}
	fc, err := r.session(ctx)
	if err != nil {
		return nil, "", false, "no link to the target: " + err.Error()
	}
	return fc, "the kit's link (" + why + ")", false, ""
}

// signerOf is the identity requests on fc are signed with.
func (r *runner) signerOf(fc *frameConn) *security.Identity {
	if fc.signer != nil {
		return fc.signer
	}
	return r.o.Identity
}

func (r *runner) probeFraming(ctx context.Context) *framingProbe {
	if r.framing != nil {
		return r.framing
	}
	fp := &framingProbe{}
	r.framing = fp
	fc, via, own, why := r.linkFor(ctx, "frame.*")
	if fc == nil {
		fp.skip = why
		return fp
	}
	if own {
		defer fc.Close()
	}
	fp.via = via
	sent0, _, _, _ := fc.snapshot()
	for i := range 6 {
		if r.o.Transport == DTLS && i == 3 {
			fc.skipSeq() // as if the datagram had been lost
		}
		q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
		raw, err := r.encodeAs(r.signerOf(fc), q, nil)
		if err != nil {
			fp.err = err
			return fp
		}
		before := len(sent0)
		if _, err := r.exchange(fc, "frame.*", "Ping", true, raw, q.txid, r.o.Timeout); err != nil {
			fp.err = err
			break
		}
		sent0, _, _, _ = fc.snapshot()
		fp.msgs = append(fp.msgs, sent0[before:])
	}
	if len(sent0) > 0 {
		fc.waitAck(sent0[len(sent0)-1], r.o.Timeout)
	}
	fp.sent, fp.skipped, fp.acks, fp.data = fc.snapshot()
	return fp
}

func seqList(s []uint32) string {
	var b strings.Builder
	for i, v := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, v)
	}
	return b.String()
}

func checkFrameSeq(ctx context.Context, r *runner, res *Result) {
	fp := r.probeFraming(ctx)
	if fp.skip != "" {
		skip(res, "%s", fp.skip)
		return
	}
	res.Sent = "six Pings on " + fp.via
	if fp.err != nil && len(fp.data) == 0 {
		fail(res, "%v", fp.err)
		return
	}
	var seqs []uint32
	for _, d := range fp.data {
		seqs = append(seqs, d.seq)
	}
	res.Got = "data frames numbered " + seqList(seqs)
	if len(seqs) == 0 {
		fail(res, "the target sent no data frame")
		return
	}
	if seqs[0] != 0 {
		fail(res, "the first data frame has sequence %d, want 0", seqs[0])
		return
	}
	gaps := 0
	for i := 1; i < len(seqs); i++ {
		switch {
		case seqs[i] == seqs[i-1]+1:
		case r.o.Transport == DTLS && seqs[i] > seqs[i-1]:
			gaps++ // a lost datagram, or a retransmission we did not see
		default:
			fail(res, "sequence %d follows %d, want %d", seqs[i], seqs[i-1], seqs[i-1]+1)
			return
		}
	}
	if gaps > 0 {
		pass(res, "from 0, increasing (%d gaps, as after lost datagrams)", gaps)
		return
	}
	pass(res, "from 0, up by exactly one")
}

func checkFrameAck(ctx context.Context, r *runner, res *Result) {
	fp := r.probeFraming(ctx)
	if fp.skip != "" {
		skip(res, "%s", fp.skip)
		return
	}
	res.Sent = "data frames " + seqList(fp.sent) + " on " + fp.via
	if fp.err != nil && len(fp.acks) == 0 {
		fail(res, "%v", fp.err)
		return
	}
	var got []uint32
	sent := map[uint32]bool{}
	for _, s := range fp.sent {
		sent[s] = true
	}
	acked := map[uint32]bool{}
	for _, a := range fp.acks {
		got = append(got, a.f.Sequence)
		acked[a.f.Sequence] = true
	}
	res.Got = "ACKs for " + seqList(got)
	for _, s := range got {
		if !sent[s] {
			fail(res, "ACK for sequence %d, which the tester never sent", s)
			return
		}
	}
	for i, m := range fp.msgs {
		ok := false
		for _, s := range m {
			ok = ok || acked[s]
		}
		if !ok {
			fail(res, "message %d (sequence %s) was never acknowledged", i, seqList(m))
			return
		}
	}
	if len(fp.msgs) == 0 {
		fail(res, "nothing was sent")
		return
	}
	pass(res, "every data frame acknowledged with its sequence number")
}

// maskOrders are the readings of "the N-M bit of the received bitmask"
// (RFC 6940 §6.6.2), which does not say where bit 0 is: bit(k) is the mask
// of sequence N-k.
var maskOrders = []struct {
	name string
	bit  func(k int) uint32
}{
	{"bit k-1 (LSB first) = N-k, as Wireshark reads it", func(k int) uint32 { return 1 << (k - 1) }},
	{"bit k (LSB first) = N-k", func(k int) uint32 {
		if k > 31 {
			return 0
		}
		return 1 << k
	}},
	{"bit k-1 (MSB first) = N-k", func(k int) uint32 { return 1 << (32 - k) }},
	{"bit k (MSB first) = N-k", func(k int) uint32 {
		if k > 31 {
			return 0
		}
		return 1 << (31 - k)
	}},
}

func checkFrameAckMask(ctx context.Context, r *runner, res *Result) {
	fp := r.probeFraming(ctx)
	if fp.skip != "" {
		skip(res, "%s", fp.skip)
		return
	}
	res.Sent = "data frames " + seqList(fp.sent) + " on " + fp.via
	if len(fp.skipped) > 0 {
		var sk []uint32
		for s := range fp.skipped {
			sk = append(sk, s)
		}
		res.Sent += fmt.Sprintf(" (sequence %s skipped, as if lost)", seqList(sk))
	}
	if len(fp.acks) == 0 {
		fail(res, "no ACK to examine")
		return
	}
	acked := map[uint32]bool{}
	sent := map[uint32]bool{}
	for _, a := range fp.acks {
		acked[a.f.Sequence] = true
	}
	for _, s := range fp.sent {
		sent[s] = true
	}
	var got []string
	ok := make([]bool, len(maskOrders))
	for i := range ok {
		ok[i] = true
	}
	for _, a := range fp.acks {
		n := int64(a.f.Sequence)
		got = append(got, fmt.Sprintf("%d:%#08x", a.f.Sequence, a.f.Received))
		for oi, o := range maskOrders {
			for k := 1; k <= 32; k++ {
				bit := o.bit(k)
				if bit == 0 {
					continue
				}
				m := n - int64(k)
				set := a.f.Received&bit != 0
				switch {
				case m < 0 || fp.skipped[uint32(m)] || !sent[uint32(m)]:
					if set {
						ok[oi] = false // marks a frame never sent as received
					}
				case acked[uint32(m)] && k < 32:
					if !set {
						ok[oi] = false // leaves out a frame it acknowledged
					}
				}
			}
		}
	}
	res.Got = "ACK seq:received " + strings.Join(got, " ")
	for oi, o := range maskOrders {
		if ok[oi] {
			pass(res, "consistent with %s", o.name)
			return
		}
	}
	fail(res, "no reading of the bitmask fits the frames the target received and the ones it cannot have")
}

func checkFrameRetransmit(ctx context.Context, r *runner, res *Result) {
	if r.o.Transport != DTLS {
		skip(res, "TLS-TCP-FH does not retransmit at the link layer (§6.6.5: the framing header only measures the RTT); run with --transport dtls")
		return
	}
	fc, via, own, why := r.linkFor(ctx, "frame.retransmit")
	if fc == nil {
		skip(res, "%s", why)
		return
	}
	if own {
		defer fc.Close()
	}
	res.Sent = "Ping on " + via + ", ACKs withheld"
	fc.drain()
	fc.setAutoAck(false)
	q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	raw, err := r.encodeAs(r.signerOf(fc), q, nil)
	if err != nil {
		fc.setAutoAck(true)
		fail(res, "%v", err)
		return
	}
	r.txids[q.txid] = true
	if _, err := fc.send(raw); err != nil && !errors.Is(err, errUnacked) {
		fc.setAutoAck(true)
		fail(res, "sending: %v", err)
		return
	}
	first, ok := nextFor(fc, q.txid, r.o.Timeout)
	if !ok {
		fc.setAutoAck(true)
		res.Got = "nothing"
		fail(res, "no answer within %v", r.o.Timeout)
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
	// Let the target's sender go on.
	fc.setAutoAck(true)
	_ = fc.ack(first.seq)
	if found {
		_ = fc.ack(again.seq)
	}
	if !found {
		res.Got = fmt.Sprintf("answer in frame %d, no retransmission", first.seq)
		fail(res, "no retransmission within %v of withholding the ACK (§6.6.3.1: retransmit after RTO, 500 ms by default)", r.o.RetransmitWait)
		return
	}
	res.Got = fmt.Sprintf("answer in frame %d, again in frame %d after %v", first.seq, again.seq, again.at.Sub(first.at).Round(time.Millisecond))
	if again.seq <= first.seq {
		fail(res, "the retransmission reuses sequence number %d (MUST be incremented)", again.seq)
		return
	}
	pass(res, "retransmitted under a new sequence number")
}

func checkTooLarge(ctx context.Context, r *runner, res *Result) {
	if r.o.Transport == DTLS {
		skip(res, "over DTLS a message above max-message-size can only arrive as §6.7 fragments, and the RFC lets the receiver drop what it cannot reassemble; run with --transport tls")
		return
	}
	fc, via, own, why := r.linkFor(ctx, "err.too-large")
	if fc == nil {
		skip(res, "%s", why)
		return
	}
	if own {
		defer fc.Close()
	}
	signer := r.signerOf(fc)
	target := r.maxMsg + 512
	q := r.newRequest(wire.CodePingReq, pingBody(0), nil)
	raw, err := r.encodeAs(signer, q, nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	pad := target - len(raw)
	if pad > 0xffff {
		skip(res, "max-message-size %d is beyond what Ping padding can exceed", r.maxMsg)
		return
	}
	q = r.newRequest(wire.CodePingReq, pingBody(pad), nil)
	if raw, err = r.encodeAs(signer, q, nil); err != nil {
		fail(res, "%v", err)
		return
	}
	res.Sent = fmt.Sprintf("a %d-byte Ping (max-message-size %d) on %s", len(raw), r.maxMsg, via)
	p, err := r.exchange(fc, "err.too-large", res.Sent, true, raw, q.txid, r.o.Timeout)
	closed := false
	select {
	case <-fc.Done():
		closed = true
	case <-time.After(50 * time.Millisecond):
	}
	switch {
	case p != nil:
		res.Got = p.describe()
		if code, ok := p.errorCode(); ok && code == wire.ErrCodeMessageTooLarge {
			if closed {
				res.Got += ", then closed"
			}
			pass(res, "answered %v", code)
			return
		}
		fail(res, "want Error_Message_Too_Large (and the link closed)")
	case err != nil || closed:
		// The link served requests until this message, so the close is
		// the target's answer to it; but a close alone does not say why,
		// and §6.6 asks for the error first (SHOULD). Not a pass.
		res.Got = "connection closed, no error response"
		fail(res, "the target closed the link without Error_Message_Too_Large (§6.6: it SHOULD send the error, then close)")
	default:
		res.Got = "nothing, link open"
		fail(res, "no Error_Message_Too_Large within %v", r.o.Timeout)
	}
}

// nextFor waits up to d for the target's data frame carrying txid.
func nextFor(fc *frameConn, txid uint64, d time.Duration) (dataRecord, bool) {
	deadline := time.Now().Add(d)
	for {
		rec, ok := fc.next(time.Until(deadline))
		if !ok {
			return dataRecord{}, false
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(rec.msg); err == nil && h.TransactionID == txid {
			return rec, true
		}
	}
}

// summary fails or passes res from every answer seen; no answer at all
// skips it.
func (r *runner) summary(res *Result, what string, bad func(a *answerRecord) string) {
	res.Sent = "(every answer of this run)"
	if len(r.answers) == 0 {
		skip(res, "no answer was received to examine")
		return
	}
	var faults []string
	for i := range r.answers {
		a := &r.answers[i]
		if a.decErr != nil {
			continue
		}
		if why := bad(a); why != "" {
			faults = append(faults, fmt.Sprintf("%s (%s): %s", a.check, a.request, why))
		}
	}
	res.Got = fmt.Sprintf("%d answers, %d at fault", len(r.answers), len(faults))
	if len(faults) > 0 {
		more := ""
		if len(faults) > 3 {
			more = fmt.Sprintf("; and %d more", len(faults)-3)
			faults = faults[:3]
		}
		fail(res, "%s%s", strings.Join(faults, "; "), more)
		return
	}
	pass(res, "%s in all %d answers", what, len(r.answers))
}

func checkFHVersion(_ context.Context, r *runner, res *Result) {
	r.summary(res, "version 0x0a and the overlay hash", func(a *answerRecord) string {
		h := &a.msg.Header
		switch {
		case h.Version != wire.Version10:
			return fmt.Sprintf("version %#02x", h.Version)
		case h.Overlay != r.overlay:
			return fmt.Sprintf("overlay %#08x, want %#08x", h.Overlay, r.overlay)
		case int(h.Length) != len(a.raw):
			return fmt.Sprintf("length %d for a %d-byte message", h.Length, len(a.raw))
		}
		return ""
	})
}

func checkFHFragment(_ context.Context, r *runner, res *Result) {
	r.summary(res, "fragment 0xC0000000 (or, in fragments, the historic bit set)", func(a *answerRecord) string {
		for _, f := range a.pieces {
			if f&wire.FragmentHistoric == 0 {
				return fmt.Sprintf("fragment %#08x without the historic bit 0x80000000", f)
			}
		}
		if f := a.msg.Header.Fragment; len(a.pieces) == 0 && f != wire.FragmentUnfragmed {
			return fmt.Sprintf("fragment %#08x", f)
		}
		return ""
	})
}

func checkFHTTL(_ context.Context, r *runner, res *Result) {
	r.summary(res, fmt.Sprintf("TTL at most initial-ttl (%d)", r.initialTTL), func(a *answerRecord) string {
		if a.msg.Header.TTL > r.initialTTL {
			return fmt.Sprintf("TTL %d", a.msg.Header.TTL)
		}
		return ""
	})
}

func checkFHTxID(_ context.Context, r *runner, res *Result) {
	res.Sent = "(every request of this run)"
	if len(r.strays) > 0 {
		res.Got = fmt.Sprintf("%d answers matched, %d with unknown transaction ids", len(r.answers), len(r.strays))
		fail(res, "answers with a transaction id the tester never used: %s", strings.Join(r.strays, "; "))
		return
	}
	if len(r.answers) == 0 {
		skip(res, "no answer was received to examine")
		return
	}
	res.Got = fmt.Sprintf("%d answers, all matched", len(r.answers))
	pass(res, "every answer carried the transaction id of its request")
}

func checkFHDestination(_ context.Context, r *runner, res *Result) {
	r.summary(res, "destination list leading to the tester", func(a *answerRecord) string {
		self := a.to
		if self.IsZero() {
			self = r.self
		}
		h := &a.msg.Header
		switch {
		case len(h.Destinations) == 0:
			return "empty destination list"
		case h.Destinations[0].Compressed || string(h.Destinations[0].ID) != string(self.Bytes()):
			return "destination list " + destList(h.Destinations) + " does not start with the tester"
		case a.direct && len(h.Destinations) != 1:
			return "destination list " + destList(h.Destinations) + " for a direct request, want [tester]"
		}
		return ""
	})
}

func checkAnswerSignatures(_ context.Context, r *runner, res *Result) {
	r.summary(res, "a valid signature", func(a *answerRecord) string {
		if a.sigErr != nil {
			return "signature: " + a.sigErr.Error()
		}
		if a.direct && r.peerCert != nil && !r.peerCert.HasNodeID(a.signer.NodeID) {
			return fmt.Sprintf("signed by %v, not the target", a.signer.NodeID)
		}
		return ""
	})
}
