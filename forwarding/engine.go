package forwarding

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// Clock is the shell's source of time. Only the shell reads it; the
// values it drives take now as an argument.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Handler answers one request: the body of the answer (the answer code is
// the request's plus one), or an error, answered as follows:
//   - a *wire.ProtocolError (the first in the chain) is answered with its
//     code and info;
//   - ErrNoAnswer sends nothing;
//   - ErrRequestTimeout, the handler's own request having gone unanswered,
//     is answered with Error_Request_Timeout (RFC 6940 §6.3.3.1: "a
//     response to the request has not been received in a suitable amount
//     of time");
//   - a *wire.RemoteError, a peer's error answer to a request the handler
//     made, is answered with Error_Invalid_Message and an error_info that
//     names the downstream code, never with the remote peer's code: the
//     §6.3.3.1 codes describe the answering node's own verdict on the
//     request it got, and Error_Invalid_Message is the one kept for what
//     "does not fit the other error codes". A handler that means to pass
//     the remote code on returns RemoteError.Relay();
//   - any other error is answered with Error_Invalid_Message.
//
// ctx ends when the engine closes or the request lifetime (15 s) passes.
type Handler func(ctx context.Context, req *Incoming) ([]byte, error)

// ErrNoAnswer, returned by a Handler, leaves the request unanswered.
var ErrNoAnswer = errors.New("forwarding: no answer")

// AppHandler receives the connection an AppAttach opened (§6.5.2) for
// its Application-ID, and the Node-ID of the peer. It owns conn.
type AppHandler func(peer wire.NodeID, conn net.Conn)

// LinkEvent reports a link entering or leaving the connection table.
type LinkEvent struct {
	NodeID wire.NodeID
	Link   *transport.Link
	Up     bool
	Err    error // why a link went down
}

// ErrClosed reports that the engine was closed.
var ErrClosed = errors.New("forwarding: engine closed")

// Options configure an Engine. Identity, Config and Router are required.
type Options struct {
	// Identity is this node's credential; it signs every message the
	// node originates and authenticates its links.
	Identity *security.Identity
	// Verifier checks signatures and peer certificates; nil builds one
	// from Config.Trust().
	Verifier *security.Verifier
	// Config is the current overlay configuration; ConfigDocument the
	// signed document that holds it, sent in ConfigUpdate requests to
	// nodes with an older one (§6.3.2.1; nil to send none).
	Config         *config.Configuration
	ConfigDocument []byte
	// Router is the topology plugin's next-hop function.
	Router Router
	// Clock and Rand default to the real clock and crypto/rand.
	Clock Clock
	Rand  io.Reader
	// CompressVia turns on via-list compression (§6.1.2).
	CompressVia bool
	// KnownOption and KnownExtension name the forwarding options and
	// message extensions this node understands (none by default).
	KnownOption    func(wire.ForwardingOptionType) bool
	KnownExtension func(wire.MessageExtensionType) bool

	// Link is the template for the links this engine opens; Certificate
	// and Verifier are filled in from Identity and Verifier.
	Link transport.Config
	// Listener accepts TLS-TCP-FH-NO-ICE links (§6.6.5): this node is
	// the TLS server on them, as the sender of an Attach request must be
	// (§6.5.1.13). Its address is the host candidate offered in Attach
	// (override with AdvertiseTLS). The engine owns it.
	Listener     net.Listener
	AdvertiseTLS netip.AddrPort
	// MaxPendingHandshakes bounds the TLS handshakes in progress on
	// connections Listener accepted (default 256), and
	// MaxPendingHandshakesPerHost those from one source: an IPv4 address
	// or an IPv6 /64 (default 16). A new connection is never refused for
	// them: at the per-source bound the oldest pending handshake of the
	// same source is closed to make room, and when the table is full the
	// oldest of the source holding the most, so that connections that
	// never finish their handshake cannot crowd out peers (each eviction
	// counts in Stats.HandshakesEvicted). A connection that has not sent
	// its ClientHello within Link.FirstRecordTimeout (default 3 s) is
	// closed, and each inbound handshake ends after
	// Link.HandshakeTimeout (default 10 s).
	MaxPendingHandshakes        int
	MaxPendingHandshakesPerHost int
	// Dial opens TCP connections (nil: a net.Dialer).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// UDP carries DTLS-UDP-SR-NO-ICE links (§6.6.6); its address is the
	// host candidate offered (override with AdvertiseUDP). The engine
	// owns it.
	UDP          *transport.Mux
	AdvertiseUDP netip.AddrPort
	// ICE, when set and the overlay does not say no-ice, makes Attach
	// use ICE and DTLS-UDP-SR (§6.5.1.3–§6.5.1.14).
	ICE *transport.ICEConfig
	// ListenApp opens a listener for the connection of one AppAttach
	// this node requests without ICE (nil: TCP on 127.0.0.1; §6.5.2).
	ListenApp func(ctx context.Context) (net.Listener, error)

	// OnLinkEvent, OnConfig and OnKinds are called (from the engine's
	// goroutines, not concurrently with themselves) when links come and
	// go and when a ConfigUpdate replaced the configuration or kinds.
	OnLinkEvent func(LinkEvent)
	OnConfig    func(*config.Configuration)
	OnKinds     func(config.Kinds)
	// OnCertificateNeeded is told of requests dropped because the
	// signer's certificate is unknown (§6.3.4): fetch it, add it with
	// Verifier.AddCertificate, and the retransmission will verify.
	OnCertificateNeeded func(*security.CertificateNeededError)
	Logger              *slog.Logger

	twinWindow time.Duration // 0: defaultTwinWindow (tests shorten it)
}

