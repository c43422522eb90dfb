package forwarding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// node is a core and a transaction layer wired together, as the shell
// wires them, for tests that run without links.
type node struct {
	id   wire.NodeID
	core *Core
	tx   *Transactions
}

// seededRand is a deterministic random source for transaction ids.
type seededRand struct{ r *rand.ChaCha8 }

func (s seededRand) Read(p []byte) (int, error) { return s.r.Read(p) }

func newSeeded(seed byte) seededRand {
	var k [32]byte
	k[0] = seed
	return seededRand{rand.NewChaCha8(k)}
}

func newNode(t testing.TB, self byte, r Router, n Neighbors) *node {
	t.Helper()
	tx, err := NewTransactions(TxConfig{Local: local(t, self), Verifier: testVerifier(t), Rand: newSeeded(self)})
	if err != nil {
		t.Fatal(err)
	}
	return &node{id: nid(self), core: newCore(t, self, r, n), tx: tx}
}

// net carries messages between test nodes until one is delivered.
type testNet map[wire.NodeID]*node

// route sends msg, originated at from, hop by hop, and returns the node
// it was delivered to with the delivery.
func (tn testNet) route(t testing.TB, from wire.NodeID, msg []byte, now time.Time) (*node, Action) {
	t.Helper()
	return tn.routeWith(t, from, msg, now, false)
}

// routeWith is route; with pre, the last hop checks the signature before
// its core delivers the message, as a link's reading goroutine does
// (Engine.preVerify).
func (tn testNet) routeWith(t testing.TB, from wire.NodeID, msg []byte, now time.Time, pre bool) (*node, Action) {
	t.Helper()
	n := tn[from]
	a := n.core.Originate(msg, now)
	for hops := 0; hops < 10; hops++ {
		switch a.Kind {
		case ActDeliver:
			return n, a
		case ActForward, ActAnswer:
			next := tn[a.To]
			if next == nil {
				t.Fatalf("no node %v", a.To)
			}
			buf := append(append([]byte(nil), a.Head...), a.Rest...)
			prev := n.id
			n = next
			var p preVerified
			if pre {
				var m wire.Message
				p = preVerify(n.tx.cfg.Verifier, n.id, buf, &m, now)
			}
			a = n.core.Process(prev, buf, now)
			if pre && a.Kind == ActDeliver {
				if !p.done {
					t.Fatal("a message to a Node-ID was not checked before delivery")
				}
				a.pre = p
			}
		default:
			t.Fatalf("route: %v (%v)", a.Kind, a.Err)
		}
	}
	t.Fatal("route: too many hops")
	return nil, Action{}
}

// line builds A - B - C: A and C route everything through B.
func line(t testing.TB) testNet {
	return testNet{
		idA: newNode(t, 1, &staticRouter{next: idB}, neighbors(idB)),
		idB: newNode(t, 2, &staticRouter{}, neighbors(idA, idC)),
		idC: newNode(t, 3, &staticRouter{next: idB}, neighbors(idB)),
	}
}

// RFC 6940 §6.2.1: an unanswered request is retransmitted with the same
// transaction id on the overlay reliability timer, five transmissions in
// all, and then fails with Error_Request_Timeout.
func TestRetransmitSameTxIDThenTimeout(t *testing.T) {
	for _, timer := range []time.Duration{0, 500 * time.Millisecond} {
		tx, err := NewTransactions(TxConfig{Local: local(t, 1), Verifier: testVerifier(t), Rand: newSeeded(1), Timer: timer})
		if err != nil {
			t.Fatal(err)
		}
		want := timer
		if want == 0 {
			want = 3000 * time.Millisecond
		}
		now := testStart
		txid, msg, err := tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, msg).Header.TransactionID; got != txid {
			t.Fatalf("txid %x in message, %x returned", got, txid)
		}
		sent := 1
		for {
			d := tx.Deadline()
			if !d.Equal(now.Add(want)) {
				t.Fatalf("deadline %v after %v, want +%v", d.Sub(now), now.Sub(testStart), want)
			}
			if ev := tx.Tick(d.Add(-time.Millisecond), nil); len(ev) != 0 {
				t.Fatalf("early events %v", ev)
			}
			now = d
			ev := tx.Tick(now, nil)
			if len(ev) != 1 || ev[0].TxID != txid {
				t.Fatalf("events %v", ev)
			}
			if ev[0].Err != nil {
				if !errors.Is(ev[0].Err, ErrRequestTimeout) {
					t.Fatalf("failure %v, want Error_Request_Timeout", ev[0].Err)
				}
				break
			}
			if !bytes.Equal(ev[0].Resend, msg) {
				t.Fatal("retransmission differs from the original")
			}
			sent++
		}
		if sent != 5 {
			t.Errorf("%d transmissions, want 5", sent)
		}
		if tx.Pending() != 0 || !tx.Deadline().IsZero() {
			t.Errorf("pending %d, deadline %v after timeout", tx.Pending(), tx.Deadline())
		}
	}
}

