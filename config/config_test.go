package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

func loadExample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/rfc6940-example.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRFCExample(t *testing.T) {
	doc, err := Parse(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Configurations) != 2 {
		t.Fatalf("%d configurations", len(doc.Configurations))
	}
	c := doc.Configurations[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"instance-name", c.InstanceName, "overlay.example.org"},
		{"sequence", c.Sequence, uint16(22)},
		{"expiration", c.Expiration, time.Date(2002, 10, 10, 7, 0, 0, 0, time.UTC)},
		{"topology-plugin", c.TopologyPlugin, "CHORD-RELOAD"},
		{"node-id-length", c.NodeIDLength, 16},
		{"root-certs", len(c.RootCerts), 2},
		{"bad root-cert", string(c.RootCerts[1]), "bad cert\n"},
		{"enrollment-server", c.EnrollmentServers, []string{"https://example.org", "https://example.net"}},
		{"self-signed-permitted", c.SelfSignedPermitted, false},
		{"self-signed digest", c.SelfSignedDigest, "sha1"},
		{"bootstrap", c.BootstrapNodes, []BootstrapNode{{"192.0.0.1", 6084}, {"192.0.2.2", 6084}, {"2001:DB8::1", 6084}}},
		{"turn-density", c.TurnDensity, uint8(20)},
		{"clients-permitted", c.ClientsPermitted, false},
		{"no-ice", c.NoICE, false},
		{"chord-update-interval", c.ChordUpdateInterval, 400 * time.Second},
		{"chord-ping-interval", c.ChordPingInterval, 30 * time.Second},
		{"chord-reactive", c.ChordReactive, true},
		{"shared-secret", c.SharedSecret, "password"},
		{"max-message-size", c.MaxMessageSize, uint32(4000)},
		{"initial-ttl", c.InitialTTL, uint8(30)},
		{"overlay-reliability-timer", c.OverlayReliabilityTimer, 3 * time.Second},
		{"overlay-link-protocol", c.OverlayLinkProtocols, []string{"TLS"}},
		{"configuration-signer", c.ConfigurationSigners, []string{"47112162e84c69ba"}},
		{"kind-signer", c.KindSigners, []string{"47112162e84c69ba", "6eba45d31a900c06"}},
		{"bad-node", c.BadNodes, []string{"6ebc45d31a900c06", "6ebc45d31a900ca6"}},
		{"mandatory-extension", c.MandatoryExtensions, []string{"urn:ietf:params:xml:ns:p2p:config-ext1"}},
		{"extensions", len(c.Extensions), 1},
		{"extension name", c.Extensions[0].Name.Local, "example-extension"},
		{"extension ns", c.Extensions[0].Name.Space, "urn:ietf:params:xml:ns:p2p:config-ext1"},
		{"extra attrs", len(c.ExtraAttrs), 1},
		{"kinds", len(c.RequiredKinds), 2},
		{"kind 0 name", c.RequiredKinds[0].Kind.Name, "SIP-REGISTRATION"},
		{"kind 0 model", c.RequiredKinds[0].Kind.DataModel, DataModelSingle},
		{"kind 0 access", c.RequiredKinds[0].Kind.AccessControl, AccessUserMatch},
		{"kind 0 max-count", c.RequiredKinds[0].Kind.MaxCount, 1},
		{"kind 0 max-size", c.RequiredKinds[0].Kind.MaxSize, 100},
		{"kind 0 signature", string(c.RequiredKinds[0].Signature.Value), "This is not right!\n"},
		{"kind 1 id", c.RequiredKinds[1].Kind.ID, uint32(2000)},
		{"kind 1 access", c.RequiredKinds[1].Kind.AccessControl, AccessNodeMultiple},
		{"kind 1 max-node-multiple", c.RequiredKinds[1].Kind.MaxNodeMultiple, 3},
		{"kind 1 max-count", c.RequiredKinds[1].Kind.MaxCount, 22},
		{"kind 1 extension", c.RequiredKinds[1].Kind.Extensions[0].Name.Local, "example-kind-extension"},
		{"signatures", len(c.Signatures), 1},
		{"signature", string(c.Signatures[0].Value), "This is not right!\n"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if !bytes.HasPrefix(c.Raw, []byte("<configuration instance-name=\"overlay.example.org\"")) || !bytes.HasSuffix(c.Raw, []byte("</configuration>")) {
		t.Errorf("Raw is not the configuration element: %q…%q", c.Raw[:40], c.Raw[len(c.Raw)-20:])
	}
	if k := c.RequiredKinds[1].Kind.Raw; !bytes.HasPrefix(k, []byte(`<kind id="2000">`)) || !bytes.HasSuffix(k, []byte("</kind>")) {
		t.Errorf("kind Raw: %q", k)
	}
	// The second configuration is empty: every default applies.
	d := doc.Configurations[1]
	want := New("other.example.net")
	want.Raw, want.Signatures = d.Raw, d.Signatures
	if !reflect.DeepEqual(d, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", d, want)
	}
	if got := d.LinkProtocols(); !reflect.DeepEqual(got, []string{"TLS"}) {
		t.Errorf("default link protocols %v", got)
	}
	// The kinds table.
	kinds, err := c.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	sip, ok := kinds.Lookup(1)
	if !ok || sip.DataModel != DataModelDictionary || sip.AccessControl != AccessUserNodeMatch || sip.MaxSize != 100 {
		t.Errorf("SIP-REGISTRATION: %+v (registry values must win)", sip)
	}
	if k, ok := kinds.Lookup(2000); !ok || k.DataModel != DataModelArray || k.MaxNodeMultiple != 3 {
		t.Errorf("kind 2000: %+v", k)
	}
	if !reflect.DeepEqual(kinds.IDs(), []uint32{1, 2000}) {
		t.Errorf("IDs %v", kinds.IDs())
	}
}

// stripRaw clears the byte-exact fields so documents can be compared by
// value.
func stripRaw(d *Document) {
	for _, c := range d.Configurations {
		c.Raw = nil
		for i := range c.RequiredKinds {
			c.RequiredKinds[i].Kind.Raw = nil
		}
	}
}

func TestRoundTripRFCExample(t *testing.T) {
	orig, err := Parse(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	// 1. Raw preserved: configuration bytes come out unchanged.
	out, err := orig.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	for i := range orig.Configurations {
		if !bytes.Equal(orig.Configurations[i].Raw, again.Configurations[i].Raw) {
			t.Fatalf("configuration %d bytes changed", i)
		}
	}
	if !reflect.DeepEqual(orig, again) {
		t.Fatalf("values changed on byte-preserving round trip")
	}
	// 2. Regenerated from the fields.
	stripRaw(orig)
	out2, err := orig.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again2, err := Parse(out2)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out2)
	}
	stripRaw(again2)
	for i := range orig.Configurations {
		if !reflect.DeepEqual(orig.Configurations[i], again2.Configurations[i]) {
			t.Errorf("configuration %d changed:\n got %+v\nwant %+v\n%s", i, again2.Configurations[i], orig.Configurations[i], out2)
		}
	}
	// 3. Writing again gives the same bytes.
	out3, err := again2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out2, out3) {
		t.Errorf("second write differs:\n%s\n---\n%s", out2, out3)
	}
}

