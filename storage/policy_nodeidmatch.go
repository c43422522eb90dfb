package storage

import (
	"bytes"
	"math/big"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// permitNodeIDMatch decides NODE-ID-MATCH (RFC 7374 §5), the policy of
// the REDIR Kind:
//
//   - the value must be a dictionary entry whose key is the signer's
//     Node-ID (one the signing certificate carries), for deletions
//     (exists=False, §4.6) as well as for stores;
//   - when exists=True, the value must be a RedirServiceProvider, the
//     Resource-ID must be H(namespace,level,node) of the tree node it
//     names (wire.RedirResourceName under the overlay's hash), and the
//     signer's Node-ID must lie in one of that tree node's intervals, that
//     is in the range of node (level,node) for the Kind's branching
//     factor (§3, §8).
//
// So a provider can only point at itself, and only from the one tree node
// per level whose range holds its Node-ID (§9).
func permitNodeIDMatch(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	if v.Model != wire.ModelDictionary || !signer.Cert.HasNodeID(signer.NodeID) ||
		!bytes.Equal(v.Key, signer.NodeID.Bytes()) {
		return false
	}
	if !v.Value.Exists {
		return true
	}
	var p wire.RedirServiceProvider
	if _, err := p.Decode(v.Value.Value); err != nil {
		return false
	}
	if !bytes.Equal(h(wire.RedirResourceName(p.Namespace, p.Level, p.Node)), res) {
		return false
	}
	return redirNodeHolds(k.BranchingFactor, p.Level, p.Node, signer.NodeID)
}

// redirNodeHolds reports whether id lies in the range of ReDiR tree node
// (level,node) for branching factor b, the union of the node's b
// intervals (RFC 7374 §3).
func redirNodeHolds(b int, level, node uint16, id wire.NodeID) bool {
	if b < 2 {
		b = DefaultBranchingFactor
	}
	if int(level) > 8*id.Len() {
		// Below level bits every interval is narrower than one
		// identifier; refusing here also bounds the arithmetic.
		return false
	}
	key := new(big.Int).SetBytes(id.Bytes())
	pos := wire.RedirPosition(key, 8*id.Len(), uint64(b), int(level))
	return pos.IsUint64() && pos.Uint64() == uint64(node)
}
