package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/goreload/reload/internal/browsertest"
	"github.com/goreload/reload/wire"
)

// These tests drive the node's web page (GET /ui/ on the control API) in
// a real headless Chromium, against real nodes linked over TLS. The page
// is found by the selectors it promises: the SVG ring #ring with one
// circle[data-node-id=HEX] per peer (self with class "self"), the
// traceroute form #traceroute-form with input[name=dest], and the drawn
// path #path with one [data-hop] element per hop.

const webUIToken = "webui-browser-test-token-0123456789abcdef"

// uiServer serves n's control API, with the page, on a loopback port.
// Its cleanup first drops the connections (the page's event stream stays
// open as long as the browser does) and then closes the listener.
func uiServer(t testing.TB, n *Node) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(n.ControlHandler(ControlOptions{Token: webUIToken}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// firstRenderJS runs in the page before its own scripts and records, in
// window.__firstRing, the time (performance.now(), ms since the
// navigation started) when the first peer appears on the ring.
const firstRenderJS = `(() => {
  const seen = () => document.querySelector('#ring circle[data-node-id]');
  const mark = () => { if (window.__firstRing === undefined && seen()) { window.__firstRing = performance.now(); obs.disconnect(); } };
  const obs = new MutationObserver(mark);
  obs.observe(document, {childList: true, subtree: true, attributes: true});
})();`

// pageLog collects what a tab reports: console errors and exceptions,
// and the size of every response it loaded.
type pageLog struct {
	mu       sync.Mutex
	errors   []string
	urls     map[network.RequestID]string
	headers  map[network.RequestID]float64 // bytes received up to the response headers
	bodies   map[string]float64            // URL -> body bytes as sent (before content decoding)
	decoded  map[string]float64            // URL -> body bytes after content decoding
	transfer map[string]float64            // URL -> bytes received, headers included
}

func (l *pageLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		l.urls[ev.RequestID] = ev.Response.URL
		l.headers[ev.RequestID] = ev.Response.EncodedDataLength
	case *network.EventDataReceived:
		if u, ok := l.urls[ev.RequestID]; ok {
			l.decoded[u] += float64(ev.DataLength)
		}
	case *network.EventLoadingFinished:
		if u, ok := l.urls[ev.RequestID]; ok {
			body := ev.EncodedBodyLength
			if body == 0 { // older browsers: all bytes less the headers'
				body = ev.EncodedDataLength - l.headers[ev.RequestID]
			}
			l.bodies[u] += body
			l.transfer[u] += ev.EncodedDataLength
		}
	}
}

func (l *pageLog) consoleErrors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errors)
}

// openTab opens a tab of the browser (a new one when parent is an
// allocator context, else one sharing parent's browser and cookies),
// listening to its console and network from the start.
func openTab(t *testing.T, parent context.Context, opts ...chromedp.ContextOption) (context.Context, *pageLog) {
	t.Helper()
	l := &pageLog{urls: map[network.RequestID]string{}, headers: map[network.RequestID]float64{},
		bodies: map[string]float64{}, decoded: map[string]float64{}, transfer: map[string]float64{}}
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(l.listen))...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: firstRenderJS})
		return err
	})); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				l.mu.Lock()
				l.errors = append(l.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				l.mu.Unlock()
			}
		}
	}()
	return ctx, l
}

