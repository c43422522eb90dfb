package forwarding

import (
	"context"

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
