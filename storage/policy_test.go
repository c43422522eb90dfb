package storage_test

import (
	"bytes"
	"testing"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// policyCase stores one value signed by signer in a request signed by
// sender (signer when nil) and expects success or Error_Forbidden.
type policyCase struct {
	name   string
	signer *security.Identity
	sender *security.Identity
	res    wire.ResourceID
	kind   wire.KindID
	value  wire.StoredDataValue
	allow  bool
}

func runPolicy(t *testing.T, e *env, cases []policyCase) {
	t.Helper()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sender := tc.sender
			if sender == nil {
				sender = tc.signer
			}
			sd := st.Signed(t, tc.signer, tc.res, tc.kind, ms(0)+uint64(i), 60, tc.value)
			_, err := e.s.HandleStore(st.Req(tc.res, tc.kind, 0, sd), st.Requester(sender), now)
			if tc.allow {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			wantCode(t, err, wire.ErrCodeForbidden, storage.ErrNotPermitted)
		})
	}
}

// TestUserMatch: RFC 6940 §7.3.1, a value is written iff the signer's
// user name hashes to the Resource-ID; in an original Store the request's
// signer must conform too.
func TestUserMatch(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(1))
	alice2 := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(2)) // another node of alice
	bob := e.pki.Identity(t, "bob@"+st.Overlay, st.NodeID(3))
	anon := e.pki.Identity(t, "", st.NodeID(4))
	a := userRes("alice@" + st.Overlay)
	runPolicy(t, e, []policyCase{
		{name: "owner", signer: alice, res: a, kind: st.KindSmall, value: st.Single("x"), allow: true},
		{name: "same user other node", signer: alice2, res: a, kind: st.KindSmall, value: st.Single("y"), allow: true},
		{name: "value by alice sent by alice2", signer: alice, sender: alice2, res: a, kind: st.KindSmall, value: st.Single("z"), allow: true},
		{name: "other user", signer: bob, res: a, kind: st.KindSmall, value: st.Single("x")},
		{name: "alice at bob's", signer: alice, res: userRes("bob@" + st.Overlay), kind: st.KindSmall, value: st.Single("x")},
		{name: "value by alice sent by bob", signer: alice, sender: bob, res: a, kind: st.KindSmall, value: st.Single("x")},
		{name: "no user name", signer: anon, res: userRes(""), kind: st.KindSmall, value: st.Single("x")},
		{name: "certificate by user", signer: alice, res: a, kind: wire.KindCertificateByUser,
			value: st.Array(wire.ArrayAppendIndex, string(alice.Cert.Cert.Raw)), allow: true},
		{name: "certificate by user elsewhere", signer: bob, res: a, kind: wire.KindCertificateByUser,
			value: st.Array(wire.ArrayAppendIndex, string(bob.Cert.Cert.Raw))},
	})
}

// TestNodeMatch: RFC 6940 §7.3.2, the signer's certificate has a Node-ID
// hashing to the Resource-ID, and it is the Node-ID the SignerIdentity
// names. CERTIFICATE_BY_NODE (§8) uses it.
func TestNodeMatch(t *testing.T) {
	e := newEnv(t)
	n1, n2 := st.NodeID(0x11), st.NodeID(0x12)
	multi := e.pki.Identity(t, "carol@"+st.Overlay, n1, n2) // signs as n1, cert_hash_node_id
	asN2 := e.pki.Identity(t, "carol@"+st.Overlay, n1, n2)
	if err := asN2.UseNodeID(n2); err != nil {
		t.Fatal(err)
	}
	other := e.pki.Identity(t, "dave@"+st.Overlay, st.NodeID(0x13))
	cert := string(multi.Cert.Cert.Raw)
	runPolicy(t, e, []policyCase{
		{name: "own node id", signer: multi, res: nodeRes(n1), kind: wire.KindCertificateByNode, value: st.Array(0, cert), allow: true},
		{name: "second node id signing as it", signer: asN2, res: nodeRes(n2), kind: wire.KindCertificateByNode, value: st.Array(0, cert), allow: true},
		{name: "second node id signing as the first", signer: multi, res: nodeRes(n2), kind: wire.KindCertificateByNode, value: st.Array(0, cert)},
		{name: "other node's resource", signer: other, res: nodeRes(n1), kind: wire.KindCertificateByNode, value: st.Array(1, cert)},
		{name: "resource is the node id itself, not its hash", signer: multi, res: wire.ResourceID(n1.Bytes()), kind: wire.KindCertificateByNode, value: st.Array(0, cert)},
		{name: "dictionary kind", signer: other, res: nodeRes(st.NodeID(0x13)), kind: st.KindNodeDict, value: st.Dict([]byte("any"), "v"), allow: true},
	})
}

