package config

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error Parse returns for a document that
// is not a valid configuration document.
var ErrInvalid = errors.New("config: invalid configuration document")

// The xml* types mirror the grammar of RFC 6940 §11.1.1 for
// encoding/xml; single-valued elements are slices so that repeats are
// detected, and values are strings so that white space and defaults are
// handled here.
type xmlConfiguration struct {
	InstanceName *string    `xml:"instance-name,attr"`
	Expiration   *string    `xml:"expiration,attr"`
	Sequence     *string    `xml:"sequence,attr"`
	Attrs        []xml.Attr `xml:",any,attr"`

	TopologyPlugin       []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base topology-plugin"`
	MaxMessageSize       []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base max-message-size"`
	InitialTTL           []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base initial-ttl"`
	RootCerts            []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base root-cert"`
	RequiredKinds        []xmlRequiredKinds `xml:"urn:ietf:params:xml:ns:p2p:config-base required-kinds"`
	EnrollmentServers    []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base enrollment-server"`
	KindSigners          []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base kind-signer"`
	ConfigurationSigners []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base configuration-signer"`
	BadNodes             []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base bad-node"`
	NoICE                []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base no-ice"`
	SharedSecret         []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base shared-secret"`
	LinkProtocols        []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base overlay-link-protocol"`
	ClientsPermitted     []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base clients-permitted"`
	TurnDensity          []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base turn-density"`
	NodeIDLength         []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base node-id-length"`
	MandatoryExtensions  []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base mandatory-extension"`
	SelfSigned           []xmlSelfSigned    `xml:"urn:ietf:params:xml:ns:p2p:config-base self-signed-permitted"`
	Bootstrap            []xmlBootstrap     `xml:"urn:ietf:params:xml:ns:p2p:config-base bootstrap-node"`
	ReliabilityTimer     []string           `xml:"urn:ietf:params:xml:ns:p2p:config-base overlay-reliability-timer"`

	ChordPing     []string `xml:"urn:ietf:params:xml:ns:p2p:config-chord chord-ping-interval"`
	ChordUpdate   []string `xml:"urn:ietf:params:xml:ns:p2p:config-chord chord-update-interval"`
	ChordReactive []string `xml:"urn:ietf:params:xml:ns:p2p:config-chord chord-reactive"`

	DiagnosticKinds []xmlDiagnosticKind `xml:"urn:ietf:params:xml:ns:p2p:config-diagnostics diagnostic-kind"`

	Any []xmlAny `xml:",any"`
}

type xmlSelfSigned struct {
	Digest *string `xml:"digest,attr"`
	Value  string  `xml:",chardata"`
}

type xmlBootstrap struct {
	Address *string `xml:"address,attr"`
	Port    *string `xml:"port,attr"`
}

type xmlRequiredKinds struct {
	Blocks []xmlKindBlock `xml:"urn:ietf:params:xml:ns:p2p:config-base kind-block"`
}

type xmlKindBlock struct {
	Kind      []xmlKind      `xml:"urn:ietf:params:xml:ns:p2p:config-base kind"`
	Signature []xmlSignature `xml:"urn:ietf:params:xml:ns:p2p:config-base kind-signature"`
}

type xmlKind struct {
	Name            *string               `xml:"name,attr"`
	ID              *string               `xml:"id,attr"`
	MaxCount        []string              `xml:"urn:ietf:params:xml:ns:p2p:config-base max-count"`
	MaxSize         []string              `xml:"urn:ietf:params:xml:ns:p2p:config-base max-size"`
	MaxNodeMultiple []string              `xml:"urn:ietf:params:xml:ns:p2p:config-base max-node-multiple"`
	DataModel       []string              `xml:"urn:ietf:params:xml:ns:p2p:config-base data-model"`
	AccessControl   []string              `xml:"urn:ietf:params:xml:ns:p2p:config-base access-control"`
	Domain          []xmlDomainRestricton `xml:"urn:ietf:params:xml:ns:p2p:config-base:sip domain-restriction"`
	Any             []xmlAny              `xml:",any"`
}

type xmlDomainRestricton struct {
	Enable   *string  `xml:"enable,attr"`
	Patterns []string `xml:"urn:ietf:params:xml:ns:p2p:config-base:sip pattern"`
}