// defaultTwinWindow is how close in time two links to one peer must come up to
// be taken for the two halves of a simultaneous Attach, settled by the
// tie-break of Engine.prefer. A link that comes up later than that
// replaces the older one whatever the tie-break: the peer set it up
// because it no longer has the old one (the process restarted with the
// same Node-ID, or it took the link for dead), and keeping the old link
// would leave the two ends without a link both use.
const defaultTwinWindow = 10 * time.Second

// Engine is the forwarding shell: it owns the links and the goroutines,
// runs the routing core and the end-to-end layer on one goroutine with a
// real (injectable) clock, answers Ping and ConfigUpdate, opens links with
// Attach and application connections with AppAttach, and dispatches the
// other requests to the handlers registered for their codes.
type Engine struct {
	opts    Options
	clock   Clock
	log     *slog.Logger
	table   *ConnTable
	linkCfg transport.Config
	ctx     context.Context
	cancel  context.CancelFunc
	inbox   chan inbound
	cmds    chan func()
	wg      sync.WaitGroup
	once    sync.Once

	// Owned by the loop goroutine.
	core    *Core
	tx      *Transactions
	local   Local
	cfg     *config.Configuration
	cfgDoc  []byte
	kinds   config.Kinds
	waiters map[uint64]chan result
	sendBuf []byte
	evs     []TxEvent
	// pushed is, per peer, the configuration sequence last pushed to it
	// unasked (pushConfig, an Error_Config_Too_New answer), so that each
	// peer gets one configuration once on those paths; tooLarge is the
	// last message dropped for its size, so that its fragments are
	// logged once.
	pushed   map[wire.NodeID]uint16
	tooLarge struct {
		from wire.NodeID
		txid uint64
	}
	// warnLarge and warnRefused space the Warn records that any
	// enrolled peer can cause at will.
	warnLarge, warnRefused logLimit

	// current is the configuration and its document, for readers off
	// the loop goroutine.
	current atomic.Pointer[configState]

	stats Stats

	mu          sync.Mutex
	handlers    map[wire.MessageCode]Handler
	apps        map[uint16]AppHandler
	linkWaiters map[wire.NodeID][]chan *transport.Link
	attaching   map[wire.NodeID]attachState // outgoing Attaches by target
	events      sync.Mutex                  // serialises OnLinkEvent

	hs       *handshakes // inbound TLS handshakes in progress
	hsNotice logLimit    // spaces the "table full" notices (handshakeNoticeEvery)
}

// linkRecvBytes is the aim for the bytes a link may hold received but not
// yet processed, and minRecvQueue the fewest messages it may hold.
const (
	linkRecvBytes = 4 << 20
	minRecvQueue  = 16
)

// Defaults for the inbound handshake limits.
const (
	DefaultMaxPendingHandshakes        = 256
	DefaultMaxPendingHandshakesPerHost = 16
	DefaultAcceptHandshakeTimeout      = 10 * time.Second
)

type inbound struct {
	link *transport.Link
	from wire.NodeID
	data []byte
}

type result struct {
	ans *Answer
	err error
}

