// Package security holds RELOAD's certificate-based security (RFC 6940
// §11.3, §11.3.1, §13.3): node certificates whose subjectAltName carries
// the node's reload:// URIs (§14.15) and one rfc822Name user name, the
// enrollment CA that issues them, self-signed certificates whose Node-IDs
// are a digest of the public key (§11.3.1), validation of a certificate
// against the overlay's root certificates and name, and the signatures
// RELOAD puts in a SecurityBlock (§6.3.4): over whole messages, over
// StoredData values (§7.1) and over opaque blobs (the configuration
// document of §11.1).
//
// Keys are ECDSA P-256 by default; RSA-2048 with SHA-256, which RFC 6940
// §6.3.4 makes mandatory to implement, is fully supported. Verification
// also accepts SHA-1, SHA-384 and SHA-512 with either key type.
//
// # Errors
//
// Every authentication failure is a *wire.ProtocolError with code
// Error_Forbidden, wrapping one of this package's sentinels (ErrBadSignature,
// ErrCertExpired, ErrUntrusted, ErrWrongOverlay, ErrNodeIDNotInCert, …):
// RFC 6940 answers failed authorisation with Error_Forbidden throughout
// (§6.3.3.1 "does not have permission", §6.4.2.1 Join, §7.4.1.1 Store
// signature checks, §6.5.4.2 kind signer). §6.3.4 lets the destination
// simply drop a message whose signature fails; the caller decides whether
// to drop or answer, and the code is there if it answers. A missing
// certificate is not a failure but a *CertificateNeededError naming what
// to fetch (CERTIFICATE_BY_NODE or CERTIFICATE_BY_USER, §8).
//
// # Layering
//
// security sits just above wire: it may import wire and the standard
// library only, never config, transport or anything above. It reads no
// clock: every check that depends on time takes now.
package security
