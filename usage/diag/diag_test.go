package diag

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

func allowAll() Policy {
	p := DefaultPolicy()
	p.Default = Allow
	return p
}

func wantRemote(t *testing.T, err error, code wire.ErrorCode) *RemoteError {
	t.Helper()
	re, ok := errors.AsType[*RemoteError](err)
	if !ok {
		t.Fatalf("err = %v, want a RemoteError %v", err, code)
	}
	if re.Code != code {
		t.Fatalf("error code = %v (%s), want %v", re.Code, re.Info, code)
	}
	return re
}

func wantProto(t *testing.T, err error, code wire.ErrorCode) {
	t.Helper()
	pe, ok := errors.AsType[*wire.ProtocolError](err)
	if !ok {
		t.Fatalf("err = %v, want a ProtocolError %v", err, code)
	}
	if pe.Code != code {
		t.Fatalf("error code = %v (%s), want %v", pe.Code, pe.Info, code)
	}
}

func uintOf(t *testing.T, vs []Value, k wire.DiagnosticKindID) uint64 {
	t.Helper()
	v, ok := lookup(vs, k)
	if !ok {
		t.Fatalf("%v missing from %v", KindName(k), vs)
	}
	u, ok := v.Uint()
	if !ok {
		t.Fatalf("%v: not an integer: %x", KindName(k), v.Contents)
	}
	return u
}