// step runs one browser step with a generous deadline.
func step[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS polls a JavaScript condition in the page until it is true.
func waitJS(t *testing.T, ctx context.Context, what, cond string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v (last error: %v)", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ringIDs returns the Node-IDs of the peers drawn on the ring.
func ringIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return step(t, ctx, "read the ring", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#ring circle[data-node-id]')].map(c => c.getAttribute('data-node-id'))`))
}

var hexID = regexp.MustCompile(`[0-9a-f]{32,40}`)

// drawnHops returns, in order, the Node-ID of each [data-hop] element of
// the drawn path: its data-node-id, or a Node-ID in its data-hop value or
// its text (an SVG <title> included).
func drawnHops(t *testing.T, ctx context.Context) []string {
	t.Helper()
	type hop struct {
		NodeID string `json:"id"`
		Hop    string `json:"hop"`
		Text   string `json:"text"`
	}
	hops := step(t, ctx, "read the path", chromedp.Evaluate[[]hop](
		`[...document.querySelectorAll('#path [data-hop]')].map(e => ({id: e.getAttribute('data-node-id') || '', hop: e.getAttribute('data-hop') || '', text: e.textContent || ''}))`))
	var ids []string
	for _, h := range hops {
		id := strings.ToLower(h.NodeID)
		if id == "" {
			id = hexID.FindString(strings.ToLower(h.Hop))
		}
		if id == "" {
			id = hexID.FindString(strings.ToLower(h.Text))
		}
		ids = append(ids, id)
	}
	return ids
}

// apiTraceroute asks the control API for a traceroute and returns the
// Node-IDs of its hops.
func apiTraceroute(t *testing.T, base, dest string) []string {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/traceroute?dest="+dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+webUIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hops []struct {
		Node string `json:"node"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /traceroute: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&hops); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hops {
		ids = append(ids, h.Node)
	}
	return ids
}

// farthest returns the peer of c whose traceroute from c.nodes[0] (whose
// control API is at base) has the most hops, and those hops.
func farthest(t *testing.T, c *cluster, base string) (string, []string) {
	t.Helper()
	var dest string
	var path []string
	for _, nd := range c.nodes[1:] {
		p := apiTraceroute(t, base, nd.ID().String())
		if len(p) > len(path) {
			dest, path = nd.ID().String(), p
		}
	}
	return dest, path
}

// TestWebUIBrowser opens node 0's page in Chromium on a 5-peer overlay.
func TestWebUIBrowser(t *testing.T) {
	alloc := browsertest.Require(t)
	c := startCluster(t, 5, nil)
	c.waitConverged(t, 60*time.Second)
	self := c.nodes[0]
	srv := uiServer(t, self)
	tab, plog := openTab(t, alloc)
	selfID := self.ID().String()

	t.Run("loads", func(t *testing.T) {
		start := time.Now()
		resp := step(t, tab, "open the token URL", chromedp.NavigateResponse(srv.URL+"/ui/?token="+webUIToken))
		if resp.Status != http.StatusOK || !strings.HasSuffix(resp.URL, "/ui/") {
			t.Fatalf("after the token URL: %d %s, want 200 at /ui/ (without the token)", resp.Status, resp.URL)
		}
		waitJS(t, tab, "self drawn on the ring",
			fmt.Sprintf(`!!document.querySelector('#ring circle.self[data-node-id="%s"]')`, selfID), 30*time.Second)
		wall := time.Since(start)
		first := step(t, tab, "first render time", chromedp.Evaluate[float64](`window.__firstRing || -1`))
		parsed := step(t, tab, "timings", chromedp.Evaluate[float64](
			`performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd`))
		loc := step(t, tab, "location", chromedp.Location())
		if strings.Contains(loc, "token") {
			t.Errorf("the token stays in the address bar: %s", loc)
		}
		plog.mu.Lock()
		var body, decoded, transfer float64
		var parts []string
		for u, b := range plog.bodies {
			if strings.Contains(u, "/ui/events") {
				continue // the event stream never finishes loading
			}
			body += b
			decoded += plog.decoded[u]
			transfer += plog.transfer[u]
			parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimPrefix(u, srv.URL), b))
		}
		plog.mu.Unlock()
		slices.Sort(parts)
		// The page's own view (Resource Timing), as a cross-check.
		perf := step(t, tab, "resource timing", chromedp.Evaluate[float64](
			`performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).filter(e => !e.name.includes('/ui/events')).reduce((a, e) => a + e.encodedBodySize, 0)`))
		t.Logf("first load: %.0f body bytes as sent (%.0f decoded, %.0f with headers; Resource Timing: %.0f) in %d responses [%s]; first peer on the ring %.0f ms after the navigation started (document parsed at %.0f ms; %d ms wall clock to self drawn)",
			body, decoded, transfer, perf, len(parts), strings.Join(parts, ", "), first, parsed, wall.Milliseconds())
		if errs := plog.consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %q", errs)
		}
	})

	t.Run("ring", func(t *testing.T) {
		want := make([]string, len(c.nodes))
		for i, nd := range c.nodes {
			want[i] = nd.ID().String()
		}
		cond := fmt.Sprintf(`%q.split(' ').every(id => document.querySelector('#ring circle[data-node-id="' + id + '"]'))`, strings.Join(want, " "))
		waitJS(t, tab, "every peer on the ring", cond, 30*time.Second)
		got := ringIDs(t, tab)
		for i, id := range got {
			if !slices.Contains(want, id) {
				t.Errorf("ring shows %s, not a peer of the overlay", id)
			}
			if slices.Contains(got[:i], id) {
				t.Errorf("ring shows %s twice", id)
			}
		}
	})

	// A peer that leaves goes from the ring (before the traceroute below,
	// so that no path drawn or remembered names it).
	leaver := c.nodes[len(c.nodes)-1]
	t.Run("leave", func(t *testing.T) {
		id := leaver.ID().String()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := leaver.Leave(ctx); err != nil {
			t.Fatalf("leave: %v", err)
		}
		d := waitJS(t, tab, "the peer that left gone from the ring",
			fmt.Sprintf(`!document.querySelector('#ring circle[data-node-id="%s"]')`, id), 45*time.Second)
		t.Logf("the peer that left was gone from the ring after %v", d.Round(100*time.Millisecond))
	})
	c.nodes = c.nodes[:len(c.nodes)-1]

	t.Run("traceroute", func(t *testing.T) {
		dest, want := farthest(t, c, srv.URL)
		if len(want) == 0 {
			t.Fatal("no traceroute path from the API")
		}
		step(t, tab, "fill the form", chromedp.SetValue(chromedp.CSS(`#traceroute-form input[name=dest]`), dest))
		step(t, tab, "submit the form", chromedp.Evaluate[bool](`(document.querySelector('#traceroute-form').requestSubmit(), true)`))
		waitJS(t, tab, "the path drawn", fmt.Sprintf(`document.querySelectorAll('#path [data-hop]').length >= %d`, len(want)), 30*time.Second)
		got := drawnHops(t, tab)
		if !slices.Equal(got, want) {
			// The ring may have moved between the two traceroutes; ask again.
			want = apiTraceroute(t, srv.URL, dest)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("drawn hops %q, the API's traceroute %q", got, want)
		}
		t.Logf("traceroute to %s: %d hops drawn", dest, len(got))
	})

	t.Run("refused without the credential", func(t *testing.T) {
		fresh, _ := openTab(t, tab, chromedp.WithNewBrowserContext())
		for _, p := range []string{"/ui/", "/ui/state", "/ui/events", "/ui/?token=not-the-token"} {
			resp := step(t, fresh, "GET "+p, chromedp.NavigateResponse(srv.URL+p))
			if resp.Status != http.StatusUnauthorized {
				t.Errorf("GET %s in a fresh browser context: %d, want 401", p, resp.Status)
			}
			if p == "/ui/" {
				// The refusal says where the URL with the token comes from.
				if txt := step(t, fresh, "refusal text", chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(txt, "reload ui") {
					t.Errorf("the refusal page does not say how to get the URL: %q", txt)
				}
			}
		}
		if got := step(t, fresh, "ring", chromedp.Evaluate[int](`document.querySelectorAll('#ring circle').length`)); got != 0 {
			t.Errorf("the refusal page draws %d peers", got)
		}
	})

	t.Run("phone and keyboard", func(t *testing.T) {
		phone, plog := openTab(t, tab) // same browser context: has the cookie
		step(t, phone, "phone viewport", chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile))
		step(t, phone, "open /ui/", chromedp.Navigate(srv.URL+"/ui/"))
		waitJS(t, phone, "self drawn on the ring", `!!document.querySelector('#ring circle.self')`, 30*time.Second)
		w := step(t, phone, "widths", chromedp.Evaluate[[]float64](
			`[window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth]`))
		if w[1] > w[0] || w[2] > w[0] {
			t.Errorf("horizontal scrolling at 375x667: viewport %v px wide, document %v, body %v", w[0], w[1], w[2])
		}
		// Tab from the start of the page to the traceroute input.
		step(t, phone, "blur", chromedp.Evaluate[bool](`(document.activeElement && document.activeElement.blur && document.activeElement.blur(), window.focus(), true)`))
		const inDest = `!!document.activeElement && document.activeElement.matches('#traceroute-form input[name=dest]')`
		tabs := 0
		for tabs < 60 {
			step(t, phone, "Tab", chromedp.KeyEvent(kb.Tab))
			tabs++
			if step(t, phone, "focus", chromedp.Evaluate[bool](inDest)) {
				break
			}
		}
		if !step(t, phone, "focus", chromedp.Evaluate[bool](inDest)) {
			t.Fatal("60 presses of Tab never reached the traceroute input")
		}
		t.Logf("Tab reached the traceroute input after %d presses", tabs)
		dest := c.nodes[1].ID().String()
		step(t, phone, "type", chromedp.KeyEvent(dest))
		step(t, phone, "Enter", chromedp.KeyEvent(kb.Enter))
		waitJS(t, phone, "the path drawn after Enter", `document.querySelectorAll('#path [data-hop]').length > 0`, 30*time.Second)
		if errs := plog.consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %q", errs)
		}
	})

	if errs := plog.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors in the first tab: %q", errs)
	}
}

