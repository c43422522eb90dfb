package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// defaultControl is where `reload node` serves its control API and where
// the client commands look for it.
const defaultControl = "127.0.0.1:6090"

func runNode(args []string, stdout, stderr io.Writer) int {
	return runNodeContext(context.Background(), args, stdout, stderr)
}

// runNodeContext is runNode until ctx is done or the process is
// interrupted.
func runNodeContext(base context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("node", "reload node [flags]\n\nRun a RELOAD peer (or client) of an overlay until interrupted. The overlay\nconfiguration comes from --config, or else from the configuration server:\n--config-server, or the one DNS names for --overlay (RFC 6940 §11.2).", stderr)
	cfgPath := fs.String("config", "", "overlay configuration document (overlay.xml; required without --overlay or --config-server)")
	src := addNodeSourceFlags(fs)
	idDir := fs.String("identity", "", "directory holding cert.pem and key.pem of this node (required)")
	asNodeID := fs.String("node-id", "", "run as this Node-ID of the certificate (hex, or its position 1, 2, ... among the certificate's Node-IDs; default: the first); a certificate with several Node-IDs (reload enroll --nodeids) runs one node per Node-ID")
	listen := fs.String("listen", "127.0.0.1:6084", "TCP address for TLS links (bootstrap and Attach)")
	listenUDP := fs.String("listen-udp", "", "UDP address for DTLS-UDP-SR-NO-ICE links (RFC 6940 §6.6.6): bootstrap links of joining nodes and Attach without ICE; use the port of --listen so that one bootstrap-node address serves both (default: none; not with --ice)")
	bootTransport := fs.String("bootstrap-transport", "auto", "how to contact the bootstrap peers (RFC 6940 §11.4): tls, dtls (needs --listen-udp), or auto: the first of the overlay's overlay-link-protocol list this node can use (DTLS only with --listen-udp)")
	control := fs.String("control", defaultControl, "loopback address of the control API used by reload status, ping, traceroute, store, fetch; it acts as this node, so every request needs its bearer token (see --control-token)")
	controlToken := fs.String("control-token", "", "bearer token file of the control API, 0600, made with a random token when missing (default: "+defaultTokenHelp+", where the client commands look)")
	controlRemote := fs.Bool("control-allow-remote", false, "allow a --control address beyond loopback (plain HTTP: the token and all data cross the network in clear)")
	var boot stringList
	fs.Var(&boot, "bootstrap", "bootstrap peer host:port (repeatable; default: the configuration's bootstrap nodes); while none answers, the node keeps dialling them with backoff (1 s doubling to 30 s)")
	seed := fs.Bool("seed", false, "start a new ring instead of joining through a bootstrap peer")
	client := fs.Bool("client", false, "run as a client (RFC 6940 §3.2): attach to the responsible peer, do not route")
	useICE := fs.Bool("ice", false, "use ICE and DTLS-UDP-SR for Attach (host candidates of all interfaces)")
	iceLoopback := fs.Bool("ice-loopback", false, "with --ice, also offer loopback host candidates (left out by ICE otherwise, RFC 8445 §5.1.1.1): for nodes that only reach each other on this host, such as a loopback-only host or interop runs on one machine")
	var stunSrv stringList
	fs.Var(&stunSrv, "stun", "STUN server host:port for server-reflexive ICE candidates (repeatable; with --ice)")
	stunAddr := fs.String("stun-server", "", "answer STUN Binding requests on this UDP address (for peers behind NATs)")
	turnListen := fs.String("turn-server", "", "run a TURN server (RFC 6940 §9) on this UDP address and advertise it in TURN-SERVICE values (turn-density of them); relays only for overlay members (credentials from the TURN secret); with --ice")
	turnAdvertise := fs.String("turn-advertise", "", "the public IP:PORT of --turn-server, stored in TURN-SERVICE and used for relayed addresses (default: the --turn-server address, which must then name an IP)")
	turnUse := fs.Bool("turn-use", false, "find TURN servers in the overlay (Find for TURN-SERVICE, RFC 6940 §9) and offer relay candidates in Attach; with --ice")
	var turnServers stringList
	fs.Var(&turnServers, "turn", "a TURN server IP:PORT known in advance (repeatable; implies --turn-use)")
	turnRelayOnly := fs.Bool("turn-relay-only", false, "offer relay candidates only, so every link runs through a TURN server (needs --turn: servers are found in the overlay only after the join)")
	portMap := fs.Bool("portmap", false, "ask the NAT gateway (UPnP IGD or NAT-PMP, whichever answers) to forward a UDP port to this node, renew the mapping and remove it on exit, and offer the mapped address as a server-reflexive ICE candidate; with --ice")
	portMapPort := fs.Int("portmap-port", 0, "the local UDP port --portmap maps (0: a free one)")
	portMapGateway := fs.String("portmap-gateway", "", "the NAT-PMP gateway's IPv4 address for --portmap (default: the default route's gateway)")
	turnSecretFile := fs.String("turn-secret-file", "", "file holding the secret TURN credentials are derived from (default: the overlay configuration's shared-secret)")
	dataDir := fs.String("data", "", "directory for durable storage: stored data and SIP bindings (default: in memory)")
	dtlsSender := fs.String("dtls-sender", "windowed", "sender of DTLS-UDP-SR links (RFC 6940 §6.6.3): windowed (a congestion window, as NewReno) or stop-and-wait (§6.6.3.1: one message in flight, 10 ms after each ACK; for interop experiments)")
	sipUDP := fs.String("sip-udp", "", "run the SIP front end (RFC 7904) for local user agents on this UDP address")
	sipTCP := fs.String("sip-tcp", "", "run the SIP front end on this TCP address")
	sipCreds := fs.String("sip-credentials", "", "digest credentials of the SIP front end's users, lines \"USER PASSWORD\", mode 0600 (default: IDENTITY/sip-users, written by reload overlay init); a REGISTER needs its AOR's user's, a call any user's")
	sipNoAuth := fs.Bool("sip-no-auth", false, "let any SIP user agent that reaches --sip-udp/--sip-tcp register and call without credentials (trusted networks only)")
	coapAddr := fs.String("coap", "", "run the CoAP front end (RFC 7650) on this UDP address: constrained devices register with POST /rd?ep=NAME (stored as CoAP-REGISTRATION under coap://NAME/, which this node's certificate must hold) and CoAP clients reach them through the overlay with a Proxy-Uri coap://NAME/PATH; needs --coap-nosec")
	coapNoSec := fs.Bool("coap-nosec", false, "accept CoAP devices and clients on --coap without authentication (CoAP NoSec, RFC 7252 §9, the only mode implemented: trusted device networks only); what a device may register is still limited to the coap: URIs of this node's certificate")
	confLog := fs.String("conformance-log", "", "run as a reference peer for interop testing: check what other implementations send to this node against RFC 6940 (framing, headers, TTL and via lists, signatures, transaction ids, bodies, fragments) and append each deviation to FILE as a JSON line (- for stdout); counted in reload_conformance_deviations_total (default: off)")
	metricsAddr := fs.String("metrics", "", "also serve the Prometheus metrics at http://ADDR/metrics (default: off; no token asked there, unlike on the control API, which serves them too)")
	verbose := fs.Bool("v", false, "log debug messages")
	logJSON := fs.Bool("log-json", false, "write logs as JSON lines instead of text")
	responseRoutes := fs.String("response-routes", "off", "answer requests that ask for direct response routing (RFC 7263) or relay peer routing (RFC 7264) that way: off (always symmetric routing, as both RFCs advise outside managed networks), linked (only over a link already authenticated as the requester or relay peer: nothing is ever sent to the address a request names), or dial (also open a TLS link to that address, whose certificate must carry the requester's or relay peer's Node-ID); otherwise the answer goes by symmetric routing")
	omitCerts := fs.Bool("omit-certs", false, "leave this node's certificate out of the requests its applications send once it is stored in the overlay (RFC 6940 §8); receivers fetch it from there and cache it")
	partitionCheck := fs.Duration("partition-check", 0, "how often to look for a partition of the overlay (RFC 6940 §10.7.4.4): find a bootstrap peer (the --bootstrap peers and the configuration's bootstrap nodes) and Ping this node's own Node-ID through it, merging the rings if a stranger answers; the first check comes a tenth of it after the start; 0 means the overlay's chord-update-interval, a negative duration turns the checks off")
	var memLimit memoryLimit
	fs.Var(&memLimit, "memory-limit", memoryLimitHelp)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	defer memLimit.apply()()
	if *coapAddr != "" && !*coapNoSec {
		return usageError(fs, "--coap: devices cannot be authenticated yet (only CoAP NoSec, RFC 7252 §9, is implemented); add --coap-nosec to run the front end on a trusted device network")
	}
	switch {
	case *idDir == "" && *cfgPath == "" && src.overlay == "" && src.server == "":
		return usageError(fs, "--config and --identity are required (or, instead of --config, --overlay or --config-server to fetch the configuration)")
	case *idDir == "":
		return usageError(fs, "--identity is required")
	case *cfgPath == "" && src.overlay == "" && src.server == "":
		return usageError(fs, "give --config, or --overlay or --config-server to fetch the configuration")
	case *cfgPath != "" && src.server != "":
		return usageError(fs, "give --config or --config-server, not both")
	}
	if err := src.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	if err := checkControlAddr(*control, *controlRemote); err != nil {
		return usageError(fs, "%v", err)
	}
	if *iceLoopback && !*useICE {
		return usageError(fs, "--ice-loopback needs --ice")
	}
	useTURN := *turnListen != "" || *turnUse || len(turnServers) > 0 || *turnRelayOnly
	if useTURN && !*useICE {
		return usageError(fs, "--turn-server, --turn-use, --turn and --turn-relay-only need --ice")
	}
	if *turnRelayOnly && len(turnServers) == 0 {
		return usageError(fs, "--turn-relay-only needs --turn: a node finds TURN servers in the overlay only after its join")
	}
	if (*portMap || *portMapPort != 0 || *portMapGateway != "") && !*useICE {
		return usageError(fs, "--portmap needs --ice")
	}
	if (*portMapPort != 0 || *portMapGateway != "") && !*portMap {
		return usageError(fs, "--portmap-port and --portmap-gateway need --portmap")
	}
	if *portMapPort < 0 || *portMapPort > 65535 {
		return usageError(fs, "--portmap-port: want 0 to 65535")
	}
	if *portMap && *turnRelayOnly {
		return usageError(fs, "--portmap and --turn-relay-only exclude each other")
	}
	if *turnAdvertise != "" && *turnListen == "" {
		return usageError(fs, "--turn-advertise needs --turn-server")
	}
	stunList, err := stunURIs(stunSrv)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	bt, err := node.ParseBootstrapTransport(*bootTransport)
	if err != nil {
		return usageError(fs, "--bootstrap-transport: want auto, tls or dtls")
	}
	if *listenUDP != "" && *useICE {
		return usageError(fs, "--listen-udp is for links without ICE; with --ice, ICE gathers its own sockets")
	}
	if bt == node.BootstrapDTLS && *listenUDP == "" {
		return usageError(fs, "--bootstrap-transport dtls needs --listen-udp")
	}
	sender, err := transport.ParseSenderAlgorithm(*dtlsSender)
	if err != nil {
		return usageError(fs, "--dtls-sender: want windowed or stop-and-wait")
	}
	conf, raw, err := src.nodeConfig(base, *cfgPath, time.Now())
	if err != nil {
		return failure(stderr, "node", err)
	}
	id, err := readIdentity(*idDir)
	if err != nil {
		return failure(stderr, "node", err)
	}
	if *asNodeID != "" {
		n, err := pickNodeID(id, *asNodeID)
		if err != nil {
			return usageError(fs, "--node-id: %v", err)
		}
		if err := id.UseNodeID(n); err != nil {
			return usageError(fs, "--node-id: %v", err)
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *logJSON {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	cfg := node.Config{
		Overlay: conf, ConfigDocument: raw, Identity: id, ListenTLS: *listen,
		Bootstrap: boot, Seed: *seed, Client: *client, ICE: *useICE, STUN: stunList, DataDir: *dataDir, Logger: log,
	}
	cfg.ICELoopback = *iceLoopback
	cfg.OmitCertificates = *omitCerts
	cfg.PartitionCheck = *partitionCheck
	if cfg.ResponseRoutes, err = forwarding.ParseResponseRoutePolicy(*responseRoutes); err != nil {
		return failure(stderr, "node", fmt.Errorf("--response-routes: %w", err))
	}
	if useTURN {
		tc := &node.TURNConfig{Listen: *turnListen, Advertise: *turnAdvertise, Servers: turnServers, RelayOnly: *turnRelayOnly}
		if *turnSecretFile != "" {
			b, err := os.ReadFile(*turnSecretFile)
			if err != nil {
				return failure(stderr, "node", fmt.Errorf("--turn-secret-file: %w", err))
			}
			if tc.Secret = strings.TrimSpace(string(b)); tc.Secret == "" {
				return failure(stderr, "node", fmt.Errorf("--turn-secret-file: %s is empty", *turnSecretFile))
			}
		}
		cfg.TURN = tc
	}
	if *portMap {
		cfg.PortMap = &node.PortMapConfig{Port: *portMapPort, Gateway: *portMapGateway}
	}
	cfg.DTLSSender = sender
	cfg.ListenUDP, cfg.BootstrapTransport = *listenUDP, bt
	switch *confLog {
	case "":
	case "-":
		cfg.ConformanceLog = stdout
	default:
		f, err := os.OpenFile(*confLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return failure(stderr, "node", fmt.Errorf("--conformance-log: %w", err))
		}
		defer f.Close()
		cfg.ConformanceLog = f
		log.Info("conformance monitor on: deviations go to " + *confLog)
	}
	if *stunAddr != "" {
		pc, err := serveSTUN(*stunAddr, log)
		if err != nil {
			return failure(stderr, "node", err)
		}
		defer pc.Close()
		fmt.Fprintf(stdout, "STUN server on %s (UDP)\n", pc.LocalAddr())
	}
	if cfg.SIP, err = sipFrontend(*sipUDP, *sipTCP, *sipCreds, *idDir, *sipNoAuth); err != nil {
		return failure(stderr, "node", err)
	}
	if cfg.SIP != nil {
		cfg.SIP.DNSServer = src.dnsServer // RFC 3263 lookups of other domains
	}
	if cfg.SIP != nil && cfg.SIP.NoAuth {
		log.Warn("the SIP front end authenticates no one (--sip-no-auth): any host that reaches it can register this node's AOR and place calls")
	}
	if *coapAddr != "" {
		cfg.CoAP = &node.CoAPConfig{Addr: *coapAddr, NoSec: true}
		log.Warn("the CoAP front end authenticates no device (--coap-nosec): any host that reaches it can register the names of this node's certificate and send requests")
	}
	n, err := node.New(cfg)
	if err != nil {
		return failure(stderr, "node", err)
	}
	defer n.Close()
	ctl, err := serveControlAPI(n, *control, *controlToken, *controlRemote, false)
	if err != nil {
		return failure(stderr, "node", err)
	}
	defer ctl.close()
	if *controlRemote {
		log.Warn("the control API is plain HTTP beyond loopback: its token and all its data cross the network in clear", "control", ctl.addr)
	}
	var maddr net.Addr
	if *metricsAddr != "" {
		var msrv *http.Server
		if msrv, maddr, err = serveMetrics(*metricsAddr, n.Metrics()); err != nil {
			return failure(stderr, "node", fmt.Errorf("metrics: %w", err))
		}
		defer msrv.Close()
	}

	ctx, stop := signal.NotifyContext(base, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "node %s of %s\n  links    %s (TLS)\n  control  http://%s (token in %s)\n", id.NodeID(), cfg.Overlay.InstanceName, n.Addr(), ctl.addr, ctl.tokenPath)
	if u := uiURLOf(ctl); u != "" {
		fmt.Fprintf(stdout, "  web page %s\n", u)
	}
	if a := n.UDPAddr(); a != "" {
		fmt.Fprintf(stdout, "  links    %s (DTLS)\n", a)
	}
	if maddr != nil {
		fmt.Fprintf(stdout, "  metrics  http://%s/metrics\n", maddr)
	}
	// Start fails only for what no retry can fix (a malformed bootstrap
	// address); while no bootstrap peer answers, the node logs each round
	// and keeps dialling them with backoff.
	if err := n.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return exitOK // interrupted during the first round
		}
		return failure(stderr, "node", err)
	}
	slow := time.NewTimer(2 * time.Minute)
	defer slow.Stop()
	for joined := false; !joined; {
		select {
		case <-n.Joined():
			fmt.Fprintln(stdout, "joined the overlay")
			joined = true
		case <-ctx.Done():
			return exitOK
		case <-slow.C:
			log.Warn("not joined after 2 minutes, still trying: check --bootstrap and that the peers share the configuration")
		}
	}
	<-ctx.Done()
	lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Leave(lctx); err != nil {
		log.Debug("leave", "err", err)
	}
	return exitOK
}

// serveMetrics serves h at /metrics on addr (and nothing else there).
func serveMetrics(addr string, h http.Handler) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr(), nil
}

