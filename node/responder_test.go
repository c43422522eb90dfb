package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/wire"
)

// claimRoutes makes a node claim a Resource-ID it is not responsible
// for: it delivers requests to it locally instead of forwarding them.
type claimRoutes struct {
	topology.Routes
	target []byte
}

func (c claimRoutes) Route(d *wire.Destination) (wire.NodeID, bool, error) {
	if d.Type == wire.DestResource && bytes.Equal(d.ID, c.target) {
		return wire.NodeID{}, true, nil
	}
	return c.Routes.Route(d)
}

// RFC 6940 §6.3.4 rule 2: "The response to a message sent to a
// Resource-ID MUST have been sent by a Node-ID which is at least as close
// to the target Resource-ID as any node in the requesting node's Neighbor
// Table." An enrolled member on the path of a Fetch (the finger the
// requester routes it to) answers it itself instead of forwarding it to
// the responsible peer. The requester must drop that answer, count and
// log it, and retransmit; the honest path still works once the attacker
// forwards again.
func TestAnswerFromWrongPeerRejected(t *testing.T) {
	c := startCluster(t, 10, nil)
	c.waitConverged(t, 60*time.Second)
	requester := c.nodes[0]
	byID := map[wire.NodeID]*Node{}
	for _, n := range c.nodes {
		byID[n.ID()] = n
	}
	// A Resource-ID the requester routes to a peer that precedes it on
	// the ring while a neighbour of the requester is closer to it.
	var target wire.ResourceID
	var attacker *Node
	for i := 0; i < 100000 && attacker == nil; i++ {
		res := wire.ResourceIDFromName(fmt.Sprintf("res%d", i))
		d := wire.ResourceDest(res)
		next, local, err := router{requester}.Route(&d)
		if err != nil || local || requester.mayAnswer(res, next) {
			continue
		}
		target, attacker = res, byID[next]
	}
	if attacker == nil {
		t.Fatal("no Resource-ID routed to a peer farther from it than a neighbour")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// Keep the claim in place: the host publishes a new snapshot
		// whenever its routing state changes.
		defer close(done)
		for {
			b := attacker.routes.Load()
			if _, ok := b.Routes.(claimRoutes); !ok {
				attacker.routes.CompareAndSwap(b, &routesBox{claimRoutes{b.Routes, target}})
			}
			select {
			case <-stop:
				attacker.routes.Store(&routesBox{b.Routes.(claimRoutes).Routes})
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	before := requester.eng.Stats().AnswersNotResponsible.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	_, err := requester.FetchAll(ctx, target, wire.KindSIPRegistration)
	cancel()
	if err == nil {
		t.Fatalf("the requester accepted %v's answer for %v", attacker.ID(), target)
	}
	if got := requester.eng.Stats().AnswersNotResponsible.Load() - before; got == 0 {
		t.Fatalf("no answer counted as not responsible (fetch: %v)", err)
	}
	close(stop)
	<-done
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := requester.FetchAll(ctx, target, wire.KindSIPRegistration); err != nil {
		t.Fatalf("fetch through the honest path: %v", err)
	}
}
