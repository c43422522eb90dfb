package main

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
)

// TestServiceCommands: `reload service` registers the node as a provider
// (RFC 7374 §4.3), finds it by lookup (§4.5), lists it and removes it
// (§4.6), through the control API of a node of an overlay with the REDIR
// kind; a lookup of a service nobody provides fails readably.
func TestServiceCommands(t *testing.T) {
	ov, err := nodetest.NewOverlay("svc.example.org", func(c *config.Configuration) {
		c.RequiredKinds = append(c.RequiredKinds, config.KindBlock{Kind: config.Kind{
			Name: "REDIR", DataModel: config.DataModelDictionary, AccessControl: config.AccessNodeIDMatch, MaxCount: 64, MaxSize: 1024,
			Extensions: []config.Element{{Name: xml.Name{Space: config.NamespaceRedir, Local: "branching-factor"}, Inner: []byte("4")}},
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(2)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, ov.Config, nil, ids)
	srv, err := serveControlAPI(nodes[1], "127.0.0.1:0", "", false, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	ctl := srv.addr
	self := nodes[1].ID().String()
	eventually(30*time.Second, func() bool { return len(nodes[0].Status().Successors) > 0 })

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"service", "register", "--lifetime", "60", "voice-mail"}, exitOK, "registered " + self + " as a provider of voice-mail"},
		{[]string{"service", "list"}, exitOK, "voice-mail"},
		{[]string{"service", "lookup", "voice-mail"}, exitOK, "provider for " + self + ": " + self},
		{[]string{"service", "lookup", "--key", strings.Repeat("0", 32), "voice-mail", "--json"}, exitOK, `"provider": "` + self + `"`},
		{[]string{"service", "lookup", "turn-server"}, exitFail, "no provider of the service"},
		{[]string{"service", "unregister", "voice-mail"}, exitOK, "unregistered voice-mail"},
		{[]string{"service", "lookup", "voice-mail"}, exitFail, "no provider of the service"},
		{[]string{"service", "unregister", "voice-mail"}, exitFail, `service "voice-mail" is not registered`},
		{[]string{"service", "lookup", "--key", "xyz", "voice-mail"}, exitUsage, "--key"},
		{[]string{"service", "register"}, exitUsage, "give NAMESPACE"},
		{[]string{"service", "frobnicate"}, exitUsage, `unknown command "frobnicate"`},
	} {
		code, out, errs := runReload(t, append(tc.args, "--control", ctl)...)
		if tc.args[1] == "frobnicate" {
			code, out, errs = runReload(t, tc.args...)
		}
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("reload %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errs)
		}
	}
	if code, out, _ := runReload(t, "service", "--help"); code != exitOK || !strings.HasPrefix(out, "usage: reload service") {
		t.Errorf("service --help: exit %d\n%s", code, out)
	}
}
