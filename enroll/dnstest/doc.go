// Package dnstest runs a small authoritative DNS server on loopback UDP
// for tests of configuration-server discovery (RFC 6940 §11.2): it
// answers SRV records (RFC 2782) and A/AAAA records (RFC 1035) that a
// test adds, with NXDOMAIN for names it does not know and an empty answer
// for known names without records of the type asked.
//
// It is a test helper: it may import anything, and nothing but tests may
// import it.
package dnstest
