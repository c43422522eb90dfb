package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pionnet "github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/host"
	"github.com/goreload/reload/monitor"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/bolt"
	"github.com/goreload/reload/storage/mem"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/transport/capture"
	"github.com/goreload/reload/usage/coap"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/usage/sip"
	"github.com/goreload/reload/wire"
)

// Config configures a Node. Overlay and Identity are required.
type Config struct {
	// Overlay is the overlay configuration (RFC 6940 §11.1);
	// ConfigDocument the signed document holding it, pushed to peers with
	// an older one (nil: none).
	Overlay        *config.Configuration
	ConfigDocument []byte
	// Identity is this node's enrolled credential.
	Identity *security.Identity

	// ListenTLS is the TCP address on which this node accepts
	// TLS-TCP-FH-NO-ICE links: from joining nodes that bootstrap through
	// it, and from Attach answerers (default "127.0.0.1:0").
	ListenTLS string
	// ICE makes Attach use ICE and DTLS-UDP-SR links (RFC 6940 §6.5.1),
	// gathering host candidates on the interfaces ICEInterfaces names
	// (all when nil) and server-reflexive ones from STUN. ICELoopback
	// adds loopback host candidates, which ICE leaves out (RFC 8445
	// §5.1.1.1).
	ICE           bool
	ICELoopback   bool
	ICEInterfaces func(name string) bool
	STUN          []string
	// ListenUDP, when set (and ICE is off), carries DTLS-UDP-SR-NO-ICE
	// links on this UDP address (RFC 6940 §6.6.6): those Attach sets up,
	// and the bootstrap links of nodes that join through this one over
	// DTLS (§11.4), authenticated as TLS ones are. Give it the port of
	// ListenTLS, so that one bootstrap-node address serves both.
	ListenUDP string
	// BootstrapTransport is how this node contacts its bootstrap peers
	// (§11.4 allows DTLS or TLS): BootstrapTLS, BootstrapDTLS (needs
	// ListenUDP), or BootstrapAuto (""), the first of the overlay's
	// overlay-link-protocol list this node can use: DTLS when it has
	// ListenUDP, TLS always. The configuration's bootstrap-node elements
	// carry an address and a port only (§11.1), so the overlay's link
	// protocols are what says which to use.
	BootstrapTransport BootstrapTransport
	// DTLSSender is the sender algorithm of DTLS-UDP-SR links (RFC 6940
	// §6.6.3; the receiver only acknowledges, so any works with any
	// peer): the windowed, congestion-controlled sender by default, or
	// transport.SenderStopAndWait, the stop-and-wait sender of §6.6.3.1
	// with its 10 ms wait after each ACK, for interop experiments.
	DTLSSender transport.SenderAlgorithm
	// Net is the network of this node's UDP sockets: the ICE agents' and
	// the ListenUDP one. nil means the host's real network; a pion
	// vnet.Net puts the node behind virtual routers and NATs (tests).
	// TCP (ListenTLS, the TLS links this node dials, AppAttach without
	// ICE) always uses the host's real sockets: vnet carries no TCP.
	Net pionnet.Net

	// Bootstrap lists the addresses (host:port) of bootstrap peers
	// (default: the configuration's bootstrap-node elements). A node with
	// no bootstrap, or Seed set, starts a new ring.
	Bootstrap []string
	Seed      bool
	// Client makes the node a client (RFC 6940 §3.2): it attaches to its
	// responsible peer and does not route.
	Client bool

	// MaxStorageTimeAhead and MaxLifetime are the storage policy for
	// the Stores this peer takes (storage.Config): how far a value's
	// storage_time may lie ahead of the local clock (refused beyond,
	// default a day), and the longest lifetime kept (clamped beyond,
	// default 30 days). 0 means the default, negative no bound.
	MaxStorageTimeAhead time.Duration
	MaxLifetime         time.Duration

	// DataDir, when set, keeps stored data in DataDir/storage.db and the
	// SIP front end's local bindings in DataDir/sip.db (bbolt), so a
	// restarted node with the same identity still holds them; else they
	// are kept in memory. The bootstrap cache (RFC 6940 §11.4: up to 10
	// peers this node dialled, tried before the configured bootstrap
	// nodes, by a seed too) is kept in DataDir/bootstrap-cache.json.
	DataDir string
	// TickLength is the topology plugin's clock tick (default 100 ms).
	TickLength time.Duration
	// DiagPolicy decides who may ask for which diagnostics (RFC 7851
	// §7); nil derives it from the configuration, allowing every kind.
	DiagPolicy *diag.Policy
	// SIP, when set, runs the SIP usage's front end (RFC 7904).
	SIP *SIPConfig
	// CoAP, when set, runs the CoAP usage's front end (RFC 7650).
	CoAP *CoAPConfig

	// Capture, when set, records what this node's overlay links send
	// (TCP, UDP and ICE sockets) as pcap; KeyLogWriter receives their
	// (D)TLS secrets so that Wireshark can decrypt them (nil: the file
	// SSLKEYLOGFILE names, if set).
	Capture      *capture.Capture
	KeyLogWriter io.Writer

	// TURN, when set (with ICE), serves and uses TURN relays (RFC 6940
	// §9); see TURNConfig.
	TURN *TURNConfig

	// PortMap, when set (with ICE), has the NAT gateway map a UDP port
	// to this node and offers the mapped address as an ICE candidate;
	// see PortMapConfig.
	PortMap *PortMapConfig

	// ConformanceLog, when set, runs the passive conformance monitor
	// (package monitor): what peers send to this node is checked against
	// RFC 6940, each deviation written to it as a JSON line and counted
	// in reload_conformance_deviations_total. The monitor only observes.
	ConformanceLog io.Writer

	// OmitCertificates leaves this node's certificate out of the
	// SecurityBlock of the requests its applications send (Request,
	// Store, Fetch, Stat, Find, usages) once the certificate is stored
	// in the overlay under CERTIFICATE_BY_NODE (RFC 6940 §8): a receiver
	// that lacks it fetches it from there once and caches it (§6.3.4).
	// Off by default. Answers and overlay maintenance always carry it.
	OmitCertificates bool

	// PartitionCheck is how often a peer repeats the discovery of a
	// bootstrap peer and Pings its own Node-ID through it, to detect and
	// heal a partition of the overlay (RFC 6940 §10.7.4.4): the first
	// check comes a tenth of it after Start, the next ones at this
	// interval with jitter. 0 means the overlay's chord-update-interval;
	// negative turns the checks off. The bootstrap addresses are
	// Bootstrap, else the configuration's bootstrap nodes (a seed's too),
	// but this node's own.
	PartitionCheck time.Duration

	// ResponseRoutes is whether this node, as the destination of a
	// request asking for direct response routing (RFC 7263) or relay
	// peer routing (RFC 7264), sends the answer that way: off (the
	// default: symmetric routing, as both RFCs advise outside managed
	// networks), linked (only over a link already authenticated as the
	// requester or relay peer) or dial (also opening one to the address
	// the request gives). See forwarding.ResponseRoutePolicy.
	ResponseRoutes forwarding.ResponseRoutePolicy
	// RelayPeer, when set, is the relay peer RequestRouted names for RPR
	// (RFC 7264), reached at RelayAddr (zero: the address of the TLS link
	// this node opened to it); default: the peer of the first TLS link
	// this node opened (its bootstrap peer, RFC 7264 §3.2.2).
	RelayPeer wire.NodeID
	RelayAddr netip.AddrPort

	Logger *slog.Logger
}

