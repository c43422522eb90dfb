package enroll

import (
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound password guessing at the enrollment server. Every
// enrollment POST needs a password check (PBKDF2, about 0.1 s of CPU with
// DefaultIterations), so an unbounded guesser both searches the password
// space and starves honest users. Before any password check, a request is
// refused with 429 Too Many Requests and a Retry-After header when its
// account or its client address is locked out, or already has a check in
// progress.
//
// Each account and each client address has a failure budget, a token
// bucket (golang.org/x/time/rate) of AccountFailures or AddressFailures
// failed attempts that refills by one every Refill. Spending the last
// token locks the account or address out for Lockout; every further
// failure before the budget is full again doubles the lockout, up to
// MaxLockout. A success clears the account's record but not the
// address's, so that an attacker's own account cannot buy it more
// guesses. Unknown accounts are treated like known ones, so that lockouts
// do not tell which accounts exist.
//
// The zero value gives the defaults. They let a user mistype a password a
// few times, a host behind one NAT address fail more often, and bring a
// guesser of one account down to about 4 attempts an hour after the
// first 20 minutes.
type Limits struct {
	// Failure budgets; 0 means 5 per account and 20 per address.
	AccountFailures int
	AddressFailures int
	// Refill is how often a budget gets one failure back; 0: 1 minute.
	Refill time.Duration
	// Lockout is the first lockout once a budget is spent, doubled by
	// each further failure up to MaxLockout; 0: 2 s and 15 minutes.
	Lockout    time.Duration
	MaxLockout time.Duration
	// MaxEntries bounds the account table and the address table each
	// (0: 10000). Entries that hold no more than a fresh one would (no
	// lockout, full budget, nothing in progress) are dropped when a table
	// is full; if none is, an entry with no lockout is forgotten (so at
	// most a budget's worth of failures is lost); if every entry is
	// locked out, new accounts and addresses are refused with 429 until
	// one is not.
	MaxEntries int
	// Concurrency bounds the password checks running at once, so that
	// requests, wherever they come from, cannot take every CPU; 0:
	// runtime.GOMAXPROCS. With one check in progress per address and per
	// account, one address cannot hold more than one of them.
	Concurrency int
	// TrustForwardedFor takes the client address from the last
	// X-Forwarded-For entry (when it is an IP address) instead of the
	// connection's address. Set it
	// only behind a reverse proxy that sets that header, or clients
	// choose the address they are counted under.
	TrustForwardedFor bool
}

func (l *Limits) withDefaults() Limits {
	o := *l
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.AccountFailures, 5)
	def(&o.AddressFailures, 20)
	def(&o.MaxEntries, 10000)
	def(&o.Concurrency, runtime.GOMAXPROCS(0))
	defDur(&o.Refill, time.Minute)
	defDur(&o.Lockout, 2*time.Second)
	defDur(&o.MaxLockout, 15*time.Minute)
	o.MaxLockout = max(o.MaxLockout, o.Lockout)
	return o
}

// Stats counts the enrollment server's work on passwords, for monitoring
// (and tests).
type Stats struct {
	// PasswordChecks is the number of password checks (PBKDF2) run.
	PasswordChecks uint64
	// Failures is the number of failed authentications.
	Failures uint64
	// Throttled is the number of requests refused with 429 before any
	// password check.
	Throttled uint64
	// PeakChecks is the largest number of password checks that ran at
	// once.
	PeakChecks int64
}

// entry is what a table remembers of one account or client address.
type entry struct {
	budget  *rate.Limiter
	strikes uint      // failures since the budget ran out
	until   time.Time // locked out until
	busy    bool      // a password check is in progress
	logged  time.Time // the lockout ending then has been logged
}

// table is the failure record of accounts or of client addresses.
type table struct {
	m     map[string]*entry
	burst int
	every rate.Limit
	max   int
}

func newTable(burst int, refill time.Duration, maxEntries int) *table {
	return &table{m: map[string]*entry{}, burst: burst, every: rate.Every(refill), max: maxEntries}
}

// fresh reports whether e holds nothing a new entry would not.
func (t *table) fresh(e *entry, now time.Time) bool {
	return !e.busy && !now.Before(e.until) && e.budget.TokensAt(now) >= float64(t.burst)
}

// get returns the entry of key, making one if needed; nil when the table
// is full of entries with lockouts.
func (t *table) get(key string, now time.Time) *entry {
	if e := t.m[key]; e != nil {
		return e
	}
	if len(t.m) >= t.max {
		for k, e := range t.m {
			if t.fresh(e, now) {
				delete(t.m, k)
			}
		}
	}
	if len(t.m) >= t.max {
		for k, e := range t.m {
			if !e.busy && e.strikes == 0 && !now.Before(e.until) {
				delete(t.m, k)
				break
			}
		}
	}
	if len(t.m) >= t.max {
		return nil
	}
	e := &entry{budget: rate.NewLimiter(t.every, t.burst)}
	t.m[key] = e
	return e
}