func TestWriteExtensions(t *testing.T) {
	c := New("overlay.example.org")
	c.DiagnosticKinds = []DiagnosticKind{{Kind: 0x0004, AccessNodes: []string{"00112233445566778899aabbccddeeff"}}}
	c.RequiredKinds = []KindBlock{{Kind: Kind{Name: "SIP-REGISTRATION", DataModel: DataModelDictionary, AccessControl: AccessUserNodeMatch,
		MaxCount: 10, MaxSize: 1000, DomainRestriction: &DomainRestriction{Enable: true, Patterns: []string{`dht\.example\.com`, `.*\.my\.example`}}}}}
	doc := &Document{Configurations: []*Configuration{c}}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	stripRaw(got)
	if !reflect.DeepEqual(got.Configurations[0], c) {
		t.Fatalf("got %+v\nwant %+v\n%s", got.Configurations[0], c, out)
	}
}

func TestParseRejects(t *testing.T) {
	wrap := func(body string) string {
		return `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration instance-name="x.example">` + body + `</configuration></overlay>`
	}
	for name, doc := range map[string]string{
		"not xml":              "<overlay",
		"wrong root":           `<overlay xmlns="urn:other"><configuration instance-name="x"/></overlay>`,
		"no configuration":     `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"></overlay>`,
		"no instance-name":     `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration/></overlay>`,
		"signature first":      `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><signature>AA==</signature><configuration instance-name="x"/></overlay>`,
		"bad sequence":         `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration instance-name="x" sequence="70000"/></overlay>`,
		"bad expiration":       `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration instance-name="x" expiration="tomorrow"/></overlay>`,
		"node-id-length 8":     wrap(`<node-id-length>8</node-id-length>`),
		"ttl 300":              wrap(`<initial-ttl>300</initial-ttl>`),
		"timer 100":            wrap(`<overlay-reliability-timer>100</overlay-reliability-timer>`),
		"bool":                 wrap(`<no-ice>yes</no-ice>`),
		"twice":                wrap(`<no-ice>true</no-ice><no-ice>false</no-ice>`),
		"bad base64":           wrap(`<root-cert>!!!</root-cert>`),
		"bootstrap no address": wrap(`<bootstrap-node port="1"/>`),
		"kind name and id":     wrap(`<required-kinds><kind-block><kind name="A" id="5"><data-model>SINGLE</data-model><access-control>USER-MATCH</access-control><max-count>1</max-count><max-size>1</max-size></kind></kind-block></required-kinds>`),
		"kind no max-size":     wrap(`<required-kinds><kind-block><kind id="5"><data-model>SINGLE</data-model><access-control>USER-MATCH</access-control><max-count>1</max-count></kind></kind-block></required-kinds>`),
		"node-multiple no max": wrap(`<required-kinds><kind-block><kind id="5"><data-model>SINGLE</data-model><access-control>NODE-MULTIPLE</access-control><max-count>1</max-count><max-size>1</max-size></kind></kind-block></required-kinds>`),
		"trailing element":     `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration instance-name="x"/></overlay><x/>`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestBooleansAndBootstrapDefaultPort(t *testing.T) {
	doc, err := Parse([]byte(`<?xml version="1.0"?><overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base" xmlns:chord="urn:ietf:params:xml:ns:p2p:config-chord">
	<configuration instance-name="x.example"><no-ice> 1 </no-ice><clients-permitted>0</clients-permitted><chord:chord-reactive>false</chord:chord-reactive>
	<bootstrap-node address="192.0.2.1"/></configuration></overlay>`))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Configurations[0]
	if !c.NoICE || c.ClientsPermitted || c.ChordReactive || c.BootstrapNodes[0].Port != DefaultBootstrapPort {
		t.Fatalf("%+v", c)
	}
}

func TestSequence(t *testing.T) {
	for _, tc := range []struct {
		a, b uint16
		want int
	}{
		{1, 1, 0}, {1, 2, -1}, {2, 1, 1}, {65534, 0, -1}, {0, 65534, 1}, {65530, 5, -1}, {5, 65530, 1},
		{0, 32767, -1}, {0, 32768, 1},
	} {
		if got := CompareSequence(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareSequence(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if NextSequence(65534) != 0 || NextSequence(7) != 8 {
		t.Error("NextSequence")
	}
	for _, tc := range []struct {
		local, recv uint16
		code        wire.MessageCode
		want        wire.ErrorCode // 0: accepted
		update      bool
	}{
		{5, 5, wire.CodePingReq, 0, false},
		{5, 4, wire.CodePingReq, wire.ErrCodeConfigTooOld, true},
		{5, 6, wire.CodePingReq, wire.ErrCodeConfigTooNew, false},
		{0, 65534, wire.CodeStoreReq, wire.ErrCodeConfigTooOld, true},
		{65534, 0, wire.CodeStoreReq, wire.ErrCodeConfigTooNew, false},
		{5, 65535, wire.CodeConfigUpdateReq, 0, false},
		{5, 65535, wire.CodePingReq, wire.ErrCodeConfigTooOld, true},
	} {
		update, err := CheckSequence(tc.local, tc.recv, tc.code)
		var code wire.ErrorCode
		if pe, ok := errors.AsType[*wire.ProtocolError](err); ok {
			code = pe.Code
		} else if err != nil {
			t.Fatalf("%v", err)
		}
		if code != tc.want || update != tc.update {
			t.Errorf("CheckSequence(%d, %d, %v) = %v, %v; want %v, %v", tc.local, tc.recv, tc.code, update, code, tc.update, tc.want)
		}
	}
}

func TestKindsValue(t *testing.T) {
	var k Kinds
	k2 := k.With(KindInfo{ID: 7, MaxCount: 1})
	if k.Len() != 0 || k2.Len() != 1 {
		t.Fatal("With changed the receiver")
	}
	k3 := k2.With(KindInfo{ID: 7, MaxCount: 2})
	if a, _ := k2.Lookup(7); a.MaxCount != 1 {
		t.Fatal("With changed the receiver")
	}
	if a, _ := k3.Lookup(7); a.MaxCount != 2 {
		t.Fatal("With did not replace")
	}
	if _, err := (&Kind{Name: "NO-SUCH-KIND"}).Info(); err == nil {
		t.Fatal("unknown kind name accepted")
	} else if pe, ok := errors.AsType[*wire.ProtocolError](err); !ok || pe.Code != wire.ErrCodeUnknownKind {
		t.Fatalf("got %v", err)
	}
}