// New starts an engine.
func New(opts Options) (*Engine, error) {
	if opts.Identity == nil || opts.Config == nil || opts.Router == nil {
		return nil, errors.New("forwarding: Options.Identity, Config and Router are required")
	}
	if opts.Verifier == nil {
		tr, err := opts.Config.Trust()
		if err != nil {
			return nil, err
		}
		opts.Verifier = security.NewVerifier(tr, 0)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	if opts.MaxPendingHandshakes <= 0 {
		opts.MaxPendingHandshakes = DefaultMaxPendingHandshakes
	}
	if opts.MaxPendingHandshakesPerHost <= 0 {
		opts.MaxPendingHandshakesPerHost = DefaultMaxPendingHandshakesPerHost
	}
	if opts.twinWindow <= 0 {
		opts.twinWindow = defaultTwinWindow
	}
	if opts.ListenApp == nil {
		opts.ListenApp = func(ctx context.Context) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, "tcp", "127.0.0.1:0")
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		opts:        opts,
		clock:       opts.Clock,
		log:         log.With("node", opts.Identity.NodeID().String()),
		table:       NewConnTable(opts.Rand),
		inbox:       make(chan inbound, 256),
		cmds:        make(chan func(), 64),
		waiters:     make(map[uint64]chan result),
		handlers:    make(map[wire.MessageCode]Handler),
		apps:        make(map[uint16]AppHandler),
		linkWaiters: make(map[wire.NodeID][]chan *transport.Link),
		attaching:   make(map[wire.NodeID]attachState),
		hs:          newHandshakes(opts.MaxPendingHandshakes, opts.MaxPendingHandshakesPerHost),
		hsNotice:    logLimit{every: handshakeNoticeEvery},
		cfg:         opts.Config,
		cfgDoc:      opts.ConfigDocument,
	}
	e.kinds, _ = opts.Config.Kinds()
	e.local = e.localFor(opts.Config)
	e.pushed = make(map[wire.NodeID]uint16)
	e.current.Store(&configState{opts.Config, opts.ConfigDocument})
	var err error
	e.core, err = NewCore(CoreConfig{
		Local: e.local, Router: opts.Router, Neighbors: e.table, CompressVia: opts.CompressVia,
		KnownOption: opts.KnownOption, KnownExtension: opts.KnownExtension,
		Reassembly: transport.ReassemblyConfig{MaxMessage: int(opts.Config.MaxMessageSize)},
	})
	if err != nil {
		return nil, err
	}
	e.tx, err = NewTransactions(TxConfig{Local: e.local, Verifier: opts.Verifier, Rand: opts.Rand, Timer: opts.Config.OverlayReliabilityTimer})
	if err != nil {
		return nil, err
	}
	e.linkCfg = opts.Link
	if e.linkCfg.MaxMessageSize == 0 {
		// §6.6: a link refuses messages larger than max-message-size.
		e.linkCfg.MaxMessageSize = int(opts.Config.MaxMessageSize)
	}
	if e.linkCfg.RecvQueue == 0 && e.linkCfg.MaxMessageSize > 0 {
		// What one link holds received and not yet taken is bounded by
		// messages, each up to max-message-size: keep it near
		// linkRecvBytes (256 messages of 64 KiB would be 16 MiB).
		e.linkCfg.RecvQueue = min(max(linkRecvBytes/e.linkCfg.MaxMessageSize, minRecvQueue), transport.DefaultRecvQueue)
	}
	cert := opts.Identity.TLSCertificate()
	e.linkCfg.Certificate = &cert
	e.linkCfg.Verifier = peerVerifier{v: opts.Verifier, clock: opts.Clock}
	if e.linkCfg.Logger == nil {
		e.linkCfg.Logger = e.log
	}
	e.handlers[wire.CodePingReq] = e.handlePing
	e.handlers[wire.CodeConfigUpdateReq] = e.handleConfigUpdate
	e.handlers[wire.CodeAttachReq] = e.handleAttach
	e.handlers[wire.CodeAppAttachReq] = e.handleAppAttach

	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(1)
	go e.run()
	if opts.Listener != nil {
		e.wg.Add(1)
		go e.acceptLoop(opts.Listener)
	}
	return e, nil
}

func (e *Engine) localFor(c *config.Configuration) Local {
	return Local{
		Identity: e.opts.Identity, Overlay: c.OverlayHash(), ConfigSequence: c.Sequence,
		InitialTTL: c.InitialTTL, NodeIDLength: c.NodeIDLength, MaxMessageSize: int(c.MaxMessageSize),
	}
}

// Self is this node's Node-ID.
func (e *Engine) Self() wire.NodeID { return e.opts.Identity.NodeID() }

// Stats are the engine's message counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Table is the connection table.
func (e *Engine) Table() *ConnTable { return e.table }

// Verifier is the signature verifier (add fetched certificates to it).
func (e *Engine) Verifier() *security.Verifier { return e.opts.Verifier }

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

// Close stops the engine: pending requests fail with ErrClosed, links and
// the listener are closed, and every goroutine has ended when it returns.
func (e *Engine) Close() error {
	e.once.Do(func() {
		e.cancel()
		if e.opts.Listener != nil {
			e.opts.Listener.Close()
		}
		if e.opts.UDP != nil {
			e.opts.UDP.Close()
		}
		for _, l := range e.table.Links() {
			l.Close()
		}
		e.wg.Wait()
		// Links added while closing.
		for _, l := range e.table.Links() {
			l.Close()
		}
	})
	return nil
}

