// Package dnsresolver builds the DNS resolver that the lookups of several
// layers share when a user names a DNS server: the configuration server's
// SRV records (RFC 6940 §11.2) and a SIP domain's servers (RFC 3263).
package dnsresolver
