package sip

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest authentication of local user agents (RFC 3261 §22, with the
// digest computation of RFC 2617 and RFC 7616, algorithms MD5 and SHA-256
// as RFC 8760 adds them to SIP). The realm is the front end's AOR domain.
//
// A REGISTER is answered 401 with a WWW-Authenticate challenge until it
// carries valid credentials of the AOR's own user (RFC 3261 §10.3 steps
// 3 and 4: other users' credentials, wrong ones and unknown users get
// 403). An out-of-dialog request of a local user agent (INVITE, MESSAGE,
// SUBSCRIBE, ...) is answered 407 with a Proxy-Authenticate challenge
// until it carries valid credentials of any configured user (RFC 3261
// §22.3), so that only the operator's users place calls into the overlay
// through this peer. ACK and CANCEL cannot be challenged (§22.1),
// in-dialog requests (a To tag) follow a dialog that was authenticated
// when it was made, and requests that arrive from other peers over
// AppAttach connections are authenticated by RELOAD (RFC 7904 §5.1).

// Secret is the secret of one user: a password, or the HA1 of RFC 7616
// §3.4.2 (H(username ":" realm ":" password), in hex) for one or both
// algorithms, computed with the front end's realm. A password answers
// challenges of either algorithm; an HA1 only those of its own.
type Secret struct {
	Password  string
	HA1MD5    string
	HA1SHA256 string
}

// Credentials are the users a front end authenticates, by user name: the
// user part of their AOR in the front end's domain (bob for
// bob@example.com), or a whole AOR user@domain.
type Credentials map[string]Secret

// Digest algorithm names (RFC 7616 §3.3, RFC 8760).
const (
	algMD5    = "MD5"
	algSHA256 = "SHA-256"
)

// Prefixes of a precomputed HA1 in a credentials file.
const (
	ha1MD5Prefix    = "HA1-MD5:"
	ha1SHA256Prefix = "HA1-SHA-256:"
)

// ParseCredentials reads credentials, one user a line:
//
//	# comment
//	alice  s3cret-password
//	bob    HA1-MD5:<32 hex digits of MD5(bob:REALM:password)>
//	carol  HA1-SHA-256:<64 hex digits of SHA-256(carol:REALM:password)>
//
// The user and the secret are separated by white space; neither may
// contain any. REALM is the front end's domain.
func ParseCredentials(r io.Reader) (Credentials, error) {
	out := Credentials{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("sip: credentials line %d: want \"USER SECRET\"", line)
		}
		user, secret := f[0], f[1]
		if _, dup := out[user]; dup {
			return nil, fmt.Errorf("sip: credentials line %d: user %q appears twice", line, user)
		}
		var s Secret
		switch {
		case strings.HasPrefix(secret, ha1MD5Prefix):
			s.HA1MD5 = strings.ToLower(strings.TrimPrefix(secret, ha1MD5Prefix))
			if b, err := hex.DecodeString(s.HA1MD5); err != nil || len(b) != 16 {
				return nil, fmt.Errorf("sip: credentials line %d: %s needs 32 hex digits", line, ha1MD5Prefix)
			}
		case strings.HasPrefix(secret, ha1SHA256Prefix):
			s.HA1SHA256 = strings.ToLower(strings.TrimPrefix(secret, ha1SHA256Prefix))
			if b, err := hex.DecodeString(s.HA1SHA256); err != nil || len(b) != 32 {
				return nil, fmt.Errorf("sip: credentials line %d: %s needs 64 hex digits", line, ha1SHA256Prefix)
			}
		default:
			s.Password = secret
		}
		out[user] = s
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sip: credentials: %w", err)
	}
	return out, nil
}

// LoadCredentials reads a credentials file (see ParseCredentials). The
// file holds secrets: it must not be readable or writable by group or
// others (mode 0600 or stricter), and must name at least one user.
func LoadCredentials(path string) (Credentials, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sip: credentials: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("sip: credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sip: credentials file %s has mode %04o: it holds secrets, allow only its owner (chmod 600)", path, st.Mode().Perm())
	}
	c, err := ParseCredentials(fh)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("sip: credentials file %s names no user", path)
	}
	return c, nil
}

