package diag

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/wire"
)

// Router is what a Server asks of the overlay's topology for PathTrack, and
// what a Client asks for the first hop of a Traceroute.
type Router interface {
	// NextHop is the neighbor the local node would forward a message for
	// dest to. When the local node is itself responsible for dest, next is
	// the local Node-ID and responsible is true. An error that is a
	// *wire.ProtocolError is answered as is; any other means no route
	// (Error_Not_Found).
	NextHop(dest wire.Destination) (next wire.NodeID, responsible bool, err error)
}

// Request is what a Server needs of a received request.
type Request struct {
	// From is the sender's Node-ID as authenticated by the message
	// signature (RFC 7851 §4.1: the signature identifies the requester for
	// authorization).
	From wire.NodeID
	// TTL is the TTL of the forwarding header as received; it becomes the
	// hop_counter of the response (RFC 7851 §5.2).
	TTL uint8
	// Code, Body and Extensions are the MessageContents of the request.
	Code       wire.MessageCode
	Body       []byte
	Extensions []wire.MessageExtension
}

// RequestFrom makes the Request for a decoded message whose signer is from.
func RequestFrom(m *wire.Message, from wire.NodeID) Request {
	return Request{
		From: from, TTL: m.Header.TTL,
		Code: m.Contents.Code, Body: m.Contents.Body, Extensions: m.Contents.Extensions,
	}
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// Self is the local Node-ID.
	Self wire.NodeID
	// Router finds next hops for PathTrack.
	Router Router
	// Stats provides the values; nil means NoStats.
	Stats Stats
	// Policy is the initial policy; SetPolicy replaces it.
	Policy Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ResponseLifetime sets the expiration of responses; zero means one
	// minute. RFC 7851 §5.2 allows 1 to 600 seconds.
	ResponseLifetime time.Duration
	// ClockSkew is how far beyond 600 s in the future a request's
	// expiration may be before the request is refused as invalid; zero
	// means 10 s.
	ClockSkew time.Duration
}

// Server answers diagnostic requests (RFC 7851 §6.3) with the values of a
// Stats, under a Policy. Its methods are safe for concurrent use.
type Server struct {
	self     wire.NodeID
	router   Router
	stats    Stats
	now      func() time.Time
	lifetime time.Duration
	skew     time.Duration
	policy   atomic.Pointer[Policy]
}

// maxExpiration is the furthest in the future RFC 7851 §5.1 lets an
// expiration be.
const maxExpiration = 600 * time.Second

