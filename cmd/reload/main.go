// Command reload is the one command-line tool of the RELOAD stack: it
// dissects captures and messages, and runs and inspects overlays.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: its summary for the usage text and its entry
// point, which returns the process exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands.
var commands = map[string]command{
	"dissect":     {"decode RELOAD messages from captures, hex or raw bytes", runDissect},
	"demo":        {"start a local overlay with its own CA and exercise it: ring, storage, diagnostics, a SIP call", runDemo},
	"overlay":     {"create an overlay (CA, configuration, identities) or serve its configuration and enrollment", runOverlay},
	"enroll":      {"obtain a node identity from an enrollment server", runEnroll},
	"node":        {"run a peer or client of an overlay", runNode},
	"status":      {"show a running node's Node-ID, neighbours, fingers and links", runStatus},
	"ui":          {"print the URL of a running node's live web page (ring, links, traffic, traceroute)", runUI},
	"ping":        {"ping a destination through the overlay, with RFC 7851 diagnostics", runPing},
	"traceroute":  {"trace the overlay path to a destination (RFC 7851 PathTrack)", runTraceroute},
	"store":       {"store a value through a running node", runStore},
	"acl":         {"grant, revoke and list shared write access through a running node (RFC 8076)", runACL},
	"fetch":       {"fetch values through a running node", runFetch},
	"stat":        {"show the metadata of stored values through a running node", runStat},
	"find":        {"find the closest stored Resource-ID of a kind through a running node", runFind},
	"service":     {"register and look up service providers through a running node (RFC 7374 ReDiR)", runService},
	"sim":         {"simulate a CHORD-RELOAD overlay (joins, churn, hop counts, plots)", runSim},
	"conformance": {"run the interop test kit against a peer of another implementation", runConformance},
	"fuzz":        {"fuzz a peer of any implementation over an authenticated link; replay a reproducer", runFuzz},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses: 0 success, 1 the job failed, 2 the command line was wrong.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	stderr = &errStream{Writer: stderr, stdout: stdout}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "reload: unknown command %q\n\n", args[1])
				usage(stderr)
				return exitUsage
			}
			return c.run([]string{"--help"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "reload: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: reload <command> [flags]\n\nA RELOAD (RFC 6940) overlay stack.\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'reload <command> --help' for the flags of a command.")
}
