package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/wire"
)

// A stream (TLS-TCP-FH-NO-ICE) link neither retransmits nor windows
// (RFC 6940 §6.6.5): every message is framed and sent at once, and the
// ACKs only measure the RTT and prove the peer alive. So it has no loop
// that every message passes through. Send numbers and encodes the frame
// on the caller's goroutine and appends it to the writer's buffer; the
// writer writes whatever has gathered with one conn.Write (one TLS
// record, one system call, an ACK and an answer together); the reader
// takes the ACKs itself and hands data frames straight to Receive, after
// it has queued their ACK. A third goroutine only runs the sender's
// timers (suspect after an RTO, failure after FailAfter, keepalives) and
// ends the link. The writer stays a goroutine of its own, so that a peer
// that stops reading blocks only the writer, never the caller of Send
// nor the reader.
type streamState struct {
	mu     sync.Mutex
	s      *Sender
	wbuf   []byte             // frames encoded for the writer
	queued int                // data frames in wbuf
	ack    wire.FramedMessage // the newest ACK not yet handed to the writer
	ackDue bool
	// roomc, when not nil, is closed when the writer takes wbuf: Sends
	// that found QueueLimit frames waiting wait on it.
	roomc chan struct{}
	// timer wakes the timer loop at armed, the sender's deadline or an
	// earlier one; a later deadline needs no reset (the loop re-arms
	// when it wakes early).
	timer *time.Timer
	armed time.Time

	wake     chan struct{} // one token: wbuf or ack has something
	received atomic.Uint64 // data frames received
}

// maxKeptWriteBuffer is the largest write buffer kept for reuse after a
// write; a larger one (a big message went through) is dropped.
const maxKeptWriteBuffer = 64 << 10

func (l *Link) startStream(s *Sender) {
	l.st = &streamState{s: s, timer: time.NewTimer(0), wake: make(chan struct{}, 1)}
	rerr := make(chan error, 1)
	werr := make(chan error, 1)
	l.wg.Add(3)
	go l.streamReader(rerr)
	go l.streamWriter(werr)
	go l.streamLoop(rerr, werr)
}

// wakeWriter tells the writer that wbuf or ack has something.
func (st *streamState) wakeWriter() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// rearm moves the timer earlier when the sender's deadline is before the
// one armed. Called with mu held.
func (st *streamState) rearm(now time.Time) {
	d := st.s.Deadline()
	if d.IsZero() || (!st.armed.IsZero() && !d.Before(st.armed)) {
		return
	}
	st.armed = d
	st.timer.Reset(d.Sub(now))
}

func (l *Link) sendStream(ctx context.Context, msg []byte) error {
	return l.sendStreamParts(ctx, msg, nil)
}