// NewServer returns a Server for cfg. Self must be a valid Node-ID and
// Router non-nil.
func NewServer(cfg ServerConfig) (*Server, error) {
	if !cfg.Self.Valid() {
		return nil, errors.New("diag: ServerConfig.Self is not a valid Node-ID")
	}
	if cfg.Router == nil {
		return nil, errors.New("diag: ServerConfig.Router is nil")
	}
	if cfg.ResponseLifetime < 0 || cfg.ResponseLifetime > maxExpiration {
		return nil, errors.New("diag: ServerConfig.ResponseLifetime is not within 600 s")
	}
	s := &Server{self: cfg.Self, router: cfg.Router, stats: cfg.Stats, now: cfg.Now,
		lifetime: cfg.ResponseLifetime, skew: cfg.ClockSkew}
	if s.stats == nil {
		s.stats = NoStats{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lifetime == 0 {
		s.lifetime = time.Minute
	}
	if s.skew <= 0 {
		s.skew = 10 * time.Second
	}
	s.SetPolicy(cfg.Policy)
	return s, nil
}

// SetPolicy replaces the policy, for instance after a configuration update.
func (s *Server) SetPolicy(p Policy) { s.policy.Store(p.clone()) }

// Policy returns a copy of the current policy.
func (s *Server) Policy() Policy { return *s.policy.Load().clone() }

func protoErr(code wire.ErrorCode, info string, cause error) *wire.ProtocolError {
	return &wire.ProtocolError{Code: code, Info: []byte(info), Err: cause}
}

// HandlePing serves the Diagnostic_Ping extension of a Ping request (RFC
// 7851 §4.2, §6.3). When the request is a ping_req carrying the extension,
// it returns the extension to put on the ping_ans: type Diagnostic_Ping,
// not critical, holding the DiagnosticsResponse. ok is false when there is
// nothing to add: not a Ping (RFC 7851 §4.2.1: the extension on another
// method MUST be ignored) or no extension. The PingAns body itself is the
// caller's (RFC 6940 §6.5.3).
//
// A non-nil error is a *wire.ProtocolError to answer instead of the
// ping_ans: Error_Invalid_Message for a malformed DiagnosticsRequest,
// Error_Message_Expired, or Error_Forbidden.
func (s *Server) HandlePing(req Request) (ext wire.MessageExtension, ok bool, err error) {
	if req.Code != wire.CodePingReq {
		return wire.MessageExtension{}, false, nil
	}
	var in *wire.MessageExtension
	for i := range req.Extensions {
		if req.Extensions[i].Type == wire.ExtDiagnosticPing {
			in = &req.Extensions[i]
			break
		}
	}
	if in == nil {
		return wire.MessageExtension{}, false, nil
	}
	var dr wire.DiagnosticsRequest
	if err := dr.DecodeExact(in.Contents); err != nil {
		return wire.MessageExtension{}, false, protoErr(wire.ErrCodeInvalidMessage,
			"diag: malformed DiagnosticsRequest in Diagnostic_Ping", err)
	}
	resp, perr := s.respond(&req, &dr, wire.NodeID{}, false)
	if perr != nil {
		return wire.MessageExtension{}, false, perr
	}
	c, err := resp.Append(nil)
	if err != nil {
		return wire.MessageExtension{}, false, protoErr(wire.ErrCodeResponseTooLarge, "diag: response", err)
	}
	return wire.MessageExtension{Type: wire.ExtDiagnosticPing, Contents: c}, true, nil
}

// HandlePathTrack serves a path_track_req (RFC 7851 §4.3.1, §6.3) and
// returns the body of the path_track_ans (0x28): next_hop is the neighbor
// this node would forward toward the request's destination, or this node
// itself when it is responsible for it, and response the diagnostics of this
// node. It does not forward anything: the requester walks the path (RFC
// 7851 §4.3, Figure 2).
//
// A non-nil error is a *wire.ProtocolError to answer with:
// Error_Invalid_Message, Error_Message_Expired, Error_Forbidden, or the
// Router's error (Error_Not_Found when it has no route).
func (s *Server) HandlePathTrack(req Request) ([]byte, error) {
	if req.Code != wire.CodePathTrackReq {
		return nil, protoErr(wire.ErrCodeInvalidMessage, "diag: not a path_track_req", nil)
	}
	var pt wire.PathTrackReq
	if _, err := pt.Decode(req.Body); err != nil {
		return nil, protoErr(wire.ErrCodeInvalidMessage, "diag: malformed PathTrackReq", err)
	}
	if pt.Destination.Type != wire.DestNode && pt.Destination.Type != wire.DestResource || pt.Destination.Compressed {
		return nil, protoErr(wire.ErrCodeInvalidMessage, "diag: PathTrack destination is neither a node nor a resource", nil)
	}
	if err := s.checkTime(&pt.Request); err != nil {
		return nil, err
	}
	next, responsible, err := s.router.NextHop(pt.Destination)
	if err != nil {
		if pe, ok := errors.AsType[*wire.ProtocolError](err); ok {
			return nil, pe
		}
		return nil, protoErr(wire.ErrCodeNotFound, "diag: no route to "+pt.Destination.String(), err)
	}
	if responsible {
		next = s.self
	}
	if !next.Valid() {
		return nil, protoErr(wire.ErrCodeNotFound, "diag: no next hop to "+pt.Destination.String(), nil)
	}
	if !responsible && !s.policy.Load().DiscloseNodeIDs {
		return nil, protoErr(wire.ErrCodeForbidden, "diag: this peer does not disclose its next hop", nil)
	}
	resp, perr := s.respond(&req, &pt.Request, next, !responsible)
	if perr != nil {
		return nil, perr
	}
	ans := wire.PathTrackAns{NextHop: wire.NodeDest(&next), Response: *resp}
	b, err := ans.Append(nil)
	if err != nil {
		return nil, protoErr(wire.ErrCodeResponseTooLarge, "diag: response", err)
	}
	return b, nil
}

func unixMilli(t time.Time) uint64 { return uint64(max(t.UnixMilli(), 0)) }

// checkTime applies RFC 7851 §5.1 and §6.3 to the request's expiration.
func (s *Server) checkTime(dr *wire.DiagnosticsRequest) *wire.ProtocolError {
	now := s.now()
	if dr.Expiration <= unixMilli(now) {
		return protoErr(wire.ErrCodeMessageExpired, "diag: request expired", nil)
	}
	if dr.Expiration > unixMilli(now.Add(maxExpiration+s.skew)) {
		return protoErr(wire.ErrCodeInvalidMessage, "diag: expiration more than 600 s ahead", nil)
	}
	return nil
}

// requested lists the kinds dr asks for, each once: the dMFlags kinds
// (for all ones, every kind RFC 7851 defines) then the extension kinds.
func requested(dr *wire.DiagnosticsRequest) []wire.DiagnosticKindID {
	var kinds []wire.DiagnosticKindID
	if dr.Flags == wire.DMFlagsAll {
		kinds = append(kinds, BaseKinds...)
	} else {
		kinds = dr.Flags.AppendKinds(kinds)
	}
	for _, e := range dr.Extensions {
		dup := false
		for _, k := range kinds {
			dup = dup || k == e.Kind
		}
		if !dup {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

// respond builds the DiagnosticsResponse for dr (RFC 7851 §6.3). next is
// the next hop of a PathTrack (for UNDERLAY_HOP) when hasNext.
func (s *Server) respond(req *Request, dr *wire.DiagnosticsRequest, next wire.NodeID, hasNext bool) (*wire.DiagnosticsResponse, *wire.ProtocolError) {
	if err := s.checkTime(dr); err != nil {
		return nil, err
	}
	now := s.now()
	pol := s.policy.Load()
	kinds := requested(dr)
	var denied []string
	for _, k := range kinds {
		if !pol.Allowed(k, req.From) {
			denied = append(denied, KindName(k))
		}
	}
	if len(denied) > 0 {
		return nil, protoErr(wire.ErrCodeForbidden,
			"diag: not authorized for "+strings.Join(denied, ","), nil)
	}
	resp := &wire.DiagnosticsResponse{
		Expiration:         unixMilli(now.Add(s.lifetime)),
		TimestampInitiated: dr.TimestampInitiated,
		TimestampReceived:  unixMilli(now),
		HopCounter:         req.TTL,
	}
	var buf []byte
	for _, k := range kinds {
		start := len(buf)
		var ok bool
		buf, ok = s.value(buf, k, pol, next, hasNext)
		if !ok || len(buf)-start > 0xffff {
			buf = buf[:start]
			continue
		}
		resp.Info = append(resp.Info, wire.DiagnosticInfo{Kind: k, Contents: buf[start:len(buf):len(buf)]})
	}
	return resp, nil
}

// value appends the value of kind k to b; ok is false when the kind is
// unknown here or cannot be measured, and it is then left out (RFC 7851
// §5.1: extensions are answered "if the recipient understands the extended
// request and is willing to provide it").
func (s *Server) value(b []byte, k wire.DiagnosticKindID, pol *Policy, next wire.NodeID, hasNext bool) ([]byte, bool) {
	st := s.stats
	u64 := func(v uint64, ok bool) ([]byte, bool) { return wire.AppendDiagU64(b, v), ok }
	u32 := func(v uint32, ok bool) ([]byte, bool) { return wire.AppendDiagU32(b, v), ok }
	secs := func(d time.Duration, ok bool) ([]byte, bool) {
		return wire.AppendDiagU64(b, uint64(max(d, 0)/time.Second)), ok
	}
	switch k {
	case wire.DiagStatusInfo:
		v, ok := st.StatusInfo()
		if !ok {
			return b, false
		}
		b, err := wire.AppendStatusInfo(b, min(v, 15))
		return b, err == nil
	case wire.DiagRoutingTableSize:
		return u32(st.RoutingTableSize())
	case wire.DiagProcessPower:
		return u64(st.ProcessPower())
	case wire.DiagUpstreamBandwidth:
		return u64(st.UpstreamBandwidth())
	case wire.DiagDownstreamBandwidth:
		return u64(st.DownstreamBandwidth())
	case wire.DiagSoftwareVersion:
		v, ok := st.SoftwareVersion()
		if !ok {
			return b, false
		}
		b, err := wire.AppendSoftwareVersion(b, v)
		return b, err == nil
	case wire.DiagMachineUptime:
		return secs(st.MachineUptime())
	case wire.DiagAppUptime:
		return secs(st.AppUptime())
	case wire.DiagMemoryFootprint:
		v, ok := st.MemoryFootprint()
		return wire.AppendDiagU64(b, v/1024+min(v%1024, 1)), ok // KiB, rounded up
	case wire.DiagDatasizeStored:
		return u64(st.DatasizeStored())
	case wire.DiagInstancesStored:
		m, ok := st.InstancesStored()
		if !ok {
			return b, false
		}
		return wire.AppendInstancesStored(b, instancesArray(m)), true
	case wire.DiagMessagesSentRcvd:
		v, ok := st.MessagesSentRcvd()
		if !ok {
			return b, false
		}
		return wire.AppendMessagesSentRcvd(b, v[:min(len(v), maxCodeEntries)]), true
	case wire.DiagEWMABytesSent:
		return u32(st.EWMABytesSent())
	case wire.DiagEWMABytesRcvd:
		return u32(st.EWMABytesRcvd())
	case wire.DiagUnderlayHop:
		if !hasNext {
			return b, false // no next hop: the responsible peer of a Ping
		}
		v, ok := st.UnderlayHop(next)
		return wire.AppendDiagU8(b, v), ok
	case wire.DiagBatteryStatus:
		v, ok := st.BatteryStatus()
		return wire.AppendDiagU8(b, v), ok
	case KindUnderlayAddress:
		if !pol.DiscloseAddresses {
			return b, false
		}
		addrs, ok := st.UnderlayAddresses()
		if !ok || len(addrs) == 0 {
			return b, false
		}
		for _, a := range addrs {
			ip := wire.IPAddressPortFrom(a)
			var err error
			if b, err = ip.Append(b); err != nil {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

// maxKindEntries bounds INSTANCES_STORED: 8 bytes an entry in a
// DiagnosticInfo of at most 65535 bytes.
const maxKindEntries = 0xffff / 8

// instancesArray lays out INSTANCES_STORED, indexed by Kind-ID (RFC 7851
// §5.3). Kinds too large to index within the 64 KiB of a DiagnosticInfo
// (private and local kinds such as 0xf0000001) cannot be reported and are
// left out.
func instancesArray(m map[wire.KindID]uint64) []uint64 {
	n := 0
	for k, c := range m {
		if c > 0 && int64(k) < maxKindEntries {
			n = max(n, int(k)+1)
		}
	}
	a := make([]uint64, n)
	for k, c := range m {
		if int64(k) < int64(n) {
			a[k] = c
		}
	}
	return a
}

// CheckTransit is the check RFC 7851 §6.2 asks of intermediate peers: given
// the encoded MessageContents of a message being forwarded, it returns
// Error_Message_Expired for a PathTrack request or answer, or a Ping
// request or answer with the Diagnostic_Ping extension, whose expiration
// has passed. Anything else, including what it cannot decode (that is for
// the destination to judge), is nil.
func CheckTransit(contents []byte, now time.Time) error {
	var mc wire.MessageContents
	if _, err := mc.Decode(contents); err != nil {
		return nil
	}
	var exp uint64
	switch mc.Code {
	case wire.CodePathTrackReq:
		var pt wire.PathTrackReq
		if _, err := pt.Decode(mc.Body); err != nil {
			return nil
		}
		exp = pt.Request.Expiration
	case wire.CodePathTrackAns:
		var pt wire.PathTrackAns
		if _, err := pt.Decode(mc.Body); err != nil {
			return nil
		}
		exp = pt.Response.Expiration
	case wire.CodePingReq, wire.CodePingAns:
		e, ok := mc.Extension(wire.ExtDiagnosticPing)
		if !ok {
			return nil
		}
		body, _ := wire.NewExtension(wire.ExtDiagnosticPing, mc.Code)
		n, err := body.Decode(e.Contents)
		if err != nil || n != len(e.Contents) {
			return nil
		}
		switch d := body.(type) {
		case *wire.DiagnosticsRequest:
			exp = d.Expiration
		case *wire.DiagnosticsResponse:
			exp = d.Expiration
		}
	default:
		return nil
	}
	if exp <= unixMilli(now) {
		return protoErr(wire.ErrCodeMessageExpired, fmt.Sprintf("diag: %v expired in transit", mc.Code), nil)
	}
	return nil
}
