package netfuzz

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Input is one fuzz input: the records written to a link, one Write each
// (on TLS pieces of the stream, on DTLS one datagram each), and what they
// are.
type Input struct {
	// What says in a few words how the input was made.
	What string
	// Code is the message code of the message it carries (0: none) and
	// Body the name of the body it was built from.
	Code wire.MessageCode
	Body string
	// Records are written in order on one link.
	Records [][]byte
	// Desync is set when the input breaks the framing of a stream link
	// (a data frame whose length field lies, a bad frame type): nothing
	// sent after it on that link is read as intended.
	Desync bool
}

// size is the total number of bytes of the input.
func (in *Input) size() int {
	n := 0
	for _, r := range in.Records {
		n += len(r)
	}
	return n
}

// generator builds inputs from valid messages, mutated.
type generator struct {
	rng        *rand.Rand
	id         *security.Identity
	self       wire.NodeID
	peer       wire.NodeID
	overlay    uint32
	configSeq  uint16
	initialTTL uint8
	idLen      int
	dtls       bool
	now        func() time.Time
}

// body is a message body the generator knows how to build.
type body struct {
	name string
	code wire.MessageCode
	make func(g *generator) []byte
}

// bodies lists every request body of RFC 6940 §6.4, §6.5, §7.4 and of
// RFC 7851, and a few answers and error responses, which a peer receiving
// them unasked must drop.
var bodies = []body{
	{"PingReq", wire.CodePingReq, func(g *generator) []byte {
		p := wire.PingReq{Padding: g.bytes(g.pick(0, 0, 4, 100))}
		return must(p.Append(nil))
	}},
	{"ProbeReq", wire.CodeProbeReq, func(g *generator) []byte {
		var p wire.ProbeReq
		for range g.rng.IntN(5) {
			p.RequestedInfo = append(p.RequestedInfo, wire.ProbeInformationType(g.pick(1, 2, 3, 0, 4, g.rng.IntN(256))))
		}
		return must(p.Append(nil))
	}},
	{"AttachReq", wire.CodeAttachReq, func(g *generator) []byte {
		a := wire.AttachReqAns{Ufrag: g.bytes(8), Password: g.bytes(24), Role: []byte(g.str("passive", "active", "")),
			Candidates: g.candidates(), SendUpdate: g.rng.IntN(2) == 0}
		return must(a.Append(nil))
	}},
	{"AppAttachReq", wire.CodeAppAttachReq, func(g *generator) []byte {
		a := wire.AppAttachReq{Ufrag: g.bytes(8), Password: g.bytes(24), Application: uint16(g.pick(5060, 5061, 0, 0xffff)),
			Role: []byte(g.str("passive", "active")), Candidates: g.candidates()}
		return must(a.Append(nil))
	}},
	{"StoreReq", wire.CodeStoreReq, func(g *generator) []byte { return g.store() }},
	{"FetchReq", wire.CodeFetchReq, func(g *generator) []byte {
		f := wire.FetchReq{Resource: g.resource(), Specifiers: g.specifiers()}
		return must(f.Append(nil))
	}},
	{"StatReq", wire.CodeStatReq, func(g *generator) []byte {
		// StatReq has the layout of FetchReq (§7.4.3.1).
		f := wire.FetchReq{Resource: g.resource(), Specifiers: g.specifiers()}
		return must(f.Append(nil))
	}},
	{"FindReq", wire.CodeFindReq, func(g *generator) []byte {
		f := wire.FindReq{Resource: g.resource()}
		for range g.rng.IntN(4) {
			f.Kinds = append(f.Kinds, g.kind())
		}
		return must(f.Append(nil))
	}},
	{"JoinReq", wire.CodeJoinReq, func(g *generator) []byte {
		j := wire.JoinReq{JoiningPeerID: g.self, OverlaySpecificData: g.bytes(g.pick(0, 0, 8)), IDLen: g.idLen}
		return must(j.Append(nil))
	}},
	{"LeaveReq", wire.CodeLeaveReq, func(g *generator) []byte {
		l := wire.LeaveReq{LeavingPeerID: g.self, OverlaySpecificData: g.bytes(g.pick(0, 0, 8)), IDLen: g.idLen}
		return must(l.Append(nil))
	}},
	{"UpdateReq", wire.CodeUpdateReq, func(g *generator) []byte {
		u := wire.ChordUpdate{Uptime: uint32(g.rng.IntN(1000)), Type: wire.ChordUpdateType(g.pick(1, 2, 3, 0, 7)), IDLen: g.idLen}
		for range g.rng.IntN(4) {
			u.Predecessors = append(u.Predecessors, g.nodeID())
		}
		for range g.rng.IntN(4) {
			u.Successors = append(u.Successors, g.nodeID())
		}
		for range g.rng.IntN(3) {
			u.Fingers = append(u.Fingers, g.nodeID())
		}
		return must(u.Append(nil))
	}},
	{"RouteQueryReq", wire.CodeRouteQueryReq, func(g *generator) []byte {
		q := wire.RouteQueryReq{SendUpdate: g.rng.IntN(2) == 0, Destination: g.destination(), OverlaySpecificData: g.bytes(g.pick(0, 4))}
		return must(q.Append(nil))
	}},
	{"ConfigUpdateReq", wire.CodeConfigUpdateReq, func(g *generator) []byte {
		c := wire.ConfigUpdateReq{Type: wire.ConfigUpdateType(g.pick(1, 2, 0, 9))}
		switch c.Type {
		case wire.ConfigUpdateConfig:
			c.ConfigData = []byte("<overlay xmlns=\"urn:ietf:params:xml:ns:p2p:config-base\"/>")
		case wire.ConfigUpdateKind:
			c.Kinds = [][]byte{[]byte("<kind/>")}
		default:
			c.Raw = g.bytes(g.pick(0, 3))
		}
		return must(c.Append(nil))
	}},
	{"PathTrackReq", wire.CodePathTrackReq, func(g *generator) []byte {
		p := wire.PathTrackReq{Destination: g.destination(), Request: g.diagRequest()}
		return must(p.Append(nil))
	}},
	{"PingAns", wire.CodePingAns, func(g *generator) []byte {
		p := wire.PingAns{ResponseID: g.rng.Uint64(), Time: uint64(g.now().UnixMilli())}
		return must(p.Append(nil))
	}},
	{"StoreAns", wire.CodeStoreAns, func(g *generator) []byte { return g.bytes(g.pick(0, 4, 20)) }},
	{"Error", wire.CodeError, func(g *generator) []byte {
		e := wire.ErrorResponse{Code: wire.ErrorCode(g.pick(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0, 0xfffe)),
			Info: g.bytes(g.pick(0, 5, 300))}
		return must(e.Append(nil))
	}},
	{"unknown code", 0, func(g *generator) []byte { return g.bytes(g.pick(0, 8, 64)) }},
}

