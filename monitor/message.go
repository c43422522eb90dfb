package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

// MessageOriginated implements forwarding.MessageObserver: it remembers
// the transaction id of each request this node sends (§6.3.2), so that
// an answer with another one is caught.
func (m *Monitor) MessageOriginated(raw []byte) {
	var h wire.ForwardingHeader
	n, err := h.Decode(raw)
	if err != nil || h.IsFragment() || len(raw) < n+2 {
		return
	}
	if !wire.MessageCode(binary.BigEndian.Uint16(raw[n:])).IsRequest() {
		return
	}
	m.txMu.Lock()
	defer m.txMu.Unlock()
	if _, ok := m.sent[h.TransactionID]; ok {
		return // a retransmission
	}
	if len(m.order) < maxSentTx {
		m.order = append(m.order, h.TransactionID)
	} else {
		delete(m.sent, m.order[m.opos])
		m.order[m.opos] = h.TransactionID
		m.opos = (m.opos + 1) % maxSentTx
	}
	m.sent[h.TransactionID] = struct{}{}
}

func (m *Monitor) sentTx(id uint64) bool {
	m.txMu.Lock()
	defer m.txMu.Unlock()
	_, ok := m.sent[id]
	return ok
}

// MessageReceived implements forwarding.MessageObserver.
func (m *Monitor) MessageReceived(l *transport.Link, raw []byte) {
	p := linkPeer(l)
	var h wire.ForwardingHeader
	hn, err := h.Decode(raw)
	if err != nil {
		m.report(p, MsgHeader, "forwarding header does not decode: "+err.Error(), raw)
		return
	}
	if !m.header(p, &h, raw) {
		return
	}
	if h.IsFragment() {
		m.fragment(p, &h, raw[hn:])
		return
	}
	var msg wire.Message
	if _, err := msg.Decode(raw); err != nil {
		if errors.Is(err, wire.ErrTrailingData) {
			m.report(p, MsgTrailing, "bytes after the SecurityBlock: "+err.Error(), raw[max(len(raw)-excerptLen, 0):])
		} else {
			m.report(p, MsgDecode, "message does not decode: "+err.Error(), raw[hn:])
		}
		return
	}
	code := msg.Contents.Code
	if code.IsAnswer() && h.MaxResponseLength != 0 {
		m.report(p, MsgReserved, fmt.Sprintf("answer (%v) with max_response_length %d", code, h.MaxResponseLength), raw)
	}
	m.body(p, &msg)
	m.signature(p, l, &msg, raw)
	if code.IsAnswer() && len(h.Destinations) == 1 {
		if id, ok := h.Destinations[0].NodeID(); ok && id == m.cfg.Self && !m.sentTx(h.TransactionID) {
			m.report(p, MsgUnknownTxID, fmt.Sprintf("%v addressed to this node with transaction id %#016x, which it never sent in a request", code, h.TransactionID), raw)
		}
	}
}

// header checks the forwarding header (§6.3.2); false stops the checks
// that depend on it.
func (m *Monitor) header(p peerOf, h *wire.ForwardingHeader, raw []byte) bool {
	if h.Version != wire.Version10 {
		m.report(p, MsgVersion, fmt.Sprintf("version %#02x", h.Version), raw)
		return false
	}
	if int64(h.Length) != int64(len(raw)) {
		m.report(p, MsgLength, fmt.Sprintf("length field %d for a message of %d bytes", h.Length, len(raw)), raw)
		if int64(h.Length) > int64(len(raw)) {
			return false
		}
	}
	if h.Fragment&wire.FragmentHistoric == 0 {
		m.report(p, MsgFragmentBit, fmt.Sprintf("fragment field %#08x", h.Fragment), raw)
	}
	if r := h.Fragment & wire.FragmentReserved; r != 0 {
		m.report(p, MsgReserved, fmt.Sprintf("fragment field %#08x sets reserved bits %#08x", h.Fragment, r), raw)
	}
	initial := m.cfg.InitialTTL
	if h.TTL > initial {
		m.report(p, MsgTTLAboveInitial, fmt.Sprintf("TTL %d above initial-ttl %d", h.TTL, initial), raw)
	} else if hops, ok := viaHops(h.Via); ok && int(h.TTL) > int(initial)-hops {
		// Each via entry is a hop that forwarded the message and had to
		// decrement its TTL (the originator starts at initial-ttl at
		// most). Compressed entries may stand for several hops, so only
		// lists of plain entries are counted.
		m.report(p, MsgTTLNotDecremented, fmt.Sprintf("TTL %d after %d hops (via list) with initial-ttl %d", h.TTL, hops, initial), raw)
	}
	for i := range h.Via {
		if h.Via[i].Type == wire.DestResource {
			m.report(p, MsgViaResource, fmt.Sprintf("via list entry %d is Resource-ID %x", i, h.Via[i].ID), raw)
			break
		}
	}
	return true
}

// viaHops is the number of forwarding hops a via list of plain Node-IDs
// shows; false when an entry is compressed or opaque.
func viaHops(via []wire.Destination) (int, bool) {
	for i := range via {
		if _, ok := via[i].NodeID(); !ok {
			return 0, false
		}
	}
	return len(via), true
}

