package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/usage/sip"
)

// fileSIPUsers is the digest credentials file of a node's SIP front end
// (sip.ParseCredentials: "USER PASSWORD" lines, mode 0600). "reload overlay
// init" writes one in each node's identity directory with a random
// password for the node's user, and "reload node" reads it from there
// when --sip-credentials is not given.
const fileSIPUsers = "sip-users"

// sipFrontend is the SIP configuration of "reload node": the front end on
// udp and/or tcp, authenticating its users with the credentials of
// credPath (default: idDir/sip-users when it exists), or with none when
// noAuth says so. The front end does not run without credentials unless
// asked: a registrar open to anyone lets every host that reaches the
// socket take over the node's AOR (RFC 3261 §10.3, §22).
func sipFrontend(udp, tcp, credPath, idDir string, noAuth bool) (*node.SIPConfig, error) {
	if udp == "" && tcp == "" {
		if credPath != "" || noAuth {
			return nil, errors.New("--sip-credentials and --sip-no-auth go with --sip-udp or --sip-tcp")
		}
		return nil, nil
	}
	c := &node.SIPConfig{UDPAddr: udp, TCPAddr: tcp}
	if noAuth {
		if credPath != "" {
			return nil, errors.New("--sip-no-auth and --sip-credentials exclude each other")
		}
		c.NoAuth = true
		return c, nil
	}
	if credPath == "" {
		p := filepath.Join(idDir, fileSIPUsers)
		if _, err := os.Stat(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, hint(errors.New("the SIP front end has no credentials for its users"),
				fmt.Sprintf("give --sip-credentials FILE (lines \"USER PASSWORD\", mode 0600; 'reload overlay init' writes %s in each node's directory), or --sip-no-auth to let every host that reaches the SIP socket register and call", fileSIPUsers))
		}
		credPath = p
	}
	creds, err := sip.LoadCredentials(credPath)
	if err != nil {
		return nil, err
	}
	c.Credentials = creds
	return c, nil
}

// readSIPPassword is user's password in the credentials file dir/sip-users.
func readSIPPassword(dir, user string) (string, error) {
	creds, err := sip.LoadCredentials(filepath.Join(dir, fileSIPUsers))
	if err != nil {
		return "", err
	}
	pw := creds[user].Password
	if pw == "" {
		return "", fmt.Errorf("%s holds no password for %s", filepath.Join(dir, fileSIPUsers), user)
	}
	return pw, nil
}