// Node is one RELOAD node: forwarding, CHORD-RELOAD, storage and the
// diagnostics usage composed over real links.
//
// The topology plugin, the storage rules and the tokens of their requests
// live in a host.Host, which one goroutine owns (run): link events, the
// requests handlers deliver, the answers to the host's requests, ticks
// and the application's Start, Join and Leave reach it through a queue
// (post, do). Transit routing reads the routing snapshot the host
// publishes (routes) and takes no lock of the node's.
type Node struct {
	cfg   Config
	log   *slog.Logger
	eng   *forwarding.Engine
	store *storage.Store
	kinds *storage.KindTable
	diag  *diag.Server
	stats *diag.LocalStats
	sip   *sip.Frontend
	coap  *coap.Frontend
	// sipKept keeps the front end's bindings in DataDir (nil without).
	sipKept *sipBindings
	start   time.Time
	met     *metrics
	mon     *monitor.Monitor // nil unless Config.ConformanceLog is set
	// verifier checks signatures (its cache holds the certificates met
	// and fetched); certs is the Certificate Store Usage (§8).
	verifier *security.Verifier
	certs    certState
	turn     *turnState    // nil unless Config.TURN is set
	portMap  *portMapState // nil unless Config.PortMap is set

	// Owned by the run goroutine.
	h       *host.Host
	ch      topology.Plugin // the configuration's topology-plugin (see newPlugin)
	waiters map[uint64]chan host.Answer

	inbox  inbox
	routes atomic.Pointer[routesBox]

	joined chan struct{}
	jonce  sync.Once
	// bootAddrs maps each bootstrap address to the Node-ID found there,
	// so that a detached node can dial it again (rejoin).
	bootMu    sync.Mutex
	bootAddrs map[string]wire.NodeID
	// udp carries the DTLS-UDP-SR-NO-ICE links (nil without ListenUDP).
	udp       *transport.Mux
	rejoining atomic.Bool
	// bootCache holds the peers this node dialled (RFC 6940 §11.4).
	bootCache *bootCache
	// firstNode: this node's address is among its bootstrap addresses,
	// so it may found the overlay (RFC 6940 §6.4.2.1); set by Start.
	firstNode bool

	token   atomic.Uint64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
	// held is what New acquired, released by Close (or by New itself
	// when a later step fails).
	held releases

	sent, rcvd atomic.Uint64
}

