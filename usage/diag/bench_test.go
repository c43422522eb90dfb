package diag

import (
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// The handlers with every base kind, reading the real /proc of the machine.
func benchServer(b *testing.B) (*Server, wire.DiagnosticsRequest) {
	now := time.Now()
	c := &chain{ids: []wire.NodeID{testID(0), testID(1)}}
	st := NewLocalStats(LocalConfig{RoutingTableSize: func() int { return 20 }})
	s, err := NewServer(ServerConfig{Self: c.ids[1], Router: chainRouter{c, 1}, Stats: st, Policy: allowAll()})
	if err != nil {
		b.Fatal(err)
	}
	return s, wire.DiagnosticsRequest{Expiration: unixMilli(now) + 600_000, TimestampInitiated: unixMilli(now), Flags: wire.DMFlagsAll}
}

func BenchmarkHandlePingAll(b *testing.B) {
	s, dr := benchServer(b)
	c := must(dr.Append(nil))
	req := Request{From: testID(0), TTL: 99, Code: wire.CodePingReq,
		Extensions: []wire.MessageExtension{{Type: wire.ExtDiagnosticPing, Contents: c}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.HandlePing(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandlePathTrackNone(b *testing.B) {
	s, dr := benchServer(b)
	dr.Flags = wire.DMFlagsNone
	id := testID(1)
	req := Request{From: testID(0), TTL: 99, Code: wire.CodePathTrackReq,
		Body: must((&wire.PathTrackReq{Destination: wire.NodeDest(&id), Request: dr}).Append(nil))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.HandlePathTrack(req); err != nil {
			b.Fatal(err)
		}
	}
}
