package config

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
)

// Self-tuning CHORD-RELOAD (RFC 7363 §7).
const (
	// SelfTuningNamespace is the namespace of the number-of-peers-to-probe
	// element, listed in mandatory-extension by an overlay that uses
	// self-tuning.
	SelfTuningNamespace = "urn:ietf:params:xml:ns:p2p:self-tuning"
	// DefaultPeersToProbe is number-of-peers-to-probe's default.
	DefaultPeersToProbe = 4
)

// SelfTuning reports whether the overlay uses self-tuning CHORD-RELOAD
// (RFC 7363): its namespace is a mandatory-extension, or the
// configuration has a self-tuning:number-of-peers-to-probe element
// (§7). peers is that element's value, DefaultPeersToProbe when it is
// absent; a value that is not an xsd:unsignedInt is an ErrInvalid error.
func (c *Configuration) SelfTuning() (on bool, peers int, err error) {
	on = slices.Contains(c.MandatoryExtensions, SelfTuningNamespace)
	peers = DefaultPeersToProbe
	seen := false
	for _, e := range c.Extensions {
		if e.Name.Space != SelfTuningNamespace || e.Name.Local != "number-of-peers-to-probe" {
			continue
		}
		if seen {
			return false, 0, invalid("number-of-peers-to-probe: more than one element")
		}
		seen = true
		v, perr := strconv.ParseUint(strings.TrimSpace(string(e.Inner)), 10, 32)
		if perr != nil {
			return false, 0, invalid("number-of-peers-to-probe: %q is not an unsignedInt", e.Inner)
		}
		peers, on = int(min(v, 1<<16)), true
	}
	return on, peers, nil
}

// SetSelfTuning turns self-tuning on (RFC 7363 §7): it lists the
// namespace as a mandatory-extension and sets number-of-peers-to-probe
// to peers (0: leave the element out, which means the default).
func (c *Configuration) SetSelfTuning(peers int) {
	if !slices.Contains(c.MandatoryExtensions, SelfTuningNamespace) {
		c.MandatoryExtensions = append(c.MandatoryExtensions, SelfTuningNamespace)
	}
	c.Extensions = slices.DeleteFunc(c.Extensions, func(e Element) bool {
		return e.Name.Space == SelfTuningNamespace && e.Name.Local == "number-of-peers-to-probe"
	})
	if peers > 0 {
		c.Extensions = append(c.Extensions, Element{Name: xml.Name{Space: SelfTuningNamespace, Local: "number-of-peers-to-probe"},
			Inner: []byte(strconv.Itoa(peers))})
	}
}
