package storage

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// This file implements the USER-CHAIN-ACL access control policy and the
// ACCESS-CONTROL-LIST Kind of shared resources (RFC 8076 §3, §4, §5, §6).
//
// A Kind with this policy may be written at a Resource-ID by its Resource
// Owner, the user whose name hashes to the Resource-ID (USER-MATCH) or,
// when the Kind allows variable resource names, whose name fits one of
// the Kind's patterns with a Resource Name that hashes to it (§5, §6.6);
// and by every user to whom the ACCESS-CONTROL-LIST items stored at the
// same Resource-ID delegate write access along a chain that ends at an
// ACL root item signed by the owner (§6.3). Values are isolated per user
// (§3.1): a dictionary key is the signer's Node-ID (USER-NODE-MATCH), and
// a stored value, ACL items included, is overwritten only by the user
// who signed it or by the owner (§6.1, §6.2).
//
// Array indices: §3.1 has writers put the low 24 bits of their Node-ID
// in front of an 8-bit index. This storing peer bounds every array index
// by the Kind's max-count, so that a Fetch of a range never synthesises
// more than max-count nonexistent entries (RFC 6940 §7.4.2); it enforces
// the aim of §3.1, entries exclusively maintained by their creator,
// through the signer of each entry instead, and writers append (index
// 0xffffffff) or pick a free index below max-count.

// ErrNoACL: a fetched value of a USER-CHAIN-ACL Kind was signed by a user
// other than the Resource Owner, and no ACCESS-CONTROL-LIST items of the
// Resource-ID came with it, so the writer's authorization cannot be
// checked (RFC 8076 §6.5: fetch the ACL with the Kind).
var ErrNoACL = errors.New("storage: shared resource fetched without its access control list")

// permitUserChainACL is the part of USER-CHAIN-ACL that needs no Access
// Control List (RFC 8076 §6.6): signer is the Resource Owner, and a
// dictionary value is keyed with its Node-ID. Stores and fetches of such
// Kinds go through Store.permitShared, which adds the ACL.
func permitUserChainACL(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	return isolated(v, signer) && nameExtOK(h, k, res, v) && isOwner(h, k, res, v, signer.Cert.User)
}

// isolated applies RFC 8076 §3.1 to dictionaries: the key is the Node-ID
// of the signer's certificate (USER-NODE-MATCH, mandatory for them, §6.6).
func isolated(v *wire.StoredDataValue, signer security.Signer) bool {
	if v.Model != wire.ModelDictionary {
		return true
	}
	return signer.Cert.HasNodeID(signer.NodeID) && bytes.Equal(v.Key, signer.NodeID.Bytes())
}

// nameExt is the ResourceNameExtension a value of k starts with when k
// allows variable resource names (RFC 8076 §3, §5.2); ok is false for a
// Kind without them, and for a nonexistent value.
func nameExt(k *Kind, v *wire.StoredDataValue) (x wire.ResourceNameExtension, ok bool, err error) {
	if !k.VariableNames.Enabled || !v.Value.Exists {
		return x, false, nil
	}
	if _, err := x.Decode(v.Value.Value); err != nil {
		return x, false, err
	}
	return x, true, nil
}

// nameExtOK checks, for a Kind with variable resource names, that an
// existing value starts with a pattern ResourceNameExtension whose name
// hashes to res (RFC 8076 §6.6).
func nameExtOK(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue) bool {
	if !k.VariableNames.Enabled || !v.Value.Exists {
		return true
	}
	x, _, err := nameExt(k, v)
	return err == nil && x.Type == wire.ResourceNamePattern && bytes.Equal(h(x.ResourceName), res)
}

// isOwner reports whether user is the Resource Owner of res for value v
// of k: USER-MATCH (RFC 6940 §7.3.1), or a variable resource name in v
// that hashes to res and fits one of k's patterns for user (RFC 8076
// §5.3, §6.6).
func isOwner(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, user string) bool {
	if user == "" {
		return false
	}
	if bytes.Equal(UserResourceID(h, user), res) {
		return true
	}
	x, ok, err := nameExt(k, v)
	if err != nil || !ok || x.Type != wire.ResourceNamePattern || !bytes.Equal(h(x.ResourceName), res) {
		return false
	}
	return k.VariableNames.Match(string(x.ResourceName), user)
}

