package sip

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/wire"
)

// Binding is a contact of a local user agent for an AOR (RFC 3261 §10.3),
// kept by the front end; the overlay holds only this peer's
// SIP-REGISTRATION entry for the AOR.
type Binding struct {
	AOR      string
	Contact  string // the Contact URI
	Expires  time.Time
	Q        float64
	Instance string // +sip.instance, if any
	// GRUU is the public RELOAD GRUU given to an instance (RFC 7904 §6).
	GRUU string

	contact  sip.Uri
	streamID uint64 // TCP connection the REGISTER came on, if any
	updated  time.Time
}

// Bindings returns the live local bindings of aor.
func (f *Frontend) Bindings(aor string) []Binding {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return nil
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Binding
	for _, b := range f.bindings[n] {
		if now.Before(b.Expires) {
			out = append(out, *b)
		}
	}
	slices.SortFunc(out, func(a, b Binding) int { return strings.Compare(a.Contact, b.Contact) })
	return out
}

func (f *Frontend) hasBinding(aor string) bool {
	_, ok := f.bestBinding(aor)
	return ok
}

// bestBinding is the live binding with the highest q, the most recently
// refreshed first among equals: the contact of a request that is not
// forked (fork.go forks only dialog-creating INVITEs).
func (f *Frontend) bestBinding(aor string) (Binding, bool) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *Binding
	for _, b := range f.bindings[aor] {
		if !now.Before(b.Expires) {
			continue
		}
		if best == nil || b.Q > best.Q || b.Q == best.Q && b.updated.After(best.updated) {
			best = b
		}
	}
	if best == nil {
		return Binding{}, false
	}
	return *best, true
}

// contactPrefs is the contact predicate this peer stores (RFC 7904 §3.2).
func (f *Frontend) contactPrefs() string {
	if f.cfg.Application == AppSIPS {
		return "(sip.schemes=SIPS)"
	}
	return "(sip.schemes=SIP)"
}

// register is the registrar (RFC 3261 §10.3) for local user agents.
func (f *Frontend) register(ctx context.Context, req *sip.Request, src source) {
	to := &req.To().Address
	aor := to.User + "@" + to.Host
	if f.isOwnAddress(to) {
		aor = to.User + "@" + f.domain
	}
	aor, err := NormalizeAOR(aor)
	if err != nil {
		f.reply(req, src, 404, "Not Found")
		return
	}
	// Authentication, then authorization: only the AOR's own user may
	// change its bindings (RFC 3261 §10.3 steps 3 and 4).
	user, ok := f.authenticate(req, src, false, to.User)
	if !ok {
		return
	}
	if !f.authorizedFor(user, aor) {
		f.log.Info("sip: REGISTER for another user's AOR", "aor", aor, "user", user, "from", src.addr)
		f.countAuth("forbidden")
		f.reply(req, src, 403, "Forbidden")
		return
	}
	if err := f.policy.Allows(aor); err != nil {
		f.reply(req, src, 403, "Forbidden")
		return
	}
	if f.cfg.CanRegister != nil {
		if err := f.cfg.CanRegister(aor); err != nil {
			f.log.Info("sip: REGISTER for an AOR this peer may not store", "aor", aor, "err", err)
			f.countAuth("forbidden")
			f.reply(req, src, 403, "Forbidden")
			return
		}
	}
	hdrExpires := -1
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			f.reply(req, src, 400, "Bad Request")
			return
		}
		hdrExpires = n
	}
	contacts := req.GetHeaders("Contact")

	f.regMu.Lock()
	defer f.regMu.Unlock()
	now := time.Now()
	cur := map[string]*Binding{}
	f.mu.Lock()
	for k, b := range f.bindings[aor] {
		if now.Before(b.Expires) {
			c := *b
			cur[k] = &c
		}
	}
	f.mu.Unlock()
	for _, h := range contacts {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			f.reply(req, src, 400, "Bad Request")
			return
		}
		if ch.Address.Wildcard {
			if len(contacts) != 1 || hdrExpires != 0 {
				f.reply(req, src, 400, "Bad Request")
				return
			}
			clear(cur)
			continue
		}
		exp := hdrExpires
		if v, ok := ch.Params.Get("expires"); ok {
			if exp, err = strconv.Atoi(v); err != nil || exp < 0 {
				f.reply(req, src, 400, "Bad Request")
				return
			}
		}
		d := f.cfg.DefaultExpires
		if exp >= 0 {
			d = time.Duration(exp) * time.Second
		}
		if d > 0 && d < f.cfg.MinExpires {
			f.reply(req, src, 423, "Interval Too Brief",
				sip.NewHeader("Min-Expires", strconv.Itoa(int(math.Ceil(f.cfg.MinExpires.Seconds())))))
			return
		}
		d = min(d, f.cfg.MaxExpires)
		key := ch.Address.String()
		if d == 0 {
			delete(cur, key)
			continue
		}
		b := &Binding{AOR: aor, Contact: key, Expires: now.Add(d), Q: 1, contact: *ch.Address.Clone(), updated: now}
		if q, ok := ch.Params.Get("q"); ok {
			if b.Q, err = strconv.ParseFloat(q, 64); err != nil {
				b.Q = 1
			}
		}
		if inst, ok := ch.Params.Get("+sip.instance"); ok {
			b.Instance = inst
			self := f.self
			if g, err := MakeGRUU(aor, wire.NodeDest(&self)); err == nil {
				b.GRUU = g.URI()
			}
		}
		if src.s != nil && !src.s.link {
			b.streamID = src.s.id
		}
		cur[key] = b
	}
	// The answer lists the bindings (RFC 3261 §10.3 step 8); build it
	// before cur is shared with the janitor.
	var hdrs []sip.Header
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b := cur[k]
		p := sip.NewParams()
		p.Add("expires", strconv.Itoa(int(math.Ceil(b.Expires.Sub(now).Seconds()))))
		if b.GRUU != "" {
			p.Add("pub-gruu", strconv.Quote(b.GRUU))
		}
		hdrs = append(hdrs, &sip.ContactHeader{Address: *b.contact.Clone(), Params: p})
	}
	if len(contacts) > 0 {
		if err := f.storeBindings(ctx, aor, cur, now); err != nil {
			f.log.Info("sip: store registration", "aor", aor, "err", err)
			if code, ok := wire.ErrorCodeOf(err); ok && code == wire.ErrCodeForbidden {
				// The storing peer refused the AOR (USER-NODE-MATCH,
				// RFC 7904 §3.3; its *wire.RemoteError), or this peer
				// did before sending: this peer may not register it.
				f.reply(req, src, 403, "Forbidden")
				return
			}
			f.reply(req, src, 500, "Server Internal Error")
			return
		}
		f.mu.Lock()
		if len(cur) == 0 {
			delete(f.bindings, aor)
		} else {
			f.bindings[aor] = cur
		}
		f.mu.Unlock()
		if err := f.saveBindings(aor, cur); err != nil {
			// The registration holds: only a restart would lose it.
			f.log.Warn("sip: keep bindings", "aor", aor, "err", err)
		}
	}
	hdrs = append(hdrs, sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	f.reply(req, src, 200, "OK", hdrs...)
}

