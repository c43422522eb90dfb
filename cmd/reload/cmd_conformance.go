package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/goreload/reload/conformance"
	"github.com/goreload/reload/wire"
)

// runConformance implements "reload conformance": connect to a peer of
// another implementation as a node of the same overlay and run the interop
// catalogue against it. Exit status 0 when every check passed or was
// skipped, 1 when one failed, 2 for a bad command line.
func runConformance(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload conformance",
		"reload conformance --target HOST:PORT --config overlay.xml --identity DIR [--identity DIR2] [--transport tls|dtls] "+
			"[--expect-node-id HEX] [--json] [--pcap FILE [--keylog FILE]] [--checks ID,...]", stderr)
	target := fs.String("target", "", "address of the peer to test, host:port (required)")
	tr := fs.String("transport", "tls", "overlay link protocol: tls (TLS-TCP-FH-NO-ICE) or dtls (DTLS-UDP-SR-NO-ICE)")
	cfgPath := fs.String("config", "", "the overlay configuration document, overlay.xml (required)")
	overlay := fs.String("overlay", "", "instance name when the document holds several configurations (default: the first)")
	var idDirs stringList
	fs.Var(&idDirs, "identity", "directory holding this tester's enrolled cert.pem and key.pem (required); give it twice for a pair "+
		"with two Node-IDs: the checks that need a link of their own (frame.*, err.too-large) then use the second, "+
		"so that a peer allowing one link per Node-ID does not refuse them")
	expect := fs.String("expect-node-id", "", "Node-ID (hex) the peer's certificate must carry")
	asJSON := fs.Bool("json", false, "write the report as JSON (schema_version 1, described in the README)")
	pcapPath := fs.String("pcap", "", "write the tester's traffic (encrypted) to this pcap file")
	keylog := fs.String("keylog", "", "write the (D)TLS key log here (default: the pcap file name + .keys)")
	checks := fs.String("checks", "", "comma-separated check ids or prefixes to run (e.g. frame.,err.ttl-zero); default all")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	quiet := fs.Duration("quiet", 1500*time.Millisecond, "how long to wait where silence is the right reaction")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	switch {
	case *target == "":
		return usageError(fs, "--target is required")
	case *cfgPath == "":
		return usageError(fs, "--config is required")
	case len(idDirs) == 0:
		return usageError(fs, "--identity is required")
	case len(idDirs) > 2:
		return usageError(fs, "--identity may be given at most twice (a pair), not %d times", len(idDirs))
	case *tr != string(conformance.TLS) && *tr != string(conformance.DTLS):
		return usageError(fs, "--transport must be tls or dtls, not %q", *tr)
	case *keylog != "" && *pcapPath == "":
		return usageError(fs, "--keylog goes with --pcap")
	case *timeout <= 0 || *quiet <= 0:
		return usageError(fs, "--timeout and --quiet must be positive")
	}
	o := conformance.Options{Target: *target, Transport: conformance.Transport(*tr), Timeout: *timeout, Quiet: *quiet}
	if *expect != "" {
		id, err := wire.ParseNodeID(*expect)
		if err != nil {
			return usageError(fs, "--expect-node-id: %v", err)
		}
		o.ExpectNodeID = id
	}
	if *checks != "" {
		for _, c := range strings.Split(*checks, ",") {
			if c = strings.TrimSpace(c); c != "" {
				o.Checks = append(o.Checks, c)
			}
		}
	}
	const name = "reload conformance"
	d, _, err := readConfig(*cfgPath)
	if err != nil {
		return failure(stderr, name, err)
	}
	o.Config = d.Configurations[0]
	if *overlay != "" {
		if o.Config = d.Configuration(*overlay); o.Config == nil {
			return failure(stderr, name, fmt.Errorf("%s holds no configuration for overlay %s", *cfgPath, *overlay))
		}
	}
	if o.Identity, err = readIdentity(idDirs[0]); err != nil {
		return failure(stderr, name, err)
	}
	if len(idDirs) == 2 {
		if o.Second, err = readIdentity(idDirs[1]); err != nil {
			return failure(stderr, name, err)
		}
		if o.Second.NodeID() == o.Identity.NodeID() {
			return usageError(fs, "the two --identity directories carry the same Node-ID %v; a pair needs two", o.Identity.NodeID())
		}
	}
	if *pcapPath != "" {
		pf, err := os.Create(*pcapPath)
		if err != nil {
			return failure(stderr, name, err)
		}
		defer pf.Close()
		if o.Capture, err = conformance.NewCapture(pf); err != nil {
			return failure(stderr, name, err)
		}
		kp := *keylog
		if kp == "" {
			kp = *pcapPath + ".keys"
		}
		kf, err := os.OpenFile(kp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return failure(stderr, name, err)
		}
		defer kf.Close()
		o.KeyLog = kf
	}
	rep, err := conformance.Run(context.Background(), o)
	if err != nil {
		return failure(stderr, name, err)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		return failure(stderr, name, err)
	}
	if o.Capture != nil {
		if err := o.Capture.Err(); err != nil {
			fmt.Fprintf(stderr, "%s: writing the capture: %v\n", name, err)
		}
	}
	if rep.Failed() {
		return exitFail
	}
	return exitOK
}
