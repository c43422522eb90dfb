package storage_test

import (
	"testing"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/wire"
)

// redirValue is a RedirServiceProvider for tree node (level,node) of
// namespace ns, as a dictionary entry under key.
func redirValue(t *testing.T, key wire.NodeID, ns string, level, node uint16) wire.StoredDataValue {
	t.Helper()
	p := wire.RedirServiceProvider{Destinations: []wire.Destination{wire.NodeDest(&key)}, Namespace: []byte(ns), Level: level, Node: node}
	b, err := p.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return wire.DictionaryValue(key.Bytes(), b)
}

func redirRes(ns string, level, node uint16) wire.ResourceID {
	return storage.ChordHash(wire.RedirResourceName([]byte(ns), level, node))
}

// TestNodeIDMatch: RFC 7374 §5 with the REDIR Kind (§6): the dictionary
// key is the signer's Node-ID; a value that exists names a tree node
// whose H(namespace,level,node) is the Resource-ID and whose intervals
// hold the signer's Node-ID (branching factor 10, the default of §8).
func TestNodeIDMatch(t *testing.T) {
	e := newEnv(t)
	ks, err := storage.NewKindTable(append(storage.BaseKinds(),
		storage.Kind{ID: wire.KindREDIR, Name: "REDIR", Model: wire.ModelDictionary, Policy: storage.PolicyNodeIDMatch})...)
	if err != nil {
		t.Fatal(err)
	}
	if e.s, err = storage.New(storage.Config{Kinds: ks, Backend: mem.New(), Verifier: e.pki.Verifier(), Topology: e.ring}); err != nil {
		t.Fatal(err)
	}
	// 0x3131… is 0.1921… of the identifier space: node 1 at level 1,
	// node 19 at level 2, node 192 at level 3.
	n, o := st.NodeID(0x31), st.NodeID(0x32)
	prov := e.pki.Identity(t, "", n)
	other := e.pki.Identity(t, "", o)
	const ns = "voice-mail"
	k := wire.KindREDIR
	deleted := redirValue(t, n, ns, 2, 19)
	deleted.Value = wire.DataValue{}
	garbage := wire.DictionaryValue(n.Bytes(), []byte{0, 1})
	runPolicy(t, e, []policyCase{
		{name: "root", signer: prov, res: redirRes(ns, 0, 0), kind: k, value: redirValue(t, n, ns, 0, 0), allow: true},
		{name: "level 1", signer: prov, res: redirRes(ns, 1, 1), kind: k, value: redirValue(t, n, ns, 1, 1), allow: true},
		{name: "level 2", signer: prov, res: redirRes(ns, 2, 19), kind: k, value: redirValue(t, n, ns, 2, 19), allow: true},
		{name: "level 3", signer: prov, res: redirRes(ns, 3, 192), kind: k, value: redirValue(t, n, ns, 3, 192), allow: true},
		{name: "neighbour in the same level-2 node", signer: other, res: redirRes(ns, 2, 19), kind: k, value: redirValue(t, o, ns, 2, 19), allow: true},
		{name: "neighbour in another level-3 node", signer: other, res: redirRes(ns, 3, 192), kind: k, value: redirValue(t, o, ns, 3, 192)},
		{name: "tree node whose range misses the Node-ID", signer: prov, res: redirRes(ns, 2, 20), kind: k, value: redirValue(t, n, ns, 2, 20)},
		{name: "value names another tree node than the resource", signer: prov, res: redirRes(ns, 1, 1), kind: k, value: redirValue(t, n, ns, 2, 19)},
		{name: "value names another namespace", signer: prov, res: redirRes(ns, 2, 19), kind: k, value: redirValue(t, n, "turn-server", 2, 19)},
		{name: "key is another Node-ID", signer: prov, res: redirRes(ns, 2, 19), kind: k, value: redirValue(t, o, ns, 2, 19)},
		{name: "entry for the provider signed by another", signer: other, res: redirRes(ns, 2, 19), kind: k, value: redirValue(t, n, ns, 2, 19)},
		{name: "not a RedirServiceProvider", signer: prov, res: redirRes(ns, 2, 19), kind: k, value: garbage},
		{name: "level deeper than the identifier", signer: prov, res: redirRes(ns, 200, 0), kind: k, value: redirValue(t, n, ns, 200, 0)},
		{name: "removal by the provider (§4.6)", signer: prov, res: redirRes(ns, 2, 19), kind: k, value: deleted, allow: true},
		{name: "removal by another", signer: other, res: redirRes(ns, 2, 19), kind: k, value: deleted},
	})
}

// TestNodeIDMatchNeedsDictionary: "The NODE-ID-MATCH policy may only be
// used with dictionary types" (RFC 7374 §5).
func TestNodeIDMatchNeedsDictionary(t *testing.T) {
	if _, err := storage.NewKindTable(storage.Kind{ID: 0xf0000010, Model: wire.ModelArray, Policy: storage.PolicyNodeIDMatch}); err == nil {
		t.Fatal("NODE-ID-MATCH on an array Kind accepted")
	}
	ks, err := storage.NewKindTable(storage.Kind{ID: wire.KindREDIR, Model: wire.ModelDictionary, Policy: storage.PolicyNodeIDMatch})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := ks.Lookup(wire.KindREDIR); k.BranchingFactor != storage.DefaultBranchingFactor {
		t.Fatalf("branching factor %d, want the default %d", k.BranchingFactor, storage.DefaultBranchingFactor)
	}
}
