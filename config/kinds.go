package config

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"

	"github.com/goreload/reload/wire"
)

// KindInfo is what the overlay says about one Kind: its data model,
// access control policy and limits (RFC 6940 §7.4.1.1, §11.1).
type KindInfo struct {
	ID              uint32
	Name            string // IANA name, "" for private kinds
	DataModel       DataModel
	AccessControl   AccessControl
	MaxCount        int
	MaxSize         int
	MaxNodeMultiple int
	// BranchingFactor is redir:branching-factor, the ReDiR tree's
	// branching factor (RFC 7374 §8); 0 when absent.
	BranchingFactor int
	Signer          wire.NodeID // the kind-signer, when the kind-signature was verified
}

// NamespaceRedir is the XML namespace of RFC 7374's configuration
// extension (§8, §10.2).
const NamespaceRedir = "urn:ietf:params:xml:ns:p2p:redir"

// Registered is one IANA "RELOAD Data Kind-ID" entry (RFC 6940 §14.6 and
// the usages): its id, data model and access policy.
type Registered struct {
	ID            uint32
	DataModel     DataModel
	AccessControl AccessControl
}

// RegisteredKinds are the IANA-registered Kinds by name. For these the
// registry's data model and access control override the configuration
// (RFC 6940 §11.1: "clients MUST ignore them in favor of the IANA
// versions").
var RegisteredKinds = map[string]Registered{
	"SIP-REGISTRATION":    {0x1, DataModelDictionary, AccessUserNodeMatch}, // RFC 7904
	"TURN-SERVICE":        {0x2, DataModelSingle, AccessNodeMultiple},      // RFC 6940 §9
	"CERTIFICATE_BY_NODE": {0x3, DataModelArray, AccessNodeMatch},          // RFC 6940 §8
	"ACCESS-CONTROL-LIST": {0x4, DataModelArray, AccessUserChainACL},       // RFC 8076
	"CERTIFICATE_BY_USER": {0x10, DataModelArray, AccessUserMatch},         // RFC 6940 §8
	"REDIR":               {0x104, DataModelDictionary, AccessNodeIDMatch}, // RFC 7374
	"CoAP-REGISTRATION":   {0x105, DataModelDictionary, AccessURINodeMatch},
	"CoAP-CACHING":        {0x106, DataModelSingle, AccessURIMatch},
}

// registeredByID finds a registered kind by id.
func registeredByID(id uint32) (string, Registered, bool) {
	for name, r := range RegisteredKinds {
		if r.ID == id {
			return name, r, true
		}
	}
	return "", Registered{}, false
}

// Kinds is a Kinds table, Kind-ID → KindInfo. It is a value: With
// returns a new table and never changes the receiver, so a table can be
// shared between goroutines and swapped whole when the configuration
// changes. The zero Kinds is an empty table.
type Kinds struct {
	m map[uint32]KindInfo
}

// NewKinds builds a table from infos (later entries replace earlier ones
// with the same ID).
func NewKinds(infos ...KindInfo) Kinds {
	m := make(map[uint32]KindInfo, len(infos))
	for _, k := range infos {
		m[k.ID] = k
	}
	return Kinds{m: m}
}

// Lookup returns the entry for a Kind-ID.
func (k Kinds) Lookup(id uint32) (KindInfo, bool) {
	info, ok := k.m[id]
	return info, ok
}

// Len is the number of Kinds.
func (k Kinds) Len() int { return len(k.m) }

// IDs lists the Kind-IDs in increasing order.
func (k Kinds) IDs() []uint32 { return slices.Sorted(maps.Keys(k.m)) }

// With returns a copy of k with info added or replaced.
func (k Kinds) With(info KindInfo) Kinds {
	m := maps.Clone(k.m)
	if m == nil {
		m = map[uint32]KindInfo{}
	}
	m[info.ID] = info
	return Kinds{m: m}
}

