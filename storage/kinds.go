package storage

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/wire"
)

// Policy is an access control policy (RFC 6940 §7.3, §14.4).
type Policy uint8

// Access control policies. PolicyUnsupported stands for a policy this
// package does not know: every Store of such a Kind is refused with
// Error_Forbidden.
const (
	PolicyUnsupported   Policy = iota
	PolicyUserMatch            // USER-MATCH, §7.3.1
	PolicyNodeMatch            // NODE-MATCH, §7.3.2
	PolicyUserNodeMatch        // USER-NODE-MATCH, §7.3.3
	PolicyNodeMultiple         // NODE-MULTIPLE, §7.3.4
	PolicyNodeIDMatch          // NODE-ID-MATCH, RFC 7374 §5
	PolicyUserChainACL         // USER-CHAIN-ACL, RFC 8076 §6.3
	PolicyURIMatch             // URI-MATCH, RFC 7650 §9
	PolicyURINodeMatch         // URI-NODE-MATCH, RFC 7650 §9
)

func (p Policy) String() string {
	switch p {
	case PolicyUnsupported:
		return "UNSUPPORTED"
	case PolicyUserMatch:
		return "USER-MATCH"
	case PolicyNodeMatch:
		return "NODE-MATCH"
	case PolicyUserNodeMatch:
		return "USER-NODE-MATCH"
	case PolicyNodeMultiple:
		return "NODE-MULTIPLE"
	case PolicyNodeIDMatch:
		return "NODE-ID-MATCH"
	case PolicyUserChainACL:
		return "USER-CHAIN-ACL"
	case PolicyURIMatch:
		return "URI-MATCH"
	case PolicyURINodeMatch:
		return "URI-NODE-MATCH"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy maps a configuration access-control name to a Policy;
// names this package does not implement give PolicyUnsupported and false.
func ParsePolicy(ac config.AccessControl) (Policy, bool) {
	switch ac {
	case config.AccessUserMatch:
		return PolicyUserMatch, true
	case config.AccessNodeMatch:
		return PolicyNodeMatch, true
	case config.AccessUserNodeMatch:
		return PolicyUserNodeMatch, true
	case config.AccessNodeMultiple:
		return PolicyNodeMultiple, true
	case config.AccessNodeIDMatch:
		return PolicyNodeIDMatch, true
	case config.AccessUserChainACL:
		return PolicyUserChainACL, true
	case config.AccessURIMatch:
		return PolicyURIMatch, true
	case config.AccessURINodeMatch:
		return PolicyURINodeMatch, true
	}
	return PolicyUnsupported, false
}

// Default limits for a Kind whose definition leaves them out (0).
const (
	DefaultMaxCount = 256
	DefaultMaxSize  = 64 << 10
	// DefaultMaxNodeMultiple is the TURN-SERVICE maximum iteration of
	// RFC 6940 §9.
	DefaultMaxNodeMultiple = 20
	// DefaultBranchingFactor is the ReDiR branching factor when the
	// configuration has no redir:branching-factor (RFC 7374 §8).
	DefaultBranchingFactor = 10
)

// Kind is what storage needs to know about one Kind (RFC 6940 §7.4.5,
// §11.1): its data model, access control policy and limits.
type Kind struct {
	ID     wire.KindID
	Name   string // IANA name, "" for private Kinds
	Model  wire.DataModel
	Policy Policy
	// MaxCount bounds the number of values of the Kind at one
	// Resource-ID, nonexistent ones included, and for arrays the index of any value (so that a
	// sparse array cannot make a Fetch synthesise more than MaxCount
	// entries).
	MaxCount int
	// MaxSize bounds the length of each value's DataValue.value.
	MaxSize int
	// MaxNodeMultiple is the largest i NODE-MULTIPLE tries.
	MaxNodeMultiple int
	// BranchingFactor is the ReDiR tree's branching factor that
	// NODE-ID-MATCH checks intervals with (RFC 7374 §5, §8).
	BranchingFactor int
	// Signer is the kind-signer whose signature over the Kind's
	// definition was verified (RFC 6940 §11.1); zero if none.
	Signer wire.NodeID
	// VariableNames are the variable resource names a USER-CHAIN-ACL
	// Kind allows (RFC 8076 §5.3); the zero value allows none.
	VariableNames VariableNames
}

// KindTable is the Kind registry of one overlay: a value built once from
// the configuration (or by hand) and read only afterwards, safe for
// concurrent use. It implements wire.KindModels, so the node decodes
// storage bodies with it.
type KindTable struct {
	m map[wire.KindID]*Kind
}

// NewKindTable builds a table from kinds; zero limits are replaced by the
// defaults. It fails on a Kind with no usable data model, a repeated
// Kind-ID, or USER-NODE-MATCH on a model other than dictionary (§7.3.3).
func NewKindTable(kinds ...Kind) (*KindTable, error) {
	t := &KindTable{m: make(map[wire.KindID]*Kind, len(kinds))}
	for _, k := range kinds {
		switch k.Model {
		case wire.ModelSingle, wire.ModelArray, wire.ModelDictionary:
		default:
			return nil, fmt.Errorf("storage: kind %v: data model %v", k.ID, k.Model)
		}
		if k.Policy == PolicyUserNodeMatch && k.Model != wire.ModelDictionary {
			return nil, fmt.Errorf("storage: kind %v: USER-NODE-MATCH needs the dictionary model", k.ID)
		}
		if _, dup := t.m[k.ID]; dup {
			return nil, fmt.Errorf("storage: kind %v defined twice", k.ID)
		}
		if k.MaxCount <= 0 {
			k.MaxCount = DefaultMaxCount
		}
		if k.MaxSize <= 0 {
			k.MaxSize = DefaultMaxSize
		}
		if k.MaxNodeMultiple <= 0 {
			k.MaxNodeMultiple = DefaultMaxNodeMultiple
		}
		if k.Policy == PolicyNodeIDMatch && k.Model != wire.ModelDictionary {
			return nil, fmt.Errorf("storage: kind %v: NODE-ID-MATCH needs the dictionary model", k.ID)
		}
		if k.BranchingFactor < 2 {
			k.BranchingFactor = DefaultBranchingFactor
		}
		t.m[k.ID] = &k
	}
	return t, nil
}

// KindTableFromConfig builds the table from an overlay's Kinds. Kinds
// with a data model storage cannot hold are left out (they are then
// unknown: Error_Unknown_Kind); Kinds with a policy it does not implement
// are kept with PolicyUnsupported, so they can be fetched but not stored.
func KindTableFromConfig(kinds config.Kinds) (*KindTable, error) {
	var list []Kind
	for _, id := range kinds.IDs() {
		info, _ := kinds.Lookup(id)
		model, ok := wire.ParseDataModel(string(info.DataModel))
		if !ok {
			continue
		}
		pol, _ := ParsePolicy(info.AccessControl)
		list = append(list, Kind{
			ID: wire.KindID(info.ID), Name: info.Name, Model: model, Policy: pol,
			MaxCount: info.MaxCount, MaxSize: info.MaxSize, MaxNodeMultiple: info.MaxNodeMultiple,
			BranchingFactor: info.BranchingFactor, Signer: info.Signer,
		})
	}
	return NewKindTable(list...)
}

// Lookup returns the Kind with id.
func (t *KindTable) Lookup(id wire.KindID) (*Kind, bool) {
	k, ok := t.m[id]
	return k, ok
}

// Model implements wire.KindModels.
func (t *KindTable) Model(id wire.KindID) (wire.DataModel, bool) {
	if k, ok := t.m[id]; ok {
		return k.Model, true
	}
	return wire.ModelInvalid, false
}

// IDs lists the Kind-IDs in increasing order.
func (t *KindTable) IDs() []wire.KindID {
	ids := make([]wire.KindID, 0, len(t.m))
	for id := range t.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// BaseKinds are the Kinds RFC 6940 itself defines, with their registered
// models and policies and the default limits: CERTIFICATE_BY_NODE
// (array, NODE-MATCH) and CERTIFICATE_BY_USER (array, USER-MATCH) of §8,
// and TURN-SERVICE (single value, NODE-MULTIPLE with a maximum iteration
// of 20) of §9.
func BaseKinds() []Kind {
	return []Kind{
		{ID: wire.KindCertificateByNode, Name: "CERTIFICATE_BY_NODE", Model: wire.ModelArray, Policy: PolicyNodeMatch},
		{ID: wire.KindCertificateByUser, Name: "CERTIFICATE_BY_USER", Model: wire.ModelArray, Policy: PolicyUserMatch},
		{ID: wire.KindTURNService, Name: "TURN-SERVICE", Model: wire.ModelSingle, Policy: PolicyNodeMultiple, MaxNodeMultiple: 20},
	}
}
