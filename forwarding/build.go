package forwarding

import (
	"github.com/goreload/reload/wire"
)

// builder makes the messages a node originates: requests, answers and
// error responses, each signed by the node's identity (§6.3.4: "All RELOAD
// messages MUST be signed").
type builder struct{ local *Local }

// seal encodes MessageContents{code, body} and its SecurityBlock signed
// over overlay || transaction_id || MessageContents || SignerIdentity, and
// appends them to b: the part of a message after the forwarding header.
func (b builder) seal(dst []byte, overlay uint32, txid uint64, code wire.MessageCode, body []byte, exts ...wire.MessageExtension) ([]byte, error) {
	return b.sealWith(dst, overlay, txid, code, body, RequestOptions{Extensions: exts})
}

// sealWith is seal with extensions and extra certificates (RFC 6940
// §6.3.4: the bucket carries every certificate needed to verify the
// signatures inside the message, such as those of stored values). The
// signature does not cover the certificates.
func (b builder) sealWith(dst []byte, overlay uint32, txid uint64, code wire.MessageCode, body []byte, opt RequestOptions) ([]byte, error) {
	mc := wire.MessageContents{Code: code, Body: body, Extensions: opt.Extensions}
	start := len(dst)
	dst, err := mc.Append(dst)
	if err != nil {
		return nil, err
	}
	var sb wire.SecurityBlock
	if err := b.local.Identity.SignMessage(&sb, overlay, txid, dst[start:]); err != nil {
		return nil, err
	}
	if opt.OmitOwnCertificate {
		// §6.3.4 lets the receiver fetch a certificate it lacks from
		// the Certificate Store (§8); the signature does not cover the
		// list. nil, not [:0]: the list is the Identity's own.
		sb.Certificates = nil
	}
	for _, c := range opt.Certificates {
		if !hasCert(sb.Certificates, c.Certificate) {
			sb.Certificates = append(sb.Certificates, c)
		}
	}
	return sb.Append(dst)
}

func hasCert(list []wire.GenericCertificate, der []byte) bool {
	for _, c := range list {
		if string(c.Certificate) == string(der) {
			return true
		}
	}
	return false
}

// RequestOptions add to a request: message extensions (§6.3.3) and
// certificates for its SecurityBlock beyond the sender's own.
type RequestOptions struct {
	Extensions   []wire.MessageExtension
	Certificates []wire.GenericCertificate
	// SequenceUpdate sends the request with configuration_sequence 65535
	// instead of this node's own: the value with which a ConfigUpdate is
	// accepted whatever the receiver's sequence (§6.3.2.1). It changes
	// this one request only.
	SequenceUpdate bool
	// OmitOwnCertificate leaves this node's certificate chain out of the
	// request's SecurityBlock (Certificates above still go): for a
	// sender whose certificate is stored in the overlay (RFC 6940 §8),
	// from where a receiver that lacks it fetches it (§6.3.4).
	OmitOwnCertificate bool
	// NeighbourOnly sends the request with TTL 0, so that only the
	// neighbour it goes to can answer it: any other node would have to
	// forward it, which TTL 0 forbids (§6.3.2). A Ping sent so to each
	// Node-ID of a neighbour's certificate learns which one it runs as
	// (§4.2.1).
	NeighbourOnly bool
	// Route asks for the answer by direct response routing (RFC 7263)
	// or relay peer routing (RFC 7264) with an extensive_routing_mode
	// forwarding option; retransmissions go without it, by symmetric
	// recursive routing (RFC 7263 §5.4.2). Nil: SRR.
	Route *ResponseRoute
}

// requestHeader is the header of a new request (§6.2.1): via list empty,
// TTL initial-ttl, the configuration sequence of this node.
func (b builder) requestHeader(txid uint64, dests []wire.Destination, maxResponse uint32) wire.ForwardingHeader {
	return wire.ForwardingHeader{
		Overlay:           b.local.Overlay,
		ConfigSequence:    b.local.ConfigSequence,
		Version:           wire.Version10,
		TTL:               b.local.ttl(),
		Fragment:          wire.FragmentUnfragmed,
		TransactionID:     txid,
		MaxResponseLength: maxResponse,
		Destinations:      dests,
	}
}

