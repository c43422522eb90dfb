// Package sipptest runs SIPp (the sip-tester package) from Go tests and
// benchmarks of the SIP usage, and reads its response-time output: the
// -trace_rtt CSV and the -trace_stat statistics CSV, giving call set-up
// time (INVITE to 200) percentiles.
//
// It is a test helper: it may import anything, and nothing but tests and
// benchmarks may import it.
package sipptest
