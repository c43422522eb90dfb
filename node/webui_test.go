package node

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const uiTestToken = "0123456789abcdef0123456789abcdef"

// uiGet sends a GET with hdr and returns the answer with its body read.
func uiDo(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// The page's login: /ui/?token=T sets the HttpOnly SameSite=Strict cookie
// and redirects to /ui/ without the token; the cookie then opens the page
// and its state, and the guard's refusals still hold.
func TestWebUILoginAndRefusals(t *testing.T) {
	c := startCluster(t, 1, nil)
	srv := httptest.NewServer(c.nodes[0].ControlHandler(ControlOptions{Token: uiTestToken}))
	defer srv.Close()
	plain := &http.Client{CheckRedirect: noRedirect, Timeout: 30 * time.Second}

	resp, _ := uiDo(t, plain, "GET", srv.URL+"/ui/?token="+uiTestToken, map[string]string{"Sec-Fetch-Site": "none"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("login: %d Location %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == uiCookieFor(srv.URL) {
			cookie = ck
		}
	}
	if cookie == nil || cookie.Value != uiTestToken || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("login cookie %+v, want reload_token_PORT HttpOnly SameSite=Strict Path=/", cookie)
	}
	ck := uiCookieFor(srv.URL) + "=" + uiTestToken
	if resp, _ := uiDo(t, plain, "GET", srv.URL+"/ui?token="+uiTestToken, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" || len(resp.Cookies()) != 1 {
		t.Errorf("login at /ui: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A browser that followed the redirect gets the page, its files and
	// the state with the cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, body := uiDo(t, browser, "GET", srv.URL+"/ui/?token="+uiTestToken, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" || !strings.Contains(body, `id="ring"`) {
		t.Fatalf("page after login: %d at %v", resp.StatusCode, resp.Request.URL)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("page without a Content-Security-Policy: %q", csp)
	}
	for _, f := range []string{"app.js", "style.css"} {
		if resp, _ := uiDo(t, browser, "GET", srv.URL+"/ui/static/"+f, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", f, resp.StatusCode)
		}
	}

	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		want               int
		html               bool
	}{
		{"cookie, state", "GET", "/ui/state", map[string]string{"Cookie": ck}, http.StatusOK, false},
		{"cookie, same origin", "GET", "/ui/state", map[string]string{"Cookie": ck, "Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusOK, false},
		{"cookie, POST with X-Reload-UI", "POST", "/ping?dest=" + c.nodes[0].ID().String(), map[string]string{"Cookie": ck, "Origin": srv.URL, "X-Reload-UI": "1"}, http.StatusOK, false},
		{"no token, page", "GET", "/ui/", nil, http.StatusUnauthorized, true},
		{"no token, state", "GET", "/ui/state", nil, http.StatusUnauthorized, true},
		{"no token, API", "GET", "/status", nil, http.StatusUnauthorized, false},
		{"wrong token in URL", "GET", "/ui/?token=" + uiTestToken + "0", map[string]string{"Sec-Fetch-Site": "none"}, http.StatusUnauthorized, true},
		{"empty token in URL", "GET", "/ui/?token=", nil, http.StatusUnauthorized, true},
		{"wrong cookie", "GET", "/ui/state", map[string]string{"Cookie": uiCookieFor(srv.URL) + "=" + uiTestToken[:31]}, http.StatusUnauthorized, true},
		{"cookie, foreign Origin", "GET", "/ui/state", map[string]string{"Cookie": ck, "Origin": "http://evil.example"}, http.StatusForbidden, false},
		{"cookie, cross-site", "GET", "/ui/events", map[string]string{"Cookie": ck, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
		{"cookie, same-site", "POST", "/traceroute?dest=x", map[string]string{"Cookie": ck, "Sec-Fetch-Site": "same-site", "X-Reload-UI": "1"}, http.StatusForbidden, false},
		{"login, cross-site", "GET", "/ui/?token=" + uiTestToken, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
		{"cookie, POST without X-Reload-UI", "POST", "/ping?dest=x", map[string]string{"Cookie": ck, "Origin": srv.URL}, http.StatusForbidden, false},
		{"cookie, POST without Origin", "POST", "/ping?dest=x", map[string]string{"Cookie": ck, "X-Reload-UI": "1"}, http.StatusForbidden, false},
		{"cookie, POST /store", "POST", "/store?resource=x&kind=SIP-REGISTRATION", map[string]string{"Cookie": ck, "Origin": srv.URL}, http.StatusForbidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := uiDo(t, plain, tc.method, srv.URL+tc.path, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("401 without a Bearer challenge")
				}
				isHTML := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
				if isHTML != tc.html || (isHTML && !strings.Contains(body, "reload ui")) {
					t.Errorf("401 as %s, want HTML %v saying how to log in: %s", resp.Header.Get("Content-Type"), tc.html, body)
				}
			}
			if len(resp.Cookies()) > 0 && resp.StatusCode != http.StatusSeeOther {
				t.Errorf("refusal sets a cookie")
			}
		})
	}
}

// The snapshot of a peer of a real 3-node overlay has every field of the
// page's contract, filled from the node's tables, links and counters.
func TestWebUISnapshotFields(t *testing.T) {
	c := startCluster(t, 3, nil)
	c.waitConverged(t, 60*time.Second)
	n := c.nodes[0]
	srv := httptest.NewServer(n.ControlHandler(ControlOptions{Token: uiTestToken}))
	defer srv.Close()
	auth := map[string]string{"Authorization": "Bearer " + uiTestToken}
	cl := &http.Client{Timeout: 60 * time.Second}
	// A traceroute and some traffic, so that the path's peers are learnt
	// and the rates have two samples.
	if resp, body := uiDo(t, cl, "POST", srv.URL+"/traceroute?dest="+c.nodes[2].ID().String(), auth); resp.StatusCode != http.StatusOK {
		t.Fatalf("traceroute: %d %s", resp.StatusCode, body)
	}
	uiDo(t, cl, "GET", srv.URL+"/ui/state", auth)
	time.Sleep(1200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c.pingAll(ctx, t, "for traffic")
	cancel()

	resp, body := uiDo(t, cl, "GET", srv.URL+"/ui/state", auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("state: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	has := func(obj map[string]any, where string, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: no %q in %v", where, k, obj)
			}
		}
	}
	has(m, "snapshot", "node_id", "overlay", "joined", "client", "uptime_s", "id_bits", "ring", "links", "traffic", "storage", "sip")
	ring, _ := m["ring"].(map[string]any)
	has(ring, "ring", "self", "predecessors", "successors", "fingers", "others")
	traffic, _ := m["traffic"].(map[string]any)
	has(traffic, "traffic", "requests_per_s", "answers_per_s", "forwarded_per_s", "answer_hops_mean")
	st, _ := m["storage"].(map[string]any)
	has(st, "storage", "kinds")
	sip, _ := m["sip"].(map[string]any)
	has(sip, "sip", "registrations")
	links, _ := m["links"].([]any)
	if len(links) == 0 {
		t.Fatal("no links")
	}
	for _, l := range links {
		has(l.(map[string]any), "link", "node_id", "type", "remote", "ice", "rtt_ms", "rto_ms", "frames_sent", "retransmissions", "age_s")
	}

	var s UISnapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.NodeID != n.ID().String() || s.Ring.Self != s.NodeID || !s.Joined || s.IDBits != 128 || s.Overlay != "test.example.org" {
		t.Errorf("node: %+v", s)
	}
	known := slices.Concat(s.Ring.Successors, s.Ring.Predecessors, s.Ring.Fingers, s.Ring.Others)
	for _, o := range c.nodes[1:] {
		if !slices.Contains(known, o.ID().String()) {
			t.Errorf("peer %s not on the ring %+v", o.ID(), s.Ring)
		}
	}
	if len(s.Ring.Successors) == 0 || len(s.Ring.Predecessors) == 0 {
		t.Errorf("ring tables empty: %+v", s.Ring)
	}
	var rto bool
	for _, l := range s.Links {
		rto = rto || l.RTOms > 0
		if l.Age <= 0 || l.Frames == 0 {
			t.Errorf("link %+v: no age or frames", l)
		}
	}
	if !rto {
		t.Errorf("no link has an RTO: %+v", s.Links)
	}
	if s.Traffic.Requests["ping_req"] <= 0 {
		t.Errorf("no ping_req rate after pings: %+v", s.Traffic)
	}
	if s.Traffic.Answers["ok"] <= 0 || s.Traffic.HopsMean < 1 {
		t.Errorf("no answers or hops: %+v", s.Traffic)
	}
	var stored bool
	for _, k := range s.Storage.Kinds {
		stored = stored || (k.Values > 0 && k.Bytes > 0 && k.Name != "")
	}
	// Every peer stores its certificate (RFC 6940 §8), on itself or a
	// neighbour: the 3-node overlay holds some values on every peer.
	if !stored {
		t.Logf("storage: %+v (no values here)", s.Storage)
	}
}

// The event stream sends a state event at once and then every second,
// and the number of streams is bounded.
func TestWebUIEvents(t *testing.T) {
	c := startCluster(t, 1, nil)
	srv := httptest.NewServer(c.nodes[0].ControlHandler(ControlOptions{Token: uiTestToken}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/events", nil)
	req.Header.Set("Cookie", uiCookieFor(srv.URL)+"="+uiTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var times []time.Time
	event := ""
	for len(times) < 3 && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			if event != "state" {
				t.Fatalf("data of event %q", event)
			}
			var s UISnapshot
			if err := json.Unmarshal([]byte(line[6:]), &s); err != nil {
				t.Fatalf("state event: %v", err)
			}
			if s.NodeID != c.nodes[0].ID().String() {
				t.Fatalf("state of %s", s.NodeID)
			}
			times = append(times, time.Now())
		}
	}
	if len(times) < 3 {
		t.Fatalf("%d state events: %v", len(times), sc.Err())
	}
	if d := times[2].Sub(times[1]); d < 500*time.Millisecond {
		t.Errorf("state events %v apart, want about a second", d)
	}

	// Bounded: the 17th stream is refused while 16 are open.
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for i := 1; i < uiMaxClients; i++ {
		r, err := http.DefaultClient.Do(req.Clone(ctx))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, r)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, r.StatusCode)
		}
	}
	r, err := http.DefaultClient.Do(req.Clone(ctx))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream %d: %d, want 503", uiMaxClients+1, r.StatusCode)
	}
}

// uiCookieFor is the name of the page's cookie for the control API at
// srvURL: reload_token_PORT.
func uiCookieFor(srvURL string) string {
	u, _ := url.Parse(srvURL)
	return "reload_token_" + u.Port()
}
