package diag_test

import (
	"testing"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/usage/diag"
	"github.com/goreload/reload/wire"
)

// The node layer turns the configuration's diagnostic-kind elements (RFC
// 7851 §7) into a Policy by plain conversion; this breaks the build if the
// two types drift apart. (diag itself must not import config.)
func TestPolicyFromConfig(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	cfg := config.New("diag.test")
	cfg.DiagnosticKinds = []config.DiagnosticKind{{Kind: 0x0009, AccessNodes: []string{id}}}
	var entries []diag.KindAccess
	for _, dk := range cfg.DiagnosticKinds {
		entries = append(entries, diag.KindAccess(dk))
	}
	p, err := diag.NewPolicy(entries)
	if err != nil {
		t.Fatal(err)
	}
	nid, _ := wire.ParseNodeID(id)
	if !p.Allowed(wire.DiagMemoryFootprint, nid) || p.Allowed(wire.DiagStatusInfo, nid) {
		t.Fatalf("policy = %+v", p)
	}
}