// routesBox holds a routing snapshot for atomic.Pointer.
type routesBox struct{ topology.Routes }

// New creates a node and starts its links; call Start to join. When it
// fails, it has released everything it acquired (storage files, sockets,
// goroutines), so that New can be called again with the same DataDir.
func New(cfg Config) (_ *Node, err error) {
	if cfg.Overlay == nil || cfg.Identity == nil {
		return nil, errors.New("node: Config.Overlay and Config.Identity are required")
	}
	if cfg.TickLength == 0 {
		cfg.TickLength = 100 * time.Millisecond
	}
	if cfg.ListenTLS == "" {
		cfg.ListenTLS = "127.0.0.1:0"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log.With("node", cfg.Identity.NodeID().String()), waiters: map[uint64]chan host.Answer{}, joined: make(chan struct{}), start: time.Now()}
	n.inbox.init()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.cancel()
			if rerr := n.held.release(); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	n.met = newMetrics(n)
	if n.bootCache, err = loadBootCache(cfg.DataDir); err != nil {
		n.log.Warn("bootstrap cache unreadable; starting with an empty one", "err", err)
		err = nil
	}

	kinds, err := cfg.Overlay.Kinds()
	if err != nil {
		return nil, fmt.Errorf("node: kinds: %w", err)
	}
	if n.kinds, err = storage.KindTableFromConfig(kinds); err != nil {
		return nil, fmt.Errorf("node: kinds: %w", err)
	}
	// RFC 8076 §5.3: <share:variable-resource-names> of shared kinds.
	if n.kinds, err = n.kinds.WithVariableNames(cfg.Overlay); err != nil {
		return nil, fmt.Errorf("node: kinds: %w", err)
	}
	policy := diag.Policy{Default: diag.Allow, DiscloseNodeIDs: true}
	if cfg.DiagPolicy != nil {
		policy = *cfg.DiagPolicy
	} else if len(cfg.Overlay.DiagnosticKinds) > 0 {
		var acc []diag.KindAccess
		for _, dk := range cfg.Overlay.DiagnosticKinds {
			acc = append(acc, diag.KindAccess(dk))
		}
		// Fail closed: a mistyped access rule (RFC 7851 §7) must not
		// leave the diagnostics it was meant to restrict open to all.
		p, err := diag.NewPolicy(acc)
		if err != nil {
			return nil, fmt.Errorf("node: diagnostic-kind access rules of the configuration: %w", err)
		}
		p.Default, p.DiscloseNodeIDs = diag.Allow, true
		policy = p
	}

	var seed [16]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	var replicas int
	if n.ch, replicas, err = newPlugin(&cfg, mrand.New(mrand.NewPCG(binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:])))); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}

	tr, err := cfg.Overlay.Trust()
	if err != nil {
		return nil, fmt.Errorf("node: trust: %w", err)
	}
	verifier := security.NewVerifier(tr, 0)
	n.verifier = verifier

	var backend storage.Backend
	if cfg.DataDir != "" {
		b, err := bolt.Open(cfg.DataDir+"/storage.db", nil)
		if err != nil {
			return nil, fmt.Errorf("node: storage: %w", err)
		}
		backend = b
	} else {
		backend = mem.New()
	}
	n.held.push(func() error { return closeBackend(backend) })
	if n.h, err = host.New(host.Config{Plugin: n.ch, Kinds: n.kinds, Backend: backend, Verifier: verifier, Clock: time.Now, Logger: n.log,
		JoinAttachTimeout:   cfg.Overlay.OverlayReliabilityTimer,
		Replicas:            replicas,
		MaxStorageTimeAhead: cfg.MaxStorageTimeAhead, MaxLifetime: cfg.MaxLifetime}); err != nil {
		return nil, fmt.Errorf("node: storage: %w", err)
	}
	n.store = n.h.Store()
	n.routes.Store(&routesBox{n.ch.Routes()})
	// The goroutines the node starts (run, the requests and Attaches
	// of the host, SIP connections) end once n.ctx is cancelled and the
	// engine and front end are closed, before the storage they use is.
	n.held.push(func() error { n.wg.Wait(); return nil })

	ln, err := net.Listen("tcp", cfg.ListenTLS)
	if err != nil {
		return nil, fmt.Errorf("node: listen: %w", err)
	}
	n.held.push(closeOwned(ln))
	opts := forwarding.Options{
		Identity: cfg.Identity, Verifier: verifier, Config: cfg.Overlay, ConfigDocument: cfg.ConfigDocument,
		Router: router{n}, Listener: cfg.Capture.Listener(ln), Logger: log,
		KnownExtension: func(t wire.MessageExtensionType) bool { return t == wire.ExtDiagnosticPing },
		OnLinkEvent:    n.onLinkEvent,
		MayAnswer:      n.mayAnswer,
		ResponseRoutes: cfg.ResponseRoutes,
		// §6.3.4: a request whose signer's certificate is unknown is
		// dropped; the certificate is fetched (§8) and the request's
		// retransmission verified with it.
		OnCertificateNeeded: n.onCertificateNeeded,
	}
	// §6.6, §11.1 max-message-size: a link refuses larger messages.
	opts.Link.MaxMessageSize = int(cfg.Overlay.MaxMessageSize)
	if cfg.ConfigDocument != nil {
		if err := cfg.Overlay.CheckUpdateSize(len(cfg.ConfigDocument)); err != nil {
			// §6.5.4: the ConfigUpdate that would bring a peer with an
			// older configuration up to date cannot be sent.
			n.log.Warn("this configuration cannot be pushed to peers in ConfigUpdate requests", "err", err)
		}
	}
	opts.Link.KeyLogWriter = cfg.KeyLogWriter
	opts.Link.Reliability.Algorithm = cfg.DTLSSender
	if cfg.Capture != nil {
		opts.Dial = cfg.Capture.Dial((&net.Dialer{}).DialContext)
		opts.ListenApp = func(ctx context.Context) (net.Listener, error) {
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
			return cfg.Capture.Listener(ln), err
		}
	}
	opts.Link.Counters = &n.met.links
	if cfg.ConformanceLog != nil {
		// A verifier of its own: the certificates the monitor meets in
		// messages in transit must not fill the node's cache.
		n.mon = monitor.New(monitor.Config{
			Out: cfg.ConformanceLog, Self: cfg.Identity.NodeID(), Verifier: security.NewVerifier(tr, 0),
			InitialTTL: cfg.Overlay.InitialTTL, NodeIDLength: cfg.Overlay.NodeIDLength,
		})
		opts.Link.Observer = n.mon
		opts.Observer = n.mon
	}
	if cfg.TURN != nil && !cfg.ICE {
		return nil, errors.New("node: TURN needs ICE")
	}
	if cfg.PortMap != nil && !cfg.ICE {
		return nil, errors.New("node: port mapping needs ICE")
	}
	if cfg.ICE {
		nw := cfg.Net
		if nw == nil {
			if nw, err = stdnet.NewNet(); err != nil {
				return nil, err
			}
		}
		opts.ICE = &transport.ICEConfig{Net: cfg.Capture.Net(nw), STUN: cfg.STUN, IncludeLoopback: cfg.ICELoopback, InterfaceFilter: cfg.ICEInterfaces}
		if err := n.setupTURN(opts.ICE); err != nil {
			return nil, err
		}
		if err := n.setupPortMap(opts.ICE, cfg.Capture.Net(nw)); err != nil {
			return nil, err
		}
	} else if cfg.ListenUDP != "" {
		listenPacket := net.ListenPacket
		if cfg.Net != nil {
			listenPacket = cfg.Net.ListenPacket
		}
		pc, err := listenPacket("udp", cfg.ListenUDP)
		if err != nil {
			return nil, err
		}
		opts.UDP = transport.NewMux(cfg.Capture.PacketConn(pc))
		n.held.push(closeOwned(opts.UDP))
		n.udp = opts.UDP
	}
	if cfg.BootstrapTransport == BootstrapDTLS && n.udp == nil {
		return nil, errors.New("node: bootstrapping over DTLS needs Config.ListenUDP (and ICE off)")
	}
	if n.eng, err = forwarding.New(opts); err != nil {
		return nil, err
	}
	n.held.push(n.eng.Close)

	n.stats = diag.NewLocalStats(diag.LocalConfig{
		Start:            n.start,
		RoutingTableSize: func() int { s := n.Status(); return len(s.Successors) + len(s.Predecessors) + len(s.Fingers) },
		Addresses: func() []netip.AddrPort {
			if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
				return []netip.AddrPort{ap}
			}
			return nil
		},
	})
	if n.diag, err = diag.NewServer(diag.ServerConfig{Self: n.ID(), Router: diagRouter{n}, Stats: n.stats, Policy: policy}); err != nil {
		return nil, err
	}

	for _, c := range []wire.MessageCode{wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeUpdateReq, wire.CodeRouteQueryReq, wire.CodeProbeReq} {
		n.eng.Handle(c, n.handleHost)
	}
	for _, c := range []wire.MessageCode{wire.CodeStoreReq, wire.CodeFetchReq, wire.CodeStatReq, wire.CodeFindReq} {
		n.eng.Handle(c, n.handleHost)
	}
	n.eng.Handle(wire.CodePingReq, n.handlePing)
	n.eng.Handle(wire.CodePathTrackReq, n.handlePathTrack)
	n.wg.Add(1)
	go n.run()
	n.runTURN()
	if cfg.SIP != nil {
		if err := n.startSIP(cfg.SIP); err != nil {
			return nil, fmt.Errorf("node: SIP front end: %w", err)
		}
		if n.sipKept != nil {
			n.held.push(n.sipKept.Close)
		}
		n.held.push(n.sip.Close)
	}
	if cfg.CoAP != nil {
		if err := n.startCoAP(cfg.CoAP); err != nil {
			return nil, fmt.Errorf("node: CoAP front end: %w", err)
		}
		n.held.push(n.coap.Close)
	}
	return n, nil
}