// fail records a failed attempt at now and reports whether it started a
// lockout.
func (t *table) fail(e *entry, now time.Time, l *Limits) bool {
	if e.budget.TokensAt(now) >= float64(t.burst) {
		e.strikes = 0 // the budget has refilled: start over
	}
	e.budget.AllowN(now, 1)
	if e.budget.TokensAt(now) >= 1 {
		return false
	}
	d := l.MaxLockout
	if e.strikes < 32 && l.Lockout<<e.strikes < l.MaxLockout && l.Lockout<<e.strikes > 0 {
		d = l.Lockout << e.strikes
	}
	e.strikes++
	e.until = now.Add(d)
	return true
}

// guard applies Limits to the enrollment server's password checks.
type guard struct {
	lim Limits
	sem chan struct{}

	mu        sync.Mutex
	accounts  *table
	addresses *table

	checks, failures, throttled atomic.Uint64
	running, peak               atomic.Int64
}

func newGuard(l Limits) *guard {
	l = l.withDefaults()
	return &guard{
		lim:       l,
		sem:       make(chan struct{}, l.Concurrency),
		accounts:  newTable(l.AccountFailures, l.Refill, l.MaxEntries),
		addresses: newTable(l.AddressFailures, l.Refill, l.MaxEntries),
	}
}

// refusal is why admit turned a request away.
type refusal struct {
	retry time.Duration
	why   string
	log   bool // first refusal of this lockout: worth a log line
}

// admit decides, before any password check, whether a request for
// account (empty for a name that will not be checked) from addr may go
// on. On success the caller must call done with the outcome.
func (g *guard) admit(addr, account string, now time.Time) (*refusal, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.addresses.get(addr, now)
	var c *entry
	if account != "" {
		c = g.accounts.get(account, now)
	}
	if a == nil || account != "" && c == nil {
		return &refusal{retry: g.lim.Lockout, why: "too many clients are locked out"}, false
	}
	ref := &refusal{}
	for _, e := range []*entry{a, c} {
		if e == nil {
			continue
		}
		if now.Before(e.until) {
			ref.retry = max(ref.retry, e.until.Sub(now))
			ref.why = "too many failed attempts"
			if !e.logged.Equal(e.until) {
				e.logged, ref.log = e.until, true
			}
		}
	}
	if ref.retry == 0 && (a.busy || c != nil && c.busy) {
		ref.retry, ref.why = time.Second, "another attempt is in progress"
	}
	if ref.retry > 0 {
		return ref, false
	}
	a.busy = true
	if c != nil {
		c.busy = true
	}
	return nil, true
}

// done ends an admitted request: ok reports a successful authentication,
// checked whether a password check ran. It returns what the failure
// locked out ("account", "address", both or none).
func (g *guard) done(addr, account string, checked, ok bool, now time.Time) (locked []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, c := g.addresses.m[addr], g.accounts.m[account]
	if a != nil {
		a.busy = false
	}
	if c != nil {
		c.busy = false
	}
	if ok {
		// A success clears the account (its user knows the password),
		// not the address.
		delete(g.accounts.m, account)
		return nil
	}
	if !checked && account != "" {
		return nil // not an authentication failure (the client went away)
	}
	g.failures.Add(1)
	if a != nil && g.addresses.fail(a, now, &g.lim) {
		locked = append(locked, "address")
	}
	if c != nil && g.accounts.fail(c, now, &g.lim) {
		locked = append(locked, "account")
	}
	return locked
}

// lockedFor is how long the lockout of account or addr lasts from now.
func (g *guard) lockedFor(addr, account string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var d time.Duration
	if a := g.addresses.m[addr]; a != nil {
		d = max(d, a.until.Sub(now))
	}
	if c := g.accounts.m[account]; c != nil {
		d = max(d, c.until.Sub(now))
	}
	return d
}

// check runs one password check under the concurrency bound; false when
// the request was abandoned while waiting.
func (g *guard) check(done <-chan struct{}, fn func() bool) (ok, ran bool) {
	select {
	case g.sem <- struct{}{}:
	case <-done:
		return false, false
	}
	defer func() { <-g.sem }()
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.checks.Add(1)
	return fn(), true
}

func (g *guard) stats() Stats {
	return Stats{PasswordChecks: g.checks.Load(), Failures: g.failures.Load(), Throttled: g.throttled.Load(), PeakChecks: g.peak.Load()}
}

// size is the number of entries in the tables (accounts, addresses).
func (g *guard) size() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.accounts.m), len(g.addresses.m)
}

// clientAddr is the address a request is counted under: the connection's
// IP address (RFC 6940 §11.3 enrollment is over HTTPS, so it is the
// client's or its NAT's), or with trustXFF the last X-Forwarded-For
// entry. IPv6 addresses count by their /64 prefix, which one subscriber
// usually holds whole.
func clientAddr(r *http.Request, trustXFF bool) string {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip = ap.Addr()
	}
	if trustXFF {
		if h := r.Header.Values("X-Forwarded-For"); len(h) > 0 {
			parts := strings.Split(h[len(h)-1], ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				ip = a
			}
		}
	}
	if !ip.IsValid() {
		return r.RemoteAddr // not an IP address (an in-memory transport): count it as is
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
