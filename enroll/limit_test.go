package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/security"
)

// lockedBuffer is a log destination safe to read while the server
// writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clientFrom is a client of f's server whose connections come from the
// loopback address ip (127.0.0.0/8 is all loopback on Linux), so that
// the server sees distinct client addresses.
func clientFrom(t *testing.T, f *fixture, ip string) *Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(f.srv.CA.Cert)
	c := NewClient(roots, "")
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := c.HTTP.Transport.(*http.Transport)
	tr.DialContext = d.DialContext
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// startLimited starts a server with limits, a clock that stands still
// (so that lockouts do not run out while a slow machine runs the test)
// and a log.
func startLimited(t *testing.T, limits Limits) (*fixture, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	frozen := time.Now()
	f := startWith(t, func(s *Server) {
		s.Limits = limits
		s.Now = func() time.Time { return frozen }
		s.Log = log.New(logs, "", 0)
	})
	return f, logs
}

// attempt POSTs an enrollment of account with password from c and
// returns the HTTP status and, for 429, the Retry-After the client read.
func attempt(f *fixture, c *Client, account, password string) (int, time.Duration, error) {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return 0, 0, err
	}
	csr, err := security.CreateCSR(key, "")
	if err != nil {
		return 0, 0, err
	}
	_, err = c.Enroll(context.Background(), f.run.URL+DefaultEnrollPath, Request{Username: account, Password: password, CSR: csr})
	if err == nil {
		return http.StatusOK, 0, nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return 0, 0, fmt.Errorf("enroll %q: %w", account, err)
	}
	return e.Status, e.RetryAfter, nil
}

// mustAttempt is attempt on the test's goroutine.
func mustAttempt(t *testing.T, f *fixture, c *Client, account, password string) (int, time.Duration) {
	t.Helper()
	status, retry, err := attempt(f, c, account, password)
	if err != nil {
		t.Fatal(err)
	}
	return status, retry
}

// enrolAlice enrolls the legitimate user alice through c and checks the
// certificate.
func enrolAlice(t *testing.T, f *fixture, c *Client) {
	t.Helper()
	key, _ := security.GenerateKey(security.KeyECDSAP256)
	id, err := c.EnrollIdentity(context.Background(), f.conf, "", "alice", "secret-alice", 1, key, time.Now())
	if err != nil {
		t.Fatalf("legitimate enrollment of alice: %v", err)
	}
	if id.Cert.User != "alice@"+testOverlay {
		t.Fatalf("alice's certificate names %q", id.Cert.User)
	}
}

// failureLines counts the log lines of failed authentications of account
// that name the client address addr.
func failureLines(logs string, account, addr string) int {
	return strings.Count(logs, fmt.Sprintf("%q from %s refused: %s", account, addr, TokenFailedAuthentication))
}

// TestEnrollBruteForceLockedOut: an attacker sends 60 wrong passwords for
// the configuration signer's account ("admin") over HTTPS, from four
// connections at once. After the account's failure budget (5) every
// attempt is answered 429 with a Retry-After before any password check:
// the server runs exactly 5 PBKDF2 checks for the attacker, and logs each
// failure with the account and the client address. Meanwhile alice, from
// another address, enrolls; afterwards even admin's right password gets
// 429 from anywhere until the lockout ends.
func TestEnrollBruteForceLockedOut(t *testing.T) {
	f, logs := startLimited(t, Limits{})
	attacker := clientFrom(t, f, "127.0.0.1")
	user := clientFrom(t, f, "127.0.0.2")

	var (
		mu        sync.Mutex
		statuses  = map[int]int{}
		noRetry   int
		sent      int
		errs      []error
		throttled = make(chan struct{})
		aliceDone = make(chan struct{})
		once      sync.Once
		wg        sync.WaitGroup
	)
	isClosed := func(c chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				mu.Lock()
				// 60 attempts, and on until alice is through if the
				// attack is being throttled, so that her enrollment
				// runs during the attack.
				if sent >= 60 && (isClosed(aliceDone) || !isClosed(throttled)) || len(errs) > 0 {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				status, retry, err := attempt(f, attacker, "admin", fmt.Sprintf("guess-%d-%d", w, i))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				statuses[status]++
				if status == http.StatusTooManyRequests {
					if retry <= 0 {
						noRetry++
					}
					once.Do(func() { close(throttled) })
				}
				mu.Unlock()
			}
		})
	}
	attackOver := make(chan struct{})
	go func() { wg.Wait(); close(attackOver) }()
	select {
	case <-throttled:
		enrolAlice(t, f, user)
	case <-attackOver:
	}
	close(aliceDone)
	<-attackOver
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}

	if statuses[http.StatusForbidden] != 5 || statuses[http.StatusForbidden]+statuses[http.StatusTooManyRequests] != sent {
		t.Fatalf("answers to the attacker: %v of %d, want 5 × 403 and the rest 429", statuses, sent)
	}
	if noRetry > 0 {
		t.Errorf("%d answers 429 without a Retry-After", noRetry)
	}
	st := f.srv.Stats()
	if st.PasswordChecks != 5+1 || st.Failures != 5 || st.Throttled != uint64(sent-5) {
		t.Errorf("stats %+v: want 6 password checks (5 for the attacker, 1 for alice), 5 failures, %d throttled", st, sent-5)
	}
	if got := failureLines(logs.String(), "admin", "127.0.0.1"); got != 5 {
		t.Errorf("%d log lines of failures naming admin and 127.0.0.1, want 5:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), `"admin" from 127.0.0.1 refused for`) {
		t.Errorf("the lockout is not logged:\n%s", logs)
	}

	// The account is locked out: the right password, from the attacker's
	// or another address, gets 429 without a password check.
	for _, c := range []*Client{attacker, user} {
		if status, retry := mustAttempt(t, f, c, "admin", "secret-admin"); status != http.StatusTooManyRequests || retry <= 0 {
			t.Errorf("admin's right password during the lockout: %d, Retry-After %v", status, retry)
		}
	}
	if n := f.srv.Stats().PasswordChecks; n != 6 {
		t.Errorf("%d password checks after the lockout, want still 6", n)
	}
	if p := f.srv.Stats().PeakChecks; p < 1 || p > int64(f.srv.guard().lim.Concurrency) {
		t.Errorf("peak of %d password checks at once, bound %d", p, f.srv.guard().lim.Concurrency)
	}
}

