package sip

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/goreload/reload/wire"
)

// Errors of the usage. They wrap or are wrapped with context; test with
// errors.Is.
var (
	ErrBadAOR            = errors.New("sip: malformed AOR")
	ErrNoRegistration    = errors.New("sip: no registration for AOR")
	ErrRedirectLoop      = errors.New("sip: sip_registration_uri loop")
	ErrTooManyRedirects  = errors.New("sip: too many sip_registration_uri hops")
	ErrDomainNotAllowed  = errors.New("sip: AOR domain not allowed in this overlay")
	ErrBadGRUU           = errors.New("sip: malformed RELOAD GRUU")
	ErrBadRegistration   = errors.New("sip: malformed SipRegistration")
	ErrNoLocalBinding    = errors.New("sip: no local contact for AOR")
	ErrFrontendClosed    = errors.New("sip: front end closed")
	ErrNoCredentials     = errors.New("sip: no credentials configured for the front end's users (set Config.Credentials, or Config.NoAuth to let anyone register)")
	errUnsupportedScheme = errors.New("sip: unsupported URI scheme")
)

// NormalizeAOR returns the AOR of a SIP URI or bare AOR in the form RFC
// 7904 §2 and §7 use as the Resource Name: user@domain, without scheme,
// display name, angle brackets, port, URI parameters or headers, with '%'
// escapes decoded (RFC 3986) and the domain in lower case (RFC 3261
// §19.1.4: the host compares case-insensitively, the user part does not).
//
// Accepted inputs include "sip:Alice@Example.COM;transport=tcp",
// "<sips:alice@example.com:5061>" and "alice@example.com". A URI without a
// user part, with an empty host, or with another scheme is ErrBadAOR.
func NormalizeAOR(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("%w: unterminated '<' in %q", ErrBadAOR, s)
		}
		s = s[i+1 : i+j]
	}
	if scheme, rest, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "@") {
		switch strings.ToLower(scheme) {
		case "sip", "sips":
			s = rest
		case "tel", "mailto", "http", "https", "im", "pres", "urn":
			return "", fmt.Errorf("%w: %w %q", ErrBadAOR, errUnsupportedScheme, scheme)
		default:
			// "user:password@host" has no scheme.
			if !strings.Contains(rest, "@") {
				return "", fmt.Errorf("%w: %w %q", ErrBadAOR, errUnsupportedScheme, scheme)
			}
		}
	}
	// The user part may itself hold ';' and '?' (RFC 3261 user-unreserved),
	// so split at the last '@' before cutting parameters from the host.
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "", fmt.Errorf("%w: no user part in %q", ErrBadAOR, s)
	}
	user, host := s[:at], s[at+1:]
	if i := strings.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.IndexByte(user, ':'); i >= 0 { // user:password
		user = user[:i]
	}
	host, ok := stripPort(host)
	if !ok {
		return "", fmt.Errorf("%w: bad host or port in %q", ErrBadAOR, s)
	}
	u, err := url.PathUnescape(user)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadAOR, err)
	}
	h, err := url.PathUnescape(host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadAOR, err)
	}
	if u == "" || h == "" || strings.ContainsAny(h, "@ <>;?") || strings.ContainsAny(u, "@ ") ||
		strings.ContainsFunc(u+h, isControl) {
		return "", fmt.Errorf("%w: %q", ErrBadAOR, s)
	}
	return u + "@" + strings.ToLower(h), nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// stripPort removes a ":port" suffix, keeping IPv6 references intact. ok
// is false for a malformed host or port.
func stripPort(host string) (string, bool) {
	rest := ""
	if strings.HasPrefix(host, "[") {
		i := strings.IndexByte(host, ']')
		if i < 0 || strings.ContainsAny(host[1:i], "[]") {
			return "", false
		}
		host, rest = host[:i+1], host[i+1:]
		if rest != "" && rest[0] != ':' {
			return "", false
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		host, rest = host[:i], host[i:]
	}
	if rest != "" {
		port := rest[1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", false
		}
	}
	if !strings.HasPrefix(host, "[") && strings.ContainsAny(host, "[]:") {
		return "", false
	}
	return host, true
}

// AORDomain is the domain part of a normalised AOR.
func AORDomain(aor string) string {
	_, d, _ := strings.Cut(aor, "@")
	return d
}

// ResourceIDForAOR normalises aor and maps it to its Resource-ID, the hash
// of the AOR as Resource Name (RFC 7904 §7; RFC 6940 §10.2 for CHORD-RELOAD:
// the first 128 bits of SHA-1).
func ResourceIDForAOR(aor string) (wire.ResourceID, error) {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return nil, err
	}
	return wire.ResourceIDFromName(n), nil
}
