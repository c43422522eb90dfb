package diag

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// fuzzEpoch is the fixed clock of the fuzz targets; seeds are built
// against it.
var fuzzEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fuzzServer(t *testing.T) *Server {
	pol := allowAll()
	pol.DiscloseAddresses = true
	return newTestServer(t, pol, func() time.Time { return fuzzEpoch })
}

func fuzzRequests() []wire.DiagnosticsRequest {
	now := unixMilli(fuzzEpoch)
	return []wire.DiagnosticsRequest{
		{Expiration: now + 60_000, TimestampInitiated: now, Flags: wire.DMFlagsAll},
		{Expiration: now + 1, TimestampInitiated: now,
			Flags: wire.FlagsFor(wire.DiagStatusInfo, wire.DiagInstancesStored, wire.DiagMessagesSentRcvd)},
		{Expiration: now + 60_000, TimestampInitiated: now,
			Extensions: []wire.DiagnosticExtension{{Kind: KindUnderlayAddress}, {Kind: 0xf123, Contents: []byte("x")}}},
		{Expiration: now - 1, TimestampInitiated: now, Flags: wire.DMFlagSoftwareVersion},
		{Expiration: now + 60_000, TimestampInitiated: now, Flags: wire.FlagsFor(wire.DiagUnderlayHop, wire.DiagBatteryStatus)},
		{Expiration: now + 60_000, TimestampInitiated: now},
	}
}

// checkResponse checks a DiagnosticsResponse built for dr: fields copied
// and set as RFC 7851 §6.3 says, only requested kinds, each once, with
// well-formed values.
func checkResponse(t *testing.T, resp *wire.DiagnosticsResponse, dr *wire.DiagnosticsRequest, ttl uint8) {
	t.Helper()
	now := unixMilli(fuzzEpoch)
	if resp.HopCounter != ttl || resp.TimestampInitiated != dr.TimestampInitiated ||
		resp.TimestampReceived != now || resp.Expiration <= now || resp.Expiration > now+600_000 {
		t.Fatalf("response header %+v for request %+v, ttl %d", resp, dr, ttl)
	}
	if dr.Expiration <= now {
		t.Fatalf("answered an expired request: %+v", dr)
	}
	want := requested(dr)
	var seen []wire.DiagnosticKindID
	for _, d := range resp.Info {
		if !slices.Contains(want, d.Kind) || slices.Contains(seen, d.Kind) {
			t.Fatalf("kind %v not requested or repeated (requested %v)", d.Kind, want)
		}
		seen = append(seen, d.Kind)
		if d.Kind.IsBase() {
			if err := wire.CheckDiagValue(d.Kind, d.Contents); err != nil {
				t.Fatalf("value of %v: %v", d.Kind, err)
			}
		}
	}
}

func checkProtoErr(t *testing.T, err error) {
	t.Helper()
	pe, ok := errors.AsType[*wire.ProtocolError](err)
	if !ok {
		t.Fatalf("error %v is not a ProtocolError", err)
	}
	switch pe.Code {
	case wire.ErrCodeInvalidMessage, wire.ErrCodeMessageExpired, wire.ErrCodeNotFound:
	default:
		t.Fatalf("unexpected error code %v", pe.Code)
	}
}

func FuzzHandlePathTrack(f *testing.F) {
	self, other := testID(1), testID(5)
	for _, dr := range fuzzRequests() {
		for _, d := range []wire.Destination{wire.NodeDest(&self), wire.NodeDest(&other), wire.ResourceDest(wire.ResourceID{9})} {
			f.Add(must((&wire.PathTrackReq{Destination: d, Request: dr}).Append(nil)), uint8(97))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, ttl uint8) {
		s := fuzzServer(t)
		out, err := s.HandlePathTrack(Request{From: testID(0), TTL: ttl, Code: wire.CodePathTrackReq, Body: body})
		if err != nil {
			checkProtoErr(t, err)
			return
		}
		var req wire.PathTrackReq
		if _, err := req.Decode(body); err != nil {
			t.Fatalf("answered a request that does not decode: %v", err)
		}
		var ans wire.PathTrackAns
		if n, err := ans.Decode(out); err != nil || n != len(out) || ans.Len() != len(out) {
			t.Fatalf("answer does not decode: n=%d/%d %v", n, len(out), err)
		}
		if next, ok := ans.NextHop.NodeID(); !ok || next != self {
			t.Fatalf("next_hop %v: the only peer responsible here is the server", ans.NextHop)
		}
		checkResponse(t, &ans.Response, &req.Request, ttl)
	})
}

func FuzzHandlePing(f *testing.F) {
	for _, dr := range fuzzRequests() {
		f.Add(must(dr.Append(nil)), uint8(100))
	}
	f.Fuzz(func(t *testing.T, contents []byte, ttl uint8) {
		s := fuzzServer(t)
		req := Request{From: testID(0), TTL: ttl, Code: wire.CodePingReq,
			Extensions: []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: contents}}}
		ext, ok, err := s.HandlePing(req)
		if err != nil {
			checkProtoErr(t, err)
			return
		}
		if !ok || ext.Type != wire.ExtDiagnosticPing || ext.Critical {
			t.Fatalf("ext = %+v, ok = %v", ext, ok)
		}
		var dr wire.DiagnosticsRequest
		if err := dr.DecodeExact(contents); err != nil {
			t.Fatalf("answered a request that does not decode: %v", err)
		}
		var resp wire.DiagnosticsResponse
		if err := resp.DecodeExact(ext.Contents); err != nil || resp.Len() != len(ext.Contents) {
			t.Fatalf("response does not decode: %v", err)
		}
		checkResponse(t, &resp, &dr, ttl)
	})
}

// FuzzValueString feeds arbitrary contents to the client-side decoding and
// formatting of values.
func FuzzValueString(f *testing.F) {
	f.Add(uint16(wire.DiagSoftwareVersion), []byte("x\x00"))
	f.Add(uint16(wire.DiagMessagesSentRcvd), make([]byte, 32))
	f.Add(uint16(KindUnderlayAddress), []byte{1, 192, 0, 2, 1, 0x17, 0xc4})
	f.Add(uint16(wire.DiagMachineUptime), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, kind uint16, contents []byte) {
		v := Value{Kind: wire.DiagnosticKindID(kind), Contents: contents}
		if v.String() == "" {
			t.Fatal("empty String")
		}
		if _, err := v.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
