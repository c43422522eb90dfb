// Package sip is the SIP usage for RELOAD (RFC 7904) and a SIP front end
// that lets unmodified SIP user agents register and call through the
// overlay.
//
// What it owns:
//
//   - the SIP-REGISTRATION Kind, Kind-ID 1 (RFC 7904 §7, §9.1): a
//     dictionary keyed by the Node-ID of the storing peer, access control
//     USER-NODE-MATCH (§3.3; checked by the storing peer in storage, not
//     here), whose values are SipRegistration (§3.2) in its two forms,
//     sip_registration_route (contact_prefs and a destination list) and
//     sip_registration_uri (another AOR);
//   - AOR normalisation and the AOR to Resource-ID mapping (§2, §7:
//     no scheme, '%' escapes decoded);
//   - AOR domain restrictions (§3.3, §3.4) as a check over plain values;
//   - lookup and resolution of an AOR (§4.1, §4.2): Fetch, follow
//     sip_registration_uri values hop by hop with a visited set and a
//     depth limit, order destination lists by contact_prefs (§5.1);
//   - RELOAD GRUUs (§6): an AOR with the destination list in base64 (with
//     '~' for '=') in the "gr" URI parameter;
//   - the Application-IDs 5060 (SIP) and 5061 (SIPS) of AppAttach (§5.1,
//     RFC 6940 §14.5): a Frontend opens SIP connections to other peers with
//     Overlay.AppAttach and accepts them with ServeConn, and carries SIP
//     over them as over any stream transport (RFC 3261 §18.3 framing).
//
// The Frontend is a registrar and a transaction-stateless proxy (RFC 3261
// §10, §16.11) for local user agents on UDP and TCP: a REGISTER becomes
// this peer's SIP-REGISTRATION entry for the AOR, and a request for an AOR
// is resolved in the overlay and forwarded over an AppAttach connection to
// the callee's peer, which hands it to its local contact. Each Frontend
// Record-Routes itself so that in-dialog requests follow the same peers.
//
// An INVITE for an AOR with several devices (SIP-REGISTRATION entries of
// several peers, or several local contacts) is forked (fork.go): the
// front end proxies it statefully and in parallel (RFC 3261 §16.5–16.7),
// one branch per peer over its AppAttach connection and one per local
// contact; the first 2xx wins and the other branches get CANCEL (§16.10);
// when none answers the caller gets the best final response (§16.7 step
// 6).
//
// The front end authenticates its local user agents with digest
// authentication (RFC 3261 §22, auth.go): a REGISTER needs the
// credentials of the AOR's own user (401, then 403 for wrong ones or
// another user's AOR), a request that starts a dialog or transaction
// those of any configured user (407). Config.Credentials holds them; New
// refuses to run without unless Config.NoAuth says so.
//
// Layering (STYLE.md §1): sip imports only wire and storage from this
// module; it must not import transport, forwarding, topology or config.
// It reaches the overlay through the Overlay interface declared here, which
// the node layer implements (signing, routing and ICE happen below it).
// SIP parsing and message building use github.com/emiago/sipgo/sip; the
// sockets are this package's own thin shell so that malformed requests
// can be answered with 400.
package sip
