package storage_test

import (
	"encoding/xml"
	"errors"
	"testing"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// Kinds of the shared-resource tests: an array and a dictionary with the
// USER-CHAIN-ACL policy (RFC 8076 §6.6), one with variable names (§5).
const (
	kindShared     wire.KindID = 0xf00000a1
	kindSharedDict wire.KindID = 0xf00000a2
	kindSharedVar  wire.KindID = 0xf00000a3
)

var confPattern = storage.VariableNames{Enabled: true, Patterns: []string{"[a-z]+-conf-$USER@$DOMAIN"}}

// shareEnv is a storing peer with the ACCESS-CONTROL-LIST Kind and the
// shared Kinds, and users alice (the Resource Owner), bob, carol, dave.
type shareEnv struct {
	t                       testing.TB
	s                       *storage.Store
	res                     wire.ResourceID
	alice, bob, carol, dave *security.Identity
	seq                     uint64
}

func newShareEnv(t testing.TB, aclNames storage.VariableNames) *shareEnv {
	t.Helper()
	pki := st.NewPKI(t)
	kinds, err := storage.NewKindTable(
		storage.Kind{ID: wire.KindAccessControlList, Model: wire.ModelArray, Policy: storage.PolicyUserChainACL, MaxCount: 64, VariableNames: aclNames},
		storage.Kind{ID: kindShared, Model: wire.ModelArray, Policy: storage.PolicyUserChainACL, MaxCount: 64},
		storage.Kind{ID: kindSharedDict, Model: wire.ModelDictionary, Policy: storage.PolicyUserChainACL},
		storage.Kind{ID: kindSharedVar, Model: wire.ModelArray, Policy: storage.PolicyUserChainACL, VariableNames: confPattern},
	)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.New(storage.Config{Kinds: kinds, Backend: mem.New(), Verifier: pki.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	e := &shareEnv{t: t, s: s, res: userRes("alice@" + st.Overlay)}
	e.alice = pki.Identity(t, "alice@"+st.Overlay, st.NodeID(0xa1))
	e.bob = pki.Identity(t, "bob@"+st.Overlay, st.NodeID(0xb0))
	e.carol = pki.Identity(t, "carol@"+st.Overlay, st.NodeID(0xc0))
	e.dave = pki.Identity(t, "dave@"+st.Overlay, st.NodeID(0xd0))
	return e
}

func aclValue(t testing.TB, to string, kind wire.KindID, ad bool) []byte {
	t.Helper()
	it := wire.AccessControlListItem{ToUser: []byte(to), Kind: kind, AllowDelegation: ad}
	b, err := it.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// put stores v of kind at e.res signed by signer, in a request signed by
// sender (signer when nil).
func (e *shareEnv) put(signer, sender *security.Identity, kind wire.KindID, v wire.StoredDataValue) error {
	e.t.Helper()
	if sender == nil {
		sender = signer
	}
	e.seq++
	sd := st.Signed(e.t, signer, e.res, kind, ms(0)+e.seq, 600, v)
	_, err := e.s.HandleStore(st.Req(e.res, kind, 0, sd), st.Requester(sender), now)
	return err
}

// grant stores an ACL item at index signed by by.
func (e *shareEnv) grant(by *security.Identity, index uint32, to *security.Identity, kind wire.KindID, ad bool) error {
	e.t.Helper()
	return e.put(by, nil, wire.KindAccessControlList, wire.ArrayValue(index, aclValue(e.t, to.Cert.User, kind, ad)))
}

// revoke stores a nonexistent value at ACL index, signed by by (§6.2).
func (e *shareEnv) revoke(by *security.Identity, index uint32) error {
	e.t.Helper()
	return e.put(by, nil, wire.KindAccessControlList, wire.StoredDataValue{Model: wire.ModelArray, Index: index})
}

func (e *shareEnv) ok(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

func (e *shareEnv) forbidden(what string, err error) {
	e.t.Helper()
	if err == nil {
		e.t.Fatalf("%s: allowed, want Error_Forbidden", what)
	}
	var pe *wire.ProtocolError
	if !errors.As(err, &pe) || pe.Code != wire.ErrCodeForbidden || !errors.Is(err, storage.ErrNotPermitted) {
		e.t.Fatalf("%s: %v, want Error_Forbidden", what, err)
	}
}

// chain sets up the delegation tree of the tests: alice's root item (0),
// alice → bob with allow_delegation (1), bob → carol without (10).
func (e *shareEnv) chain() {
	e.t.Helper()
	e.ok("root", e.grant(e.alice, 0, e.alice, kindShared, true))
	e.ok("alice grants bob", e.grant(e.alice, 1, e.bob, kindShared, true))
	e.ok("bob grants carol", e.grant(e.bob, 10, e.carol, kindShared, false))
}

// TestUserChainACLOwner: RFC 8076 §6.3, §6.6: the Resource Owner writes
// without an ACL; nobody else does.
func TestUserChainACLOwner(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.ok("owner", e.put(e.alice, nil, kindShared, st.Array(0, "a")))
	e.forbidden("bob without an ACL", e.put(e.bob, nil, kindShared, st.Array(1, "b")))
	e.forbidden("bob appending", e.put(e.bob, nil, kindShared, st.Array(wire.ArrayAppendIndex, "b")))
}

// TestUserChainACLDelegation: §6.1, §6.3: write access delegated along
// a chain that ends at the owner's root item; allow_delegation is needed
// to extend the ACL.
func TestUserChainACLDelegation(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.chain()
	e.ok("bob writes", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
	e.ok("carol writes", e.put(e.carol, nil, kindShared, st.Array(3, "c")))
	e.ok("carol appends", e.put(e.carol, nil, kindShared, st.Array(wire.ArrayAppendIndex, "c2")))
	e.forbidden("dave", e.put(e.dave, nil, kindShared, st.Array(5, "d")))
	e.forbidden("carol (no ad) grants dave", e.grant(e.carol, 11, e.dave, kindShared, false))
	e.forbidden("carol's value sent by dave", e.put(e.carol, e.dave, kindShared, st.Array(6, "c")))
	e.forbidden("grant is for another kind", e.put(e.carol, nil, kindSharedDict, st.Dict(nodeBytes(e.carol), "c")))
	e.forbidden("bob stores a root item", e.grant(e.bob, 12, e.bob, kindShared, true))
	e.ok("bob (ad) grants dave", e.grant(e.bob, 13, e.dave, kindShared, false))
	e.ok("dave writes", e.put(e.dave, nil, kindShared, st.Array(7, "d")))
}

// TestUserChainACLRoot: §6.3 step 5: a chain must end at a root item
// signed by the Resource Owner with allow_delegation set.
func TestUserChainACLRoot(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.ok("alice grants bob", e.grant(e.alice, 1, e.bob, kindShared, true))
	e.forbidden("bob without a root item", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
	e.ok("root without ad", e.grant(e.alice, 0, e.alice, kindShared, false))
	e.forbidden("bob under a root without ad", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
	e.ok("root", e.grant(e.alice, 0, e.alice, kindShared, true))
	e.ok("bob", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
}

// TestUserChainACLLoop: §4.1: delegation loops are possible and grant
// nothing without the owner's root.
func TestUserChainACLLoop(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.chain()
	e.ok("bob grants dave with ad", e.grant(e.bob, 11, e.dave, kindShared, true))
	e.ok("dave grants bob back", e.grant(e.dave, 20, e.bob, kindShared, true))
	e.ok("revoke alice → bob", e.revoke(e.alice, 1))
	e.forbidden("bob in a loop", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
	e.forbidden("dave in a loop", e.put(e.dave, nil, kindShared, st.Array(3, "d")))
}

// TestUserChainACLRevocation: §6.2: a nonexistent value stored by the
// item's creator or the owner revokes it and its whole subtree.
func TestUserChainACLRevocation(t *testing.T) {
	t.Run("by the owner", func(t *testing.T) {
		e := newShareEnv(t, storage.VariableNames{})
		e.chain()
		e.ok("carol writes", e.put(e.carol, nil, kindShared, st.Array(3, "c")))
		e.ok("alice revokes bob", e.revoke(e.alice, 1))
		e.forbidden("carol after bob's revocation", e.put(e.carol, nil, kindShared, st.Array(4, "c")))
		e.forbidden("bob after revocation", e.put(e.bob, nil, kindShared, st.Array(5, "b")))
	})
	t.Run("by the issuer", func(t *testing.T) {
		e := newShareEnv(t, storage.VariableNames{})
		e.chain()
		e.ok("bob revokes carol", e.revoke(e.bob, 10))
		e.forbidden("carol", e.put(e.carol, nil, kindShared, st.Array(4, "c")))
		e.ok("bob still writes", e.put(e.bob, nil, kindShared, st.Array(5, "b")))
	})
	t.Run("root", func(t *testing.T) {
		e := newShareEnv(t, storage.VariableNames{})
		e.chain()
		e.ok("alice revokes the root", e.revoke(e.alice, 0))
		e.forbidden("bob", e.put(e.bob, nil, kindShared, st.Array(5, "b")))
		e.ok("alice still writes", e.put(e.alice, nil, kindShared, st.Array(6, "a")))
	})
	t.Run("overwrite by another kind", func(t *testing.T) {
		e := newShareEnv(t, storage.VariableNames{})
		e.chain()
		// §4.1: overwriting an item with another Kind-ID revokes the subtree.
		e.ok("alice rewrites bob's item", e.grant(e.alice, 1, e.bob, kindSharedDict, true))
		e.forbidden("carol", e.put(e.carol, nil, kindShared, st.Array(4, "c")))
	})
}

// TestUserChainACLOverwrite: §3, §6.1, §6.2: a value, ACL items
// included, is overwritten only by its creator or by the owner.
func TestUserChainACLOverwrite(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.chain()
	e.ok("bob writes", e.put(e.bob, nil, kindShared, st.Array(2, "b")))
	e.forbidden("carol overwrites bob's value", e.put(e.carol, nil, kindShared, st.Array(2, "c")))
	e.forbidden("carol deletes bob's value", e.put(e.carol, nil, kindShared, wire.StoredDataValue{Model: wire.ModelArray, Index: 2}))
	e.ok("bob rewrites his value", e.put(e.bob, nil, kindShared, st.Array(2, "b2")))
	e.ok("alice overwrites bob's value", e.put(e.alice, nil, kindShared, st.Array(2, "a")))
	e.forbidden("bob overwrites alice's grant", e.grant(e.bob, 1, e.bob, kindShared, true))
	e.forbidden("bob revokes alice's grant", e.revoke(e.bob, 1))
	e.forbidden("bob revokes an empty place", e.revoke(e.bob, 30))
	e.forbidden("carol revokes an empty place", e.revoke(e.carol, 31))
	e.forbidden("dave stores a nonexistent value", e.put(e.dave, nil, kindShared, wire.StoredDataValue{Model: wire.ModelArray, Index: 40}))
	e.ok("carol deletes her value", func() error {
		if err := e.put(e.carol, nil, kindShared, st.Array(3, "c")); err != nil {
			return err
		}
		return e.put(e.carol, nil, kindShared, wire.StoredDataValue{Model: wire.ModelArray, Index: 3})
	}())
	for _, who := range []*security.Identity{e.bob, e.alice} {
		err := e.put(who, nil, wire.KindAccessControlList, st.Array(14, "junk"))
		var pe *wire.ProtocolError
		if !errors.As(err, &pe) || pe.Code != wire.ErrCodeInvalidMessage || !errors.Is(err, storage.ErrBadRequest) {
			t.Fatalf("%s stores a malformed ACL item: %v, want Error_Invalid_Message", who.Cert.User, err)
		}
	}
}

// TestUserChainACLDictionary: §3.1, §6.6: a dictionary key is the
// signer's Node-ID, for the owner too.
func TestUserChainACLDictionary(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.ok("root", e.grant(e.alice, 0, e.alice, kindSharedDict, true))
	e.ok("grant bob", e.grant(e.alice, 1, e.bob, kindSharedDict, false))
	e.ok("owner", e.put(e.alice, nil, kindSharedDict, st.Dict(nodeBytes(e.alice), "a")))
	e.forbidden("owner, another key", e.put(e.alice, nil, kindSharedDict, st.Dict(nodeBytes(e.bob), "a")))
	e.ok("bob", e.put(e.bob, nil, kindSharedDict, st.Dict(nodeBytes(e.bob), "b")))
	e.forbidden("bob, another key", e.put(e.bob, nil, kindSharedDict, st.Dict([]byte("key"), "b")))
	e.forbidden("carol", e.put(e.carol, nil, kindSharedDict, st.Dict(nodeBytes(e.carol), "c")))
}

// TestUserChainACLOneRequest: the owner stores the root, a grant and a
// value in one request, and a grantee's value may come with its grant.
func TestUserChainACLOneRequest(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	sd := func(id *security.Identity, kind wire.KindID, v wire.StoredDataValue) wire.StoredData {
		e.seq++
		return st.Signed(t, id, e.res, kind, ms(0)+e.seq, 600, v)
	}
	req := &wire.StoreReq{Resource: e.res, KindData: []wire.StoreKindData{
		{Kind: kindShared, Values: []wire.StoredData{sd(e.bob, kindShared, st.Array(5, "b"))}},
		{Kind: wire.KindAccessControlList, Values: []wire.StoredData{
			sd(e.alice, wire.KindAccessControlList, wire.ArrayValue(0, aclValue(t, e.alice.Cert.User, kindShared, true))),
			sd(e.alice, wire.KindAccessControlList, wire.ArrayValue(1, aclValue(t, e.bob.Cert.User, kindShared, false))),
		}},
	}}
	certs := append(st.Requester(e.alice).Certificates, e.bob.Certificates()...)
	// The owner's request carries bob's value, authorized by the grant it
	// also carries.
	_, err := e.s.HandleStore(req, storage.Requester{Signer: security.Signer{NodeID: e.alice.NodeID(), Cert: e.alice.Cert}, Certificates: certs}, now)
	e.ok("root, grant and bob's value", err)
	e.ok("bob", e.put(e.bob, nil, kindShared, st.Array(6, "b")))
}

// TestUserChainACLVariableNames: §5, §6.6: with variable resource names
// the value starts with a ResourceNameExtension whose name hashes to the
// Resource-ID, and the owner is the user the name's pattern names.
func TestUserChainACLVariableNames(t *testing.T) {
	e := newShareEnv(t, confPattern)
	name := "team-conf-alice@" + st.Overlay
	e.res = storage.ChordHash([]byte(name))
	withName := func(n, payload string) []byte {
		x := wire.ResourceNameExtension{Type: wire.ResourceNamePattern, ResourceName: []byte(n)}
		b, err := x.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, payload...)
	}
	e.ok("owner by pattern", e.put(e.alice, nil, kindSharedVar, wire.ArrayValue(0, withName(name, "a"))))
	e.forbidden("bob with alice's name", e.put(e.bob, nil, kindSharedVar, wire.ArrayValue(1, withName(name, "b"))))
	e.forbidden("a name not hashing to the Resource-ID", e.put(e.alice, nil, kindSharedVar, wire.ArrayValue(2, withName("team-conf-alice@elsewhere", "a"))))
	e.forbidden("no ResourceNameExtension", e.put(e.alice, nil, kindSharedVar, st.Array(3, "a")))
	e.forbidden("pattern does not fit", func() error {
		e.res = storage.ChordHash([]byte("conf-alice@" + st.Overlay))
		defer func() { e.res = storage.ChordHash([]byte(name)) }()
		return e.put(e.alice, nil, kindSharedVar, wire.ArrayValue(0, withName("conf-alice@"+st.Overlay, "a")))
	}())

	// Delegation at a variable name: ACL items carry the name too.
	item := func(to string, ad bool) []byte {
		it := wire.AccessControlListItem{HasNameExt: true, NameExt: wire.ResourceNameExtension{Type: wire.ResourceNamePattern, ResourceName: []byte(name)},
			ToUser: []byte(to), Kind: kindSharedVar, AllowDelegation: ad}
		b, err := it.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e.ok("root", e.put(e.alice, nil, wire.KindAccessControlList, wire.ArrayValue(0, item(e.alice.Cert.User, true))))
	e.ok("grant bob", e.put(e.alice, nil, wire.KindAccessControlList, wire.ArrayValue(1, item(e.bob.Cert.User, false))))
	e.ok("bob", e.put(e.bob, nil, kindSharedVar, wire.ArrayValue(1, withName(name, "b"))))
	e.forbidden("bob's root item", e.put(e.bob, nil, wire.KindAccessControlList, wire.ArrayValue(2, item(e.bob.Cert.User, true))))
}

// TestVariableNamesMatch: §5.1, §5.3: $USER and $DOMAIN are the parts of
// the user name; both must be in a pattern; the whole name must match.
func TestVariableNamesMatch(t *testing.T) {
	for _, tc := range []struct {
		patterns   []string
		name, user string
		want       bool
	}{
		{[]string{".*-conf-$USER@$DOMAIN"}, "x-conf-alice@example.com", "alice@example.com", true},
		{[]string{".*-conf-$USER@$DOMAIN"}, "x-conf-alice@example.com", "bob@example.com", false},
		{[]string{".*-conf-$USER@$DOMAIN"}, "x-conf-alice@example.com.evil", "alice@example.com", false},
		{[]string{".*-conf-$USER@$DOMAIN"}, "x-conf-alice@exampleXcom", "alice@example.com", false}, // the domain is literal
		{[]string{".*$USER"}, "STEVE", "EVE", false},                                                // no $DOMAIN: ignored
		{[]string{"([", "$USER-$DOMAIN"}, "a-b", "a@b", true},                                       // a bad pattern is skipped
	} {
		vn := storage.VariableNames{Enabled: true, Patterns: tc.patterns}
		if got := vn.Match(tc.name, tc.user); got != tc.want {
			t.Errorf("%q.Match(%q, %q) = %v", tc.patterns, tc.name, tc.user, got)
		}
	}
	off := storage.VariableNames{Patterns: []string{"$USER-$DOMAIN"}}
	if off.Match("a-b", "a@b") {
		t.Error("a disabled element matched")
	}
}

// TestVerifyFetchShared: RFC 6940 §7.4.2.2, RFC 8076 §6.5: a fetcher
// checks a shared value's writer against the ACL fetched with it, and
// cannot accept a non-owner's value without it.
func TestVerifyFetchShared(t *testing.T) {
	e := newShareEnv(t, storage.VariableNames{})
	e.chain()
	e.ok("alice", e.put(e.alice, nil, kindShared, st.Array(0, "a")))
	e.ok("carol", e.put(e.carol, nil, kindShared, st.Array(1, "c")))
	all := wire.ArrayRange{First: 0, Last: 63}
	check := func(specs []wire.StoredDataSpecifier) (kept []string, discarded []storage.Discarded) {
		t.Helper()
		req := &wire.FetchReq{Resource: e.res, Specifiers: specs}
		ans, certs, err := e.s.HandleFetchCerts(req, now)
		if err != nil {
			t.Fatal(err)
		}
		d := e.s.VerifyFetch(req, &ans, certs, now)
		for _, kr := range ans.KindResponses {
			if kr.Kind == kindShared {
				kept = values(kr)
			}
		}
		return kept, d
	}
	kept, d := check([]wire.StoredDataSpecifier{arraySpec(kindShared, all), arraySpec(wire.KindAccessControlList, all)})
	if len(d) != 0 || len(kept) != 2 {
		t.Fatalf("with the ACL: kept %q, discarded %v", kept, d)
	}
	kept, d = check([]wire.StoredDataSpecifier{arraySpec(kindShared, all)})
	if len(d) != 1 || !errors.Is(d[0].Err, storage.ErrNoACL) || len(kept) != 1 || kept[0] != "a" {
		t.Fatalf("without the ACL: kept %q, discarded %v", kept, d)
	}
	// An ACL fetched in part (without bob's grant) cannot show carol's chain.
	kept, d = check([]wire.StoredDataSpecifier{arraySpec(kindShared, all), arraySpec(wire.KindAccessControlList, wire.ArrayRange{First: 0, Last: 0}, wire.ArrayRange{First: 10, Last: 10})})
	if len(d) != 2 || len(kept) != 1 {
		t.Fatalf("partial ACL: kept %q, discarded %v", kept, d)
	}
	e.ok("bob revokes carol", e.revoke(e.bob, 10))
	kept, d = check([]wire.StoredDataSpecifier{arraySpec(kindShared, all), arraySpec(wire.KindAccessControlList, all)})
	if len(d) != 1 || len(kept) != 1 || kept[0] != "a" {
		t.Fatalf("after revocation: kept %q, discarded %v", kept, d)
	}
}

func nodeBytes(id *security.Identity) []byte {
	n := id.NodeID()
	return n.Bytes()
}

// TestParseVariableNames: RFC 8076 §5.3's kind parameter, read from a
// kind element's extension elements.
func TestParseVariableNames(t *testing.T) {
	el := func(attrs []xml.Attr, inner string) config.Element {
		return config.Element{Name: xml.Name{Space: storage.ShareNamespace, Local: "variable-resource-names"}, Attrs: attrs, Inner: []byte(inner)}
	}
	enable := func(v string) []xml.Attr { return []xml.Attr{{Name: xml.Name{Local: "enable"}, Value: v}} }
	vn, err := storage.ParseVariableNames([]config.Element{el(enable("true"),
		"\n  <share:pattern>.*-conf-$USER@$DOMAIN</share:pattern>\n  <share:pattern> [a-z]+-$USER@$DOMAIN </share:pattern>\n")})
	if err != nil || !vn.Enabled || len(vn.Patterns) != 2 || vn.Patterns[0] != ".*-conf-$USER@$DOMAIN" || vn.Patterns[1] != "[a-z]+-$USER@$DOMAIN" {
		t.Fatalf("ParseVariableNames = %+v, %v", vn, err)
	}
	if !vn.Match("x-conf-alice@example.com", "alice@example.com") {
		t.Fatal("parsed pattern does not match")
	}
	if vn, err := storage.ParseVariableNames(nil); err != nil || vn.Enabled {
		t.Fatalf("absent: %+v, %v", vn, err)
	}
	if vn, err := storage.ParseVariableNames([]config.Element{el(enable("0"), "<pattern>$USER-$DOMAIN</pattern>")}); err != nil || vn.Enabled {
		t.Fatalf("disabled: %+v, %v", vn, err)
	}
	for name, exts := range map[string][]config.Element{
		"bad enable": {el(enable("yes please"), "")},
		"twice":      {el(enable("true"), ""), el(enable("true"), "")},
		"bad xml":    {el(enable("true"), "<pattern>x</other>")},
	} {
		if _, err := storage.ParseVariableNames(exts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestKindTableWithVariableNames: the configuration's variable-names
// element reaches the Kind table (RFC 8076 §5.3).
func TestKindTableWithVariableNames(t *testing.T) {
	vrn := config.Element{Name: xml.Name{Space: storage.ShareNamespace, Local: "variable-resource-names"},
		Attrs: []xml.Attr{{Name: xml.Name{Local: "enable"}, Value: "true"}}, Inner: []byte("<pattern>.*-conf-$USER@$DOMAIN</pattern>")}
	c := config.New("share.example.org")
	c.RequiredKinds = []config.KindBlock{
		{Kind: config.Kind{Name: "ACCESS-CONTROL-LIST", DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 8, MaxSize: 100, Extensions: []config.Element{vrn}}},
		{Kind: config.Kind{ID: 0xf00000a1, DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 8, MaxSize: 100}},
	}
	kinds, err := c.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	base, err := storage.KindTableFromConfig(kinds)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := base.WithVariableNames(c)
	if err != nil {
		t.Fatal(err)
	}
	acl, _ := tab.Lookup(wire.KindAccessControlList)
	other, _ := tab.Lookup(0xf00000a1)
	orig, _ := base.Lookup(wire.KindAccessControlList)
	if !acl.VariableNames.Enabled || len(acl.VariableNames.Patterns) != 1 || other.VariableNames.Enabled || orig.VariableNames.Enabled {
		t.Fatalf("ACL %+v, other %+v, original %+v", acl.VariableNames, other.VariableNames, orig.VariableNames)
	}
	c.RequiredKinds[1].Kind.AccessControl = config.AccessUserMatch
	c.RequiredKinds[1].Kind.Extensions = []config.Element{vrn}
	kinds, _ = c.Kinds()
	base, _ = storage.KindTableFromConfig(kinds)
	if _, err := base.WithVariableNames(c); err == nil {
		t.Fatal("variable names on a USER-MATCH kind accepted")
	}
}

// BenchmarkStoreShared: a Store by an Authorized Peer two delegations
// from the owner (the ACL read, its signers' certificates parsed, the
// chain walked), against the owner's Store that needs no ACL.
func BenchmarkStoreShared(b *testing.B) {
	e := newShareEnv(b, storage.VariableNames{})
	e.chain()
	for i, bc := range []struct {
		name string
		who  *security.Identity
	}{{"owner", e.alice}, {"depth2", e.carol}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := e.put(bc.who, nil, kindShared, st.Array(uint32(3+i), "v")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