// RFC 6940 §6.3.2: transaction ids are random: two layers with different
// sources do not agree, one source does not repeat.
func TestTransactionIDsRandom(t *testing.T) {
	n := newNode(t, 1, &staticRouter{}, nil)
	seen := map[uint64]bool{}
	for range 100 {
		id, _, err := n.tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, testStart)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatal("repeated transaction id")
		}
		seen[id] = true
	}
}

// A whole exchange A -> B -> C -> B -> A: the answer is matched, verified
// and completes the request.
func TestRequestAnswered(t *testing.T) {
	tn := line(t)
	a, c := tn[idA], tn[idC]
	txid, msg, err := a.tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, testStart)
	if err != nil {
		t.Fatal(err)
	}
	at, act := tn.route(t, idA, msg, testStart)
	if at != c {
		t.Fatalf("delivered at %v", at.id)
	}
	d := c.tx.Receive(&act, testStart)
	if d.Kind != DeliverRequest || d.Request.Signer.NodeID != idA || d.Request.From != idB {
		t.Fatalf("delivery %+v", d)
	}
	if got := destIDs(d.Request.Via); len(got) != 1 || got[0] != idA {
		t.Errorf("via %v, want [A]", got)
	}
	ans, err := c.tx.Respond(d.Request, wire.CodePingAns, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	at, act = tn.route(t, idC, ans, testStart)
	if at != a {
		t.Fatalf("answer delivered at %v", at.id)
	}
	d = a.tx.Receive(&act, testStart)
	if d.Kind != DeliverAnswer || d.TxID != txid || d.Answer.Code != wire.CodePingAns || d.Answer.Signer.NodeID != idC {
		t.Fatalf("answer delivery %+v", d)
	}
	if a.tx.Pending() != 0 {
		t.Error("request still pending")
	}
	// The same answer again matches nothing.
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, ErrUnexpectedAnswer) {
		t.Errorf("duplicate answer: %+v", d)
	}
}

// RFC 6940 §6.3.4: the answer to a request sent to a Node-ID must come
// from that Node-ID; another signer's answer is dropped and the request
// stays pending.
func TestAnswerFromWrongSignerDropped(t *testing.T) {
	tn := line(t)
	a := tn[idA]
	_, msg, err := a.tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, testStart)
	if err != nil {
		t.Fatal(err)
	}
	_, act := tn.route(t, idA, msg, testStart)
	in := tn[idC].tx.Receive(&act, testStart).Request
	// B (not C) forges the answer.
	lb := local(t, 2)
	forged := builder{local: &lb}
	h := forged.answerHeader(&in.Header, in.From)
	rest, _ := forged.seal(nil, h.Overlay, h.TransactionID, wire.CodePingAns, make([]byte, 16))
	fmsg, _ := forged.message(nil, &h, rest)
	_, act = tn.route(t, idC, fmsg, testStart)
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, security.ErrNodeIDNotInCert) {
		t.Fatalf("forged answer: %+v", d)
	}
	if a.tx.Pending() != 1 {
		t.Error("request no longer pending")
	}
}