// ID is this node's Node-ID.
func (n *Node) ID() wire.NodeID { return n.cfg.Identity.NodeID() }

// Addr is the address this node accepts TLS links on (give it to other
// nodes as their bootstrap address).
func (n *Node) Addr() string { return n.eng.ListenAddr() }

// UDPAddr is the address this node accepts DTLS-UDP-SR-NO-ICE links on,
// bootstrap links included ("" without Config.ListenUDP).
func (n *Node) UDPAddr() string {
	if n.udp == nil {
		return ""
	}
	return n.udp.LocalAddr().String()
}

// Engine is the forwarding engine, for custom handlers (Handle,
// HandleApp) and raw requests.
func (n *Node) Engine() *forwarding.Engine { return n.eng }

// UpdateConfig hands the running node a new signed configuration
// document, the configuration re-signed by a configuration-signer with
// a higher sequence (RFC 6940 §11.1, §6.3.2.1). The node checks it as it
// would a ConfigUpdate (§6.5.4.2), switches to it and pushes it to its
// neighbours in ConfigUpdate requests, from which it spreads to the whole
// overlay. See forwarding.Engine.UpdateConfig for the errors.
func (n *Node) UpdateConfig(ctx context.Context, doc []byte) (*config.Configuration, error) {
	return n.eng.UpdateConfig(ctx, doc)
}