func printJSON(w io.Writer, raw json.RawMessage) {
	var v any
	if json.Unmarshal(raw, &v) == nil {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%s\n", raw)
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "reload status [flags]\n\nShow the Node-ID, neighbours, fingers and links of a running node.", stderr)
	control := addControlFlags(fs, "control API address of the node")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	var st node.Status
	var raw json.RawMessage
	if err := newControl(*control).do("GET", "/status", nil, nil, &raw); err != nil {
		return failure(stderr, "status", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return failure(stderr, "status", err)
	}
	joined := "not joined"
	if st.Joined {
		joined = "joined"
	}
	role := "peer"
	if st.Client {
		role = "client"
	}
	fmt.Fprintf(stdout, "node %s (%s, %s) of %s, up %s\n", st.NodeID, role, joined, st.Overlay, st.Uptime)
	fmt.Fprintf(stdout, "  listen        %s\n", st.Listen)
	if st.Range != "" {
		fmt.Fprintf(stdout, "  responsible   %s\n", st.Range)
	}
	list := func(name string, ids []string) {
		fmt.Fprintf(stdout, "  %-13s", name)
		if len(ids) == 0 {
			fmt.Fprintln(stdout, " (none)")
			return
		}
		for i, id := range ids {
			if i > 0 {
				fmt.Fprintf(stdout, "  %-13s", "")
			}
			fmt.Fprintf(stdout, " %s\n", id)
		}
	}
	list("predecessors", st.Predecessors)
	list("successors", st.Successors)
	list("fingers", st.Fingers)
	fmt.Fprintf(stdout, "  links         %d\n", len(st.Links))
	for _, l := range st.Links {
		fmt.Fprintf(stdout, "                %s %s %s", l.NodeID, l.Type, l.Remote)
		if l.ICE != nil {
			fmt.Fprintf(stdout, " (ICE %s %s -> %s %s)", l.ICE.LocalType, l.ICE.Local, l.ICE.RemoteType, l.ICE.Remote)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "  requests      %d sent, %d received\n", st.Sent, st.Received)
	if p := st.PortMap; p != nil {
		switch {
		case p.Mapped != "":
			fmt.Fprintf(stdout, "  portmap       %s mapped %s -> %s\n", p.Method, p.Mapped, p.Internal)
		case p.Error != "":
			fmt.Fprintf(stdout, "  portmap       not mapped (%s): %s\n", p.Internal, p.Error)
		default:
			fmt.Fprintf(stdout, "  portmap       not mapped yet (%s)\n", p.Internal)
		}
	}
	if t := st.SelfTuning; t != nil {
		// RFC 7363 §6.
		fmt.Fprintf(stdout, "  self-tuning   network size %.0f (own estimate %.0f), failure rate %.3g/s, join rate %.3g/s\n",
			t.NetworkSize, t.LocalSize, t.FailureRate, t.JoinRate)
		fmt.Fprintf(stdout, "                update interval %s, %d successors, %d predecessors, %d fingers\n",
			t.UpdateInterval, t.Successors, t.Predecessors, t.Fingers)
	}
	return exitOK
}

func runPing(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ping", "reload ping [flags] DEST\n\nPing DEST through the overlay from a running node (RFC 6940 §6.5.3), with\nRFC 7851 diagnostics when --diag names kinds. DEST is a Node-ID in hex, node:HEX,\nresource:HEX, or a resource name.", stderr)
	control := addControlFlags(fs, "control API address of the node that sends the ping")
	kinds := fs.String("diag", "", "diagnostic kinds to ask for: names or numbers, comma-separated, or all")
	count := fs.Int("count", 1, "number of pings")
	fs.IntVar(count, "c", 1, "short for --count")
	route := fs.String("route", "srr", "how the answer comes back: srr (symmetric routing, the reverse path), drr (straight to the node's listener, RFC 7263) or rpr (through its relay peer, RFC 7264); the destination answers by srr unless its --response-routes allows the others")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give one destination")
	}
	if _, err := node.ParseRouteMode(*route); err != nil {
		return usageError(fs, "--route: %v", err)
	}
	if *count < 1 {
		return usageError(fs, "--count must be at least 1")
	}
	if _, err := node.ParseDestination(fs.Arg(0)); err != nil {
		return usageError(fs, "%v", err)
	}
	if *kinds != "" {
		if _, err := diag.ParseKinds(*kinds); err != nil {
			return usageError(fs, "--diag: %v", err)
		}
	}
	q := url.Values{"dest": {fs.Arg(0)}}
	if *kinds != "" {
		q.Set("diag", *kinds)
	}
	if *route != "srr" {
		q.Set("route", *route)
	}
	c := newControl(*control)
	failed := 0
	for i := range *count {
		var raw json.RawMessage
		if err := c.do("POST", "/ping", q, nil, &raw); err != nil {
			failure(stderr, "ping", fmt.Errorf("%s: %w", fs.Arg(0), err))
			failed++
			continue
		}
		if *asJSON {
			printJSON(stdout, raw)
			continue
		}
		var r struct {
			From   string  `json:"from"`
			RTTms  float64 `json:"rtt_ms"`
			Hops   int     `json:"hops"`
			Values []struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
				Unit  string `json:"unit"`
			} `json:"values"`
		}
		_ = json.Unmarshal(raw, &r)
		fmt.Fprintf(stdout, "reply from %s: seq=%d hops=%d time=%.2f ms\n", r.From, i+1, r.Hops, r.RTTms)
		for _, v := range r.Values {
			fmt.Fprintf(stdout, "  %-22s %v %s\n", v.Name, v.Value, v.Unit)
		}
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

func runTraceroute(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("traceroute", "reload traceroute [flags] DEST\n\nTrace the overlay path from a running node to DEST with PathTrack (RFC 7851 §4.3).", stderr)
	control := addControlFlags(fs, "control API address of the node that traces")
	kinds := fs.String("diag", "", "diagnostic kinds to ask each hop for")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give one destination")
	}
	if _, err := node.ParseDestination(fs.Arg(0)); err != nil {
		return usageError(fs, "%v", err)
	}
	if *kinds != "" {
		if _, err := diag.ParseKinds(*kinds); err != nil {
			return usageError(fs, "--diag: %v", err)
		}
	}
	q := url.Values{"dest": {fs.Arg(0)}}
	if *kinds != "" {
		q.Set("diag", *kinds)
	}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/traceroute", q, nil, &raw); err != nil {
		return failure(stderr, "traceroute", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var hops []map[string]any
	if err := json.Unmarshal(raw, &hops); err != nil {
		return failure(stderr, "traceroute", err)
	}
	fmt.Fprintf(stdout, "traceroute to %s, %d hops\n", fs.Arg(0), len(hops))
	bad := false
	for _, h := range hops {
		fmt.Fprintf(stdout, "%3v  %v  %.2f ms", h["n"], h["node"], h["rtt_ms"])
		if e, ok := h["error"]; ok && e != nil && e != "" {
			fmt.Fprintf(stdout, "  !%v", e)
			bad = true
		}
		fmt.Fprintln(stdout)
	}
	if bad {
		return exitFail
	}
	return exitOK
}

func runStore(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("store", "reload store [flags] RESOURCE KIND VALUE\n\nStore VALUE under the resource name RESOURCE (or resource:HEX) with KIND\n(SIP-REGISTRATION, TURN-SERVICE, CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER or a\nnumber) through a running node, signed by it (RFC 6940 §7.4.1).", stderr)
	control := addControlFlags(fs, "control API address of the node that stores")
	key := fs.String("key", "", "dictionary key in hex (default: the node's Node-ID)")
	index := fs.String("index", "", "array index (default: append)")
	lifetime := fs.Int("lifetime", 3600, "lifetime in seconds")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 3 {
		return usageError(fs, "give RESOURCE KIND VALUE")
	}
	if *lifetime < 1 {
		return usageError(fs, "--lifetime must be at least 1 second")
	}
	if _, err := node.ParseKind(fs.Arg(1)); err != nil {
		return usageError(fs, "%v", err)
	}
	q := url.Values{"resource": {fs.Arg(0)}, "kind": {fs.Arg(1)}, "lifetime": {fmt.Sprint(*lifetime)}}
	if *key != "" {
		q.Set("key", *key)
	}
	if *index != "" {
		q.Set("index", *index)
	}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/store", q, []byte(fs.Arg(2)), &raw); err != nil {
		return failure(stderr, "store", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Resource string
		Kinds    []struct {
			Kind       string
			Generation uint64
			Replicas   []string
		}
	}
	_ = json.Unmarshal(raw, &r)
	for _, k := range r.Kinds {
		fmt.Fprintf(stdout, "stored %s at %s: generation %d, replicas %s\n", k.Kind, r.Resource, k.Generation, strings.Join(k.Replicas, " "))
	}
	return exitOK
}

func runFetch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fetch", "reload fetch [flags] RESOURCE KIND\n\nFetch every value of KIND under RESOURCE through a running node (RFC 6940 §7.4.2).", stderr)
	control := addControlFlags(fs, "control API address of the node that fetches")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 2 {
		return usageError(fs, "give RESOURCE KIND")
	}
	if _, err := node.ParseKind(fs.Arg(1)); err != nil {
		return usageError(fs, "%v", err)
	}
	var raw json.RawMessage
	if err := newControl(*control).do("GET", "/fetch", url.Values{"resource": {fs.Arg(0)}, "kind": {fs.Arg(1)}}, nil, &raw); err != nil {
		return failure(stderr, "fetch", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Resource, Kind, From string
		Values               []struct {
			Key    string
			Index  *uint32
			Exists bool
			Value  string
		}
		Discarded []string
	}
	_ = json.Unmarshal(raw, &r)
	fmt.Fprintf(stdout, "%s at %s: %d values\n", r.Kind, r.Resource, len(r.Values))
	if len(r.Discarded) > 0 {
		// RFC 6940 §7.4.2.2: a partial answer is signalled.
		fmt.Fprintf(stderr, "reload fetch: partial answer: %d values from %s failed verification and were discarded:\n", len(r.Discarded), r.From)
		for _, d := range r.Discarded {
			fmt.Fprintf(stderr, "  %s\n", d)
		}
	}
	for _, v := range r.Values {
		where := "single"
		if v.Key != "" {
			where = "key " + v.Key
		} else if v.Index != nil {
			where = fmt.Sprintf("index %d", *v.Index)
		}
		if !v.Exists {
			fmt.Fprintf(stdout, "  %s: (deleted)\n", where)
			continue
		}
		fmt.Fprintf(stdout, "  %s: %q\n", where, v.Value)
	}
	return exitOK
}

func runStat(args []string, stdout, stderr io.Writer) int {
	return runQuery("stat", "/stat", "reload stat [flags] RESOURCE KIND\n\nShow the metadata (sizes, hashes, times) of every value of KIND under RESOURCE (RFC 6940 §7.4.3).", args, stdout, stderr)
}

func runFind(args []string, stdout, stderr io.Writer) int {
	return runQuery("find", "/find", "reload find [flags] RESOURCE KIND\n\nAsk the peer responsible for RESOURCE for the closest Resource-ID it stores of KIND (RFC 6940 §7.4.4).", args, stdout, stderr)
}

// runQuery is a read-only control API call printed as JSON.
func runQuery(name, path, synopsis string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, synopsis, stderr)
	control := addControlFlags(fs, "control API address of the node that asks")
	fs.Bool("json", true, "print JSON (the only output form of this command)")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 2 {
		return usageError(fs, "give RESOURCE KIND")
	}
	if _, err := node.ParseKind(fs.Arg(1)); err != nil {
		return usageError(fs, "%v", err)
	}
	var raw json.RawMessage
	if err := newControl(*control).do("GET", path, url.Values{"resource": {fs.Arg(0)}, "kind": {fs.Arg(1)}}, nil, &raw); err != nil {
		return failure(stderr, name, err)
	}
	printJSON(stdout, raw)
	return exitOK
}

// pickNodeID reads --node-id: a Node-ID in hex, or the 1-based position
// of one among the certificate's Node-IDs.
func pickNodeID(id *security.Identity, v string) (wire.NodeID, error) {
	ids := id.Cert.NodeIDs
	if i, err := strconv.Atoi(v); err == nil && len(v) < 4 {
		if i < 1 || i > len(ids) {
			return wire.NodeID{}, fmt.Errorf("position %d: the certificate has %d Node-ID(s)", i, len(ids))
		}
		return ids[i-1], nil
	}
	n, err := wire.ParseNodeID(v)
	if err != nil {
		return wire.NodeID{}, err
	}
	if !id.Cert.HasNodeID(n) {
		return wire.NodeID{}, fmt.Errorf("%v is not one of the certificate's Node-IDs %v", n, ids)
	}
	return n, nil
}
