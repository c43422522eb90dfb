package diag

import (
	"fmt"

	"github.com/goreload/reload/wire"
)

// Rule is what a Policy does with a kind that has no access list.
type Rule uint8

// Rules for kinds without an access list.
const (
	// Deny is the default of RFC 7851 §4.1: "The default policy or access
	// rule for a type of diagnostic information is 'deny' unless specified".
	Deny Rule = iota
	// Allow lets every node read the kind (an overlay that does not mind,
	// or a test bed).
	Allow
)

func (r Rule) String() string {
	if r == Allow {
		return "allow"
	}
	return "deny"
}

// Policy decides who may read which diagnostics from this peer and what the
// peer discloses on a path (RFC 7851 §4.1, §6.3, §7, §8).
//
// Access holds the diagnostic-kind elements of the overlay configuration
// (§7): a kind with an entry may be read only by the Node-IDs listed (its
// access-node elements); a kind without an entry follows Default. A request
// that asks for any kind the requester may not read is refused as a whole
// with Error_Forbidden (§6.3). Requests that ask for no kind at all (a plain
// PathTrack or a Ping with dMFlags zero, §4.3.1) need no access.
//
// DiscloseNodeIDs says whether the peer names its next hop in a
// PathTrackAns when it is not itself the responsible peer; when false it
// refuses such PathTracks with Error_Forbidden, since next_hop cannot be
// left out (the responsible peer still answers, naming only itself).
// DiscloseAddresses says whether it returns KindUnderlayAddress at all; when
// false the kind is left out of responses, as a kind the peer cannot
// provide would be (§5.2).
//
// The zero Policy denies everything and discloses nothing. A Policy given to
// a Server must not be modified afterwards; build a new one and call
// SetPolicy.
type Policy struct {
	Access            map[wire.DiagnosticKindID][]wire.NodeID
	Default           Rule
	DiscloseNodeIDs   bool
	DiscloseAddresses bool
}

// DefaultPolicy is the policy of a peer whose overlay configuration has no
// diagnostic-kind element: kinds are denied (RFC 7851 §4.1), next-hop
// Node-IDs are disclosed, underlay addresses are not.
func DefaultPolicy() Policy {
	return Policy{Default: Deny, DiscloseNodeIDs: true}
}

// KindAccess is one diagnostic-kind element of the overlay configuration
// (RFC 7851 §7): the kind attribute and the access-node Node-IDs in
// hexadecimal. It has the shape of config.DiagnosticKind, which the node
// layer converts with KindAccess(dk).
type KindAccess struct {
	Kind        uint16
	AccessNodes []string
}

// NewPolicy is DefaultPolicy with the access lists of the overlay
// configuration's diagnostic-kind elements. Entries for the same kind are
// merged. A reserved kind (0x0000, 0x003f, 0xffff) or an access-node that
// is not a valid Node-ID is an error.
func NewPolicy(entries []KindAccess) (Policy, error) {
	p := DefaultPolicy()
	for _, e := range entries {
		if err := p.Grant(e.Kind, e.AccessNodes); err != nil {
			return Policy{}, err
		}
	}
	return p, nil
}

// Grant adds the Node-IDs accessNodes (hexadecimal, as in access-node) to
// the access list of kind. A kind that is granted gets an access list even
// when accessNodes is empty, and is then readable by no one.
func (p *Policy) Grant(kind uint16, accessNodes []string) error {
	k := wire.DiagnosticKindID(kind)
	if err := checkRequestable(k); err != nil {
		return err
	}
	if p.Access == nil {
		p.Access = map[wire.DiagnosticKindID][]wire.NodeID{}
	}
	list := p.Access[k]
	if list == nil {
		list = []wire.NodeID{}
	}
	for _, s := range accessNodes {
		id, err := wire.ParseNodeID(s)
		if err != nil {
			return fmt.Errorf("diag: access-node %q of diagnostic kind %#04x: %w", s, kind, err)
		}
		list = append(list, id)
	}
	p.Access[k] = list
	return nil
}

// Allowed reports whether node from may read kind k.
func (p *Policy) Allowed(k wire.DiagnosticKindID, from wire.NodeID) bool {
	list, ok := p.Access[k]
	if !ok {
		return p.Default == Allow
	}
	for _, id := range list {
		if id == from {
			return true
		}
	}
	return false
}

// clone returns a copy of p that shares nothing with it.
func (p *Policy) clone() *Policy {
	c := *p
	if p.Access != nil {
		c.Access = make(map[wire.DiagnosticKindID][]wire.NodeID, len(p.Access))
		for k, v := range p.Access {
			c.Access[k] = append([]wire.NodeID{}, v...)
		}
	}
	return &c
}
