package node

import (
	"testing"
	"time"
)

// TestRejoinAfterAllLinksLost: a peer that loses every link at once (its
// neighbours are gone, §10.7.1) is detached; it dials its bootstrap
// address again and joins anew, and the ring converges with it. Before,
// it tried to join through the bootstrap peer's Node-ID over a link that
// no longer existed, and stayed out of the ring.
func TestRejoinAfterAllLinksLost(t *testing.T) {
	c := startCluster(t, 5, nil)
	c.waitConverged(t, 30*time.Second)
	lost := c.nodes[3]
	for _, l := range lost.eng.Table().Links() {
		l.Close()
	}
	time.Sleep(200 * time.Millisecond)
	c.waitConverged(t, 60*time.Second)
	if n := len(lost.eng.Table().Links()); n == 0 {
		t.Fatal("the peer has no links after the rejoin")
	}
}