// storeBindings makes this peer's SIP-REGISTRATION entry for aor match
// the bindings: a sip_registration_route to this peer, living as long as
// the longest binding, or a deletion when none is left (RFC 7904 §3.1,
// RFC 6940 §7.2).
func (f *Frontend) storeBindings(ctx context.Context, aor string, cur map[string]*Binding, now time.Time) error {
	rid := wire.ResourceIDFromName(aor)
	var last time.Time
	for _, b := range cur {
		if b.Expires.After(last) {
			last = b.Expires
		}
	}
	if len(cur) == 0 {
		prev, ok := f.stored[aor]
		if !ok || !prev.After(now) {
			return nil
		}
		if err := f.ov.Store(ctx, rid, Kind, []wire.StoredDataValue{RemovalValue(f.self)}, ceilSecond(prev.Sub(now))); err != nil {
			return err
		}
		delete(f.stored, aor)
		return nil
	}
	self := f.self
	reg := RouteRegistration(f.contactPrefs(), wire.NodeDest(&self))
	v, err := RegistrationValue(f.self, &reg)
	if err != nil {
		return err
	}
	if err := f.ov.Store(ctx, rid, Kind, []wire.StoredDataValue{v}, ceilSecond(last.Sub(now))); err != nil {
		return err
	}
	f.stored[aor] = last
	return nil
}

func ceilSecond(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// RegisterURI stores this peer's SIP-REGISTRATION entry for aor as a
// sip_registration_uri pointing at target (RFC 7904 §3.1: "to contact me,
// dereference this AOR"), e.g. to forward calls. It replaces the entry the
// front end keeps for local bindings of aor until they are refreshed.
func (f *Frontend) RegisterURI(ctx context.Context, aor, target string, lifetime time.Duration) error {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return err
	}
	if err := f.policy.Allows(n); err != nil {
		return err
	}
	reg, err := URIRegistration(target)
	if err != nil {
		return err
	}
	v, err := RegistrationValue(f.self, &reg)
	if err != nil {
		return err
	}
	f.regMu.Lock()
	defer f.regMu.Unlock()
	if err := f.ov.Store(ctx, wire.ResourceIDFromName(n), Kind, []wire.StoredDataValue{v}, ceilSecond(lifetime)); err != nil {
		return fmt.Errorf("sip: store %s: %w", n, err)
	}
	f.stored[n] = time.Now().Add(lifetime)
	return nil
}
