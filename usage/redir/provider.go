package redir

import (
	"math/big"

	"github.com/goreload/reload/wire"
)

// Provider is one service provider found in a ReDiR tree node: the
// dictionary key (its Node-ID) and its RedirServiceProvider record.
type Provider struct {
	NodeID wire.NodeID
	// Record is the stored RedirServiceProvider, detached from the
	// message it came in.
	Record wire.RedirServiceProvider
	// Lifetime and StorageTime are those of the StoredData (RFC 6940
	// §6.4.1), in seconds and milliseconds since the Unix epoch.
	Lifetime    uint32
	StorageTime uint64
	key         *big.Int
}

// Destinations is the route to the provider (§4.1), or a node
// Destination for its Node-ID when the record has none.
func (p *Provider) Destinations() []wire.Destination {
	if len(p.Record.Destinations) > 0 {
		return p.Record.Destinations
	}
	id := p.NodeID
	return []wire.Destination{wire.NodeDest(&id)}
}

// decodeProviders keeps the values of sds that are RedirServiceProvider
// records of tree node (level,node) of ns with a Node-ID key of idLen
// bytes; anything else (removed entries, other models, malformed or
// misplaced records) is skipped.
func decodeProviders(sds []wire.StoredData, ns string, level int, node uint16, idLen int) []Provider {
	out := make([]Provider, 0, len(sds))
	for i := range sds {
		v := &sds[i].Value
		if v.Model != wire.ModelDictionary || !v.Value.Exists || len(v.Key) != idLen {
			continue
		}
		id, err := wire.NodeIDFromBytes(v.Key)
		if err != nil {
			continue
		}
		var r wire.RedirServiceProvider
		if _, err := r.Decode(v.Value.Value); err != nil {
			continue
		}
		if string(r.Namespace) != ns || int(r.Level) != level || r.Node != node {
			continue
		}
		out = append(out, Provider{NodeID: id, Record: r.Clone(), Lifetime: sds[i].Lifetime,
			StorageTime: sds[i].StorageTime, key: Key(id)})
	}
	return out
}
