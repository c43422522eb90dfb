package node

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what TURN REST credentials use
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
	"github.com/pion/logging"
	pionnet "github.com/pion/transport/v5"
	"github.com/pion/turn/v5"
)

// TURNConfig configures the TURN server usage (RFC 6940 §9): serving as a
// TURN server and advertising it under the TURN-SERVICE Kind, and finding
// other peers' TURN servers to gather relay candidates for the Attaches
// that ICE runs (§6.5.1.1, CandType relay). It needs Config.ICE.
//
// RFC 6940 §9 leaves TURN authentication open. Here a TURN server takes
// only time-windowed long-term credentials (RFC 8489 §9.2, in the form of
// the TURN REST API: user name "expiry:Node-ID", password the base64
// HMAC-SHA1 of the user name under a secret), and the secret is one the
// overlay's members share: the configuration's shared-secret (§11.1) or
// one given here. The configuration document is handed to enrolled nodes,
// so a TURN server relays for the overlay's members and no one else; it is
// never an open relay, and a node without a secret does not serve.
type TURNConfig struct {
	// Listen, when set, runs a TURN server on this UDP address and
	// advertises it (e.g. "0.0.0.0:3478").
	Listen string
	// Advertise is the address stored in TURN-SERVICE values and the
	// address relayed transport addresses are allocated on: the server's
	// public address. Default: Listen's, which must then name an address.
	Advertise string
	// Secret is the credential secret (default: the overlay's
	// shared-secret).
	Secret string
	// Servers are TURN servers ("host:port") known in advance, used with
	// those found in the overlay.
	Servers []string
	// NoDiscover turns off finding TURN servers with Find requests for
	// TURN-SERVICE at random Resource-IDs (§9).
	NoDiscover bool
	// RelayOnly offers relay candidates only (an ICE "relay" policy):
	// every link this node attaches runs through a TURN server. It needs
	// Servers: a node finds TURN servers in the overlay only once it has
	// joined, and it needs one for the Attaches of its join.
	RelayOnly bool
	// Lifetime of the TURN-SERVICE values this node stores (default 10
	// minutes; they are stored again at half of it).
	Lifetime time.Duration
}

// ErrTURNSecret reports a TURN configuration without a credential secret.
var ErrTURNSecret = errors.New("node: TURN needs a secret: the overlay's shared-secret or TURNConfig.Secret")

// A TURN server found in the overlay is used until it has not been found
// again for turnForget; at most turnMaxFound of them are kept, the most
// recently found, so that a departed server does not slow every
// gathering for long.
const (
	turnForget   = 30 * time.Minute
	turnMaxFound = 4
)

// turnCredentialLifetime is how long the credentials a node derives for
// a TURN server are valid; a server refuses credentials that claim longer.
const turnCredentialLifetime = time.Hour

// turnState is the node's side of the TURN usage.
type turnState struct {
	cfg       TURNConfig
	secret    string
	advertise netip.AddrPort // zero unless serving
	server    *turn.Server

	mu    sync.Mutex
	known map[netip.AddrPort]time.Time // server → when it was last seen
}

// turnCredentials derives the credentials node id uses on any of the
// overlay's TURN servers until expiry.
func turnCredentials(secret string, id wire.NodeID, expiry time.Time) (user, pass string) {
	user = strconv.FormatInt(expiry.Unix(), 10) + ":" + id.String()
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(user))
	return user, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// turnAuth is the TURN server's check of a user name: an expiry in the
// future but not further than a credential lifetime, and a Node-ID; the
// key is derived from the shared secret (RFC 8489 §9.2.2).
func turnAuth(secret string, now func() time.Time) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		exp, id, ok := strings.Cut(ra.Username, ":")
		if !ok || id == "" {
			return "", nil, false
		}
		t, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return "", nil, false
		}
		e := time.Unix(t, 0)
		if n := now(); e.Before(n) || e.After(n.Add(turnCredentialLifetime+time.Minute)) {
			return "", nil, false
		}
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(ra.Username))
		pass := base64.StdEncoding.EncodeToString(m.Sum(nil))
		return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, pass), true
	}
}

// setupTURN checks cfg.TURN, starts the TURN server when asked and gives
// the ICE configuration its TURN servers. It runs in New, before the
// engine exists.
func (n *Node) setupTURN(ice *transport.ICEConfig) error {
	tc := n.cfg.TURN
	if tc == nil {
		return nil
	}
	if ice == nil {
		return errors.New("node: TURN needs ICE")
	}
	t := &turnState{cfg: *tc, secret: tc.Secret, known: map[netip.AddrPort]time.Time{}}
	if t.secret == "" {
		t.secret = n.cfg.Overlay.SharedSecret
	}
	if t.secret == "" {
		return ErrTURNSecret
	}
	if t.cfg.Lifetime <= 0 {
		t.cfg.Lifetime = 10 * time.Minute
	}
	for _, s := range tc.Servers {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return fmt.Errorf("node: TURN server %q: want ip:port: %w", s, err)
		}
		t.known[ap] = time.Time{} // never expires
	}
	if tc.RelayOnly && len(tc.Servers) == 0 {
		return errors.New("node: relay-only ICE needs a TURN server given in advance (TURNConfig.Servers): " +
			"servers are found in the overlay only after the join")
	}
	if tc.Listen != "" {
		if err := n.serveTURN(t); err != nil {
			return err
		}
	}
	n.turn = t
	ice.TURN = n.turnServers
	ice.RelayOnly = tc.RelayOnly
	return nil
}

