package diag

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goreload/reload/wire"
)

// Overlay is how a Client reaches the overlay. The node layer implements it
// over forwarding and topology.
type Overlay interface {
	// NextHop gives the first hop of a Traceroute (see Router).
	Router
	// Request sends a request with the destination list dest (RFC 6940
	// §6.3.2.2), code, body and extensions, signed by the local node, and
	// waits for its answer, honouring ctx. An error response from the
	// overlay is an Answer with Code wire.CodeError, not an error; err is
	// for local failures (no route, timeout, ctx done). The Answer belongs
	// to the caller.
	Request(ctx context.Context, dest []wire.Destination, code wire.MessageCode, body []byte, exts []wire.MessageExtension) (Answer, error)
}

// Answer is an answer as the overlay delivered it.
type Answer struct {
	// From is the Node-ID that signed the answer (zero when unknown).
	From wire.NodeID
	// Code, Body and Extensions are the answer's MessageContents.
	Code       wire.MessageCode
	Body       []byte
	Extensions []wire.MessageExtension
}

// RemoteError is an error response (RFC 6940 §6.3.3.1) to a diagnostic
// request: Error_Forbidden, Error_Message_Expired, or one of the errors of
// RFC 7851 §4.4 an intermediate peer reports. It is the overlay-wide
// *wire.RemoteError: From is who answered (zero when unknown).
type RemoteError = wire.RemoteError

// Errors of a Client.
var (
	// ErrUnexpectedAnswer: the answer has the wrong code or a body or
	// extension that does not decode, or does not match the request.
	ErrUnexpectedAnswer = errors.New("diag: unexpected answer")
	// ErrLoop: a Traceroute came back to a peer already on the path.
	ErrLoop = errors.New("diag: routing loop")
	// ErrTooManyHops: a Traceroute reached Client.MaxHops.
	ErrTooManyHops = errors.New("diag: too many hops")
)

// Client sends diagnostic requests. The zero Client is ready to use.
type Client struct {
	// Now is the clock for timestamps and round-trip times; nil means
	// time.Now.
	Now func() time.Time
	// Lifetime sets the expiration of requests; zero means one minute. RFC
	// 7851 §5.1 allows 1 to 600 seconds.
	Lifetime time.Duration
	// InitialTTL is the overlay's initial-ttl, to turn hop_counter into a
	// number of hops; zero means 100.
	InitialTTL uint8
	// MaxHops bounds a Traceroute; zero means 100.
	MaxHops int
	// SourceRoute makes a Traceroute address each PathTrack with the whole
	// path found so far as destination list (RFC 6940 §6.3.2.2), so that
	// it follows exactly the hops that were named, instead of letting the
	// overlay route it to the hop's Node-ID.
	SourceRoute bool
}

func (c *Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Client) request(kinds []wire.DiagnosticKindID) (wire.DiagnosticsRequest, error) {
	flags, exts, err := splitKinds(kinds)
	if err != nil {
		return wire.DiagnosticsRequest{}, err
	}
	life := c.Lifetime
	if life == 0 {
		life = time.Minute
	}
	if life < time.Second || life > maxExpiration {
		return wire.DiagnosticsRequest{}, errors.New("diag: Client.Lifetime is not between 1 and 600 s")
	}
	now := c.now()
	return wire.DiagnosticsRequest{
		Expiration:         unixMilli(now.Add(life)),
		TimestampInitiated: unixMilli(now),
		Flags:              flags,
		Extensions:         exts,
	}, nil
}

// hops is the number of overlay hops a message took given the TTL it
// arrived with, assuming it was sent with initial-ttl and each forwarding
// peer decremented it once (RFC 6940 §6.3.2); 0 when that cannot be.
func (c *Client) hops(hopCounter uint8) int {
	ttl := c.InitialTTL
	if ttl == 0 {
		ttl = wire.DefaultTTL
	}
	if hopCounter > ttl {
		return 0
	}
	return int(ttl-hopCounter) + 1
}

