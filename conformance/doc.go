// Package conformance is the interop test kit of "reload conformance": it
// connects to a peer of another RELOAD implementation as a node of the same
// overlay and runs a catalogue of checks against it, each citing the RFC
// section it tests (RFC 6940 unless noted).
//
// The tester opens its (D)TLS connection itself, with crypto/tls or pion
// dtls and the tester's enrolled identity, and speaks FramedMessage
// (§6.6.2) directly, so that it chooses its own sequence numbers, can
// withhold ACKs and sees every frame the target sends. It signs every
// message with its identity (§6.3.4) and verifies every answer.
//
// # Catalogue
//
//	id                        RFC                              what it checks
//	link.cert                 6940 §6.6, §11.3, §13.3          the target presents a node certificate of the overlay CA with a Node-ID (the --expect-node-id one, if given)
//	link.reject-untrusted     6940 §11.3, §13.3                a link with a certificate from a foreign CA is refused (handshake failure or close)
//	link.require-client-cert  6940 §13.3                       a link without a client certificate is refused
//	ping.answer               6940 §6.5.3                      Ping is answered with a PingAns signed by the target
//	ping.wildcard             6940 §6.1.1, §6.5.3              a Ping to the wildcard Node-ID is answered by the target
//	probe.answer              6940 §6.4.2.5                    Probe returns only the requested information, in order
//	attach.answer             6940 §6.5.1                      Attach is answered with role "active" and the target's candidates
//	fh.forward                6940 §6.1.1, §6.1.2, §6.3.2      destination list [target, tester]: the target removes its entry, decrements TTL by one, appends the previous hop to the via list (or keeps state, or compresses), and forwards the rest untouched
//	err.ttl-above-initial     6940 §6.3.2                      TTL above initial-ttl → Error_TTL_Exceeded
//	err.ttl-zero              6940 §6.3.2                      TTL 0 for a destination beyond the target → not forwarded, Error_TTL_Exceeded
//	err.forward-critical      6940 §6.3.2.3                    unknown FORWARD_CRITICAL option on a transit message → Error_Unsupported_Forwarding_Option
//	err.destination-critical  6940 §6.3.2.3                    unknown DESTINATION_CRITICAL option → Error_Unsupported_Forwarding_Option
//	err.unknown-extension     6940 §6.3.3                      unknown critical message extension → Error_Unknown_Extension
//	err.unknown-node          6940 §6.1.1, §6.1.2              Ping to an absent Node-ID gets no PingAns: dropped (responsible peer) or an error
//	err.invalid-body          6940 §6.3.3.1, §6.5.3.1          a truncated PingReq body → Error_Invalid_Message
//	err.truncated-contents    6940 §6.3.3, §6.3.3.1            MessageContents cut short → Error_Invalid_Message or dropped, never answered
//	sec.bad-signature         6940 §6.3.4                      a request whose signature does not verify is dropped or refused, never answered
//	store.roundtrip           6940 §7.4.1, §7.4.2, §8          Store of the tester's certificate (CERTIFICATE_BY_NODE) and Fetch of it back, signature intact
//	store.forbidden           6940 §7.3.2, §6.3.3.1            a Store under the target's Node-ID resource (NODE-MATCH) → Error_Forbidden
//	store.forbidden.user-match       6940 §7.3.1, §7.4.1.1     CERTIFICATE_BY_USER under the hash of a user name not the tester's → Error_Forbidden
//	store.forbidden.user-node-match  6940 §7.3.3, §7.4.1.1     SIP-REGISTRATION under the tester's user, dictionary key the target's Node-ID → Error_Forbidden
//	store.forbidden.node-multiple    6940 §7.3.4, §7.4.1.1     TURN-SERVICE under H(target's Node-ID || 1) → Error_Forbidden
//	store.user-match          6940 §7.3.1, §8                  CERTIFICATE_BY_USER under the tester's user name: stored, fetched back, signature intact
//	store.too-old             6940 §7, §7.4.1.1                a value with a storage_time older than the stored one → Error_Data_Too_Old
//	store.replay              6940 §7, §7.1, §7.4.1.1          StoredData A, then a newer B, then A replayed byte for byte → Error_Data_Too_Old, and B stays
//	store.generation          6940 §7.4.1.1, §7.4.1.2          a generation counter below the stored one → Error_Generation_Counter_Too_Low, error_info a StoreAns with the current counter
//	store.too-large           6940 §7.4.1.2, §11.1             a value above the Kind's max-size, or more values than max-count, within max-message-size → Error_Data_Too_Large
//	store.unknown-kind        6940 §7.4.1.1, §7.4.1.2          a private Kind-ID the configuration does not define → Error_Unknown_Kind, error_info listing it
//	store.forged              6940 §7.1, §7.4.1.1              a StoredData changed after it was signed (request signature valid) → Error_Forbidden, and a Fetch does not return it
//	sip.register-uri          7904 §3.2, §3.3; 6940 §7.2.3     a sip_registration_uri under the tester's AOR, key its Node-ID: stored and fetched back byte for byte, signature intact
//	sip.register-route        7904 §3.2, §3.3; 6940 §7.2.3     the same with a sip_registration_route (contact prefs and a destination list)
//	diag.ping                 7851 §4.2, §5.2, §6.3            Ping with Diagnostic_Ping returns a DiagnosticsResponse (timestamps echoed, only requested kinds)
//	frame.seq                 6940 §6.6.2                      the target's data frames are numbered from 0, up by exactly one
//	frame.ack                 6940 §6.6.2, §6.6.3              each of the tester's data frames is ACKed with its sequence number
//	frame.ack-mask            6940 §6.6.2                      the received bitmask reflects the previous sequence numbers (on DTLS with one deliberately skipped); every bit order the RFC's wording admits is accepted, and the one used is reported
//	frame.retransmit          6940 §6.6.3.1                    DTLS only: with ACKs withheld, the target retransmits under a new, higher sequence number
//	update.peer-ready         6940 §6.4.2.3, §10.7             a peer_ready Update from the tester, not yet a neighbour, → empty UpdateAns (a connectivity check)
//	join.forbidden-id         6940 §6.4.2.1                    Join whose joining_peer_id is not the signer's → Error_Forbidden
//	leave.forbidden-id        6940 §6.4.2.2                    Leave whose leaving_peer_id is not the signer's → Error_Forbidden
//	join.attach               6940 §10.5, §6.5.1               the join's Attach to the tester's Node-ID+1 (send_update) is answered by the admitting peer; later join checks skip when that is not the target
//	join.join                 6940 §10.5, §6.4.2.1             Join to the admitting peer over the kit's link → JoinAns signed by it
//	join.update               6940 §10.5, §10.7                after the JoinAns the target sends an Update naming the tester a predecessor (the kit answers every Update)
//	update.answer             6940 §6.4.2.3, §10.7.3           a neighbors Update from the joined tester → empty UpdateAns
//	leave.answer              6940 §6.4.2.2, §10.9             Leave (from_pred, ChordLeaveData) from the joined tester → empty LeaveAns
//	attach.no-ice             6940 §6.5.1.11, §6.5.1.13        after an Attach with a No-ICE candidate of the run's transport (TLS-TCP-FH-NO-ICE or DTLS-UDP-SR-NO-ICE), the target (active) connects to it as (D)TLS client with its overlay certificate
//	attach.ice                6940 §6.5.1.3, §6.5.1.10, §6.6.4 the kit, ICE-controlling, runs connectivity checks on the target's candidates, DTLS over the selected pair, and a Ping over that link; skipped on a no-ice overlay or without usable candidates
//	appattach.sip             7904 §5; 6940 §6.5.2.2           AppAttach for application 5060 → AppAttachAns echoing 5060, or Error_Not_Found when SIP is not offered
//	frag.in-order             6940 §6.7                        a Ping sent in five fragments, in order → reassembled and answered
//	frag.out-of-order         6940 §6.7                        the same, last fragment first → reassembled and answered
//	frag.answer               6940 §6.7, §6.6.4                DTLS only: a FetchAns larger than the MTU arrives in fragments the kit reassembles
//	frame.loss-retransmit     6940 §6.6.3.1                    DTLS only: the first frame of three answers left unACKed → each retransmitted under a new sequence number
//	frame.duplicate           6940 §6.6.2, §6.6.3              DTLS only: one data frame sent twice → ACKed each time and answered
//	frame.reorder             6940 §6.6.2                      DTLS only: a frame sent late → missing from the received map of the next one's ACK, present in the one after
//	diag.kinds                7851 §5.3, §6.3                  each diagnostic kind 0x0001-0x0010 requested alone → returned well-formed or omitted, never another kind
//	fh.version                6940 §6.3.2                      every answer: relo_token, the overlay hash, version 0x0a, length field
//	fh.fragment               6940 §6.3.2, §6.7                every answer: fragment 0xC0000000 (historic bit set in fragments)
//	fh.ttl                    6940 §6.3.2                      every answer: TTL no larger than initial-ttl
//	fh.txid                   6940 §6.3.2                      every answer echoes its request's transaction id
//	fh.destination            6940 §6.2.2, §6.1.2              every answer's destination list leads back to the tester
//	sec.answer-signature      6940 §6.3.4                      every answer is signed by a valid overlay certificate (the target's, for requests addressed to it)
//	err.too-large             6940 §6.6, §6.3.3.1              TLS only, run last: a message above max-message-size on a link that served requests → Error_Message_Too_Large (a close alone fails)
//
// # A kit that cannot be fooled
//
// A check passes only on the behaviour the RFC requires and fails only on
// behaviour it forbids; when the target refuses what a check needs, the
// check is skipped with the reason.
//
// Links. Options.Second is a second enrolled identity with a Node-ID of its
// own (on the command line, --identity given twice: a pair). The checks
// that need a link of their own (frame.seq, frame.ack, frame.ack-mask and
// frame.retransmit, which need fresh sequence numbers or withheld ACKs,
// and err.too-large, which may cost the link) open it with the second
// identity, check it with a Ping, and sign on it with that identity; a
// target that allows one link per Node-ID is then not asked for a second
// link for the same Node-ID. When the target refuses that link, these
// checks are skipped with the reason. Without a second identity they reuse
// the kit's link: frame.* read its frames from its first, and err.too-large
// runs last.
//
// err.too-large passes only on Error_Message_Too_Large. §6.6 says a peer
// receiving a message above max-message-size SHOULD send that error and
// then close the session. The link it is sent on has just answered
// requests, so a close that follows is the target's answer to the message;
// a close without the error leaves the sender without the reason the RFC
// asks to be given and looks the same as a crash, so it fails the check
// (as a SHOULD-level deviation, said so in the detail) rather than passing.
//
// Storage. The §7 checks use the Kinds the overlay's configuration defines
// (required-kinds) with the access policy each needs, CERTIFICATE_BY_NODE
// (NODE-MATCH), CERTIFICATE_BY_USER (USER-MATCH), SIP-REGISTRATION
// (USER-NODE-MATCH) and TURN-SERVICE (NODE-MULTIPLE), and are skipped when
// the configuration does not define them. A Store the tester is entitled to
// make that sets a check up must succeed, or the check is skipped with the
// answer. The checks rewrite index 0 of the tester's CERTIFICATE_BY_NODE
// array with its certificate and ever newer storage times, so that they
// leave the array as store.roundtrip made it.
//
// # JSON report
//
// --json (Report.WriteJSON) writes one object, schema_version 1. Fields are
// added without a change of version; a rename, a removal or a change of
// meaning raises it. Results are in catalogue order, and a check's id,
// section and title do not change between runs of one version, so two runs
// can be compared by id.
//
//	schema_version  int      1
//	target          string   the address tested, host:port
//	transport       string   "tls" or "dtls"
//	overlay         string   the overlay's instance name
//	self_node_id    string   the tester's Node-ID, hex
//	second_node_id  string   the second identity's Node-ID (only with a pair)
//	peer_node_id    string   the target's Node-ID (absent when no link was made)
//	started         string   RFC 3339 time the run started
//	results         array    one object per check run:
//	  id            string   the check's id (catalogue above)
//	  section       string   the RFC sections it tests
//	  title         string   what it checks, in a line
//	  status        string   "pass", "fail" or "skip"
//	  sent          string   what was sent (may be absent)
//	  got           string   what came back (may be absent)
//	  detail        string   why it passed, failed or was skipped (may be absent)
//	  duration_ns   int      how long the check took, in nanoseconds
//	summary         object   pass, fail, skip and total: counts of results
//
// A check that does not apply is skipped with the reason, never failed:
// frame.retransmit on TLS (TLS-TCP-FH does not retransmit, §6.6.5),
// err.too-large on DTLS (an oversize message arrives only as §6.7
// fragments), store.* when the target answers a Store with
// Error_Unknown_Kind, Error_Invalid_Message or Error_Not_Found, diag.ping
// when the PingAns carries no Diagnostic_Ping extension (RFC 7851 not
// implemented). Where the RFC admits several reactions (silence or an
// error, an error and/or a closed link), each is accepted and the one seen
// is reported.
//
// Options.Capture writes the traffic as a pcap file with synthetic
// Ethernet/IP/TCP or UDP headers, and Options.KeyLog the (D)TLS secrets,
// so that Wireshark decrypts the capture.
//
// Layering: conformance is a tool above every layer (like cmd/reload): it
// imports wire, security, config, transport and storage, and nothing
// imports it.
package conformance
