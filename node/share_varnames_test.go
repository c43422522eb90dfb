package node

import (
	"context"
	"encoding/xml"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// TestShareVariableNames: RFC 8076 §5 on real nodes: with
// <share:variable-resource-names> in the kind-block, node1 stores under a
// Resource Name that fits the pattern for its user, the value starting
// with the ResourceNameExtension; node2 may not store under that name.
func TestShareVariableNames(t *testing.T) {
	vrn := config.Element{Name: xml.Name{Space: storage.ShareNamespace, Local: "variable-resource-names"},
		Attrs: []xml.Attr{{Name: xml.Name{Local: "enable"}, Value: "true"}}, Inner: []byte("<pattern>[a-z]+-conf-$USER@$DOMAIN</pattern>")}
	c := startClusterOverlay(t, func(c *config.Configuration) {
		withShareKinds(c)
		c.RequiredKinds[len(c.RequiredKinds)-1].Kind.Extensions = []config.Element{vrn}
	}, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := c.nodes[0], c.nodes[1]
	name := "team-conf-" + a.user()
	res := a.store.Hash()([]byte(name))
	value := func(payload string) []wire.StoredDataValue {
		x := wire.ResourceNameExtension{Type: wire.ResourceNamePattern, ResourceName: []byte(name)}
		v, err := x.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return []wire.StoredDataValue{wire.ArrayValue(wire.ArrayAppendIndex, append(v, payload...))}
	}
	if _, err := a.Store(ctx, res, kindTeam, value("from A"), time.Minute); err != nil {
		t.Fatalf("owner of the variable name: %v", err)
	}
	if _, err := b.Store(ctx, res, kindTeam, value("from B"), time.Minute); err == nil {
		t.Fatal("node2 stored under node1's variable name")
	} else if code, ok := wire.ErrorCodeOf(err); !ok || code != wire.ErrCodeForbidden {
		t.Fatalf("node2: %v, want Error_Forbidden", err)
	}
	r, err := b.FetchShared(ctx, res, kindTeam)
	if err != nil || r.Partial() || len(r.KindResponses) != 1 || len(r.KindResponses[0].Values) != 1 {
		t.Fatalf("fetch: %v, %+v", err, r)
	}
}
