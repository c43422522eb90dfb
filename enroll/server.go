package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Media types of RFC 6940 §11.3 and §14.17.
const (
	MediaTypePKCS10   = "application/pkcs10"
	MediaTypePKIXCert = "application/pkix-cert"
)

// The 403 body tokens of RFC 6940 §11.3.
const (
	TokenFailedAuthentication = "failed_authentication"
	TokenUsernameNotAvailable = "username_not_available"
	TokenNodeIDsNotAvailable  = "Node-IDs_not_available"
	TokenBadCSR               = "bad_CSR"
)

// DefaultEnrollPath is where Server answers enrollment POSTs unless told
// otherwise; the configuration's enrollment-server URL names it.
const DefaultEnrollPath = "/enroll"

// Error is an enrollment refusal: an HTTP status and, for 403, one of the
// Token* values (RFC 6940 §11.3). A client that receives a token it does
// not know keeps it in Token and should treat it as an unknown failure.
// For 429 Too Many Requests (too many failed attempts, see Limits),
// RetryAfter is how long the server asked the client to wait.
type Error struct {
	Status     int
	Token      string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	switch {
	case e.Token != "":
		return "enroll: " + strconv.Itoa(e.Status) + " " + e.Token
	case e.Status == http.StatusTooManyRequests:
		s := "enroll: HTTP 429 too many attempts"
		if e.RetryAfter > 0 {
			s += ", retry after " + e.RetryAfter.String()
		}
		return s
	}
	return "enroll: HTTP " + strconv.Itoa(e.Status)
}

func refuse(token string) *Error { return &Error{Status: http.StatusForbidden, Token: token} }

// Server is the configuration and enrollment server of one overlay.
// Fill its fields, then use Handler or Start. Fields must not change
// after that except through SetConfig.
type Server struct {
	Overlay    string // instance name; user names without "@" get "@"+Overlay
	CA         *security.CA
	Users      *UserDB
	NodeIDLen  int           // 0: 16
	MaxNodeIDs int           // most Node-IDs per request; 0: 8
	Lifetime   time.Duration // certificate lifetime; 0: 30 days
	EnrollPath string        // 0: DefaultEnrollPath
	Now        func() time.Time
	Rand       io.Reader // Node-ID source; nil: crypto/rand
	Log        *log.Logger
	// Limits bound password guessing over HTTP (the zero value gives
	// the defaults; see Limits). Issue and IssueAuthenticated, which
	// have no client address, are not limited.
	Limits Limits

	mu     sync.RWMutex
	config []byte

	guardOnce sync.Once
	guardV    *guard
}

func (s *Server) guard() *guard {
	s.guardOnce.Do(func() { s.guardV = newGuard(s.Limits) })
	return s.guardV
}

// Stats reports the password checks made, failed and refused so far.
func (s *Server) Stats() Stats { return s.guard().stats() }

// SetConfig sets the configuration document served at
// /.well-known/reload-config.
func (s *Server) SetConfig(doc []byte) {
	s.mu.Lock()
	s.config = bytes.Clone(doc)
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log.Printf(format, args...)
	}
}

// CertUser is the user name put in the certificate of account: the
// account name itself when it has an "@", else account@Overlay.
func (s *Server) CertUser(account string) string {
	if strings.Contains(account, "@") {
		return account
	}
	return account + "@" + s.Overlay
}

// Issue is the enrollment decision without HTTP: it authenticates
// account, checks the CSR (DER or PEM) and the requested number of
// Node-IDs, and returns the DER certificate. Refusals are *Error with the
// RFC token.
func (s *Server) Issue(account, password string, nodeIDs int, csrBytes []byte) ([]byte, error) {
	if !ValidAccountName(account) || !s.Users.Authenticate(account, password) {
		return nil, refuse(TokenFailedAuthentication)
	}
	return s.IssueAuthenticated(account, nodeIDs, csrBytes)
}

// IssueAuthenticated is Issue for an account already authenticated (the
// overlay tool uses it to enroll the nodes it creates).
func (s *Server) IssueAuthenticated(account string, nodeIDs int, csrBytes []byte) ([]byte, error) {
	maxIDs := s.MaxNodeIDs
	if maxIDs == 0 {
		maxIDs = 8
	}
	if nodeIDs < 1 || nodeIDs > maxIDs {
		return nil, refuse(TokenNodeIDsNotAvailable)
	}
	csr, requested, err := security.ParseCSR(csrBytes)
	if err != nil {
		if b, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(csrBytes))); derr == nil {
			csr, requested, err = security.ParseCSR(b)
		}
	}
	if err != nil {
		return nil, refuse(TokenBadCSR)
	}
	user := s.CertUser(account)
	if !security.ValidUserName(user) || requested != "" && requested != user {
		return nil, refuse(TokenUsernameNotAvailable)
	}
	idLen := s.NodeIDLen
	if idLen == 0 {
		idLen = wire.DefaultNodeIDLen
	}
	ids, err := s.Users.NodeIDs(account, nodeIDs, idLen, s.rand())
	if err != nil {
		return nil, err
	}
	life := s.Lifetime
	if life == 0 {
		life = 30 * 24 * time.Hour
	}
	now := s.now()
	der, err := s.CA.IssueFromCSR(csr, ids, user, s.Overlay, now.Add(-5*time.Minute), now.Add(life))
	if err != nil {
		return nil, refuse(TokenBadCSR)
	}
	return der, nil
}

// Handler serves GET /.well-known/reload-config and POST EnrollPath.
func (s *Server) Handler() http.Handler {
	s.guard()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+config.WellKnownPath, s.serveConfig)
	path := s.EnrollPath
	if path == "" {
		path = DefaultEnrollPath
	}
	mux.HandleFunc("POST "+path, s.serveEnroll)
	return mux
}

