package forwarding

import (
	"context"
	"log/slog"

	"github.com/goreload/reload/wire"
)

// Pending is a request started with Start: its first transmission is
// queued, its answer comes with Wait.
type Pending struct {
	e    *Engine
	txid uint64
	code wire.MessageCode
	ch   chan result
}

// Start sends a request as RequestWith does, but returns once its first
// transmission has been handed to the links (RFC 6940 §6.2.1), without
// waiting for the answer. Requests started one after another from one
// goroutine leave in that order, which a caller that must keep an order
// (a Store before an answer, as the topology contract requires) relies
// on. Wait (or Cancel) must follow.
func (e *Engine) Start(dest []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions) (*Pending, error) {
	// p.ch carries first the outcome of the first transmission (a
	// result without an answer), then the answer: the loop sends both,
	// in that order, so one channel serves both.
	p := &Pending{e: e, code: code, ch: make(chan result, 2)}
	started := p.ch
	// The request is signed here, on the caller's goroutine, so that the
	// loop does not sign every request of the node in turn. A
	// transaction id that turns out to be pending already (or a failure
	// here) leaves the request to the loop's StartWith.
	var pre []byte
	var expect wire.NodeID
	txid, err := e.rand.uint64()
	if err == nil {
		pre, expect, err = requestMessage(e.localNow.Load(), txid, dest, code, body, opt, 0)
	}
	if !e.post(func() {
		id, msg := txid, pre
		if err != nil || !e.tx.track(txid, pre, expect, e.clock.Now()) {
			var serr error
			id, msg, serr = e.tx.StartWith(dest, code, body, opt, 0, e.clock.Now())
			if serr != nil {
				started <- result{err: serr}
				return
			}
		}
		p.txid = id
		e.waiters[id] = p.ch
		if err := e.originate(msg); err != nil {
			e.stats.sent(code, resultDropped)
			e.tx.Cancel(id)
			delete(e.waiters, id)
			started <- result{err: err}
			return
		}
		e.stats.sent(code, resultOK)
		started <- result{}
	}) {
		return nil, ErrClosed
	}
	select {
	case r := <-started:
		if r.err != nil {
			return nil, r.err
		}
		return p, nil
	case <-e.ctx.Done():
		return nil, ErrClosed
	}
}

// Wait waits for the answer, as RequestWith does: an error answer comes
// with a *wire.RemoteError, no answer after the last retransmission with
// ErrRequestTimeout. When ctx ends first, the transaction is cancelled.
func (p *Pending) Wait(ctx context.Context) (*Answer, error) {
	e := p.e
	select {
	case r := <-p.ch:
		if r.ans != nil {
			e.stats.received(p.code.Answer(), resultOf(r.err))
			e.stats.hop(len(r.ans.Via))
		}
		if e.log.Enabled(ctx, slog.LevelDebug) {
			e.log.Debug("answer", "code", p.code.String(), "txid", p.txid, "err", r.err)
		}
		return r.ans, r.err
	case <-ctx.Done():
		e.post(func() {
			e.tx.Cancel(p.txid)
			delete(e.waiters, p.txid)
		})
		return nil, ctx.Err()
	}
}
