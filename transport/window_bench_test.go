package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// sizedMessage is a Ping request of exactly size bytes.
func sizedMessage(b testing.TB, size int) []byte {
	base := len(pingMessage(b, 1, 0, nodeID(1), nodeID(2)))
	if size < base {
		b.Fatalf("a message is at least %d bytes", base)
	}
	return pingMessage(b, 1, size-base, nodeID(1), nodeID(2))
}

// benchSizes are the message sizes of the stream benchmarks: a small
// request and one that fills a 1280-byte IPv6 path MTU once framed.
var benchSizes = []int{200, 1200}

// BenchmarkDTLSLinkStream measures one direction of one DTLS link on
// loopback UDP, messages per second, with each sender algorithm, against
// a raw pion DTLS stream of messages of the same size in the same run
// (no framing, no acknowledgement, no retransmission), both on a UDP
// socket of their own. windowed-mux runs the link through a Mux, as
// DTLS-UDP-SR-NO-ICE links share a node's socket. Links use a 1500-byte
// MTU so that a 1200-byte message is one frame. Stop-and-wait keeps its
// 10 ms ACK gap (§6.6.3.1), as deployed.
func BenchmarkDTLSLinkStream(b *testing.B) {
	for _, kind := range []string{"windowed", "windowed-mux", "stopwait", "raw-dtls"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", kind, size), func(b *testing.B) {
				switch kind {
				case "windowed":
					benchLinkStream(b, SenderWindowed, size, 0, false)
				case "windowed-mux":
					benchLinkStream(b, SenderWindowed, size, 0, true)
				case "stopwait":
					benchLinkStream(b, SenderStopAndWait, size, 0, false)
				default:
					benchRawDTLSStream(b, size)
				}
			})
		}
	}
}

// BenchmarkDTLSLinkLoss measures the goodput of one DTLS link on
// loopback UDP that loses 1, 5 or 10% of the datagrams each way, with
// each sender algorithm (1000-byte messages, ten transmissions before
// the link fails).
func BenchmarkDTLSLinkLoss(b *testing.B) {
	for _, pct := range []int{1, 5, 10} {
		for _, alg := range []SenderAlgorithm{SenderWindowed, SenderStopAndWait} {
			name := "windowed"
			if alg == SenderStopAndWait {
				name = "stopwait"
			}
			b.Run(fmt.Sprintf("%dpct/%s", pct, name), func(b *testing.B) {
				benchLinkStream(b, alg, 1000, float64(pct)/100, false)
			})
		}
	}
}

// benchDTLSLinks sets up a DTLS link pair on loopback UDP for the stream
// benchmarks (through a Mux on each side when mux is set), each side
// losing the given share of its datagrams; done closes it all.
func benchDTLSLinks(b *testing.B, ctx context.Context, alg SenderAlgorithm, loss float64, mux bool) (p pair, done func()) {
	b.Helper()
	ca := newTestCA(b)
	rc := ReliabilityConfig{Algorithm: alg}
	if loss > 0 {
		// At 10% loss each way one message in 10^5 loses all of five
		// transmissions, which fails the link (§6.6.3.1), and a run of
		// the windowed sender sends that many: give both senders ten.
		rc.MaxTransmissions = 10
	}
	cfgA := &Config{Certificate: ca.node(b, nodeID(0xa)), Verifier: ca, Reliability: rc, MTU: 1500}
	cfgB := &Config{Certificate: ca.node(b, nodeID(0xb)), Verifier: ca, Reliability: rc, MTU: 1500}
	pa, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pb, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var ca2, cb2 net.PacketConn = pa, pb
	if loss > 0 {
		ca2 = &impairedConn{PacketConn: pa, loss: loss, rng: rand.New(rand.NewPCG(1, 2))}
		cb2 = &impairedConn{PacketConn: pb, loss: loss, rng: rand.New(rand.NewPCG(3, 4))}
	}
	var ea, eb error
	var closers []func() error
	if mux {
		ma, mb := NewMux(ca2), NewMux(cb2)
		closers = append(closers, ma.Close, mb.Close)
		p, ea, eb = muxPair(ctx, ma, mb, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
	} else {
		closers = append(closers, ca2.Close, cb2.Close)
		p, ea, eb = both(func() (*Link, error) {
			return NewDTLSLink(ctx, ca2, pb.LocalAddr(), Requester, nodeID(0xb), cfgA)
		}, func() (*Link, error) {
			return NewDTLSLink(ctx, cb2, pa.LocalAddr(), Responder, nodeID(0xa), cfgB)
		})
	}
	done = func() {
		p.close()
		for _, c := range closers {
			_ = c()
		}
	}
	if ea != nil || eb != nil {
		done()
		b.Fatal(ea, eb)
	}
	return p, done
}

func benchLinkStream(b *testing.B, alg SenderAlgorithm, size int, loss float64, mux bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, done := benchDTLSLinks(b, ctx, alg, loss, mux)
	defer done()
	msg := sizedMessage(b, size)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	streamThrough(b, ctx, p, msg, b.N)
	b.StopTimer()
	// The sender's count says what was acknowledged.
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	st := p.a.Stats()
	b.ReportMetric(float64(st.Acks)/float64(max(st.Frames, 1)), "acks/frame")
	if loss > 0 {
		b.ReportMetric(float64(st.Retransmissions)/float64(max(st.Frames, 1))*100, "retx%")
		b.ReportMetric(float64(st.Timeouts), "timeouts")
	}
}

// benchRawDTLSStream is the baseline: pion DTLS alone, messages written
// back to back one way and read on the other end. Nothing paces the
// writer, so datagrams the reader cannot keep up with are lost in the
// socket buffer; the rate counts what was read, over the time until
// the last one was.
func benchRawDTLSStream(b *testing.B, size int) {
	sender, cb := rawDTLSPair(b)
	defer sender.Close()
	defer cb.Close()
	msg := sizedMessage(b, size)
	buf := make([]byte, 8192)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			if _, err := sender.Write(msg); err != nil {
				return
			}
		}
	}()
	got, last := 0, start
	for got < b.N {
		_ = cb.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := cb.Read(buf); err != nil {
			var ne net.Error
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
				break // the rest was lost
			}
			b.Fatal(err)
		}
		got++
		last = time.Now()
	}
	b.StopTimer()
	b.ReportMetric(float64(got)/last.Sub(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N-got)/float64(b.N)*100, "lost%")
}

// streamThrough sends n copies of msg from p.a to p.b and returns once p.b
// has received n messages of msg's size. A duplicate (a retransmission
// after a lost ACK) is not waited for: it may be counted in place of a
// message still under way, close enough for a rate.
func streamThrough(b *testing.B, ctx context.Context, p pair, msg []byte, n int) {
	go func() {
		for range n {
			if p.a.Send(ctx, msg) != nil {
				return
			}
		}
	}()
	for got := 0; got < n; {
		m, err := p.b.Receive(ctx)
		if err != nil {
			b.Fatal(err, p.a.Err())
		}
		if len(m) == len(msg) {
			got++
		}
	}
}
