package node

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"slices"
	"time"

	"github.com/goreload/reload/wire"
)

// discoveryAddrs is where this node looks for a bootstrap peer to detect
// partitions (RFC 6940 §10.7.4.4, "the discovery process used in the
// initial join for the overlay"): its bootstrap addresses boot, and the
// configuration's bootstrap nodes (a seed has no others), never its own
// addresses, sorted.
func (n *Node) discoveryAddrs(boot []string) []string {
	if n.cfg.Client {
		return nil
	}
	addrs := slices.Concat(boot, n.cfg.Bootstrap)
	for _, b := range n.cfg.Overlay.BootstrapNodes {
		addrs = append(addrs, net.JoinHostPort(b.Address, fmt.Sprint(b.Port)))
	}
	self, selfUDP := n.Addr(), n.UDPAddr()
	addrs = slices.DeleteFunc(addrs, func(a string) bool { return a == self || a == selfUDP && selfUDP != "" })
	slices.Sort(addrs)
	return slices.Compact(addrs)
}

// partitionCheckInterval is Config.PartitionCheck with its default.
func (n *Node) partitionCheckInterval() time.Duration {
	switch d := n.cfg.PartitionCheck; {
	case d > 0:
		return d
	case d < 0:
		return 0
	}
	if d := n.cfg.Overlay.ChordUpdateInterval; d > 0 {
		return d
	}
	return 600 * time.Second // chord-update-interval's default (§10.7.4.1)
}

// startPartitionChecks runs the partition detection of §10.7.4.4 in the
// background while the node is open: every interval (with jitter) the
// node links to a bootstrap peer among addrs and has the topology plugin
// Ping its own Node-ID through it; the plugin Updates a peer it did not
// know that answers, which merges the partitions.
func (n *Node) startPartitionChecks(addrs []string) {
	every := n.partitionCheckInterval()
	if len(addrs) == 0 || every <= 0 || n.cfg.Client {
		return
	}
	n.async(func() {
		ids := make(map[string]wire.NodeID, len(addrs))
		// The first check comes soon after the start, when nodes
		// started together may have founded rings of their own.
		wait := every / 10
		for {
			t := time.NewTimer(wait/2 + mrand.N(wait/2+1))
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = every
			select {
			case <-n.joined:
			default:
				continue // not joined yet: the join is the discovery
			}
			via, ok := n.discoverBootstrap(addrs, ids)
			if !ok {
				continue
			}
			n.post(func() { n.h.CheckPartition(via) })
		}
	})
}

// discoverBootstrap returns the Node-ID of a bootstrap peer this node has
// a link to, dialling the addresses in turn from a random one until one
// answers, so that over the rounds every bootstrap node's partition is
// looked at; ids remembers who answered where.
func (n *Node) discoverBootstrap(addrs []string, ids map[string]wire.NodeID) (wire.NodeID, bool) {
	self := n.ID()
	first := mrand.IntN(len(addrs))
	for i := range addrs {
		addr := addrs[(first+i)%len(addrs)]
		if id, ok := ids[addr]; ok && id != self {
			if _, up := n.eng.Table().Lookup(id); up {
				return id, true
			}
		}
		ctx, cancel := context.WithTimeout(n.ctx, bootstrapDialTimeout)
		l, err := n.dialBootstrapPeer(ctx, addr)
		cancel()
		if err != nil {
			n.log.Debug("partition check: bootstrap peer", "addr", addr, "err", err)
			continue
		}
		id := l.PeerNodeID()
		ids[addr] = id
		if id != self {
			return id, true
		}
	}
	return wire.NodeID{}, false
}
