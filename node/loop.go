package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/host"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// inbox is the node loop's queue: unbounded, so that a sender (the
// engine's loop, a link event, a handler) never waits for the host, and
// the host's loop can wait for the engine without a deadlock.
type inbox struct {
	mu    sync.Mutex
	fs    []func()
	ready chan struct{}
}

func (q *inbox) init() { q.ready = make(chan struct{}, 1) }

func (q *inbox) put(f func()) {
	q.mu.Lock()
	q.fs = append(q.fs, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *inbox) take(buf []func()) []func() {
	q.mu.Lock()
	buf = append(buf[:0], q.fs...)
	clear(q.fs)
	q.fs = q.fs[:0]
	q.mu.Unlock()
	return buf
}

// post runs f on the node's loop, which owns the host.
func (n *Node) post(f func()) { n.inbox.put(f) }

// do runs f on the node's loop and waits until it has run and the host's
// Ready has been handled (its requests handed to the links).
func (n *Node) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	n.post(func() { f(); n.process(); close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return forwarding.ErrClosed
	}
}

// doErr runs f on the node's loop as do does and returns f's error, or
// do's when f could not run in time. In that case f may still run later;
// its error then goes to a variable nobody reads, so the caller never
// races with the loop (as it would by assigning a shared variable inside
// f and another error to it after do gave up).
func (n *Node) doErr(ctx context.Context, f func() error) error {
	var ferr error
	if err := n.do(ctx, func() { ferr = f() }); err != nil {
		return err
	}
	return ferr
}

// run is the node's loop: the one goroutine that drives the host.
func (n *Node) run() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.TickLength)
	defer t.Stop()
	var buf []func()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.h.Tick()
		case <-n.inbox.ready:
			buf = n.inbox.take(buf)
			for i, f := range buf {
				f()
				buf[i] = nil
			}
		}
		n.process()
	}
}

// process carries out the host's Ready (package host): events first,
// then the requests in order, then the answers to delivered requests.
func (n *Node) process() {
	for n.h.HasReady() {
		rd := n.h.Ready()
		if rd.Routes != nil {
			n.routes.Store(&routesBox{rd.Routes})
		}
		for _, ev := range rd.Events {
			n.handleEvent(ev)
		}
		for i := range rd.Messages {
			n.send(&rd.Messages[i])
		}
		for _, a := range rd.Answers {
			if w, ok := n.waiters[a.Token]; ok {
				delete(n.waiters, a.Token)
				w <- a
			}
		}
		n.h.Advance()
	}
}

func (n *Node) handleEvent(ev topology.Event) {
	n.logEvent(ev)
	switch ev.Type {
	case topology.EventJoined:
		n.jonce.Do(func() { close(n.joined) })
		n.startCertificateStore()
	case topology.EventDetached:
		n.bootMu.Lock()
		boot := len(n.bootAddrs) > 0
		n.bootMu.Unlock()
		// §11.4: the cached peers are bootstrap peers too (a seed has
		// no others).
		if n.useBootCache() {
			boot = true
		}
		// A seed with neither starts the overlay over at once (rejoin):
		// peers that rejoin through it are admitted, and the partition
		// checks (§10.7.4.4) merge whatever rings the detachment left.
		if boot || n.cfg.Seed {
			n.rejoin()
		}
	}
}

// send starts one of the host's requests, or its Attach, and reports the
// outcome to the host on the loop.
func (n *Node) send(m *host.Message) {
	tok := m.Token
	if m.Attach {
		dest, limit := m.Dest, m.Timeout
		n.async(func() {
			peer, err := n.attach(dest, limit)
			n.post(func() {
				if err != nil {
					n.log.Debug("host: attach", "dest", dest[len(dest)-1].String(), "err", err)
					n.h.Failed(tok, err)
					return
				}
				n.h.Attached(tok, peer)
			})
		})
		return
	}
	n.sent.Add(1)
	p, err := n.eng.Start(m.Dest, m.Code, m.Body, forwarding.RequestOptions{Certificates: m.Certificates, Extensions: m.Extensions})
	if err != nil {
		n.log.Debug("host request", "code", m.Code.String(), "err", err)
		n.h.Failed(tok, err)
		return
	}
	code := m.Code
	n.async(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		defer cancel()
		ans, err := p.Wait(ctx)
		if n.ctx.Err() != nil {
			return
		}
		n.post(func() {
			if ans == nil {
				n.log.Debug("host request", "code", code.String(), "err", err)
				n.h.Failed(tok, err)
				return
			}
			n.h.AnsweredExt(tok, ans.Signer.NodeID, ans.Code, ans.Body, ans.Extensions)
		})
	})
}

// attach sets up a link along dest (RFC 6940 §6.5.1) and returns the
// Node-ID of the peer at its end. A target that is connected already is
// not attached again. When dest starts at a bootstrap peer that has gone
// (the join's Attach through it, §10.5), the bootstrap addresses are
// dialled again first. It is given up after limit (0: 30 s), the host's
// Message.Timeout.
func (n *Node) attach(dest []wire.Destination, limit time.Duration) (wire.NodeID, error) {
	if limit <= 0 {
		limit = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(n.ctx, limit)
	defer cancel()
	if len(dest) == 1 && dest[0].Type == wire.DestNode {
		if id, err := wire.NodeIDFromBytes(dest[0].ID); err == nil && n.eng.Table().Connected(id) {
			return id, nil
		}
	}
	if len(dest) > 1 && dest[0].Type == wire.DestNode {
		if via, err := wire.NodeIDFromBytes(dest[0].ID); err == nil && !n.eng.Table().Connected(via) {
			if v, ok := n.redialBootstrap(ctx); ok {
				dest = append([]wire.Destination{wire.NodeDest(&v)}, dest[1:]...)
			}
		}
	}
	l, err := n.eng.Attach(ctx, dest)
	if err != nil {
		return wire.NodeID{}, err
	}
	return l.PeerNodeID(), nil
}

func (n *Node) onLinkEvent(ev forwarding.LinkEvent) {
	if ev.Up {
		n.cacheLink(ev)
	}
	n.post(func() {
		if ev.Up {
			n.h.LinkUp(ev.NodeID)
			return
		}
		if _, still := n.eng.Table().Lookup(ev.NodeID); still {
			return
		}
		n.h.LinkDown(ev.NodeID)
	})
}

// handleHost hands a topology or storage request to the host and waits
// for its answer.
func (n *Node) handleHost(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
	n.rcvd.Add(1)
	tok := n.token.Add(1)
	w := make(chan host.Answer, 1)
	req := host.Request{Token: tok, Code: in.Code, Body: in.Body, From: storage.Requester{Signer: in.Signer, Certificates: in.Certificates}, Extensions: in.Extensions}
	n.post(func() {
		n.waiters[tok] = w
		n.h.Deliver(req)
	})
	select {
	case a := <-w:
		if a.Code == wire.CodeError {
			if a.Err == nil {
				a.Err = wire.ParseErrorAnswer(a.Body, n.ID()).Relay()
			}
			return nil, a.Err
		}
		// §6.3.4: the certificates of a FetchAns's values go into the
		// answer's SecurityBlock, so that the fetching node can verify
		// every value (§7.4.2.2) without fetching them.
		in.ReplyCertificates = a.Certificates
		in.ReplyExtensions = a.Extensions
		return a.Body, nil
	case <-ctx.Done():
		n.post(func() { delete(n.waiters, tok) })
		return nil, forwarding.ErrNoAnswer
	case <-n.ctx.Done():
		return nil, errors.Join(forwarding.ErrNoAnswer, forwarding.ErrClosed)
	}
}
