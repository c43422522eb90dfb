package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goreload/reload/usage/sip/sipua"
)

// demoPhones registers two built-in SIP phones, node1 at the first peer
// and nodeN at the last, and calls node1 from nodeN through the overlay
// (RFC 7904): the caller's front end resolves the AOR in the overlay and
// carries the INVITE over an AppAttach connection to the callee's peer.
// The AOR of each phone is the user of its peer's certificate, as the
// SIP-REGISTRATION Kind's USER-NODE-MATCH policy requires.
func demoPhones(ctx context.Context, up []demoNode, domain string) (string, error) {
	n := len(up)
	callee, err := sipua.New(sipua.Config{User: "node1", Domain: domain, Proxy: up[0].node.SIP().UDPAddr().String()})
	if err != nil {
		return "", err
	}
	defer callee.Close()
	caller, err := sipua.New(sipua.Config{User: fmt.Sprintf("node%d", n), Domain: domain, Proxy: up[n-1].node.SIP().UDPAddr().String()})
	if err != nil {
		return "", err
	}
	defer caller.Close()
	for _, p := range []*sipua.Phone{callee, caller} {
		if err := p.Register(ctx, 5*time.Minute); err != nil {
			return "", err
		}
	}
	call, err := caller.Call(ctx, "node1")
	if err != nil {
		return "", err
	}
	for deadline := time.Now().Add(5 * time.Second); callee.Ended() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if callee.Ended() == 0 {
		return "", fmt.Errorf("the callee never saw the BYE")
	}
	return fmt.Sprintf("%s called %s (peer %d to peer 1): INVITE %v, ACK, BYE; set-up %s",
		caller.AOR(), callee.AOR(), n, call.Responses, call.Setup.Round(time.Millisecond)), nil
}