// Configuration is the configuration in force and its signed document:
// the one the node started with or the last one a ConfigUpdate brought.
func (n *Node) Configuration() (*config.Configuration, []byte) { return n.eng.Configuration() }

// Storage is the local data store.
func (n *Node) Storage() *storage.Store { return n.store }

// Kinds is the overlay's kind table.
func (n *Node) Kinds() *storage.KindTable { return n.kinds }

// Joined is closed once the node is part of the ring (or, for a client,
// attached to its responsible peer).
func (n *Node) Joined() <-chan struct{} { return n.joined }

// Start joins the overlay: a seed node starts a new ring; others connect
// to a bootstrap peer over TLS and join through it (RFC 6940 §10.5,
// §11.4). Start returns when the join has begun; wait on Joined. When no
// bootstrap peer is reachable yet, Start logs it and returns nil while the
// node goes on dialling them with exponential backoff (1 s doubling to
// 30 s, with jitter) until one answers, ctx is cancelled or the node is
// closed. Start fails at once only for what no retry can fix, such as a
// malformed bootstrap address.
func (n *Node) Start(ctx context.Context) error {
	boot := n.cfg.Bootstrap
	if len(boot) == 0 && !n.cfg.Seed {
		for _, b := range n.cfg.Overlay.BootstrapNodes {
			boot = append(boot, net.JoinHostPort(b.Address, fmt.Sprint(b.Port)))
		}
	}
	self, selfUDP := n.Addr(), n.UDPAddr()
	listed := len(boot)
	boot = slices.DeleteFunc(slices.Clone(boot), func(a string) bool { return a == self || a == selfUDP && selfUDP != "" })
	n.startPartitionChecks(n.discoveryAddrs(boot))
	if n.cfg.Seed || len(boot) == 0 {
		if n.cfg.Client {
			return errors.New("node: a client needs a bootstrap peer")
		}
		if n.useBootCache() {
			// §11.4: a seed that was part of an overlay tries the
			// peers it was connected to first: the overlay may still
			// be there, and a new ring would partition it.
			if err := n.joinThroughBootstrap(ctx); err == nil || !errors.Is(err, errNoBootstrapPeer) {
				return err
			}
			n.log.Info("no cached peer reachable; starting a new overlay")
		}
		return n.doErr(ctx, n.h.Start)
	}
	for _, addr := range boot {
		if err := checkBootstrapAddr(ctx, addr); err != nil {
			return err
		}
	}
	n.bootMu.Lock()
	n.bootAddrs = make(map[string]wire.NodeID, len(boot))
	for _, addr := range boot {
		n.bootAddrs[addr] = wire.NodeID{}
	}
	n.bootMu.Unlock()
	if len(boot) < listed && !n.cfg.Client {
		// §6.4.2.1, §10.5: a node listed among its own bootstrap nodes
		// is a potential first node (see chord.Chord.SetFirstNode).
		n.firstNode = true
		if derr := n.do(ctx, func() {
			if f, ok := n.ch.(interface{ SetFirstNode(bool) }); ok {
				f.SetFirstNode(true)
			}
		}); derr != nil {
			return derr
		}
	}
	// §11.4: the peers this node was connected to before come first.
	n.useBootCache()
	return n.startJoin(ctx)
}