func (s *Server) serveConfig(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	doc := s.config
	s.mu.RUnlock()
	if doc == nil {
		http.Error(w, "no configuration", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", config.MediaType)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(doc)
}

// maxForm bounds an enrollment request body.
const maxForm = 64 << 10

func (s *Server) serveEnroll(w http.ResponseWriter, r *http.Request) {
	if accept := r.Header.Get("Accept"); accept != "" && !acceptsPKIXCert(accept) {
		http.Error(w, "the response is "+MediaTypePKIXCert, http.StatusNotAcceptable)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseMultipartForm(maxForm); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		writeRefusal(w, refuse(TokenBadCSR))
		return
	}
	account, password := r.FormValue("username"), r.FormValue("password")
	addr := clientAddr(r, s.Limits.TrustForwardedFor)
	n := 1
	if v := r.FormValue("nodeids"); v != "" {
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			writeRefusal(w, refuse(TokenNodeIDsNotAvailable))
			return
		}
	}
	csr, err := formBytes(r, "csr")
	if err != nil {
		writeRefusal(w, refuse(TokenBadCSR))
		return
	}
	if !s.authenticate(w, r, addr, account, password) {
		return
	}
	der, err := s.IssueAuthenticated(account, n, csr)
	var refusal *Error
	switch {
	case errors.As(err, &refusal):
		s.logf("enroll: %q from %s refused: %s", account, addr, refusal.Token)
		writeRefusal(w, refusal)
		return
	case err != nil:
		s.logf("enroll: %q from %s: %v", account, addr, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.logf("enroll: issued a certificate for %q to %s", account, addr)
	w.Header().Set("Content-Type", MediaTypePKIXCert)
	_, _ = w.Write(der)
}

// authenticate checks the password of account for a request from addr
// under the server's Limits, answering the refusal itself (429 before
// any password check when the account or address is locked out, 403
// failed_authentication after a failed one). Every failure is logged
// with the account and the client address.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, addr, account, password string) bool {
	g := s.guard()
	valid := ValidAccountName(account)
	key := account
	if !valid {
		key = "" // no password check, and no table entry for a bad name
	}
	if ref, ok := g.admit(addr, key, s.now()); !ok {
		g.throttled.Add(1)
		if ref.log {
			s.logf("enroll: %q from %s refused for %v: %s", account, addr, ref.retry.Round(time.Second), ref.why)
		}
		writeTooMany(w, ref.retry, ref.why)
		return false
	}
	ok, checked := false, false
	if valid {
		ok, checked = g.check(r.Context().Done(), func() bool { return s.Users.Authenticate(account, password) })
	}
	now := s.now()
	locked := g.done(addr, key, checked, ok, now)
	if ok {
		return true
	}
	if !checked && valid {
		return false // the client went away while waiting for its turn
	}
	msg := fmt.Sprintf("enroll: %q from %s refused: %s", account, addr, TokenFailedAuthentication)
	if len(locked) > 0 {
		msg += fmt.Sprintf(" (%s locked out for %v)", strings.Join(locked, " and "), g.lockedFor(addr, key, now).Round(time.Second))
	}
	s.logf("%s", msg)
	writeRefusal(w, refuse(TokenFailedAuthentication))
	return false
}

// writeTooMany answers 429 Too Many Requests (RFC 6585 §4) with a
// Retry-After of whole seconds (RFC 9110 §10.2.3), rounded up.
func writeTooMany(w http.ResponseWriter, retry time.Duration, why string) {
	secs := max(1, int64((retry+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = fmt.Fprintf(w, "%s; retry after %d s\n", why, secs)
}

// formBytes reads a form field sent either as a file part or as a value.
func formBytes(r *http.Request, name string) ([]byte, error) {
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File[name]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return io.ReadAll(io.LimitReader(f, maxForm))
		}
	}
	v := r.FormValue(name)
	if v == "" {
		return nil, errors.New("missing " + name)
	}
	return []byte(v), nil
}

func acceptsPKIXCert(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == MediaTypePKIXCert || mt == "*/*" || mt == "application/*") {
			return true
		}
	}
	return false
}

func writeRefusal(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, e.Token)
}

// Running is a started HTTPS server.
type Running struct {
	// URL is https://host:port of the listener (no trailing slash).
	URL  string
	Addr net.Addr

	srv  *http.Server
	done chan struct{}
	err  error // set before done is closed
}

// Start serves Handler over HTTPS with cert on addr (host:port; port 0
// picks one) until Close.
func (s *Server) Start(addr string, cert tls.Certificate) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          s.Log,
	}
	r := &Running{URL: "https://" + ln.Addr().String(), Addr: ln.Addr(), srv: srv, done: make(chan struct{})}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			r.err = err
		}
		close(r.done)
	}()
	return r, nil
}

// Close stops the server, waiting up to five seconds for requests in
// progress. It may be called more than once.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	<-r.done
	if r.err != nil {
		return r.err
	}
	return err
}

// Wait blocks until the server fails or ctx is done, then closes it.
func (r *Running) Wait(ctx context.Context) error {
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	return r.Close()
}

// ServerCertificate issues an HTTPS certificate from ca for hosts (DNS
// names or IP addresses; RFC 6940 §11.2–11.3 want the overlay name among
// them) with a fresh ECDSA key, valid from notBefore to notAfter.
func ServerCertificate(ca *security.CA, hosts []string, notBefore, notAfter time.Time) (tls.Certificate, error) {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := ca.IssueServerCert(key.Public(), hosts, notBefore, notAfter)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("enroll: server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}, nil
}