// VariableNames is a Kind's <share:variable-resource-names> element (RFC
// 8076 §5.3): whether values carry a ResourceNameExtension, and the
// patterns a Resource Owner's variable Resource Name must fit.
type VariableNames struct {
	Enabled bool
	// Patterns are POSIX extended regular expressions in which $USER and
	// $DOMAIN stand for the parts of the signer's user name before and
	// after the '@'. A pattern without both is ignored (§5.3), as is one
	// that does not compile.
	Patterns []string
}

// Match reports whether name fits one of the patterns for user, the whole
// name matching (RFC 8076 §5.3).
func (vn *VariableNames) Match(name, user string) bool {
	if !vn.Enabled {
		return false
	}
	u, d, _ := strings.Cut(user, "@")
	for _, p := range vn.Patterns {
		if !strings.Contains(p, "$USER") || !strings.Contains(p, "$DOMAIN") {
			continue
		}
		expr := strings.NewReplacer("$USER", regexp.QuoteMeta(u), "$DOMAIN", regexp.QuoteMeta(d)).Replace(p)
		re, err := regexp.CompilePOSIX("^(" + expr + ")$")
		if err != nil {
			continue
		}
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// ShareNamespace is the XML namespace of the configuration elements of
// shared resources (RFC 8076 §5.3, §9.3).
const ShareNamespace = "urn:ietf:params:xml:ns:p2p:config-base:share"

// ParseVariableNames reads a Kind's <share:variable-resource-names>
// element from the kind element's extension elements (RFC 8076 §5.3):
//
//	kind-parameter &= element share:variable-resource-names {
//	    attribute enable { xsd:boolean },
//	    element share:pattern { xsd:string }*
//	}?
//
// Without the element, variable names are disabled (§5.3: the default of
// "enable" is false). More than one element, or a bad "enable", is an
// error.
func ParseVariableNames(exts []config.Element) (VariableNames, error) {
	var vn VariableNames
	found := false
	for _, e := range exts {
		if e.Name.Space != ShareNamespace || e.Name.Local != "variable-resource-names" {
			continue
		}
		if found {
			return VariableNames{}, errors.New("storage: share:variable-resource-names appears twice")
		}
		found = true
		for _, a := range e.Attrs {
			if a.Name.Local != "enable" || (a.Name.Space != "" && a.Name.Space != ShareNamespace) {
				continue
			}
			v, err := strconv.ParseBool(strings.TrimSpace(a.Value))
			if err != nil {
				return VariableNames{}, fmt.Errorf("storage: share:variable-resource-names enable=%q: not a boolean", a.Value)
			}
			vn.Enabled = v
		}
		// The inner XML may use a prefix declared on an ancestor, so
		// patterns are found by their local name.
		dec := xml.NewDecoder(bytes.NewReader(e.Inner))
		depth, in := 0, false
		var text strings.Builder
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				return VariableNames{}, fmt.Errorf("storage: share:variable-resource-names: %w", err)
			}
			switch t := tok.(type) {
			case xml.StartElement:
				depth++
				if depth == 1 && t.Name.Local == "pattern" {
					in = true
					text.Reset()
				}
			case xml.CharData:
				if in {
					text.Write(t)
				}
			case xml.EndElement:
				if depth == 1 && in {
					vn.Patterns = append(vn.Patterns, strings.TrimSpace(text.String()))
					in = false
				}
				depth--
			}
		}
	}
	return vn, nil
}

// ACLEntry is one live AccessControlListItem held at a Resource-ID, with
// the user name of the certificate that signed it (RFC 8076 §4).
type ACLEntry struct {
	Index  uint32
	Signer string
	Item   wire.AccessControlListItem
}

// ACL is the Access Control List of one Resource-ID: its live items
// (RFC 8076 §4.1). The zero ACL is empty.
type ACL struct {
	Entries []ACLEntry
}

// put adds or replaces the entry at e.Index.
func (a *ACL) put(e ACLEntry) {
	for i := range a.Entries {
		if a.Entries[i].Index == e.Index {
			a.Entries[i] = e
			return
		}
	}
	a.Entries = append(a.Entries, e)
}