// RFC 6940 §6.2.1: a retransmitted request gets a semantically equivalent
// answer (here the very same signed answer) without being processed again;
// while the first is being processed, the copy is dropped. After the
// maximum request lifetime the cache forgets it.
func TestDuplicateRequestGetsCachedAnswer(t *testing.T) {
	tn := line(t)
	a, c := tn[idA], tn[idC]
	_, msg, err := a.tx.Start(dests(idC), wire.CodeStoreReq, []byte("store me"), 0, testStart)
	if err != nil {
		t.Fatal(err)
	}
	_, act := tn.route(t, idA, msg, testStart)
	d := c.tx.Receive(&act, testStart)
	if d.Kind != DeliverRequest {
		t.Fatalf("%+v", d)
	}
	in := d.Request
	_, act = tn.route(t, idA, msg, testStart)
	if d := c.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, errInProgress) {
		t.Fatalf("retransmission while in progress: %+v", d)
	}
	ans, err := c.tx.Respond(in, wire.CodeStoreAns, []byte{0, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	_, act = tn.route(t, idA, msg, testStart.Add(time.Second))
	d = c.tx.Receive(&act, testStart.Add(time.Second))
	if d.Kind != DeliverSend || !bytes.Equal(d.Send, ans) {
		t.Fatalf("retransmission: %+v, want the cached answer", d)
	}
	// A different request that reuses the transaction id is not a
	// retransmission.
	other := request(t, 1, wire.CodeStoreReq, []byte("other"), func(m *wire.Message) {
		m.Header.TransactionID = in.TxID
		toC(m)
	})
	_, act = tn.route(t, idA, other, testStart)
	if d := c.tx.Receive(&act, testStart); d.Kind != DeliverRequest {
		t.Fatalf("same txid, other request: %+v", d)
	}
	c.tx.Tick(testStart.Add(DefaultRequestLifetime+time.Second), nil)
	_, act = tn.route(t, idA, msg, testStart)
	if d := c.tx.Receive(&act, testStart.Add(DefaultRequestLifetime+time.Second)); d.Kind != DeliverRequest {
		t.Fatalf("after the request lifetime: %+v, want a fresh request", d)
	}
}

// RFC 6940 §6.3.2.1: the destination checks configuration_sequence; an
// older one is answered with Error_Config_Too_Old and a ConfigUpdate is
// due, a newer one with Error_Config_Too_New; a ConfigUpdate with 65535 is
// always accepted.
func TestConfigSequenceChecked(t *testing.T) {
	cases := []struct {
		name   string
		seq    uint16
		code   wire.MessageCode
		want   wire.ErrorCode // 0: delivered
		update bool
	}{
		{"equal", 7, wire.CodePingReq, 0, false},
		{"older", 6, wire.CodePingReq, wire.ErrCodeConfigTooOld, true},
		{"newer", 8, wire.CodePingReq, wire.ErrCodeConfigTooNew, false},
		{"ConfigUpdate with 65535", config.SequenceUpdate, wire.CodeConfigUpdateReq, 0, false},
		{"Ping with 65535 (0 modulo 65535)", config.SequenceUpdate, wire.CodePingReq, wire.ErrCodeConfigTooOld, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := line(t)
			raw := request(t, 1, tc.code, nil, func(m *wire.Message) { toC(m); m.Header.ConfigSequence = tc.seq })
			_, act := tn.route(t, idA, raw, testStart)
			d := tn[idC].tx.Receive(&act, testStart)
			if tc.want == 0 {
				if d.Kind != DeliverRequest {
					t.Fatalf("%+v, want request", d)
				}
				return
			}
			if d.Kind != DeliverSend {
				t.Fatalf("%+v, want an error answer", d)
			}
			if got := errorCode(t, decode(t, d.Send)); got != tc.want {
				t.Errorf("code %v, want %v", got, tc.want)
			}
			if got := destIDs(d.UpdatePath); tc.update != (len(got) > 0) || (tc.update && (got[0] != idB || got[1] != idA)) {
				t.Errorf("update path %v (want one: %v)", got, tc.update)
			}
		})
	}
}

// RFC 6940 §6.3.2, §6.3.3.1: an answer longer than max_response_length is
// replaced by an error (see errResponseTooLarge for the choice of code).
func TestMaxResponseLength(t *testing.T) {
	tn := line(t)
	_, msg, err := tn[idA].tx.Start(dests(idC), wire.CodeFetchReq, nil, 1500, testStart)
	if err != nil {
		t.Fatal(err)
	}
	_, act := tn.route(t, idA, msg, testStart)
	in := tn[idC].tx.Receive(&act, testStart).Request
	ans, err := tn[idC].tx.Respond(in, wire.CodeFetchAns, make([]byte, 3000))
	if err != nil {
		t.Fatal(err)
	}
	if got := errorCode(t, decode(t, ans)); got != wire.ErrCodeResponseTooLarge {
		t.Errorf("code %v", got)
	}
	small, err := tn[idC].tx.Respond(in, wire.CodeFetchAns, nil)
	if err != nil || decode(t, small).Contents.Code != wire.CodeFetchAns {
		t.Errorf("small answer: %v", err)
	}
}

