package forwarding

import (
	"errors"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// routePre is route with the signature checked before the last hop's
// core delivers the message, as a link's reading goroutine does
// (Engine.preVerify).
func (tn testNet) routePre(t testing.TB, from wire.NodeID, msg []byte, now time.Time) (*node, Action) {
	t.Helper()
	n := tn[from]
	a := n.core.Originate(msg, now)
	for hops := 0; hops < 10; hops++ {
		switch a.Kind {
		case ActDeliver:
			return n, a
		case ActForward, ActAnswer:
			buf := append(append([]byte(nil), a.Head...), a.Rest...)
			prev := n.id
			n = tn[a.To]
			var m wire.Message
			pre := preVerify(n.tx.cfg.Verifier, n.id, buf, &m, now)
			a = n.core.Process(prev, buf, now)
			if a.Kind == ActDeliver {
				if !pre.done {
					t.Fatal("a message to a Node-ID was not checked before delivery")
				}
				a.pre = pre
			}
		default:
			t.Fatalf("route: %v (%v)", a.Kind, a.Err)
		}
	}
	t.Fatal("route: too many hops")
	return nil, Action{}
}

// RFC 6940 §6.3.4 with the signature checked on the reading goroutine,
// before the loop knows whom to expect: a good request and its answer
// are delivered with their signers; an answer signed by another node than
// the one asked, a signature that does not match and a certificate that
// is neither sent nor cached are refused as when the loop checks them.
func TestPreVerifiedSignatures(t *testing.T) {
	tn := line(t)
	a, c := tn[idA], tn[idC]
	_, msg, err := a.tx.Start(dests(idC), wire.CodePingReq, pingBody(), 0, testStart)
	if err != nil {
		t.Fatal(err)
	}
	_, act := tn.routePre(t, idA, msg, testStart)
	d := c.tx.Receive(&act, testStart)
	if d.Kind != DeliverRequest || d.Request.Signer.NodeID != idA {
		t.Fatalf("request: %+v", d)
	}
	in := d.Request

	// B forges C's answer.
	lb := local(t, 2)
	forged := builder{local: &lb}
	h := forged.answerHeader(&in.Header, in.From)
	rest, _ := forged.seal(nil, h.Overlay, h.TransactionID, wire.CodePingAns, make([]byte, 16))
	fmsg, _ := forged.message(nil, &h, rest)
	_, act = tn.routePre(t, idC, fmsg, testStart)
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, security.ErrNodeIDNotInCert) {
		t.Fatalf("forged answer: %+v", d)
	}

	// C's answer with one bit of its signature flipped.
	good, err := c.tx.Respond(in, wire.CodePingAns, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	bad := decode(t, append([]byte(nil), good...)) // decoding aliases its input
	bad.Security.Signature.Value[len(bad.Security.Signature.Value)/2] ^= 1
	badRaw, err := bad.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, act = tn.routePre(t, idC, badRaw, testStart)
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, security.ErrBadSignature) {
		t.Fatalf("tampered answer: %+v", d)
	}
	if a.tx.Pending() != 1 {
		t.Fatal("request no longer pending after refused answers")
	}

	// The real answer.
	_, act = tn.routePre(t, idC, good, testStart)
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverAnswer || d.Answer.Signer.NodeID != idC {
		t.Fatalf("answer: %+v", d)
	}

	// A request whose certificate C does not have: the error names A, the
	// Node-ID the via list says signed it.
	m := decode(t, request(t, 7, wire.CodePingReq, pingBody(), toC))
	m.Security.Certificates = nil
	raw, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, act = tn.routePre(t, idA, raw, testStart)
	var need *security.CertificateNeededError
	if d := c.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.As(d.Err, &need) || need.NodeID != idA {
		t.Fatalf("%+v, want a CertificateNeededError for A", d)
	}
}