// kindModel is the data model of a registered Kind, ModelInvalid for
// others.
func kindModel(k wire.KindID) wire.DataModel {
	m, _ := wire.IANAKindModels{}.Model(k)
	return m
}

// must is the body b, or an empty body when the codec refused a value
// the generator made up (a code point it does not encode): the body
// mutations reach those bytes instead.
func must(b []byte, err error) []byte {
	if err != nil {
		return nil
	}
	return b
}

func (g *generator) pick(v ...int) int { return v[g.rng.IntN(len(v))] }

func (g *generator) str(v ...string) string { return v[g.rng.IntN(len(v))] }

func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

func (g *generator) nodeID() wire.NodeID {
	switch g.rng.IntN(6) {
	case 0:
		return g.self
	case 1:
		return g.peer
	}
	id, err := wire.NodeIDFromBytes(g.bytes(g.idLen))
	if err != nil {
		return g.self
	}
	return id
}

// idBytes is a Node-ID or Resource-ID of a length that is usually right.
func (g *generator) idBytes() []byte {
	n := g.idLen
	if g.rng.IntN(8) == 0 {
		n = g.pick(0, 1, g.idLen-1, g.idLen+1, 32, 255)
	}
	return g.bytes(n)
}

func (g *generator) resource() wire.ResourceID {
	if g.rng.IntN(3) == 0 {
		return wire.ResourceID(append([]byte(nil), g.self.Bytes()...))
	}
	return wire.ResourceID(g.idBytes())
}