// TestUserNodeMatch: RFC 6940 §7.3.3 with SIP-REGISTRATION (RFC 7904
// §3.3): the user name hashes to the Resource-ID and the dictionary key is
// the signer's Node-ID.
func TestUserNodeMatch(t *testing.T) {
	e := newEnv(t)
	n1, n2 := st.NodeID(0x21), st.NodeID(0x22)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, n1)
	alice2 := e.pki.Identity(t, "alice@"+st.Overlay, n2)
	bobID := st.NodeID(0x23)
	bob := e.pki.Identity(t, "bob@"+st.Overlay, bobID)
	aor := userRes("alice@" + st.Overlay)
	runPolicy(t, e, []policyCase{
		{name: "key is own node id", signer: alice, res: aor, kind: wire.KindSIPRegistration, value: st.Dict(n1.Bytes(), "sip:alice@192.0.2.1"), allow: true},
		{name: "second device", signer: alice2, res: aor, kind: wire.KindSIPRegistration, value: st.Dict(n2.Bytes(), "sip:alice@192.0.2.2"), allow: true},
		{name: "key is another node of the same user", signer: alice, res: aor, kind: wire.KindSIPRegistration, value: st.Dict(n2.Bytes(), "hijack")},
		{name: "other user's AOR", signer: bob, res: aor, kind: wire.KindSIPRegistration, value: st.Dict(bobID.Bytes(), "x")},
		{name: "request from another node of the user", signer: alice, sender: alice2, res: aor, kind: wire.KindSIPRegistration, value: st.Dict(n1.Bytes(), "x")},
	})
	got := e.fetch(aor, dictSpec(wire.KindSIPRegistration))
	if v := values(got.KindResponses[0]); len(v) != 2 {
		t.Errorf("registrations %q, want two", v)
	}
}

// TestNodeMultiple: RFC 6940 §7.3.4 with TURN-SERVICE (§9): the signer's
// Node-ID with some i from 1 to max-node-multiple hashes to the
// Resource-ID.
func TestNodeMultiple(t *testing.T) {
	e := newEnv(t)
	n := st.NodeID(0x31)
	turn := e.pki.Identity(t, "", n)
	other := e.pki.Identity(t, "", st.NodeID(0x32))
	at := func(i int) wire.ResourceID { return storage.NodeMultipleResourceID(storage.ChordHash, n, i) }
	runPolicy(t, e, []policyCase{
		{name: "i=1", signer: turn, res: at(1), kind: wire.KindTURNService, value: st.Single("turn1"), allow: true},
		{name: "i=20 (the maximum)", signer: turn, res: at(20), kind: wire.KindTURNService, value: st.Single("turn20"), allow: true},
		{name: "i=21", signer: turn, res: at(21), kind: wire.KindTURNService, value: st.Single("turn21")},
		{name: "i=0", signer: turn, res: at(0), kind: wire.KindTURNService, value: st.Single("turn0")},
		{name: "another node", signer: other, res: at(1), kind: wire.KindTURNService, value: st.Single("x")},
		{name: "H(Node-ID) alone", signer: turn, res: nodeRes(n), kind: wire.KindTURNService, value: st.Single("x")},
	})
	if !bytes.Equal(at(3), storage.ChordHash(append(n.Bytes(), 3))) {
		t.Error("NodeMultipleResourceID is not H(Node-ID || i) with i one octet")
	}
}

