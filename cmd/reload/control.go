package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/node"
)

// The control API acts as the node that serves it (what it stores is
// signed with the node's key), so it is guarded like a local admin API:
//
//   - it listens on loopback; another address needs --control-allow-remote;
//   - every request carries a bearer token of 32 random bytes (hex), which
//     the node keeps in a file only its user can read (0600, in a 0700
//     directory) and the client commands read from the same place;
//   - node.ControlHandler refuses what a browser sends for a page of
//     another origin (foreign Host, Origin or Sec-Fetch-Site).
//
// The token file is --control-token FILE on both sides, by default
// $XDG_CONFIG_HOME/reload/control/PORT.token (os.UserConfigDir; on Linux
// ~/.config/reload/control/PORT.token), PORT being the control API's TCP
// port: the node and the client commands both derive it from --control
// alone. The node makes the file when it does not exist and otherwise
// keeps the token in it, so clients and scripts keep working across
// restarts; delete the file to get a new token.

// tokenFlagUsage describes --control-token to the client commands.
const tokenFlagUsage = "file holding the control API's bearer token (default: the node's, " + defaultTokenHelp + ")"

const defaultTokenHelp = "~/.config/reload/control/PORT.token for --control HOST:PORT"

// controlFlags are the flags by which a client command reaches a node.
type controlFlags struct {
	addr, token *string
}

// addControlFlags adds --control (described by usage) and --control-token
// to fs.
func addControlFlags(fs *flag.FlagSet, usage string) *controlFlags {
	return &controlFlags{
		addr:  fs.String("control", defaultControl, usage),
		token: fs.String("control-token", "", tokenFlagUsage),
	}
}

// defaultTokenPath is the token file of the control API at addr when
// --control-token does not name one.
func defaultTokenPath(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("control address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("control address %q: bad port", addr)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", hint(fmt.Errorf("no directory for the control API token: %w", err), "give --control-token FILE")
	}
	return filepath.Join(dir, "reload", "control", port+".token"), nil
}

// newToken is 32 random bytes in hex.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// minTokenLen is the shortest token the node accepts from a file: 128
// bits in hex.
const minTokenLen = 32

// parseToken reads a token file's content: one line without spaces.
func parseToken(path string, b []byte) (string, error) {
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("control token file %s does not hold one token", path)
	}
	return tok, nil
}

// loadOrCreateToken returns the token in path. When there is no such
// file it writes a new token there (0600, making missing directories
// 0700) and reports created. An existing file must not be readable by
// group or others, and its token must be long enough.
func loadOrCreateToken(path string) (tok string, created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("control token: %w", err)
	}
	for range 2 {
		fi, err := os.Stat(path)
		if err == nil {
			tok, err := readNodeToken(path, fi)
			return tok, false, err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("control token: %w", err)
		}
		// Write the token to a temporary file (0600) and link it into
		// place, which fails if another node made the file meanwhile:
		// nobody ever reads a half-written token.
		f, err := os.CreateTemp(dir, ".token-*")
		if err != nil {
			return "", false, fmt.Errorf("control token: %w", err)
		}
		tok = newToken()
		_, werr := f.WriteString(tok + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Link(f.Name(), path)
		}
		os.Remove(f.Name())
		if werr == nil {
			return tok, true, nil
		}
		if !errors.Is(werr, fs.ErrExist) {
			return "", false, fmt.Errorf("control token: %w", werr)
		}
	}
	return "", false, fmt.Errorf("control token file %s keeps changing", path)
}

func readNodeToken(path string, fi fs.FileInfo) (string, error) {
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("control token file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", hint(fmt.Errorf("control token file %s is open to group or others (mode %04o)", path, fi.Mode().Perm()),
			"chmod 600 it, or delete it and the node makes a new one")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	tok, err := parseToken(path, b)
	if err == nil && len(tok) < minTokenLen {
		err = fmt.Errorf("control token in %s is shorter than %d characters", path, minTokenLen)
	}
	return tok, err
}

// errRemoteControl refuses a control address beyond loopback.
func errRemoteControl(addr string) error {
	return fmt.Errorf("--control %s is not a loopback address: the control API acts as this node; "+
		"use 127.0.0.1 or [::1], or give --control-allow-remote to serve it to the network (plain HTTP, token required)", addr)
}

// checkControlAddr refuses a --control address whose host is plainly not
// loopback (an IP literal or an empty host, meaning every interface)
// unless allowRemote; names are checked once bound.
func checkControlAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--control %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && !ip.IsLoopback() {
		return errRemoteControl(addr)
	}
	return nil
}

