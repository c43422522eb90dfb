// Package enroll implements RELOAD's enrollment and bootstrap servers and
// their client (RFC 6940 §11.2, §11.3): the configuration server, which
// answers GET /.well-known/reload-config with the overlay configuration
// document (media type application/p2p-overlay+xml), and the enrollment
// server, which takes an HTTPS POST of multipart/form-data with
// "username", "password", "nodeids" and "csr" (a PKCS #10 request,
// application/pkcs10) and answers with a single bare X.509 certificate
// (application/pkix-cert, DER) whose subjectAltName holds the reload://
// URIs of cryptographically random Node-IDs chosen by the server and the
// user name as rfc822Name, or with 403 and one of the text/plain tokens
// failed_authentication, username_not_available, Node-IDs_not_available,
// bad_CSR.
//
// A client that knows only the overlay name finds the configuration
// server with DNS (§11.2, Client.DiscoverConfig): it looks up the SRV
// records of _reload-config._tcp.<overlay>, tries their targets in RFC
// 2782 order (priority, then weight) until one answers, GETs
// https://<overlay>/.well-known/reload-config from it with the server's
// certificate matched to the overlay name, and discards a document that
// holds no configuration of that name. A configured URL (FetchConfig)
// always takes precedence over DNS.
//
// The same user gets the same Node-IDs back on re-enrollment (§11.3), as
// recorded in the UserDB, which stores PBKDF2-HMAC-SHA512 password hashes
// (crypto/pbkdf2) in a JSON file. Password guessing over HTTP is bounded
// by the Server's Limits: failure budgets per account and per client
// address with exponential lockouts, answered 429 Too Many Requests with
// Retry-After before any password check.
//
// # Layering
//
// enroll may import wire, security and config, never transport or
// anything above. It is a shell around them: it owns sockets, goroutines
// and, through Server.Now, the wall clock.
package enroll
