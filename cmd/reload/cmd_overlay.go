package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/enroll"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Files of an overlay directory made by "reload overlay init".
const (
	fileConfig    = "overlay.xml"
	fileCA        = "ca.pem"
	fileCAKey     = "ca-key.pem"
	fileUsers     = "users.json"
	filePasswords = "passwords.txt"
	fileCert      = "cert.pem"
	fileKey       = "key.pem"
	dirSigner     = "signer"
	dirNodes      = "nodes"
)

const overlayUsage = `usage: reload overlay <command> [flags]

Commands:
  init    create an overlay: CA, signed configuration, enrolled node identities
  serve   run the configuration and enrollment servers of an overlay (HTTPS)
  sign    raise the sequence of an edited configuration and sign it again
  push    hand a signed configuration to a running node, which spreads it

Run "reload overlay <command> --help" for the flags of a command.
`

// runOverlay implements "reload overlay".
func runOverlay(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, overlayUsage)
		return 2
	}
	switch args[0] {
	case "init":
		return overlayInit(args[1:], stdout, stderr)
	case "serve":
		return overlayServe(args[1:], stdout, stderr)
	case "sign":
		return overlaySign(args[1:], stdout, stderr)
	case "push":
		return overlayPush(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, overlayUsage)
		return 0
	}
	fmt.Fprintf(stderr, "reload overlay: unknown command %q\n\n%s", args[0], overlayUsage)
	return 2
}

// maxFrameMessage is the largest message a framed link carries: the
// length of a data frame is 24 bits (RFC 6940 §6.6.5).
const maxFrameMessage = 1<<24 - 1

// initOptions are the flags of "reload overlay init".
type initOptions struct {
	dir, name, enrollURL, configAlg string
	topology                        string // topology-plugin (RFC 6940 §11.1)
	nodes, days                     int
	maxMessageSize                  int
	algo                            security.KeyAlgorithm
	selfSigned                      bool
	selfTuning                      int // number-of-peers-to-probe; 0: no self-tuning (RFC 7363)
	bootstrap                       []config.BootstrapNode
	kinds                           []string // extension Kinds to define (config.ExtensionKinds)
	json                            bool     // print the result as JSON
}

// initResult is what "reload overlay init --json" prints.
type initResult struct {
	Overlay    string     `json:"overlay"`
	Dir        string     `json:"dir"`
	Config     string     `json:"config"`
	Sequence   uint16     `json:"sequence"`
	Signer     string     `json:"signer"`
	CA         string     `json:"ca,omitempty"`
	SelfSigned bool       `json:"self_signed"`
	Users      string     `json:"users"`
	Passwords  string     `json:"passwords"`
	Nodes      []initNode `json:"nodes"`
}

type initNode struct {
	Name     string `json:"name"`
	NodeID   string `json:"node_id"`
	User     string `json:"user"`
	Identity string `json:"identity"`
}

func overlayInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload overlay init",
		"reload overlay init --dir DIR --name OVERLAY [--nodes N] [--algo ecdsa|rsa|ed25519] [--self-signed] [--bootstrap IP:PORT ...] [--max-message-size BYTES] [--topology CHORD-RELOAD|ONE-HOP] [--self-tuning N] [--kind NAME ...] [--json]\n\nCreate an overlay in DIR (RFC 6940 §11): an enrollment CA (ca.pem), a signed\nconfiguration document (overlay.xml), enrollment accounts (users.json,\npasswords.txt) and N node identities (nodes/nodeI/cert.pem, key.pem), each\nwith the SIP digest password of its user (nodes/nodeI/sip-users, read by\nreload node --sip-udp). The configuration's max-message-size is 64 KiB unless\n--max-message-size says otherwise; init refuses a size too small for a\nConfigUpdate carrying the signed configuration (RFC 6940 §6.5.4).", stderr)
	var o initOptions
	var algo string
	var bootstrap stringList
	fs.StringVar(&o.dir, "dir", "", "directory to create the overlay in (required)")
	fs.StringVar(&o.name, "name", "", "overlay instance name, a DNS name such as overlay.example.org (required)")
	fs.IntVar(&o.nodes, "nodes", 1, "number of node identities to enroll")
	fs.StringVar(&algo, "algo", "ecdsa", "node key algorithm: ecdsa (P-256), rsa (2048) or ed25519")
	fs.BoolVar(&o.selfSigned, "self-signed", false, "self-signed node certificates (RFC 6940 §11.3.1) instead of enrollment")
	fs.Var(&bootstrap, "bootstrap", "bootstrap node as IP:port (repeatable)")
	fs.StringVar(&o.enrollURL, "enrollment-url", "https://localhost:8443"+enroll.DefaultEnrollPath, "enrollment-server URL to put in the configuration")
	fs.StringVar(&o.configAlg, "config-alg", config.AlgorithmRSASHA1, "configuration signature algorithm: rsa-sha1 (RFC 6940) or, as an extension, rsa-sha256, ecdsa-sha256, ...")
	fs.IntVar(&o.days, "days", 365, "validity of the CA, the configuration and the certificates, in days")
	fs.IntVar(&o.maxMessageSize, "max-message-size", config.RecommendedMaxMessageSize,
		"max-message-size to write (RFC 6940 §11.1): the largest message in the overlay, in bytes; it must hold a ConfigUpdate with the signed configuration, which RFC 6940's default of 5000 cannot")
	fs.StringVar(&o.topology, "topology", config.DefaultTopologyPlugin,
		"topology-plugin to write (RFC 6940 §11.1): CHORD-RELOAD (§10), or ONE-HOP, a full-membership one-hop topology for overlays of tens of peers; every peer of the overlay runs it")
	fs.IntVar(&o.selfTuning, "self-tuning", 0,
		"turn on self-tuning CHORD-RELOAD (RFC 7363) with this number-of-peers-to-probe (4 is the RFC's default; 0: off): peers estimate the overlay size and churn and adapt their stabilisation interval and table sizes")
	var kinds stringList
	fs.Var(&kinds, "kind", "also define this extension Kind (repeatable): REDIR (RFC 7374 service discovery, for reload service), ACCESS-CONTROL-LIST (RFC 8076 shared resources, for reload acl), CoAP-REGISTRATION and CoAP-CACHING (RFC 7650, for reload node --coap); the base Kinds are always defined")
	fs.BoolVar(&o.json, "json", false, "print the files and node identities as JSON")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	switch {
	case o.dir == "":
		return usageError(fs, "--dir is required")
	case o.name == "":
		return usageError(fs, "--name is required")
	case !validOverlayName(o.name):
		return usageError(fs, "--name %q is not a valid overlay name (letters, digits, '-', '.', '_')", o.name)
	case o.nodes < 0 || o.nodes > 10000:
		return usageError(fs, "--nodes must be between 0 and 10000")
	case o.days < 1:
		return usageError(fs, "--days must be positive")
	case o.selfTuning < 0 || o.selfTuning > 1<<16:
		return usageError(fs, "--self-tuning must be between 0 (off) and 65536")
	case !slices.ContainsFunc(node.TopologyPlugins, func(p string) bool { return strings.EqualFold(p, o.topology) }):
		return usageError(fs, "--topology %q is not a topology plugin this implementation has (%s)", o.topology, strings.Join(node.TopologyPlugins, ", "))
	case o.maxMessageSize < 1 || o.maxMessageSize > maxFrameMessage:
		// §6.6.5: a framed message's length is 24 bits.
		return usageError(fs, "--max-message-size must be between 1 and %d", maxFrameMessage)
	}
	var err error
	if o.algo, err = security.ParseKeyAlgorithm(algo); err != nil {
		return usageError(fs, "%v", err)
	}
	if _, err := config.ParseAlgorithm(o.configAlg); err != nil {
		return usageError(fs, "--config-alg: %v", err)
	}
	ext := config.ExtensionKinds()
	for _, k := range kinds {
		i := slices.IndexFunc(slices.Sorted(maps.Keys(ext)), func(n string) bool { return strings.EqualFold(n, k) })
		if i < 0 {
			return usageError(fs, "--kind %q is not an extension Kind this implementation defines (%s)", k, strings.Join(slices.Sorted(maps.Keys(ext)), ", "))
		}
		if name := slices.Sorted(maps.Keys(ext))[i]; !slices.Contains(o.kinds, name) {
			o.kinds = append(o.kinds, name)
		}
	}
	for _, b := range bootstrap {
		bn, err := parseBootstrap(b)
		if err != nil {
			return usageError(fs, "--bootstrap %q: %v", b, err)
		}
		o.bootstrap = append(o.bootstrap, bn)
	}
	if err := initOverlay(&o, time.Now(), stdout); err != nil {
		return failure(stderr, "reload overlay init", err)
	}
	return 0
}

