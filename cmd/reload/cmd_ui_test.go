package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// `reload ui` prints a URL that logs a browser in and opens the page.
func TestUICommand(t *testing.T) {
	ctl, _ := threeNodes(t)
	code, out, errs := runReload(t, "ui", "--control", ctl)
	if code != 0 {
		t.Fatalf("ui: %d %s", code, errs)
	}
	u := strings.TrimSpace(out)
	if !strings.HasPrefix(u, "http://"+ctl+"/ui/?token=") {
		t.Fatalf("ui printed %q", u)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `id="ring"`) || strings.Contains(resp.Request.URL.String(), "token") {
		t.Fatalf("page: %d at %v", resp.StatusCode, resp.Request.URL)
	}
	resp, err = c.Get("http://" + ctl + "/ui/state")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"successors"`) {
		t.Fatalf("state with the cookie: %d %s", resp.StatusCode, b)
	}
	if code, _, errs = runReload(t, "ui", "--control", "127.0.0.1:1"); code != 1 || !strings.Contains(errs, "no node answers") {
		t.Fatalf("ui without a node: %d %s", code, errs)
	}
	if code, _, _ = runReload(t, "ui", "extra"); code != 2 {
		t.Fatalf("ui with an argument: %d", code)
	}
}
