package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path returns the path of a Chromium (or Chrome) binary: the one that
// RELOAD_CHROMIUM names, else the first of chromium, chromium-browser and
// google-chrome on PATH. It returns "" when there is none.
func Path() string {
	if p := os.Getenv("RELOAD_CHROMIUM"); p != "" {
		if q, err := exec.LookPath(p); err == nil {
			return q
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require returns an allocator context for headless browsers (no
// background fetches, updates, sync or QUIC), or skips the test when no
// browser is installed, unless CI=true, in which case the test fails.
// Each chromedp.NewContext on it starts a browser with a fresh profile in
// a temporary directory (removed when the browser ends) and opens a tab;
// chromedp.NewContext on that tab's context opens another tab of the same
// browser (sharing its cookies), and with chromedp.WithNewBrowserContext
// a tab with cookies of its own. The browsers end when the test does.
func Require(tb testing.TB) context.Context {
	tb.Helper()
	p := Path()
	if p == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("chromium not found (install the Debian package chromium, or set RELOAD_CHROMIUM)")
		}
		tb.Skip("chromium not found (Debian package chromium); browser tests skipped")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(p),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	return ctx
}
