package forwarding

import (
	"context"
	"log/slog"

	"github.com/goreload/reload/wire"
)

func (e *Engine) complete(txid uint64, a *Answer, err error) {
	ch, ok := e.waiters[txid]
	if !ok {
		return
	}
	delete(e.waiters, txid)
	ch <- result{a, err}
}

// Request sends a request with message code code and body to the
// destination list dest (§6.2.1) and waits for its answer. The request is
// retransmitted on the overlay reliability timer and fails with
// ErrRequestTimeout after its last transmission. An error response is
// returned as a *wire.RemoteError (the peer's code, info and Node-ID)
// together with the Answer that carried it; local failures (no route, a
// request that cannot be built, ctx done) are other errors.
// wire.ErrorCodeOf gives the code of either kind for display.
func (e *Engine) Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte) (*Answer, error) {
	return e.RequestWith(ctx, dest, code, body, RequestOptions{})
}

// RequestWith is Request with message extensions in the request's
// MessageContents (for example RFC 7851's Diagnostic_Ping) and extra
// certificates in its SecurityBlock.
func (e *Engine) RequestWith(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, opt RequestOptions) (*Answer, error) {
	ch := make(chan result, 1)
	var txid uint64
	started := make(chan error, 1)
	if !e.post(func() {
		id, msg, err := e.tx.StartWith(dest, code, body, opt, 0, e.clock.Now())
		if err != nil {
			started <- err
			return
		}
		txid = id
		e.waiters[id] = ch
		if err := e.originate(msg); err != nil {
			e.stats.sent(code, resultDropped)
			e.tx.Cancel(id)
			delete(e.waiters, id)
			started <- err
			return
		}
		e.stats.sent(code, resultOK)
		started <- nil
	}) {
		return nil, ErrClosed
	}
	select {
	case err := <-started:
		if err != nil {
			return nil, err
		}
	case <-e.ctx.Done():
		return nil, ErrClosed
	}
	select {
	case r := <-ch:
		if r.ans != nil {
			e.stats.received(code.Answer(), resultOf(r.err))
			e.stats.hop(len(r.ans.Via))
		}
		if e.log.Enabled(ctx, slog.LevelDebug) {
			e.log.Debug("answer", "code", code.String(), "txid", txid, "err", r.err)
		}
		return r.ans, r.err
	case <-ctx.Done():
		e.post(func() {
			e.tx.Cancel(txid)
			delete(e.waiters, txid)
		})
		return nil, ctx.Err()
	}
}

// Ping sends a Ping to dest (§6.5.3) and returns the answer.
func (e *Engine) Ping(ctx context.Context, dest []wire.Destination) (*wire.PingAns, *Answer, error) {
	p := wire.PingReq{}
	body, err := p.Append(nil)
	if err != nil {
		return nil, nil, err
	}
	a, err := e.Request(ctx, dest, wire.CodePingReq, body)
	if err != nil {
		return nil, a, err
	}
	var pa wire.PingAns
	if _, err := pa.Decode(a.Body); err != nil {
		return nil, a, err
	}
	return &pa, a, nil
}
