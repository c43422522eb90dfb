package forwarding

import (
	"context"
	"errors"

	"github.com/goreload/reload/wire"
)

// Handle registers h for requests with message code code, replacing any
// handler before it (the built-in Ping, ConfigUpdate, Attach and AppAttach
// handlers included).
func (e *Engine) Handle(code wire.MessageCode, h Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h == nil {
		delete(e.handlers, code)
		return
	}
	e.handlers[code] = h
}

// HandleApp registers h for AppAttach requests for Application-ID app.
func (e *Engine) HandleApp(app uint16, h AppHandler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h == nil {
		delete(e.apps, app)
		return
	}
	e.apps[app] = h
}

// dispatch hands a request to the handler registered for its code, on
// a goroutine of its own, and answers with what the handler returns.
func (e *Engine) dispatch(in *Incoming) {
	e.mu.Lock()
	h := e.handlers[in.Code]
	e.mu.Unlock()
	if h == nil {
		e.respond(in, nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("unsupported request " + in.Code.String())})
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := e.withTimeout(e.ctx, DefaultRequestLifetime)
		defer cancel()
		body, err := h(ctx, in)
		e.post(func() { e.respond(in, body, err) })
	}()
}

func (e *Engine) respond(in *Incoming, body []byte, err error) {
	if errors.Is(err, ErrNoAnswer) {
		return
	}
	var msg []byte
	var berr error
	res := resultOK
	if err != nil {
		pe := e.handlerError(in, err)
		res = errIndex(pe.Code)
		msg, berr = e.tx.RespondError(in, pe)
	} else {
		msg, berr = e.tx.RespondWith(in, in.Code.Answer(), body, in.ReplyExtensions)
	}
	if berr != nil {
		e.stats.sent(in.Code.Answer(), resultDropped)
		e.log.Warn("answer not built", "code", in.Code.String(), "txid", in.TxID, "err", berr)
		return
	}
	if rerr := e.originate(msg); rerr != nil {
		e.stats.sent(in.Code.Answer(), resultDropped)
		e.log.Debug("answer not routed", "code", in.Code.String(), "txid", in.TxID, "err", rerr)
		return
	}
	e.stats.sent(in.Code.Answer(), res)
}

// handlerError is the error answer to a handler's err (see Handler).
func (e *Engine) handlerError(in *Incoming, err error) *wire.ProtocolError {
	var pe *wire.ProtocolError
	var re *wire.RemoteError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, ErrRequestTimeout):
		e.log.Debug("handler's request timed out", "code", in.Code.String(), "txid", in.TxID, "err", err)
		return &wire.ProtocolError{Code: wire.ErrCodeRequestTimeout, Info: []byte("downstream request timed out"), Err: err}
	case errors.As(err, &re):
		// Not the remote's code: see Handler.
		e.log.Debug("handler's request failed", "code", in.Code.String(), "txid", in.TxID, "err", err)
		info := "downstream request failed"
		if c, ok := re.ErrorCode(); ok {
			info += ": " + c.String()
		}
		return &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte(info), Err: err}
	}
	e.log.Warn("handler failed", "code", in.Code.String(), "txid", in.TxID, "err", err)
	return &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("request failed"), Err: err}
}

// handlePing answers a Ping (§6.5.3.2): a random response id and the time
// in milliseconds.
func (e *Engine) handlePing(ctx context.Context, req *Incoming) ([]byte, error) {
	var p wire.PingReq
	if _, err := p.Decode(req.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed ping"), Err: err}
	}
	var id uint64
	var rerr error
	ok := e.call(ctx, func() { id, rerr = e.tx.Rand64() })
	if !ok {
		return nil, ErrNoAnswer
	}
	if rerr != nil {
		return nil, rerr
	}
	ans := wire.PingAns{ResponseID: id, Time: uint64(e.clock.Now().UnixMilli())}
	return ans.Append(nil)
}