func (g *generator) kind() wire.KindID {
	return wire.KindID(g.pick(1, 2, 3, 4, 0x10, 0x104, 0x105, 0x106, 0, 0xf0000001, int(g.rng.Uint32())))
}

func (g *generator) destination() wire.Destination {
	switch g.rng.IntN(6) {
	case 0:
		return wire.Destination{Type: wire.DestResource, ID: g.idBytes()}
	case 1:
		return wire.CompressedDest(uint16(0x8000 | g.rng.IntN(0x8000)))
	case 2:
		return wire.Destination{Type: wire.DestinationType(g.pick(0, 3, 4, 200)), ID: g.bytes(g.pick(0, 2, 16))}
	case 3:
		id := g.nodeID()
		return wire.NodeDest(&id)
	}
	peer := g.peer
	return wire.NodeDest(&peer)
}

func (g *generator) candidates() []wire.IceCandidate {
	var cs []wire.IceCandidate
	for range g.rng.IntN(4) {
		addr := netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + g.rng.IntN(250))})
		typ := wire.AddrIPv4
		if g.rng.IntN(3) == 0 {
			addr, typ = netip.IPv6Loopback(), wire.AddrIPv6
		}
		c := wire.IceCandidate{
			AddrPort:    wire.IPAddressPort{Type: typ, Addr: addr, Port: uint16(g.rng.IntN(65536))},
			OverlayLink: wire.OverlayLinkType(g.pick(1, 3, 4, 5)),
			Foundation:  g.bytes(g.pick(1, 8, 32)), Priority: g.rng.Uint32(), Type: wire.CandType(g.pick(1, 2, 4)),
		}
		if c.Type != wire.CandHost {
			c.RelAddrPort = c.AddrPort
		}
		cs = append(cs, c)
	}
	return cs
}

func (g *generator) specifiers() []wire.StoredDataSpecifier {
	var ss []wire.StoredDataSpecifier
	for range 1 + g.rng.IntN(3) {
		s := wire.StoredDataSpecifier{Kind: g.kind(), Generation: uint64(g.pick(0, 1, 1<<40))}
		switch g.rng.IntN(3) {
		case 0:
			s.Model = wire.ModelArray
			s.Indices = []wire.ArrayRange{{First: 0, Last: uint32(g.pick(0, 5, 0xffffffff))}}
		case 1:
			s.Model = wire.ModelDictionary
			s.Keys = []wire.DictionaryKey{g.bytes(g.pick(0, 4, 40))}
		default:
			s.Model = wire.ModelSingle
		}
		// The Kind's model is what the codec encodes by; a mismatch is kept
		// raw, as another mutation.
		if m := kindModel(s.Kind); m != wire.ModelInvalid && m != s.Model {
			s.Model = m
			s.Indices, s.Keys = nil, nil
			if m == wire.ModelArray {
				s.Indices = []wire.ArrayRange{{First: 0, Last: 3}}
			}
		}
		if kindModel(s.Kind) == wire.ModelInvalid {
			s.Model, s.Indices, s.Keys, s.Raw = wire.ModelInvalid, nil, nil, g.bytes(g.pick(0, 4))
		}
		ss = append(ss, s)
	}
	return ss
}

