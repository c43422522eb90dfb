package node

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// ParseDestination reads a destination as the command line gives it: a
// Node-ID in hex (node:HEX or HEX of 16 to 20 bytes), a Resource-ID in
// hex (resource:HEX), or a resource name (anything else, or name:TEXT),
// hashed as CHORD-RELOAD does (RFC 6940 §10.2).
func ParseDestination(s string) (wire.Destination, error) {
	switch {
	case strings.HasPrefix(s, "node:"):
		id, err := wire.ParseNodeID(s[5:])
		if err != nil {
			return wire.Destination{}, fmt.Errorf("bad Node-ID %q", s[5:])
		}
		return wire.NodeDest(&id), nil
	case strings.HasPrefix(s, "resource:"):
		b, err := hex.DecodeString(s[9:])
		if err != nil || len(b) == 0 || len(b) > 254 {
			return wire.Destination{}, fmt.Errorf("bad Resource-ID %q", s[9:])
		}
		return wire.ResourceDest(b), nil
	case strings.HasPrefix(s, "name:"):
		return wire.ResourceDest(wire.ResourceIDFromName(s[5:])), nil
	}
	if id, err := wire.ParseNodeID(s); err == nil {
		return wire.NodeDest(&id), nil
	}
	if s == "" {
		return wire.Destination{}, errors.New("empty destination")
	}
	return wire.ResourceDest(wire.ResourceIDFromName(s)), nil
}

