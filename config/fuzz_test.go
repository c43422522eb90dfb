package config

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzParseConfig parses arbitrary documents. When Parse accepts one,
// Marshal must succeed and the output must parse to the same values, both
// with the byte-exact configurations kept and when re-encoded from the
// fields.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"><configuration instance-name="x"/></overlay>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			return
		}
		out, err := doc.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if len(again.Configurations) != len(doc.Configurations) {
			t.Fatal("configuration count changed")
		}
		for i := range doc.Configurations {
			if !bytes.Equal(doc.Configurations[i].Raw, again.Configurations[i].Raw) {
				t.Fatalf("configuration %d bytes changed", i)
			}
		}
		stripRaw(doc)
		out2, err := doc.Marshal()
		if err != nil {
			t.Fatalf("Marshal from fields: %v", err)
		}
		again2, err := Parse(out2)
		if err != nil {
			t.Fatalf("re-parse from fields: %v\n%s", err, out2)
		}
		stripRaw(again2)
		for i := range doc.Configurations {
			a, b := doc.Configurations[i], again2.Configurations[i]
			a.Extensions, b.Extensions = nil, nil // raw inner XML may be re-scoped
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("configuration %d changed:\n got %+v\nwant %+v\n%s", i, b, a, out2)
			}
		}
	})
}

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

// TestWriteFuzzCorpus rewrites testdata/fuzz/FuzzParseConfig with
// -update: the RFC 6940 example, a generated signed overlay, and a
// minimal document with the extension namespaces.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed corpus")
	}
	d, _ := generated(t, 3, AlgorithmRSASHA1)
	gen, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"rfc6940-example": loadExample(t),
		"generated":       gen,
		"extensions": []byte(`<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base" xmlns:d="urn:ietf:params:xml:ns:p2p:config-diagnostics" xmlns:sip="urn:ietf:params:xml:ns:p2p:config-base:sip">` +
			`<configuration instance-name="x.example"><d:diagnostic-kind kind="0x0004"><d:access-node>00112233445566778899aabbccddeeff</d:access-node></d:diagnostic-kind>` +
			`<required-kinds><kind-block><kind name="SIP-REGISTRATION"><data-model>DICTIONARY</data-model><access-control>USER-NODE-MATCH</access-control><max-count>1</max-count><max-size>10</max-size>` +
			`<sip:domain-restriction enable="true"><sip:pattern>.*\.example</sip:pattern></sip:domain-restriction></kind><kind-signature algorithm="rsa-sha1">AA==</kind-signature></kind-block></required-kinds>` +
			`</configuration><signature>AA==</signature></overlay>`),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseConfig")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