// joinThroughBootstrap links to the bootstrap peers (dialling those it has
// no link to) and starts the join through them.
func (n *Node) joinThroughBootstrap(ctx context.Context) error {
	vias, err := n.dialBootstrap(ctx)
	if err != nil {
		return err
	}
	return n.doErr(ctx, func() error { return n.h.Join(vias...) })
}

// dialBootstrap opens a TLS link to every bootstrap address that has none
// and returns the Node-IDs of the bootstrap peers reachable now.
func (n *Node) dialBootstrap(ctx context.Context) ([]wire.NodeID, error) {
	n.bootMu.Lock()
	known := maps.Clone(n.bootAddrs)
	n.bootMu.Unlock()
	var vias []wire.NodeID
	var errs []error
	for _, addr := range n.bootOrder(known) {
		if id := known[addr]; id != (wire.NodeID{}) {
			if _, up := n.eng.Table().Lookup(id); up {
				vias = append(vias, id)
				continue
			}
		}
		dctx, cancel := context.WithTimeout(ctx, bootstrapDialTimeout)
		l, err := n.dialBootstrapPeer(dctx, addr)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		id := l.PeerNodeID()
		n.bootMu.Lock()
		n.bootAddrs[addr] = id
		n.bootMu.Unlock()
		vias = append(vias, id)
	}
	if len(vias) == 0 {
		return nil, fmt.Errorf("%w: %w", errNoBootstrapPeer, errors.Join(errs...))
	}
	return vias, nil
}

