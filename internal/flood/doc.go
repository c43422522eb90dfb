// Package flood holds what the fault and abuse tests of several layers
// share: whether the larger runs were asked for (RELOAD_FLOOD), and the
// live heap they check stays bounded while floods of fragments,
// connection attempts and oversized via lists (RFC 6940 §6.3.2, §6.7,
// §13) go on. See RELIABILITY.md, "Faults and abuse".
package flood