type xmlDiagnosticKind struct {
	Kind        *string  `xml:"kind,attr"`
	AccessNodes []string `xml:"urn:ietf:params:xml:ns:p2p:config-diagnostics access-node"`
}

type xmlSignature struct {
	Algorithm *string `xml:"algorithm,attr"`
	Value     string  `xml:",chardata"`
}

type xmlAny struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   []byte     `xml:",innerxml"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads a configuration document. It keeps the exact bytes of each
// configuration and kind element (Raw) for signature checks; it does not
// check signatures (see Configuration.VerifySignature).
func Parse(data []byte) (*Document, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root xml.StartElement
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("no overlay element: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = se
			break
		}
	}
	if root.Name.Space != NamespaceBase || root.Name.Local != "overlay" {
		return nil, invalid("root element is {%s}%s, want {%s}overlay", root.Name.Space, root.Name.Local, NamespaceBase)
	}
	doc := &Document{}
	for _, a := range root.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		doc.RootAttrs = append(doc.RootAttrs, a)
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("%v", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if len(doc.Configurations) == 0 {
				return nil, invalid("no configuration element")
			}
			if err := checkTrailer(dec); err != nil {
				return nil, err
			}
			return doc, nil
		case xml.StartElement:
			switch {
			case t.Name.Space == NamespaceBase && t.Name.Local == "configuration":
				var xc xmlConfiguration
				if err := dec.DecodeElement(&xc, &t); err != nil {
					return nil, invalid("configuration %d: %v", len(doc.Configurations), err)
				}
				raw := bytes.Clone(data[start:dec.InputOffset()])
				c, err := xc.convert(raw)
				if err != nil {
					return nil, fmt.Errorf("configuration %d: %w", len(doc.Configurations), err)
				}
				doc.Configurations = append(doc.Configurations, c)
			case t.Name.Space == NamespaceBase && t.Name.Local == "signature":
				var xs xmlSignature
				if err := dec.DecodeElement(&xs, &t); err != nil {
					return nil, invalid("signature: %v", err)
				}
				if len(doc.Configurations) == 0 {
					return nil, invalid("signature before any configuration")
				}
				s, err := xs.convert()
				if err != nil {
					return nil, err
				}
				c := doc.Configurations[len(doc.Configurations)-1]
				c.Signatures = append(c.Signatures, s)
			default:
				var xa xmlAny
				if err := dec.DecodeElement(&xa, &t); err != nil {
					return nil, invalid("%s: %v", t.Name.Local, err)
				}
				doc.Extensions = append(doc.Extensions, xa.element())
			}
		}
	}
}

// checkTrailer accepts only comments, processing instructions and white
// space after the root element.
func checkTrailer(dec *xml.Decoder) error {
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return invalid("%v", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return invalid("text after the overlay element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return invalid("content after the overlay element")
		}
	}
}

func (xa *xmlAny) element() Element {
	return Element{Name: xa.XMLName, Attrs: xa.Attrs, Inner: xa.Inner}
}

func (xs *xmlSignature) convert() (Signature, error) {
	var s Signature
	if xs.Algorithm != nil {
		s.Algorithm = strings.TrimSpace(*xs.Algorithm)
	}
	v, err := decodeBase64(xs.Value)
	if err != nil {
		return s, invalid("signature: %v", err)
	}
	s.Value = v
	return s, nil
}

// decodeBase64 decodes xsd:base64Binary, which allows white space
// anywhere.
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(clean)
}

// one returns the single value of an optional element, or "" and false.
func one(name string, v []string) (string, bool, error) {
	switch len(v) {
	case 0:
		return "", false, nil
	case 1:
		return strings.TrimSpace(v[0]), true, nil
	}
	return "", false, invalid("%s appears %d times", name, len(v))
}

// parseBool reads xsd:boolean.
func parseBool(name, s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalid("%s: %q is not a boolean", name, s)
}

func parseInt(name, s string, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "+")), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, invalid("%s: %q is not an integer in [%d, %d]", name, s, lo, hi)
	}
	return v, nil
}

func optBool(name string, v []string, def bool) (bool, error) {
	s, ok, err := one(name, v)
	if err != nil || !ok {
		return def, err
	}
	return parseBool(name, s)
}

func optInt(name string, v []string, lo, hi, def int64) (int64, error) {
	s, ok, err := one(name, v)
	if err != nil || !ok {
		return def, err
	}
	return parseInt(name, s, lo, hi)
}

func trimAll(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

const maxInt32 = 1<<31 - 1

func (xc *xmlConfiguration) convert(raw []byte) (*Configuration, error) {
	if xc.InstanceName == nil || strings.TrimSpace(*xc.InstanceName) == "" {
		return nil, invalid("configuration without instance-name")
	}
	c := New(strings.TrimSpace(*xc.InstanceName))
	c.Raw = raw
	if xc.Expiration != nil {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*xc.Expiration))
		if err != nil {
			return nil, invalid("expiration: %v", err)
		}
		c.Expiration = t.UTC()
	}
	if xc.Sequence != nil {
		v, err := parseInt("sequence", *xc.Sequence, 0, 0xffff)
		if err != nil {
			return nil, err
		}
		c.Sequence = uint16(v)
	}
	for _, a := range xc.Attrs {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue // namespace declarations are rewritten by Marshal
		}
		c.ExtraAttrs = append(c.ExtraAttrs, a)
	}
	var err error
	if s, ok, err := one("topology-plugin", xc.TopologyPlugin); err != nil {
		return nil, err
	} else if ok {
		c.TopologyPlugin = s
	}
	var v int64
	if v, err = optInt("max-message-size", xc.MaxMessageSize, 0, 1<<32-1, DefaultMaxMessageSize); err != nil {
		return nil, err
	}
	c.MaxMessageSize = uint32(v)
	if v, err = optInt("initial-ttl", xc.InitialTTL, 0, 255, DefaultInitialTTL); err != nil {
		return nil, err
	}
	c.InitialTTL = uint8(v)
	if v, err = optInt("node-id-length", xc.NodeIDLength, 16, 20, DefaultNodeIDLength); err != nil {
		return nil, err
	}
	c.NodeIDLength = int(v)
	if v, err = optInt("turn-density", xc.TurnDensity, 0, 255, DefaultTurnDensity); err != nil {
		return nil, err
	}
	c.TurnDensity = uint8(v)
	if v, err = optInt("overlay-reliability-timer", xc.ReliabilityTimer, int64(MinOverlayReliabilityTimer/time.Millisecond), maxInt32,
		int64(DefaultOverlayReliabilityTimer/time.Millisecond)); err != nil {
		return nil, err
	}
	c.OverlayReliabilityTimer = time.Duration(v) * time.Millisecond
	if v, err = optInt("chord-ping-interval", xc.ChordPing, 0, maxInt32, int64(DefaultChordPingInterval/time.Second)); err != nil {
		return nil, err
	}
	c.ChordPingInterval = time.Duration(v) * time.Second
	if v, err = optInt("chord-update-interval", xc.ChordUpdate, 0, maxInt32, int64(DefaultChordUpdateInterval/time.Second)); err != nil {
		return nil, err
	}
	c.ChordUpdateInterval = time.Duration(v) * time.Second
	if c.ChordReactive, err = optBool("chord-reactive", xc.ChordReactive, true); err != nil {
		return nil, err
	}
	if c.NoICE, err = optBool("no-ice", xc.NoICE, false); err != nil {
		return nil, err
	}
	if c.ClientsPermitted, err = optBool("clients-permitted", xc.ClientsPermitted, true); err != nil {
		return nil, err
	}
	if s, ok, err := one("shared-secret", xc.SharedSecret); err != nil {
		return nil, err
	} else if ok {
		c.SharedSecret = s
	}
	for i, s := range xc.RootCerts {
		der, err := decodeBase64(s)
		if err != nil {
			return nil, invalid("root-cert %d: %v", i, err)
		}
		c.RootCerts = append(c.RootCerts, der)
	}
	c.EnrollmentServers = trimAll(xc.EnrollmentServers)
	c.KindSigners = trimAll(xc.KindSigners)
	c.ConfigurationSigners = trimAll(xc.ConfigurationSigners)
	c.BadNodes = trimAll(xc.BadNodes)
	c.OverlayLinkProtocols = trimAll(xc.LinkProtocols)
	c.MandatoryExtensions = trimAll(xc.MandatoryExtensions)
	switch len(xc.SelfSigned) {
	case 0:
	case 1:
		ss := xc.SelfSigned[0]
		if c.SelfSignedPermitted, err = parseBool("self-signed-permitted", ss.Value); err != nil {
			return nil, err
		}
		c.SelfSignedDigest = DefaultSelfSignedDigest
		if ss.Digest != nil {
			c.SelfSignedDigest = strings.TrimSpace(*ss.Digest)
		}
	default:
		return nil, invalid("self-signed-permitted appears %d times", len(xc.SelfSigned))
	}
	for i, b := range xc.Bootstrap {
		if b.Address == nil || strings.TrimSpace(*b.Address) == "" {
			return nil, invalid("bootstrap-node %d without address", i)
		}
		bn := BootstrapNode{Address: strings.TrimSpace(*b.Address), Port: DefaultBootstrapPort}
		if b.Port != nil {
			p, err := parseInt("bootstrap-node port", *b.Port, 0, 65535)
			if err != nil {
				return nil, err
			}
			bn.Port = int(p)
		}
		c.BootstrapNodes = append(c.BootstrapNodes, bn)
	}
	for i, d := range xc.DiagnosticKinds {
		if d.Kind == nil {
			return nil, invalid("diagnostic-kind %d without kind", i)
		}
		k, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(*d.Kind), "0x"), 16, 16)
		if err != nil {
			return nil, invalid("diagnostic-kind %d: kind %q", i, *d.Kind)
		}
		dk := DiagnosticKind{Kind: uint16(k), AccessNodes: trimAll(d.AccessNodes)}
		if err := dk.check(c.NodeIDLength); err != nil {
			return nil, invalid("diagnostic-kind %d: %v", i, err)
		}
		c.DiagnosticKinds = append(c.DiagnosticKinds, dk)
	}
	for _, a := range xc.Any {
		c.Extensions = append(c.Extensions, a.element())
	}
	switch len(xc.RequiredKinds) {
	case 0:
	case 1:
		kindRaws, err := kindElements(raw)
		if err != nil {
			return nil, err
		}
		if len(kindRaws) != len(xc.RequiredKinds[0].Blocks) {
			return nil, invalid("required-kinds: found %d kind elements for %d kind-blocks", len(kindRaws), len(xc.RequiredKinds[0].Blocks))
		}
		for i := range xc.RequiredKinds[0].Blocks {
			kb, err := xc.RequiredKinds[0].Blocks[i].convert(kindRaws[i])
			if err != nil {
				return nil, fmt.Errorf("kind-block %d: %w", i, err)
			}
			c.RequiredKinds = append(c.RequiredKinds, kb)
		}
	default:
		return nil, invalid("required-kinds appears %d times", len(xc.RequiredKinds))
	}
	return c, nil
}

func (xb *xmlKindBlock) convert(raw []byte) (KindBlock, error) {
	var kb KindBlock
	if len(xb.Kind) != 1 {
		return kb, invalid("kind-block holds %d kind elements", len(xb.Kind))
	}
	k, err := xb.Kind[0].convert()
	if err != nil {
		return kb, err
	}
	k.Raw = raw
	kb.Kind = k
	switch len(xb.Signature) {
	case 0:
	case 1:
		s, err := xb.Signature[0].convert()
		if err != nil {
			return kb, err
		}
		kb.Signature = &s
	default:
		return kb, invalid("kind-block holds %d kind-signature elements", len(xb.Signature))
	}
	return kb, nil
}

func (xk *xmlKind) convert() (Kind, error) {
	var k Kind
	switch {
	case xk.Name != nil && xk.ID != nil:
		return k, invalid("kind has both name and id")
	case xk.Name != nil:
		k.Name = strings.TrimSpace(*xk.Name)
		if k.Name == "" {
			return k, invalid("kind with empty name")
		}
	case xk.ID != nil:
		v, err := parseInt("kind id", *xk.ID, 1, 1<<32-1)
		if err != nil {
			return k, err
		}
		k.ID = uint32(v)
	default:
		return k, invalid("kind without name or id")
	}
	for _, f := range []struct {
		name string
		v    []string
		dst  *int
		req  bool
	}{
		{"max-count", xk.MaxCount, &k.MaxCount, true},
		{"max-size", xk.MaxSize, &k.MaxSize, true},
		{"max-node-multiple", xk.MaxNodeMultiple, &k.MaxNodeMultiple, false},
	} {
		s, ok, err := one(f.name, f.v)
		if err != nil {
			return k, err
		}
		if !ok {
			if f.req {
				return k, invalid("kind %s without %s", k.label(), f.name)
			}
			continue
		}
		v, err := parseInt(f.name, s, 0, maxInt32)
		if err != nil {
			return k, err
		}
		*f.dst = int(v)
	}
	dm, ok, err := one("data-model", xk.DataModel)
	if err != nil || !ok {
		return k, errors.Join(err, invalid("kind %s without data-model", k.label()))
	}
	ac, ok, err := one("access-control", xk.AccessControl)
	if err != nil || !ok {
		return k, errors.Join(err, invalid("kind %s without access-control", k.label()))
	}
	k.DataModel, k.AccessControl = DataModel(dm), AccessControl(ac)
	if k.AccessControl == AccessNodeMultiple && k.MaxNodeMultiple <= 0 {
		return k, invalid("kind %s: NODE-MULTIPLE needs max-node-multiple > 0", k.label())
	}
	switch len(xk.Domain) {
	case 0:
	case 1:
		d := &DomainRestriction{Patterns: trimAll(xk.Domain[0].Patterns)}
		if xk.Domain[0].Enable != nil {
			if d.Enable, err = parseBool("domain-restriction enable", *xk.Domain[0].Enable); err != nil {
				return k, err
			}
		}
		k.DomainRestriction = d
	default:
		return k, invalid("kind %s: domain-restriction appears %d times", k.label(), len(xk.Domain))
	}
	for _, a := range xk.Any {
		k.Extensions = append(k.Extensions, a.element())
	}
	return k, nil
}

// label names the kind in messages.
func (k *Kind) label() string {
	if k.Name != "" {
		return k.Name
	}
	return strconv.FormatUint(uint64(k.ID), 10)
}

// kindElements returns the exact bytes of each kind element that is a
// child of required-kinds/kind-block in raw, in order.
func kindElements(raw []byte) ([][]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var out [][]byte
	var path []string
	var kindStart int64 = -1
	kindDepth := 0
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, invalid("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			if n := len(path); n >= 3 && t.Name.Local == "kind" && path[n-2] == "kind-block" && path[n-3] == "required-kinds" {
				kindStart, kindDepth = off, n
			}
		case xml.EndElement:
			if len(path) == kindDepth && kindStart >= 0 {
				out = append(out, bytes.Clone(raw[kindStart:dec.InputOffset()]))
				kindStart = -1
			}
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
}

// ParseKindBlock reads one kind-block as carried by a ConfigUpdate of type
// kind (RFC 6940 §6.5.4.1): UTF-8 XML whose default namespace is
// config-base. Kind.Raw holds the exact bytes of its kind element.
func ParseKindBlock(data []byte) (KindBlock, error) {
	const open = `<required-kinds xmlns="` + NamespaceBase + `">`
	wrapped := make([]byte, 0, len(open)+len(data)+len("</required-kinds>"))
	wrapped = append(append(append(wrapped, open...), data...), "</required-kinds>"...)
	var xr xmlRequiredKinds
	if err := xml.Unmarshal(wrapped, &xr); err != nil {
		return KindBlock{}, invalid("kind-block: %v", err)
	}
	if len(xr.Blocks) != 1 {
		return KindBlock{}, invalid("%d kind-blocks, want 1", len(xr.Blocks))
	}
	raws, err := kindElements(wrapped)
	if err != nil {
		return KindBlock{}, err
	}
	if len(raws) != 1 {
		return KindBlock{}, invalid("kind-block holds %d kind elements", len(raws))
	}
	return xr.Blocks[0].convert(raws[0])
}