// TestWebUIScreenshots writes docs/webui.png and docs/webui-phone.png
// from an 8-peer overlay that has stored, pinged and traced a route, as
// `reload demo` does. Run with RELOAD_SCREENSHOTS=1.
func TestWebUIScreenshots(t *testing.T) {
	if os.Getenv("RELOAD_SCREENSHOTS") == "" {
		t.Skip("set RELOAD_SCREENSHOTS=1 to write docs/webui.png and docs/webui-phone.png")
	}
	alloc := browsertest.Require(t)
	c := startCluster(t, 8, nil)
	c.waitConverged(t, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self := c.nodes[0]
	for i, nd := range c.nodes {
		user := fmt.Sprintf("node%d@test.example.org", i+1) // the identity's user name (USER-MATCH)
		id := nd.ID()
		if _, err := nd.Store(ctx, wire.ResourceIDFromName(user), wire.KindSIPRegistration,
			[]wire.StoredDataValue{wire.DictionaryValue(id.Bytes(), []byte("sip:"+user))}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	c.pingAll(ctx, t, "")
	srv := uiServer(t, self)
	dest, _ := farthest(t, c, srv.URL)

	shoot := func(name string, w, h int64, mobile bool) {
		tab, _ := openTab(t, alloc)
		var opts []chromedp.EmulateViewportOption
		if mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		step(t, tab, "viewport", chromedp.EmulateViewport(w, h, opts...))
		step(t, tab, "open", chromedp.Navigate(srv.URL+"/ui/?token="+webUIToken))
		want := make([]string, len(c.nodes))
		for i, nd := range c.nodes {
			want[i] = nd.ID().String()
		}
		waitJS(t, tab, "every peer on the ring", fmt.Sprintf(`%q.split(' ').every(id => document.querySelector('#ring circle[data-node-id="' + id + '"]'))`, strings.Join(want, " ")), 30*time.Second)
		step(t, tab, "fill the form", chromedp.SetValue(chromedp.CSS(`#traceroute-form input[name=dest]`), dest))
		step(t, tab, "submit", chromedp.Evaluate[bool](`(document.querySelector('#traceroute-form').requestSubmit(), true)`))
		waitJS(t, tab, "the path drawn", `document.querySelectorAll('#path [data-hop]').length > 0`, 30*time.Second)
		// A few live updates, for the traffic rates; then the whole page.
		time.Sleep(2 * time.Second)
		png := step(t, tab, "screenshot", chromedp.FullScreenshot(100))
		p := filepath.Join("..", "docs", name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", p, len(png))
	}
	shoot("webui.png", 1280, 900, false)
	shoot("webui-phone.png", 375, 667, true)
}
