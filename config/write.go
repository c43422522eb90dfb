package config

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// prefixes maps namespace URIs to the prefixes a document binds them to.
type prefixes struct {
	byURI map[string]string
	used  map[string]bool // prefixes taken
	decls []xml.Attr      // declarations to put on the root
}

// newPrefixes binds chord (and any prefix of d.RootAttrs).
func newPrefixes(d *Document) *prefixes {
	p := &prefixes{byURI: map[string]string{}, used: map[string]bool{}}
	for _, a := range d.RootAttrs {
		if a.Name.Space == "xmlns" {
			p.used[a.Name.Local] = true
			if _, ok := p.byURI[a.Value]; !ok {
				p.byURI[a.Value] = a.Name.Local
			}
		}
	}
	p.bind(NamespaceChord, "chord")
	return p
}

// bind gives uri a prefix (preferring want) and declares it on the root.
func (p *prefixes) bind(uri, want string) string {
	if pfx, ok := p.byURI[uri]; ok {
		return pfx
	}
	pfx := want
	for i := 1; pfx == "" || p.used[pfx] || strings.HasPrefix(strings.ToLower(pfx), "xml"); i++ {
		pfx = "ns" + strconv.Itoa(i)
	}
	p.used[pfx] = true
	p.byURI[uri] = pfx
	p.decls = append(p.decls, xml.Attr{Name: xml.Name{Space: "xmlns", Local: pfx}, Value: uri})
	return pfx
}

// qname is the written name of n: unprefixed in the base namespace (the
// default), prefixed otherwise.
func (p *prefixes) qname(n xml.Name) string {
	switch n.Space {
	case NamespaceBase, "":
		return n.Local
	}
	return p.bind(n.Space, "") + ":" + n.Local
}

// attrName is the written name of an attribute (unqualified names stay
// unqualified).
func (p *prefixes) attrName(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case "xmlns":
		return "xmlns:" + n.Local
	}
	return p.bind(n.Space, "") + ":" + n.Local
}

// Marshal writes the document: an XML declaration, the overlay element
// with its namespace declarations, and each configuration (its Raw bytes
// when set, else its encoding) followed by its signatures.
func (d *Document) Marshal() ([]byte, error) {
	p := newPrefixes(d)
	// Encode the bodies first: they may bind new prefixes.
	var body bytes.Buffer
	for i, c := range d.Configurations {
		body.WriteString("\n  ")
		if c.Raw != nil {
			body.Write(c.Raw)
		} else {
			b, err := c.encode(p)
			if err != nil {
				return nil, fmt.Errorf("config: configuration %d: %w", i, err)
			}
			body.Write(b)
		}
		for _, s := range c.Signatures {
			body.WriteString("\n  ")
			writeSignature(&body, "signature", &s)
		}
	}
	for _, e := range d.Extensions {
		body.WriteString("\n  ")
		writeElement(&body, p, &e)
	}
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	out.WriteString(`<overlay xmlns="` + NamespaceBase + `"`)
	for _, a := range d.RootAttrs {
		writeAttr(&out, p, a)
	}
	for _, a := range p.decls {
		writeAttr(&out, p, a)
	}
	out.WriteString(">")
	out.Write(body.Bytes())
	out.WriteString("\n</overlay>\n")
	return out.Bytes(), nil
}

// encodeConfiguration encodes c alone with d's prefixes (the bytes a
// signature covers).
func (d *Document) encodeConfiguration(c *Configuration) ([]byte, error) {
	p := newPrefixes(d)
	b, err := c.encode(p)
	if err != nil {
		return nil, err
	}
	// The prefixes the bytes use must stay declared on the root.
	d.RootAttrs = append(d.RootAttrs, p.decls...)
	return b, nil
}

