// Package config reads, writes, signs and verifies the RELOAD overlay
// configuration document (RFC 6940 §11.1, grammar §11.1.1; media type
// application/p2p-overlay+xml, §14.17), and implements the rules that
// depend on it: configuration sequence numbers (§6.3.2.1), acceptance of
// ConfigUpdate requests (§6.5.4), and the Kinds table (kind id → data
// model, access control, limits) derived from required-kinds (§7.4.1.1,
// §11.1).
//
// Elements of the config-base and config-chord namespaces are typed
// fields of Configuration, as are two extensions: diagnostic-kind of
// RFC 7851 §7 (namespace urn:ietf:params:xml:ns:p2p:config-diagnostics)
// and sip:domain-restriction of RFC 7904 §3.4 inside a kind. Any other
// element or attribute is kept as raw XML and written back.
//
// # Signatures
//
// A configuration element is signed as a binary blob from its first "<"
// to the last ">" of its end tag (§11.1), so Parse keeps those exact
// bytes in Configuration.Raw and Marshal writes them back unchanged;
// likewise for each kind element and its kind-signature. The signature
// element holds a base64 SecurityBlock (§6.3.4) whose signature input is
// the blob alone. RFC 6940 defines one algorithm name, "rsa-sha1"; this
// package also accepts and writes "rsa-sha256", "rsa-sha384",
// "rsa-sha512", "ecdsa-sha256", "ecdsa-sha384" and "ecdsa-sha512" as an
// extension (the grammar allows other strings), and an absent algorithm
// attribute means whatever the SecurityBlock says.
//
// # Layering
//
// config may import wire and security only (never transport or anything
// above). It reads no clock: signature checks take now.
package config
