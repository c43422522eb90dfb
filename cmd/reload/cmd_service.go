package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/goreload/reload/wire"
)

// serviceUsage is the usage of "reload service" and its commands.
const serviceUsage = `usage: reload service <register|unregister|lookup|list> [flags] ...

Service discovery through a running node, with the ReDiR tree of RFC 7374
(REDIR kind, NODE-ID-MATCH). NAMESPACE names the service, e.g. turn-server or
voice-mail. The overlay's configuration must define the REDIR kind.

  reload service register [flags] NAMESPACE
        register the node as a provider of NAMESPACE; the node refreshes the
        registration before its lifetime ends until it leaves or unregisters
  reload service unregister [flags] NAMESPACE
        stop refreshing and remove the node's records (with --keep: stop
        refreshing and let them expire)
  reload service lookup [flags] NAMESPACE
        find the provider whose Node-ID is the closest successor of the node's
        own Node-ID, or of --key
  reload service list [flags]
        list the namespaces the node keeps registered

Run 'reload service <command> --help' for the flags of a command.
`

func runService(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, serviceUsage)
		return exitUsage
	}
	switch args[0] {
	case "register":
		return serviceRegister(args[1:], stdout, stderr)
	case "unregister":
		return serviceUnregister(args[1:], stdout, stderr)
	case "lookup":
		return serviceLookup(args[1:], stdout, stderr)
	case "list":
		return serviceList(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, serviceUsage)
		return exitOK
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "reload service: flag %s before the command\n\n%s", args[0], serviceUsage)
		return exitUsage
	}
	fmt.Fprintf(stderr, "reload service: unknown command %q\n\n%s", args[0], serviceUsage)
	return exitUsage
}

func serviceRegister(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("service register", "reload service register [flags] NAMESPACE\n\nRegister the node as a provider of NAMESPACE in the overlay's ReDiR tree\n(RFC 7374 §4.3) and keep the registration alive (§4.4).", stderr)
	control := addControlFlags(fs, "control API address of the node that provides the service")
	lifetime := fs.Int("lifetime", 600, "lifetime of the records in seconds; the node refreshes them at 90% of it")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give NAMESPACE")
	}
	if *lifetime < 1 {
		return usageError(fs, "--lifetime must be at least 1 second")
	}
	q := url.Values{"namespace": {fs.Arg(0)}, "lifetime": {fmt.Sprint(*lifetime)}}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/service/register", q, nil, &raw); err != nil {
		return failure(stderr, "service register", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Namespace string
		NodeID    string `json:"node_id"`
		Lifetime  int    `json:"lifetime_s"`
		Levels    map[int]uint16
		Requests  struct{ Fetches, Stores int }
	}
	_ = json.Unmarshal(raw, &r)
	levels := make([]string, 0, len(r.Levels))
	keys := make([]int, 0, len(r.Levels))
	for l := range r.Levels {
		keys = append(keys, l)
	}
	sort.Ints(keys)
	for _, l := range keys {
		levels = append(levels, fmt.Sprintf("(%d,%d)", l, r.Levels[l]))
	}
	fmt.Fprintf(stdout, "registered %s as a provider of %s: tree nodes %s, %d fetches, %d stores; refreshed every %ds\n",
		r.NodeID, r.Namespace, strings.Join(levels, " "), r.Requests.Fetches, r.Requests.Stores, r.Lifetime*9/10)
	return exitOK
}

func serviceUnregister(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("service unregister", "reload service unregister [flags] NAMESPACE\n\nStop refreshing the node's registration for NAMESPACE and remove its records\n(RFC 7374 §4.6).", stderr)
	control := addControlFlags(fs, "control API address of the node that provides the service")
	keep := fs.Bool("keep", false, "only stop refreshing; the records expire at the end of their lifetime")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give NAMESPACE")
	}
	q := url.Values{"namespace": {fs.Arg(0)}}
	if *keep {
		q.Set("keep", "1")
	}
	var raw json.RawMessage
	if err := newControl(*control).do("POST", "/service/unregister", q, nil, &raw); err != nil {
		return failure(stderr, "service unregister", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	if *keep {
		fmt.Fprintf(stdout, "stopped refreshing %s; its records expire with their lifetime\n", fs.Arg(0))
	} else {
		fmt.Fprintf(stdout, "unregistered %s\n", fs.Arg(0))
	}
	return exitOK
}

func serviceLookup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("service lookup", "reload service lookup [flags] NAMESPACE\n\nFind the provider of NAMESPACE whose Node-ID is the closest successor of the\nnode's Node-ID or of --key (RFC 7374 §4.5).", stderr)
	control := addControlFlags(fs, "control API address of the node that looks up")
	key := fs.String("key", "", "Node-ID in hex to find the successor of (default: the node's own)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give NAMESPACE")
	}
	q := url.Values{"namespace": {fs.Arg(0)}}
	if *key != "" {
		if _, err := wire.ParseNodeID(*key); err != nil {
			return usageError(fs, "--key: %q is not a Node-ID in hex", *key)
		}
		q.Set("key", *key)
	}
	var raw json.RawMessage
	if err := newControl(*control).do("GET", "/service/lookup", q, nil, &raw); err != nil {
		return failure(stderr, "service lookup", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Namespace    string
		Key          string
		Provider     string
		Destinations []string
		Level        int
		Cached       bool `json:"from_cache"`
		Requests     struct{ Fetches int }
	}
	_ = json.Unmarshal(raw, &r)
	from := ""
	if r.Cached {
		from = ", from the walk's cache"
	}
	fmt.Fprintf(stdout, "%s provider for %s: %s (route %s), found at level %d after %d fetches%s\n",
		r.Namespace, r.Key, r.Provider, strings.Join(r.Destinations, " "), r.Level, r.Requests.Fetches, from)
	return exitOK
}

func serviceList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("service list", "reload service list [flags]\n\nList the namespaces the node keeps registered (RFC 7374 §4.4).", stderr)
	control := addControlFlags(fs, "control API address of the node")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	var raw json.RawMessage
	if err := newControl(*control).do("GET", "/service/list", nil, nil, &raw); err != nil {
		return failure(stderr, "service list", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct{ Services []string }
	_ = json.Unmarshal(raw, &r)
	for _, s := range r.Services {
		fmt.Fprintln(stdout, s)
	}
	return exitOK
}