// TestEnrollSpreadAttackLockedOut: one address tries a wrong password
// for each of 40 accounts (known and unknown). No account reaches its
// budget, but the address does after 20 failures: the rest get 429
// without a password check, and then so does a right password from that
// address. alice still enrolls from another address.
func TestEnrollSpreadAttackLockedOut(t *testing.T) {
	f, logs := startLimited(t, Limits{})
	attacker := clientFrom(t, f, "127.0.0.1")
	user := clientFrom(t, f, "127.0.0.2")
	statuses := map[int]int{}
	for i := range 40 {
		account := fmt.Sprintf("user%d", i)
		switch i {
		case 3:
			account = "alice"
		case 7:
			account = "admin"
		}
		status, _ := mustAttempt(t, f, attacker, account, "wrong")
		statuses[status]++
		if want := http.StatusForbidden; i >= 20 {
			if want = http.StatusTooManyRequests; status != want {
				t.Fatalf("attempt %d: %d, want %d", i+1, status, want)
			}
		} else if status != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, status, want)
		}
	}
	if st := f.srv.Stats(); st.PasswordChecks != 20 || st.Failures != 20 || st.Throttled != 20 {
		t.Errorf("stats %+v: want 20 password checks and failures, 20 throttled", st)
	}
	if got := failureLines(logs.String(), "alice", "127.0.0.1") + failureLines(logs.String(), "user0", "127.0.0.1"); got != 2 {
		t.Errorf("failures of alice and user0 logged %d times with the address, want 2:\n%s", got, logs)
	}
	if status, _ := mustAttempt(t, f, attacker, "alice", "secret-alice"); status != http.StatusTooManyRequests {
		t.Errorf("right password from the locked-out address: %d, want 429", status)
	}
	if n := f.srv.Stats().PasswordChecks; n != 20 {
		t.Errorf("%d password checks, want still 20", n)
	}
	enrolAlice(t, f, user)
}