// TestUnsupportedPolicy: a Kind whose policy storage does not implement
// can never be written.
func TestUnsupportedPolicy(t *testing.T) {
	pki := st.NewPKI(t)
	kinds, err := storage.NewKindTable(storage.Kind{ID: 0xf0000010, Model: wire.ModelSingle, Policy: storage.PolicyUnsupported})
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.New(storage.Config{Kinds: kinds, Backend: newEnv(t).mem, Verifier: pki.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	alice := pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0x41))
	res := userRes("alice@" + st.Overlay)
	sd := st.Signed(t, alice, res, 0xf0000010, ms(0), 60, st.Single("x"))
	_, err = s.HandleStore(st.Req(res, 0xf0000010, 0, sd), st.Requester(alice), now)
	wantCode(t, err, wire.ErrCodeForbidden, storage.ErrNotPermitted)
}

// TestSignatures: RFC 6940 §7.4.1.1, every value's signature is checked:
// a bad one, one over another resource or kind, the anonymous identity,
// or an expired signer certificate is Error_Forbidden.
func TestSignatures(t *testing.T) {
	e := newEnv(t)
	alice := e.pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0x51))
	res := userRes("alice@" + st.Overlay)
	good := func() wire.StoredData { return st.Signed(t, alice, res, st.KindSmall, ms(0), 60, st.Single("x")) }
	tests := []struct {
		name   string
		mutate func(*wire.StoredData)
		cause  error
	}{
		{"value changed", func(sd *wire.StoredData) { sd.Value.Value.Value = []byte("y") }, security.ErrBadSignature},
		{"storage time changed", func(sd *wire.StoredData) { sd.StorageTime++ }, security.ErrBadSignature},
		{"signature value changed", func(sd *wire.StoredData) { sd.Signature.Value[len(sd.Signature.Value)-1] ^= 1 }, security.ErrBadSignature},
		{"anonymous", func(sd *wire.StoredData) {
			sd.Signature = storage.Synthetic(wire.ModelSingle, 0, nil).Signature
		}, security.ErrBadIdentity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sd := good()
			sd.Signature.Value = bytes.Clone(sd.Signature.Value)
			tc.mutate(&sd)
			_, err := e.store(alice, st.Req(res, st.KindSmall, 0, sd))
			wantCode(t, err, wire.ErrCodeForbidden, tc.cause)
		})
	}
	t.Run("signed for another kind", func(t *testing.T) {
		sd := st.Signed(t, alice, res, st.KindList, ms(0), 60, st.Single("x"))
		_, err := e.store(alice, st.Req(res, st.KindSmall, 0, sd))
		wantCode(t, err, wire.ErrCodeForbidden, security.ErrBadSignature)
	})
	t.Run("expired certificate", func(t *testing.T) {
		old := e.pki.IdentityValid(t, "alice@"+st.Overlay, now.Add(-48*3600e9), now.Add(-3600e9), st.NodeID(0x52))
		sd := st.Signed(t, old, res, st.KindSmall, ms(0), 60, st.Single("x"))
		from := st.Requester(alice)
		from.Certificates = append(from.Certificates, old.Certificates()...)
		_, err := e.s.HandleStore(st.Req(res, st.KindSmall, 0, sd), from, now)
		wantCode(t, err, wire.ErrCodeForbidden, nil)
	})
	t.Run("unsigned request", func(t *testing.T) {
		_, err := e.s.HandleStore(st.Req(res, st.KindSmall, 0, good()), storage.Requester{}, now)
		wantCode(t, err, wire.ErrCodeForbidden, storage.ErrNotPermitted)
	})
	if got := e.fetch(res, spec(st.KindSmall, wire.ModelSingle)); values(got.KindResponses[0])[0] != "-" {
		t.Error("a refused value was stored")
	}
}