func writeAttr(b *bytes.Buffer, p *prefixes, a xml.Attr) {
	b.WriteString(" " + p.attrName(a.Name) + `="`)
	escape(b, a.Value)
	b.WriteString(`"`)
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

func writeText(b *bytes.Buffer, indent, name, text string) {
	b.WriteString(indent + "<" + name + ">")
	escape(b, text)
	b.WriteString("</" + name + ">")
}

func writeSignature(b *bytes.Buffer, name string, s *Signature) {
	b.WriteString("<" + name)
	if s.Algorithm != "" {
		b.WriteString(` algorithm="`)
		escape(b, s.Algorithm)
		b.WriteString(`"`)
	}
	b.WriteString(">" + base64.StdEncoding.EncodeToString(s.Value) + "</" + name + ">")
}

func writeElement(b *bytes.Buffer, p *prefixes, e *Element) {
	name := p.qname(e.Name)
	b.WriteString("<" + name)
	for _, a := range e.Attrs {
		writeAttr(b, p, a)
	}
	b.WriteString(">")
	b.Write(e.Inner)
	b.WriteString("</" + name + ">")
}

func boolText(v bool) string { return strconv.FormatBool(v) }

const ind = "\n    "

// encode writes the configuration element.
func (c *Configuration) encode(p *prefixes) ([]byte, error) {
	if c.InstanceName == "" {
		return nil, fmt.Errorf("%w: configuration without instance-name", ErrInvalid)
	}
	var b bytes.Buffer
	b.WriteString(`<configuration instance-name="`)
	escape(&b, c.InstanceName)
	b.WriteString(`"`)
	if !c.Expiration.IsZero() {
		b.WriteString(` expiration="` + c.Expiration.UTC().Format(time.RFC3339) + `"`)
	}
	b.WriteString(` sequence="` + strconv.Itoa(int(c.Sequence)) + `"`)
	for _, a := range c.ExtraAttrs {
		writeAttr(&b, p, a)
	}
	b.WriteString(">")
	writeText(&b, ind, "topology-plugin", c.TopologyPlugin)
	writeText(&b, ind, "node-id-length", strconv.Itoa(c.NodeIDLength))
	writeText(&b, ind, "max-message-size", strconv.FormatUint(uint64(c.MaxMessageSize), 10))
	writeText(&b, ind, "initial-ttl", strconv.Itoa(int(c.InitialTTL)))
	writeText(&b, ind, "overlay-reliability-timer", strconv.FormatInt(c.OverlayReliabilityTimer.Milliseconds(), 10))
	for _, der := range c.RootCerts {
		b.WriteString(ind + "<root-cert>")
		enc := base64.StdEncoding.EncodeToString(der)
		for len(enc) > 64 {
			b.WriteString(ind + "  " + enc[:64])
			enc = enc[64:]
		}
		b.WriteString(ind + "  " + enc + ind + "</root-cert>")
	}
	for _, s := range c.EnrollmentServers {
		writeText(&b, ind, "enrollment-server", s)
	}
	if c.SelfSignedPermitted || c.SelfSignedDigest != "" {
		digest := c.SelfSignedDigest
		if digest == "" {
			digest = DefaultSelfSignedDigest
		}
		b.WriteString(ind + `<self-signed-permitted digest="`)
		escape(&b, digest)
		b.WriteString(`">` + boolText(c.SelfSignedPermitted) + "</self-signed-permitted>")
	}
	for _, n := range c.BootstrapNodes {
		b.WriteString(ind + `<bootstrap-node address="`)
		escape(&b, n.Address)
		b.WriteString(`" port="` + strconv.Itoa(n.Port) + `"/>`)
	}
	writeText(&b, ind, "turn-density", strconv.Itoa(int(c.TurnDensity)))
	writeText(&b, ind, "clients-permitted", boolText(c.ClientsPermitted))
	writeText(&b, ind, "no-ice", boolText(c.NoICE))
	if c.TopologyPlugin == DefaultTopologyPlugin {
		ch := p.bind(NamespaceChord, "chord")
		writeText(&b, ind, ch+":chord-ping-interval", strconv.FormatInt(int64(c.ChordPingInterval/time.Second), 10))
		writeText(&b, ind, ch+":chord-update-interval", strconv.FormatInt(int64(c.ChordUpdateInterval/time.Second), 10))
		writeText(&b, ind, ch+":chord-reactive", boolText(c.ChordReactive))
	}
	if c.SharedSecret != "" {
		writeText(&b, ind, "shared-secret", c.SharedSecret)
	}
	for _, s := range c.OverlayLinkProtocols {
		writeText(&b, ind, "overlay-link-protocol", s)
	}
	for _, s := range c.ConfigurationSigners {
		writeText(&b, ind, "configuration-signer", s)
	}
	for _, s := range c.KindSigners {
		writeText(&b, ind, "kind-signer", s)
	}
	for _, s := range c.BadNodes {
		writeText(&b, ind, "bad-node", s)
	}
	for _, s := range c.MandatoryExtensions {
		writeText(&b, ind, "mandatory-extension", s)
	}
	for i, dk := range c.DiagnosticKinds {
		if err := dk.check(c.NodeIDLength); err != nil {
			return nil, fmt.Errorf("%w: diagnostic-kind %d: %v", ErrInvalid, i, err)
		}
		dp := p.bind(NamespaceDiagnostics, "diag")
		fmt.Fprintf(&b, "%s<%s:diagnostic-kind kind=\"0x%04x\">", ind, dp, dk.Kind)
		for _, n := range dk.AccessNodes {
			writeText(&b, ind+"  ", dp+":access-node", n)
		}
		b.WriteString(ind + "</" + dp + ":diagnostic-kind>")
	}
	for i := range c.Extensions {
		b.WriteString(ind)
		writeElement(&b, p, &c.Extensions[i])
	}
	if len(c.RequiredKinds) > 0 {
		b.WriteString(ind + "<required-kinds>")
		for i := range c.RequiredKinds {
			kb := &c.RequiredKinds[i]
			b.WriteString(ind + "  <kind-block>" + ind + "    ")
			if kb.Kind.Raw != nil {
				b.Write(kb.Kind.Raw)
			} else {
				kraw, err := kb.Kind.encode(p)
				if err != nil {
					return nil, err
				}
				b.Write(kraw)
			}
			if kb.Signature != nil {
				b.WriteString(ind + "    ")
				writeSignature(&b, "kind-signature", kb.Signature)
			}
			b.WriteString(ind + "  </kind-block>")
		}
		b.WriteString(ind + "</required-kinds>")
	}
	b.WriteString("\n  </configuration>")
	return b.Bytes(), nil
}

const kindInd = "\n          "

// encode writes the kind element.
func (k *Kind) encode(p *prefixes) ([]byte, error) {
	var b bytes.Buffer
	switch {
	case k.Name != "" && k.ID != 0:
		return nil, fmt.Errorf("%w: kind has both name and id", ErrInvalid)
	case k.Name != "":
		b.WriteString(`<kind name="`)
		escape(&b, k.Name)
		b.WriteString(`">`)
	case k.ID != 0:
		b.WriteString(`<kind id="` + strconv.FormatUint(uint64(k.ID), 10) + `">`)
	default:
		return nil, fmt.Errorf("%w: kind without name or id", ErrInvalid)
	}
	writeText(&b, kindInd, "data-model", string(k.DataModel))
	writeText(&b, kindInd, "access-control", string(k.AccessControl))
	writeText(&b, kindInd, "max-count", strconv.Itoa(k.MaxCount))
	writeText(&b, kindInd, "max-size", strconv.Itoa(k.MaxSize))
	if k.MaxNodeMultiple != 0 {
		writeText(&b, kindInd, "max-node-multiple", strconv.Itoa(k.MaxNodeMultiple))
	}
	if d := k.DomainRestriction; d != nil {
		sp := p.bind(NamespaceSIP, "sip")
		b.WriteString(kindInd + "<" + sp + `:domain-restriction enable="` + boolText(d.Enable) + `">`)
		for _, pat := range d.Patterns {
			writeText(&b, kindInd+"  ", sp+":pattern", pat)
		}
		b.WriteString(kindInd + "</" + sp + ":domain-restriction>")
	}
	for i := range k.Extensions {
		b.WriteString(kindInd)
		writeElement(&b, p, &k.Extensions[i])
	}
	b.WriteString("\n        </kind>")
	return b.Bytes(), nil
}