// post runs f on the loop goroutine; false when the engine is closed.
func (e *Engine) post(f func()) bool {
	select {
	case e.cmds <- f:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// AddLink puts an authenticated link in the connection table under its
// peer's Node-IDs and starts reading from it. The engine owns it from then
// on. A link already there for the same peer is closed.
func (e *Engine) AddLink(l *transport.Link) {
	ids := l.PeerNodeIDs()
	if e.ctx.Err() != nil {
		l.Close()
		return
	}
	e.wg.Add(1)
	go e.readLoop(l, ids[0])
	if old, ok := e.table.Lookup(ids[0]); ok && old != l && !e.prefer(l, old) {
		// Both ends opened a link at once: keep the one both agree on and
		// retire this one once what is in flight on it has arrived.
		e.retire(l)
	} else {
		for _, old := range e.table.Add(ids, l) {
			if old.Role() != l.Role() {
				e.retire(old)
			} else {
				old.Close()
			}
		}
		e.logLink("link up", l, nil)
		e.event(LinkEvent{NodeID: ids[0], Link: l, Up: true})
	}
	e.mu.Lock()
	for _, id := range ids {
		for _, ch := range e.linkWaiters[id] {
			ch <- l
		}
		delete(e.linkWaiters, id)
	}
	e.mu.Unlock()
}

// prefer reports whether link a is the one to keep over b when both join
// this node to the same peer: when they were opened from opposite ends
// (simultaneous Attaches), both ends keep the link whose (D)TLS client is
// the node with the smaller Node-ID, so they agree without talking; a
// link opened from the same end as b, or more than the twin window after it,
// replaces it.
func (e *Engine) prefer(a, b *transport.Link) bool {
	if a.Role() == b.Role() || a.Since().Sub(b.Since()) > e.opts.twinWindow {
		return true
	}
	self, peer := e.Self(), a.PeerNodeID()
	smallerIsSelf := self.Compare(peer) < 0
	aClientIsSelf := a.Role() == transport.Responder
	return aClientIsSelf == smallerIsSelf
}

// retire closes a link that lost to another one to the same peer after a
// grace period, so that messages already sent on it are still read.
func (e *Engine) retire(l *transport.Link) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case <-time.After(2 * time.Second):
		case <-e.ctx.Done():
		}
		l.Close()
	}()
}

func (e *Engine) event(ev LinkEvent) {
	if e.opts.OnLinkEvent == nil {
		return
	}
	e.events.Lock()
	defer e.events.Unlock()
	e.opts.OnLinkEvent(ev)
}

func (e *Engine) readLoop(l *transport.Link, peer wire.NodeID) {
	defer e.wg.Done()
	for {
		b, err := l.Receive(e.ctx)
		if err != nil {
			if errors.Is(err, transport.ErrMessageTooLarge) {
				// §6.6: the link refused a message larger than
				// max-message-size before reading it, so there is
				// nothing to answer; the session is closed.
				e.log.Warn("link closed: the peer sent a message larger than max-message-size",
					"peer", peer.String(), "remote", addrString(l), "max_message_size", e.linkCfg.MaxMessageSize, "err", err)
			}
			if e.table.Remove(l) {
				e.logLink("link down", l, err)
				e.event(LinkEvent{NodeID: peer, Link: l, Err: err})
			}
			l.Close()
			return
		}
		select {
		case e.inbox <- inbound{link: l, from: peer, data: b}:
		case <-e.ctx.Done():
			return
		}
	}
}

func (e *Engine) acceptLoop(ln net.Listener) {
	defer e.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		p, evicted, why := e.hs.admit(sourceOf(conn), conn)
		if evicted != nil {
			_ = evicted.conn.Close()
			e.evicted(conn, evicted, why)
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.hs.done(p)
			d := e.linkCfg.HandshakeTimeout
			if d <= 0 {
				d = DefaultAcceptHandshakeTimeout
			}
			ctx, cancel := context.WithTimeout(e.ctx, d)
			defer cancel()
			// §6.5.1.13: the sender of the Attach request is the TLS
			// server; a node accepting a connection is that sender (or a
			// bootstrap node accepting a joining node).
			l, err := transport.NewTLSLink(ctx, conn, transport.Requester, wire.NodeID{}, &e.linkCfg)
			if err != nil {
				e.log.Debug("inbound TLS link failed", "err", err)
				return
			}
			e.AddLink(l)
		}()
	}
}

