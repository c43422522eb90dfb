package sip

import (
	"fmt"
	"regexp"
	"strings"
)

// DomainPolicy is the AOR domain restriction of an overlay (RFC 7904
// §3.3, §3.4), given as the plain values of the configuration document so
// that this package does not import config:
//
//   - Present false: no <domain-restriction> element; every AOR is
//     accepted.
//   - Present true, Enable false: only AORs whose domain is the overlay's
//     name, OverlayDomain, are accepted.
//   - Present true, Enable true: only AORs whose domain matches one of
//     Patterns, POSIX extended regular expressions matched against the
//     whole domain, are accepted.
type DomainPolicy struct {
	Present       bool
	Enable        bool
	Patterns      []string
	OverlayDomain string
}

// CompiledDomainPolicy is a DomainPolicy with its patterns compiled.
type CompiledDomainPolicy struct {
	p  DomainPolicy
	re []*regexp.Regexp
}

// Compile checks and compiles the patterns.
func (p DomainPolicy) Compile() (*CompiledDomainPolicy, error) {
	c := &CompiledDomainPolicy{p: p}
	if p.Present && p.Enable {
		for _, pat := range p.Patterns {
			re, err := regexp.CompilePOSIX("^(" + pat + ")$")
			if err != nil {
				return nil, fmt.Errorf("sip: domain pattern %q: %w", pat, err)
			}
			c.re = append(c.re, re)
		}
	}
	return c, nil
}

// Allows reports whether aor (any form NormalizeAOR accepts) may be stored
// and looked up in the overlay: nil, or an error wrapping ErrBadAOR or
// ErrDomainNotAllowed. A nil policy allows every AOR.
func (c *CompiledDomainPolicy) Allows(aor string) error {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return err
	}
	if c == nil || !c.p.Present {
		return nil
	}
	d := AORDomain(n)
	if !c.p.Enable {
		if strings.EqualFold(d, c.p.OverlayDomain) {
			return nil
		}
		return fmt.Errorf("%w: %q is not the overlay domain %q", ErrDomainNotAllowed, d, c.p.OverlayDomain)
	}
	for _, re := range c.re {
		if re.MatchString(d) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q matches no pattern", ErrDomainNotAllowed, d)
}

// AllowsDomain is DomainPolicy.Compile followed by Allows, for one-off
// checks.
func AllowsDomain(p DomainPolicy, aor string) error {
	c, err := p.Compile()
	if err != nil {
		return err
	}
	return c.Allows(aor)
}
