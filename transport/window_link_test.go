package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
	"go.uber.org/goleak"
)

// TestSenderInterop connects a windowed sender to a peer that only runs
// stop-and-wait (§6.6.3.1, with its 10 ms ACK gap) over DTLS on real
// loopback UDP sockets, each way round: the receiver of §6.6.2 only
// acknowledges, so each side's sender works with the other's receiver.
func TestSenderInterop(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct{ a, b SenderAlgorithm }{
		{SenderWindowed, SenderStopAndWait},
		{SenderStopAndWait, SenderWindowed},
		{SenderWindowed, SenderWindowed},
	} {
		t.Run(fmt.Sprintf("%v-%v", tc.a, tc.b), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ca := newTestCA(t)
			cfgA := &Config{Certificate: ca.node(t, nodeID(0xa)), Verifier: ca, Reliability: ReliabilityConfig{Algorithm: tc.a}}
			cfgB := &Config{Certificate: ca.node(t, nodeID(0xb)), Verifier: ca, Reliability: ReliabilityConfig{Algorithm: tc.b}}
			p, ea, eb := dtlsPair(t, ctx, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
			defer p.close()
			if ea != nil || eb != nil {
				t.Fatalf("handshake: %v / %v", ea, eb)
			}
			exchange(t, ctx, p, 30, []int{10, 900, 3000})
			for _, l := range []*Link{p.a, p.b} {
				if st := l.Stats(); st.Messages == 0 || st.Received == 0 || l.Err() != nil {
					t.Fatalf("stats %+v, err %v", st, l.Err())
				}
			}
		})
	}
}

// impairedConn is a real UDP socket whose sent datagrams are lost,
// duplicated or held back behind the next one (reordered) with
// probabilities loss, dup and reorder.
type impairedConn struct {
	net.PacketConn
	loss, dup, reorder float64

	mu      sync.Mutex
	rng     *rand.Rand
	held    []byte
	heldTo  net.Addr
	timer   *time.Timer
	dropped int
}

func (c *impairedConn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.mu.Lock()
	if c.rng.Float64() < c.loss {
		c.dropped++
		c.mu.Unlock()
		return len(b), nil
	}
	copies := 1
	if c.rng.Float64() < c.dup {
		copies = 2
	}
	if c.held == nil && c.rng.Float64() < c.reorder {
		c.held, c.heldTo = append([]byte(nil), b...), to
		c.timer = time.AfterFunc(time.Millisecond, c.flush)
		c.mu.Unlock()
		return len(b), nil
	}
	held, heldTo := c.held, c.heldTo
	if held != nil {
		c.timer.Stop()
		c.held = nil
	}
	c.mu.Unlock()
	for range copies {
		if _, err := c.PacketConn.WriteTo(b, to); err != nil {
			return 0, err
		}
	}
	if held != nil {
		_, _ = c.PacketConn.WriteTo(held, heldTo)
	}
	return len(b), nil
}

func (c *impairedConn) flush() {
	c.mu.Lock()
	b, to := c.held, c.heldTo
	c.held = nil
	c.mu.Unlock()
	if b != nil {
		_, _ = c.PacketConn.WriteTo(b, to)
	}
}

// TestDTLSLinkImpairedUDP sends messages over DTLS links on real loopback
// UDP sockets that lose, duplicate and reorder datagrams both ways, with
// the windowed sender and with stop-and-wait. Every message arrives, or
// the sender reports the link failed; a message may arrive twice (a
// retransmission after a lost ACK, §6.6.3), never corrupted or unsent.
func TestDTLSLinkImpairedUDP(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca := newTestCA(t)
	certA, certB := ca.node(t, nodeID(0xa)), ca.node(t, nodeID(0xb))
	for _, alg := range []SenderAlgorithm{SenderWindowed, SenderStopAndWait} {
		for _, p := range []float64{0, 0.01, 0.05, 0.1} {
			// Stop-and-wait pays an RTO (100 ms at least) for each loss:
			// TestLossMatrix covers it in virtual time, here it runs
			// fewer messages.
			n := 100
			if alg == SenderStopAndWait {
				n = 20
			}
			t.Run(fmt.Sprintf("%v/%.0f%%", alg, p*100), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				rc := ReliabilityConfig{Algorithm: alg, NoAckGap: true}
				cfgA := &Config{Certificate: certA, Verifier: ca, Reliability: rc}
				cfgB := &Config{Certificate: certB, Verifier: ca, Reliability: rc}
				pa, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				pb, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ia := &impairedConn{PacketConn: pa, loss: p, dup: p, reorder: p, rng: rand.New(rand.NewPCG(1, uint64(p*100)))}
				ib := &impairedConn{PacketConn: pb, loss: p, dup: p, reorder: p, rng: rand.New(rand.NewPCG(2, uint64(p*100)))}
				ma, mb := NewMux(ia), NewMux(ib)
				defer ma.Close()
				defer mb.Close()
				lp, ea, eb := muxPair(ctx, ma, mb, cfgA, cfgB, nodeID(0xb), nodeID(0xa))
				defer lp.close()
				if ea != nil || eb != nil {
					t.Fatalf("handshake: %v / %v", ea, eb)
				}
				got, dups := deliverAll(t, ctx, lp.a, lp.b, n, []int{50, 700, 3000})
				if got < n {
					if !errors.Is(lp.a.Err(), ErrLinkFailed) {
						t.Fatalf("delivered %d of %d without a failure report (%v)", got, n, lp.a.Err())
					}
					// See TestLossMatrix: at 10% each way five lost
					// transmissions of one frame are rare, not
					// impossible, and then the failure must be reported.
					if p < 0.1 {
						t.Fatalf("link failed at %.0f%% after %d of %d", p*100, got, n)
					}
				}
				st := lp.a.Stats()
				t.Logf("%d/%d delivered, %d duplicates, %d frames, %d retransmissions", got, n, dups, st.Frames, st.Retransmissions)
			})
		}
	}
}

// deliverAll sends n messages from a to b and returns how many distinct
// ones b received (all of them unless a's link failed) and how many
// duplicates. Each must be a message that was sent, byte for byte.
func deliverAll(t *testing.T, ctx context.Context, a, b *Link, n int, sizes []int) (got, dups int) {
	t.Helper()
	msg := func(i uint64) []byte { return pingMessage(t, i, sizes[i%uint64(len(sizes))], nodeID(1), nodeID(2)) }
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Send(ctx, msg(uint64(i))); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go func() {
		select {
		case <-a.Done():
		case <-rctx.Done():
		}
		rcancel()
	}()
	r := NewReassembler(ReassemblyConfig{})
	seen := make([]bool, n)
	for got < n {
		m, err := b.Receive(rctx)
		if err != nil {
			break
		}
		w, err := r.Add(1, m, time.Now())
		if err != nil {
			t.Fatalf("reassembly: %v", err)
		}
		if w == nil {
			continue
		}
		var h wire.ForwardingHeader
		if _, err := h.Decode(w); err != nil {
			t.Fatal(err)
		}
		id := h.TransactionID
		if id >= uint64(n) || string(w) != string(msg(id)) {
			t.Fatalf("message %d was not sent as received", id)
		}
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		got++
	}
	rcancel()
	if err := <-sent; err != nil && !errors.Is(err, ErrLinkFailed) {
		t.Fatalf("send: %v", err)
	}
	return got, dups
}
