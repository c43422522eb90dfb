package wire

import (
	"bytes"
	"testing"
	"time"
)

// benchMessage builds a signed-looking message to node B with body.
func benchMessage(tb testing.TB, code MessageCode, body Body) []byte {
	tb.Helper()
	raw, err := body.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	dst := MustNodeID(bytesRange(0xb0, 16))
	m := Message{
		Header: ForwardingHeader{Overlay: OverlayHash("overlay.example.org"), Version: Version10, TTL: DefaultTTL,
			Fragment: FragmentUnfragmed, TransactionID: 42, Destinations: []Destination{NodeDest(&dst)}},
		Contents: MessageContents{Code: code, Body: raw},
		Security: SecurityBlock{Signature: Signature{Algorithm: AlgECDSASHA256,
			Identity: SignerIdentity{Type: IdentityCertHash, HashAlg: HashSHA256, Hash: bytes.Repeat([]byte{1}, 32)},
			Value:    bytes.Repeat([]byte{2}, 64)}},
	}
	out, err := m.Append(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// pingMessage is a ping request of about 200 bytes.
func pingMessage(tb testing.TB) []byte {
	return benchMessage(tb, CodePingReq, &PingReq{Padding: make([]byte, 40)})
}

// storeMessage is a store request of about size bytes (array kind, values
// of 1000 bytes).
func storeMessage(tb testing.TB, values int, valueSize int) []byte {
	r := StoreReq{Resource: ResourceIDFromName("alice"), KindData: []StoreKindData{{Kind: KindCertificateByNode, Generation: 7}}}
	for i := range values {
		r.KindData[0].Values = append(r.KindData[0].Values, StoredData{
			StorageTime: 1_700_000_000_000 + uint64(i), Lifetime: 3600,
			Value:     ArrayValue(uint32(i), bytes.Repeat([]byte{byte(i)}, valueSize)),
			Signature: storeSig,
		})
	}
	return benchMessage(tb, CodeStoreReq, &r)
}

// Forwarding header + Ping body, the figure the codec targets at <= 100 ns.
func BenchmarkDecodePingRequest(b *testing.B) {
	msg := pingMessage(b)
	var m Message
	var p PingReq
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := m.Decode(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Decode(m.Contents.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPingRequest(b *testing.B) {
	msg := pingMessage(b)
	var m Message
	var p PingReq
	if _, err := m.Decode(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := p.Decode(m.Contents.Body); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 0, 64)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var err error
		if body, err = p.Append(body[:0]); err != nil {
			b.Fatal(err)
		}
		m.Contents.Body = body
		if out, err = m.Append(out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// A whole store request with 10 values: message and body decoded.
func BenchmarkDecodeStoreRequest10(b *testing.B) {
	msg := storeMessage(b, 10, 100)
	var m Message
	var r StoreReq
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := m.Decode(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Decode(m.Contents.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendStoreRequest10(b *testing.B) {
	msg := storeMessage(b, 10, 100)
	var m Message
	var r StoreReq
	if _, err := m.Decode(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Decode(m.Contents.Body); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 0, 4096)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var err error
		if body, err = r.Append(body[:0]); err != nil {
			b.Fatal(err)
		}
		m.Contents.Body = body
		if out, err = m.Append(out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTransit(b *testing.B, msg []byte) {
	prev := Destination{Type: DestNode, ID: bytesRange(0x40, 16)}
	var h ForwardingHeader
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, _, err = transit(&h, msg, out, &prev); err != nil {
			b.Fatal(err)
		}
	}
}

// The transit rewrite of a hop (decode the header, TTL, via and
// destination lists, write the new header; the rest is passed on as is).
func BenchmarkTransitPing(b *testing.B)     { benchTransit(b, pingMessage(b)) }
func BenchmarkTransitStore60K(b *testing.B) { benchTransit(b, storeMessage(b, 60, 1000)) }

// BenchmarkTransitStore60KVsPing measures both transits in the same run and
// reports store/ping: the transit cost must not grow with the body.
func BenchmarkTransitStore60KVsPing(b *testing.B) {
	ping, store := pingMessage(b), storeMessage(b, 60, 1000)
	if len(store) < 60000 {
		b.Fatalf("store message is %d bytes", len(store))
	}
	prev := Destination{Type: DestNode, ID: bytesRange(0x40, 16)}
	var h ForwardingHeader
	out := make([]byte, 0, 512)
	const batch = 256
	var tp, ts time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			out, _, _ = transit(&h, ping, out, &prev)
		}
		t1 := time.Now()
		for range batch {
			out, _, _ = transit(&h, store, out, &prev)
		}
		ts += time.Since(t1)
		tp += t1.Sub(t0)
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(tp.Nanoseconds())/n, "ping-ns/transit")
	b.ReportMetric(float64(ts.Nanoseconds())/n, "store60k-ns/transit")
	b.ReportMetric(float64(ts)/float64(tp), "store/ping")
}
