package sip

import (
	"slices"
	"strings"
	"time"
)

// ServedAOR is one address-of-record this front end serves as
// registrar (RFC 7904 §3) and the number of its live local bindings.
type ServedAOR struct {
	AOR      string
	Contacts int
}

// ServedAORs lists the AORs with live local bindings, sorted.
func (f *Frontend) ServedAORs() []ServedAOR {
	now := time.Now()
	f.mu.Lock()
	out := make([]ServedAOR, 0, len(f.bindings))
	for aor, m := range f.bindings {
		n := 0
		for _, b := range m {
			if now.Before(b.Expires) {
				n++
			}
		}
		if n > 0 {
			out = append(out, ServedAOR{AOR: aor, Contacts: n})
		}
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b ServedAOR) int { return strings.Compare(a.AOR, b.AOR) })
	return out
}