func msTime(ms uint64) time.Time {
	if ms > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

func values(resp *wire.DiagnosticsResponse) []Value {
	v := make([]Value, len(resp.Info))
	for i, d := range resp.Info {
		v[i] = Value{Kind: d.Kind, Contents: append([]byte{}, d.Contents...)}
	}
	return v
}

func remoteError(ans *Answer) error {
	re := wire.ParseErrorAnswer(ans.Body, ans.From)
	if re.Err != nil {
		return fmt.Errorf("%w: malformed error response: %w", ErrUnexpectedAnswer, re.Err)
	}
	return re
}

// Result is the outcome of a diagnostic Ping.
type Result struct {
	Dest wire.Destination
	// From is the peer that answered (zero when the overlay does not say).
	From wire.NodeID
	// RTT is the round-trip time measured by the Client.
	RTT time.Duration
	// ResponseID and Time are the PingAns fields (RFC 6940 §6.5.3.2).
	ResponseID uint64
	Time       time.Time
	// Diagnostics is false when the answer carried no Diagnostic_Ping
	// extension: a peer without RFC 7851 support answered a plain Ping,
	// which the sender MUST accept (RFC 7851 §4.2.1). The fields below are
	// then zero.
	Diagnostics bool
	// HopCounter is the TTL the request arrived with; Hops the overlay
	// hops it took (RFC 7851 §6.4).
	HopCounter uint8
	Hops       int
	// Initiated and Received are timestamp_initiated and
	// timestamp_received; their difference is the one-way delay (RFC 7851
	// §6.4), meaningful only with synchronized clocks.
	Initiated, Received time.Time
	// Expires is the expiration of the response.
	Expires time.Time
	// Values holds the diagnostic information, in the order received.
	Values []Value
}

// OneWayDelay is Received minus Initiated.
func (r *Result) OneWayDelay() time.Duration { return r.Received.Sub(r.Initiated) }

// Lookup returns the value of kind k.
func (r *Result) Lookup(k wire.DiagnosticKindID) (Value, bool) { return lookup(r.Values, k) }

func lookup(vs []Value, k wire.DiagnosticKindID) (Value, bool) {
	for _, v := range vs {
		if v.Kind == k {
			return v, true
		}
	}
	return Value{}, false
}

// Ping sends a Ping toward dest with the Diagnostic_Ping extension asking
// for kinds (RFC 7851 §4.2, §6.1) and returns what the responsible peer
// answered. With no kinds it still measures the round trip and the hops.
// An error response is a *RemoteError.
func (c *Client) Ping(ctx context.Context, ov Overlay, dest wire.Destination, kinds ...wire.DiagnosticKindID) (Result, error) {
	if id, ok := dest.NodeID(); ok && id.IsWildcard() {
		return Result{}, errors.New("diag: a diagnostic Ping MUST NOT be sent to the broadcast Node-ID (RFC 7851 §6.1)")
	}
	dr, err := c.request(kinds)
	if err != nil {
		return Result{}, err
	}
	contents, err := dr.Append(nil)
	if err != nil {
		return Result{}, err
	}
	body, err := (&wire.PingReq{}).Append(nil)
	if err != nil {
		return Result{}, err
	}
	exts := []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Critical: false, Contents: contents}}
	t0 := c.now()
	ans, err := ov.Request(ctx, []wire.Destination{dest}, wire.CodePingReq, body, exts)
	rtt := c.now().Sub(t0)
	if err != nil {
		return Result{}, err
	}
	if ans.Code == wire.CodeError {
		return Result{}, remoteError(&ans)
	}
	if ans.Code != wire.CodePingAns {
		return Result{}, fmt.Errorf("%w: %v to a ping_req", ErrUnexpectedAnswer, ans.Code)
	}
	var pa wire.PingAns
	if _, err := pa.Decode(ans.Body); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnexpectedAnswer, err)
	}
	r := Result{Dest: dest, From: ans.From, RTT: rtt, ResponseID: pa.ResponseID, Time: msTime(pa.Time)}
	r.Dest.ID = append([]byte{}, dest.ID...)
	for i := range ans.Extensions {
		e := &ans.Extensions[i]
		if e.Type != wire.ExtDiagnosticPing {
			continue
		}
		var resp wire.DiagnosticsResponse
		if err := resp.DecodeExact(e.Contents); err != nil {
			return r, fmt.Errorf("%w: %w", ErrUnexpectedAnswer, err)
		}
		if resp.TimestampInitiated != dr.TimestampInitiated {
			return r, fmt.Errorf("%w: timestamp_initiated differs from the request's", ErrUnexpectedAnswer)
		}
		r.Diagnostics = true
		r.HopCounter, r.Hops = resp.HopCounter, c.hops(resp.HopCounter)
		r.Initiated, r.Received, r.Expires = msTime(resp.TimestampInitiated), msTime(resp.TimestampReceived), msTime(resp.Expiration)
		r.Values = values(&resp)
		break
	}
	return r, nil
}

// Hop is one peer on a Traceroute path.
type Hop struct {
	// N counts the hops from 1.
	N int
	// Node is the peer that answered; NextHop the one it names toward the
	// destination (itself at the last hop).
	Node, NextHop wire.NodeID
	// RTT is the round-trip time to this peer.
	RTT time.Duration
	// HopCounter is the TTL the PathTrack arrived with; Hops the overlay
	// hops it took to get there.
	HopCounter uint8
	Hops       int
	// Values holds the diagnostics of this peer.
	Values []Value
	// Err is set on the hop where the Traceroute stopped on an error: a
	// *RemoteError, a local error, or ErrLoop. Node is then the peer that
	// was asked.
	Err error
}