// serveTURN starts the TURN server (RFC 5766) on t.cfg.Listen.
func (n *Node) serveTURN(t *turnState) error {
	adv := t.cfg.Advertise
	if adv == "" {
		adv = t.cfg.Listen
	}
	ap, err := netip.ParseAddrPort(adv)
	if err != nil || ap.Addr().IsUnspecified() {
		return fmt.Errorf("node: TURN server: advertised address %q: want the server's public ip:port", adv)
	}
	if ap.Addr().IsPrivate() {
		// §9: a peer with an RFC 1918 address SHOULD NOT be a TURN
		// server; it still may, in a private network.
		n.log.Warn("TURN server advertised on a private address (RFC 6940 §9)", "address", ap.String())
	}
	listen := net.ListenPacket
	var nw pionnet.Net
	if n.cfg.Net != nil {
		listen, nw = n.cfg.Net.ListenPacket, n.cfg.Net
	}
	pc, err := listen("udp4", t.cfg.Listen)
	if err != nil {
		return fmt.Errorf("node: TURN server: %w", err)
	}
	if ap.Port() == 0 {
		ap = netip.AddrPortFrom(ap.Addr(), transport.AddrPortOf(pc.LocalAddr()).Port())
	}
	gen := &turn.RelayAddressGeneratorStatic{RelayAddress: net.IP(ap.Addr().AsSlice()), Address: listenHost(t.cfg.Listen)}
	if nw != nil {
		gen.Net = nw
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	s, err := turn.NewServer(turn.ServerConfig{
		Realm:             n.cfg.Overlay.InstanceName,
		AuthHandler:       turnAuth(t.secret, time.Now),
		LoggerFactory:     lf,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc, RelayAddressGenerator: gen}},
	})
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("node: TURN server: %w", err)
	}
	t.server, t.advertise = s, ap
	n.held.push(s.Close)
	n.log.Info("TURN server running (RFC 6940 §9)", "listen", pc.LocalAddr().String(), "advertise", ap.String())
	return nil
}

// listenHost is the host part of a listen address, "0.0.0.0" when empty.
func listenHost(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil || h == "" {
		return "0.0.0.0"
	}
	return h
}

// TURNAddr is the address this node advertises as a TURN server, zero
// when it serves none.
func (n *Node) TURNAddr() netip.AddrPort {
	if n.turn == nil {
		return netip.AddrPort{}
	}
	return n.turn.advertise
}

// TURNServers lists the TURN servers this node knows (configured and
// found in the overlay), its own left out.
func (n *Node) TURNServers() []netip.AddrPort {
	if n.turn == nil {
		return nil
	}
	n.turn.mu.Lock()
	defer n.turn.mu.Unlock()
	n.turn.forget(time.Now())
	return slices.SortedFunc(maps.Keys(n.turn.known), func(a, b netip.AddrPort) int { return a.Compare(b) })
}

// forget drops the servers found in the overlay that were not found again
// for turnForget, and the oldest found beyond turnMaxFound. Configured
// servers (zero time) stay. t.mu is held.
func (t *turnState) forget(now time.Time) {
	var found []netip.AddrPort
	for ap, seen := range t.known {
		switch {
		case seen.IsZero():
		case now.Sub(seen) > turnForget:
			delete(t.known, ap)
		default:
			found = append(found, ap)
		}
	}
	if len(found) > turnMaxFound {
		slices.SortFunc(found, func(a, b netip.AddrPort) int { return t.known[b].Compare(t.known[a]) })
		for _, ap := range found[turnMaxFound:] {
			delete(t.known, ap)
		}
	}
}

// turnServers is the ICE configuration's TURN callback: every known
// server with fresh credentials.
func (n *Node) turnServers() []transport.TURNServer {
	user, pass := turnCredentials(n.turn.secret, n.ID(), time.Now().Add(turnCredentialLifetime))
	var out []transport.TURNServer
	for _, ap := range n.TURNServers() {
		out = append(out, transport.TURNServer{URL: "turn:" + ap.String() + "?transport=udp", Username: user, Password: pass})
	}
	return out
}