// evicted counts and logs a pending inbound handshake closed to make
// room for conn: each at Debug, and at most one notice every
// handshakeNoticeEvery at Info while the table overflows.
func (e *Engine) evicted(conn net.Conn, p *pendingHandshake, why string) {
	e.stats.HandshakesEvicted.Add(1)
	victim := p.conn.RemoteAddr().String()
	e.log.Debug("pending inbound TLS handshake evicted", "reason", why, "evicted", victim, "for", conn.RemoteAddr().String())
	if _, ok := e.hsNotice.allow(e.clock.Now()); !ok {
		return
	}
	total, busiest := e.hs.pending()
	e.log.Info("too many inbound TLS handshakes pending: evicting the oldest of the busiest sources",
		"reason", why, "source", p.source.String(), "pending", total, "from_busiest_source", busiest,
		"evicted_total", e.stats.HandshakesEvicted.Load())
}

// handshakeNoticeEvery spaces the Info notices of evictions.
const handshakeNoticeEvery = 10 * time.Second

// PendingHandshakes is the number of inbound TLS handshakes in progress.
func (e *Engine) PendingHandshakes() int {
	n, _ := e.hs.pending()
	return n
}

// DialTLS opens a TLS-TCP-FH-NO-ICE link to address as the TLS client (a
// joining node connecting to a bootstrap node, §11.5) and adds it to the
// table. When expect is not zero the peer's certificate must carry it.
func (e *Engine) DialTLS(ctx context.Context, address string, expect wire.NodeID) (*transport.Link, error) {
	conn, err := e.opts.Dial(ctx, "tcp", address)
	if err != nil {
		return nil, err
	}
	l, err := transport.NewTLSLink(ctx, conn, transport.Responder, expect, &e.linkCfg)
	if err != nil {
		return nil, err
	}
	e.AddLink(l)
	return l, nil
}

// run is the loop goroutine: every use of the core and the end-to-end
// layer happens here.
func (e *Engine) run() {
	defer e.wg.Done()
	defer func() {
		for txid, ch := range e.waiters {
			ch <- result{err: ErrClosed}
			delete(e.waiters, txid)
		}
	}()
	var tc <-chan time.Time
	var armed time.Time
	for {
		// Arm a timer only when the earliest deadline changes.
		if d := e.deadline(); !d.Equal(armed) {
			armed, tc = d, nil
			if !d.IsZero() {
				tc = e.clock.After(d.Sub(e.clock.Now()))
			}
		}
		select {
		case <-e.ctx.Done():
			return
		case in := <-e.inbox:
			e.receive(in)
		case f := <-e.cmds:
			f()
		case <-tc:
			armed, tc = time.Time{}, nil
			e.tick()
		}
	}
}

func (e *Engine) deadline() time.Time {
	d := e.tx.Deadline()
	if r := e.core.ReassemblyDeadline(); !r.IsZero() && (d.IsZero() || r.Before(d)) {
		d = r
	}
	return d
}

func (e *Engine) tick() {
	now := e.clock.Now()
	e.core.Expire(now)
	e.evs = e.tx.Tick(now, e.evs[:0])
	for _, ev := range e.evs {
		if ev.Err != nil {
			e.stats.Timeouts.Add(1)
			e.complete(ev.TxID, nil, ev.Err)
			continue
		}
		e.stats.Retransmissions.Add(1)
		if err := e.originate(ev.Resend); err != nil {
			e.log.Debug("retransmission not routed", "txid", ev.TxID, "err", err)
		}
	}
}

func (e *Engine) receive(in inbound) {
	a := e.core.Process(in.from, in.data, e.clock.Now())
	switch a.Kind {
	case ActForward:
		e.stats.Forwarded.Add(1)
		e.stats.ForwardedBytes.Add(uint64(len(a.Head) + len(a.Rest)))
	case ActDrop:
		e.stats.Dropped.Add(1)
		if errors.Is(a.Err, ErrTooLarge) {
			e.warnTooLarge(in)
		}
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			// Who sent it and what it was for: a peer that keeps
			// routing here what this node cannot route shows up.
			var h wire.ForwardingHeader
			attrs := []any{"from", in.from.String(), "err", a.Err}
			if _, err := h.Decode(in.data); err == nil {
				attrs = append(attrs, "txid", h.TransactionID, "via", len(h.Via))
				if len(h.Destinations) > 0 {
					attrs = append(attrs, "dest", h.Destinations[0].String())
				}
			}
			e.log.Debug("dropped", attrs...)
		}
		return
	case ActAnswer:
		e.stats.sent(wire.CodeError, resultOf(a.Err))
	}
	e.act(a)
}