// RFC 7851 §4.3: the requester asks each peer on the path in turn, and the
// walk ends at the peer that names itself as next hop.
func TestTracerouteFollowsRoute(t *testing.T) {
	const n = 6
	for _, tc := range []struct {
		name   string
		source bool
		dest   func(c *chain) wire.Destination
	}{
		{"node", false, func(c *chain) wire.Destination { return wire.NodeDest(&c.ids[n-1]) }},
		{"node source-routed", true, func(c *chain) wire.Destination { return wire.NodeDest(&c.ids[n-1]) }},
		{"resource", false, func(c *chain) wire.Destination { return wire.ResourceDest(wire.ResourceID{1, 2, 3, 4}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t, n, allowAll())
			cl := &Client{Now: c.clock.Now, SourceRoute: tc.source}
			hops, err := cl.Traceroute(context.Background(), c.overlay(), tc.dest(c), wire.DiagStatusInfo, wire.DiagAppUptime, wire.DiagRoutingTableSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(hops) != n-1 {
				t.Fatalf("%d hops, want %d:\n%v", len(hops), n-1, hops)
			}
			for k, h := range hops {
				i := k + 1 // peer i is k+1 links away
				if h.N != i || h.Node != c.ids[i] {
					t.Errorf("hop %d = %d %v, want peer %d %v", k, h.N, h.Node, i, c.ids[i])
				}
				wantNext := c.ids[min(i+1, n-1)]
				if h.NextHop != wantNext {
					t.Errorf("hop %d next_hop = %v, want %v", i, h.NextHop, wantNext)
				}
				if want := time.Duration(2*i) * c.latency; h.RTT != want {
					t.Errorf("hop %d RTT = %v, want %v", i, h.RTT, want)
				}
				// Peers 1..i-1 forwarded and decremented (RFC 6940 §6.3.2).
				if h.HopCounter != uint8(wire.DefaultTTL-(i-1)) || h.Hops != i {
					t.Errorf("hop %d hop_counter = %d, hops = %d", i, h.HopCounter, h.Hops)
				}
				if got := uintOf(t, h.Values, wire.DiagRoutingTableSize); got != uint64(min(i, 1)+min(n-1-i, 1)) {
					t.Errorf("hop %d ROUTING_TABLE_SIZE = %d", i, got)
				}
				if len(h.Values) != 3 {
					t.Errorf("hop %d values = %v", i, h.Values)
				}
				if h.Last() != (i == n-1) {
					t.Errorf("hop %d Last = %v", i, h.Last())
				}
			}
			if c.messages == 0 {
				t.Fatal("no message went through the wire check")
			}
		})
	}
}

func TestTracerouteToSelf(t *testing.T) {
	c := newChain(t, 3, allowAll())
	hops, err := (&Client{Now: c.clock.Now}).Traceroute(context.Background(), c.overlay(), wire.NodeDest(&c.ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) != 1 || hops[0].Node != c.ids[0] || !hops[0].Last() || hops[0].RTT != 0 {
		t.Fatalf("hops = %v", hops)
	}
}

func TestTracerouteLoop(t *testing.T) {
	c := newChain(t, 5, allowAll())
	c.next[2] = 1 // peer 2 sends everything back to peer 1
	hops, err := (&Client{Now: c.clock.Now}).Traceroute(context.Background(), c.overlay(), wire.NodeDest(&c.ids[4]))
	if !errors.Is(err, ErrLoop) {
		t.Fatalf("err = %v, want ErrLoop", err)
	}
	if len(hops) != 3 || hops[2].Err == nil || hops[2].Node != c.ids[1] {
		t.Fatalf("hops = %v", hops)
	}
}

func TestTracerouteMaxHops(t *testing.T) {
	c := newChain(t, 6, allowAll())
	hops, err := (&Client{Now: c.clock.Now, MaxHops: 3}).Traceroute(context.Background(), c.overlay(), wire.NodeDest(&c.ids[5]))
	if !errors.Is(err, ErrTooManyHops) || len(hops) != 3 {
		t.Fatalf("err = %v, hops = %v", err, hops)
	}
}

// RFC 7851 §5.3, §6.3: every requested kind the peer can provide comes
// back with its value; the ones it cannot measure are left out.
func TestPingReturnsRequestedKinds(t *testing.T) {
	pol := allowAll()
	pol.DiscloseAddresses = true
	c := newChain(t, 3, pol)
	start := c.clock.Now()
	cl := &Client{Now: c.clock.Now}
	kinds := append(slices.Clone(BaseKinds), KindUnderlayAddress)
	dest := wire.NodeDest(&c.ids[2])
	r, err := cl.Ping(context.Background(), c.overlay(), dest, kinds...)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Diagnostics || r.From != c.ids[2] || r.Hops != 2 || r.HopCounter != wire.DefaultTTL-1 {
		t.Fatalf("result = %+v", r)
	}
	if r.RTT != 4*c.latency || r.OneWayDelay() != 2*c.latency {
		t.Errorf("RTT = %v, one-way = %v", r.RTT, r.OneWayDelay())
	}
	elapsed := uint64(r.Received.Sub(start) / time.Second)
	for _, tc := range []struct {
		k    wire.DiagnosticKindID
		want uint64
	}{
		{wire.DiagStatusInfo, 0},
		{wire.DiagRoutingTableSize, 1},
		{wire.DiagProcessPower, 4000 * uint64(runtime.NumCPU())},
		{wire.DiagMachineUptime, 3600 + elapsed},
		{wire.DiagAppUptime, elapsed},
		{wire.DiagMemoryFootprint, 20480},
		{wire.DiagDatasizeStored, 2000},
	} {
		if got := uintOf(t, r.Values, tc.k); got != tc.want {
			t.Errorf("%v = %d, want %d", KindName(tc.k), got, tc.want)
		}
	}
	for _, k := range []wire.DiagnosticKindID{wire.DiagUpstreamBandwidth, wire.DiagDownstreamBandwidth, wire.DiagUnderlayHop, wire.DiagBatteryStatus} {
		if _, ok := r.Lookup(k); ok {
			t.Errorf("%v present though it cannot be measured", KindName(k))
		}
	}
	sv, _ := r.Lookup(wire.DiagSoftwareVersion)
	if s, ok := sv.Text(); !ok || s != "test/1.0" {
		t.Errorf("SOFTWARE_VERSION = %q", s)
	}
	iv, _ := r.Lookup(wire.DiagInstancesStored)
	if m, ok := iv.Instances(); !ok || m[1] != 2 || m[3] != 1 || len(m) != 2 {
		t.Errorf("INSTANCES_STORED = %v", m)
	}
	av, _ := r.Lookup(KindUnderlayAddress)
	if a, ok := av.Addresses(); !ok || len(a) != 1 || a[0] != "192.0.2.3:6084" {
		t.Errorf("UNDERLAY_ADDRESS = %v", a)
	}
	// Peer 2 has received the ping and not yet sent anything.
	if got := uintOf(t, r.Values, wire.DiagEWMABytesRcvd); got == 0 {
		t.Errorf("EWMA_BYTES_RCVD = %d after traffic", got)
	}
	if got := uintOf(t, r.Values, wire.DiagEWMABytesSent); got != 0 {
		t.Errorf("EWMA_BYTES_SENT = %d before sending", got)
	}
	mv, _ := r.Lookup(wire.DiagMessagesSentRcvd)
	m1, _ := mv.Messages()
	if m1[wire.CodePingReq].Rcvd != 1 {
		t.Errorf("MESSAGES_SENT_RCVD = %v", m1)
	}

	// Ten minutes and more traffic later the counters and uptimes grew.
	c.clock.Advance(10 * time.Minute)
	for range 3 {
		if _, err := cl.Ping(context.Background(), c.overlay(), dest); err != nil {
			t.Fatal(err)
		}
	}
	c.clock.Advance(5 * time.Second) // one EWMA period (RFC 7851 §5.3)
	r2, err := cl.Ping(context.Background(), c.overlay(), dest, kinds...)
	if err != nil {
		t.Fatal(err)
	}
	if d := uintOf(t, r2.Values, wire.DiagAppUptime) - uintOf(t, r.Values, wire.DiagAppUptime); d < 600 {
		t.Errorf("APP_UPTIME grew by %d s over 10 minutes", d)
	}
	if d := uintOf(t, r2.Values, wire.DiagMachineUptime) - uintOf(t, r.Values, wire.DiagMachineUptime); d < 600 {
		t.Errorf("MACHINE_UPTIME grew by %d s over 10 minutes", d)
	}
	if got := uintOf(t, r2.Values, wire.DiagEWMABytesSent); got == 0 {
		t.Errorf("EWMA_BYTES_SENT = %d after three answers", got)
	}
	mv2, _ := r2.Lookup(wire.DiagMessagesSentRcvd)
	m2, _ := mv2.Messages()
	if m2[wire.CodePingReq].Rcvd != 5 || m2[wire.CodePingAns].Sent != 4 {
		t.Errorf("MESSAGES_SENT_RCVD after 5 pings = %v", m2)
	}
}

// RFC 7851 §4.2.1: a sender MUST accept a response without diagnostics.
func TestPingPeerWithoutDiagnostics(t *testing.T) {
	c := newChain(t, 2, allowAll())
	c.plain[1] = true
	r, err := (&Client{Now: c.clock.Now}).Ping(context.Background(), c.overlay(), wire.NodeDest(&c.ids[1]), wire.DiagStatusInfo)
	if err != nil || r.Diagnostics || r.Values != nil || r.From != c.ids[1] {
		t.Fatalf("r = %+v, err = %v", r, err)
	}
}

func TestPingBroadcastRefused(t *testing.T) {
	c := newChain(t, 2, allowAll())
	all := wire.MustNodeID([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if _, err := Ping(context.Background(), c.overlay(), wire.NodeDest(&all)); err == nil {
		t.Fatal("ping to the broadcast Node-ID was sent")
	}
}

// RFC 7851 §6.3, §7: kinds with access-node entries are for those nodes
// only, others follow the default; a refusal is Error_Forbidden.
func TestPolicyRefusals(t *testing.T) {
	c := newChain(t, 3, DefaultPolicy())
	cl := &Client{Now: c.clock.Now}
	ov, dest := c.overlay(), wire.NodeDest(&c.ids[2])
	ctx := context.Background()

	// Nothing asked, nothing to authorize.
	if _, err := cl.Ping(ctx, ov, dest); err != nil {
		t.Fatalf("empty diagnostic ping under deny-all: %v", err)
	}
	_, err := cl.Ping(ctx, ov, dest, wire.DiagMemoryFootprint)
	wantRemote(t, err, wire.ErrCodeForbidden)

	pol, err := NewPolicy([]KindAccess{
		{Kind: uint16(wire.DiagMemoryFootprint), AccessNodes: []string{c.ids[0].String()}},
		{Kind: uint16(wire.DiagAppUptime), AccessNodes: []string{c.ids[1].String()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.servers {
		s.SetPolicy(pol)
	}
	if _, err := cl.Ping(ctx, ov, dest, wire.DiagMemoryFootprint); err != nil {
		t.Fatalf("granted kind: %v", err)
	}
	for _, k := range [][]wire.DiagnosticKindID{
		{wire.DiagAppUptime},                           // granted to another node
		{wire.DiagStatusInfo},                          // no entry: default deny
		{wire.DiagMemoryFootprint, wire.DiagAppUptime}, // one denied denies all
	} {
		_, err := cl.Ping(ctx, ov, dest, k...)
		re := wantRemote(t, err, wire.ErrCodeForbidden)
		if re.From != c.ids[2] {
			t.Errorf("refused by %v", re.From)
		}
	}
	hops, err := cl.Traceroute(ctx, ov, dest, wire.DiagStatusInfo)
	wantRemote(t, err, wire.ErrCodeForbidden)
	if len(hops) != 1 || hops[0].Node != c.ids[1] {
		t.Errorf("hops = %v", hops)
	}
}

// RFC 7851 §8: a peer may keep its next hop and its addresses to itself.
func TestPolicyDisclosure(t *testing.T) {
	pol := allowAll() // DiscloseAddresses is off by default
	c := newChain(t, 4, pol)
	cl := &Client{Now: c.clock.Now}
	ctx := context.Background()
	r, err := cl.Ping(ctx, c.overlay(), wire.NodeDest(&c.ids[3]), KindUnderlayAddress, wire.DiagAppUptime)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(KindUnderlayAddress); ok {
		t.Error("address disclosed by default")
	}
	if _, ok := r.Lookup(wire.DiagAppUptime); !ok {
		t.Error("APP_UPTIME missing")
	}

	pol.DiscloseNodeIDs = false
	c.servers[2].SetPolicy(pol)
	hops, err := cl.Traceroute(ctx, c.overlay(), wire.NodeDest(&c.ids[3]))
	wantRemote(t, err, wire.ErrCodeForbidden)
	if len(hops) != 2 || hops[1].Node != c.ids[2] || hops[1].Err == nil {
		t.Fatalf("hops = %v", hops)
	}
	// The responsible peer names only itself, so it still answers.
	if _, err := cl.Traceroute(ctx, c.overlay(), wire.NodeDest(&c.ids[1])); err != nil {
		t.Fatal(err)
	}
	c.servers[1].SetPolicy(pol)
	hops, err = cl.Traceroute(ctx, c.overlay(), wire.NodeDest(&c.ids[1]))
	if err != nil || len(hops) != 1 || !hops[0].Last() {
		t.Fatalf("hops = %v, err = %v", hops, err)
	}
}

// RFC 7851 §6.2: an intermediate peer answers an expired request with
// Error_Message_Expired.
func TestExpiredInTransit(t *testing.T) {
	c := newChain(t, 4, allowAll())
	c.latency = 40 * time.Second
	cl := &Client{Now: c.clock.Now, Lifetime: time.Minute}
	_, err := cl.Ping(context.Background(), c.overlay(), wire.NodeDest(&c.ids[3]), wire.DiagStatusInfo)
	re := wantRemote(t, err, wire.ErrCodeMessageExpired)
	if re.From != c.ids[2] {
		t.Errorf("expired at %v, want peer 2", re.From)
	}
}

func newTestServer(t *testing.T, pol Policy, now func() time.Time) *Server {
	t.Helper()
	c := &chain{ids: []wire.NodeID{testID(0), testID(1)}}
	s, err := NewServer(ServerConfig{Self: c.ids[1], Router: chainRouter{c, 1}, Policy: pol, Now: now,
		Stats: NewLocalStats(LocalConfig{Now: now, FS: procFS()})})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pingReq(t *testing.T, dr *wire.DiagnosticsRequest) Request {
	t.Helper()
	c := must(dr.Append(nil))
	return Request{From: testID(0), TTL: 97, Code: wire.CodePingReq, Body: must((&wire.PingReq{}).Append(nil)),
		Extensions: []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: c}}}
}

func pathTrackReq(t *testing.T, dr *wire.DiagnosticsRequest) Request {
	t.Helper()
	id := testID(1)
	b := must((&wire.PathTrackReq{Destination: wire.NodeDest(&id), Request: *dr}).Append(nil))
	return Request{From: testID(0), TTL: 97, Code: wire.CodePathTrackReq, Body: b}
}

// RFC 7851 §5.1, §6.3: expiration checks at the responsible peer.
func TestServerExpiration(t *testing.T) {
	clk := newClock()
	s := newTestServer(t, allowAll(), clk.Now)
	now := unixMilli(clk.Now())
	for _, tc := range []struct {
		name string
		exp  uint64
		code wire.ErrorCode
	}{
		{"past", now - 1, wire.ErrCodeMessageExpired},
		{"now", now, wire.ErrCodeMessageExpired},
		{"zero", 0, wire.ErrCodeMessageExpired},
		{"too far", now + 3600_000, wire.ErrCodeInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dr := wire.DiagnosticsRequest{Expiration: tc.exp, TimestampInitiated: now, Flags: wire.DMFlagStatusInfo}
			_, _, err := s.HandlePing(pingReq(t, &dr))
			wantProto(t, err, tc.code)
			_, err = s.HandlePathTrack(pathTrackReq(t, &dr))
			wantProto(t, err, tc.code)
		})
	}
	dr := wire.DiagnosticsRequest{Expiration: now + 1000, TimestampInitiated: now - 5, Flags: wire.DMFlagStatusInfo}
	ext, ok, err := s.HandlePing(pingReq(t, &dr))
	if err != nil || !ok || ext.Type != wire.ExtDiagnosticPing || ext.Critical {
		t.Fatalf("ext = %+v, ok = %v, err = %v", ext, ok, err)
	}
	var resp wire.DiagnosticsResponse
	if err := resp.DecodeExact(ext.Contents); err != nil {
		t.Fatal(err)
	}
	if resp.HopCounter != 97 || resp.TimestampInitiated != now-5 || resp.TimestampReceived != now ||
		resp.Expiration != now+60_000 || len(resp.Info) != 1 {
		t.Fatalf("response = %+v", resp)
	}
}

// A malformed DiagnosticsRequest is Error_Invalid_Message (RFC 6940
// §6.3.3.1).
func TestServerMalformed(t *testing.T) {
	clk := newClock()
	s := newTestServer(t, allowAll(), clk.Now)
	now := unixMilli(clk.Now())
	good := must((&wire.DiagnosticsRequest{Expiration: now + 1000, Flags: wire.DMFlagStatusInfo}).Append(nil))
	withBadFlags := slices.Clone(good)
	withBadFlags[23] |= 1 // the reserved first dMFlags bit
	baseInList := must((&wire.DiagnosticsRequest{Expiration: now + 1000}).Append(nil))
	baseInList = baseInList[:len(baseInList)-4]
	baseInList = append(baseInList, 0, 0, 0, 6, 0, 2, 0, 0, 0, 0) // kind STATUS_INFO in the extension list
	for _, tc := range []struct {
		name     string
		contents []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(slices.Clone(good), 0)},
		{"reserved flag", withBadFlags},
		{"base kind in list", baseInList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{From: testID(0), TTL: 100, Code: wire.CodePingReq,
				Extensions: []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: tc.contents}}}
			_, _, err := s.HandlePing(req)
			wantProto(t, err, wire.ErrCodeInvalidMessage)
			id := testID(1)
			body := must((&wire.Destination{Type: wire.DestNode, ID: id.Bytes()}).Append(nil))
			_, err = s.HandlePathTrack(Request{From: testID(0), Code: wire.CodePathTrackReq, Body: append(body, tc.contents...)})
			wantProto(t, err, wire.ErrCodeInvalidMessage)
		})
	}
	_, err := s.HandlePathTrack(Request{Code: wire.CodePathTrackReq, Body: []byte{1, 2, 3}})
	wantProto(t, err, wire.ErrCodeInvalidMessage)
}

// RFC 7851 §4.2.1: the extension on a method other than Ping is ignored,
// and a Ping without it is an ordinary Ping.
func TestServerIgnores(t *testing.T) {
	clk := newClock()
	s := newTestServer(t, allowAll(), clk.Now)
	dr := wire.DiagnosticsRequest{Expiration: unixMilli(clk.Now()) + 1000, Flags: wire.DMFlagStatusInfo}
	req := pingReq(t, &dr)
	req.Code = wire.CodeFetchReq
	if _, ok, err := s.HandlePing(req); ok || err != nil {
		t.Fatalf("extension on a fetch_req: ok = %v, err = %v", ok, err)
	}
	req = pingReq(t, &dr)
	req.Extensions = nil
	if _, ok, err := s.HandlePing(req); ok || err != nil {
		t.Fatalf("plain ping: ok = %v, err = %v", ok, err)
	}
}

func TestCheckTransit(t *testing.T) {
	clk := newClock()
	now := unixMilli(clk.Now())
	id := testID(1)
	mk := func(code wire.MessageCode, body []byte, exts ...wire.MessageExtension) []byte {
		return must((&wire.MessageContents{Code: code, Body: body, Extensions: exts}).Append(nil))
	}
	dr := func(exp uint64) wire.DiagnosticsRequest {
		return wire.DiagnosticsRequest{Expiration: exp, Flags: wire.DMFlagStatusInfo}
	}
	pt := func(exp uint64) []byte {
		return must((&wire.PathTrackReq{Destination: wire.NodeDest(&id), Request: dr(exp)}).Append(nil))
	}
	pta := func(exp uint64) []byte {
		return must((&wire.PathTrackAns{NextHop: wire.NodeDest(&id), Response: wire.DiagnosticsResponse{Expiration: exp}}).Append(nil))
	}
	ping := func(exp uint64) []byte {
		d := dr(exp)
		return mk(wire.CodePingReq, nil, wire.MessageExtension{Type: wire.ExtDiagnosticPing, Contents: must(d.Append(nil))})
	}
	pingAns := func(exp uint64) []byte {
		return mk(wire.CodePingAns, make([]byte, 16), wire.MessageExtension{Type: wire.ExtDiagnosticPing,
			Contents: must((&wire.DiagnosticsResponse{Expiration: exp}).Append(nil))})
	}
	for _, tc := range []struct {
		name     string
		contents []byte
		expired  bool
	}{
		{"path_track_req live", mk(wire.CodePathTrackReq, pt(now+1)), false},
		{"path_track_req expired", mk(wire.CodePathTrackReq, pt(now)), true},
		{"path_track_ans expired", mk(wire.CodePathTrackAns, pta(now-1)), true},
		{"path_track_ans live", mk(wire.CodePathTrackAns, pta(now+1)), false},
		{"ping live", ping(now + 1), false},
		{"ping expired", ping(now - 1), true},
		{"ping_ans expired", pingAns(now - 1), true},
		{"plain ping", mk(wire.CodePingReq, nil), false},
		{"fetch", mk(wire.CodeFetchReq, []byte{1}), false},
		{"garbage", []byte{0, 0x27, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTransit(tc.contents, clk.Now())
			if !tc.expired {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantProto(t, err, wire.ErrCodeMessageExpired)
		})
	}
}

func TestNewPolicy(t *testing.T) {
	id := testID(7)
	p, err := NewPolicy([]KindAccess{
		{Kind: 0x0009, AccessNodes: []string{id.String()}},
		{Kind: 0x0009, AccessNodes: []string{testID(8).String()}},
		{Kind: 0xf000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allowed(wire.DiagMemoryFootprint, id) || !p.Allowed(wire.DiagMemoryFootprint, testID(8)) ||
		p.Allowed(wire.DiagMemoryFootprint, testID(9)) || p.Allowed(KindUnderlayAddress, id) ||
		p.Allowed(wire.DiagStatusInfo, id) || !p.DiscloseNodeIDs || p.DiscloseAddresses {
		t.Fatalf("policy = %+v", p)
	}
	p.Default = Allow
	if !p.Allowed(wire.DiagStatusInfo, id) || p.Allowed(KindUnderlayAddress, id) {
		t.Fatal("default allow")
	}
	for _, bad := range []KindAccess{
		{Kind: 0, AccessNodes: nil},
		{Kind: 0x3f},
		{Kind: 0xffff},
		{Kind: 1, AccessNodes: []string{"xyz"}},
		{Kind: 1, AccessNodes: []string{"0102"}},
	} {
		if _, err := NewPolicy([]KindAccess{bad}); err == nil {
			t.Errorf("NewPolicy(%+v) accepted", bad)
		}
	}
}

func TestParseKinds(t *testing.T) {
	got, err := ParseKinds("status_info, MemoryFootprint,0x2,underlay-address,9")
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.DiagnosticKindID{wire.DiagStatusInfo, wire.DiagMemoryFootprint, wire.DiagRoutingTableSize, KindUnderlayAddress}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if all, _ := ParseKinds("all"); !slices.Equal(all, BaseKinds) {
		t.Fatalf("all = %v", all)
	}
	for _, bad := range []string{"nope", "0", "0x3f", "0xffff", "70000"} {
		if _, err := ParseKinds(bad); err == nil {
			t.Errorf("ParseKinds(%q) accepted", bad)
		}
	}
}

func TestFormatting(t *testing.T) {
	pol := allowAll()
	pol.DiscloseAddresses = true
	c := newChain(t, 3, pol)
	cl := &Client{Now: c.clock.Now}
	kinds := append(slices.Clone(BaseKinds), KindUnderlayAddress)
	r, err := cl.Ping(context.Background(), c.overlay(), wire.NodeDest(&c.ids[2]), kinds...)
	if err != nil {
		t.Fatal(err)
	}
	s := r.String()
	for _, want := range []string{"reply from " + c.ids[2].String(), "time=4.000 ms", "hops=2", "MEMORY_FOOTPRINT=20480KiB",
		`SOFTWARE_VERSION="test/1.0"`, "UNDERLAY_ADDRESS=192.0.2.3:6084", "ping_req:"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		From   string  `json:"from"`
		RTT    float64 `json:"rtt_ms"`
		Values []struct {
			Kind  int    `json:"kind"`
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.From != c.ids[2].String() || back.RTT != 4 || len(back.Values) != len(r.Values) || back.Values[0].Name != "STATUS_INFO" {
		t.Fatalf("JSON %s", js)
	}

	hops, _ := cl.Traceroute(context.Background(), c.overlay(), wire.NodeDest(&c.ids[2]), wire.DiagAppUptime)
	var b strings.Builder
	if err := WriteTraceroute(&b, wire.NodeDest(&c.ids[2]), hops); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], " 2  "+c.ids[2].String()+"  4.000 ms  APP_UPTIME=") {
		t.Fatalf("traceroute output:\n%s", b.String())
	}
	if _, err := json.Marshal(hops); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s%s\n%s", b.String(), r, js)
}

// Handlers, counters and policy updates may run at once (run with -race).
func TestServerConcurrent(t *testing.T) {
	clk := newClock()
	st := NewLocalStats(LocalConfig{Now: clk.Now, FS: procFS()})
	s, err := NewServer(ServerConfig{Self: testID(1), Router: chainRouter{&chain{ids: []wire.NodeID{testID(0), testID(1)}}, 1},
		Stats: st, Policy: allowAll(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	dr := wire.DiagnosticsRequest{Expiration: unixMilli(clk.Now()) + 60_000, Flags: wire.DMFlagsAll}
	req := pingReq(t, &dr)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				switch g {
				case 0:
					st.CountSent(wire.CodePingAns, 100)
					clk.Advance(time.Millisecond)
				case 1:
					s.SetPolicy(allowAll())
				default:
					if _, _, err := s.HandlePing(req); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