// store is a StoreReq with values signed by the fuzzer's identity (or
// not, or wrongly), of the model the Kind has.
func (g *generator) store() []byte {
	res := g.resource()
	req := wire.StoreReq{Resource: res, ReplicaNumber: uint8(g.pick(0, 0, 1, 255))}
	for range 1 + g.rng.IntN(2) {
		kind := g.kind()
		kd := wire.StoreKindData{Kind: kind, Generation: uint64(g.pick(0, 1, 2, 1<<62))}
		model := kindModel(kind)
		if model == wire.ModelInvalid {
			kd.RawValues = g.bytes(g.pick(0, 16, 80))
			req.KindData = append(req.KindData, kd)
			continue
		}
		for range g.rng.IntN(3) {
			v := g.bytes(g.pick(0, 8, 200))
			sd := wire.StoredData{
				StorageTime: uint64(g.now().Add(time.Duration(g.pick(0, 0, -3600, 3600*48)) * time.Second).UnixMilli()),
				Lifetime:    uint32(g.pick(60, 600, 0, 0xffffffff)),
			}
			switch model {
			case wire.ModelArray:
				sd.Value = wire.ArrayValue(uint32(g.pick(0, 1, int(wire.ArrayAppendIndex), 1<<20)), v)
			case wire.ModelDictionary:
				sd.Value = wire.DictionaryValue(g.bytes(g.pick(0, 8, 16)), v)
			default:
				sd.Value = wire.SingleValue(v)
			}
			if g.rng.IntN(5) == 0 {
				sd.Value.Value.Exists = false
			}
			switch g.rng.IntN(6) {
			case 0: // unsigned
			case 1: // signed for another Resource-ID
				_ = storage.Sign(g.id, wire.ResourceID(g.bytes(g.idLen)), kind, &sd)
			default:
				_ = storage.Sign(g.id, res, kind, &sd)
				if g.rng.IntN(4) == 0 && len(sd.Signature.Value) > 0 {
					sd.Signature.Value[g.rng.IntN(len(sd.Signature.Value))] ^= 0x40
				}
			}
			kd.Values = append(kd.Values, sd)
		}
		req.KindData = append(req.KindData, kd)
	}
	return must(req.Append(nil))
}

func (g *generator) diagRequest() wire.DiagnosticsRequest {
	d := wire.DiagnosticsRequest{Expiration: uint64(g.now().Add(time.Minute).UnixMilli()),
		TimestampInitiated: uint64(g.now().UnixMilli()), Flags: wire.DMFlags(g.rng.Uint64())}
	for range g.rng.IntN(4) {
		d.Extensions = append(d.Extensions, wire.DiagnosticExtension{Kind: wire.DiagnosticKindID(g.pick(1, 2, 3, 6, 8, 0, 0xfffe)),
			Contents: g.bytes(g.pick(0, 0, 4))})
	}
	return d
}

// next makes the next input; seq numbers its data frames.
func (g *generator) next(seq func() uint32) Input {
	b := bodies[g.rng.IntN(len(bodies))]
	code := b.code
	if code == 0 {
		code = wire.MessageCode(g.rng.IntN(0x10000))
	}
	peer := g.peer
	m := wire.Message{
		Header: wire.ForwardingHeader{
			Overlay: g.overlay, ConfigSequence: g.configSeq, Version: wire.Version10, TTL: g.initialTTL,
			Fragment: wire.FragmentUnfragmed, TransactionID: g.rng.Uint64(),
			Destinations: []wire.Destination{wire.NodeDest(&peer)},
		},
		Contents: wire.MessageContents{Code: code, Body: b.make(g)},
	}
	what := []string{b.name}
	// Up to three structural mutations; a third of the inputs stay valid
	// apart from their body's content, to reach the handlers.
	for range g.rng.IntN(4) {
		what = append(what, g.mutate(&m))
	}
	what = append(what, g.sign(&m))
	raw, err := m.Append(nil)
	if err != nil {
		// A mutation the codec cannot encode (a list too long): send the
		// message without it.
		raw, what = g.plain(code), []string{b.name + " (plain)"}
	}
	if g.rng.IntN(6) == 0 {
		var w string
		raw, w = g.mutateBytes(raw)
		what = append(what, w)
	}
	in := Input{Code: code, Body: b.name}
	switch r := g.rng.IntN(20); {
	case r == 0 || (g.dtls && len(raw) > 1100):
		in.Records = g.fragments(raw, seq)
		what = append(what, fmt.Sprintf("in %d fragments", len(in.Records)))
	case r == 1:
		var w string
		in.Records, in.Desync, w = g.framing(raw, seq)
		what = append(what, w)
	default:
		in.Records = [][]byte{frame(seq(), raw)}
	}
	in.What = strings.Join(what, ", ")
	return in
}

