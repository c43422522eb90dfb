package forwarding

import (
	"errors"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// preVerified is a signature check made on the goroutine that read a
// message from its link, before the loop routes it: checking signatures
// (§6.3.4) is most of what a node spends on a message, and made there it
// runs beside the loop, one goroutine per link, instead of in it.
type preVerified struct {
	done   bool
	txid   uint64
	signer security.Signer
	err    error
}

// preVerify checks the signature of a message that the loop will deliver
// to this node: one whole (not a fragment, §6.7) whose destination list
// is this node's Node-ID alone, as every answer at its last hop and every
// request to a Node-ID (Ping, Attach, Update) are. Whom the signer must
// be is known only to the loop (the pending transaction of an answer,
// the via list of a request), so the check expects no one in particular;
// Transactions.verify matches the signer later. m is the caller's, reused.
// Anything else, or a message that does not decode, is left to the loop.
func (e *Engine) preVerify(in *inbound, m *wire.Message) {
	in.pre = preVerify(e.opts.Verifier, e.Self(), in.data, m, e.clock.Now())
}

func preVerify(v *security.Verifier, self wire.NodeID, raw []byte, m *wire.Message, now time.Time) preVerified {
	h := &m.Header
	if _, err := h.Decode(raw); err != nil || h.IsFragment() || len(h.Destinations) != 1 {
		return preVerified{}
	}
	d := &h.Destinations[0]
	if d.Type != wire.DestNode || d.Compressed || string(d.ID) != string(self.Bytes()) {
		return preVerified{}
	}
	if _, err := m.Decode(raw); err != nil {
		return preVerified{}
	}
	signer, err := v.Verify(m, security.Expect{}, now)
	return preVerified{done: true, txid: h.TransactionID, signer: signer, err: err}
}

// verify checks the signature of the message a delivers against want:
// from what preVerify found when it checked it, or now. A missing
// certificate is looked at again with want, whose Node-ID names the
// certificate to fetch (§6.3.4).
func (t *Transactions) verify(a *Action, want security.Expect, now time.Time) (security.Signer, error) {
	m := a.Msg
	if p := &a.pre; p.done && p.txid == m.Header.TransactionID {
		if p.err == nil {
			if err := t.cfg.Verifier.Check(p.signer, want); err != nil {
				return security.Signer{}, err
			}
			return p.signer, nil
		}
		if !isCertificateNeeded(p.err) {
			return security.Signer{}, p.err
		}
	}
	return t.cfg.Verifier.Verify(m, want, now)
}

func isCertificateNeeded(err error) bool {
	var need *security.CertificateNeededError
	return errors.As(err, &need)
}
