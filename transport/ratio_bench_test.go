package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// BenchmarkDTLSLinkVsRaw is the ratio of BenchmarkDTLSLinkStream measured
// so that machine load cannot skew it: rounds of 500 messages go one way
// through a windowed DTLS link and through a raw pion DTLS stream (paced,
// see raw) in turn, and each side's rate is the messages it delivered
// over the time its own rounds took. x-raw is the link's rate over the raw stream's.
// The "-mux" cases run the link through a Mux on each side, as the
// DTLS-UDP-SR-NO-ICE links of a node share its socket.
func BenchmarkDTLSLinkVsRaw(b *testing.B) {
	for _, size := range benchSizes {
		for _, mux := range []bool{false, true} {
			name := fmt.Sprintf("%dB", size)
			if mux {
				name += "-mux"
			}
			b.Run(name, func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				p, done := benchDTLSLinks(b, ctx, SenderWindowed, 0, mux)
				defer done()
				sender, receiver := rawDTLSPair(b)
				defer sender.Close()
				defer receiver.Close()
				msg := sizedMessage(b, size)
				buf := make([]byte, 8192)

				link := func(n int) (int, time.Duration) {
					start := time.Now()
					streamThrough(b, ctx, p, msg, n)
					return n, time.Since(start)
				}
				// The raw stream is paced by an in-process window of 64
				// messages: the sender writes only while fewer than 64 are
				// unread, the reader hands a credit back for each it reads.
				// Unpaced, pion drops a third of a burst in the socket
				// buffer and the baseline would measure its losses; paced
				// this way it pays nothing for acknowledgements, so it is
				// the stronger baseline.
				const window = 64
				credit := make(chan struct{}, window)
				for range window {
					credit <- struct{}{}
				}
				raw := func(n int) (int, time.Duration) {
					start := time.Now()
					go func() {
						for range n {
							<-credit
							if _, err := sender.Write(msg); err != nil {
								return
							}
						}
					}()
					got, last := 0, start
					for got < n {
						_ = receiver.SetReadDeadline(time.Now().Add(time.Second))
						if _, err := receiver.Read(buf); err != nil {
							var ne net.Error
							if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
								b.Fatalf("raw DTLS lost a message within its window (%d of %d read)", got, n)
							}
							b.Fatal(err)
						}
						credit <- struct{}{}
						got++
						last = time.Now()
					}
					return got, last.Sub(start)
				}

				const round = 500
				var linkN, rawN int
				var linkT, rawT time.Duration
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				for sent := 0; sent < b.N; sent += round {
					n := min(round, b.N-sent)
					got, d := raw(n)
					rawN, rawT = rawN+got, rawT+d
					got, d = link(n)
					linkN, linkT = linkN+got, linkT+d
				}
				b.StopTimer()
				linkRate := float64(linkN) / linkT.Seconds()
				rawRate := float64(rawN) / rawT.Seconds()
				b.ReportMetric(linkRate, "msgs/s")
				b.ReportMetric(rawRate, "raw-msgs/s")
				b.ReportMetric(linkRate/rawRate, "x-raw")
			})
		}
	}
}