// remove drops the entry at index (a nonexistent value stored there).
func (a *ACL) remove(index uint32) {
	for i := range a.Entries {
		if a.Entries[i].Index == index {
			a.Entries = append(a.Entries[:i], a.Entries[i+1:]...)
			return
		}
	}
}

// Authorized reports whether user may write Kind kind at res through the
// trust delegation chain of a (RFC 8076 §6.3): an item for kind names
// user in to_user (with allow_delegation set when delegation is asked
// for), and its signer is in turn named by an item with allow_delegation
// set, until a root item whose to_user is its own signer, who must be the
// Resource Owner. owner decides that. Loops are allowed in an ACL (§4.1)
// and end the search.
func (a *ACL) Authorized(kind wire.KindID, user string, needDelegation bool, owner func(user string) bool) bool {
	visited := map[string]bool{}
	var walk func(user string, needAD bool) bool
	walk = func(user string, needAD bool) bool {
		if needAD {
			if visited[user] {
				return false
			}
			visited[user] = true
		}
		for i := range a.Entries {
			e := &a.Entries[i]
			if e.Item.Kind != kind || string(e.Item.ToUser) != user || (needAD && !e.Item.AllowDelegation) {
				continue
			}
			if e.Signer == user {
				// A root item: to_user is its signer (§6.3 step 5).
				if e.Item.AllowDelegation && owner(user) {
					return true
				}
				continue
			}
			if walk(e.Signer, true) {
				return true
			}
		}
		return false
	}
	return walk(user, needDelegation)
}

// decodeACLItem decodes the value of an ACCESS-CONTROL-LIST entry, with
// res_name_ext when the ACL Kind allows variable names.
func decodeACLItem(aclKind *Kind, v *wire.StoredDataValue) (wire.AccessControlListItem, error) {
	var it wire.AccessControlListItem
	var err error
	if aclKind != nil && aclKind.VariableNames.Enabled {
		_, err = it.DecodeNameExt(v.Value.Value)
	} else {
		_, err = it.Decode(v.Value.Value)
	}
	return it, err
}

// certUser is the user name of a DER certificate, "" if it has none or
// does not parse.
func certUser(der []byte) string {
	if len(der) == 0 {
		return ""
	}
	_, user, err := security.NodeIDsFromCert(der)
	if err != nil {
		return ""
	}
	return user
}

// StoredACL reads the live ACCESS-CONTROL-LIST items held at res (RFC
// 8076 §6.4: the storing peer checks Stores with the most recent ACL).
// Items that do not decode are left out.
func (s *Store) StoredACL(res wire.ResourceID, now time.Time) (ACL, error) {
	var acl ACL
	aclKind, ok := s.kinds.Lookup(wire.KindAccessControlList)
	if !ok {
		return acl, nil
	}
	nowMs := unixMillis(now)
	err := s.backend.Scan(res, wire.KindAccessControlList, func(r *Record) bool {
		v := &r.Data.Value
		if r.Expires <= nowMs || !v.Value.Exists || v.Model != wire.ModelArray {
			return true
		}
		it, err := decodeACLItem(aclKind, v)
		if err != nil {
			return true
		}
		acl.Entries = append(acl.Entries, ACLEntry{Index: v.Index, Signer: certUser(r.Cert), Item: it.Clone()})
		return true
	})
	return acl, err
}

// requestACL is the ACL a Store is checked against: the stored one with
// the ACCESS-CONTROL-LIST values of the same request applied, those whose
// signature verifies (the Store is applied whole or not at all, and those
// values are themselves checked as part of it). Array appends are not
// applied here: their index is chosen later, and they are added as
// they are checked.
func (s *Store) requestACL(res wire.ResourceID, work []kindWork, from Requester, now time.Time) (ACL, error) {
	acl, err := s.StoredACL(res, now)
	if err != nil {
		return acl, err
	}
	for i := range work {
		w := &work[i]
		if w.kind.ID != wire.KindAccessControlList {
			continue
		}
		for j := range w.values {
			v := &w.values[j]
			if v.Value.Model != wire.ModelArray || v.Value.Index == wire.ArrayAppendIndex {
				continue
			}
			signer, err := s.verify(res, w.kind.ID, v, from.Certificates, now)
			if err != nil || signer.Cert == nil {
				continue
			}
			s.applyACLValue(&acl, w.kind, &v.Value, signer.Cert.User)
		}
	}
	return acl, nil
}

