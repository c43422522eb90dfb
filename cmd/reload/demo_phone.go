package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/usage/sip"
	"github.com/goreload/reload/usage/sip/sipua"
)

// demoPhones registers two built-in SIP phones, node1 at the first peer
// and nodeN at the last, and calls node1 from nodeN through the overlay
// (RFC 7904): the caller's front end resolves the AOR in the overlay and
// carries the INVITE over an AppAttach connection to the callee's peer.
// The AOR of each phone is the user of its peer's certificate, as the
// SIP-REGISTRATION Kind's USER-NODE-MATCH policy requires; each answers
// its front end's digest challenges with that user's password.
func demoPhones(ctx context.Context, up []demoNode, domain, ovDir string) (string, error) {
	n := len(up)
	calleePW, err := demoSIPPassword(ovDir, 0)
	if err != nil {
		return "", err
	}
	callerPW, err := demoSIPPassword(ovDir, n-1)
	if err != nil {
		return "", err
	}
	callee, err := sipua.New(sipua.Config{User: "node1", Password: calleePW, Domain: domain, Proxy: up[0].node.SIP().UDPAddr().String()})
	if err != nil {
		return "", err
	}
	defer callee.Close()
	caller, err := sipua.New(sipua.Config{User: fmt.Sprintf("node%d", n), Password: callerPW, Domain: domain, Proxy: up[n-1].node.SIP().UDPAddr().String()})
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

// demoSIPConfig is the SIP front end of the demo's peer i on a loopback
// port, with the credentials "reload overlay init" wrote for its user
// (nodes/nodeI/sip-users): the demo's phones authenticate like any.
func demoSIPConfig(ovDir string, i int) (*node.SIPConfig, error) {
	creds, err := sip.LoadCredentials(filepath.Join(ovDir, dirNodes, "node"+strconv.Itoa(i+1), fileSIPUsers))
	if err != nil {
		return nil, err
	}
	return &node.SIPConfig{UDPAddr: "127.0.0.1:0", Credentials: creds}, nil
}

// demoSIPPassword is the SIP digest password of the demo's peer i's user.
func demoSIPPassword(ovDir string, i int) (string, error) {
	user := "node" + strconv.Itoa(i+1)
	return readSIPPassword(filepath.Join(ovDir, dirNodes, user), user)
}
