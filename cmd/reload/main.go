// Command reload is the RELOAD command-line tool. This dispatcher is a
// placeholder for the subcommands of this branch; the real one replaces
// it on merge.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "overlay":
			return runOverlay(args[1:], stdout, stderr)
		case "enroll":
			return runEnroll(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: reload overlay|enroll ...")
	return 2
}
