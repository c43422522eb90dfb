package forwarding

import (
	"context"
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
	pionnet "github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// Clock is the shell's source of time. Only the shell reads it; the
// values it drives take now as an argument. Every timer of the engine
// runs on it: the loop's retransmission and reassembly deadlines, the
// grace period of a retired link, and the deadlines of handlers, inbound
// handshakes and Attach answers (see withTimeout). The links' own timers
// (transport) run on the real clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f on its own goroutine d from now, unless stop is
	// called first; stop reports whether it stopped the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// withTimeout is context.WithTimeout on the engine's clock. On the real
// clock it is context.WithTimeout itself; on another, the context is
// cancelled d from now by that clock, with context.DeadlineExceeded as
// its cause (context.Cause), and reports no Deadline.
func (e *Engine) withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := e.clock.(realClock); ok {
		return context.WithTimeout(parent, d)
	}
	ctx, cancel := context.WithCancelCause(parent)
	stop := e.clock.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

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
	// Net is the network the ICE agents gather on when ICE.Net is nil
	// (nil: the host's, through pion's stdnet). A pion vnet.Net puts the
	// engine's ICE links behind virtual routers and NATs. TCP does not go
	// through Net, as vnet carries none: TLS links and AppAttach without
	// ICE use Listener, Dial and ListenApp, real sockets by default.
	Net pionnet.Net
	// ListenApp opens a listener for the connection of one AppAttach
	// this node requests without ICE (nil: TCP on 127.0.0.1; §6.5.2).
	ListenApp func(ctx context.Context) (net.Listener, error)

	// MayAnswer reports whether responder may answer a request this node
	// sent to the Resource-ID target (§6.3.4: at least as close to it as
	// any node of the Neighbor Table); called on the engine's loop. Nil
	// accepts any responder.
	MayAnswer func(target []byte, responder wire.NodeID) bool
	// ResponseRoutes is what this node does with a request that asks
	// for its answer by direct response routing (RFC 7263) or relay peer
	// routing (RFC 7264): ResponseRoutesOff (the default, as both RFCs
	// advise for overlays whose topology the operator does not know)
	// answers by symmetric recursive routing; see ResponseRoutePolicy.
	ResponseRoutes ResponseRoutePolicy
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
	// Observer, when set, is told of every message received from a link
	// and every message originated (a conformance monitor; see
	// MessageObserver).
	Observer MessageObserver

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
//
// Who owns what:
//   - the loop goroutine (run) owns the routing core, the end-to-end
//     layer, the configuration in force (cfg, cfgDoc, local, kinds,
//     pushed), the waiters of pending requests and the log limits
//     warnLarge and warnRefused. Other goroutines reach them only through
//     post and call; current publishes the configuration to them;
//   - each link's reader goroutine (readLoop) hands its messages to the
//     loop through inbox, and takes its link out of the table when the
//     link ends;
//   - the accept goroutine (acceptLoop) owns hsNotice; each inbound
//     handshake runs on a goroutine of its own and adds its link;
//   - each dispatched request runs its handler on a goroutine of its
//     own, which posts the answer to the loop; each retired link waits
//     out its grace period on one.
//
// Shared between goroutines, each behind its own lock: the connection
// table, the table of pending handshakes (hs), Stats (atomics), and,
// under mu, the handlers and application handlers (Handle and HandleApp
// from any goroutine), the callers waiting for a link (linkWaiters) and
// the outgoing Attaches (attaching), which callers of Attach, handlers
// and AddLink touch from their own goroutines. events serialises the
// OnLinkEvent calls of those goroutines.
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
	rand    *lockedRand // Options.Rand shared by goroutines; nil for crypto/rand
	// localNow is the loop's local (below) for the goroutines that
	// sign requests and answers off the loop.
	localNow atomic.Pointer[Local]

	// Owned by the loop goroutine.
	core    *Core
	tx      *Transactions
	local   Local
	cfg     *config.Configuration
	cfgDoc  []byte
	kinds   config.Kinds
	waiters map[uint64]chan result
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

	// routes bounds the links opened for DRR and RPR answers.
	routes routeDialer

	mu          sync.Mutex
	handlers    map[wire.MessageCode]Handler
	apps        map[uint16]AppHandler
	linkWaiters map[wire.NodeID][]chan *transport.Link
	attaching   map[wire.NodeID]attachState // outgoing Attaches by target
	events      sync.Mutex                  // serialises OnLinkEvent

	hs       *handshakes // inbound TLS handshakes in progress
	hsNotice logLimit    // spaces the "table full" notices (handshakeNoticeEvery)
	// queueFullNotice spaces the "send queue full" warnings (the loop's).
	queueFullNotice logLimit
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
	pre  preVerified
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
	if opts.ICE != nil && opts.ICE.Net == nil {
		ice := *opts.ICE
		if ice.Net = opts.Net; ice.Net == nil {
			nw, err := stdnet.NewNet()
			if err != nil {
				return nil, fmt.Errorf("forwarding: ICE network: %w", err)
			}
			ice.Net = nw
		}
		opts.ICE = &ice
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
	var rnd *lockedRand
	if opts.Rand != nil {
		// The loop, the connection table and the Ping handler draw from
		// it on their own goroutines; crypto/rand needs no lock.
		rnd = &lockedRand{r: opts.Rand}
		opts.Rand = rnd
	}
	e := &Engine{
		rand:        rnd,
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
	e.setLocal()
	e.pushed = make(map[wire.NodeID]uint16)
	e.current.Store(&configState{opts.Config, opts.ConfigDocument})
	var err error
	// The extensive_routing_mode option (RFC 7263, RFC 7264) is always
	// understood; whether it is followed is ResponseRoutes.
	known := func(t wire.ForwardingOptionType) bool {
		return t == wire.OptionExtensiveRoutingMode || (opts.KnownOption != nil && opts.KnownOption(t))
	}
	e.core, err = NewCore(CoreConfig{
		Local: e.local, Router: opts.Router, Neighbors: e.table, CompressVia: opts.CompressVia,
		KnownOption: known, KnownExtension: opts.KnownExtension,
		Reassembly: transport.ReassemblyConfig{MaxMessage: int(opts.Config.MaxMessageSize)},
	})
	if err != nil {
		return nil, err
	}
	e.tx, err = NewTransactions(TxConfig{Local: e.local, Verifier: opts.Verifier, Rand: opts.Rand, Timer: opts.Config.OverlayReliabilityTimer,
		MayAnswer: opts.MayAnswer})
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
	if opts.UDP != nil {
		e.wg.Add(1)
		go e.acceptDTLSLoop(opts.UDP)
	}
	return e, nil
}

// setLocal publishes e.local to localNow (on the loop goroutine, or
// before it starts).
func (e *Engine) setLocal() {
	l := e.local
	e.localNow.Store(&l)
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
	// On the real clock one timer serves every deadline (Reset, rather
	// than a timer per request); a stale expiry is discarded by Reset.
	var rt *time.Timer
	_, onReal := e.clock.(realClock)
	defer func() {
		if rt != nil {
			rt.Stop()
		}
	}()
	for {
		// Arm a timer only when the earliest deadline changes.
		if d := e.deadline(); !d.Equal(armed) {
			armed, tc = d, nil
			if !d.IsZero() {
				wait := d.Sub(e.clock.Now())
				switch {
				case !onReal:
					tc = e.clock.After(wait)
				case rt == nil:
					rt = time.NewTimer(wait)
					tc = rt.C
				default:
					rt.Reset(wait)
					tc = rt.C
				}
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
	srr := e.tx.RetriedSRR
	e.evs = e.tx.Tick(now, e.evs[:0])
	if n := e.tx.RetriedSRR - srr; n > 0 {
		e.stats.Routes.RetriedSRR.Add(n)
	}
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
	if a.Kind == ActDeliver && in.pre.done {
		a.pre = in.pre
	}
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
	// The link handed the buffer over (a fresh one per message), so the
	// new header may be written into it.
	e.act(a, in.data, true)
}

// act carries out a forward, an error answer or a delivery of the
// message raw (see send for writable). Drops never reach it: receive
// counts and logs them, and originate returns them as errors.
func (e *Engine) act(a Action, raw []byte, writable bool) {
	switch a.Kind {
	case ActForward, ActAnswer:
		if a.Kind == ActAnswer && e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("answering with error", "to", a.To.String(), "err", a.Err)
		}
		e.send(a.To, a.Head, a.Rest, raw, writable)
	case ActDeliver:
		e.deliver(a)
	}
}

// send hands head followed by rest to the link to the neighbour to. rest
// is empty or a tail of raw, the message routed; writable says that raw
// belongs to the engine and is used no more (a received message) rather
// than kept (an originated one, held for retransmission). The link copies
// what it is given (into its write buffer, or the copy a DTLS link keeps),
// so nothing is copied here: see joinHead, and Link.SendParts for a
// header that cannot go in front of rest in place.
func (e *Engine) send(to wire.NodeID, head, rest, raw []byte, writable bool) {
	l, ok := e.table.Lookup(to)
	if !ok {
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("no link", "to", to.String())
		}
		return
	}
	// Never waiting for room on the link: a neighbour that stops
	// reading must not stall the loop, and with it the node (§13); what
	// does not fit is dropped, a loss the transaction layer's
	// retransmission covers (§6.2.1).
	var err error
	if msg, ok := joinHead(head, rest, raw, writable); ok {
		err = l.TrySend(msg)
	} else {
		err = l.TrySendParts(head, rest)
	}
	if errors.Is(err, transport.ErrQueueFull) {
		e.stats.QueueFull.Add(1)
		if skipped, ok := e.queueFullNotice.allow(e.clock.Now()); ok {
			e.log.Warn("dropped a message: the link's send queue is full (the peer reads slowly or not at all)",
				"to", to.String(), "remote", addrString(l), "since_last", skipped)
		}
		return
	}
	if err != nil && e.log.Enabled(e.ctx, slog.LevelDebug) {
		e.log.Debug("send failed", "to", to.String(), "remote", addrString(l), "err", err)
	}
}

// joinHead returns head followed by rest as one slice, when it can
// without copying rest. An error answer (no rest) is head itself.
// Otherwise, when raw has room for head just before rest, which it does
// whenever the header did not grow: an originated message whose header
// routing left as it was is raw's tail as it is (nothing copied), and a
// received one, writable, gets head written over the end of its old
// header (an answer in transit, whose hop moves from the destination
// list to the via list: only the header is copied). A header that grew
// (a request in transit, one via entry longer) gives false: the two go
// to the link apart.
func joinHead(head, rest, raw []byte, writable bool) ([]byte, bool) {
	if len(rest) == 0 {
		return head, true
	}
	if k := len(raw) - len(rest); k >= len(head) && &raw[k] == &rest[0] {
		at := k - len(head)
		if string(raw[at:k]) == string(head) {
			return raw[at:], true
		}
		if writable {
			copy(raw[at:k], head)
			return raw[at:], true
		}
	}
	return nil, false
}

// originate routes a message this node built.
func (e *Engine) originate(msg []byte) error {
	if e.opts.Observer != nil {
		e.opts.Observer.MessageOriginated(msg)
	}
	a := e.core.Originate(msg, e.clock.Now())
	switch a.Kind {
	case ActFail, ActDrop:
		return a.Err
	case ActForward:
		if !e.table.Connected(a.To) {
			return fmt.Errorf("%w: next hop %v not connected", ErrNoRoute, a.To)
		}
	}
	e.act(a, msg, false)
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
		if errors.Is(d.Err, ErrNotResponsible) {
			e.stats.AnswersNotResponsible.Add(1)
			e.log.Info("answer rejected: its signer is not responsible for the Resource-ID (RFC 6940 §6.3.4); the request is retransmitted",
				"code", a.Msg.Contents.Code.String(), "txid", d.TxID, "err", d.Err)
		}
		var need *security.CertificateNeededError
		if errors.As(d.Err, &need) && e.opts.OnCertificateNeeded != nil {
			e.opts.OnCertificateNeeded(need)
		}
		if e.log.Enabled(e.ctx, slog.LevelDebug) {
			e.log.Debug("delivery dropped", "code", a.Msg.Contents.Code.String(), "txid", d.TxID, "err", d.Err)
		}
	}
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

// logLimit lets one record through per interval (every, default one
// second) and counts those it holds back. Each is used by one goroutine
// (see Engine).
type logLimit struct {
	every   time.Duration
	next    time.Time
	skipped int
}

// allow reports whether to log at now, and how many records were held
// back since the last one.
func (l *logLimit) allow(now time.Time) (skipped int, ok bool) {
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
