package sip

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/goreload/reload/wire"
)

// gruuEncoding is the base64 of RFC 7904 §6: the alphabet of RFC 4648
// Table 1 with '~' in place of the pad '='.
var gruuEncoding = base64.StdEncoding.WithPadding('~')

// GRUU is a RELOAD GRUU (RFC 7904 §6): an AOR whose "gr" URI parameter
// carries a destination list, so that a peer routes to the UA instance
// without fetching anything from the overlay.
type GRUU struct {
	AOR          string // normalised
	Destinations []wire.Destination
}

// MakeGRUU builds the GRUU of aor for the destination list dests.
func MakeGRUU(aor string, dests ...wire.Destination) (GRUU, error) {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return GRUU{}, err
	}
	if len(dests) == 0 {
		return GRUU{}, fmt.Errorf("%w: empty destination list", ErrBadGRUU)
	}
	return GRUU{AOR: n, Destinations: dests}, nil
}

// String is the GRUU without scheme, "alice@example.com;gr=…" as in RFC
// 7904 §6. It is empty when the destination list does not encode.
func (g GRUU) String() string {
	p, err := g.param()
	if err != nil {
		return ""
	}
	return g.AOR + ";gr=" + p
}

// URI is the GRUU as a SIP URI, "sip:alice@example.com;gr=…".
func (g GRUU) URI() string {
	if s := g.String(); s != "" {
		return "sip:" + s
	}
	return ""
}

func (g GRUU) param() (string, error) {
	b, err := wire.AppendDestinationList(nil, g.Destinations)
	if err != nil {
		return "", err
	}
	return gruuEncoding.EncodeToString(b), nil
}

// Node is the terminal Node-ID of the GRUU's destination list.
func (g GRUU) Node() (wire.NodeID, bool) { return TerminalNode(g.Destinations) }

// ParseGRUU reads a RELOAD GRUU from a SIP URI or scheme-less AOR with
// parameters. isGRUU is false, with a nil error, when s has no "gr"
// parameter; a "gr" value that is not a base64 destination list is
// ErrBadGRUU (it may be a GRUU of some other registrar, RFC 5627).
func ParseGRUU(s string) (g GRUU, isGRUU bool, err error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j >= 0 {
			s = s[i+1 : i+j]
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return GRUU{}, false, fmt.Errorf("%w: %q", ErrBadAOR, s)
	}
	hostpart := s[at+1:]
	if i := strings.IndexByte(hostpart, '?'); i >= 0 {
		hostpart = hostpart[:i]
	}
	params := strings.Split(hostpart, ";")[1:]
	val, found := "", false
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "gr") {
			val, found = strings.TrimSpace(v), true
			break
		}
	}
	if !found {
		return GRUU{}, false, nil
	}
	aor, err := NormalizeAOR(s)
	if err != nil {
		return GRUU{}, true, err
	}
	raw, err := gruuEncoding.DecodeString(val)
	if err != nil || len(raw) == 0 {
		return GRUU{}, true, fmt.Errorf("%w: gr=%q", ErrBadGRUU, val)
	}
	dests, err := wire.DecodeDestinationList(nil, raw)
	if err != nil || len(dests) == 0 {
		return GRUU{}, true, fmt.Errorf("%w: %v", ErrBadGRUU, err)
	}
	return GRUU{AOR: aor, Destinations: dests}, true, nil
}
