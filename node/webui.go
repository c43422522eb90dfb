package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/webui"
	"github.com/goreload/reload/wire"
)

// The node's live web page, served by ControlHandler behind its guard:
//
//	GET /ui/          the page (webui.Static: index.html, app.js, style.css)
//	GET /ui/static/F  its files
//	GET /ui/state     the snapshot (UISnapshot) as JSON
//	GET /ui/events    Server-Sent Events: "event: state" with the snapshot
//	                  at once and then once per second, ": ping" every 15 s
//
// A browser logs in with the URL `reload ui` prints, /ui/?token=TOKEN,
// which sets an HttpOnly SameSite=Strict cookie (see controlGuard); the
// page then uses the existing POST /ping and /traceroute.

const (
	// uiMaxOthers bounds the other peers the page remembers; the oldest
	// are dropped first.
	uiMaxOthers = 256
	// uiMaxClients bounds the event streams served at once.
	uiMaxClients = 16
	// uiPeriod is the interval between two state events.
	uiPeriod = time.Second
	// uiKeepalive is the interval between two comment lines, which keep
	// proxies and the browser from closing an idle stream.
	uiKeepalive = 15 * time.Second
	// uiRateWindow is how far back the rates look.
	uiRateWindow = 10 * time.Second
)

// UISnapshot is what the web page shows: the node, its ring, links,
// traffic, storage and SIP registrations. Node-IDs are lower-case hex.
type UISnapshot struct {
	NodeID  string      `json:"node_id"`
	Overlay string      `json:"overlay"`
	Joined  bool        `json:"joined"`
	Client  bool        `json:"client"`
	Uptime  float64     `json:"uptime_s"`
	IDBits  int         `json:"id_bits"`
	Ring    UIRing      `json:"ring"`
	Links   []UILink    `json:"links"`
	Traffic UITraffic   `json:"traffic"`
	Storage UIStorage   `json:"storage"`
	SIP     UISIPStatus `json:"sip"`
}

// UIRing is the node's view of the ring (RFC 6940 §10.3). Others are the
// peers it learnt of that are in none of its tables: the far ends of its
// links, and the peers that answered its pings and traceroutes (RFC 7851
// §4.3 PathTrack), each once.
type UIRing struct {
	Self         string   `json:"self"`
	Predecessors []string `json:"predecessors"`
	Successors   []string `json:"successors"`
	Fingers      []string `json:"fingers"`
	Others       []string `json:"others"`
}

// UILink is one link of the connection table (RFC 6940 §6.6).
type UILink struct {
	NodeID          string         `json:"node_id"`
	Type            string         `json:"type"`
	Remote          string         `json:"remote"`
	ICE             *CandidatePair `json:"ice"`
	RTTms           float64        `json:"rtt_ms"`
	RTOms           float64        `json:"rto_ms"`
	Frames          uint64         `json:"frames_sent"`
	Retransmissions uint64         `json:"retransmissions"`
	Age             float64        `json:"age_s"`
}

// UITraffic holds the node's message rates over the last seconds:
// requests by method, answers by result (ok or an error code's name),
// both sent and received, the messages forwarded for others, and the
// mean overlay hops of the answers to its own requests.
type UITraffic struct {
	Requests   map[string]float64 `json:"requests_per_s"`
	Answers    map[string]float64 `json:"answers_per_s"`
	Forwarded  float64            `json:"forwarded_per_s"`
	HopsMean   float64            `json:"answer_hops_mean"`
	WindowSecs float64            `json:"window_s"`
}

// UIStorage lists what the node stores, by Kind.
type UIStorage struct {
	Kinds []UIKind `json:"kinds"`
}

// UIKind is the node's storage of one Kind: its values and their bytes,
// and how many of them it holds as a replica (RFC 6940 §10.7.2).
type UIKind struct {
	Kind     uint32 `json:"kind"`
	Name     string `json:"name"`
	Values   uint64 `json:"values"`
	Bytes    uint64 `json:"bytes"`
	Replicas uint64 `json:"replicas"`
}

// UISIPStatus lists the AORs the node's SIP front end registers.
type UISIPStatus struct {
	Registrations []UISIPRegistration `json:"registrations"`
}

// UISIPRegistration is one AOR with its number of live contacts.
type UISIPRegistration struct {
	AOR      string `json:"aor"`
	Contacts int    `json:"contacts"`
}

// webUI is the state of the page's server side for one control handler.
type webUI struct {
	n       *Node
	clients atomic.Int32

	mu      sync.Mutex
	others  []wire.NodeID // learnt peers, oldest first
	samples []trafficSample

	// cacheMu serializes the streams' snapshots; cached is the last one.
	cacheMu  sync.Mutex
	cached   []byte
	cachedAt time.Time
}

type trafficSample struct {
	at       time.Time
	req, ans map[string]uint64
	fwd      uint64
	hops     uint64 // answers counted
	hopsSum  uint64
}

func newWebUI(n *Node) *webUI { return &webUI{n: n} }