// Info resolves a kind element: a name must be registered (its ID, data
// model and access control come from the registry); an id that is
// registered also takes the registry's model and policy.
func (kd *Kind) Info() (KindInfo, error) {
	info := KindInfo{ID: kd.ID, Name: kd.Name, DataModel: kd.DataModel, AccessControl: kd.AccessControl,
		MaxCount: kd.MaxCount, MaxSize: kd.MaxSize, MaxNodeMultiple: kd.MaxNodeMultiple}
	if kd.Name != "" {
		r, ok := RegisteredKinds[kd.Name]
		if !ok {
			return info, &wire.ProtocolError{Code: wire.ErrCodeUnknownKind, Info: []byte(kd.Name), Err: fmt.Errorf("config: unknown kind name %q", kd.Name)}
		}
		info.ID, info.DataModel, info.AccessControl = r.ID, r.DataModel, r.AccessControl
	} else if name, r, ok := registeredByID(kd.ID); ok {
		info.Name, info.DataModel, info.AccessControl = name, r.DataModel, r.AccessControl
	}
	for _, e := range kd.Extensions {
		if e.Name.Space == NamespaceRedir && e.Name.Local == "branching-factor" {
			// A branching factor below 2 would make every level of the
			// tree the same single node.
			v, err := parseInt("redir:branching-factor", string(e.Inner), 2, 1<<16)
			if err != nil {
				return info, err
			}
			info.BranchingFactor = int(v)
		}
	}
	return info, nil
}

// Kinds derives the Kinds table from required-kinds. Kind signatures are
// not checked here; see VerifiedKinds.
func (c *Configuration) Kinds() (Kinds, error) {
	infos := make([]KindInfo, 0, len(c.RequiredKinds))
	for i := range c.RequiredKinds {
		info, err := c.RequiredKinds[i].Kind.Info()
		if err != nil {
			return Kinds{}, err
		}
		infos = append(infos, info)
	}
	return NewKinds(infos...), nil
}

// ExtensionKinds are the Kinds of the RELOAD extensions, by their IANA
// names, with the limits `reload overlay init --kind` writes: REDIR (RFC
// 7374, with a ReDiR branching factor of 10, §8), ACCESS-CONTROL-LIST
// (RFC 8076) and the CoAP usage's CoAP-REGISTRATION and CoAP-CACHING (RFC
// 7650). Their data models and access control are the registry's.
func ExtensionKinds() map[string]KindBlock {
	out := make(map[string]KindBlock, 4)
	for _, k := range []Kind{
		{Name: "REDIR", MaxCount: 64, MaxSize: 1024, Extensions: []Element{{
			Name: xml.Name{Space: NamespaceRedir, Local: "branching-factor"}, Inner: []byte("10")}}},
		{Name: "ACCESS-CONTROL-LIST", MaxCount: 64, MaxSize: 1024},
		{Name: "CoAP-REGISTRATION", MaxCount: 16, MaxSize: 4096},
		{Name: "CoAP-CACHING", MaxCount: 1, MaxSize: 4096},
	} {
		r := RegisteredKinds[k.Name]
		k.DataModel, k.AccessControl = r.DataModel, r.AccessControl
		out[k.Name] = KindBlock{Kind: k}
	}
	return out
}

// StandardKinds are the kinds of RFC 6940 and RFC 7904 with the limits
// that `reload overlay init` writes into a new configuration:
// CERTIFICATE_BY_NODE and CERTIFICATE_BY_USER (§8), SIP-REGISTRATION
// (RFC 7904 §7) and TURN-SERVICE (§9). The blocks are unsigned.
func StandardKinds() []KindBlock {
	return []KindBlock{
		{Kind: Kind{Name: "CERTIFICATE_BY_NODE", DataModel: DataModelArray, AccessControl: AccessNodeMatch, MaxCount: 4, MaxSize: 8192}},
		{Kind: Kind{Name: "CERTIFICATE_BY_USER", DataModel: DataModelArray, AccessControl: AccessUserMatch, MaxCount: 4, MaxSize: 8192}},
		{Kind: Kind{Name: "SIP-REGISTRATION", DataModel: DataModelDictionary, AccessControl: AccessUserNodeMatch, MaxCount: 16, MaxSize: 4096}},
		{Kind: Kind{Name: "TURN-SERVICE", DataModel: DataModelSingle, AccessControl: AccessNodeMultiple, MaxNodeMultiple: 20, MaxCount: 1, MaxSize: 256}},
	}
}