// controlServer is a control API being served.
type controlServer struct {
	addr      string // the address it listens on
	tokenPath string // the file holding its token
	// defaultToken says tokenPath is the one the client commands find
	// by themselves.
	defaultToken bool
	close        func()
}

// clientArgs are the flags a client command needs to reach s.
func (s *controlServer) clientArgs() string {
	if s.defaultToken {
		return "--control " + s.addr
	}
	return "--control " + s.addr + " --control-token " + shellQuote(s.tokenPath)
}

// serveControlAPI serves n's control API on addr with the token in
// tokenPath (default: defaultTokenPath of the bound address), made when
// missing. close stops the server and, with removeToken, deletes a token
// file it made.
func serveControlAPI(n *node.Node, addr, tokenPath string, allowRemote, removeToken bool) (*controlServer, error) {
	if err := checkControlAddr(addr, allowRemote); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control API: %w", err)
	}
	ta, _ := ln.Addr().(*net.TCPAddr)
	if !allowRemote && (ta == nil || !ta.IP.IsLoopback()) {
		ln.Close()
		return nil, errRemoteControl(addr + " (" + ln.Addr().String() + ")")
	}
	s := &controlServer{addr: ln.Addr().String(), tokenPath: tokenPath}
	if s.tokenPath == "" {
		if s.tokenPath, err = defaultTokenPath(s.addr); err != nil {
			ln.Close()
			return nil, err
		}
		s.defaultToken = true
	}
	tok, created, err := loadOrCreateToken(s.tokenPath)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: n.ControlHandler(node.ControlOptions{Token: tok, AllowRemote: allowRemote}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.close = func() {
		srv.Close()
		if created && removeToken {
			os.Remove(s.tokenPath)
		}
	}
	return s, nil
}

// serveControl serves a demo peer's control API on a free loopback port,
// with its token where the client commands look by default (removed
// again by close), or under dir when there is no such place.
func serveControl(n *node.Node, dir string) (*controlServer, error) {
	s, err := serveControlAPI(n, "127.0.0.1:0", "", false, true)
	if err == nil {
		return s, nil
	}
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	return serveControlAPI(n, addr, filepath.Join(dir, "control", port+".token"), false, true)
}

// controlClient talks to a running node's control API.
type controlClient struct {
	base string
	http *http.Client
	// token is the bearer token read from tokenPath ("" when there is
	// no such file: the node then says 401, which err explains).
	token, tokenPath string
	tokenErr         error
}

func newControl(f controlFlags) *controlClient {
	c := &controlClient{base: "http://" + *f.addr, http: &http.Client{Timeout: 60 * time.Second}, tokenPath: *f.token}
	if c.tokenPath == "" {
		if c.tokenPath, c.tokenErr = defaultTokenPath(*f.addr); c.tokenErr != nil {
			return c
		}
	}
	b, err := os.ReadFile(c.tokenPath)
	if err == nil {
		c.token, err = parseToken(c.tokenPath, b)
	}
	c.tokenErr = err
	return c
}

func (c *controlClient) do(method, path string, q url.Values, body []byte, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("no node answers at %s (start one with 'reload node', or give --control): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Code, Info string }
		_ = json.Unmarshal(b, &e)
		msg := e.Error
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && c.token == "":
			why := "no token"
			if c.tokenErr != nil {
				why = c.tokenErr.Error()
			}
			return hint(fmt.Errorf("control API at %s refused the request: %s (%s)", c.base, msg, why),
				"the node writes its token to "+defaultTokenHelp+": run this as the node's user, or give --control-token FILE if the node was started with one")
		case resp.StatusCode == http.StatusUnauthorized:
			return hint(fmt.Errorf("control API at %s refused the token of %s: %s", c.base, c.tokenPath, msg),
				"give --control-token FILE naming the token file of the node at this address")
		case resp.StatusCode == http.StatusForbidden:
			return fmt.Errorf("control API at %s refused the request: %s", c.base, msg)
		}
		return errors.New(msg)
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}