// learn remembers peers named by answers this node received.
func (u *webUI) learn(ids ...wire.NodeID) {
	self := u.n.ID()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range ids {
		if id.IsZero() || id.IsWildcard() || id.Compare(self) == 0 || slices.ContainsFunc(u.others, func(o wire.NodeID) bool { return o.Compare(id) == 0 }) {
			continue
		}
		if len(u.others) >= uiMaxOthers {
			u.others = slices.Delete(u.others, 0, 1)
		}
		u.others = append(u.others, id)
	}
}

// learnHops remembers the peers of a traceroute's path.
func (u *webUI) learnHops(hops []diag.Hop) {
	for _, h := range hops {
		u.learn(h.Node, h.NextHop)
	}
}

// register adds the page's routes to mux.
func (u *webUI) register(mux *http.ServeMux) {
	static, err := fs.Sub(webui.Static, "static")
	if err != nil { // the embedded tree always has static/
		panic(err)
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		to := "/ui/"
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		page, err := fs.ReadFile(static, "index.html")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		uiHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /ui/static/", func(w http.ResponseWriter, r *http.Request) {
		uiHeaders(w)
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /ui/state", func(w http.ResponseWriter, r *http.Request) {
		uiHeaders(w)
		writeJSON(w, http.StatusOK, u.snapshot(r.Context()))
	})
	mux.HandleFunc("GET /ui/events", u.serveEvents)
}

// uiHeaders keep the page to its own files and out of frames, and keep
// the token-bearing URL out of Referer headers.
func uiHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// serveEvents streams the snapshot as Server-Sent Events (HTML Living
// Standard §9.2): at once, then every uiPeriod, until the client goes or
// the node closes.
func (u *webUI) serveEvents(w http.ResponseWriter, r *http.Request) {
	if u.clients.Add(1) > uiMaxClients {
		u.clients.Add(-1)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": fmt.Sprintf("too many event streams (at most %d)", uiMaxClients)})
		return
	}
	defer u.clients.Add(-1)
	rc := http.NewResponseController(w)
	uiHeaders(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(uiPeriod)
	defer tick.Stop()
	keep := time.NewTicker(uiKeepalive)
	defer keep.Stop()
	var buf bytes.Buffer
	send := func() bool {
		b, err := u.stateJSON(r.Context())
		if err != nil {
			return false
		}
		buf.Reset()
		buf.WriteString("event: state\ndata: ")
		buf.Write(b) // compact JSON: one line
		buf.WriteString("\n\n")
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-u.n.ctx.Done():
			return
		case <-keep.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case <-tick.C:
			if !send() {
				return
			}
		}
	}
}

// stateJSON is the snapshot as compact JSON, built at most once per half
// period: the streams of several clients share it.
func (u *webUI) stateJSON(ctx context.Context) ([]byte, error) {
	u.cacheMu.Lock()
	defer u.cacheMu.Unlock()
	if u.cached != nil && time.Since(u.cachedAt) < uiPeriod/2 {
		return u.cached, nil
	}
	b, err := json.Marshal(u.snapshot(ctx))
	if err != nil {
		return nil, err
	}
	u.cached, u.cachedAt = b, time.Now()
	return b, nil
}