// runTURN advertises this node's TURN server once the node has joined,
// and looks for others from the start (a relay-only node needs one for
// the Attaches of its join), until the node closes.
func (n *Node) runTURN() {
	if n.turn == nil {
		return
	}
	n.async(func() { n.turnLoop(n.ctx) })
}

func (n *Node) turnLoop(ctx context.Context) {
	var nextAdvert, nextFind time.Time
	for {
		now := time.Now()
		joined := false
		select {
		case <-n.joined:
			joined = true
		default:
		}
		if n.turn.server != nil && joined && !now.Before(nextAdvert) {
			if err := n.advertiseTURN(ctx); err != nil {
				n.log.Warn("storing TURN-SERVICE failed", "err", err)
				nextAdvert = now.Add(5 * time.Second)
			} else {
				nextAdvert = now.Add(n.turn.cfg.Lifetime / 2)
			}
		}
		if !n.turn.cfg.NoDiscover && !now.Before(nextFind) {
			found, err := n.discoverTURN(ctx, 4)
			switch {
			case err != nil && ctx.Err() == nil:
				n.log.Debug("finding TURN servers failed", "err", err)
				nextFind = now.Add(3 * time.Second)
			case found == 0 && len(n.TURNServers()) == 0:
				nextFind = now.Add(3 * time.Second)
			default:
				nextFind = now.Add(time.Minute)
			}
		}
		wait := time.Minute
		if n.turn.server != nil && !joined {
			wait = time.Second
		}
		for _, t := range []time.Time{nextAdvert, nextFind} {
			if !t.IsZero() {
				wait = min(wait, time.Until(t))
			}
		}
		select {
		case <-time.After(max(wait, 100*time.Millisecond)):
		case <-ctx.Done():
			return
		}
	}
}

// advertiseTURN stores this node's TurnServer at H(Node-ID || d) for d
// from 1 to turn-density (RFC 6940 §9).
func (n *Node) advertiseTURN(ctx context.Context) error {
	density := int(n.cfg.Overlay.TurnDensity)
	if density == 0 {
		return nil // §9: turn-density zero, nothing is recorded
	}
	addr := wire.IPAddressPortFrom(n.turn.advertise)
	var errs []error
	for d := 1; d <= density; d++ {
		b, err := addr.Append([]byte{byte(d)})
		if err != nil {
			return err
		}
		res := storage.NodeMultipleResourceID(storage.ChordHash, n.ID(), d)
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = n.Store(c, res, wire.KindTURNService, []wire.StoredDataValue{wire.SingleValue(b)}, n.turn.cfg.Lifetime)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("d=%d: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// discoverTURN makes up to tries Find requests for TURN-SERVICE at random
// Resource-IDs and fetches the TurnServer values of the resources they
// name (RFC 6940 §9). It returns how many servers it found.
func (n *Node) discoverTURN(ctx context.Context, tries int) (int, error) {
	found := 0
	var lastErr error
	for range tries {
		res := make(wire.ResourceID, 16)
		_, _ = rand.Read(res)
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		fa, err := n.Find(c, res, []wire.KindID{wire.KindTURNService})
		if err != nil {
			cancel()
			lastErr = err
			continue
		}
		for _, r := range fa.Results {
			if r.Kind != wire.KindTURNService || len(r.Closest) == 0 {
				continue
			}
			fr, err := n.FetchAll(c, r.Closest, wire.KindTURNService)
			if err != nil {
				lastErr = err
				continue
			}
			for _, kr := range fr.KindResponses {
				for _, sd := range kr.Values {
					if ap, ok := turnServerAddr(sd.Value.Value); ok && ap != n.TURNAddr() {
						n.turn.mu.Lock()
						if _, had := n.turn.known[ap]; !had {
							found++
							n.log.Info("found a TURN server (RFC 6940 §9)", "address", ap.String())
						}
						if t, ok := n.turn.known[ap]; !ok || !t.IsZero() {
							n.turn.known[ap] = time.Now()
						}
						n.turn.mu.Unlock()
					}
				}
			}
		}
		cancel()
		if found > 0 {
			break
		}
	}
	return found, lastErr
}

// turnServerAddr decodes a TURN-SERVICE value, a TurnServer (§9).
func turnServerAddr(v wire.DataValue) (netip.AddrPort, bool) {
	if !v.Exists {
		return netip.AddrPort{}, false
	}
	var ts wire.TurnServer
	if _, err := ts.Decode(v.Value); err != nil {
		return netip.AddrPort{}, false
	}
	var a wire.IPAddressPort
	if _, err := a.Decode(ts.ServerAddress); err != nil {
		return netip.AddrPort{}, false
	}
	ap, ok := a.AddrPort()
	if !ok || !ap.Addr().IsValid() || ap.Port() == 0 || ap.Addr().IsUnspecified() {
		return netip.AddrPort{}, false
	}
	return ap, true
}
