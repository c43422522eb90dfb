package wiretest

import (
	"crypto/sha256"
	_ "embed"
	"net/netip"

	"github.com/goreload/reload/wire"
)

// Sample is one named, complete RELOAD message.
type Sample struct {
	Name string
	Msg  wire.Message
}

// Encode returns the wire bytes of the sample.
func (s *Sample) Encode() ([]byte, error) { return s.Msg.Append(nil) }

// OverlayName is the overlay of the samples.
const OverlayName = "overlay.example.org"

// AllCodes lists every request and answer code the samples must cover.
var AllCodes = []wire.MessageCode{
	wire.CodeProbeReq, wire.CodeProbeAns, wire.CodeAttachReq, wire.CodeAttachAns,
	wire.CodeStoreReq, wire.CodeStoreAns, wire.CodeFetchReq, wire.CodeFetchAns,
	wire.CodeFindReq, wire.CodeFindAns, wire.CodeJoinReq, wire.CodeJoinAns,
	wire.CodeLeaveReq, wire.CodeLeaveAns, wire.CodeUpdateReq, wire.CodeUpdateAns,
	wire.CodeRouteQueryReq, wire.CodeRouteQueryAns, wire.CodePingReq, wire.CodePingAns,
	wire.CodeStatReq, wire.CodeStatAns, wire.CodeAppAttachReq, wire.CodeAppAttachAns,
	wire.CodeConfigUpdateReq, wire.CodeConfigUpdateAns, wire.CodePathTrackReq, wire.CodePathTrackAns,
	wire.CodeError,
}

// Node returns the sample Node-ID number i: sixteen bytes, the first
// i+1 and the rest counting up.
func Node(i byte) wire.NodeID {
	var b [16]byte
	for j := range b {
		b[j] = i<<4 | byte(j)
	}
	b[0] = i + 1
	return wire.MustNodeID(b[:])
}

var (
	nodeA = Node(1)
	nodeB = Node(2)
	nodeC = Node(3)
	nodeD = Node(4)
)

// Resource is the Resource-ID of the samples' stored data.
var Resource = wire.ResourceIDFromName("alice@" + OverlayName)

// NodeCert is a real X.509 certificate (DER, ECDSA P-256) for the
// sample Node-ID of peer A, with its reload:// URI and user name in the
// subjectAltName (RFC 6940 §11.3). It is carried in CERTIFICATE_BY_NODE
// values and security blocks so that dissectors see a real certificate.
//
//go:embed testdata/node-cert.der
var NodeCert []byte

// fakeSignature is a well-formed Signature whose value is not a real
// signature: the codec does not verify, and a fixed value keeps the
// capture reproducible. Identity is cert_hash with a SHA-256 hash.
func fakeSignature(seed string) wire.Signature {
	h := sha256.Sum256(append([]byte("cert:"+seed), NodeCert...))
	if seed == "A" {
		h = sha256.Sum256(NodeCert) // RFC 6940 §6.3.4 cert_hash: H(DER certificate)
	}
	v := sha256.Sum256([]byte("sig:" + seed))
	val := append(v[:], v[:]...) // 64 bytes, the size of a P-256 signature
	return wire.Signature{
		Algorithm: wire.AlgECDSASHA256,
		Identity:  wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256, Hash: h[:]},
		Value:     val,
	}
}

