package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
)

// runUI prints the URL of a running node's live web page (served on its
// control API under /ui/), with the token that logs a browser in.
func runUI(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ui", "reload ui [flags]\n\nPrint the URL of a running node's live web page: its ring, links, traffic, storage and SIP\n"+
		"registrations, with ping and traceroute. The URL carries the control API's token: opening it logs\n"+
		"the browser in (an HttpOnly cookie) and takes the token out of the address bar. Anyone with the\n"+
		"URL can act as the node, as with the token file.", stderr)
	control := addControlFlags(fs, "control API address of the node")
	open := fs.Bool("open", false, "also open the URL in the desktop's browser (xdg-open, or open on macOS; the token then appears on that command's command line)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ui: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	c := newControl(*control)
	// Ask the node first, so that the URL printed is known to work.
	var raw json.RawMessage
	if err := c.do("GET", "/status", nil, nil, &raw); err != nil {
		return failure(stderr, "ui", err)
	}
	u := uiURL(*control.addr, c.token)
	fmt.Fprintln(stdout, u)
	if *open {
		if err := openBrowser(u); err != nil {
			return failure(stderr, "ui", hint(fmt.Errorf("opening a browser: %w", err), "open the URL above by hand"))
		}
	}
	return exitOK
}

// uiURL is the page's login URL for the control API at addr.
func uiURL(addr, token string) string {
	return "http://" + addr + "/ui/?" + url.Values{"token": {token}}.Encode()
}

// uiURLOf reads the token of a control API being served and returns its
// page's URL ("" when the token cannot be read).
func uiURLOf(s *controlServer) string {
	b, err := os.ReadFile(s.tokenPath)
	if err != nil {
		return ""
	}
	tok, err := parseToken(s.tokenPath, b)
	if err != nil {
		return ""
	}
	return uiURL(s.addr, tok)
}

func openBrowser(u string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	return exec.Command(name, u).Start()
}
