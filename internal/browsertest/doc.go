// Package browsertest starts a headless Chromium for tests that drive the
// node's web page through the Chrome DevTools Protocol (chromedp).
//
// Like the other tools the tests use (tshark, sipp), a missing browser
// skips the test, except when CI=true, where it fails: scripts/test.sh
// installs Debian's chromium package when it runs as root.
package browsertest
