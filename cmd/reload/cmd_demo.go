package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
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
	linkcapture "github.com/goreload/reload/transport/capture"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// demoStep is one line of the demo's report.
type demoStep struct {
	Name   string  `json:"step"`
	OK     bool    `json:"ok"`
	Ms     float64 `json:"ms"`
	Detail string  `json:"detail"`
}

type demoReport struct {
	Overlay string     `json:"overlay"`
	Nodes   int        `json:"nodes"`
	Links   string     `json:"links"`
	Dir     string     `json:"dir"`
	Steps   []demoStep `json:"steps"`
	Ring    []string   `json:"ring"`
	OK      bool       `json:"ok"`
	// Capture says where --pcap wrote the recording of the links.
	Capture *demoCapture `json:"capture,omitempty"`
}

// demoCapture names the files of a recorded demo: the pcap file, the
// (D)TLS key log, and a Wireshark Lua script that decodes the TCP ports
// that carried TLS links (TLSPorts) as TLS with RELOAD framing inside (DTLS
// over UDP Wireshark finds by itself). Wireshark is the command line that
// opens them.
type demoCapture struct {
	Pcap      string   `json:"pcap"`
	KeyLog    string   `json:"keylog"`
	Lua       string   `json:"lua"`
	TLSPorts  []uint16 `json:"tls_ports"`
	Wireshark string   `json:"wireshark"`
}

// demoOptions are the demo's flags.
type demoOptions struct {
	nodes  int
	useICE bool
	// capture and keyLog record the overlay links (nil: not recorded).
	capture *linkcapture.Capture
	keyLog  io.Writer
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "reload demo [flags]\n\nStart a local RELOAD overlay with its own CA, configuration and enrollment\nserver, join N peers on loopback, and exercise it: ring, store and fetch,\ndiagnostic ping, traceroute, and a SIP call between two built-in phones\n(and another with sipp when it is installed).\n\nWith --pcap FILE, the overlay links of every peer are recorded in FILE\n(pcap, encrypted as sent), their (D)TLS secrets in the key log FILE.keys\n(or --keylog), and FILE.lua tells Wireshark which TCP ports carry RELOAD\nover TLS; the report gives the command that opens them in Wireshark.\nExits 0 only when every step worked.", stderr)
	nodes := fs.Int("nodes", 8, "number of peers")
	useICE := fs.Bool("ice", true, "links between peers over DTLS with ICE (false: TLS)")
	keep := fs.Bool("keep", false, "leave the overlay running until interrupted and print how to reach it")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pcapPath := fs.String("pcap", "", "record the overlay links of all peers (encrypted, as sent) in this pcap file")
	keylog := fs.String("keylog", "", "write the (D)TLS key log of the --pcap file here (default: the pcap file name + .keys)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *nodes < 2 || *nodes > 64 {
		return usageError(fs, "--nodes must be between 2 and 64")
	}
	if *keylog != "" && *pcapPath == "" {
		return usageError(fs, "--keylog goes with --pcap")
	}
	progress := stderr
	if *asJSON {
		progress = io.Discard
	}
	o := demoOptions{nodes: *nodes, useICE: *useICE}
	var pf *os.File
	if *pcapPath != "" {
		var err error
		if pf, err = os.Create(*pcapPath); err != nil {
			return failure(stderr, "demo", err)
		}
		defer pf.Close()
		if o.capture, err = linkcapture.New(pf, linkcapture.Sent); err != nil {
			return failure(stderr, "demo", err)
		}
		if *keylog == "" {
			*keylog = *pcapPath + ".keys"
		}
		kf, err := os.OpenFile(*keylog, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return failure(stderr, "demo", err)
		}
		defer kf.Close()
		o.keyLog = kf
	}
	rep, nodesUp, cleanup := demo(o, progress)
	if pf != nil {
		c := &demoCapture{Pcap: absPath(pf.Name()), KeyLog: absPath(*keylog), Lua: absPath(pf.Name()) + ".lua",
			TLSPorts: o.capture.ServerPorts()}
		c.Wireshark = "wireshark -X lua_script:" + shellQuote(c.Lua) + " -o " + shellQuote("tls.keylog_file:"+c.KeyLog) + " " + shellQuote(c.Pcap)
		err := o.capture.Err()
		if err == nil {
			err = os.WriteFile(c.Lua, []byte(wiresharkLua(c.TLSPorts)), 0o644)
		}
		if err != nil {
			rep.Steps = append(rep.Steps, demoStep{Name: "capture", Detail: err.Error()})
			rep.OK = false
		}
		rep.Capture = c
	}
	defer func() {
		cleanup()
		if err := o.capture.Err(); err != nil {
			fmt.Fprintf(stderr, "demo: writing the capture: %v\n", err)
		}
	}()
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printDemo(stdout, rep)
	}
	if *keep && rep.OK {
		fmt.Fprintf(stdout, "\nThe overlay keeps running (Ctrl-C to stop). Its files are in %s.\n", rep.Dir)
		for i, n := range nodesUp {
			fmt.Fprintf(stdout, "  peer %d  %s  links %s  control %s\n", i+1, n.node.ID(), n.node.Addr(), n.control)
		}
		fmt.Fprintf(stdout, "Try: reload status %s\n", nodesUp[0].controlArgs)
		if u := nodesUp[0].uiURL; u != "" {
			fmt.Fprintf(stdout, "Web page of peer 1: %s\n", u)
		}
		waitInterrupt()
	}
	if !rep.OK {
		return exitFail
	}
	return exitOK
}