// snapshot builds the page's state from the node's tables, links,
// counters and stores.
func (u *webUI) snapshot(ctx context.Context) UISnapshot {
	n := u.n
	self := n.ID()
	s := UISnapshot{NodeID: self.String(), Overlay: n.cfg.Overlay.InstanceName, Client: n.cfg.Client,
		Uptime: time.Since(n.start).Seconds(), IDBits: 8 * self.Len(),
		Ring:    UIRing{Self: self.String(), Predecessors: []string{}, Successors: []string{}, Fingers: []string{}, Others: []string{}},
		Links:   []UILink{},
		Storage: UIStorage{Kinds: []UIKind{}},
		SIP:     UISIPStatus{Registrations: []UISIPRegistration{}},
	}

	// The tables are read on the loop, as Status does.
	type tables struct {
		joined             bool
		pred, succ, finger []wire.NodeID
		rng                topology.Range
		hasRange           bool
	}
	t := new(tables)
	var tb tables
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if n.do(dctx, func() {
		t.joined = n.ch.Joined()
		t.pred, t.succ, t.finger = n.ch.Predecessors(), n.ch.Successors(), n.ch.Fingers()
		t.rng, t.hasRange = n.ch.ResponsibleRange()
	}) == nil {
		tb = *t
	}
	cancel()
	s.Joined = tb.joined
	seen := map[string]bool{s.NodeID: true}
	add := func(dst *[]string, ids []wire.NodeID) {
		for _, id := range ids {
			if id.IsZero() {
				continue
			}
			h := id.String()
			if !slices.Contains(*dst, h) {
				*dst = append(*dst, h)
			}
			seen[h] = true
		}
	}
	add(&s.Ring.Predecessors, tb.pred)
	add(&s.Ring.Successors, tb.succ)
	add(&s.Ring.Fingers, tb.finger)
	other := func(id wire.NodeID) {
		if h := id.String(); !id.IsZero() && !seen[h] {
			seen[h] = true
			s.Ring.Others = append(s.Ring.Others, h)
		}
	}

	now := time.Now()
	for _, l := range n.eng.Table().Links() {
		var remote string
		if a := l.RemoteAddr(); a != nil {
			remote = a.String()
		}
		st := l.Stats()
		peer := l.PeerNodeID()
		ul := UILink{NodeID: peer.String(), Type: l.Type().String(), Remote: remote,
			RTTms: msFloat(st.SRTT), RTOms: msFloat(st.RTO), Frames: st.Frames, Retransmissions: st.Retransmissions,
			Age: now.Sub(l.Since()).Seconds()}
		if lc, rc, ok := l.ICEPair(); ok {
			ul.ICE = &CandidatePair{LocalType: lc.Type.String(), Local: lc.Addr.String(), RemoteType: rc.Type.String(), Remote: rc.Addr.String()}
		}
		s.Links = append(s.Links, ul)
		other(peer)
	}
	slices.SortFunc(s.Links, func(a, b UILink) int { return strings.Compare(a.NodeID, b.NodeID) })
	u.mu.Lock()
	learnt := slices.Clone(u.others)
	u.mu.Unlock()
	for _, id := range learnt {
		other(id)
	}

	s.Traffic = u.traffic(now)

	var responsible func(wire.ResourceID) bool
	if tb.hasRange {
		responsible = func(r wire.ResourceID) bool { return tb.rng.Contains(r) }
	}
	if usage, err := n.store.UsageByRole(responsible); err == nil {
		for _, k := range usage {
			s.Storage.Kinds = append(s.Storage.Kinds, UIKind{Kind: uint32(k.Kind), Name: n.kindName(k.Kind),
				Values: k.Values, Bytes: k.Bytes, Replicas: k.Replicas})
		}
	}
	if n.sip != nil {
		for _, a := range n.sip.ServedAORs() {
			s.SIP.Registrations = append(s.SIP.Registrations, UISIPRegistration{AOR: a.AOR, Contacts: a.Contacts})
		}
	}
	return s
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// traffic samples the forwarding counters and returns the rates since
// the oldest sample of the last uiRateWindow (zero at the first call).
// Samples closer than a second apart replace the newest one.
func (u *webUI) traffic(now time.Time) UITraffic {
	st := u.n.eng.Stats()
	cur := sampleTraffic(st, now)
	out := UITraffic{Requests: map[string]float64{}, Answers: map[string]float64{}}
	u.mu.Lock()
	defer u.mu.Unlock()
	if k := len(u.samples); k > 0 && now.Sub(u.samples[k-1].at) < uiPeriod-100*time.Millisecond {
		u.samples[k-1] = cur
		if k == 1 {
			return out
		}
	} else {
		u.samples = append(u.samples, cur)
	}
	// Keep one sample at least uiRateWindow old, no older ones.
	for len(u.samples) > 2 && now.Sub(u.samples[1].at) >= uiRateWindow {
		u.samples = u.samples[1:]
	}
	if len(u.samples) < 2 {
		return out
	}
	base := u.samples[0]
	dt := cur.at.Sub(base.at).Seconds()
	if dt <= 0 {
		return out
	}
	out.WindowSecs = dt
	for m, v := range cur.req {
		if d := v - base.req[m]; d > 0 {
			out.Requests[m] = float64(d) / dt
		}
	}
	for m, v := range cur.ans {
		if d := v - base.ans[m]; d > 0 {
			out.Answers[m] = float64(d) / dt
		}
	}
	out.Forwarded = float64(cur.fwd-base.fwd) / dt
	if dh := cur.hops - base.hops; dh > 0 {
		out.HopsMean = float64(cur.hopsSum-base.hopsSum) / float64(dh)
	} else if cur.hops > 0 {
		out.HopsMean = float64(cur.hopsSum) / float64(cur.hops)
	}
	return out
}

func sampleTraffic(st *forwarding.Stats, now time.Time) trafficSample {
	s := trafficSample{at: now, req: map[string]uint64{}, ans: map[string]uint64{}, fwd: st.Forwarded.Load()}
	for _, mc := range st.Messages() {
		switch {
		case strings.HasSuffix(mc.Method, "_req"):
			s.req[mc.Method] += mc.N
		case strings.HasSuffix(mc.Method, "_ans"), mc.Method == "error":
			s.ans[mc.Result] += mc.N
		}
	}
	hops, sum := st.Hops()
	for _, c := range hops {
		s.hops += c
	}
	s.hopsSum = sum
	return s
}

// uiLoginPage answers a browser that has no valid token for the page.
func uiLoginPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	uiHeaders(w)
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><meta charset="utf-8"><title>reload: log in</title>
<h1>Not logged in</h1><p>%s.</p>
<p>Open the URL that <code>reload ui</code> prints on the node's machine (it ends in <code>/ui/?token=…</code>), or the one <code>reload node</code> and <code>reload demo --keep</code> print at start.</p></html>
`, html.EscapeString(msg))
}
