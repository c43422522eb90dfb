package forwarding

import (
	"errors"
	"testing"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

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
	_, act := tn.routeWith(t, idA, msg, testStart, true)
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
	_, act = tn.routeWith(t, idC, fmsg, testStart, true)
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
	_, act = tn.routeWith(t, idC, badRaw, testStart, true)
	if d := a.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.Is(d.Err, security.ErrBadSignature) {
		t.Fatalf("tampered answer: %+v", d)
	}
	if a.tx.Pending() != 1 {
		t.Fatal("request no longer pending after refused answers")
	}

	// The real answer.
	_, act = tn.routeWith(t, idC, good, testStart, true)
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
	_, act = tn.routeWith(t, idA, raw, testStart, true)
	var need *security.CertificateNeededError
	if d := c.tx.Receive(&act, testStart); d.Kind != DeliverDrop || !errors.As(d.Err, &need) || need.NodeID != idA {
		t.Fatalf("%+v, want a CertificateNeededError for A", d)
	}
}