// act carries out a forward, an error answer or a delivery. Drops never
// reach it: receive counts and logs them, and originate returns them as
// errors.
func (e *Engine) act(a Action) {
	switch a.Kind {
	case ActForward, ActAnswer:
		if a.Kind == ActAnswer && e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("answering with error", "to", a.To.String(), "err", a.Err)
		}
		e.send(a.To, a.Head, a.Rest)
	case ActDeliver:
		e.deliver(a)
	}
}

func (e *Engine) send(to wire.NodeID, head, rest []byte) {
	l, ok := e.table.Lookup(to)
	if !ok {
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("no link", "to", to.String())
		}
		return
	}
	e.sendBuf = append(append(e.sendBuf[:0], head...), rest...)
	if err := l.Send(e.ctx, e.sendBuf); err != nil && e.log.Enabled(e.ctx, slog.LevelDebug) {
		e.log.Debug("send failed", "to", to.String(), "remote", addrString(l), "err", err)
	}
}

// originate routes a message this node built.
func (e *Engine) originate(msg []byte) error {
	a := e.core.Originate(msg, e.clock.Now())
	switch a.Kind {
	case ActFail, ActDrop:
		return a.Err
	case ActForward:
		if !e.table.Connected(a.To) {
			return fmt.Errorf("%w: next hop %v not connected", ErrNoRoute, a.To)
		}
	}
	e.act(a)
	return nil
}

func (e *Engine) deliver(a Action) {
	now := e.clock.Now()
	d := e.tx.Receive(&a, now)
	switch d.Kind {
	case DeliverAnswer:
		var err error
		if d.Answer.Code == wire.CodeError {
			re := wire.ParseErrorAnswer(d.Answer.Body, d.Answer.Signer.NodeID)
			err = re
			if code, ok := re.ErrorCode(); ok && code == wire.ErrCodeConfigTooNew {
				// §6.5.4: the responder has an older configuration;
				// a node that detects it MUST send a ConfigUpdate.
				e.pushConfigTo(d.Answer.Signer.NodeID)
			}
		}
		e.complete(d.TxID, d.Answer, err)
	case DeliverFailed:
		e.complete(d.TxID, nil, d.Err)
	case DeliverSend:
		// A retransmitted request answered from the cache, or one
		// refused for its configuration sequence.
		e.stats.received(a.Msg.Contents.Code, resultOK)
		e.stats.sent(a.Msg.Contents.Code.Answer(), resultOf(d.Err))
		if err := e.originate(d.Send); err != nil {
			e.log.Debug("answer not routed", "err", err)
		}
		if d.UpdatePath != nil {
			e.sendConfigUpdate(d.UpdatePath)
		}
	case DeliverRequest:
		e.stats.received(d.Request.Code, resultOK)
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("request", "code", d.Request.Code.String(), "txid", d.TxID,
				"from", d.Request.Signer.NodeID.String(), "via", len(d.Request.Via))
		}
		e.dispatch(d.Request)
	case DeliverDrop:
		e.stats.received(a.Msg.Contents.Code, resultDropped)
		var need *security.CertificateNeededError
		if errors.As(d.Err, &need) && e.opts.OnCertificateNeeded != nil {
			e.opts.OnCertificateNeeded(need)
		}
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("delivery dropped", "code", a.Msg.Contents.Code.String(), "txid", d.TxID, "err", d.Err)
		}
	}
}

func (e *Engine) complete(txid uint64, a *Answer, err error) {
	ch, ok := e.waiters[txid]
	if !ok {
		return
	}
	delete(e.waiters, txid)
	ch <- result{a, err}
}

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
		ctx, cancel := context.WithTimeout(e.ctx, DefaultRequestLifetime)
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

