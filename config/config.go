package config

import (
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/goreload/reload/wire"
)

// XML namespaces and the media type (RFC 6940 §11.1, §14.17; RFC 7851
// §9.6; RFC 7904 §9.2).
const (
	NamespaceBase        = "urn:ietf:params:xml:ns:p2p:config-base"
	NamespaceChord       = "urn:ietf:params:xml:ns:p2p:config-chord"
	NamespaceDiagnostics = "urn:ietf:params:xml:ns:p2p:config-diagnostics"
	NamespaceSIP         = "urn:ietf:params:xml:ns:p2p:config-base:sip"
	MediaType            = "application/p2p-overlay+xml"
	WellKnownPath        = "/.well-known/reload-config" // RFC 6940 §11.2
)

// Defaults of RFC 6940 §11.1 and §10.7.4.
const (
	DefaultTopologyPlugin          = "CHORD-RELOAD"
	DefaultMaxMessageSize          = 5000 // when the element is absent; see RecommendedMaxMessageSize
	DefaultInitialTTL              = 100
	DefaultNodeIDLength            = 16
	DefaultTurnDensity             = 1
	DefaultBootstrapPort           = 6084
	DefaultLinkProtocol            = "TLS"
	DefaultOverlayReliabilityTimer = 3000 * time.Millisecond
	MinOverlayReliabilityTimer     = 200 * time.Millisecond
	DefaultChordPingInterval       = 3600 * time.Second
	DefaultChordUpdateInterval     = 600 * time.Second // "about every ten minutes", §10.7.4.1
	DefaultSelfSignedDigest        = "sha1"            // the grammar's only listed value
)

// RecommendedMaxMessageSize is the max-message-size that "reload overlay
// init" writes (64 KiB). DefaultMaxMessageSize, 5000 bytes, is what RFC
// 6940 §11.1 makes of a document without the element, and Parse keeps
// it; but a signed configuration document with a root certificate and
// the standard kinds is 7 to 10 KB, and a ConfigUpdate (§6.5.4) carries
// the whole document, so an overlay limited to 5000 bytes can never push
// a new configuration. 64 KiB leaves room for several root certificates
// and many kinds; over DTLS the message travels as §6.7 fragments of at
// most the link MTU, reassembled at the destination within the
// reassembly buffer's bounds. See CheckUpdateSize.
const RecommendedMaxMessageSize = 64 << 10

// Document is a whole configuration document: the overlay element with
// one or more configuration elements, each followed by its signatures.
type Document struct {
	// RootAttrs are the attributes of <overlay> other than the default
	// namespace declaration: namespace prefixes (Name.Space "xmlns") and
	// foreign attributes. They are written back, so prefixes used inside
	// preserved Raw configurations stay bound.
	RootAttrs      []xml.Attr
	Configurations []*Configuration
	// Extensions are foreign elements directly under <overlay>.
	Extensions []Element
}

// Configuration is one configuration element (RFC 6940 §11.1). Parse
// fills absent elements with their defaults; New does the same.
//
// Raw holds the exact bytes of the element as parsed or signed. Marshal
// writes Raw when it is set, so a signed configuration survives a round
// trip byte for byte; after changing a field, call Document.Sign or set
// Raw to nil so that Marshal encodes the fields.
type Configuration struct {
	InstanceName string
	Expiration   time.Time // zero: absent
	Sequence     uint16
	ExtraAttrs   []xml.Attr // foreign attributes of <configuration>

	TopologyPlugin          string
	NodeIDLength            int
	MaxMessageSize          uint32
	InitialTTL              uint8
	OverlayReliabilityTimer time.Duration
	RootCerts               [][]byte // DER
	EnrollmentServers       []string
	SelfSignedPermitted     bool
	SelfSignedDigest        string // "sha1" or "sha256"; "" when the element is absent
	BootstrapNodes          []BootstrapNode
	TurnDensity             uint8
	ClientsPermitted        bool
	NoICE                   bool
	SharedSecret            string
	OverlayLinkProtocols    []string // as listed; see LinkProtocols for the default
	ConfigurationSigners    []string // Node-IDs in hex, as written
	KindSigners             []string
	BadNodes                []string
	MandatoryExtensions     []string
	RequiredKinds           []KindBlock

	// CHORD-RELOAD (namespace config-chord).
	ChordPingInterval   time.Duration
	ChordUpdateInterval time.Duration
	ChordReactive       bool

	// Diagnostics access control (RFC 7851 §7).
	DiagnosticKinds []DiagnosticKind

	// Extensions are foreign elements, in document order.
	Extensions []Element

	// Signatures are the signature elements that follow the
	// configuration element.
	Signatures []Signature

	Raw []byte
}

// New returns a configuration for overlay with every default of RFC 6940
// §11.1 set. Its max-message-size is the RFC's 5000 bytes, too small to
// carry its own signed document in a ConfigUpdate: set MaxMessageSize
// to RecommendedMaxMessageSize for an overlay that will push updated
// configurations.
func New(overlay string) *Configuration {
	return &Configuration{
		InstanceName:            overlay,
		TopologyPlugin:          DefaultTopologyPlugin,
		NodeIDLength:            DefaultNodeIDLength,
		MaxMessageSize:          DefaultMaxMessageSize,
		InitialTTL:              DefaultInitialTTL,
		OverlayReliabilityTimer: DefaultOverlayReliabilityTimer,
		TurnDensity:             DefaultTurnDensity,
		ClientsPermitted:        true,
		ChordPingInterval:       DefaultChordPingInterval,
		ChordUpdateInterval:     DefaultChordUpdateInterval,
		ChordReactive:           true,
	}
}

