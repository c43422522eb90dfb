package sip

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"
)

// BindingStore keeps a front end's local bindings (RFC 3261 §10.3) where
// they survive a restart of the peer. The front end calls SaveBindings
// with every AOR's bindings after each REGISTER that changed them (none
// left: delete the AOR) and LoadBindings once when it starts. Both are
// called from one goroutine at a time.
type BindingStore interface {
	LoadBindings() ([]Binding, error)
	SaveBindings(aor string, bindings []Binding) error
}

// loadBindings takes the live bindings from the store, forgets the
// expired ones, and takes this peer's SIP-REGISTRATION entries in the
// overlay for the AORs as its own again (they outlive a restart of the
// peer that stored them, with the lifetime of the longest binding).
func (f *Frontend) loadBindings(now time.Time) error {
	if f.cfg.Bindings == nil {
		return nil
	}
	all, err := f.cfg.Bindings.LoadBindings()
	if err != nil {
		return fmt.Errorf("sip: load bindings: %w", err)
	}
	expired := map[string]bool{}
	for _, b := range all {
		aor, err := NormalizeAOR(b.AOR)
		if err != nil || !now.Before(b.Expires) {
			expired[b.AOR] = true
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			f.log.Warn("sip: stored binding dropped", "aor", aor, "contact", b.Contact, "err", err)
			continue
		}
		b.AOR, b.contact, b.updated = aor, u, now
		if f.bindings[aor] == nil {
			f.bindings[aor] = map[string]*Binding{}
		}
		f.bindings[aor][b.Contact] = &b
		if b.Expires.After(f.stored[aor]) {
			f.stored[aor] = b.Expires
		}
	}
	for aor := range expired {
		if f.bindings[aor] == nil {
			if err := f.cfg.Bindings.SaveBindings(aor, nil); err != nil {
				return fmt.Errorf("sip: forget expired bindings: %w", err)
			}
		}
	}
	if len(f.bindings) > 0 {
		f.log.Info("sip: bindings restored", "aors", len(f.bindings))
	}
	return nil
}

// saveBindings hands aor's bindings (cur) to the store, sorted by contact.
func (f *Frontend) saveBindings(aor string, cur map[string]*Binding) error {
	if f.cfg.Bindings == nil {
		return nil
	}
	out := make([]Binding, 0, len(cur))
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		out = append(out, *cur[k])
	}
	return f.cfg.Bindings.SaveBindings(aor, out)
}
