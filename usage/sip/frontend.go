package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/wire"
)

// Config configures a Frontend.
type Config struct {
	// Overlay is the node's overlay; required.
	Overlay Overlay

	// UDP and TCP are the sockets local user agents use. Either may be
	// nil; UDPAddr and TCPAddr ("127.0.0.1:5060") are listened on when the
	// socket is nil and the address is set. At least one is needed.
	UDP     net.PacketConn
	TCP     net.Listener
	UDPAddr string
	TCPAddr string

	// Host is the host written in Via and Record-Route for local user
	// agents; by default the IP of the UDP or TCP socket.
	Host string

	// Domain is the AOR domain assumed when a request or REGISTER names
	// this front end by address (sip:bob@192.0.2.1:5060); empty means
	// Policy.OverlayDomain.
	Domain string

	// Policy is the overlay's AOR domain restriction (RFC 7904 §3.4).
	Policy DomainPolicy

	// Application is the Application-ID used for AppAttach, AppSIP
	// (default) or AppSIPS.
	Application uint16

	// MinExpires, MaxExpires and DefaultExpires bound REGISTER expiry
	// (RFC 3261 §10.3); defaults 60 s, 3600 s and 3600 s.
	MinExpires, MaxExpires, DefaultExpires time.Duration

	// CanRegister, if set, vets an AOR before its registration is
	// stored; an error answers the REGISTER with 403. The node layer
	// uses it to refuse AORs its certificate does not carry (USER-NODE-
	// MATCH, RFC 7904 §3.3) instead of waiting for Error_Forbidden.
	CanRegister func(aor string) error

	// MaxHops and MaxTargets configure the Resolver.
	MaxHops, MaxTargets int

	// RequestTimeout bounds the overlay work (Fetch, Store, AppAttach)
	// done for one SIP request; default 8 s.
	RequestTimeout time.Duration

	// Credentials are the users local user agents authenticate as with
	// digest authentication (RFC 3261 §22; see auth.go): a REGISTER
	// must carry the credentials of the AOR's own user, an out-of-dialog
	// request those of any user. The realm is Domain. New refuses a nil
	// or empty Credentials unless NoAuth is set: a registrar that binds
	// any AOR for anyone lets every host that reaches the socket take
	// over this peer's users' calls.
	Credentials Credentials

	// NoAuth turns authentication off: any local user agent may register
	// any AOR this peer may store and place calls. Only for a network
	// where every host that reaches the SIP sockets is trusted.
	NoAuth bool

	// NonceLifetime is how long a digest nonce is accepted (then the
	// challenge is renewed with stale=true); default 5 minutes.
	NonceLifetime time.Duration

	// OnAuth, if set, is told the outcome of each authentication:
	// "ok", "challenged" (401/407 sent), "forbidden" (403) or
	// "malformed" (400).
	OnAuth func(result string)

	// Bindings, when set, keeps the local bindings across restarts: a
	// restarted peer still delivers calls to the user agents that
	// registered with it before, until their registrations expire. Nil
	// keeps them in memory only.
	Bindings BindingStore

	// DNSServer is the DNS server (host:port) that finds the SIP servers
	// of other domains (RFC 3263); empty means the system resolver.
	DNSServer string

	// NoForeignDomains refuses (403) requests of local user agents for
	// AORs outside the overlay's domain restriction instead of sending
	// them to that domain's SIP server (RFC 3263). With no
	// restriction in the configuration every domain is the overlay's.
	NoForeignDomains bool

	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Frontend is a SIP registrar and transaction-stateless proxy for local
// user agents, backed by the overlay (see the package documentation).
type Frontend struct {
	cfg      Config
	ov       Overlay
	self     wire.NodeID
	selfHex  string
	domain   string
	policy   *CompiledDomainPolicy
	resolver *Resolver
	auth     *authenticator // nil with Config.NoAuth
	log      *slog.Logger
	parser   *sip.Parser
	// tag marks the branches and To tags this front end makes.
	tag string

	udp      net.PacketConn
	tcp      net.Listener
	host     string
	udpPort  int
	tcpPort  int
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	once     sync.Once

	mu      sync.Mutex
	nextID  uint64
	streams map[uint64]*stream // every stream: links and UA TCP connections
	byNode  map[wire.NodeID]*stream
	byAddr  map[string]*stream // UA TCP connections by remote address
	dialing map[wire.NodeID]*dialWait
	targets routeCache[Target] // where requests to AORs of the overlay went
	// forks are the forked INVITEs (fork.go) by server transaction key
	// and by branch prefix.
	forks         map[string]*fork
	forksByPrefix map[string]*fork
	forkSeq       uint64
	foreign       routeCache[ServerHop] // where requests to other domains went
	dns           *net.Resolver
	bindings      map[string]map[string]*Binding

	regMu  sync.Mutex // serialises REGISTER processing and overlay writes
	stored map[string]time.Time
}

type dialWait struct {
	done chan struct{}
	s    *stream
	err  error
}

// routeCache keeps, for each request forwarded statelessly (by Call-ID
// and CSeq number, routeKey), where it went, so that its retransmissions,
// CANCEL and ACK go the same way (RFC 3261 §16.11) for targetCacheTTL.
// Frontend.mu guards it.
type routeCache[T any] map[string]cachedRoute[T]

type cachedRoute[T any] struct {
	to      T
	expires time.Time
}

// routeKey is the routeCache key of req.
func routeKey(req *sip.Request) string {
	return req.CallID().Value() + "|" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
}

func (c routeCache[T]) get(key string) (T, bool) {
	r, ok := c[key]
	return r.to, ok
}

func (c routeCache[T]) put(key string, to T, now time.Time) {
	c[key] = cachedRoute[T]{to: to, expires: now.Add(targetCacheTTL)}
}

// prune drops the routes that expired at now.
func (c routeCache[T]) prune(now time.Time) {
	for k, r := range c {
		if now.After(r.expires) {
			delete(c, k)
		}
	}
}

// New validates cfg, opens the sockets and starts serving.
func New(cfg Config) (*Frontend, error) {
	if cfg.Overlay == nil {
		return nil, errors.New("sip: Config.Overlay is nil")
	}
	if cfg.Application == 0 {
		cfg.Application = AppSIP
	}
	if cfg.Application != AppSIP && cfg.Application != AppSIPS {
		return nil, fmt.Errorf("sip: Application-ID %d is not 5060 or 5061", cfg.Application)
	}
	if cfg.MinExpires <= 0 {
		cfg.MinExpires = 60 * time.Second
	}
	if cfg.MaxExpires <= 0 {
		cfg.MaxExpires = time.Hour
	}
	if cfg.DefaultExpires <= 0 {
		cfg.DefaultExpires = time.Hour
	}
	if cfg.DefaultExpires > cfg.MaxExpires {
		cfg.DefaultExpires = cfg.MaxExpires
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 8 * time.Second
	}
	self := cfg.Overlay.LocalNodeID()
	if !self.Valid() {
		return nil, errors.New("sip: overlay has no valid local Node-ID")
	}
	pol, err := cfg.Policy.Compile()
	if err != nil {
		return nil, err
	}
	if len(cfg.Credentials) == 0 && !cfg.NoAuth {
		return nil, ErrNoCredentials
	}
	f := &Frontend{
		cfg:           cfg,
		ov:            cfg.Overlay,
		self:          self,
		selfHex:       self.String(),
		domain:        cfg.Domain,
		policy:        pol,
		log:           cfg.Logger,
		parser:        sip.NewParser(),
		streams:       map[uint64]*stream{},
		byNode:        map[wire.NodeID]*stream{},
		byAddr:        map[string]*stream{},
		dialing:       map[wire.NodeID]*dialWait{},
		targets:       routeCache[Target]{},
		forks:         map[string]*fork{},
		forksByPrefix: map[string]*fork{},
		foreign:       routeCache[ServerHop]{},
		bindings:      map[string]map[string]*Binding{},
		stored:        map[string]time.Time{},
	}
	if f.domain == "" {
		f.domain = cfg.Policy.OverlayDomain
	}
	if f.dns, err = NewDNSResolver(cfg.DNSServer); err != nil {
		return nil, err
	}
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !cfg.NoAuth {
		if f.auth, err = newAuthenticator(f.domain, cfg.Credentials, cfg.NonceLifetime); err != nil {
			return nil, err
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	f.tag = "rl" + hex.EncodeToString(rnd[:])
	f.resolver = &Resolver{Fetcher: cfg.Overlay, MaxHops: cfg.MaxHops, MaxTargets: cfg.MaxTargets,
		Policy: pol, SIPS: cfg.Application == AppSIPS}

	if err := f.loadBindings(time.Now()); err != nil {
		return nil, err
	}

	f.udp, f.tcp = cfg.UDP, cfg.TCP
	if f.udp == nil && cfg.UDPAddr != "" {
		if f.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
			return nil, fmt.Errorf("sip: %w", err)
		}
	}
	if f.tcp == nil && cfg.TCPAddr != "" {
		if f.tcp, err = net.Listen("tcp", cfg.TCPAddr); err != nil {
			if f.udp != nil && cfg.UDP == nil {
				f.udp.Close()
			}
			return nil, fmt.Errorf("sip: %w", err)
		}
	}
	if f.udp == nil && f.tcp == nil {
		return nil, errors.New("sip: no UDP or TCP socket configured")
	}
	f.host = cfg.Host
	if f.udp != nil {
		ap := addrPort(f.udp.LocalAddr())
		f.udpPort = ap.port
		if f.host == "" {
			f.host = ap.host
		}
	}
	if f.tcp != nil {
		ap := addrPort(f.tcp.Addr())
		f.tcpPort = ap.port
		if f.host == "" {
			f.host = ap.host
		}
	}
	if f.host == "" || f.host == "::" || f.host == "0.0.0.0" {
		f.host = "127.0.0.1"
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	if f.udp != nil {
		f.wg.Add(1)
		go f.serveUDP()
	}
	if f.tcp != nil {
		f.wg.Add(1)
		go f.acceptTCP()
	}
	f.wg.Add(1)
	go f.janitor()
	return f, nil
}

type hostPort struct {
	host string
	port int
}

func addrPort(a net.Addr) hostPort {
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return hostPort{}
	}
	n, _ := strconv.Atoi(p)
	return hostPort{h, n}
}

// UDPAddr is the address of the UDP socket, or nil.
func (f *Frontend) UDPAddr() net.Addr {
	if f.udp == nil {
		return nil
	}
	return f.udp.LocalAddr()
}

// TCPAddr is the address of the TCP listener, or nil.
func (f *Frontend) TCPAddr() net.Addr {
	if f.tcp == nil {
		return nil
	}
	return f.tcp.Addr()
}

// Resolver is the resolver the front end uses for AORs.
func (f *Frontend) Resolver() *Resolver { return f.resolver }

// Close stops the front end: sockets, links and goroutines. It does not
// remove registrations from the overlay; their lifetime runs out.
func (f *Frontend) Close() error {
	f.once.Do(func() {
		f.cancel()
		if f.udp != nil {
			f.closeErr = f.udp.Close()
		}
		if f.tcp != nil {
			if err := f.tcp.Close(); f.closeErr == nil {
				f.closeErr = err
			}
		}
		f.mu.Lock()
		for _, s := range f.streams {
			s.close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f.closeErr
}

// ServeConn serves an application connection that the node layer accepted
// for an AppAttach with this front end's Application-ID (RFC 7904 §5.1):
// SIP flows both ways over c until it closes. remote is the Node-ID the
// peer authenticated with (its certificate); in-dialog requests to that
// peer reuse the connection. ServeConn blocks until c is closed or the
// front end is closed, and closes c.
func (f *Frontend) ServeConn(remote wire.NodeID, c net.Conn) error {
	s, err := f.addStream(c, remote, true)
	if err != nil {
		c.Close()
		return err
	}
	<-s.done
	return nil
}

// janitor expires local bindings and cached targets.
func (f *Frontend) janitor() {
	defer f.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case now := <-t.C:
			f.mu.Lock()
			for aor, m := range f.bindings {
				for k, b := range m {
					if !now.Before(b.Expires) {
						delete(m, k)
					}
				}
				if len(m) == 0 {
					delete(f.bindings, aor)
				}
			}
			f.targets.prune(now)
			f.foreign.prune(now)
			f.mu.Unlock()
			if f.auth != nil {
				f.auth.prune(now)
			}
		}
	}
}