// applyACLValue records in acl an ACL value signed by user.
func (s *Store) applyACLValue(acl *ACL, aclKind *Kind, v *wire.StoredDataValue, user string) {
	if !v.Value.Exists {
		acl.remove(v.Index)
		return
	}
	it, err := decodeACLItem(aclKind, v)
	if err != nil {
		return
	}
	acl.put(ACLEntry{Index: v.Index, Signer: user, Item: it.Clone()})
}

// permitShared decides a value of a USER-CHAIN-ACL Kind (RFC 8076 §6.3,
// §6.4, §6.6). signer signed v; old is the live value it replaces, nil
// if none (on the fetch side, always nil: a fetcher cannot know it);
// acl is the ACL of res, nil if unknown (a fetch without the ACL). The
// error says why the value is refused.
func (s *Store) permitShared(k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer, old *Record, acl *ACL) error {
	if signer.Cert == nil || signer.NodeID.IsZero() {
		return errors.New("unsigned")
	}
	user := signer.Cert.User
	if user == "" {
		return errors.New("the signer's certificate has no user name")
	}
	if !isolated(v, signer) {
		return errors.New("a dictionary key must be the signer's Node-ID (RFC 8076 §3.1)")
	}
	if !nameExtOK(s.hash, k, res, v) {
		return errors.New("the value does not start with a ResourceNameExtension whose name hashes to the Resource-ID (RFC 8076 §6.6)")
	}
	owner := func(u string) bool { return isOwner(s.hash, k, res, v, u) }
	isOwnerUser := owner(user)
	if old != nil && !isOwnerUser {
		// Only the creator of a value, or the owner, overwrites it
		// (§3, §6.1, §6.2).
		if prev := certUser(old.Cert); prev != user {
			return fmt.Errorf("the value at this place was stored by %q; only that user or the Resource Owner may overwrite it (RFC 8076 §6.2)", prev)
		}
	}
	if isOwnerUser {
		return nil
	}
	if !v.Value.Exists {
		// Deleting or revoking one's own value needs no chain; a
		// nonexistent value elsewhere would only take up room.
		if old != nil {
			return nil
		}
		if k.ID == wire.KindAccessControlList || acl == nil {
			return errors.New("a nonexistent value may only replace the signer's own value")
		}
	}
	if acl == nil {
		return ErrNoACL
	}
	kind, needAD := k.ID, false
	if k.ID == wire.KindAccessControlList {
		if !v.Value.Exists {
			return errors.New("a nonexistent value may only replace the signer's own value")
		}
		it, err := decodeACLItem(k, v)
		if err != nil {
			return fmt.Errorf("not an AccessControlListItem: %w", err)
		}
		if string(it.ToUser) == user {
			return errors.New("only the Resource Owner stores ACL root items (RFC 8076 §6.4)")
		}
		kind, needAD = it.Kind, true
	}
	if !acl.Authorized(kind, user, needAD, owner) {
		if needAD {
			return fmt.Errorf("no delegation chain with allow_delegation gives %q write access to kind %v (RFC 8076 §6.3)", user, kind)
		}
		return fmt.Errorf("no delegation chain gives %q write access to kind %v (RFC 8076 §6.3)", user, kind)
	}
	return nil
}

