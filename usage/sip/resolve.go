package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/goreload/reload/wire"
)

// Defaults of a Resolver.
const (
	DefaultMaxHops    = 8
	DefaultMaxTargets = 16
)

// Target is one place a call for an AOR can go: a destination list, from a
// sip_registration_route or a GRUU.
type Target struct {
	// AOR is the AOR whose registration (or GRUU) gave this target; it
	// differs from the requested AOR when sip_registration_uri values were
	// followed, and a proxy retargets the request to it.
	AOR string
	// Chain is the AORs dereferenced to get here, the requested one first
	// and AOR last.
	Chain []string
	// Key is the dictionary key (storing peer) of the entry; zero for a
	// GRUU.
	Key          wire.NodeID
	ContactPrefs string
	Destinations []wire.Destination
	// GRUU is set when the target came from a GRUU rather than a Fetch.
	GRUU bool
}

// Node is the terminal Node-ID of the target's destination list.
func (t *Target) Node() (wire.NodeID, bool) { return TerminalNode(t.Destinations) }

// Resolver resolves AORs to targets (RFC 7904 §4.2).
type Resolver struct {
	Fetcher Fetcher
	// MaxHops bounds the sip_registration_uri hops followed from the
	// requested AOR (0 means DefaultMaxHops).
	MaxHops int
	// MaxTargets bounds the targets returned, against fork explosion (RFC
	// 7904 §8.2.1; 0 means DefaultMaxTargets).
	MaxTargets int
	// Policy, if set, stops the resolver from looking up AORs whose domain
	// the overlay does not serve (RFC 7904 §4.1).
	Policy *CompiledDomainPolicy
	// SIPS selects the scheme whose contact_prefs are preferred: SIPS
	// (Application-ID 5061) when set, SIP (5060) otherwise.
	SIPS bool
}

type pending struct {
	aor   string
	chain []string
}

// Resolve fetches the SIP-REGISTRATION entries of aor, follows
// sip_registration_uri entries hop by hop (breadth first, each AOR at most
// once, at most MaxHops hops deep), and returns the distinct destination
// lists found, ordered by contact preference (RFC 7904 §5.1: entries that
// name the wanted scheme first, entries that name the other scheme last),
// then by hop count and dictionary key. A GRUU resolves to its own
// destination list without a Fetch (§6).
//
// With no target the error wraps ErrNoRegistration, ErrRedirectLoop (every
// redirect led back to an AOR already visited), ErrTooManyRedirects,
// ErrDomainNotAllowed or the Fetch error. Targets found on some branches
// are returned even when other branches fail.
func (r *Resolver) Resolve(ctx context.Context, aor string) ([]Target, error) {
	maxHops := r.MaxHops
	if maxHops <= 0 {
		maxHops = DefaultMaxHops
	}
	maxTargets := r.MaxTargets
	if maxTargets <= 0 {
		maxTargets = DefaultMaxTargets
	}
	if g, isGRUU, err := ParseGRUU(aor); isGRUU {
		if err != nil {
			return nil, err
		}
		if err := r.Policy.Allows(g.AOR); err != nil {
			return nil, err
		}
		return []Target{{AOR: g.AOR, Chain: []string{g.AOR}, Destinations: g.Destinations, GRUU: true}}, nil
	}
	start, err := NormalizeAOR(aor)
	if err != nil {
		return nil, err
	}
	var (
		targets  []Target
		seen     = map[string]bool{} // encoded destination lists
		visited  = map[string]bool{start: true}
		queue    = []pending{{aor: start, chain: []string{start}}}
		loop     bool
		tooDeep  bool
		firstErr error
	)
	for len(queue) > 0 && len(targets) < maxTargets {
		h := queue[0]
		queue = queue[1:]
		if err := r.Policy.Allows(h.aor); err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		data, err := r.Fetcher.Fetch(ctx, wire.ResourceIDFromName(h.aor), Kind)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			firstErr = cmpErr(firstErr, fmt.Errorf("sip: fetch %s: %w", h.aor, err))
			continue
		}
		regs := make([]Registration, 0, len(data))
		for i := range data {
			reg, ok, err := DecodeRegistration(&data[i].Value)
			if err != nil || !ok {
				continue // a bad entry of one peer does not hide the others
			}
			regs = append(regs, reg)
		}
		slices.SortStableFunc(regs, func(a, b Registration) int { return a.Key.Compare(b.Key) })
		for _, reg := range regs {
			switch reg.Type {
			case wire.SipRegistrationRoute:
				addTarget(&targets, seen, Target{AOR: h.aor, Chain: h.chain, Key: reg.Key,
					ContactPrefs: reg.ContactPrefs, Destinations: reg.Destinations})
			case wire.SipRegistrationURI:
				if g, isGRUU, err := ParseGRUU(reg.URI); isGRUU {
					if err == nil {
						addTarget(&targets, seen, Target{AOR: g.AOR, Chain: appendChain(h.chain, g.AOR),
							Key: reg.Key, Destinations: g.Destinations, GRUU: true})
					}
					continue
				}
				next, err := NormalizeAOR(reg.URI)
				if err != nil {
					continue
				}
				switch {
				case visited[next]:
					loop = true
				case len(h.chain) > maxHops:
					tooDeep = true
				default:
					visited[next] = true
					queue = append(queue, pending{aor: next, chain: appendChain(h.chain, next)})
				}
			}
		}
	}
	if len(targets) > maxTargets {
		targets = targets[:maxTargets]
	}
	if len(targets) == 0 {
		switch {
		case loop:
			return nil, fmt.Errorf("%w: %s", ErrRedirectLoop, start)
		case tooDeep:
			return nil, fmt.Errorf("%w: %s (limit %d)", ErrTooManyRedirects, start, maxHops)
		case firstErr != nil:
			return nil, firstErr
		}
		return nil, fmt.Errorf("%w: %s", ErrNoRegistration, start)
	}
	slices.SortStableFunc(targets, func(a, b Target) int {
		return prefRank(a.ContactPrefs, r.SIPS) - prefRank(b.ContactPrefs, r.SIPS)
	})
	return targets, nil
}

func appendChain(c []string, aor string) []string {
	return append(slices.Clip(c), aor)
}

// cmpErr keeps the first error, preferring a policy refusal.
func cmpErr(first, err error) error {
	if first == nil || errors.Is(err, ErrDomainNotAllowed) && !errors.Is(first, ErrDomainNotAllowed) {
		return err
	}
	return first
}

func addTarget(targets *[]Target, seen map[string]bool, t Target) {
	b, err := wire.AppendDestinationList(nil, t.Destinations)
	if err != nil {
		return
	}
	if seen[string(b)] {
		return // RFC 7904 §4.2 step 3: remove duplicate destination lists
	}
	seen[string(b)] = true
	*targets = append(*targets, t)
}

// prefRank orders contact_prefs (RFC 7904 §3.2, RFC 3840): 0 names the
// wanted scheme, 1 names none, 2 names only the other scheme.
func prefRank(prefs string, sips bool) int {
	p := strings.ToLower(strings.Join(strings.Fields(prefs), ""))
	hasSIPS := strings.Contains(p, "sip.schemes=sips")
	hasSIP := strings.Contains(strings.ReplaceAll(p, "sip.schemes=sips", ""), "sip.schemes=sip")
	want, other := hasSIP, hasSIPS
	if sips {
		want, other = hasSIPS, hasSIP
	}
	switch {
	case want:
		return 0
	case other:
		return 2
	}
	return 1
}