// AppendCredential appends the line for user and password to a
// credentials file, creating it with mode 0600.
func AppendCredential(path, user, password string) error {
	if user == "" || password == "" || strings.ContainsAny(user+password, " \t\r\n") || strings.HasPrefix(user, "#") {
		return errors.New("sip: a user name and password must be non-empty and contain no white space")
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(fh, "%s %s\n", user, password); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func (s Secret) algorithms() []string {
	var out []string
	if s.Password != "" || s.HA1MD5 != "" {
		out = append(out, algMD5)
	}
	if s.Password != "" || s.HA1SHA256 != "" {
		out = append(out, algSHA256)
	}
	return out
}

// ha1 is the A1 hash for alg, or "" when the secret cannot answer alg.
func (s Secret) ha1(alg, user, realm string) string {
	switch alg {
	case algMD5:
		if s.HA1MD5 != "" {
			return s.HA1MD5
		}
	case algSHA256:
		if s.HA1SHA256 != "" {
			return s.HA1SHA256
		}
	}
	if s.Password == "" {
		return ""
	}
	return hashHex(alg, user+":"+realm+":"+s.Password)
}

// Nonce lifetime and bookkeeping limits.
const (
	defaultNonceLifetime = 5 * time.Minute
	maxNonceUses         = 1 << 16
	nonceRawLen          = 8 + 8 + 16 // issue time, random, MAC
)

// authenticator issues nonces and checks digest credentials.
type authenticator struct {
	realm    string
	creds    Credentials
	key      [32]byte
	lifetime time.Duration

	mu   sync.Mutex
	used map[string]nonceUse // nonces that authenticated a request
}

// nonceUse is what a nonce authenticated last: the highest nonce-count,
// and the transaction, so that a retransmission (same Via branch, Call-ID
// and CSeq) is not mistaken for a replay.
type nonceUse struct {
	nc      int
	txn     string
	expires time.Time
}

func newAuthenticator(realm string, creds Credentials, lifetime time.Duration) (*authenticator, error) {
	a := &authenticator{realm: realm, creds: creds, lifetime: lifetime, used: map[string]nonceUse{}}
	if a.lifetime <= 0 {
		a.lifetime = defaultNonceLifetime
	}
	if _, err := rand.Read(a.key[:]); err != nil {
		return nil, err
	}
	return a, nil
}

// nonce is a fresh nonce: its issue time and 8 random octets, with an
// HMAC under a key only this front end knows, so that nonces need no
// state until they are used and cannot be forged or extended (RFC 7616
// §3.3 "nonce", §5.5).
func (a *authenticator) nonce(now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(raw[8:16])
	copy(raw[16:], a.mac(raw[:16]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (a *authenticator) mac(b []byte) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte(a.realm))
	m.Write(b)
	return m.Sum(nil)[:16]
}

// checkNonce reports whether n is a nonce of this front end, and when it
// stops being accepted.
func (a *authenticator) checkNonce(n string) (expires time.Time, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(raw) != nonceRawLen || !hmac.Equal(raw[16:], a.mac(raw[:16])) {
		return time.Time{}, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	return issued.Add(a.lifetime), true
}

// challenge is the WWW-Authenticate or Proxy-Authenticate header for alg.
func (a *authenticator) challenge(name, alg, nonce string, stale bool) sip.Header {
	c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
	return sip.NewHeader(name, c.String())
}

// authVerdict is the outcome of checking a request's credentials.
type authVerdict int

const (
	authOK        authVerdict = iota
	authChallenge             // no usable credentials: challenge (401/407)
	authStale                 // right credentials, expired nonce: challenge with stale=true
	authForbidden             // wrong credentials or unknown user: 403
	authBad                   // malformed credentials: 400
)

// verify checks the credentials of req in header hdr (Authorization or
// Proxy-Authorization) for this realm. It returns the authenticated user.
func (a *authenticator) verify(req *sip.Request, hdr string, now time.Time) (string, authVerdict) {
	var cred *digest.Credentials
	for _, h := range req.GetHeaders(hdr) {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			if !digest.IsDigest(h.Value()) {
				continue // another scheme; not ours
			}
			return "", authBad
		}
		if c.Realm == a.realm {
			cred = c
			break
		}
	}
	if cred == nil {
		return "", authChallenge
	}
	alg := strings.ToUpper(cred.Algorithm)
	if alg == "" {
		alg = algMD5
	}
	if alg != algMD5 && alg != algSHA256 {
		return "", authChallenge
	}
	if cred.Userhash || cred.Username == "" || cred.Response == "" || cred.URI == "" {
		return "", authBad
	}
	expires, ours := a.checkNonce(cred.Nonce)
	if !ours {
		// Not a nonce we issued (forged, or of an earlier run): ask again.
		return "", authChallenge
	}
	secret, known := a.creds[cred.Username]
	if !known {
		return cred.Username, authForbidden
	}
	ha1 := secret.ha1(alg, cred.Username, a.realm)
	if ha1 == "" {
		return cred.Username, authForbidden
	}
	chal := digest.Challenge{Realm: a.realm, Nonce: cred.Nonce, Algorithm: alg}
	opts := digest.Options{Method: req.Method.String(), URI: cred.URI, Username: cred.Username, A1: ha1}
	switch {
	case cred.QOP == "":
		// RFC 2069 compatibility (no qop): the nonce is then good for one
		// request only, there being no nonce-count.
	case strings.EqualFold(cred.QOP, "auth"):
		if cred.Nc <= 0 || cred.Cnonce == "" {
			return "", authBad
		}
		chal.QOP = []string{"auth"}
		opts.Cnonce, opts.Count = cred.Cnonce, cred.Nc
	default:
		return "", authChallenge // auth-int is not offered
	}
	want, err := digest.Digest(&chal, opts)
	if err != nil {
		return "", authBad
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want.Response)) != 1 {
		return cred.Username, authForbidden
	}
	if !now.Before(expires) {
		return "", authStale
	}
	// Replay protection (RFC 7616 §5.5): the nonce-count must grow, and a
	// nonce without qop is used once; a retransmission of the request
	// that used it last is not a replay.
	txn := txnKey(req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, seen := a.used[cred.Nonce]; seen {
		if u.txn == txn && (cred.QOP == "" || cred.Nc == u.nc) {
			return cred.Username, authOK
		}
		if cred.QOP == "" || cred.Nc <= u.nc {
			return "", authStale
		}
	} else if len(a.used) >= maxNonceUses {
		a.pruneLocked(now)
		if len(a.used) >= maxNonceUses {
			return "", authStale
		}
	}
	a.used[cred.Nonce] = nonceUse{nc: cred.Nc, txn: txn, expires: expires}
	return cred.Username, authOK
}

func (a *authenticator) prune(now time.Time) {
	a.mu.Lock()
	a.pruneLocked(now)
	a.mu.Unlock()
}

func (a *authenticator) pruneLocked(now time.Time) {
	for n, u := range a.used {
		if !now.Before(u.expires) {
			delete(a.used, n)
		}
	}
}

// txnKey names a request's transaction (RFC 3261 §17.2.3).
func txnKey(req *sip.Request) string {
	var b strings.Builder
	if v := req.Via(); v != nil {
		b.WriteString(v.Params.GetOr("branch", ""))
		b.WriteByte('|')
		b.WriteString(v.SentBy())
	}
	b.WriteByte('|')
	if c := req.CallID(); c != nil {
		b.WriteString(c.Value())
	}
	b.WriteByte('|')
	if c := req.CSeq(); c != nil {
		b.WriteString(c.Value())
	}
	return b.String()
}

func hashHex(alg, s string) string {
	if alg == algSHA256 {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// authenticate checks the credentials of a request from a local user
// agent and, when they do not do, answers it: 401 with WWW-Authenticate
// (registrar, RFC 3261 §22.2) or, with proxy, 407 with Proxy-Authenticate
// (§22.3), each with a fresh nonce per algorithm the user can answer
// (MD5 first, which every user agent knows, then SHA-256, RFC 8760 §2.4);
// 403 for wrong credentials or an unknown user; 400 for malformed ones.
// user, when known (the To user of a REGISTER), limits the algorithms
// offered to those its secret answers. It returns the authenticated user.
func (f *Frontend) authenticate(req *sip.Request, src source, proxy bool, user string) (string, bool) {
	if f.auth == nil {
		return "", true
	}
	hdr, chalHdr, code, reason := "Authorization", "WWW-Authenticate", 401, "Unauthorized"
	if proxy {
		hdr, chalHdr, code, reason = "Proxy-Authorization", "Proxy-Authenticate", 407, "Proxy Authentication Required"
	}
	now := time.Now()
	who, v := f.auth.verify(req, hdr, now)
	switch v {
	case authOK:
		f.countAuth("ok")
		return who, true
	case authForbidden:
		f.log.Info("sip: authentication failed", "method", req.Method, "user", who, "from", src.addr)
		f.countAuth("forbidden")
		f.reply(req, src, 403, "Forbidden")
		return "", false
	case authBad:
		f.countAuth("malformed")
		f.reply(req, src, 400, "Bad Request")
		return "", false
	}
	f.countAuth("challenged")
	algs := []string{algMD5, algSHA256}
	if s, ok := f.auth.creds[user]; ok {
		algs = s.algorithms()
	}
	hdrs := make([]sip.Header, 0, len(algs))
	for _, alg := range algs {
		hdrs = append(hdrs, f.auth.challenge(chalHdr, alg, f.auth.nonce(now), v == authStale))
	}
	f.reply(req, src, code, reason, hdrs...)
	return "", false
}

// countAuth reports an authentication outcome to Config.OnAuth.
func (f *Frontend) countAuth(result string) {
	if f.cfg.OnAuth != nil {
		f.cfg.OnAuth(result)
	}
}

// needsProxyAuth reports whether a request of a local user agent must be
// authenticated before it is proxied: an out-of-dialog request other
// than REGISTER (authenticated by the registrar), ACK and CANCEL (which
// cannot be challenged, RFC 3261 §22.1), except one for the front end
// itself (an OPTIONS keep-alive).
func (f *Frontend) needsProxyAuth(req *sip.Request, src source) bool {
	if f.auth == nil || src.transport == tLink {
		return false
	}
	switch req.Method {
	case sip.REGISTER, sip.ACK, sip.CANCEL:
		return false
	}
	if req.To().Params.Has("tag") {
		return false
	}
	u := &req.Recipient
	return req.Route() != nil || u.User != "" || !f.isOwnAddress(u)
}

// authorizedFor reports whether the authenticated user may register aor
// (RFC 3261 §10.3 step 4): its own AOR only, user@Domain for a bare user
// name.
func (f *Frontend) authorizedFor(user, aor string) bool {
	if f.auth == nil {
		return true
	}
	if !strings.Contains(user, "@") {
		user += "@" + f.domain
	}
	n, err := NormalizeAOR(user)
	return err == nil && n == aor
}