// checkShared applies permitShared to value i of a Store, for its signer
// and, for an original Store signed by another user, for the request's
// signer too (RFC 6940 §7.3): Error_Forbidden when refused. An existing
// ACL value must be an AccessControlListItem, whoever stores it
// (Error_Invalid_Message otherwise); it then joins acl, so that later
// values of the same request are checked with it.
func (s *Store) checkShared(k *Kind, res wire.ResourceID, i int, v *wire.StoredDataValue, signer security.Signer, from Requester, replica bool, old *Record, acl *ACL) error {
	if k.ID == wire.KindAccessControlList && v.Value.Exists {
		if _, err := decodeACLItem(k, v); err != nil {
			return protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "kind %v value %d: not an AccessControlListItem: %v", k.ID, i, err)
		}
	}
	if err := s.permitShared(k, res, v, signer, old, acl); err != nil {
		return protoErr(wire.ErrCodeForbidden, nil, ErrNotPermitted, "kind %v (%v) value %d signed by %v: %v", k.ID, k.Policy, i, signer.NodeID, err)
	}
	if !replica && (from.Signer.Cert == nil || from.Signer.Cert.User != signer.Cert.User) {
		if err := s.permitShared(k, res, v, from.Signer, old, acl); err != nil {
			return protoErr(wire.ErrCodeForbidden, nil, ErrNotPermitted, "kind %v (%v) value %d, request signed by %v: %v", k.ID, k.Policy, i, from.Signer.NodeID, err)
		}
	}
	if k.ID == wire.KindAccessControlList && acl != nil {
		s.applyACLValue(acl, k, v, signer.Cert.User)
	}
	return nil
}

// FetchedACL is the ACL an answer to req carries: the ACCESS-CONTROL-LIST
// values of ans whose signatures verify (RFC 8076 §6.5); nil when req did
// not ask for that Kind. The chain is checked only over the items
// fetched: a fetch of part of the ACL can make values look unauthorized,
// never the reverse.
func (s *Store) FetchedACL(req *wire.FetchReq, ans *wire.FetchAns, certs []wire.GenericCertificate, now time.Time) *ACL {
	aclKind, ok := s.kinds.Lookup(wire.KindAccessControlList)
	if !ok || findSpecifier(req, wire.KindAccessControlList) == nil {
		return nil
	}
	acl := &ACL{}
	var buf []byte
	for i := range ans.KindResponses {
		kr := &ans.KindResponses[i]
		if kr.Kind != wire.KindAccessControlList {
			continue
		}
		for j := range kr.Values {
			sd := &kr.Values[j]
			if sd.Value.Model != wire.ModelArray || !sd.Value.Value.Exists || security.IsSynthetic(&sd.Signature) {
				continue
			}
			signer, err := s.verifyFetched(&buf, req.Resource, aclKind, sd, certs, now)
			if err != nil || signer.Cert == nil {
				continue
			}
			s.applyACLValue(acl, aclKind, &sd.Value, signer.Cert.User)
		}
	}
	return acl
}

// permitFetchedShared is permitShared for a fetched value (RFC 6940
// §7.4.2.2, RFC 8076 §6.5): a fetcher does not know what a value
// replaced, so a signed nonexistent value (a deletion or revocation) is
// taken as it is: it grants nothing.
func (s *Store) permitFetchedShared(k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer, acl *ACL) error {
	if !v.Value.Exists && signer.Cert != nil && isolated(v, signer) {
		return nil
	}
	return s.permitShared(k, res, v, signer, nil, acl)
}

// WithVariableNames returns a copy of t in which each Kind of c's
// required kinds that has a <share:variable-resource-names> element
// (ParseVariableNames) carries it (RFC 8076 §5.3). t is not changed.
func (t *KindTable) WithVariableNames(c *config.Configuration) (*KindTable, error) {
	out := &KindTable{m: make(map[wire.KindID]*Kind, len(t.m))}
	for id, k := range t.m {
		out.m[id] = k
	}
	for i := range c.RequiredKinds {
		kd := &c.RequiredKinds[i].Kind
		vn, err := ParseVariableNames(kd.Extensions)
		if err != nil {
			return nil, fmt.Errorf("kind %s: %w", kindLabel(kd), err)
		}
		if !vn.Enabled && len(vn.Patterns) == 0 {
			continue
		}
		info, err := kd.Info()
		if err != nil {
			return nil, err
		}
		k, ok := out.m[wire.KindID(info.ID)]
		if !ok {
			continue
		}
		if k.Policy != PolicyUserChainACL {
			return nil, fmt.Errorf("storage: kind %s: variable resource names need the USER-CHAIN-ACL policy (RFC 8076 §5.2)", kindLabel(kd))
		}
		c := *k
		c.VariableNames = vn
		out.m[c.ID] = &c
	}
	return out, nil
}

func kindLabel(kd *config.Kind) string {
	if kd.Name != "" {
		return kd.Name
	}
	return strconv.FormatUint(uint64(kd.ID), 10)
}