// msg builds a message from A toward B (requests) or B toward A (answers)
// with a body, optional extensions, a via list for answers, and a
// signature.
func msg(name string, txid uint64, code wire.MessageCode, body wire.Body, exts ...wire.MessageExtension) Sample {
	raw, err := body.Append(nil)
	if err != nil {
		panic(name + ": " + err.Error())
	}
	h := wire.ForwardingHeader{
		Overlay: wire.OverlayHash(OverlayName), ConfigSequence: 1, Version: wire.Version10,
		TTL: wire.DefaultTTL, Fragment: wire.FragmentUnfragmed, TransactionID: txid,
		MaxResponseLength: 0,
	}
	if code.IsAnswer() {
		h.Destinations = []wire.Destination{wire.NodeDest(&nodeA)}
		h.TTL = 99
	} else {
		h.Destinations = []wire.Destination{wire.NodeDest(&nodeB)}
		h.MaxResponseLength = 65535
	}
	from := "A"
	if code.IsAnswer() {
		from = "B"
	}
	return Sample{Name: name, Msg: wire.Message{
		Header:   h,
		Contents: wire.MessageContents{Code: code, Body: raw, Extensions: exts},
		Security: wire.SecurityBlock{Signature: fakeSignature(from)},
	}}
}

func enc(b wire.Body) []byte {
	out, err := b.Append(nil)
	if err != nil {
		panic(err)
	}
	return out
}

func candidates() []wire.IceCandidate {
	host := wire.IPAddressPort{Type: wire.AddrIPv4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 6084}
	srflx := wire.IPAddressPort{Type: wire.AddrIPv4, Addr: netip.MustParseAddr("198.51.100.7"), Port: 40000}
	return []wire.IceCandidate{
		{AddrPort: host, OverlayLink: wire.LinkDTLSUDPSR, Foundation: []byte("1"), Priority: 2130706431, Type: wire.CandHost},
		{AddrPort: srflx, OverlayLink: wire.LinkDTLSUDPSR, Foundation: []byte("2"), Priority: 1694498815, Type: wire.CandSrflx,
			RelAddrPort: host, Extensions: []wire.IceExtension{{Name: []byte("network-id"), Value: []byte("1")}}},
	}
}

func storedData(model wire.DataModel, value []byte, key []byte, index uint32, seed string) wire.StoredData {
	return wire.StoredData{
		StorageTime: 1767225600000, Lifetime: 3600,
		Value:     wire.StoredDataValue{Model: model, Value: wire.DataValue{Exists: true, Value: value}, Key: key, Index: index},
		Signature: fakeSignature(seed),
	}
}