// Lookup returns the value of kind k.
func (h *Hop) Lookup(k wire.DiagnosticKindID) (Value, bool) { return lookup(h.Values, k) }

// Last reports whether the hop is the responsible peer for the destination
// (it names itself as next hop, RFC 7851 §4.3.1.2).
func (h *Hop) Last() bool { return h.Err == nil && h.Node == h.NextHop }

// Traceroute finds the path to dest the way RFC 7851 §4.3 describes: it
// asks the local node's next hop toward dest for its own next hop and
// diagnostics (kinds) with a PathTrack, then asks that next hop, and so
// on, until a peer names itself, being responsible for dest. It returns the
// hops in order. When it stops early, the last Hop carries the error that
// is also returned; hops before it are kept. When the local node is itself
// responsible, the one PathTrack goes to the local Node-ID.
func (c *Client) Traceroute(ctx context.Context, ov Overlay, dest wire.Destination, kinds ...wire.DiagnosticKindID) ([]Hop, error) {
	if _, _, err := splitKinds(kinds); err != nil {
		return nil, err
	}
	target, _, err := ov.NextHop(dest)
	if err != nil {
		return nil, fmt.Errorf("diag: no first hop to %v: %w", dest, err)
	}
	maxHops := c.MaxHops
	if maxHops <= 0 {
		maxHops = wire.DefaultTTL
	}
	var hops []Hop
	var route []wire.Destination
	seen := map[wire.NodeID]bool{}
	fail := func(n int, node wire.NodeID, rtt time.Duration, err error) ([]Hop, error) {
		return append(hops, Hop{N: n, Node: node, RTT: rtt, Err: err}), err
	}
	for n := 1; ; n++ {
		if n > maxHops {
			return hops, fmt.Errorf("%w: no end after %d", ErrTooManyHops, maxHops)
		}
		dr, err := c.request(kinds)
		if err != nil {
			return hops, err
		}
		body, err := (&wire.PathTrackReq{Destination: dest, Request: dr}).Append(nil)
		if err != nil {
			return hops, err
		}
		to := target
		if c.SourceRoute {
			route = append(route, wire.NodeDest(&to))
		} else {
			route = append(route[:0], wire.NodeDest(&to))
		}
		t0 := c.now()
		ans, err := ov.Request(ctx, route, wire.CodePathTrackReq, body, nil)
		rtt := c.now().Sub(t0)
		if err != nil {
			return fail(n, target, rtt, err)
		}
		if ans.Code == wire.CodeError {
			return fail(n, target, rtt, remoteError(&ans))
		}
		if ans.Code != wire.CodePathTrackAns {
			return fail(n, target, rtt, fmt.Errorf("%w: %v to a path_track_req", ErrUnexpectedAnswer, ans.Code))
		}
		var pa wire.PathTrackAns
		if _, err := pa.Decode(ans.Body); err != nil {
			return fail(n, target, rtt, fmt.Errorf("%w: %w", ErrUnexpectedAnswer, err))
		}
		next, ok := pa.NextHop.NodeID()
		if !ok {
			return fail(n, target, rtt, fmt.Errorf("%w: next_hop %v is not a Node-ID", ErrUnexpectedAnswer, pa.NextHop))
		}
		if pa.Response.TimestampInitiated != dr.TimestampInitiated {
			return fail(n, target, rtt, fmt.Errorf("%w: timestamp_initiated differs from the request's", ErrUnexpectedAnswer))
		}
		node := ans.From
		if !node.Valid() {
			node = target
		}
		hops = append(hops, Hop{
			N: n, Node: node, NextHop: next, RTT: rtt,
			HopCounter: pa.Response.HopCounter, Hops: c.hops(pa.Response.HopCounter),
			Values: values(&pa.Response),
		})
		if next == node {
			return hops, nil
		}
		seen[node] = true
		if seen[next] {
			return fail(n+1, next, 0, fmt.Errorf("%w: %v is already on the path", ErrLoop, next))
		}
		target = next
	}
}

var defaultClient Client

// Ping is Client.Ping with the zero Client.
func Ping(ctx context.Context, ov Overlay, dest wire.Destination, kinds ...wire.DiagnosticKindID) (Result, error) {
	return defaultClient.Ping(ctx, ov, dest, kinds...)
}

// Traceroute is Client.Traceroute with the zero Client.
func Traceroute(ctx context.Context, ov Overlay, dest wire.Destination, kinds ...wire.DiagnosticKindID) ([]Hop, error) {
	return defaultClient.Traceroute(ctx, ov, dest, kinds...)
}
