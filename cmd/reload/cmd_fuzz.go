package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/netfuzz"
)

// runFuzz implements "reload fuzz": a protocol-aware network fuzzer for
// a RELOAD peer of any implementation, over an authenticated TLS or DTLS
// link. Exit status 1 when it found a failure (or, with --replay, when the
// input still makes the target fail), 0 otherwise, 2 for a bad command
// line.
func runFuzz(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload fuzz",
		"reload fuzz [--target] HOST:PORT --config overlay.xml --identity DIR [--transport tls|dtls] [--duration D] "+
			"[--seed N] [--out DIR] [--json]\n       reload fuzz --replay FILE --target HOST:PORT --config overlay.xml --identity DIR "+
			"[--transport tls|dtls] [--pcap FILE]", stderr)
	target := fs.String("target", "", "address of the peer to fuzz, host:port (required)")
	tr := fs.String("transport", "tls", "overlay link protocol: tls (TLS-TCP-FH-NO-ICE) or dtls (DTLS-UDP-SR-NO-ICE)")
	cfgPath := fs.String("config", "", "the overlay configuration document, overlay.xml (required)")
	overlay := fs.String("overlay", "", "instance name when the document holds several configurations (default: the first)")
	idDir := fs.String("identity", "", "directory holding this fuzzer's enrolled cert.pem and key.pem (required)")
	duration := fs.Duration("duration", time.Minute, "how long to fuzz")
	maxInputs := fs.Int("max-inputs", 0, "stop after this many inputs (0: no limit)")
	seed := fs.String("seed", "", "seed of the inputs, a number; the same seed sends the same inputs (default: random, printed)")
	out := fs.String("out", "fuzz-findings", "directory for the reproducer of a failure (input.hex, input.pcap with its key log, command.txt)")
	batch := fs.Int("batch", 32, "inputs between two liveness Pings")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for a Ping's answer and a handshake")
	recoverWait := fs.Duration("recover-wait", 10*time.Second, "how long a replay waits for a target that went down to come back (restarted by a supervisor)")
	progress := fs.Duration("progress", 5*time.Second, "interval of the progress lines (on standard error with --json)")
	keepGoing := fs.Bool("keep-going", false, "after a failure that replaying the recent inputs does not reproduce, note it and go on fuzzing")
	replay := fs.String("replay", "", "replay this input file (input.hex of a reproducer) instead of fuzzing")
	pcapPath := fs.String("pcap", "", "with --replay: write the replay's traffic to this pcap file, the (D)TLS key log to FILE.keys")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	// The target may also be given as the one positional argument:
	// reload fuzz HOST:PORT --config ... --identity ...
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	switch {
	case fs.NArg() > 1:
		return usageError(fs, "unexpected argument %q", fs.Arg(1))
	case fs.NArg() == 1 && *target != "" && *target != fs.Arg(0):
		return usageError(fs, "the target is given twice: %q and --target %q", fs.Arg(0), *target)
	case fs.NArg() == 1:
		*target = fs.Arg(0)
	}
	switch {
	case *target == "":
		return usageError(fs, "the target is required: reload fuzz HOST:PORT (or --target HOST:PORT)")
	case *cfgPath == "":
		return usageError(fs, "--config is required")
	case *idDir == "":
		return usageError(fs, "--identity is required")
	case *tr != string(netfuzz.TLS) && *tr != string(netfuzz.DTLS):
		return usageError(fs, "--transport must be tls or dtls, not %q", *tr)
	case *duration <= 0 || *timeout <= 0 || *recoverWait <= 0 || *progress <= 0:
		return usageError(fs, "--duration, --timeout, --recover-wait and --progress must be positive")
	case *batch <= 0 || *maxInputs < 0:
		return usageError(fs, "--batch must be positive and --max-inputs not negative")
	case *pcapPath != "" && *replay == "":
		return usageError(fs, "--pcap goes with --replay")
	}
	o := netfuzz.Options{Target: *target, Transport: netfuzz.Transport(*tr), Duration: *duration, MaxInputs: *maxInputs,
		Batch: *batch, Timeout: *timeout, KeepGoing: *keepGoing, RecoverWait: *recoverWait, ProgressEvery: *progress}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usageError(fs, "--seed must be a number, not %q", *seed)
		}
		o.Seed = n
	} else {
		o.Seed = rand.Uint64() >> 16
	}
	const name = "reload fuzz"
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
	if o.Identity, err = readIdentity(*idDir); err != nil {
		return failure(stderr, name, err)
	}
	ra := []string{"--target", *target, "--transport", *tr, "--config", *cfgPath, "--identity", *idDir}
	if *overlay != "" {
		ra = append(ra, "--overlay", *overlay)
	}
	o.ReplayArgs = shellJoin(ra)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *replay != "" {
		res, err := netfuzz.Replay(ctx, o, *replay, *pcapPath)
		if err != nil {
			return failure(stderr, name, err)
		}
		if *asJSON {
			if err := writeJSON(stdout, res); err != nil {
				return failure(stderr, name, err)
			}
		} else {
			fmt.Fprintf(stdout, "replay of %s: %s\n", res.Input, res.Detail)
		}
		if res.Failed {
			return exitFail
		}
		return exitOK
	}

	progressOut := stdout
	if *asJSON {
		progressOut = stderr
	}
	o.Out = *out
	fmt.Fprintf(progressOut, "fuzzing %s over %s for %v, seed %d\n", *target, *tr, *duration, o.Seed)
	o.Progress = func(s netfuzz.Stats) { fmt.Fprintln(progressOut, s) }
	rep, err := netfuzz.Run(ctx, o)
	if err != nil {
		return failure(stderr, name, err)
	}
	if *asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			return failure(stderr, name, err)
		}
	} else {
		writeFuzzReport(stdout, rep)
	}
	if rep.Failure != nil {
		return exitFail
	}
	return exitOK
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeFuzzReport prints the result of a run for a person.
func writeFuzzReport(w io.Writer, rep *netfuzz.Report) {
	s := rep.Stats
	fmt.Fprintln(w, s)
	codes := make([]string, 0, len(s.Answers))
	for k, v := range s.Answers {
		codes = append(codes, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(codes)
	fmt.Fprintf(w, "answers: %s\n", strings.Join(codes, ", "))
	for _, u := range rep.Unreproduced {
		fmt.Fprintf(w, "not reproduced at %.0fs (input %d): %s: %s\n", u.At, u.Inputs, u.Kind, u.Detail)
	}
	fl := rep.Failure
	if fl == nil {
		fmt.Fprintf(w, "no failure in %d inputs (seed %d)\n", s.Inputs, rep.Seed)
		return
	}
	fmt.Fprintf(w, "FAILURE %s: %s\n", fl.Kind, fl.Detail)
	if !fl.Reproduced {
		fmt.Fprintf(w, "not reproduced by replaying the recent inputs one by one or together; they are kept (%d records)\n", len(fl.InputHex))
	}
	fmt.Fprintf(w, "input: %s\n", fl.What)
	if fl.Minimized != nil {
		fmt.Fprintf(w, "%s\n", fl.Minimized.What)
		for _, h := range fl.MinimizedHex {
			fmt.Fprintf(w, "  %s\n", h)
		}
	}
	for _, f := range fl.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	if fl.Command != "" {
		fmt.Fprintf(w, "replay with: %s\n", fl.Command)
	}
}

// shellJoin quotes the arguments that a POSIX shell would split.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