// call runs f on the loop goroutine and waits for it.
func (e *Engine) call(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	if !e.post(func() { f(); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// handleConfigUpdate applies a ConfigUpdate (§6.5.4.2): a newer, correctly
// signed configuration document, or kinds signed by a kind-signer. A new
// configuration is then pushed to the other neighbours.
func (e *Engine) handleConfigUpdate(ctx context.Context, req *Incoming) ([]byte, error) {
	var cu wire.ConfigUpdateReq
	if _, err := cu.Decode(req.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed config update"), Err: err}
	}
	now := e.clock.Now()
	var err error
	ok := e.call(ctx, func() {
		switch cu.Type {
		case wire.ConfigUpdateConfig:
			var nc *config.Configuration
			if _, nc, err = config.AcceptConfigUpdate(e.cfg, cu.ConfigData, now); err != nil {
				attrs := []any{"from", req.Signer.NodeID.String(), "err", err}
				if pe := (*wire.ProtocolError)(nil); errors.As(err, &pe) && pe.Code == wire.ErrCodeConfigTooOld {
					// A neighbour pushing what this node has.
					e.log.Debug("ConfigUpdate refused", attrs...)
				} else if skipped, ok := e.warnRefused.allow(now); ok {
					e.log.Warn("ConfigUpdate refused", append(attrs, "not_logged_before", skipped)...)
				}
				return
			}
			e.applyConfig(nc, clone(cu.ConfigData))
			e.log.Info("configuration updated by ConfigUpdate", "sequence", nc.Sequence, "from", req.Signer.NodeID.String())
			e.pushConfig(req.Signer.NodeID)
		case wire.ConfigUpdateKind:
			var k config.Kinds
			if k, err = config.AcceptKindUpdate(e.cfg, e.kinds, cu.Kinds, now); err != nil {
				if skipped, ok := e.warnRefused.allow(now); ok {
					e.log.Warn("kind ConfigUpdate refused", "from", req.Signer.NodeID.String(), "err", err, "not_logged_before", skipped)
				}
				return
			}
			e.kinds = k
			if e.opts.OnKinds != nil {
				e.opts.OnKinds(k)
			}
		default:
			err = &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("unknown config update type")}
		}
	})
	if !ok {
		return nil, ErrNoAnswer
	}
	if err != nil {
		return nil, err
	}
	return (&wire.ConfigUpdateAns{}).Append(nil)
}

// configState is a configuration and the signed document that holds it.
type configState struct {
	cfg *config.Configuration
	doc []byte
}

// Configuration is the configuration in force and the signed document
// that holds it (nil when none was given): the one the engine started
// with, or the last one a ConfigUpdate or UpdateConfig installed.
func (e *Engine) Configuration() (*config.Configuration, []byte) {
	c := e.current.Load()
	return c.cfg, c.doc
}

// UpdateConfig installs a new configuration document given by the
// operator (a configuration re-signed with a higher sequence) and pushes
// it in ConfigUpdate requests to every neighbour, from which it spreads
// over the overlay (§6.5.4). The document must pass the checks a
// ConfigUpdate would (§6.5.4.2: a configuration for this overlay with a
// newer sequence, signed by a configuration-signer of the configuration
// in force; *wire.ProtocolError otherwise), and a ConfigUpdate carrying
// it must fit the max-message-size of both configurations, since the
// peers still hold the old one (config.ErrDocumentTooLarge). It returns
// the new configuration.
func (e *Engine) UpdateConfig(ctx context.Context, doc []byte) (*config.Configuration, error) {
	now := e.clock.Now()
	var nc *config.Configuration
	var err error
	if !e.call(ctx, func() {
		if _, nc, err = config.AcceptConfigUpdate(e.cfg, doc, now); err != nil {
			return
		}
		if err = e.cfg.CheckUpdateSize(len(doc)); err != nil {
			err = fmt.Errorf("the peers' configuration: %w", err)
			return
		}
		if err = nc.CheckUpdateSize(len(doc)); err != nil {
			return
		}
		e.applyConfig(nc, clone(doc))
		e.log.Info("configuration updated by the operator", "sequence", nc.Sequence)
		e.pushConfig(wire.NodeID{})
	}) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// applyConfig switches to a new configuration (on the loop goroutine).
func (e *Engine) applyConfig(c *config.Configuration, doc []byte) {
	e.cfg, e.cfgDoc = c, doc
	e.current.Store(&configState{c, doc})
	clear(e.pushed)
	e.local = e.localFor(c)
	e.core.SetLocal(e.local)
	e.tx.SetLocal(e.local)
	e.tx.SetTimer(c.OverlayReliabilityTimer)
	if k, err := c.Kinds(); err == nil {
		e.kinds = k
	}
	if e.opts.OnConfig != nil {
		e.opts.OnConfig(c)
	}
}

// pushConfig sends the configuration in force to every neighbour but
// except, once each (§6.5.4: ConfigUpdate pushes updated configuration
// data across the overlay). A neighbour that already has it answers
// Error_Config_Too_Old, and pushes nothing further, so a new
// configuration crosses each link about once.
func (e *Engine) pushConfig(except wire.NodeID) {
	for _, id := range e.table.Neighbors() {
		if id != except {
			e.pushConfigTo(id)
		}
	}
}

// pushConfigTo sends the configuration in force to id unless it was
// already pushed to it.
func (e *Engine) pushConfigTo(id wire.NodeID) {
	if id.IsZero() || id == e.Self() {
		return
	}
	if seq, ok := e.pushed[id]; ok && seq == e.cfg.Sequence {
		return
	}
	e.pushed[id] = e.cfg.Sequence
	e.sendConfigUpdate([]wire.Destination{wire.NodeDest(&id)})
}

// sendConfigUpdate sends this node's configuration document to a node
// whose request carried an older sequence number (§6.3.2.1, §6.5.4), with
// configuration_sequence 65535 so that it is accepted whatever the
// receiver's sequence. It runs on the loop goroutine and does not wait for
// the answer. A ConfigUpdate that cannot be sent (too large for
// max-message-size, no route) is logged at Warn.
func (e *Engine) sendConfigUpdate(path []wire.Destination) {
	if len(e.cfgDoc) == 0 {
		return
	}
	to := path[len(path)-1].String()
	cu := wire.ConfigUpdateReq{Type: wire.ConfigUpdateConfig, ConfigData: e.cfgDoc}
	body, err := cu.Append(nil)
	if err != nil {
		e.log.Warn("ConfigUpdate not built", "to", to, "err", err)
		return
	}
	l := e.local
	l.ConfigSequence = config.SequenceUpdate
	e.tx.SetLocal(l)
	txid, msg, err := e.tx.Start(path, wire.CodeConfigUpdateReq, body, 0, e.clock.Now())
	e.tx.SetLocal(e.local)
	if err != nil {
		e.log.Warn("ConfigUpdate not built", "to", to, "err", err)
		return
	}
	if err := e.originate(msg); err != nil {
		e.tx.Cancel(txid)
		e.stats.sent(wire.CodeConfigUpdateReq, resultDropped)
		e.log.Warn("ConfigUpdate not sent", "to", to, "sequence", e.cfg.Sequence, "document_bytes", len(e.cfgDoc),
			"message_bytes", len(msg), "max_message_size", e.local.MaxMessageSize, "err", err)
		return
	}
	e.stats.sent(wire.CodeConfigUpdateReq, resultOK)
}

// logLimit lets one record through per interval (every, default one
// second) and counts those it holds back. It is safe for concurrent use.
type logLimit struct {
	every time.Duration

	mu      sync.Mutex
	next    time.Time
	skipped int
}

// allow reports whether to log at now, and how many records were held
// back since the last one.
func (l *logLimit) allow(now time.Time) (skipped int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.skipped++
		return 0, false
	}
	every := l.every
	if every == 0 {
		every = time.Second
	}
	skipped, l.skipped, l.next = l.skipped, 0, now.Add(every)
	return skipped, true
}

// warnTooLarge logs a message dropped for its size that could not be
// answered (§6.6: a response, a fragment other than the first, or a
// header larger than max-message-size): once per message, at most one a
// second.
func (e *Engine) warnTooLarge(in inbound) {
	var h wire.ForwardingHeader
	_, herr := h.Decode(in.data)
	if herr == nil && e.tooLarge.from == in.from && e.tooLarge.txid == h.TransactionID {
		return
	}
	e.tooLarge.from, e.tooLarge.txid = in.from, h.TransactionID
	skipped, ok := e.warnLarge.allow(e.clock.Now())
	if !ok {
		return
	}
	attrs := []any{"from", in.from.String(), "max_message_size", e.local.MaxMessageSize, "not_logged_before", skipped}
	if herr == nil {
		attrs = append(attrs, "txid", h.TransactionID, "length", h.Length, "fragment_offset", h.FragmentOffsetBytes())
		if len(h.Via) > 0 {
			attrs = append(attrs, "origin", h.Via[0].String())
		}
	}
	e.log.Warn("dropped a message larger than max-message-size", attrs...)
}

// peerVerifier checks a (D)TLS peer's chain against the overlay's trust
// (RFC 6940 §11.3) and caches the validated certificate for the
// signature checks that follow.
type peerVerifier struct {
	v     *security.Verifier
	clock Clock
}

func (p peerVerifier) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	nc, err := p.v.Trust().VerifyChain(chain, p.clock.Now())
	if err != nil {
		return nil, err
	}
	p.v.Cache().Add(nc)
	return nc.NodeIDs, nil
}

// ListenAddr is the address of the TLS listener ("" without one).
func (e *Engine) ListenAddr() string {
	if e.opts.Listener == nil {
		return ""
	}
	return e.opts.Listener.Addr().String()
}

// logLink logs a link entering (err nil) or leaving the connection table
// at Info.
func (e *Engine) logLink(msg string, l *transport.Link, err error) {
	if !e.log.Enabled(e.ctx, slog.LevelInfo) {
		return
	}
	attrs := []any{"peer", l.PeerNodeID().String(), "type", l.Type().String(), "remote", addrString(l)}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	e.log.Info(msg, attrs...)
}

func addrString(l *transport.Link) string {
	if a := l.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}