// redialBootstrap connects to the bootstrap addresses again and returns
// the Node-ID of one that answers.
func (n *Node) redialBootstrap(ctx context.Context) (wire.NodeID, bool) {
	vias, err := n.dialBootstrap(ctx)
	if err != nil {
		n.log.Debug("join: bootstrap", "err", err)
		return wire.NodeID{}, false
	}
	return vias[0], true
}

// rejoin joins again through the bootstrap peers after the node lost its
// place in the ring (every neighbour failed), dialling their addresses
// again: the links to them may have gone with the rest. One rejoin runs
// at a time; while no bootstrap peer answers it retries with backoff
// until the node is closed.
func (n *Node) rejoin() {
	if !n.rejoining.CompareAndSwap(false, true) {
		return
	}
	n.async(func() {
		defer n.rejoining.Store(false)
		err := n.joinThroughBootstrap(n.ctx)
		if errors.Is(err, errNoBootstrapPeer) && n.cfg.Seed && n.ctx.Err() == nil {
			// A seed with no peer left (§11.4): none of its cached
			// peers answers, so it starts the overlay over.
			n.log.Warn("no cached peer reachable; starting the overlay over")
			err = n.doErr(n.ctx, n.h.Start)
		}
		if errors.Is(err, errNoBootstrapPeer) && n.ctx.Err() == nil {
			err = n.joinRetrying(n.ctx, err)
		}
		switch {
		case err == nil:
			n.log.Info("rejoining the overlay")
		case n.ctx.Err() == nil:
			n.log.Warn("rejoin failed", "err", err)
		}
	})
}

// async runs f on its own goroutine, one the node waits for when it
// closes.
func (n *Node) async(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// Close leaves nothing behind: it stops the node's goroutines and links
// without a Leave (use Leave first for a graceful exit).
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		// Cancelling first ends the node's own loops; then everything
		// New acquired is released, newest first: the SIP front end and
		// its bindings file, the engine with its sockets and links, the
		// wait for the node's goroutines, the storage file.
		n.cancel()
		err = n.held.release()
	})
	return err
}

// Leave tells the neighbours that this node leaves (RFC 6940 §10.9),
// hands its data to its successor, and closes the node.
func (n *Node) Leave(ctx context.Context) error {
	err := n.doErr(ctx, n.h.Leave)
	if err == nil {
		select {
		case <-time.After(2 * n.cfg.TickLength):
		case <-ctx.Done():
		}
	}
	return errors.Join(err, n.Close())
}
