package node

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// This file is the application side of shared resources (RFC 8076): a
// Resource Owner or an Authorized Peer grants and revokes write access to
// a Kind at a Resource-ID by storing ACCESS-CONTROL-LIST items there
// (§6.1, §6.2), and fetchers fetch a shared Kind together with its ACL so
// that they can check who wrote what (§6.5).

// ErrNoGrant: RevokeWrite found no ACL item it may revoke.
var ErrNoGrant = errors.New("node: no matching write grant in the access control list")

// ACLItem is one item of the access control list at a Resource-ID whose
// signature verified (RFC 8076 §4.2): the user whose certificate signed
// it grants ToUser write access to Kind, with AllowDelegation the right
// to grant it further. Valid is whether its signer's own authorization
// reaches the Resource Owner's root item (§6.3); an item left over from a
// revoked grant is not.
type ACLItem struct {
	Index           uint32
	Signer          string
	ToUser          string
	Kind            wire.KindID
	AllowDelegation bool
	Valid           bool
}

// aclItem encodes an ACL item; it carries the Resource Name name as
// res_name_ext when the ACCESS-CONTROL-LIST Kind allows variable resource
// names (RFC 8076 §4.2, §5.3).
func (n *Node) aclItem(name string, to string, kind wire.KindID, ad bool) ([]byte, error) {
	it := wire.AccessControlListItem{ToUser: []byte(to), Kind: kind, AllowDelegation: ad}
	if k, ok := n.kinds.Lookup(wire.KindAccessControlList); ok && k.VariableNames.Enabled {
		it.HasNameExt = true
		it.NameExt = wire.ResourceNameExtension{Type: wire.ResourceNamePattern, ResourceName: []byte(name)}
	}
	return it.Append(nil)
}

// shareKinds checks that this overlay has the ACCESS-CONTROL-LIST Kind
// and that kind is a shared Kind (USER-CHAIN-ACL, RFC 8076 §6.6).
func (n *Node) shareKinds(kind wire.KindID) error {
	if _, ok := n.kinds.Lookup(wire.KindAccessControlList); !ok {
		return &wire.ProtocolError{Code: wire.ErrCodeUnknownKind, Info: []byte(wire.KindAccessControlList.String()),
			Err: errors.New("node: the overlay has no ACCESS-CONTROL-LIST kind")}
	}
	k, ok := n.kinds.Lookup(kind)
	if !ok {
		return &wire.ProtocolError{Code: wire.ErrCodeUnknownKind, Info: []byte(kind.String()), Err: fmt.Errorf("node: unknown kind %v", kind)}
	}
	if k.Policy != storage.PolicyUserChainACL {
		return fmt.Errorf("node: kind %v has access control %v, not USER-CHAIN-ACL: it cannot be shared", kind, k.Policy)
	}
	return nil
}

// user is the user name of this node's certificate.
func (n *Node) user() string { return n.cfg.Identity.Cert.User }

// isOwner reports whether this node's user is the Resource Owner of the
// Resource Name name: it hashes to the user name, or the name fits a
// variable-name pattern of the ACL Kind for it (RFC 8076 §5, §6.6).
func (n *Node) isOwner(name string) bool {
	u := n.user()
	if u == "" {
		return false
	}
	if u == name {
		return true
	}
	k, ok := n.kinds.Lookup(wire.KindAccessControlList)
	return ok && k.VariableNames.Match(name, u)
}

// ShareACL fetches the access control list at resource and verifies it
// (RFC 8076 §6.5): every ACL item whose signature checks out, each marked
// Valid or not.
func (n *Node) ShareACL(ctx context.Context, resource wire.ResourceID) ([]ACLItem, error) {
	spec, err := n.allOf(wire.KindAccessControlList)
	if err != nil {
		return nil, err
	}
	req := wire.FetchReq{Resource: resource, Specifiers: []wire.StoredDataSpecifier{spec}}
	ans := wire.FetchAns{Models: n.kinds}
	a, err := n.resourceAnswer(ctx, resource, wire.CodeFetchReq, &req, &ans, true)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	all := n.store.FetchedACL(&req, &ans, a.Certificates, now)
	if all == nil {
		return nil, nil
	}
	// The items whose chain holds are those VerifyFetch keeps.
	valid := map[uint32]bool{}
	for i := range ans.KindResponses {
		ans.KindResponses[i].Values = slices.Clone(ans.KindResponses[i].Values)
	}
	n.store.VerifyFetch(&req, &ans, a.Certificates, now)
	for _, kr := range ans.KindResponses {
		for _, sd := range kr.Values {
			if sd.Value.Value.Exists {
				valid[sd.Value.Index] = true
			}
		}
	}
	out := make([]ACLItem, 0, len(all.Entries))
	for _, e := range all.Entries {
		out = append(out, ACLItem{Index: e.Index, Signer: e.Signer, ToUser: string(e.Item.ToUser), Kind: e.Item.Kind,
			AllowDelegation: e.Item.AllowDelegation, Valid: valid[e.Index]})
	}
	slices.SortFunc(out, func(x, y ACLItem) int { return cmp.Compare(x.Index, y.Index) })
	return out, nil
}