// plain is a signed message with an empty body.
func (g *generator) plain(code wire.MessageCode) []byte {
	peer := g.peer
	m := wire.Message{Header: wire.ForwardingHeader{Overlay: g.overlay, ConfigSequence: g.configSeq, Version: wire.Version10,
		TTL: g.initialTTL, Fragment: wire.FragmentUnfragmed, TransactionID: g.rng.Uint64(),
		Destinations: []wire.Destination{wire.NodeDest(&peer)}}, Contents: wire.MessageContents{Code: code}}
	g.sign(&m)
	raw, _ := m.Append(nil)
	return raw
}

func frame(seq uint32, msg []byte) []byte {
	f := wire.FramedMessage{Type: wire.FrameData, Sequence: seq, Message: msg}
	b, err := f.Append(nil)
	if err != nil { // longer than 2^24-1: cut
		f.Message = msg[:1<<24-1]
		b, _ = f.Append(nil)
	}
	return b
}

// mutate changes one field of m's header or contents (§6.3.2, §6.3.3)
// and says which.
func (g *generator) mutate(m *wire.Message) string {
	h := &m.Header
	switch g.rng.IntN(16) {
	case 0:
		h.TTL = uint8(g.pick(0, 1, int(g.initialTTL)+1, 255, g.rng.IntN(256)))
		return fmt.Sprintf("ttl %d", h.TTL)
	case 1:
		h.Version = uint8(g.pick(0, 1, 0x0b, 0xff))
		return fmt.Sprintf("version %#x", h.Version)
	case 2:
		h.Overlay ^= uint32(1) << g.rng.IntN(32)
		return "wrong overlay hash"
	case 3:
		h.ConfigSequence = uint16(g.pick(0, int(h.ConfigSequence)+1, 0xffff))
		return fmt.Sprintf("configuration_sequence %d", h.ConfigSequence)
	case 4:
		n := g.pick(1, 2, 3, 4, 8, 30, 100)
		h.Via = nil
		for range n {
			h.Via = append(h.Via, g.destination())
		}
		return fmt.Sprintf("via list of %d entries", n)
	case 5:
		n := g.pick(0, 2, 3, 5, 30)
		var ds []wire.Destination
		for range n {
			ds = append(ds, g.destination())
		}
		if n > 0 && g.rng.IntN(2) == 0 {
			peer := g.peer
			ds[n-1] = wire.NodeDest(&peer)
		}
		h.Destinations = ds
		return fmt.Sprintf("destination list of %d entries", n)
	case 6:
		h.Destinations = []wire.Destination{g.destination()}
		return fmt.Sprintf("destination %v", h.Destinations[0].Type)
	case 7:
		o := wire.ForwardingOption{Type: wire.ForwardingOptionType(g.pick(0, 1, 2, 0x80, 0xff, g.rng.IntN(256))),
			Flags: uint8(g.pick(0, 1, 2, 4, 7, 0xff)), Value: g.bytes(g.pick(0, 1, 8, 300))}
		h.Options = append(h.Options, o)
		return fmt.Sprintf("forwarding option %d flags %#x", o.Type, o.Flags)
	case 8:
		h.Fragment = uint32(g.pick(0, int(wire.FragmentHistoric), 0x40000000, int(wire.FragmentHistoric)|1, 0xffffffff))
		return fmt.Sprintf("fragment %#x", h.Fragment)
	case 9:
		h.MaxResponseLength = uint32(g.pick(1, 40, 100, 0xffffffff))
		return fmt.Sprintf("max_response_length %d", h.MaxResponseLength)
	case 10:
		e := wire.MessageExtension{Type: wire.MessageExtensionType(g.pick(0, 1, 2, 3, 0x1234, 0xffff)),
			Critical: g.rng.IntN(2) == 0, Contents: g.bytes(g.pick(0, 4, 64, 2000))}
		m.Contents.Extensions = append(m.Contents.Extensions, e)
		return fmt.Sprintf("extension %d critical=%v", e.Type, e.Critical)
	case 11:
		m.Contents.Code = wire.MessageCode(g.pick(0, 0xffff, 0xfffe, int(m.Contents.Code)+1, g.rng.IntN(0x10000)))
		return fmt.Sprintf("code %#x", uint16(m.Contents.Code))
	case 12:
		m.Contents.Body = g.mutateBody(m.Contents.Body)
		return "body count/length field"
	case 13:
		if len(m.Contents.Body) > 0 {
			m.Contents.Body = m.Contents.Body[:g.rng.IntN(len(m.Contents.Body))]
		}
		return "body truncated"
	case 14:
		m.Contents.Body = append(m.Contents.Body, g.bytes(g.pick(1, 4, 100))...)
		return "body with trailing bytes"
	default:
		h.TransactionID = uint64(g.pick(0, 1)) * g.rng.Uint64()
		return "transaction id"
	}
}

