package main

import (
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
)

// TestACLCommands: reload acl grant, list and revoke through the control
// API of real nodes (RFC 8076): node1 owns its user name's resource and
// grants node2, who stores and fetches; after the revocation node2's
// Store is refused.
func TestACLCommands(t *testing.T) {
	const kind = "0xf0005a4e"
	ov, err := nodetest.NewOverlay("acl.example.org", func(c *config.Configuration) {
		c.RequiredKinds = append(c.RequiredKinds,
			config.KindBlock{Kind: config.Kind{Name: "ACCESS-CONTROL-LIST", DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 64}},
			config.KindBlock{Kind: config.Kind{ID: 0xf0005a4e, DataModel: config.DataModelArray, AccessControl: config.AccessUserChainACL, MaxCount: 64}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(2)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, ov.Config, nil, ids)
	var ctl [2]string
	for i := range ctl {
		c, err := serveControlAPI(nodes[i], "127.0.0.1:0", "", false, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		ctl[i] = c.addr
	}
	eventually(30*time.Second, func() bool { return len(nodes[0].Status().Successors) > 0 })
	owner, user2 := "node1@acl.example.org", "node2@acl.example.org"

	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"acl"}, exitUsage, ""},
		{[]string{"acl", "share"}, exitUsage, ""},
		{[]string{"acl", "grant", "--control", ctl[0], owner, kind}, exitUsage, ""},
		{[]string{"acl", "grant", "--control", ctl[0], owner, "no-such-kind", user2}, exitUsage, ""},
		{[]string{"store", "--control", ctl[1], owner, kind, "before"}, exitFail, "Forbidden"},
		{[]string{"acl", "grant", "--control", ctl[0], owner, kind, user2}, exitOK, "granted " + user2},
		{[]string{"acl", "list", "--control", ctl[1], owner}, exitOK, user2},
		{[]string{"store", "--control", ctl[1], owner, kind, "from node2"}, exitOK, "stored"},
		{[]string{"fetch", "--control", ctl[0], owner, kind}, exitOK, "from node2"},
		{[]string{"acl", "revoke", "--control", ctl[1], owner, kind, owner}, exitFail, "no matching write grant"},
		{[]string{"acl", "revoke", "--control", ctl[0], owner, kind, user2}, exitOK, "revoked 1 grant"},
		{[]string{"store", "--control", ctl[1], owner, kind, "after"}, exitFail, "Forbidden"},
	} {
		code, out, errs := runReload(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.out) {
			t.Fatalf("reload %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.out, out, errs)
		}
	}
}
