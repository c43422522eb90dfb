package node

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// BenchmarkTransitRoute: the next-hop choice of a transit hop (RFC 6940
// §6.1.2, §10.3) on a peer of a converged 8-peer overlay whose tick loop
// and links run as usual, for resource destinations spread over the ring.
// "serial" is one forwarding goroutine; "parallel" is GOMAXPROCS of them
// at once, as the read loops of several links forward at the same time.
func BenchmarkTransitRoute(b *testing.B) {
	c := startCluster(b, 8, nil)
	c.waitConverged(b, 60*time.Second)
	r := router{c.nodes[3]}
	dests := make([]wire.Destination, 256)
	for i := range dests {
		id := make([]byte, 16)
		binary.BigEndian.PutUint64(id, uint64(i)*0x0101010101010101*257)
		dests[i] = wire.ResourceDest(wire.ResourceID(id))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := r.Route(&dests[i%len(dests)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, _, err := r.Route(&dests[i%len(dests)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