type demoNode struct {
	node    *node.Node
	control string
	// controlArgs are the flags by which the client commands reach the
	// control API (its token is where they look by default, or named).
	controlArgs string
	// uiURL opens the node's web page (cmd_ui.go).
	uiURL string
}

// demo runs the steps; it never stops early on a failed step it can go
// past, so the report shows everything that worked.
func demo(o demoOptions, progress io.Writer) (*demoReport, []demoNode, func()) {
	count, useICE := o.nodes, o.useICE
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	rep := &demoReport{Overlay: "demo.reload.test", Nodes: count, Links: "TLS"}
	if useICE {
		rep.Links = "DTLS over ICE"
	}
	step := func(name string, f func() (string, error)) bool {
		fmt.Fprintf(progress, "  %-28s", name+" ...")
		t0 := time.Now()
		detail, err := f()
		s := demoStep{Name: name, OK: err == nil, Ms: float64(time.Since(t0).Microseconds()) / 1000, Detail: detail}
		if err != nil {
			s.Detail = err.Error()
		}
		rep.Steps = append(rep.Steps, s)
		if err != nil {
			fmt.Fprintf(progress, " FAILED: %v\n", err)
		} else {
			fmt.Fprintf(progress, " ok (%s)\n", time.Since(t0).Round(time.Millisecond))
		}
		return err == nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	closers = append(closers, cancel)

	dir, err := os.MkdirTemp("", "reload-demo-")
	if err != nil {
		rep.Steps = append(rep.Steps, demoStep{Name: "temporary directory", Detail: err.Error()})
		return rep, nil, cleanup
	}
	rep.Dir = dir
	closers = append(closers, func() { os.RemoveAll(dir) })
	ovDir := filepath.Join(dir, "overlay")
	var running *enroll.Running
	var doc *config.Document
	var conf *config.Configuration
	var ids []*security.Identity

	ok := step("CA and configuration", func() (string, error) {
		o := &initOptions{dir: ovDir, name: rep.Overlay, nodes: count, days: 2, algo: security.KeyECDSAP256,
			configAlg: config.AlgorithmRSASHA1, enrollURL: "https://127.0.0.1/enroll"}
		if err := initOverlay(o, time.Now(), io.Discard); err != nil {
			return "", err
		}
		return "enrollment CA, signed configuration, " + strconv.Itoa(count) + " accounts", nil
	})
	ok = ok && step("enrollment server", func() (string, error) {
		r, _, err := startOverlayServer(ovDir, "127.0.0.1:0", log.New(io.Discard, "", 0))
		if err != nil {
			return "", err
		}
		running = r
		closers = append(closers, func() { r.Close() })
		return r.URL, nil
	})
	ok = ok && step("fetch configuration", func() (string, error) {
		caPEM, err := os.ReadFile(filepath.Join(ovDir, fileCA))
		if err != nil {
			return "", err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		d, _, err := enroll.NewClient(pool, "").FetchConfig(ctx, running.URL)
		if err != nil {
			return "", err
		}
		doc, conf = d, d.Configurations[0]
		return "over HTTPS (/.well-known/reload-config), sequence " + strconv.Itoa(int(conf.Sequence)), nil
	})
	ok = ok && step("enroll peers", func() (string, error) {
		caPEM, _ := os.ReadFile(filepath.Join(ovDir, fileCA))
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cl := enroll.NewClient(pool, "")
		pw, err := readPasswords(filepath.Join(ovDir, filePasswords))
		if err != nil {
			return "", err
		}
		for i := range count {
			user := "node" + strconv.Itoa(i+1)
			key, err := security.GenerateKey(security.KeyECDSAP256)
			if err != nil {
				return "", err
			}
			id, err := cl.EnrollIdentity(ctx, conf, running.URL+enroll.DefaultEnrollPath, user, pw[user], 1, key, time.Now())
			if err != nil {
				return "", fmt.Errorf("%s: %w", user, err)
			}
			ids = append(ids, id)
		}
		return strconv.Itoa(count) + " certificates with Node-IDs chosen by the server", nil
	})
	_ = doc
	if !ok {
		return rep, nil, cleanup
	}
	// Stabilise every 5 s instead of every 10 minutes: a small, fast demo.
	conf.ChordUpdateInterval = 5 * time.Second

	sipp, _ := exec.LookPath("sipp")
	var up []demoNode
	ok = step("start and join peers", func() (string, error) {
		for i, id := range ids {
			cfg := node.Config{Overlay: conf, Identity: id, TickLength: 50 * time.Millisecond, Seed: i == 0,
				Capture: o.capture, KeyLogWriter: o.keyLog}
			if useICE {
				cfg.ICE, cfg.ICELoopback = true, true
				cfg.ICEInterfaces = func(name string) bool { return name == "lo" }
			}
			if i > 0 {
				cfg.Bootstrap = []string{up[0].node.Addr()}
			}
			sipCfg, err := demoSIPConfig(ovDir, i)
			if err != nil {
				return "", err
			}
			cfg.SIP = sipCfg
			n, err := node.New(cfg)
			if err != nil {
				return "", err
			}
			closers = append(closers, func() { n.Close() })
			if err := n.Start(ctx); err != nil {
				return "", err
			}
			select {
			case <-n.Joined():
			case <-ctx.Done():
				return "", fmt.Errorf("peer %d did not join", i+1)
			}
			ctl, err := serveControl(n, dir)
			if err != nil {
				return "", err
			}
			closers = append(closers, ctl.close)
			up = append(up, demoNode{node: n, control: ctl.addr, controlArgs: ctl.clientArgs(), uiURL: uiURLOf(ctl)})
			fmt.Fprintf(progress, "\n    peer %2d  %s joined", i+1, n.ID())
		}
		fmt.Fprintln(progress)
		return strconv.Itoa(count) + " peers, " + rep.Links, nil
	})
	if !ok {
		return rep, up, cleanup
	}
	step("ring converged", func() (string, error) {
		deadline := time.Now().Add(90 * time.Second)
		for {
			ring, err := demoRing(up)
			if err == nil {
				rep.Ring = ring
				return "every successor and predecessor is the next and previous peer of the sorted ring", nil
			}
			if time.Now().After(deadline) {
				return "", err
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	a, b := up[0].node, up[len(up)-1].node
	step("store and fetch", func() (string, error) {
		user := "node1@" + rep.Overlay
		res := wire.ResourceIDFromName(user)
		// Fetch from the last peer that is not responsible for the
		// resource, so that the Fetch crosses the overlay.
		k := len(up) - 1
		for k > 1 && up[k].node.ID().String() == responsible(rep.Ring, res) {
			k--
		}
		self := a.ID()
		if _, err := a.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(self.Bytes(), []byte("hello from node1"))}, time.Hour); err != nil {
			return "", err
		}
		fa, err := up[k].node.FetchAll(ctx, res, wire.KindSIPRegistration)
		if err != nil {
			return "", err
		}
		if len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 || string(fa.KindResponses[0].Values[0].Value.Value.Value) != "hello from node1" {
			return "", errors.New("the fetched value differs")
		}
		return "stored by peer 1 under " + user + ", fetched by peer " + strconv.Itoa(k+1), nil
	})
	step("diagnostic ping", func() (string, error) {
		id := b.ID()
		kinds, _ := diag.ParseKinds("status_info,software_version,app_uptime,memory_footprint")
		r, err := diag.Ping(ctx, a.Diag(), wire.NodeDest(&id), kinds...)
		if err != nil {
			return "", err
		}
		if !r.Diagnostics || len(r.Values) == 0 {
			return "", errors.New("no diagnostics in the answer")
		}
		return fmt.Sprintf("%d hops, %s, %d diagnostic values", r.Hops, r.RTT.Round(time.Microsecond), len(r.Values)), nil
	})
	step("traceroute", func() (string, error) {
		// A resource peer 1 is not responsible for: the path leaves it.
		name := "somewhere"
		for i := 2; i < 100 && responsible(rep.Ring, wire.ResourceIDFromName(name)) == a.ID().String(); i++ {
			name = "somewhere" + strconv.Itoa(i)
		}
		dest := wire.ResourceDest(wire.ResourceIDFromName(name))
		hops, err := diag.Traceroute(ctx, a.Diag(), dest)
		if err != nil {
			return "", err
		}
		parts := make([]string, len(hops))
		for i, h := range hops {
			parts[i] = h.Node.String()[:8]
		}
		return fmt.Sprintf("%d hops: %s", len(hops), strings.Join(parts, " → ")), nil
	})
	step("SIP call", func() (string, error) { return demoPhones(ctx, up, rep.Overlay, ovDir) })
	if sipp != "" {
		step("SIP call (sipp)", func() (string, error) { return demoCall(ctx, dir, up, rep.Overlay, ovDir) })
	} else {
		rep.Steps = append(rep.Steps, demoStep{Name: "SIP call (sipp)", OK: true, Detail: "skipped: sipp (Debian package sip-tester) is not installed"})
	}
	rep.OK = true
	for _, s := range rep.Steps {
		rep.OK = rep.OK && s.OK
	}
	return rep, up, cleanup
}

// wiresharkLua is a Wireshark Lua script that decodes the TCP ports as
// TLS and what TLS carries there as RELOAD framing (RFC 6940 §6.6.2):
// Wireshark knows RELOAD on TCP only on port 6084 without TLS, and offers
// no "Decode As" from TLS to RELOAD.
func wiresharkLua(ports []uint16) string {
	var b strings.Builder
	b.WriteString("-- RELOAD over TLS on the TCP ports of a recorded reload demo.\n")
	b.WriteString("local tls, framing = Dissector.get(\"tls\"), Dissector.get(\"reload-framing\")\n")
	b.WriteString("for _, port in ipairs({")
	for i, p := range ports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	b.WriteString("}) do\n  DissectorTable.get(\"tcp.port\"):add(port, tls)\n  DissectorTable.get(\"tls.port\"):add(port, framing)\nend\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func readPasswords(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if user, pw, ok := strings.Cut(sc.Text(), " "); ok {
			out[user] = pw
		}
	}
	return out, sc.Err()
}

func demoRing(up []demoNode) ([]string, error) {
	ids := make([]string, len(up))
	for i, n := range up {
		ids[i] = n.node.ID().String()
	}
	slices.Sort(ids)
	for _, n := range up {
		st := n.node.Status()
		i := slices.Index(ids, st.NodeID)
		succ, pred := ids[(i+1)%len(ids)], ids[(i+len(ids)-1)%len(ids)]
		if len(st.Successors) == 0 || st.Successors[0] != succ || len(st.Predecessors) == 0 || st.Predecessors[0] != pred {
			return nil, fmt.Errorf("peer %s has not found its neighbours yet", st.NodeID)
		}
	}
	return ids, nil
}

// responsible is the Node-ID (hex) of the peer of the sorted ring that is
// responsible for res in CHORD-RELOAD: the first at or after it, wrapping
// around (RFC 6940 §10.3). It is "" for an empty ring.
func responsible(ring []string, res wire.ResourceID) string {
	if len(ring) == 0 {
		return ""
	}
	id := hex.EncodeToString(res)
	if i, _ := slices.BinarySearch(ring, id); i < len(ring) {
		return ring[i]
	}
	return ring[0]
}

// demoCall registers a sipp UAS at the first peer and calls it with a
// sipp UAC from the last one (RFC 7904), each answering its front end's
// digest challenge with its user's password (RFC 3261 §22).
func demoCall(ctx context.Context, dir string, up []demoNode, domain, ovDir string) (string, error) {
	scen := filepath.Join(dir, "sipp")
	if err := writeSippScenarios(scen); err != nil {
		return "", err
	}
	callee, caller := up[0].node.SIP(), up[len(up)-1].node.SIP()
	uasPort, err := freeUDPPort()
	if err != nil {
		return "", err
	}
	uas := exec.CommandContext(ctx, "sipp", "-sf", filepath.Join(scen, "uas.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort),
		"-m", "1", "-timeout", "30s", "-timeout_error")
	uas.Dir = scen
	if err := uas.Start(); err != nil {
		return "", err
	}
	defer func() { _ = uas.Process.Kill(); _ = uas.Wait() }()
	sipp := func(args ...string) error {
		p, err := freeUDPPort()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "sipp", append([]string{"-i", "127.0.0.1", "-p", strconv.Itoa(p), "-m", "1", "-timeout", "30s", "-timeout_error"}, args...)...)
		cmd.Dir = scen
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("sipp: %v: %s", err, lastLine(out))
		}
		return nil
	}
	calleePW, err := demoSIPPassword(ovDir, 0)
	if err != nil {
		return "", err
	}
	callerPW, err := demoSIPPassword(ovDir, len(up)-1)
	if err != nil {
		return "", err
	}
	if err := sipp("-sf", filepath.Join(scen, "register.xml"), "-key", "user", "node1", "-key", "domain", domain,
		"-key", "contact_port", strconv.Itoa(uasPort), "-key", "expires", "300", "-au", "node1", "-ap", calleePW,
		callee.UDPAddr().String()); err != nil {
		return "", fmt.Errorf("REGISTER: %w", err)
	}
	t0 := time.Now()
	if err := sipp("-sf", filepath.Join(scen, "uac.xml"), "-s", "node1", "-key", "domain", domain,
		"-au", "node"+strconv.Itoa(len(up)), "-ap", callerPW, caller.UDPAddr().String()); err != nil {
		return "", fmt.Errorf("call: %w", err)
	}
	return fmt.Sprintf("node1 registered at peer 1, called from peer %d: INVITE/100/180/200/ACK/BYE in %s", len(up), time.Since(t0).Round(time.Millisecond)), nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

func printDemo(w io.Writer, rep *demoReport) {
	fmt.Fprintf(w, "\nRELOAD demo: overlay %s, %d peers on loopback, links %s\n\n", rep.Overlay, rep.Nodes, rep.Links)
	for _, s := range rep.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-24s %9.1f ms  %s\n", mark, s.Name, s.Ms, s.Detail)
	}
	if len(rep.Ring) > 0 {
		fmt.Fprintf(w, "\nring (sorted Node-IDs):\n")
		for _, id := range rep.Ring {
			fmt.Fprintf(w, "  %s\n", id)
		}
	}
	if c := rep.Capture; c != nil {
		fmt.Fprintf(w, "\ncapture %s, key log %s; open it in Wireshark with: %s\n", c.Pcap, c.KeyLog, c.Wireshark)
	}
	if rep.OK {
		fmt.Fprintln(w, "\nevery step worked")
	} else {
		fmt.Fprintln(w, "\nsome steps failed")
	}
}

//go:embed sipp/*.xml
var sippScenarios embed.FS

// writeSippScenarios writes the sipp scenarios of the demo call into dir.
func writeSippScenarios(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"uas.xml", "uac.xml", "register.xml"} {
		b, err := sippScenarios.ReadFile("sipp/" + name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func waitInterrupt() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}