// body decodes the message body strictly (§6.3.3).
func (m *Monitor) body(p peerOf, msg *wire.Message) {
	b, ok := wire.NewBody(msg.Contents.Code, m.cfg.NodeIDLength)
	if !ok {
		return
	}
	body := msg.Contents.Body
	n, err := b.Decode(body)
	switch {
	case errors.Is(err, wire.ErrTrailingData):
		m.report(p, BodyTrailing, fmt.Sprintf("%v body: %v", msg.Contents.Code, err), body)
	case err != nil:
		m.report(p, BodyDecode, fmt.Sprintf("%v body does not decode: %v", msg.Contents.Code, err), body)
	case n != len(body):
		m.report(p, BodyTrailing, fmt.Sprintf("%v body: %d bytes left over after %d", msg.Contents.Code, len(body)-n, n), body[n:])
	}
}

// signature checks the SecurityBlock (§6.3.4): present, verifying, and,
// for a request, made by its originator.
func (m *Monitor) signature(p peerOf, l *transport.Link, msg *wire.Message, raw []byte) {
	if len(msg.Security.Signature.Value) == 0 {
		m.report(p, MsgUnsigned, fmt.Sprintf("%v without a signature", msg.Contents.Code), raw)
		return
	}
	if m.cfg.Verifier == nil {
		return
	}
	signer, err := m.cfg.Verifier.Verify(msg, security.Expect{}, m.cfg.Now())
	if err != nil {
		if _, need := errors.AsType[*security.CertificateNeededError](err); need {
			return // the certificate is not at hand: not the peer's fault
		}
		m.report(p, MsgSignature, fmt.Sprintf("%v: %v", msg.Contents.Code, err), msg.Security.Signature.Value)
		return
	}
	if !msg.Contents.Code.IsRequest() {
		return
	}
	h := &msg.Header
	if len(h.Via) == 0 {
		for _, id := range l.PeerNodeIDs() {
			if id == signer.NodeID {
				return
			}
		}
		m.report(p, MsgSigner, fmt.Sprintf("%v with an empty via list (sent by its originator %v) signed by %v", msg.Contents.Code, p.id, signer.NodeID), raw)
		return
	}
	if orig, ok := h.Via[0].NodeID(); ok && orig != signer.NodeID {
		m.report(p, MsgSigner, fmt.Sprintf("%v originated by %v (via list) signed by %v", msg.Contents.Code, orig, signer.NodeID), raw)
	}
}

// fragKey names one fragmented message: its transaction id on one link
// peer (§6.7: the transaction id identifies the fragments).
type fragKey struct {
	peer string
	txid uint64
}

// fragState is what the fragments of one message said so far.
type fragState struct {
	data []byte // bytes at offsets 0..len(data)-1 that have arrived
	have []bool
	end  int // the last fragment's end, -1 before it
}

// fragment checks one fragment (§6.7); payload is what follows its
// forwarding header.
func (m *Monitor) fragment(p peerOf, h *wire.ForwardingHeader, payload []byte) {
	off := h.FragmentOffsetBytes()
	if !h.LastFragment() && len(payload) < minFragBody {
		m.report(p, FragSmall, fmt.Sprintf("fragment at offset %d with %d bytes of body, not the last", off, len(payload)), payload)
	}
	if seen := m.fragTrack(p, h, off, payload); seen != "" {
		m.report(p, FragConflict, seen, payload)
	}
}

// fragTrack records a fragment of a message and tells how it disagrees
// with the ones before ("" when it agrees).
func (m *Monitor) fragTrack(p peerOf, h *wire.ForwardingHeader, off int, payload []byte) (seen string) {
	end := off + len(payload)
	k := fragKey{peer: p.id.String(), txid: h.TransactionID}
	m.fragMu.Lock()
	defer m.fragMu.Unlock()
	st := m.frags[k]
	if st == nil {
		if len(m.forder) >= maxFragMsgs {
			delete(m.frags, m.forder[0])
			m.forder = append(m.forder[:0], m.forder[1:]...)
		}
		st = &fragState{end: -1}
		m.frags[k] = st
		m.forder = append(m.forder, k)
	}
	if h.LastFragment() {
		if st.end >= 0 && st.end != end {
			seen = fmt.Sprintf("transaction %#016x: last fragment ends at %d, an earlier one at %d", h.TransactionID, end, st.end)
		} else if st.end < 0 && len(st.data) > end {
			seen = fmt.Sprintf("transaction %#016x: last fragment ends at %d, bytes up to %d arrived before", h.TransactionID, end, len(st.data))
		}
		st.end = end
	} else if st.end >= 0 && end > st.end {
		seen = fmt.Sprintf("transaction %#016x: fragment ends at %d, after the last fragment's end %d", h.TransactionID, end, st.end)
	}
	if seen != "" || end > maxFragKeep {
		return seen
	}
	if len(st.data) < end {
		st.data = append(st.data, make([]byte, end-len(st.data))...)
		st.have = append(st.have, make([]bool, end-len(st.have))...)
	}
	for i, c := range payload {
		if j := off + i; st.have[j] && st.data[j] != c {
			return fmt.Sprintf("transaction %#016x: fragment at offset %d differs at byte %d from an earlier fragment", h.TransactionID, off, j)
		}
	}
	copy(st.data[off:end], payload)
	for j := off; j < end; j++ {
		st.have[j] = true
	}
	if st.end < 0 || st.end > len(st.have) {
		return ""
	}
	for _, ok := range st.have[:st.end] {
		if !ok {
			return ""
		}
	}
	// Whole: forget it (a retransmission starts afresh).
	delete(m.frags, k)
	for i, o := range m.forder {
		if o == k {
			m.forder = append(m.forder[:i], m.forder[i+1:]...)
			break
		}
	}
	return ""
}