func validOverlayName(name string) bool {
	var id [16]byte
	id[0] = 1
	_, err := wire.ParseURI(wire.NodeURI(wire.MustNodeID(id[:]), name))
	return err == nil
}

func parseBootstrap(s string) (config.BootstrapNode, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return config.BootstrapNode{}, err
	}
	if net.ParseIP(host) == nil {
		return config.BootstrapNode{}, errors.New("the address must be an IPv4 or IPv6 address (RFC 6940 §11.1)")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return config.BootstrapNode{}, errors.New("bad port")
	}
	return config.BootstrapNode{Address: host, Port: p}, nil
}

// writeFile writes b to dir/name with mode perm, refusing to overwrite.
func writeFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeIdentity writes dir/cert.pem and dir/key.pem.
func writeIdentity(dir string, id *security.Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyPEM, err := security.MarshalKeyPEM(id.Key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, fileCert), security.MarshalCertsPEM(id.Chain...), 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, fileKey), keyPEM, 0o600)
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newIdentity makes a key and a certificate for account: enrolled through
// srv, or self-signed.
func newIdentity(o *initOptions, srv *enroll.Server, alg security.KeyAlgorithm, account string, now time.Time) (*security.Identity, error) {
	key, err := security.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	if o.selfSigned {
		der, _, err := security.CreateSelfSigned(key, srv.CertUser(account), o.name, crypto.SHA256, 1, wire.DefaultNodeIDLen,
			now.Add(-5*time.Minute), now.AddDate(0, 0, o.days))
		if err != nil {
			return nil, err
		}
		return security.NewIdentity(key, [][]byte{der})
	}
	csr, err := security.CreateCSR(key, "")
	if err != nil {
		return nil, err
	}
	der, err := srv.IssueAuthenticated(account, 1, csr)
	if err != nil {
		return nil, err
	}
	return security.NewIdentity(key, [][]byte{der})
}

