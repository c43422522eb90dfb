package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/goreload/reload/node"
)

// aclUsage is the usage of "reload acl" and its commands.
const aclUsage = `usage: reload acl <grant|revoke|list> [flags] ...

Share write access to a resource through a running node, with the
ACCESS-CONTROL-LIST kind of RFC 8076 (shared resources, USER-CHAIN-ACL).
RESOURCE is a resource name (the owner's user name, e.g. alice@example.org);
KIND is a kind whose access control is USER-CHAIN-ACL (a number).

  reload acl grant [flags] RESOURCE KIND USER
        give USER write access to KIND at RESOURCE; the node's user must own
        RESOURCE or hold a grant with delegation (the owner's first grant also
        stores the list's root item)
  reload acl revoke [flags] RESOURCE KIND USER
        revoke the grants to USER that the node's user made (all of them, for
        the owner); the grants made through them fail too
  reload acl list [flags] RESOURCE
        show the access control list at RESOURCE, each item marked valid or
        not (its grantor's own grant was revoked)

Run 'reload acl <command> --help' for the flags of a command.
`

func runACL(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, aclUsage)
		return exitUsage
	}
	switch args[0] {
	case "grant":
		return aclGrant(args[1:], stdout, stderr)
	case "revoke":
		return aclRevoke(args[1:], stdout, stderr)
	case "list":
		return aclList(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, aclUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "reload acl: unknown command %q\n\n%s", args[0], aclUsage)
	return exitUsage
}

func aclGrant(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("acl grant", "reload acl grant [flags] RESOURCE KIND USER\n\nGive USER write access to KIND at RESOURCE through a running node (RFC 8076 §6.1).", stderr)
	control := addControlFlags(fs, "control API address of the node that grants")
	delegate := fs.Bool("delegate", false, "let USER grant write access further (allow_delegation)")
	lifetime := fs.Int("lifetime", 3600, "lifetime of the grant in seconds; grant again to refresh it")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 3 {
		return usageError(fs, "give RESOURCE KIND USER")
	}
	if *lifetime < 1 {
		return usageError(fs, "--lifetime must be at least 1 second")
	}
	if _, err := node.ParseKind(fs.Arg(1)); err != nil {
		return usageError(fs, "%v", err)
	}
	q := url.Values{"resource": {fs.Arg(0)}, "kind": {fs.Arg(1)}, "user": {fs.Arg(2)},
		"delegate": {fmt.Sprint(*delegate)}, "lifetime": {fmt.Sprint(*lifetime)}}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/acl/grant", q, nil, &raw); err != nil {
		return failure(stderr, "acl grant", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	how := ""
	if *delegate {
		how = ", with delegation"
	}
	fmt.Fprintf(stdout, "granted %s write access to kind %s at %s%s\n", fs.Arg(2), fs.Arg(1), fs.Arg(0), how)
	return exitOK
}

func aclRevoke(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("acl revoke", "reload acl revoke [flags] RESOURCE KIND USER\n\nRevoke the grants of write access to KIND at RESOURCE to USER through a running\nnode (RFC 8076 §6.2).", stderr)
	control := addControlFlags(fs, "control API address of the node that revokes")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 3 {
		return usageError(fs, "give RESOURCE KIND USER")
	}
	if _, err := node.ParseKind(fs.Arg(1)); err != nil {
		return usageError(fs, "%v", err)
	}
	q := url.Values{"resource": {fs.Arg(0)}, "kind": {fs.Arg(1)}, "user": {fs.Arg(2)}}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/acl/revoke", q, nil, &raw); err != nil {
		return failure(stderr, "acl revoke", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct{ Revoked []uint32 }
	_ = json.Unmarshal(raw, &r)
	fmt.Fprintf(stdout, "revoked %d grant(s) to %s for kind %s at %s\n", len(r.Revoked), fs.Arg(2), fs.Arg(1), fs.Arg(0))
	return exitOK
}

func aclList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("acl list", "reload acl list [flags] RESOURCE\n\nShow the verified access control list at RESOURCE through a running node\n(RFC 8076 §4, §6.5).", stderr)
	control := addControlFlags(fs, "control API address of the node that fetches")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give RESOURCE")
	}
	var raw json.RawMessage
	if err := newControl(*control).do("GET", "/acl", url.Values{"resource": {fs.Arg(0)}}, nil, &raw); err != nil {
		return failure(stderr, "acl list", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Items []struct {
			Index           uint32
			Signer          string
			ToUser          string `json:"to_user"`
			Kind            string
			AllowDelegation bool `json:"allow_delegation"`
			Valid           bool
		}
	}
	_ = json.Unmarshal(raw, &r)
	if len(r.Items) == 0 {
		fmt.Fprintf(stdout, "no access control list at %s\n", fs.Arg(0))
		return exitOK
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s  %-24s  %-24s  %-12s  %-8s  %s\n", "INDEX", "GRANTED BY", "TO USER", "KIND", "DELEGATE", "VALID")
	for _, it := range r.Items {
		valid := "yes"
		if !it.Valid {
			valid = "no (revoked upstream)"
		}
		fmt.Fprintf(&b, "%-10d  %-24s  %-24s  %-12s  %-8v  %s\n", it.Index, it.Signer, it.ToUser, it.Kind, it.AllowDelegation, valid)
	}
	fmt.Fprint(stdout, b.String())
	return exitOK
}
