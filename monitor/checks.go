package monitor

// Check identifies one conformance check of the catalogue.
type Check uint8

// The checks. Their ids, sections and requirements are in Checks.
const (
	FrameSeqStart Check = iota
	FrameSeqStep
	FrameSeqReused
	FrameAckUnsent
	FrameAckMask
	MsgHeader
	MsgVersion
	MsgFragmentBit
	MsgReserved
	MsgLength
	MsgTTLAboveInitial
	MsgTTLNotDecremented
	MsgViaResource
	MsgDecode
	MsgTrailing
	BodyDecode
	BodyTrailing
	MsgUnsigned
	MsgSignature
	MsgSigner
	MsgUnknownTxID
	FragSmall
	FragConflict
	numChecks
)

// CheckInfo describes a check: its stable id (the "check" field of a
// report line and the label of the metric), the RFC section it tests and
// what that section requires.
type CheckInfo struct {
	ID       string
	Section  string
	Required string
}

var catalogue = [numChecks]CheckInfo{
	FrameSeqStart: {"frame.seq-start", "RFC 6940 §6.6.2",
		"the first data frame on a connection has sequence number 0"},
	FrameSeqStep: {"frame.seq-step", "RFC 6940 §6.6.2",
		"on a stream link each data frame's sequence number is the previous one plus exactly one"},
	FrameSeqReused: {"frame.seq-reused", "RFC 6940 §6.6.2, §6.6.3.1",
		"each data frame, a retransmission included, gets a new sequence number"},
	FrameAckUnsent: {"frame.ack-unsent", "RFC 6940 §6.6.2",
		"an ACK names the sequence number of a data frame it acknowledges"},
	FrameAckMask: {"frame.ack-mask", "RFC 6940 §6.6.2",
		"an ACK's received mask sets the bits of the 32 most recently received sequence numbers before it, and no others: none below 0, and on a stream link (in order, lossless) all of them"},
	MsgHeader: {"msg.header", "RFC 6940 §6.3.2",
		"a forwarding header that decodes (RELO token, list lengths, destinations, options)"},
	MsgVersion: {"msg.version", "RFC 6940 §6.3.2",
		"version 1.0 (0x0a)"},
	MsgFragmentBit: {"msg.fragment-bit", "RFC 6940 §6.3.2",
		"the fragment field's high bit (0x80000000) set"},
	MsgReserved: {"msg.reserved", "RFC 6940 §6.3.2",
		"reserved fields zero: the fragment field's six reserved bits, and max_response_length in an answer"},
	MsgLength: {"msg.length", "RFC 6940 §6.3.2",
		"the length field equals the size of the message (or fragment) the frame carries"},
	MsgTTLAboveInitial: {"msg.ttl-above-initial", "RFC 6940 §6.3.2",
		"a TTL no larger than the overlay's initial-ttl"},
	MsgTTLNotDecremented: {"msg.ttl-not-decremented", "RFC 6940 §6.3.2",
		"the TTL decremented by one at every hop: at most initial-ttl minus the entries of the via list"},
	MsgViaResource: {"msg.via-resource", "RFC 6940 §6.3.2.2",
		"no Resource-ID in a via list"},
	MsgDecode: {"msg.decode", "RFC 6940 §6.3.3, §6.3.4",
		"MessageContents and SecurityBlock that decode"},
	MsgTrailing: {"msg.trailing", "RFC 6940 §6.3",
		"no bytes between the SecurityBlock and the end the length field gives"},
	BodyDecode: {"body.decode", "RFC 6940 §6.3.3",
		"a message body that decodes as its message code's structure"},
	BodyTrailing: {"body.trailing", "RFC 6940 §6.3.3",
		"no bytes left over in message_body after its structure"},
	MsgUnsigned: {"msg.unsigned", "RFC 6940 §6.3.4",
		"every message signed"},
	MsgSignature: {"msg.signature", "RFC 6940 §6.3.4",
		"a signature that verifies with the signer's certificate"},
	MsgSigner: {"msg.signer", "RFC 6940 §6.3.4",
		"a request signed by its originator: the sending peer when the via list is empty, else the via list's first entry"},
	MsgUnknownTxID: {"msg.unknown-txid", "RFC 6940 §6.3.2",
		"an answer carries the transaction id of the request it answers"},
	FragSmall: {"frag.small", "RFC 6940 §6.7",
		"every fragment but the last carries at least 256 bytes of the message body"},
	FragConflict: {"frag.conflict", "RFC 6940 §6.7",
		"the fragments of one message agree: overlapping bytes equal, one end"},
}

// String is the check's id.
func (c Check) String() string {
	if c < numChecks {
		return catalogue[c].ID
	}
	return "unknown"
}

// Info describes c.
func (c Check) Info() CheckInfo {
	if c < numChecks {
		return catalogue[c]
	}
	return CheckInfo{ID: "unknown"}
}

// Checks is the catalogue, in order.
func Checks() []Check {
	cs := make([]Check, numChecks)
	for i := range cs {
		cs[i] = Check(i)
	}
	return cs
}
