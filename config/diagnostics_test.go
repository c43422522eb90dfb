package config

import (
	"errors"
	"strings"
	"testing"
)

// diagDoc is a configuration with one diagnostic-kind element (RFC 7851
// §7) holding the given access-node elements; extra goes before it.
func diagDoc(extra, kind string, accessNodes ...string) []byte {
	var b strings.Builder
	b.WriteString(`<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base" xmlns:d="urn:ietf:params:xml:ns:p2p:config-diagnostics">`)
	b.WriteString(`<configuration instance-name="x.example">` + extra + `<d:diagnostic-kind kind="` + kind + `">`)
	for _, n := range accessNodes {
		b.WriteString(`<d:access-node>` + n + `</d:access-node>`)
	}
	b.WriteString(`</d:diagnostic-kind></configuration></overlay>`)
	return []byte(b.String())
}

// RFC 7851 §7: an access-node holds one Node-ID in hexadecimal. An entry
// that is not one, or whose length is not the overlay's node-id-length, can
// match no node: Parse refuses the document and names the entry, so that a
// mistyped rule is found when the configuration is read.
func TestParseRejectsMalformedAccessNode(t *testing.T) {
	const good = "00112233445566778899aabbccddeeff"
	for name, tc := range map[string]struct {
		extra, kind, bad string
	}{
		"not hex":             {"", "0x0004", "00112233445566778899aabbccddeefg"},
		"odd length":          {"", "0x0004", "00112233445566778899aabbccddeef"},
		"15 bytes":            {"", "0x0004", "00112233445566778899aabbccddee"},
		"17 bytes":            {"", "0x0004", good + "00"},
		"empty":               {"", "0x0004", ""},
		"two ids in one":      {"", "0x0004", good + " " + good},
		"0x prefix":           {"", "0x0004", "0x" + good},
		"16 bytes, length 20": {"<node-id-length>20</node-id-length>", "0x0004", good},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(diagDoc(tc.extra, tc.kind, good, tc.bad))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "diagnostic-kind 0") || !strings.Contains(err.Error(), `"`+tc.bad+`"`) {
				t.Fatalf("error %q does not name the entry %q", err, tc.bad)
			}
		})
	}
}

// RFC 7851 §9.2: 0x0000 and 0xffff are reserved, and 0x003f can be asked
// for neither by dMFlags bit nor in the extension list (§5.1), so no
// access rule can be about them.
func TestParseRejectsReservedDiagnosticKind(t *testing.T) {
	for _, kind := range []string{"0x0000", "0x003f", "0xffff"} {
		if _, err := Parse(diagDoc("", kind, "00112233445566778899aabbccddeeff")); !errors.Is(err, ErrInvalid) {
			t.Errorf("kind %s: got %v, want ErrInvalid", kind, err)
		}
	}
}

func TestParseAcceptsAccessNodes(t *testing.T) {
	for name, tc := range map[string]struct {
		extra, kind string
		nodes       []string
	}{
		"16 bytes":             {"", "0x0009", []string{"00112233445566778899aabbccddeeff"}},
		"upper case, spaced":   {"", "0x0001", []string{" 00112233445566778899AABBCCDDEEFF\n"}},
		"20 bytes, length 20":  {"<node-id-length>20</node-id-length>", "0x0002", []string{"00112233445566778899aabbccddeeff00112233"}},
		"no access-node":       {"", "0x0004", nil},
		"local-use kind":       {"", "0xf000", []string{"00112233445566778899aabbccddeeff"}},
		"highest flagged kind": {"", "0x003e", []string{"00112233445566778899aabbccddeeff"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(diagDoc(tc.extra, tc.kind, tc.nodes...)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Marshal refuses what Parse would refuse, so that a document written
// from a Configuration built in code can be read back.
func TestMarshalRejectsMalformedAccessNode(t *testing.T) {
	for _, dk := range []DiagnosticKind{
		{Kind: 0x0004, AccessNodes: []string{"not-a-node-id"}},
		{Kind: 0x0004, AccessNodes: []string{"00112233445566778899aabbccddee"}},
		{Kind: 0x0000, AccessNodes: []string{"00112233445566778899aabbccddeeff"}},
	} {
		c := New("x.example")
		c.DiagnosticKinds = []DiagnosticKind{dk}
		if _, err := (&Document{Configurations: []*Configuration{c}}).Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalid", dk, err)
		}
	}
}