// sendStreamParts frames head followed by rest as one message.
func (l *Link) sendStreamParts(ctx context.Context, head, rest []byte) error {
	st := l.st
	st.mu.Lock()
	for {
		if err := st.s.Err(); err != nil {
			st.mu.Unlock()
			return err
		}
		if st.queued < st.s.cfg.QueueLimit {
			break
		}
		// The writer is behind by QueueLimit messages (the peer reads
		// slowly or not at all): wait for it, as long as ctx allows.
		// FailAfter ends a link whose peer stopped reading.
		if st.roomc == nil {
			st.roomc = make(chan struct{})
		}
		c := st.roomc
		st.mu.Unlock()
		select {
		case <-c:
		case <-l.done:
			return l.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
		st.mu.Lock()
	}
	now := time.Now()
	old := st.s.Stats()
	f := st.s.sendStream(nil, now)
	if l.obs != nil {
		l.obs.FrameSent(f)
	}
	b, err := wire.AppendDataFrame(st.wbuf, f.Sequence, head, rest)
	if err != nil {
		// Too large for the framing: the link ends with the error, as a
		// failed write would end it.
		st.s.Fail(err)
		st.armed = now
		st.timer.Reset(0)
		st.mu.Unlock()
		return nil
	}
	st.wbuf = b
	st.queued++
	st.rearm(now)
	cur := st.s.Stats()
	st.mu.Unlock()
	l.ctr.frames(old, cur)
	st.wakeWriter()
	return nil
}

// streamReader reads frames: it takes the ACKs (RTT samples, §6.6.5),
// queues an ACK for each data frame and hands the message up.
func (l *Link) streamReader(rerr chan<- error) {
	defer l.wg.Done()
	st := l.st
	var win AckWindow
	for {
		f, err := l.readFrame()
		if err != nil {
			rerr <- err
			return
		}
		switch f.Type {
		case wire.FrameAck:
			st.mu.Lock()
			st.s.OnAck(f, time.Now())
			l.suspect.Store(st.s.Suspect())
			st.mu.Unlock()
		case wire.FrameData:
			st.received.Add(1)
			l.ctr.received()
			a := win.Ack(f.Sequence)
			st.mu.Lock()
			// In order on a stream: the newest ACK covers the ones
			// not yet written (the sender takes it as cumulative).
			st.ack, st.ackDue = a, true
			st.mu.Unlock()
			// The message goes up first, then the writer is woken for
			// the ACK: an answer queued meanwhile goes out with it, in
			// one write. The ACK does not wait for room in recvc.
			if len(f.Message) > 0 { // empty data frames are keepalives
				select {
				case l.recvc <- f.Message:
				default:
					st.wakeWriter()
					select {
					case l.recvc <- f.Message:
					case <-l.closing:
						return
					}
				}
			}
			st.wakeWriter()
		}
	}
}

// streamWriter writes what gathered in wbuf, and the pending ACK, with
// one write.
func (l *Link) streamWriter(werr chan<- error) {
	defer l.wg.Done()
	st := l.st
	var out []byte
	for {
		select {
		case <-st.wake:
		case <-l.closing:
			return
		}
		st.mu.Lock()
		out, st.wbuf = st.wbuf, out[:0]
		st.queued = 0
		if st.ackDue {
			if l.obs != nil {
				l.obs.FrameSent(st.ack)
			}
			out, _ = st.ack.Append(out) // an ACK always encodes
			st.ackDue = false
		}
		if st.roomc != nil {
			close(st.roomc)
			st.roomc = nil
		}
		st.mu.Unlock()
		if len(out) == 0 {
			continue
		}
		if err := l.io.write(out); err != nil {
			werr <- err
			return
		}
		if cap(out) > maxKeptWriteBuffer {
			out = nil
		}
	}
}

// streamLoop runs the sender's timers and ends the link.
func (l *Link) streamLoop(rerr, werr <-chan error) {
	st := l.st
	var final error
	defer func() {
		st.timer.Stop()
		l.finish(final)
	}()
	for {
		select {
		case <-st.timer.C:
		case err := <-rerr:
			final = readErr(err)
			return
		case err := <-werr:
			final = err
			return
		case <-l.closing:
			final = ErrClosed
			return
		}
		now := time.Now()
		st.mu.Lock()
		old := st.s.Stats()
		wrote := false
		for {
			f, ok := st.s.Poll(now) // a keepalive, if one is due
			if !ok {
				break
			}
			if l.obs != nil {
				l.obs.FrameSent(f)
			}
			st.wbuf, _ = f.Append(st.wbuf) // an empty data frame always encodes
			wrote = true
		}
		err := st.s.Err()
		l.suspect.Store(st.s.Suspect())
		st.armed = st.s.Deadline()
		if !st.armed.IsZero() {
			st.timer.Reset(st.armed.Sub(now))
		}
		cur := st.s.Stats()
		st.mu.Unlock()
		l.ctr.frames(old, cur)
		if wrote {
			st.wakeWriter()
		}
		if err != nil {
			final = err
			return
		}
	}
}
