package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain keeps the control API tokens that the tests' nodes write by
// default (under os.UserConfigDir) in a temporary directory, for the
// nodes run in this process and for the `reload node` processes they
// start.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reload-test-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// controlNode runs `reload node` as its own process, the seed of a
// one-peer overlay, with its control API on a free loopback port and the
// token where the node puts it by default; it returns the control
// address once `reload status` (with no flag but --control) answers.
func controlNode(t *testing.T) (ctl, user string) {
	t.Helper()
	dir := t.TempDir()
	bin := buildReload(t, dir)
	ov := filepath.Join(dir, "ov")
	if code, _, errs := runReload(t, "overlay", "init", "--dir", ov, "--name", "ctl.example.org", "--nodes", "1"); code != exitOK {
		t.Fatalf("overlay init: %s", errs)
	}
	ports := freePorts(t, 2)
	ctl = "127.0.0.1:" + strconv.Itoa(ports[1])
	logf, err := os.Create(filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "node", "--config", filepath.Join(ov, fileConfig), "--identity", filepath.Join(ov, dirNodes, "node1"),
		"--seed", "--listen", "127.0.0.1:"+strconv.Itoa(ports[0]), "--control", ctl)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	var out, errs string
	if !eventually(60*time.Second, func() bool {
		var code int
		code, out, errs = runReload(t, "status", "--control", ctl)
		return code == exitOK && strings.Contains(out, "joined")
	}) {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("the node's control API did not answer: %s%s\nnode log:\n%s", out, errs, b)
	}
	return ctl, "node1@ctl.example.org"
}

// request sends a raw HTTP request to the control API at ctl, as a web
// browser or another local program would, and returns the status, the
// headers and the body of the answer.
func request(t *testing.T, method, ctl, path string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+ctl+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func readTokenFile(t *testing.T, ctl string) (string, string) {
	t.Helper()
	path, err := defaultTokenPath(ctl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)), path
}