func initOverlay(o *initOptions, now time.Time, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(o.dir, fileConfig)); err == nil {
		return hint(fmt.Errorf("%s already holds an overlay (%s exists)", o.dir, fileConfig), "choose another --dir, or remove that one")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	notAfter := now.AddDate(0, 0, o.days)

	// The CA signs node certificates and the HTTPS servers' certificates.
	// With Ed25519 node keys the CA stays ECDSA P-256: Ed25519 pays off
	// in the signature of every message, a CA signs rarely, and
	// certificate chains signed with ECDSA are what more stacks check.
	caAlgo := o.algo
	if caAlgo == security.KeyEd25519 {
		caAlgo = security.KeyECDSAP256
	}
	caKey, err := security.GenerateKey(caAlgo)
	if err != nil {
		return err
	}
	ca, err := security.NewCA(caKey, o.name+" RELOAD enrollment CA", now.Add(-5*time.Minute), notAfter.Add(24*time.Hour))
	if err != nil {
		return err
	}
	caKeyPEM, err := security.MarshalKeyPEM(caKey)
	if err != nil {
		return err
	}

	users, err := enroll.LoadUserDB(filepath.Join(o.dir, fileUsers))
	if err != nil {
		return err
	}
	srv := &enroll.Server{Overlay: o.name, CA: ca, Users: users, Lifetime: notAfter.Sub(now)}
	var passwords strings.Builder
	addUser := func(account string) error {
		pw, err := randomPassword()
		if err != nil {
			return err
		}
		if err := users.SetPassword(account, pw); err != nil {
			return err
		}
		fmt.Fprintf(&passwords, "%s %s\n", account, pw)
		return nil
	}

	// The configuration and kind signer.
	sigAlg, _ := config.ParseAlgorithm(o.configAlg)
	signerAlgo := security.KeyECDSAP256
	if sigAlg.Signature == wire.SigRSA {
		signerAlgo = security.KeyRSA2048
	}
	if err := addUser("admin"); err != nil {
		return err
	}
	signer, err := newIdentity(o, srv, signerAlgo, "admin", now)
	if err != nil {
		return fmt.Errorf("configuration signer: %w", err)
	}

	c := config.New(o.name)
	c.MaxMessageSize = config.RecommendedMaxMessageSize
	if i := slices.IndexFunc(node.TopologyPlugins, func(p string) bool { return strings.EqualFold(p, o.topology) }); i >= 0 {
		c.TopologyPlugin = node.TopologyPlugins[i]
	}
	if o.maxMessageSize > 0 {
		c.MaxMessageSize = uint32(o.maxMessageSize)
	}
	if o.selfTuning > 0 {
		c.SetSelfTuning(o.selfTuning)
	}
	c.Expiration = notAfter.UTC().Truncate(time.Second)
	c.BootstrapNodes = o.bootstrap
	c.ConfigurationSigners = []string{signer.NodeID().String()}
	c.KindSigners = []string{signer.NodeID().String()}
	if o.selfSigned {
		c.SelfSignedPermitted, c.SelfSignedDigest = true, "sha256"
	} else {
		c.RootCerts = [][]byte{ca.Cert.Raw}
		c.EnrollmentServers = []string{o.enrollURL}
	}
	c.RequiredKinds = config.StandardKinds()
	for _, k := range o.kinds {
		c.RequiredKinds = append(c.RequiredKinds, config.ExtensionKinds()[k])
	}
	doc := &config.Document{Configurations: []*config.Configuration{c}}
	for i := range c.RequiredKinds {
		if err := doc.SignKind(c, &c.RequiredKinds[i], signer, ""); err != nil {
			return err
		}
	}
	if err := doc.Sign(c, signer, o.configAlg); err != nil {
		return fmt.Errorf("signing the configuration: %w", err)
	}
	raw, err := doc.Marshal()
	if err != nil {
		return err
	}
	// §6.5.4: a new configuration reaches the running nodes in a
	// ConfigUpdate, which carries the whole signed document and is bound
	// by max-message-size like any message.
	if err := c.CheckUpdateSize(len(raw)); err != nil {
		return hint(err, fmt.Sprintf("use --max-message-size %d or more", len(raw)+config.ConfigUpdateReserve))
	}
	// Files are written once the configuration is known to be usable.
	if err := writeFile(filepath.Join(o.dir, fileCA), security.MarshalCertsPEM(ca.Cert.Raw), 0o644); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(o.dir, fileCAKey), caKeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeIdentity(filepath.Join(o.dir, dirSigner), signer); err != nil {
		return err
	}

	// Node identities.
	type nodeInfo struct {
		name string
		id   *security.Identity
	}
	var nodes []nodeInfo
	for i := 1; i <= o.nodes; i++ {
		account := "node" + strconv.Itoa(i)
		if err := addUser(account); err != nil {
			return err
		}
		id, err := newIdentity(o, srv, o.algo, account, now)
		if err != nil {
			return fmt.Errorf("%s: %w", account, err)
		}
		if err := writeIdentity(filepath.Join(o.dir, dirNodes, account), id); err != nil {
			return err
		}
		// The digest password of the node's SIP user (its AOR is the
		// certificate's user, RFC 7904 §3.3), for "reload node --sip-udp".
		sipPW, err := randomPassword()
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(o.dir, dirNodes, account, fileSIPUsers), []byte(account+" "+sipPW+"\n"), 0o600); err != nil {
			return err
		}
		nodes = append(nodes, nodeInfo{account, id})
	}
	if err := writeFile(filepath.Join(o.dir, filePasswords), []byte(passwords.String()), 0o600); err != nil {
		return err
	}
	if err := users.Save(); err != nil {
		return err
	}
	// Last, so that an interrupted init can be rerun after removing DIR.
	if err := writeFile(filepath.Join(o.dir, fileConfig), raw, 0o644); err != nil {
		return err
	}

	res := initResult{
		Overlay: o.name, Dir: o.dir, Config: filepath.Join(o.dir, fileConfig), Sequence: c.Sequence, Signer: signer.NodeID().String(),
		SelfSigned: o.selfSigned, Users: filepath.Join(o.dir, fileUsers), Passwords: filepath.Join(o.dir, filePasswords),
		Nodes: []initNode{},
	}
	if !o.selfSigned {
		res.CA = filepath.Join(o.dir, fileCA)
	}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, initNode{Name: n.name, NodeID: n.id.NodeID().String(), User: n.id.Cert.User, Identity: filepath.Join(o.dir, dirNodes, n.name)})
	}
	if o.json {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	mode := "enrollment CA " + res.CA
	if o.selfSigned {
		mode = "self-signed certificates (sha256 Node-IDs)"
	}
	fmt.Fprintf(stdout, "overlay %s created in %s\n", o.name, o.dir)
	fmt.Fprintf(stdout, "  configuration  %s (sequence %d, signed %s by %s)\n", res.Config, c.Sequence, o.configAlg, signer.NodeID())
	fmt.Fprintf(stdout, "  trust          %s\n", mode)
	fmt.Fprintf(stdout, "  accounts       %s, passwords in %s\n", res.Users, res.Passwords)
	for _, n := range res.Nodes {
		fmt.Fprintf(stdout, "  %-14s %s %s %s\n", n.Name, n.NodeID, n.User, n.Identity)
	}
	return nil
}

func overlayServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload overlay serve", "reload overlay serve --dir DIR [--listen HOST:PORT] [--trust-forwarded-for]\n\nServe the overlay's configuration document (GET /.well-known/reload-config) and\nits enrollment server (RFC 6940 §11.2, §11.3) over HTTPS until interrupted.\n\nPassword guessing is limited: after 5 failed attempts for an account, or 20\nfrom a client address, further attempts get 429 Too Many Requests with a\nRetry-After that doubles with each failure (2 s up to 15 min), before any\npassword check. Failures are logged with the account and client address.", stderr)
	dir := fs.String("dir", "", "overlay directory made by \"reload overlay init\" (required)")
	addr := fs.String("listen", "localhost:8443", "address to serve HTTPS on")
	fs.StringVar(addr, "addr", "localhost:8443", "same as --listen")
	trustXFF := fs.Bool("trust-forwarded-for", false, "count clients by the last X-Forwarded-For entry, not the connection's address (only behind a reverse proxy that sets it)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *dir == "" {
		return usageError(fs, "--dir is required")
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return usageError(fs, "--listen: %v", err)
	}
	run, _, err := startOverlayServerWith(*dir, *addr, log.New(stderr, "", log.LstdFlags), enroll.Limits{TrustForwardedFor: *trustXFF})
	if err != nil {
		return failure(stderr, "reload overlay serve", err)
	}
	fmt.Fprintf(stdout, "serving\n  configuration  %s%s\n  enrollment     %s%s\n", run.URL, config.WellKnownPath, run.URL, enroll.DefaultEnrollPath)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run.Wait(ctx); err != nil {
		return failure(stderr, "reload overlay serve", err)
	}
	return 0
}

// startOverlayServer loads an overlay directory and starts its
// configuration and enrollment server on addr, with an HTTPS certificate
// from the overlay's CA for the overlay name, the host of addr and the
// loopback names.
func startOverlayServer(dir, addr string, logger *log.Logger) (*enroll.Running, *enroll.Server, error) {
	return startOverlayServerWith(dir, addr, logger, enroll.Limits{})
}

// startOverlayServerWith is startOverlayServer with the enrollment
// server's limits on password guessing.
func startOverlayServerWith(dir, addr string, logger *log.Logger, limits enroll.Limits) (*enroll.Running, *enroll.Server, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	raw, err := read(fileConfig)
	if err != nil {
		return nil, nil, err
	}
	doc, err := config.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	c := doc.Configurations[0]
	caPEM, err := read(fileCA)
	if err != nil {
		return nil, nil, err
	}
	caKey, err := read(fileCAKey)
	if err != nil {
		return nil, nil, err
	}
	ca, err := security.LoadCA(caPEM, caKey)
	if err != nil {
		return nil, nil, err
	}
	users, err := enroll.LoadUserDB(filepath.Join(dir, fileUsers))
	if err != nil {
		return nil, nil, err
	}
	srv := &enroll.Server{Overlay: c.InstanceName, CA: ca, Users: users, NodeIDLen: c.NodeIDLength, Log: logger, Limits: limits}
	srv.SetConfig(raw)
	hosts := []string{c.InstanceName, "localhost", "127.0.0.1", "::1"}
	if h, _, _ := net.SplitHostPort(addr); h != "" && !isUnspecified(h) {
		hosts = append(hosts, h)
	}
	now := time.Now()
	cert, err := enroll.ServerCertificate(ca, hosts, now.Add(-5*time.Minute), ca.Cert.NotAfter)
	if err != nil {
		return nil, nil, err
	}
	run, err := srv.Start(addr, cert)
	if err != nil {
		return nil, nil, err
	}
	return run, srv, nil
}

func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