// interesting are values that break length and count fields.
var interesting = []uint32{0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff}

// mutateBody overwrites 1, 2 or 4 bytes somewhere in b with an interesting
// value: most bodies are length-prefixed lists, so this hits their length
// and count fields.
func (g *generator) mutateBody(b []byte) []byte {
	b = append([]byte(nil), b...)
	if len(b) == 0 {
		return g.bytes(g.pick(1, 4))
	}
	w := g.pick(1, 2, 4)
	off := g.rng.IntN(len(b))
	v := interesting[g.rng.IntN(len(interesting))]
	switch {
	case w == 4 && off+4 <= len(b):
		binary.BigEndian.PutUint32(b[off:], v)
	case w >= 2 && off+2 <= len(b):
		binary.BigEndian.PutUint16(b[off:], uint16(v))
	default:
		b[off] = byte(v)
	}
	return b
}

// sign signs m with the fuzzer's identity (§6.3.4), or not, or wrongly.
func (g *generator) sign(m *wire.Message) string {
	contents, err := m.Contents.Append(nil)
	if err != nil {
		return "unsigned"
	}
	m.Security = wire.SecurityBlock{}
	r := g.rng.IntN(12)
	if r == 0 {
		return "unsigned"
	}
	if err := g.id.SignMessage(&m.Security, m.Header.Overlay, m.Header.TransactionID, contents); err != nil {
		return "unsigned"
	}
	s := &m.Security.Signature
	switch r {
	case 1:
		if len(s.Value) > 0 {
			s.Value[g.rng.IntN(len(s.Value))] ^= 1
		}
		return "bad signature"
	case 2:
		s.Algorithm = wire.SignatureAndHashAlgorithm{Hash: wire.HashAlgorithm(g.rng.IntN(256)), Signature: wire.SignatureAlgorithm(g.rng.IntN(256))}
		return "unknown signature algorithm"
	case 3:
		m.Security.Certificates = []wire.GenericCertificate{{Type: wire.CertificateType(g.pick(0, 1, 7)), Certificate: g.bytes(g.pick(0, 10, 500))}}
		return "garbled certificate"
	case 4:
		s.Identity = wire.SignerIdentity{Type: wire.SignerIdentityType(g.pick(0, 1, 2, 3, 200)), HashAlg: wire.HashAlgorithm(g.pick(0, 2, 4)), Hash: g.bytes(g.pick(0, 20, 32))}
		return "signer identity replaced"
	case 5:
		m.Header.TransactionID++
		return "signed for another transaction id"
	}
	return "signed"
}