// answerHeader is the header of an answer to the request whose header is
// req, received from the neighbour from (§6.2.2, §6.1.2): the destination
// list is from followed by the reversed via list; options with
// RESPONSE_COPY are copied with the three flags cleared (§6.3.2.3);
// max_response_length is zero.
func (b builder) answerHeader(req *wire.ForwardingHeader, from wire.NodeID) wire.ForwardingHeader {
	dests := make([]wire.Destination, 0, 1+len(req.Via))
	f := from
	dests = append(dests, wire.NodeDest(&f))
	for i := len(req.Via) - 1; i >= 0; i-- {
		dests = append(dests, req.Via[i])
	}
	var opts []wire.ForwardingOption
	for _, o := range req.Options {
		if o.ResponseCopy() {
			o.Flags &^= wire.FlagResponseCopy | wire.FlagForwardCritical | wire.FlagDestinationCritical
			opts = append(opts, o)
		}
	}
	return wire.ForwardingHeader{
		Overlay:        req.Overlay,
		ConfigSequence: b.local.ConfigSequence,
		Version:        wire.Version10,
		TTL:            b.local.ttl(),
		Fragment:       wire.FragmentUnfragmed,
		TransactionID:  req.TransactionID,
		Destinations:   dests,
		Options:        opts,
	}
}

// sealMessage builds a whole message with header h and the signed
// contents and security block of code and body (sealWith), in one
// allocation: room for the header is left at the front, the signed part
// appended behind it, and the header, whose length field counts the
// rest, written last into that room. rest is the part after the header.
func (b builder) sealMessage(h *wire.ForwardingHeader, code wire.MessageCode, body []byte, opt RequestOptions) (msg, rest []byte, err error) {
	hl := h.Len()
	// Room for MessageContents and a SecurityBlock with an RSA-4096
	// signature; the certificates are counted.
	n := hl + 640 + len(body)
	for _, e := range opt.Extensions {
		n += 8 + len(e.Contents)
	}
	for _, c := range b.local.Identity.Certificates() {
		n += 3 + len(c.Certificate)
	}
	for _, c := range opt.Certificates {
		n += 3 + len(c.Certificate)
	}
	msg, err = b.sealWith(make([]byte, hl, n), h.Overlay, h.TransactionID, code, body, opt)
	if err != nil {
		return nil, nil, err
	}
	if _, err := h.AppendForRest(msg[:0], len(msg)-hl); err != nil {
		return nil, nil, err
	}
	return msg, msg[hl:], nil
}

// message appends a whole message: h followed by rest.
func (b builder) message(dst []byte, h *wire.ForwardingHeader, rest []byte) ([]byte, error) {
	return h.AppendMessage(dst, rest)
}

// errorAnswer builds a whole, signed error response to req.
func (b builder) errorAnswer(dst []byte, req *wire.ForwardingHeader, from wire.NodeID, pe *wire.ProtocolError) ([]byte, error) {
	h := b.answerHeader(req, from)
	rest, err := b.errorRest(h.Overlay, h.TransactionID, pe)
	if err != nil {
		return nil, err
	}
	return b.message(dst, &h, rest)
}

// errorRest is the signed contents and security block of an error
// response.
func (b builder) errorRest(overlay uint32, txid uint64, pe *wire.ProtocolError) ([]byte, error) {
	er := pe.Response()
	if len(er.Info) > 0xffff {
		er.Info = er.Info[:0xffff]
	}
	body, err := er.Append(nil)
	if err != nil {
		return nil, err
	}
	return b.seal(nil, overlay, txid, wire.CodeError, body)
}