// ControlHandler serves the node's local control API, for `reload status`,
// `reload ping`, `reload traceroute`, `reload store` and `reload fetch`:
//
//	GET  /status
//	GET  /metrics  (Prometheus exposition format; see Metrics)
//	POST /ping?dest=D[&diag=KINDS][&route=srr|drr|rpr]
//	POST /traceroute?dest=D[&diag=KINDS]
//	POST /store?resource=NAME&kind=ID[&key=HEX][&index=N][&lifetime=S]  (body: the value)
//	GET  /fetch?resource=NAME&kind=ID  (NAME node:HEX is H(Node-ID), RFC 6940 §8)
//	GET  /stat?resource=NAME&kind=ID
//	GET  /find?resource=NAME&kind=ID
//	GET  /acl?resource=NAME          the access control list at NAME (RFC 8076)
//	POST /acl/grant?resource=NAME&kind=ID&user=USER[&delegate=true][&lifetime=S]
//	POST /acl/revoke?resource=NAME&kind=ID&user=USER
//	GET  /config                     the configuration document in force
//	POST /config                     a new signed configuration document (RFC 6940 §6.5.4)
//	POST /service/register?namespace=NS[&lifetime=S]  ReDiR registration, kept alive (RFC 7374 §4.3, §4.4)
//	POST /service/unregister?namespace=NS[&keep=1]
//	GET  /service/lookup?namespace=NS[&key=HEX]       closest provider by Node-ID (RFC 7374 §4.5)
//	GET  /service/list
//	GET  /ui/ ...                    the live web page (webui.go)
//
// Answers are JSON; errors are {"error": "...", "code": "Error_..."} with
// an HTTP status.
//
// The API acts as this node: what it stores is signed with the node's key.
// So every request must carry "Authorization: Bearer TOKEN" with o.Token
// (401 with WWW-Authenticate: Bearer otherwise; an empty o.Token refuses
// every request), and the handler refuses with 403, before looking at the
// token, what a web browser could send on behalf of a page of another
// origin: a Host header that is not localhost or an IP literal with the
// port the request came in on (a DNS rebinding page names its own host),
// an Origin header other than the API's own, and a Sec-Fetch-Site other
// than same-origin or none. It never answers a CORS preflight positively
// and sets no Access-Control-* header, so a page can neither send the
// token nor read an answer. Serve it on loopback; see ControlOptions for
// anything else.
func (n *Node) ControlHandler(o ControlOptions) http.Handler {
	mux := http.NewServeMux()
	ui := newWebUI(n)
	ui.register(mux) // the web page, under /ui/ (webui.go)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.Handle("GET /metrics", n.Metrics())
	n.handleServiceControl(mux) // RFC 7374 service discovery (redir.go)
	mux.HandleFunc("POST /ping", func(w http.ResponseWriter, r *http.Request) {
		dest, kinds, ok := destAndKinds(w, r)
		if !ok {
			return
		}
		mode, err := ParseRouteMode(r.URL.Query().Get("route"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		res, err := diag.Ping(r.Context(), n.DiagRouted(mode), dest, kinds...)
		if err != nil {
			writeErr(w, err)
			return
		}
		ui.learn(res.From)
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /traceroute", func(w http.ResponseWriter, r *http.Request) {
		dest, kinds, ok := destAndKinds(w, r)
		if !ok {
			return
		}
		hops, err := diag.Traceroute(r.Context(), n.Diag(), dest, kinds...)
		ui.learnHops(hops)
		if err != nil && len(hops) == 0 {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, hops)
	})
	mux.HandleFunc("POST /store", func(w http.ResponseWriter, r *http.Request) {
		res, kind, ok := resourceAndKind(w, r)
		if !ok {
			return
		}
		model, known := n.kinds.Model(kind)
		if !known {
			writeErr(w, &wire.ProtocolError{Code: wire.ErrCodeUnknownKind, Info: []byte(kind.String())})
			return
		}
		var value []byte
		if r.ContentLength != 0 {
			var err error
			value, err = readAll(r)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		var v wire.StoredDataValue
		q := r.URL.Query()
		switch model {
		case wire.ModelSingle:
			v = wire.SingleValue(value)
		case wire.ModelArray:
			idx := uint64(wire.ArrayAppendIndex)
			if s := q.Get("index"); s != "" {
				var err error
				if idx, err = strconv.ParseUint(s, 0, 32); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad index"})
					return
				}
			}
			v = wire.ArrayValue(uint32(idx), value)
		default:
			self := n.ID()
			key := self.Bytes()
			if s := q.Get("key"); s != "" {
				var err error
				if key, err = hex.DecodeString(s); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad key"})
					return
				}
			}
			v = wire.DictionaryValue(key, value)
		}
		lifetime := time.Hour
		if s := q.Get("lifetime"); s != "" {
			sec, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad lifetime"})
				return
			}
			lifetime = time.Duration(sec) * time.Second
		}
		ans, err := n.Store(r.Context(), res, kind, []wire.StoredDataValue{v}, lifetime)
		if err != nil {
			writeErr(w, err)
			return
		}
		type kr struct {
			Kind       string   `json:"kind"`
			Generation uint64   `json:"generation"`
			Replicas   []string `json:"replicas"`
		}
		out := struct {
			Resource string `json:"resource"`
			Kinds    []kr   `json:"kinds"`
		}{Resource: hex.EncodeToString(res)}
		for _, k := range ans.KindResponses {
			out.Kinds = append(out.Kinds, kr{Kind: k.Kind.String(), Generation: k.Generation, Replicas: ids(k.Replicas)})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		res, kind, ok := resourceAndKind(w, r)
		if !ok {
			return
		}
		ans, err := n.fetchControl(r.Context(), res, kind)
		if err != nil {
			writeErr(w, err)
			return
		}
		type val struct {
			Key         string  `json:"key,omitempty"`
			Index       *uint32 `json:"index,omitempty"`
			Exists      bool    `json:"exists"`
			Value       string  `json:"value"`
			ValueHex    string  `json:"value_hex"`
			StorageTime uint64  `json:"storage_time"`
			Lifetime    uint32  `json:"lifetime"`
			Signer      string  `json:"signer_identity"`
		}
		var out []val
		for _, k := range ans.KindResponses {
			for _, sd := range k.Values {
				v := val{Exists: sd.Value.Value.Exists, Value: string(sd.Value.Value.Value), ValueHex: hex.EncodeToString(sd.Value.Value.Value),
					StorageTime: sd.StorageTime, Lifetime: sd.Lifetime, Signer: sd.Signature.Identity.Type.String() + ":" + hex.EncodeToString(sd.Signature.Identity.Hash)}
				switch sd.Value.Model {
				case wire.ModelDictionary:
					v.Key = hex.EncodeToString(sd.Value.Key)
				case wire.ModelArray:
					i := sd.Value.Index
					v.Index = &i
				}
				out = append(out, v)
			}
		}
		// RFC 6940 §7.4.2.2: values that failed verification are not
		// shown, and the answer says it is partial.
		discarded := make([]string, 0, len(ans.Discarded))
		for _, d := range ans.Discarded {
			discarded = append(discarded, d.String())
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": hex.EncodeToString(res), "kind": kind.String(), "values": out,
			"from": ans.From.String(), "partial": ans.Partial(), "discarded": discarded})
	})
	n.handleShare(mux)
	mux.HandleFunc("GET /stat", func(w http.ResponseWriter, r *http.Request) {
		res, kind, ok := resourceAndKind(w, r)
		if !ok {
			return
		}
		ans, err := n.Stat(r.Context(), res, kind)
		if err != nil {
			writeErr(w, err)
			return
		}
		type meta struct {
			Key         string  `json:"key,omitempty"`
			Index       *uint32 `json:"index,omitempty"`
			Exists      bool    `json:"exists"`
			ValueLength uint32  `json:"value_length"`
			Hash        string  `json:"hash"`
			StorageTime uint64  `json:"storage_time"`
			Lifetime    uint32  `json:"lifetime"`
		}
		var out []meta
		var gen uint64
		for _, k := range ans.KindResponses {
			gen = k.Generation
			for _, m := range k.Values {
				v := meta{Exists: m.Metadata.Value.Exists, ValueLength: m.Metadata.Value.ValueLength,
					Hash:        m.Metadata.Value.HashAlgorithm.String() + ":" + hex.EncodeToString(m.Metadata.Value.HashValue),
					StorageTime: m.StorageTime, Lifetime: m.Lifetime}
				switch m.Metadata.Model {
				case wire.ModelDictionary:
					v.Key = hex.EncodeToString(m.Metadata.Key)
				case wire.ModelArray:
					i := m.Metadata.Index
					v.Index = &i
				}
				out = append(out, v)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": hex.EncodeToString(res), "kind": kind.String(), "generation": gen, "values": out})
	})
	mux.HandleFunc("GET /find", func(w http.ResponseWriter, r *http.Request) {
		res, kind, ok := resourceAndKind(w, r)
		if !ok {
			return
		}
		ans, err := n.Find(r.Context(), res, []wire.KindID{kind})
		if err != nil {
			writeErr(w, err)
			return
		}
		out := map[string]string{}
		for _, k := range ans.Results {
			out[k.Kind.String()] = hex.EncodeToString(k.Closest)
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": hex.EncodeToString(res), "closest": out})
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		_, doc := n.Configuration()
		w.Header().Set("Content-Type", "application/p2p-overlay+xml")
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("POST /config", func(w http.ResponseWriter, r *http.Request) {
		doc, err := readAll(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		// §6.5.4: checked as a ConfigUpdate would be, then pushed to the
		// neighbours, from which it spreads over the overlay.
		c, err := n.UpdateConfig(r.Context(), doc)
		if err != nil {
			body := map[string]string{"error": err.Error()}
			if code, ok := wire.ErrorCodeOf(err); ok {
				body["code"] = code.String()
			}
			writeJSON(w, http.StatusUnprocessableEntity, body)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"overlay": c.InstanceName, "sequence": c.Sequence})
	})
	return &controlGuard{opts: o, token: sha256.Sum256([]byte(o.Token)), next: mux}
}

// ControlOptions secure the control API.
type ControlOptions struct {
	// Token is the bearer token every request must carry. Make it from
	// at least 32 random bytes and keep it in a file only the node's user
	// can read. Empty refuses every request.
	Token string
	// AllowRemote accepts a Host header naming any IP literal with any
	// port, for an API served beyond loopback (the token is still
	// required, and it crosses the network in clear over plain HTTP).
	// Without it the Host must be localhost or a loopback IP literal with
	// the port of the listener.
	AllowRemote bool
}

// controlGuard checks Host, Origin and the bearer token before a request
// reaches the control API.
type controlGuard struct {
	opts  ControlOptions
	token [sha256.Size]byte
	next  http.Handler
}

func (g *controlGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := g.checkHost(r); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	if err := checkOrigin(r); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	// The web page's login (webui.go): GET /ui/?token=T with the right
	// token sets the cookie and sends the browser to /ui/ without the
	// token in its address bar and history.
	if q := r.URL.Query(); r.Method == http.MethodGet && (r.URL.Path == "/ui/" || r.URL.Path == "/ui") && q.Has("token") {
		if !g.valid(q.Get("token")) {
			g.unauthorized(w, r, "invalid token in the page's URL", `error="invalid_token"`)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: uiCookieName(r), Value: q.Get("token"), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	// RFC 6750 §2.1 (Authorization: Bearer) and §3 (the challenge); a
	// browser sends the page's HttpOnly cookie instead.
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	fromCookie := false
	if r.Header.Get("Authorization") == "" {
		if c, err := r.Cookie(uiCookieName(r)); err == nil && c.Value != "" {
			scheme, tok, fromCookie = "Bearer", c.Value, true
		}
	}
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		g.unauthorized(w, r, "missing bearer token", "")
		return
	}
	if !g.valid(tok) {
		g.unauthorized(w, r, "invalid bearer token", `error="invalid_token"`)
		return
	}
	// A browser sends the cookie by itself: what changes state must also
	// carry a header that no page of another origin can add without a
	// CORS preflight, which is never granted (checkOrigin has already
	// refused a foreign Origin or Sec-Fetch-Site).
	if fromCookie && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.Header.Get("X-Reload-UI") != "1" || r.Header.Get("Origin") == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "refused a cookie-authenticated " + r.Method + " without Origin and X-Reload-UI: 1"})
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// uiCookieName is the name of the cookie that holds the bearer token in a
// browser (HttpOnly, SameSite=Strict): reload_token_PORT, PORT being the
// port the request came in on. Browsers keep cookies apart by host, not
// by port (RFC 6265 §8.5), so the port in the name keeps the pages of
// several nodes on one host logged in side by side.
func uiCookieName(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return "reload_token_" + port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return "reload_token_" + port
	}
	return "reload_token"
}

// valid compares digests in constant time: neither the token nor its
// length leaks through the time an answer takes.
func (g *controlGuard) valid(tok string) bool {
	got := sha256.Sum256([]byte(tok))
	return g.opts.Token != "" && subtle.ConstantTimeCompare(got[:], g.token[:]) == 1
}

// unauthorized answers 401 with the RFC 6750 §3 challenge: a page saying
// how to log in under /ui, JSON elsewhere.
func (g *controlGuard) unauthorized(w http.ResponseWriter, r *http.Request, msg, errParam string) {
	chal := `Bearer realm="reload control API"`
	if errParam != "" {
		chal += ", " + errParam
	}
	w.Header().Set("WWW-Authenticate", chal)
	if r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/") {
		uiLoginPage(w, msg)
		return
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
}

// checkHost refuses a Host header that a DNS rebinding page would send:
// a name other than localhost, or another port than the listener's.
func (g *controlGuard) checkHost(r *http.Request) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil { // no port: the default one of http
		host, port = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]"), "80"
	}
	ip := net.ParseIP(host)
	switch {
	case strings.EqualFold(host, "localhost"), ip != nil && ip.IsLoopback():
	case ip != nil && g.opts.AllowRemote:
		return nil
	default:
		return fmt.Errorf("refused Host %q: the control API answers only to localhost or an IP address", r.Host)
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && !g.opts.AllowRemote && port != strconv.Itoa(la.Port) {
		return fmt.Errorf("refused Host %q: the control API listens on port %d", r.Host, la.Port)
	}
	return nil
}

// checkOrigin refuses what a browser sends for a page of another origin.
func checkOrigin(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return fmt.Errorf("refused a cross-origin request from %q", o)
	}
	switch s := r.Header.Get("Sec-Fetch-Site"); s {
	case "", "same-origin", "none":
		return nil
	default:
		return fmt.Errorf("refused a cross-site request (Sec-Fetch-Site: %s)", s)
	}
}

func destAndKinds(w http.ResponseWriter, r *http.Request) (wire.Destination, []wire.DiagnosticKindID, bool) {
	dest, err := ParseDestination(r.URL.Query().Get("dest"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return dest, nil, false
	}
	var kinds []wire.DiagnosticKindID
	if s := r.URL.Query().Get("diag"); s != "" {
		if kinds, err = diag.ParseKinds(s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return dest, nil, false
		}
	}
	return dest, kinds, true
}

// ParseKind reads a Kind-ID: an IANA name (SIP-REGISTRATION, ...) or a
// number.
func ParseKind(s string) (wire.KindID, error) {
	for _, k := range []wire.KindID{wire.KindSIPRegistration, wire.KindTURNService, wire.KindCertificateByNode, wire.KindCertificateByUser, wire.KindAccessControlList} {
		if strings.EqualFold(s, k.String()) {
			return k, nil
		}
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("unknown kind %q", s)
	}
	return wire.KindID(v), nil
}

func resourceAndKind(w http.ResponseWriter, r *http.Request) (wire.ResourceID, wire.KindID, bool) {
	q := r.URL.Query()
	name := q.Get("resource")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "resource is required"})
		return nil, 0, false
	}
	kind, err := ParseKind(q.Get("kind"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return nil, 0, false
	}
	res := wire.ResourceIDFromName(name)
	if strings.HasPrefix(name, "node:") {
		// H(Node-ID), where CERTIFICATE_BY_NODE keeps a node's
		// certificate (RFC 6940 §8) and NODE-MATCH lets it store.
		id, err := wire.ParseNodeID(name[5:])
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad Node-ID"})
			return nil, 0, false
		}
		res = storage.NodeResourceID(storage.ChordHash, id)
	}
	if strings.HasPrefix(name, "resource:") {
		b, err := hex.DecodeString(name[9:])
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad Resource-ID"})
			return nil, 0, false
		}
		res = b
	}
	return res, kind, true
}

func readAll(r *http.Request) ([]byte, error) {
	const max = 1 << 20
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err == nil && len(b) > max {
		err = errors.New("value larger than 1 MiB")
	}
	return b, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeErr answers with err and, when err carries a RELOAD error code
// (this node's refusal, a peer's error answer, or a request timeout), the
// code's name and error_info.
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	body := map[string]string{"error": err.Error()}
	if code, ok := wire.ErrorCodeOf(err); ok {
		body["code"] = code.String()
		var info []byte
		if pe, ok := errors.AsType[*wire.ProtocolError](err); ok {
			info = pe.Info
		} else if re, ok := errors.AsType[*wire.RemoteError](err); ok {
			info = re.Info
		}
		if len(info) > 0 {
			body["info"] = string(info)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	writeJSON(w, status, body)
}
