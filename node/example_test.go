package node_test

import (
	"context"
	"fmt"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/wire"
)

// Start the first peer of a ring and a peer that joins through it, both
// on loopback over TLS; store a value through one and fetch it through the
// other; ping one from the other. nodetest makes the CA, configuration and
// identities in memory; a real overlay gets them from `reload overlay
// init` and enrollment (see examples/customkind for doing it with the
// security and config packages).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ov, err := nodetest.NewOverlay("overlay.example.org", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, err := ov.Identities(2) // users node1 and node2
	if err != nil {
		fmt.Println(err)
		return
	}

	seed, err := node.New(node.Config{Overlay: ov.Config, Identity: ids[0], ListenTLS: "127.0.0.1:0", Seed: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seed.Close()
	if err := seed.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	peer, err := node.New(node.Config{Overlay: ov.Config, Identity: ids[1], Bootstrap: []string{seed.Addr()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer peer.Close()
	if err := peer.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range []*node.Node{seed, peer} {
		select {
		case <-n.Joined():
		case <-ctx.Done():
			fmt.Println("not joined:", ctx.Err())
			return
		}
	}
	fmt.Println("both joined")

	// SIP-REGISTRATION is a dictionary under the hash of the user name,
	// keyed by the storing node's Node-ID (USER-NODE-MATCH, RFC 7904).
	res := wire.ResourceIDFromName("node2@overlay.example.org")
	key := peer.ID()
	val := wire.DictionaryValue(key.Bytes(), []byte("sip:node2@192.0.2.2"))
	if _, err := peer.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{val}, time.Hour); err != nil {
		fmt.Println("store:", err)
		return
	}
	fa, err := seed.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		fmt.Println("fetch:", err)
		return
	}
	for _, sd := range fa.KindResponses[0].Values {
		fmt.Printf("fetched %s\n", sd.Value.Value.Value)
	}

	target := seed.ID()
	r, err := peer.Ping(ctx, wire.NodeDest(&target))
	fmt.Println("ping answered by the seed:", r.From == target, err)
	// Output:
	// both joined
	// fetched sip:node2@192.0.2.2
	// ping answered by the seed: true <nil>
}