// GrantWrite gives user write access to kind at the Resource Name name
// (RFC 8076 §6.1), allowing it to grant access further when delegate is
// set. This node must be the Resource Owner or hold a grant with
// delegation. The owner's first grant for kind stores the ACL's root
// item too. Items are appended to the ACL array and live for lifetime (0
// means one hour); grant again to refresh them.
func (n *Node) GrantWrite(ctx context.Context, name string, kind wire.KindID, user string, delegate bool, lifetime time.Duration) (*wire.StoreAns, error) {
	if err := n.shareKinds(kind); err != nil {
		return nil, err
	}
	if user == "" {
		return nil, errors.New("node: grant to whom? the user name is empty")
	}
	res := n.store.Hash()([]byte(name))
	var values []wire.StoredDataValue
	if n.isOwner(name) {
		items, err := n.ShareACL(ctx, res)
		if err != nil {
			return nil, err
		}
		root := false
		for _, it := range items {
			root = root || (it.Valid && it.Kind == kind && it.ToUser == n.user() && it.Signer == n.user() && it.AllowDelegation)
		}
		if !root {
			b, err := n.aclItem(name, n.user(), kind, true)
			if err != nil {
				return nil, err
			}
			values = append(values, wire.ArrayValue(wire.ArrayAppendIndex, b))
		}
	}
	if user != n.user() || len(values) == 0 {
		b, err := n.aclItem(name, user, kind, delegate)
		if err != nil {
			return nil, err
		}
		values = append(values, wire.ArrayValue(wire.ArrayAppendIndex, b))
	}
	return n.Store(ctx, res, wire.KindAccessControlList, values, lifetime)
}

// RevokeWrite revokes the grants of write access to kind at the Resource
// Name name to user (RFC 8076 §6.2): the items this node's user signed,
// or, for the Resource Owner, every such item. Each is overwritten with a
// nonexistent value, which also invalidates the grants made through it;
// the Resource Owner overwrites those too (§6.2: it SHOULD, for the
// privacy of the users), as well as any it finds already invalid. It
// returns the indices overwritten; ErrNoGrant when there was no grant to
// revoke.
func (n *Node) RevokeWrite(ctx context.Context, name string, kind wire.KindID, user string) ([]uint32, error) {
	if err := n.shareKinds(kind); err != nil {
		return nil, err
	}
	res := n.store.Hash()([]byte(name))
	items, err := n.ShareACL(ctx, res)
	if err != nil {
		return nil, err
	}
	owner := n.isOwner(name)
	revoked := map[uint32]bool{}
	for _, it := range items {
		if it.Kind == kind && it.ToUser == user && (owner || it.Signer == n.user()) {
			revoked[it.Index] = true
		}
	}
	if len(revoked) == 0 {
		return nil, fmt.Errorf("%w: kind %v, user %q at %q", ErrNoGrant, kind, user, name)
	}
	if owner {
		// The subtrees left without a chain to the root (§6.3).
		var acl storage.ACL
		for _, it := range items {
			if !revoked[it.Index] {
				acl.Entries = append(acl.Entries, storage.ACLEntry{Index: it.Index, Signer: it.Signer,
					Item: wire.AccessControlListItem{ToUser: []byte(it.ToUser), Kind: it.Kind, AllowDelegation: it.AllowDelegation}})
			}
		}
		isOwner := func(u string) bool { return u == n.user() }
		for _, e := range acl.Entries {
			root := e.Signer == string(e.Item.ToUser)
			if (root && !isOwner(e.Signer)) || (!root && !acl.Authorized(e.Item.Kind, e.Signer, true, isOwner)) {
				revoked[e.Index] = true
			}
		}
	}
	idx := slices.Sorted(maps.Keys(revoked))
	values := make([]wire.StoredDataValue, 0, len(idx))
	for _, i := range idx {
		values = append(values, wire.StoredDataValue{Model: wire.ModelArray, Index: i})
	}
	if _, err := n.Store(ctx, res, wire.KindAccessControlList, values, 0); err != nil {
		return nil, err
	}
	return idx, nil
}

