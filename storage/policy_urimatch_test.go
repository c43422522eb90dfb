package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// TestCoAPResourceName: RFC 7650 §8 and §9, CoAP URIs are compared in the
// generic normal form of RFC 3986 §6 (RFC 7252 §6.3) with "coap:" removed.
func TestCoAPResourceName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"coap://overlay-1.com/proxy-1/.well-known/", "//overlay-1.com/proxy-1/.well-known/"},
		{"COAP://Overlay-1.COM:5683/proxy-1/./x/../.well-known/", "//overlay-1.com/proxy-1/.well-known/"},
		{"coap://example.org", "//example.org/"},
		{"coap://example.org:61616/a%7eb", "//example.org:61616/a~b"},
		{"coaps://example.org:5684/s?q=1", "coaps://example.org/s?q=1"},
		{"coap://[2001:DB8::1]/t", "//[2001:db8::1]/t"},
	} {
		got, err := storage.CoAPResourceName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CoAPResourceName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"http://example.org/", "coap:opaque", "coap://u@example.org/", "coap://example.org/#f", "coap:///p", "%zz"} {
		if _, err := storage.CoAPResourceName(bad); !errors.Is(err, storage.ErrBadCoAPURI) {
			t.Errorf("CoAPResourceName(%q) = %v, want ErrBadCoAPURI", bad, err)
		}
	}
}

// coapIdentity issues a certificate for the Node-ID with the CoAP URIs in
// its subjectAltName (RFC 7650 §9).
func coapIdentity(t *testing.T, pki *st.PKI, id wire.NodeID, uris ...string) *security.Identity {
	t.Helper()
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.CA.Issue(security.CertRequest{PublicKey: key.Public(), NodeIDs: []wire.NodeID{id}, Overlay: st.Overlay,
		NotBefore: st.Now.Add(-time.Hour), NotAfter: st.Now.Add(24 * time.Hour), CoAPURIs: uris})
	if err != nil {
		t.Fatal(err)
	}
	ident, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	return ident
}

func coapRes(t *testing.T, uri string) wire.ResourceID {
	t.Helper()
	r, err := storage.CoAPResourceID(storage.ChordHash, uri)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestURIMatch: RFC 7650 §9, URI-MATCH (CoAP-CACHING) lets a signer write
// iff its certificate holds a CoAP URI hashing to the Resource-ID;
// URI-NODE-MATCH (CoAP-REGISTRATION) also needs the dictionary key to be
// the signer's Node-ID.
func TestURIMatch(t *testing.T) {
	const reg, cache = wire.KindID(0x105), wire.KindID(0x106)
	kinds, err := storage.NewKindTable(
		storage.Kind{ID: reg, Name: "CoAP-REGISTRATION", Model: wire.ModelDictionary, Policy: storage.PolicyURINodeMatch},
		storage.Kind{ID: cache, Name: "CoAP-CACHING", Model: wire.ModelSingle, Policy: storage.PolicyURIMatch},
	)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.s, err = storage.New(storage.Config{Kinds: kinds, Backend: e.mem, Verifier: e.pki.Verifier(), Topology: e.ring})
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := st.NodeID(0x51), st.NodeID(0x52)
	proxy1 := coapIdentity(t, e.pki, n1, "coap://overlay-1.com/proxy-1/.well-known/", "coap://overlay-1.com/sensors/temp-1")
	proxy2 := coapIdentity(t, e.pki, n2, "coap://overlay-1.com/proxy-2/")
	n3 := st.NodeID(0x53)
	plain := e.pki.Identity(t, "alice@"+st.Overlay, n3)
	wk := coapRes(t, "coap://overlay-1.com/proxy-1/.well-known/")
	temp := coapRes(t, "COAP://overlay-1.com:5683/sensors/temp-1")
	runPolicy(t, e, []policyCase{
		{name: "registration under own URI", signer: proxy1, res: wk, kind: reg, value: st.Dict(n1.Bytes(), "</s/t>"), allow: true},
		{name: "registration key is another node", signer: proxy1, res: wk, kind: reg, value: st.Dict(n2.Bytes(), "</s/t>")},
		{name: "registration under another's URI", signer: proxy2, res: wk, kind: reg, value: st.Dict(n2.Bytes(), "</s/t>")},
		{name: "registration without CoAP URIs", signer: plain, res: wk, kind: reg, value: st.Dict(n3.Bytes(), "x")},
		{name: "registration with scheme kept in the hash", signer: proxy1, res: storage.ChordHash([]byte("coap://overlay-1.com/proxy-1/.well-known/")), kind: reg, value: st.Dict(n1.Bytes(), "x")},
		{name: "cache under own URI, normalised", signer: proxy1, res: temp, kind: cache, value: st.Single("21.5"), allow: true},
		{name: "cache under another's URI", signer: proxy2, res: temp, kind: cache, value: st.Single("0")},
		{name: "cache value by proxy1 sent by proxy2", signer: proxy1, sender: proxy2, res: temp, kind: cache, value: st.Single("1")},
	})
}