// TestEnrollBackoffGrows: past the budget each failure doubles the
// lockout up to MaxLockout; a refilled budget starts over; a success
// clears the account but not the address.
func TestEnrollBackoffGrows(t *testing.T) {
	g := newGuard(Limits{AccountFailures: 3, AddressFailures: 100, Refill: time.Minute, Lockout: time.Second, MaxLockout: 10 * time.Second})
	now := time.Unix(1_700_000_000, 0)
	fail := func() time.Duration {
		t.Helper()
		if ref, ok := g.admit("192.0.2.1", "alice", now); !ok {
			t.Fatalf("refused at %v: %+v", now, ref)
		}
		g.done("192.0.2.1", "alice", true, false, now)
		return g.lockedFor("192.0.2.1", "alice", now)
	}
	for i := range 3 {
		if d := fail(); (d > 0) != (i == 2) {
			t.Fatalf("failure %d: locked out for %v", i+1, d)
		}
	}
	// Locked: refused with the time left.
	if ref, ok := g.admit("192.0.2.1", "alice", now.Add(500*time.Millisecond)); ok || ref.retry != 500*time.Millisecond {
		t.Fatalf("during the lockout: %v %+v", ok, ref)
	}
	var got []time.Duration
	for range 6 {
		now = now.Add(g.lockedFor("192.0.2.1", "alice", now))
		got = append(got, fail())
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lockouts %v, want %v", got, want)
	}
	// Once the budget has refilled, the count starts over.
	now = now.Add(3 * time.Minute)
	if d := fail(); d != 0 {
		t.Fatalf("after the refill: locked out for %v", d)
	}
	// A success clears the account, not the address.
	if _, ok := g.admit("192.0.2.1", "alice", now); !ok {
		t.Fatal("refused")
	}
	g.done("192.0.2.1", "alice", true, true, now)
	if _, ok := g.accounts.m["alice"]; ok {
		t.Error("the account's record survived a success")
	}
	if a := g.addresses.m["192.0.2.1"]; a == nil || g.addresses.fresh(a, now) {
		t.Error("the address's record was cleared by a success")
	}
}

// TestEnrollLimiterBounded: the tables never hold more than MaxEntries.
// Entries that a fresh one could replace go first, then ones without a
// lockout (forgetting less than a budget of failures); when every entry
// is locked out, new clients get 429 until one is not.
func TestEnrollLimiterBounded(t *testing.T) {
	const maxEntries = 50
	now := time.Unix(1_700_000_000, 0)
	addr := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/256, i%256) }
	run := func(t *testing.T, g *guard, n int, ok bool) (admitted int) {
		t.Helper()
		for i := range n {
			account := ""
			if ok {
				account = fmt.Sprintf("user%d", i)
			}
			if _, admit := g.admit(addr(i), account, now); !admit {
				continue
			}
			admitted++
			// ok: a success; else a failure with an invalid account
			// name (no password check), which counts for the address.
			g.done(addr(i), account, ok, ok, now)
			if a, b := g.size(); a > maxEntries || b > maxEntries {
				t.Fatalf("tables hold %d accounts and %d addresses, bound %d", a, b, maxEntries)
			}
		}
		return admitted
	}
	t.Run("fresh entries", func(t *testing.T) {
		g := newGuard(Limits{MaxEntries: maxEntries})
		if n := run(t, g, 1000, true); n != 1000 {
			t.Fatalf("%d of 1000 admitted", n)
		}
	})
	t.Run("entries without lockout", func(t *testing.T) {
		g := newGuard(Limits{MaxEntries: maxEntries, AddressFailures: 2})
		if n := run(t, g, 1000, false); n != 1000 {
			t.Fatalf("%d of 1000 admitted", n)
		}
	})
	t.Run("all locked out", func(t *testing.T) {
		g := newGuard(Limits{MaxEntries: maxEntries, AddressFailures: 1, Lockout: time.Hour, MaxLockout: time.Hour})
		if n := run(t, g, 1000, false); n != maxEntries {
			t.Fatalf("%d of 1000 admitted, want %d", n, maxEntries)
		}
		if ref, ok := g.admit("192.0.2.99", "", now); ok || ref.retry <= 0 {
			t.Fatalf("a new address with a table full of lockouts: %v %+v", ok, ref)
		}
		// Once the lockouts have ended and the budgets refilled, the
		// entries are fresh and make room.
		if _, ok := g.admit("192.0.2.99", "", now.Add(2*time.Hour)); !ok {
			t.Fatal("a new address refused after the lockouts ended")
		}
	})
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"192.0.2.1:4431", "", false, "192.0.2.1"},
		{"192.0.2.1:4431", "198.51.100.7", false, "192.0.2.1"},
		{"192.0.2.1:4431", "203.0.113.1, 198.51.100.7", true, "198.51.100.7"},
		{"[2001:db8:1:2:3:4:5:6]:4431", "", false, "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:4431", "", false, "192.0.2.1"},
		{"192.0.2.1:4431", "garbage", true, "192.0.2.1"},
	} {
		r, _ := http.NewRequest(http.MethodPost, "https://x/enroll", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, tc.trust); got != tc.want {
			t.Errorf("clientAddr(%q, XFF %q, trust %v) = %q, want %q", tc.remote, tc.xff, tc.trust, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"17":                            17 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Sun, 01 Jun 2025 12:01:00 GMT": time.Minute,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
	e := &Error{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}
	if !strings.Contains(e.Error(), "retry after 2s") {
		t.Errorf("Error() = %q", e.Error())
	}
}