// TestControlAPIRefusesBrowsers: a web page (or a DNS rebinding page, or
// another local user's program) must not act as the node through its
// control API. Against a `reload node` process:
//
//   - the browser "simple request" (POST, Content-Type: text/plain, an
//     Origin of another site, no preflight) that stored a value signed
//     by the node is refused with 403, and nothing is stored;
//   - a Host header naming another host (DNS rebinding) is refused with
//     403, even with the token;
//   - a CORS preflight is never answered positively;
//   - a request without the token, or with a wrong one, gets 401 and a
//     Bearer challenge, on every endpoint including /metrics;
//   - the token file is 0600 in a 0700 directory, and the client
//     commands find it with no flag but --control.
func TestControlAPIRefusesBrowsers(t *testing.T) {
	ctl, user := controlNode(t)
	tok, path := readTokenFile(t, ctl)
	if len(tok) != 64 {
		t.Errorf("token %q: want 32 random bytes in hex", tok)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file %s: %v, mode %v; want 0600", path, err, fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("token directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	bearer := "Bearer " + tok
	store := "/store?" + "resource=" + user + "&kind=SIP-REGISTRATION"

	// What a page at http://evil.example can make a browser send.
	code, hdr, body := request(t, "POST", ctl, store, map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, "sip:evil@evil.example")
	if code != http.StatusForbidden {
		t.Errorf("simple cross-origin POST /store: %d %s, want 403", code, body)
	}
	if hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("simple cross-origin POST /store answered with CORS headers: %v", hdr)
	}
	// The same with Sec-Fetch-Site alone (a browser that leaves out
	// Origin), and with a token a page cannot have but that must not
	// open the door either.
	for _, h := range []map[string]string{
		{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain", "Origin": "http://evil.example", "Authorization": bearer},
		{"Content-Type": "text/plain", "Origin": "null", "Authorization": bearer},
	} {
		if code, _, body := request(t, "POST", ctl, store, h, "sip:evil@evil.example"); code != http.StatusForbidden {
			t.Errorf("POST /store with %v: %d %s, want 403", h, code, body)
		}
	}
	// The preflight a page needs before it may send Authorization.
	code, hdr, _ = request(t, "OPTIONS", ctl, store, map[string]string{"Origin": "http://evil.example",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}, "")
	if code < 300 || hdr.Get("Access-Control-Allow-Origin") != "" || hdr.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("CORS preflight: %d %v, want a refusal without Access-Control-* headers", code, hdr)
	}
	// DNS rebinding: the page's own name resolves to 127.0.0.1; the
	// browser sends it as Host and no Origin (same origin to the page).
	_, port, _ := net.SplitHostPort(ctl)
	for _, host := range []string{"evil.example:" + port, "127.0.0.1.evil.example:" + port, "localhost:1"} {
		for _, auth := range []string{"", bearer} {
			h := map[string]string{"Host": host, "Content-Type": "text/plain"}
			if auth != "" {
				h["Authorization"] = auth
			}
			if code, _, body := request(t, "POST", ctl, store, h, "sip:evil@evil.example"); code != http.StatusForbidden {
				t.Errorf("POST /store with Host %s (token %v): %d %s, want 403", host, auth != "", code, body)
			}
		}
	}
	if code, out, errs := runReload(t, "fetch", "--control", ctl, "--json", user, "SIP-REGISTRATION"); code != exitOK || strings.Contains(out, "evil") {
		t.Fatalf("a refused request stored a value, or fetch failed: %d\n%s%s", code, out, errs)
	}

	// Any other program: without the token, or with a wrong one, 401.
	for _, ep := range []struct{ method, path string }{{"GET", "/status"}, {"GET", "/metrics"}, {"POST", store},
		{"GET", "/fetch?resource=" + user + "&kind=SIP-REGISTRATION"}, {"POST", "/ping?dest=" + user}} {
		for _, auth := range []string{"", "Bearer " + strings.Repeat("0", 64), "Basic " + tok, tok} {
			h := map[string]string{}
			if auth != "" {
				h["Authorization"] = auth
			}
			code, hdr, body := request(t, ep.method, ctl, ep.path, h, "x")
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s %s with Authorization %q: %d %q %s, want 401 with a Bearer challenge", ep.method, ep.path, auth, code, hdr.Get("WWW-Authenticate"), body)
			}
		}
	}
	// The token opens every endpoint, same-origin and from localhost.
	for _, h := range []map[string]string{{"Authorization": bearer}, {"Authorization": bearer, "Host": "localhost:" + port},
		{"Authorization": bearer, "Origin": "http://" + ctl, "Sec-Fetch-Site": "same-origin"}} {
		if code, _, body := request(t, "GET", ctl, "/status", h, ""); code != http.StatusOK {
			t.Errorf("GET /status with %v: %d %s", h, code, body)
		}
	}
	if code, _, body := request(t, "GET", ctl, "/metrics", map[string]string{"Authorization": bearer}, ""); code != http.StatusOK || !strings.Contains(body, "reload_ring_joined 1") {
		t.Errorf("GET /metrics with the token: %d", code)
	}

	// The client commands read the token by themselves.
	if code, out, errs := runReload(t, "store", "--control", ctl, user, "SIP-REGISTRATION", "sip:node1@127.0.0.1"); code != exitOK || !strings.Contains(out, "stored SIP-REGISTRATION") {
		t.Fatalf("store: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runReload(t, "fetch", "--control", ctl, user, "SIP-REGISTRATION"); code != exitOK || !strings.Contains(out, `"sip:node1@127.0.0.1"`) {
		t.Fatalf("fetch: %d\n%s%s", code, out, errs)
	}
	// --control-token names another file; a wrong token is a readable
	// refusal, exit 1.
	other := filepath.Join(t.TempDir(), "other.token")
	if err := os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runReload(t, "status", "--control", ctl, "--control-token", other); code != exitFail ||
		!strings.Contains(errs, "reload status: control API at http://"+ctl+" refused the token of "+other) || !strings.Contains(errs, "hint: give --control-token") {
		t.Errorf("wrong token: %d\n%s", code, errs)
	}
	if code, _, errs := runReload(t, "status", "--control", ctl, "--control-token", path); code != exitOK {
		t.Errorf("--control-token naming the node's file: %d\n%s", code, errs)
	}
	if code, _, errs := runReload(t, "status", "--control", ctl, "--control-token", filepath.Join(t.TempDir(), "none")); code != exitFail ||
		!strings.Contains(errs, "refused the request: missing bearer token") || !strings.Contains(errs, "no such file") {
		t.Errorf("missing token file: %d\n%s", code, errs)
	}
}