// FetchShared fetches every value of the shared kind at resource together
// with the access control list, so that each value is checked against
// the ACL (RFC 8076 §6.5); without it, values written by users other than
// the Resource Owner cannot be accepted. The ACL's own values are left
// out of the result unless kind is ACCESS-CONTROL-LIST.
func (n *Node) FetchShared(ctx context.Context, resource wire.ResourceID, kind wire.KindID) (*FetchResult, error) {
	spec, err := n.allOf(kind)
	if err != nil {
		return nil, err
	}
	specs := []wire.StoredDataSpecifier{spec}
	if kind != wire.KindAccessControlList {
		aclSpec, err := n.allOf(wire.KindAccessControlList)
		if err != nil {
			return nil, err
		}
		specs = append(specs, aclSpec)
	}
	r, err := n.Fetch(ctx, resource, specs)
	if err != nil {
		return nil, err
	}
	if kind != wire.KindAccessControlList {
		kept := r.KindResponses[:0]
		for _, kr := range r.KindResponses {
			if kr.Kind != wire.KindAccessControlList {
				kept = append(kept, kr)
			}
		}
		r.KindResponses = kept
	}
	return r, nil
}

// handleShare registers the control API's ACL endpoints (see
// ControlHandler):
//
//	GET  /acl?resource=NAME
//	POST /acl/grant?resource=NAME&kind=ID&user=USER[&delegate=true][&lifetime=S]
//	POST /acl/revoke?resource=NAME&kind=ID&user=USER
func (n *Node) handleShare(mux *http.ServeMux) {
	mux.HandleFunc("GET /acl", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("resource")
		if name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "resource is required"})
			return
		}
		res := n.store.Hash()([]byte(name))
		items, err := n.ShareACL(r.Context(), res)
		if err != nil {
			writeErr(w, err)
			return
		}
		type item struct {
			Index           uint32 `json:"index"`
			Signer          string `json:"signer"`
			ToUser          string `json:"to_user"`
			Kind            string `json:"kind"`
			AllowDelegation bool   `json:"allow_delegation"`
			Valid           bool   `json:"valid"`
		}
		out := make([]item, 0, len(items))
		for _, it := range items {
			out = append(out, item{it.Index, it.Signer, it.ToUser, it.Kind.String(), it.AllowDelegation, it.Valid})
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": hex.EncodeToString(res), "items": out})
	})
	grantArgs := func(w http.ResponseWriter, r *http.Request) (name string, kind wire.KindID, user string, ok bool) {
		q := r.URL.Query()
		name, user = q.Get("resource"), q.Get("user")
		if name == "" || user == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "resource and user are required"})
			return "", 0, "", false
		}
		kind, err := ParseKind(q.Get("kind"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return "", 0, "", false
		}
		return name, kind, user, true
	}
	mux.HandleFunc("POST /acl/grant", func(w http.ResponseWriter, r *http.Request) {
		name, kind, user, ok := grantArgs(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		delegate := false
		if s := q.Get("delegate"); s != "" {
			var err error
			if delegate, err = strconv.ParseBool(s); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad delegate"})
				return
			}
		}
		lifetime := time.Hour
		if s := q.Get("lifetime"); s != "" {
			sec, err := strconv.ParseUint(s, 10, 32)
			if err != nil || sec == 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad lifetime"})
				return
			}
			lifetime = time.Duration(sec) * time.Second
		}
		if _, err := n.GrantWrite(r.Context(), name, kind, user, delegate, lifetime); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": name, "kind": kind.String(), "user": user, "delegate": delegate})
	})
	mux.HandleFunc("POST /acl/revoke", func(w http.ResponseWriter, r *http.Request) {
		name, kind, user, ok := grantArgs(w, r)
		if !ok {
			return
		}
		idx, err := n.RevokeWrite(r.Context(), name, kind, user)
		if errors.Is(err, ErrNoGrant) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": name, "kind": kind.String(), "user": user, "revoked": idx})
	})
}

// fetchControl is the control API's fetch of every value of kind: with
// the ACL for a shared Kind (FetchShared), so that values of Authorized
// Peers are shown.
func (n *Node) fetchControl(ctx context.Context, resource wire.ResourceID, kind wire.KindID) (*FetchResult, error) {
	if k, ok := n.kinds.Lookup(kind); ok && k.Policy == storage.PolicyUserChainACL {
		if _, ok := n.kinds.Lookup(wire.KindAccessControlList); ok {
			return n.FetchShared(ctx, resource, kind)
		}
	}
	return n.FetchAll(ctx, resource, kind)
}