// mutateBytes changes the encoded message: its length field (§6.3.2),
// or a few random bytes.
func (g *generator) mutateBytes(raw []byte) ([]byte, string) {
	raw = append([]byte(nil), raw...)
	switch g.rng.IntN(3) {
	case 0:
		if len(raw) >= 20 {
			v := uint32(g.pick(0, 1, 20, len(raw)-1, len(raw)+1, 0xffffffff))
			binary.BigEndian.PutUint32(raw[16:20], v)
			return raw, fmt.Sprintf("length field %d of %d", v, len(raw))
		}
	case 1:
		if len(raw) > 1 {
			return raw[:g.rng.IntN(len(raw))], "message truncated"
		}
	}
	for range 1 + g.rng.IntN(4) {
		raw[g.rng.IntN(len(raw))] ^= byte(1 + g.rng.IntN(255))
	}
	return raw, "random bytes changed"
}

// fragments cuts raw into §6.7 fragments: the header repeated with the
// fragment field (historic bit, last-fragment bit, offset) and the length
// of each piece, sometimes out of order, overlapping or incomplete.
func (g *generator) fragments(raw []byte, seq func() uint32) [][]byte {
	var h wire.ForwardingHeader
	hn, err := h.Decode(raw)
	if err != nil || len(raw) <= hn {
		return [][]byte{frame(seq(), raw)}
	}
	payload := raw[hn:]
	size := g.pick(1, 64, 500, 1000)
	if g.dtls {
		size = min(size, 1000-hn)
	}
	type piece struct {
		off  int
		data []byte
		last bool
	}
	var ps []piece
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		ps = append(ps, piece{off: off, data: payload[off:end], last: end == len(payload)})
		if len(ps) > 200 {
			break
		}
	}
	switch g.rng.IntN(5) {
	case 0:
		g.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	case 1:
		if len(ps) > 1 {
			ps = ps[:len(ps)-1] // the last never comes
		}
	case 2:
		ps = append(ps, ps[0]) // a duplicate
	case 3:
		if len(ps) > 1 {
			ps[1].off -= g.pick(1, 3) // overlap
			if ps[1].off < 0 {
				ps[1].off = 0
			}
		}
	}
	var out [][]byte
	for _, p := range ps {
		fh := h
		fh.Fragment = wire.FragmentHistoric | uint32(p.off)&0x3fffffff
		if p.last {
			fh.Fragment |= 0x40000000
		}
		fh.Length = uint32(fh.Len() + len(p.data))
		b, err := fh.Append(nil)
		if err != nil {
			continue
		}
		out = append(out, frame(seq(), append(b, p.data...)))
	}
	if len(out) == 0 {
		return [][]byte{frame(seq(), raw)}
	}
	return out
}

// framing mutates the framing header of §6.6.2: a frame type that does
// not exist, a data length that lies, an ACK out of the blue, a sequence
// number used twice.
func (g *generator) framing(raw []byte, seq func() uint32) (recs [][]byte, desync bool, what string) {
	f := frame(seq(), raw)
	switch g.rng.IntN(5) {
	case 0:
		f[0] = byte(g.pick(0, 127, 130, 255))
		return [][]byte{f}, true, fmt.Sprintf("frame type %d", f[0])
	case 1:
		n := len(raw) + g.pick(-1, 1, 100)
		if n < 0 {
			n = 0
		}
		f[5], f[6], f[7] = byte(n>>16), byte(n>>8), byte(n)
		return [][]byte{f}, true, fmt.Sprintf("frame length %d for %d bytes", n, len(raw))
	case 2:
		a := wire.FramedMessage{Type: wire.FrameAck, Sequence: g.rng.Uint32(), Received: g.rng.Uint32()}
		b, _ := a.Append(nil)
		return [][]byte{b, f}, false, "unsolicited ACK first"
	case 3:
		s := binary.BigEndian.Uint32(f[1:5])
		return [][]byte{f, frame(s, raw)}, false, "sent twice under one sequence number"
	}
	if g.dtls {
		// Two frames in one datagram.
		return [][]byte{append(f, frame(seq(), raw)...)}, false, "two frames in one record"
	}
	return [][]byte{f[:len(f)/2], f[len(f)/2:]}, false, "frame split over two writes"
}