// RFC 6940 §6.3.4, §8: a signature whose certificate is neither sent nor
// cached surfaces a CertificateNeededError naming what to fetch.
func TestCertificateNeededSurfaced(t *testing.T) {
	tn := line(t)
	m := decode(t, request(t, 1, wire.CodePingReq, pingBody(), toC))
	m.Security.Certificates = nil
	raw, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, act := tn.route(t, idA, raw, testStart)
	d := tn[idC].tx.Receive(&act, testStart)
	var need *security.CertificateNeededError
	if d.Kind != DeliverDrop || !errors.As(d.Err, &need) || need.NodeID != idA {
		t.Fatalf("%+v, want a CertificateNeededError for A", d)
	}
}

func pingAnsBody(id, ms uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, id)
	return binary.BigEndian.AppendUint64(b, ms)
}

// signVerifyPing does the four public-key operations of a signed Ping
// exchange: sign and verify a request, sign and verify an answer.
type signVerifyPing struct {
	ia, ic   *security.Identity
	v        *security.Verifier
	ov       uint32
	req, ans []byte
}

func newSignVerifyPing(b *testing.B) *signVerifyPing {
	s := &signVerifyPing{ia: ident(b, 1), ic: ident(b, 3), v: testVerifier(b), ov: wire.OverlayHash(testOverlay)}
	s.req, _ = (&wire.MessageContents{Code: wire.CodePingReq, Body: pingBody()}).Append(nil)
	s.ans, _ = (&wire.MessageContents{Code: wire.CodePingAns, Body: pingAnsBody(1, 2)}).Append(nil)
	return s
}

func (s *signVerifyPing) run(b *testing.B) {
	var s1, s2 wire.SecurityBlock
	if err := s.ia.SignMessage(&s1, s.ov, 42, s.req); err != nil {
		b.Fatal(err)
	}
	if _, err := s.v.VerifyMessage(s.ov, 42, s.req, &s1, security.Expect{NodeID: idA}, testStart); err != nil {
		b.Fatal(err)
	}
	if err := s.ic.SignMessage(&s2, s.ov, 42, s.ans); err != nil {
		b.Fatal(err)
	}
	if _, err := s.v.VerifyMessage(s.ov, 42, s.ans, &s2, security.Expect{NodeID: idC}, testStart); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSignVerifyPing is the bound of a signed Ping exchange: its four
// public-key operations alone.
func BenchmarkSignVerifyPing(b *testing.B) {
	s := newSignVerifyPing(b)
	b.ReportAllocs()
	for b.Loop() {
		s.run(b)
	}
}

// BenchmarkEndToEndSigned runs whole Ping transactions A -> B -> C -> B ->
// A through three cores and the two end-to-end layers, signing and
// verifying at the ends, and reports the throughput as a fraction of the
// sign+verify bound measured in the same run, interleaved with it
// (x-bound; goal: at least 0.8).
func BenchmarkEndToEndSigned(b *testing.B) {
	tn := line(b)
	a, c := tn[idA], tn[idC]
	ans := pingAnsBody(1, 2)
	sv := newSignVerifyPing(b)
	var boundNs time.Duration
	boundN, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, msg, err := a.tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, testStart)
		if err != nil {
			b.Fatal(err)
		}
		_, act := tn.route(b, idA, msg, testStart)
		d := c.tx.Receive(&act, testStart)
		if d.Kind != DeliverRequest {
			b.Fatal(d.Kind, d.Err)
		}
		out, err := c.tx.Respond(d.Request, wire.CodePingAns, ans)
		if err != nil {
			b.Fatal(err)
		}
		_, act = tn.route(b, idC, out, testStart)
		if d := a.tx.Receive(&act, testStart); d.Kind != DeliverAnswer {
			b.Fatal(d.Kind, d.Err)
		}
		// One bound measurement every eighth transaction, outside the
		// timed part.
		if i%8 == 1 {
			b.StopTimer()
			t0 := time.Now()
			sv.run(b)
			boundNs += time.Since(t0)
			boundN++
			b.StartTimer()
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(i)
	b.ReportMetric(1e9/perOp, "req/s")
	if boundN > 0 {
		b.ReportMetric(float64(boundNs.Nanoseconds())/float64(boundN)/perOp, "x-bound")
	}
	c.tx.Tick(testStart.Add(time.Hour), nil) // empty the duplicate cache
}
