package forwarding

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

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
	if _, pe := parseRouteOption(&in.Header); pe != nil {
		// RFC 7263 §5.4.1, RFC 7264 §5.4.1: an extensive_routing_mode
		// option that cannot be followed is answered with
		// Error_Unknown_Extension by SRR.
		e.respond(in, nil, pe)
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var body []byte
		var err error
		if _, ok := e.clock.(realClock); ok {
			ctx := newLazyDeadline(e.ctx, DefaultRequestLifetime)
			body, err = h(ctx, in)
			ctx.cancel()
		} else {
			ctx, cancel := e.withTimeout(e.ctx, DefaultRequestLifetime)
			body, err = h(ctx, in)
			cancel()
		}
		if errors.Is(err, ErrNoAnswer) {
			return
		}
		// The answer is signed here, on the handler's goroutine, not
		// on the loop.
		a := e.answer(in, body, err)
		if e.routeAnswer(in, a) {
			return
		}
		if e.sendAnswerDirect(in, a) {
			return
		}
		e.post(func() { e.sendAnswer(in, a) })
	}()
}

// newLazyDeadline is a handler's context on the real clock: parent,
// ended after d (see Handler). The timer behind it is made only when the
// handler first asks for Done or Err, as most (a Ping, a Store, a Fetch)
// answer without waiting on anything.
func newLazyDeadline(parent context.Context, d time.Duration) *lazyDeadline {
	return &lazyDeadline{Context: parent, deadline: time.Now().Add(d)}
}

// lazyDeadline is context.WithDeadline(Context, deadline) made on first
// use of Done, Err or a context derived from it; cancel ends it.
type lazyDeadline struct {
	context.Context
	deadline time.Time
	mu       sync.Mutex
	timed    context.Context
	stop     context.CancelFunc
	ended    bool
}

func (c *lazyDeadline) ctx() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timed == nil {
		c.timed, c.stop = context.WithDeadline(c.Context, c.deadline)
		if c.ended {
			c.stop()
		}
	}
	return c.timed
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *lazyDeadline) Done() <-chan struct{}       { return c.ctx().Done() }
func (c *lazyDeadline) Err() error                  { return c.ctx().Err() }

// Value answers from the timed context once there is one, so that
// context.Cause and derived contexts see it.
func (c *lazyDeadline) Value(key any) any {
	c.mu.Lock()
	t := c.timed
	c.mu.Unlock()
	if t != nil {
		return t.Value(key)
	}
	return c.Context.Value(key)
}

func (c *lazyDeadline) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	if c.stop != nil {
		c.stop()
	}
}

// builtAnswer is an answer built off the loop, for sendAnswer.
type builtAnswer struct {
	msg, rest []byte
	res       int
	err       error
}

// answer builds and signs the answer to in from what its handler
// returned (see Handler).
func (e *Engine) answer(in *Incoming, body []byte, err error) builtAnswer {
	local := e.localNow.Load()
	if err != nil {
		pe := e.handlerError(in, err)
		msg, rest, berr := errorMessage(local, in, pe)
		return builtAnswer{msg, rest, errIndex(pe.Code), berr}
	}
	msg, rest, berr := answerMessage(local, in, in.Code.Answer(), body, in.ReplyExtensions)
	return builtAnswer{msg, rest, resultOK, berr}
}

func (e *Engine) respond(in *Incoming, body []byte, err error) {
	if errors.Is(err, ErrNoAnswer) {
		return
	}
	e.sendAnswer(in, e.answer(in, body, err))
}

// sendAnswer remembers a's message for retransmissions of in and sends
// it (on the loop goroutine).
func (e *Engine) sendAnswer(in *Incoming, a builtAnswer) {
	msg, berr, res := a.msg, a.err, a.res
	if berr == nil {
		e.tx.answered(in, a.rest)
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

// sendAnswerDirect sends the answer to a request that came straight from
// a neighbour (an empty via list: the answer's destination list is that
// neighbour alone, §6.2.2) on the link it came by, from the handler's
// goroutine, where the loop would route it to that same link: routing
// leaves such a message as it is (Core.Originate). The loop then only
// remembers the answer for retransmissions of the request (§6.2.1)
// and counts it; a retransmission that arrives in between is dropped as
// still in progress and the next one gets the answer. Anything else, or
// a link gone, goes through the loop (false).
func (e *Engine) sendAnswerDirect(in *Incoming, a builtAnswer) bool {
	if a.err != nil || len(in.Via) != 0 {
		return false
	}
	l, ok := e.table.Lookup(in.From)
	if !ok {
		return false
	}
	if err := l.TrySend(a.msg); err != nil {
		// The loop sends it, or counts it dropped (ErrQueueFull).
		return false
	}
	e.post(func() {
		e.tx.answered(in, a.rest)
		e.stats.sent(in.Code.Answer(), a.res)
	})
	return true
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

// lockedRand is a source of random bytes shared by goroutines; a nil
// one is crypto/rand.
type lockedRand struct {
	mu  sync.Mutex
	r   io.Reader
	buf [8]byte
}

func (l *lockedRand) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func (l *lockedRand) uint64() (uint64, error) {
	if l == nil {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint64(b[:]), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := io.ReadFull(l.r, l.buf[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(l.buf[:]), nil
}

// handlePing answers a Ping (§6.5.3.2): a random response id and the time
// in milliseconds.
func (e *Engine) handlePing(_ context.Context, req *Incoming) ([]byte, error) {
	var p wire.PingReq
	if _, err := p.Decode(req.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed ping"), Err: err}
	}
	id, err := e.rand.uint64()
	if err != nil {
		return nil, err
	}
	ans := wire.PingAns{ResponseID: id, Time: uint64(e.clock.Now().UnixMilli())}
	return ans.Append(nil)
}