// TestControlAddressLoopbackOnly: `reload node` refuses a control address
// beyond loopback unless --control-allow-remote says so; with it the
// token is still required, and Host may then name the host's address.
func TestControlAddressLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{"0.0.0.0:0", ":6090", "[::]:0", "192.0.2.1:6090"} {
		code, _, errs := runReload(t, "node", "--config", filepath.Join(dir, "none.xml"), "--identity", dir, "--control", addr)
		if code != exitUsage || !strings.Contains(errs, "reload node: --control "+addr+" is not a loopback address") || !strings.Contains(errs, "--control-allow-remote") {
			t.Errorf("--control %s: %d\n%s", addr, code, errs)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if err := checkControlAddr(addr, false); err != nil {
			t.Errorf("--control %s: %v", addr, err)
		}
	}

	_, nodes := threeNodes(t)
	tokPath := filepath.Join(t.TempDir(), "ctl", "remote.token")
	if _, err := serveControlAPI(nodes[0], "0.0.0.0:0", tokPath, false, true); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("0.0.0.0:0 without --control-allow-remote: %v", err)
	}
	ctl, err := serveControlAPI(nodes[0], "0.0.0.0:0", tokPath, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.close()
	_, port, _ := net.SplitHostPort(ctl.addr)
	local := "127.0.0.1:" + port
	b, err := os.ReadFile(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + strings.TrimSpace(string(b))
	if code, _, _ := request(t, "GET", local, "/status", nil, ""); code != http.StatusUnauthorized {
		t.Errorf("remote control API without a token: %d, want 401", code)
	}
	// Behind a port forward the Host names the host's address and
	// another port: accepted, with the token; a name is still refused.
	if code, _, body := request(t, "GET", local, "/status", map[string]string{"Authorization": bearer, "Host": "192.0.2.7:8080"}, ""); code != http.StatusOK {
		t.Errorf("remote control API with the token: %d %s", code, body)
	}
	if code, _, _ := request(t, "GET", local, "/status", map[string]string{"Authorization": bearer, "Host": "evil.example:" + port}, ""); code != http.StatusForbidden {
		t.Errorf("remote control API with a Host name: %d, want 403", code)
	}
	if code, _, errs := runReload(t, "status", "--control", local, "--control-token", tokPath); code != exitOK {
		t.Errorf("status of the remote control API: %d\n%s", code, errs)
	}
}

// TestControlTokenFile: the node makes the token file once (0600, its
// directory 0700) and keeps the token across restarts; it refuses a file
// that others can read, or a short token.
func TestControlTokenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "6090.token")
	tok, created, err := loadOrCreateToken(path)
	if err != nil || !created || len(tok) != 64 {
		t.Fatalf("first start: %q %v %v", tok, created, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("token directory mode %v, want 0700", fi.Mode().Perm())
	}
	again, created, err := loadOrCreateToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("restart: %q %v %v, want the same token", again, created, err)
	}
	if tok2, _, _ := loadOrCreateToken(filepath.Join(dir, "6091.token")); tok2 == tok {
		t.Error("two token files hold the same token")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateToken(path); err == nil || !strings.Contains(err.Error(), "open to group or others") {
		t.Errorf("a world-readable token file: %v", err)
	}
	short := filepath.Join(dir, "short.token")
	if err := os.WriteFile(short, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateToken(short); err == nil || !strings.Contains(err.Error(), "shorter than") {
		t.Errorf("a short token: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".token-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// The demo's control APIs take tokens too, and the hint it prints works
// as printed.
func TestDemoControlHint(t *testing.T) {
	_, nodes := threeNodes(t)
	ctl, err := serveControl(nodes[2], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(ctl.clientArgs())
	if code, out, errs := runReload(t, append([]string{"status"}, args...)...); code != exitOK || !strings.Contains(out, nodes[2].ID().String()) {
		t.Fatalf("reload status %s: %d\n%s%s", ctl.clientArgs(), code, out, errs)
	}
	if code, _, _ := request(t, "GET", ctl.addr, "/status", nil, ""); code != http.StatusUnauthorized {
		t.Errorf("demo control API without a token: %d, want 401", code)
	}
	ctl.close()
	if _, err := os.Stat(ctl.tokenPath); !os.IsNotExist(err) {
		t.Errorf("the demo left its token file %s: %v", ctl.tokenPath, err)
	}
}