func sipRegistration() []byte {
	return enc(&wire.SipRegistration{Type: wire.SipRegistrationRoute, ContactPrefs: []byte("+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""),
		Destinations: []wire.Destination{wire.NodeDest(&nodeA)}})
}

func diagRequest() wire.DiagnosticsRequest {
	return wire.DiagnosticsRequest{
		Expiration: 1767225660000, TimestampInitiated: 1767225600000,
		Flags: wire.FlagsFor(wire.DiagStatusInfo, wire.DiagRoutingTableSize, wire.DiagSoftwareVersion),
	}
}

func diagResponse(hops uint8) wire.DiagnosticsResponse {
	return wire.DiagnosticsResponse{
		Expiration: 1767225660000, TimestampInitiated: 1767225600000, TimestampReceived: 1767225600012, HopCounter: hops,
		Info: []wire.DiagnosticInfo{
			{Kind: wire.DiagStatusInfo, Contents: []byte{0x01}},
			{Kind: wire.DiagRoutingTableSize, Contents: []byte{0, 0, 0, 24}},
			{Kind: wire.DiagSoftwareVersion, Contents: append([]byte("goreload 0.1"), 0)},
		},
	}
}

// Samples returns one or more messages of every request and answer type,
// with realistic bodies. The result is the same on every call.
func Samples() []Sample {
	chordFull := &wire.ChordUpdate{Uptime: 3600, Type: wire.ChordUpdateFull,
		Predecessors: []wire.NodeID{nodeA, nodeC}, Successors: []wire.NodeID{nodeC, nodeD},
		Fingers: []wire.NodeID{nodeC, nodeD, nodeA}}
	leave := &wire.ChordLeaveData{Type: wire.ChordLeaveFromSucc, Successors: []wire.NodeID{nodeA, nodeD}}
	dreq := diagRequest()
	dresp := diagResponse(97)
	dreqExt := wire.MessageExtension{Type: wire.ExtDiagnosticPing, Critical: false, Contents: enc(&dreq)}
	drespExt := wire.MessageExtension{Type: wire.ExtDiagnosticPing, Critical: false, Contents: enc(&dresp)}

	store := &wire.StoreReq{Resource: Resource, ReplicaNumber: 0, KindData: []wire.StoreKindData{
		{Kind: wire.KindSIPRegistration, Generation: 1, Values: []wire.StoredData{
			storedData(wire.ModelDictionary, sipRegistration(), nodeA.Bytes(), 0, "A"),
		}},
		{Kind: wire.KindCertificateByNode, Generation: 3, Values: []wire.StoredData{
			storedData(wire.ModelArray, NodeCert, nil, wire.ArrayAppendIndex, "A"),
		}},
	}}
	fetchAns := &wire.FetchAns{KindResponses: []wire.FetchKindResponse{
		{Kind: wire.KindSIPRegistration, Generation: 1, Values: []wire.StoredData{
			storedData(wire.ModelDictionary, sipRegistration(), nodeA.Bytes(), 0, "A"),
		}},
	}}
	statAns := &wire.StatAns{KindResponses: []wire.StatKindResponse{
		{Kind: wire.KindSIPRegistration, Generation: 1, Values: []wire.StoredMetaData{{
			StorageTime: 1767225600000, Lifetime: 3600,
			Metadata: wire.MetaDataValue{Model: wire.ModelDictionary, Key: nodeA.Bytes(),
				Value: wire.MetaData{Exists: true, ValueLength: 84, HashAlgorithm: wire.HashSHA256, HashValue: make([]byte, 32)}},
		}}},
	}}
	spec := wire.StoredDataSpecifier{Kind: wire.KindSIPRegistration, Model: wire.ModelDictionary, Generation: 0, Keys: []wire.DictionaryKey{nodeA.Bytes()}}
	specArr := wire.StoredDataSpecifier{Kind: wire.KindCertificateByNode, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: 0xffffffff}}}

	storeMsg := msg("store request", 3, wire.CodeStoreReq, store)
	storeMsg.Msg.Security.Certificates = []wire.GenericCertificate{{Type: wire.CertX509, Certificate: NodeCert}}
	return []Sample{
		msg("probe request", 1, wire.CodeProbeReq, &wire.ProbeReq{RequestedInfo: []wire.ProbeInformationType{wire.ProbeResponsibleSet, wire.ProbeNumResources, wire.ProbeUptime}}),
		msg("probe answer", 1, wire.CodeProbeAns, &wire.ProbeAns{ProbeInfo: []wire.ProbeInformation{
			{Type: wire.ProbeResponsibleSet, Value: 250000000}, {Type: wire.ProbeNumResources, Value: 12}, {Type: wire.ProbeUptime, Value: 3600}}}),
		msg("attach request", 2, wire.CodeAttachReq, &wire.AttachReqAns{Ufrag: []byte("aB3d"), Password: []byte("0123456789abcdefghijkl"), Role: []byte("passive"), Candidates: candidates(), SendUpdate: true}),
		msg("attach answer", 2, wire.CodeAttachAns, &wire.AttachReqAns{Ufrag: []byte("x9Yz"), Password: []byte("mnopqrstuvwxyz01234567"), Role: []byte("active"), Candidates: candidates()[:1]}),
		storeMsg,
		msg("store answer", 3, wire.CodeStoreAns, &wire.StoreAns{KindResponses: []wire.StoreKindResponse{
			{Kind: wire.KindSIPRegistration, Generation: 2, Replicas: []wire.NodeID{nodeC, nodeD}},
			{Kind: wire.KindCertificateByNode, Generation: 4, Replicas: []wire.NodeID{nodeC, nodeD}}}}),
		msg("fetch request", 4, wire.CodeFetchReq, &wire.FetchReq{Resource: Resource, Specifiers: []wire.StoredDataSpecifier{spec, specArr}}),
		msg("fetch answer", 4, wire.CodeFetchAns, fetchAns),
		msg("find request", 5, wire.CodeFindReq, &wire.FindReq{Resource: Resource, Kinds: []wire.KindID{wire.KindSIPRegistration}}),
		msg("find answer", 5, wire.CodeFindAns, &wire.FindAns{Results: []wire.FindKindData{{Kind: wire.KindSIPRegistration, Closest: Resource}}}),
		msg("join request", 6, wire.CodeJoinReq, &wire.JoinReq{JoiningPeerID: nodeA}),
		msg("join answer", 6, wire.CodeJoinAns, &wire.JoinAns{}),
		msg("leave request", 7, wire.CodeLeaveReq, &wire.LeaveReq{LeavingPeerID: nodeA, OverlaySpecificData: enc(leave)}),
		msg("leave answer", 7, wire.CodeLeaveAns, &wire.LeaveAns{}),
		msg("update request", 8, wire.CodeUpdateReq, chordFull),
		msg("update answer", 8, wire.CodeUpdateAns, &wire.UpdateAns{}),
		msg("route query request", 9, wire.CodeRouteQueryReq, &wire.RouteQueryReq{SendUpdate: false, Destination: wire.ResourceDest(Resource)}),
		msg("route query answer", 9, wire.CodeRouteQueryAns, &wire.ChordRouteQueryAns{NextPeer: nodeC}),
		msg("ping request", 10, wire.CodePingReq, &wire.PingReq{Padding: make([]byte, 32)}),
		msg("ping answer", 10, wire.CodePingAns, &wire.PingAns{ResponseID: 0x0123456789abcdef, Time: 1767225600000}),
		msg("diagnostic ping request", 11, wire.CodePingReq, &wire.PingReq{}, dreqExt),
		msg("diagnostic ping answer", 11, wire.CodePingAns, &wire.PingAns{ResponseID: 7, Time: 1767225600012}, drespExt),
		msg("stat request", 12, wire.CodeStatReq, &wire.StatReq{Resource: Resource, Specifiers: []wire.StoredDataSpecifier{spec}}),
		msg("stat answer", 12, wire.CodeStatAns, statAns),
		msg("app attach request", 13, wire.CodeAppAttachReq, &wire.AppAttachReq{Ufrag: []byte("sIp1"), Password: []byte("abcdefghijklmnopqrstuv"), Application: 5060, Role: []byte("passive"), Candidates: candidates()}),
		msg("app attach answer", 13, wire.CodeAppAttachAns, &wire.AppAttachAns{Ufrag: []byte("sIp2"), Password: []byte("vutsrqponmlkjihgfedcba"), Application: 5060, Role: []byte("active"), Candidates: candidates()[:1]}),
		msg("config update request", 14, wire.CodeConfigUpdateReq, &wire.ConfigUpdateReq{Type: wire.ConfigUpdateConfig, ConfigData: []byte(`<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"/>`)}),
		msg("config update answer", 14, wire.CodeConfigUpdateAns, &wire.ConfigUpdateAns{}),
		msg("path track request", 15, wire.CodePathTrackReq, &wire.PathTrackReq{Destination: wire.NodeDest(&nodeD), Request: dreq}),
		msg("path track answer", 15, wire.CodePathTrackAns, &wire.PathTrackAns{NextHop: wire.NodeDest(&nodeC), Response: diagResponse(99)}),
		msg("error: not found", 16, wire.CodeError, &wire.ErrorResponse{Code: wire.ErrCodeNotFound, Info: []byte("no such resource")}),
		msg("error: TTL exceeded", 17, wire.CodeError, &wire.ErrorResponse{Code: wire.ErrCodeTTLExceeded}),
		msg("error: underlay destination unreachable (RFC 7851)", 18, wire.CodeError, &wire.ErrorResponse{Code: wire.ErrCodeUnderlayDestinationUnreachable}),
	}
}
