package main

import (
	"testing"

	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// reload node --node-id picks the Node-ID of a certificate with several
// that the node runs as: by position or in hex, and nothing else.
func TestPickNodeID(t *testing.T) {
	ov, err := nodetest.NewOverlay("pick.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ov.IdentityWithNodeIDs("u", 3)
	if err != nil {
		t.Fatal(err)
	}
	ids := id.Cert.NodeIDs
	for v, want := range map[string]wire.NodeID{"1": ids[0], "3": ids[2], ids[1].String(): ids[1]} {
		got, err := pickNodeID(id, v)
		if err != nil || got != want {
			t.Errorf("--node-id %s: %v, %v; want %v", v, got, err, want)
		}
	}
	var other [wire.DefaultNodeIDLen]byte
	for _, v := range []string{"0", "4", "zz", wire.MustNodeID(other[:]).String()} {
		if _, err := pickNodeID(id, v); err == nil {
			t.Errorf("--node-id %s accepted", v)
		}
	}
}
