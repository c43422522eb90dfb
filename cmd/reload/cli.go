package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
)

// The conventions every subcommand follows:
//
//   - --help (or -h) prints the usage to standard output and exits 0;
//   - a wrong command line prints "reload <cmd>: <what is wrong>" and the
//     usage to standard error and exits 2;
//   - a failure prints "reload <cmd>: <error>" to standard error, with a
//     hint where one helps, and exits 1;
//   - flags may come before or after positional arguments; "--" ends the
//     flags;
//   - --json prints the result for scripts; --control names a running
//     node's control API (--control-token the file of its bearer token,
//     found by default; see control.go), --config an overlay
//     configuration document and --identity a directory holding cert.pem
//     and key.pem.

// errStream is the standard error that run hands to the subcommands. It
// remembers standard output, where --help prints.
type errStream struct {
	io.Writer
	stdout io.Writer
}

// helpOutput is where the usage requested with --help goes: standard
// output when stderr came from run, else stderr itself.
func helpOutput(stderr io.Writer) io.Writer {
	if s, ok := stderr.(*errStream); ok {
		return s.stdout
	}
	return stderr
}

// cmdName is the name a message of subcommand name starts with:
// "reload <name>".
func cmdName(name string) string { return "reload " + strings.TrimPrefix(name, "reload ") }

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlagSet makes a FlagSet that reports to stderr with a usage text.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses the arguments of a command that takes no positional
// arguments; it returns -1 to go on, or the exit code (0 for --help, 2
// for a usage error).
func parseFlags(fs *flag.FlagSet, args []string) int {
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	return -1
}

// parseArgs is parseFlags for commands that take positional arguments.
// Flags may follow the positional arguments (reload ping DEST --json);
// after "--" everything is positional. fs.Args() holds the positional
// arguments afterwards.
func parseArgs(fs *flag.FlagSet, args []string) int {
	// The flag package prints its own error and the usage; print ours.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	restore := func() { fs.SetOutput(out) }
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			restore()
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(helpOutput(out))
				fs.Usage()
				restore()
				return exitOK
			}
			return usageError(fs, "%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	restore()
	// Leave the positional arguments in fs.Args().
	_ = fs.Parse(append([]string{"--"}, pos...))
	return -1
}

// usageError reports a wrong command line: what is wrong, then the usage.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n", cmdName(fs.Name()), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// failure reports a failed job as "reload <cmd>: <error>".
func failure(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", cmdName(cmd), err)
	return exitFail
}

// hint wraps err with advice on what to do about it.
func hint(err error, advice string) error { return fmt.Errorf("%w\n  hint: %s", err, advice) }

// readConfig reads and parses an overlay configuration document that
// holds at least one configuration.
func readConfig(path string) (*config.Document, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, hint(err, "--config names the overlay.xml made by 'reload overlay init' or fetched by 'reload enroll'")
	}
	doc, err := config.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Configurations) == 0 {
		return nil, nil, fmt.Errorf("%s holds no configuration", path)
	}
	return doc, raw, nil
}

// readIdentity reads dir/cert.pem and dir/key.pem.
func readIdentity(dir string) (*security.Identity, error) {
	const advice = "--identity names a directory holding cert.pem and key.pem, made by 'reload overlay init' (DIR/nodes/NAME) or 'reload enroll --out'"
	certPEM, err := os.ReadFile(filepath.Join(dir, fileCert))
	if err != nil {
		return nil, hint(err, advice)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, fileKey))
	if err != nil {
		return nil, hint(err, advice)
	}
	id, err := security.LoadIdentity(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", dir, err)
	}
	return id, nil
}
