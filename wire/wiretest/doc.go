// Package wiretest builds sample RELOAD messages of every request and
// answer type (RFC 6940 §6.4, §6.5, §7, §10; RFC 7851 §4) and writes them,
// framed (§6.6.2), into pcap captures, for tests, fuzz seeds, and checks
// against independent dissectors. It is a test helper package: only tests
// and tools import it.
package wiretest