// LinkProtocols is OverlayLinkProtocols, or "TLS" when none is listed.
func (c *Configuration) LinkProtocols() []string {
	if len(c.OverlayLinkProtocols) == 0 {
		return []string{DefaultLinkProtocol}
	}
	return c.OverlayLinkProtocols
}

// OverlayHash is the forwarding header's overlay field for this
// configuration (RFC 6940 §6.3.2).
func (c *Configuration) OverlayHash() uint32 { return wire.OverlayHash(c.InstanceName) }

// IsConfigurationSigner reports whether id is listed in
// configuration-signer.
func (c *Configuration) IsConfigurationSigner(id wire.NodeID) bool {
	return hexListHas(c.ConfigurationSigners, id)
}

// IsKindSigner reports whether id is listed in kind-signer.
func (c *Configuration) IsKindSigner(id wire.NodeID) bool { return hexListHas(c.KindSigners, id) }

// BadNodeIDs returns the bad-node entries that are well-formed Node-IDs.
func (c *Configuration) BadNodeIDs() []wire.NodeID {
	var out []wire.NodeID
	for _, s := range c.BadNodes {
		if id, err := wire.ParseNodeID(strings.ToLower(strings.TrimSpace(s))); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func hexListHas(list []string, id wire.NodeID) bool {
	want := hex.EncodeToString(id.Bytes())
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), want) {
			return true
		}
	}
	return false
}

// BootstrapNode is a bootstrap-node element.
type BootstrapNode struct {
	Address string
	Port    int // DefaultBootstrapPort when absent
}

// Signature is a signature or kind-signature element: an algorithm name
// ("" when absent) and the decoded base64 content, an encoded
// wire.SecurityBlock.
type Signature struct {
	Algorithm string
	Value     []byte
}

// KindBlock is a kind-block element: a kind and its signature.
type KindBlock struct {
	Kind      Kind
	Signature *Signature
}

// DataModel is a data-model value (RFC 6940 §7.2, §14.7).
type DataModel string

// Data models.
const (
	DataModelSingle     DataModel = "SINGLE"
	DataModelArray      DataModel = "ARRAY"
	DataModelDictionary DataModel = "DICTIONARY"
)

// AccessControl is an access-control value (RFC 6940 §7.3, §14.4; RFC
// 7374 §5; RFC 8076 §6.6; RFC 7650).
type AccessControl string

// Access control policies.
const (
	AccessUserMatch     AccessControl = "USER-MATCH"
	AccessNodeMatch     AccessControl = "NODE-MATCH"
	AccessUserNodeMatch AccessControl = "USER-NODE-MATCH"
	AccessNodeMultiple  AccessControl = "NODE-MULTIPLE"
	AccessNodeIDMatch   AccessControl = "NODE-ID-MATCH"
	AccessUserChainACL  AccessControl = "USER-CHAIN-ACL"
	AccessURINodeMatch  AccessControl = "URI-NODE-MATCH"
	AccessURIMatch      AccessControl = "URI-MATCH"
)

// Kind is a kind element: either ID (private-use Kind-ID) or Name (an
// IANA name) is set.
//
// Raw holds the exact bytes of the element as parsed or signed (the
// kind-signature covers them); Marshal writes Raw when set.
type Kind struct {
	ID                uint32
	Name              string
	MaxCount          int
	MaxSize           int
	MaxNodeMultiple   int // 0: absent
	DataModel         DataModel
	AccessControl     AccessControl
	DomainRestriction *DomainRestriction // RFC 7904 §3.4
	Extensions        []Element
	Raw               []byte
}

// DomainRestriction is the sip:domain-restriction element of RFC 7904
// §3.4.
type DomainRestriction struct {
	Enable   bool
	Patterns []string
}

// DiagnosticKind is the diagnostic-kind element of RFC 7851 §7: which
// nodes may read a diagnostic kind.
type DiagnosticKind struct {
	Kind        uint16
	AccessNodes []string // Node-IDs in hex
}

// check reports what is wrong with a diagnostic-kind element (RFC 7851
// §7), which Parse and Marshal refuse rather than let a node read it as
// some other access rule: the kind must be one a request can name (not
// reserved: 0x0000, 0x003f or 0xffff, RFC 7851 §5.1, §9.2), and each
// access-node one Node-ID in hexadecimal of idLen bytes, the overlay's
// node-id-length (RFC 6940 §11.1), since no node of the overlay has a
// Node-ID of any other length. An element without access-node is kept: it
// lets no node read the kind.
func (dk DiagnosticKind) check(idLen int) error {
	k := wire.DiagnosticKindID(dk.Kind)
	if _, flag := k.Flag(); !flag && (k.IsBase() || k == wire.DiagReservedLast) {
		return fmt.Errorf("kind %#04x is reserved", dk.Kind)
	}
	for _, s := range dk.AccessNodes {
		id, err := wire.ParseNodeID(s)
		if err != nil || id.Len() != idLen {
			return fmt.Errorf("access-node %q of kind %#04x is not a Node-ID of %d bytes in hexadecimal", s, dk.Kind, idLen)
		}
	}
	return nil
}

// Element is a foreign (extension) element kept as raw XML.
type Element struct {
	Name  xml.Name
	Attrs []xml.Attr
	Inner []byte
}
