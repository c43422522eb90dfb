package forwarding

import (
	"context"
	"log/slog"
	"sync"

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
	if err := e.start(p, dest, code, body, opt); err != nil {
		return nil, err
	}
	return p, nil
}

// pendings recycles the Pendings of RequestWith, whose callers never see
// them: one whose answer (or final error) came through its channel gets
// nothing more on it.
var pendings = sync.Pool{New: func() any { return &Pending{ch: make(chan result, 2)} }}

// RequestWith is Request with message extensions in the request's
// MessageContents (for example RFC 7851's Diagnostic_Ping) and extra
// certificates in its SecurityBlock.
func (e *Engine) RequestWith(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions) (*Answer, error) {
	p := pendings.Get().(*Pending)
	p.e, p.code, p.txid = e, code, 0
	if err := e.start(p, dest, code, body, opt); err != nil {
		return nil, err
	}
	a, final, err := p.wait(ctx)
	if final {
		p.e = nil
		pendings.Put(p)
	}
	return a, err
}

// start queues the first transmission of p's request and waits for it.
func (e *Engine) start(p *Pending, dest []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions) error {
	started := p.ch
	// The request is signed here, on the caller's goroutine, so that the
	// loop does not sign every request of the node in turn. A
	// transaction id that turns out to be pending already (or a failure
	// here) leaves the request to the loop's StartWith.
	var pre []byte
	var expect answerer
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
		if opt.Route != nil {
			e.stats.Routes.Asked.Add(1)
		}
		started <- result{}
	}) {
		return ErrClosed
	}
	select {
	case r := <-started:
		return r.err
	case <-e.ctx.Done():
		return ErrClosed
	}
}

// Wait waits for the answer, as RequestWith does: an error answer comes
// with a *wire.RemoteError, no answer after the last retransmission with
// ErrRequestTimeout. When ctx ends first, the transaction is cancelled.
func (p *Pending) Wait(ctx context.Context) (*Answer, error) {
	a, _, err := p.wait(ctx)
	return a, err
}

// wait is Wait; final says that the result came through p.ch, the last
// thing the loop sends on it.
func (p *Pending) wait(ctx context.Context) (*Answer, bool, error) {
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
		return r.ans, true, r.err
	case <-ctx.Done():
		txid := p.txid
		e.post(func() {
			e.tx.Cancel(txid)
			delete(e.waiters, txid)
		})
		return nil, false, ctx.Err()
	}
}
