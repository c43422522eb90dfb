package netfuzz

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/conformance"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport/capture"
	"github.com/goreload/reload/wire"
)

// Transport is the overlay link protocol the fuzzer speaks, as the
// conformance kit's.
type Transport = conformance.Transport

// Transports: TLS-TCP-FH-NO-ICE (RFC 6940 §6.6.5) and DTLS-UDP-SR-NO-ICE
// (§6.6.6).
const (
	TLS  = conformance.TLS
	DTLS = conformance.DTLS
)

// Options configure a fuzz run.
type Options struct {
	// Target is the peer's address, host:port.
	Target string
	// Transport is TLS (the default) or DTLS.
	Transport Transport
	// Config is the overlay's configuration: its name (the overlay hash),
	// configuration sequence, initial-ttl and node-id-length.
	Config *config.Configuration
	// Identity is the fuzzer's enrolled identity in the overlay.
	Identity *security.Identity
	// Duration bounds the run (default one minute); MaxInputs, when
	// positive, bounds the number of inputs.
	Duration  time.Duration
	MaxInputs int
	// Seed makes the inputs reproducible: the same seed against the same
	// target sends the same inputs.
	Seed uint64
	// Batch is the number of inputs between two liveness Pings (32).
	Batch int
	// Timeout bounds the wait for a Ping's answer and for a handshake (3 s).
	Timeout time.Duration
	// RecoverWait is how long a replay waits for a target that stopped
	// accepting links to come back (restarted by a supervisor) before it
	// gives up (10 s).
	RecoverWait time.Duration
	// KeepGoing goes on fuzzing after a failure that replaying the recent
	// inputs does not reproduce (it is reported in Report.Unreproduced).
	KeepGoing bool
	// MinimizeBudget bounds the replays spent minimising an input (300).
	MinimizeBudget int
	// Out, when set, is the directory the reproducer is written to.
	Out string
	// ReplayArgs are the command-line arguments naming the target, the
	// configuration and the identity, quoted into the replay command.
	ReplayArgs string
	// Progress, when set, is called about every ProgressEvery (5 s).
	Progress      func(Stats)
	ProgressEvery time.Duration
	// Network opens the sockets (SystemNetwork when nil).
	Network Network
	// Now is the clock (time.Now).
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Target == "" || o.Config == nil || o.Identity == nil {
		return errors.New("netfuzz: Options.Target, Config and Identity are required")
	}
	switch o.Transport {
	case "":
		o.Transport = TLS
	case TLS, DTLS:
	default:
		return fmt.Errorf("netfuzz: unknown transport %q", o.Transport)
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.RecoverWait <= 0 {
		o.RecoverWait = 10 * time.Second
	}
	if o.MinimizeBudget <= 0 {
		o.MinimizeBudget = 300
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Network == nil {
		o.Network = SystemNetwork{}
	}
	return nil
}

// Stats are the counters of a run.
type Stats struct {
	Elapsed float64 `json:"elapsed_s"`
	Inputs  int     `json:"inputs"`
	Rate    float64 `json:"inputs_per_s"`
	Bytes   int64   `json:"bytes"`
	// Links counts the links opened; Closed those the target closed.
	Links  int `json:"links"`
	Closed int `json:"closed_by_target"`
	Pings  int `json:"liveness_pings"`
	// Stalled counts the links the fuzzer closed because a write did not
	// finish in time (the target stopped reading them for a while).
	Stalled int `json:"write_stalls"`
	// LatePings counts the liveness checks answered only on a second Ping.
	LatePings int `json:"late_pings"`
	// Answers counts what the target sent, by message code or error code.
	Answers map[string]int `json:"answers"`
	// Sent counts the inputs by the message type they were built from.
	Sent map[string]int `json:"sent"`
}

// Report is the result of a run.
type Report struct {
	Target    string   `json:"target"`
	Transport string   `json:"transport"`
	Seed      uint64   `json:"seed"`
	Stats     Stats    `json:"stats"`
	Failure   *Failure `json:"failure,omitempty"`
	// Unreproduced are the failures that replay did not bring back, with
	// Options.KeepGoing.
	Unreproduced []Unreproduced `json:"unreproduced,omitempty"`
}

// Unreproduced is a failure that replaying the recent inputs did not
// bring back: a target that stopped answering for a while for a reason
// the inputs alone do not explain (load, state built over many links).
type Unreproduced struct {
	At     float64 `json:"at_s"`
	Inputs int     `json:"inputs"`
	Kind   string  `json:"kind"`
	Detail string  `json:"detail"`
}

// Failure is what the fuzzer found.
type Failure struct {
	// Kind is "link-unresponsive" (a live link stopped answering Pings),
	// "target-unresponsive" (a new link is accepted but not answered) or
	// "target-down" (no new link).
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	// Reproduced tells whether replaying Input on a new link brought the
	// failure back; when not, Input holds every recent input.
	Reproduced bool   `json:"reproduced"`
	Input      *Input `json:"-"`
	Minimized  *Input `json:"-"`
	// InputHex and MinimizedHex are the records as hex.
	InputHex     []string `json:"input_hex"`
	MinimizedHex []string `json:"minimized_hex,omitempty"`
	What         string   `json:"what"`
	Replays      int      `json:"replays"`
	// Files are the reproducer's files in Options.Out; Command replays it.
	Files   []string `json:"files,omitempty"`
	Command string   `json:"command,omitempty"`
}

// fuzzer is the state of one run.
type fuzzer struct {
	o    Options
	d    *dialer
	gen  *generator
	peer wire.NodeID

	mu      sync.Mutex
	stats   Stats
	waiters map[uint64]chan struct{}
	started time.Time
}

func newFuzzer(o Options) (*fuzzer, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	f := &fuzzer{o: o, waiters: make(map[uint64]chan struct{}),
		stats: Stats{Answers: map[string]int{}, Sent: map[string]int{}}}
	f.d = &dialer{target: o.Target, transport: o.Transport, cert: o.Identity.TLSCertificate(), timeout: o.Timeout, network: o.Network}
	ttl := o.Config.InitialTTL
	if ttl == 0 {
		ttl = wire.DefaultTTL
	}
	idLen := o.Config.NodeIDLength
	if idLen == 0 {
		idLen = wire.DefaultNodeIDLen
	}
	f.gen = &generator{
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), id: o.Identity, self: o.Identity.NodeID(),
		overlay: o.Config.OverlayHash(), configSeq: o.Config.Sequence, initialTTL: ttl, idLen: idLen,
		dtls: o.Transport == DTLS, now: o.Now,
	}
	return f, nil
}

// onMsg counts what the target sent and wakes the waiter of a Ping.
func (f *fuzzer) onMsg(b []byte) {
	var h wire.ForwardingHeader
	key := "undecodable"
	if _, err := h.Decode(b); err == nil {
		f.mu.Lock()
		if ch, ok := f.waiters[h.TransactionID]; ok {
			delete(f.waiters, h.TransactionID)
			close(ch)
		}
		f.mu.Unlock()
		var m wire.Message
		switch {
		case h.IsFragment():
			key = "fragment"
		case func() bool { _, err := m.Decode(b); return err != nil }():
		case m.Contents.Code == wire.CodeError:
			if c, ok := wire.ParseErrorAnswer(m.Contents.Body, wire.NodeID{}).ErrorCode(); ok {
				key = c.String()
			} else {
				key = "Error (malformed)"
			}
		default:
			key = m.Contents.Code.String()
		}
	}
	f.mu.Lock()
	f.stats.Answers[key]++
	f.mu.Unlock()
}

// connect opens a link and learns the target's Node-ID from its
// certificate.
func (f *fuzzer) connect(ctx context.Context) (*link, error) {
	l, err := f.d.dial(ctx, f.onMsg)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.stats.Links++
	f.mu.Unlock()
	if f.peer.IsZero() && len(l.peerChain) > 0 {
		if ids, _, err := security.NodeIDsFromCert(l.peerChain[0]); err == nil && len(ids) > 0 {
			f.peer = ids[0]
			f.gen.peer = ids[0]
		}
	}
	if f.peer.IsZero() {
		l.Close()
		return nil, errors.New("the target's certificate carries no Node-ID")
	}
	return l, nil
}

// ping sends a signed Ping (§6.5.3) on l and reports whether the target
// answered it (with anything) within the timeout.
func (f *fuzzer) ping(l *link) bool {
	peer := f.peer
	txid := f.gen.rng.Uint64() | 1
	m := wire.Message{
		Header: wire.ForwardingHeader{Overlay: f.gen.overlay, ConfigSequence: f.gen.configSeq, Version: wire.Version10,
			TTL: f.gen.initialTTL, Fragment: wire.FragmentUnfragmed, TransactionID: txid,
			Destinations: []wire.Destination{wire.NodeDest(&peer)}},
		Contents: wire.MessageContents{Code: wire.CodePingReq, Body: []byte{0, 0}},
	}
	contents, _ := m.Contents.Append(nil)
	if err := f.o.Identity.SignMessage(&m.Security, m.Header.Overlay, txid, contents); err != nil {
		return false
	}
	raw, err := m.Append(nil)
	if err != nil {
		return false
	}
	ch := make(chan struct{})
	f.mu.Lock()
	f.waiters[txid] = ch
	f.stats.Pings++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.waiters, txid)
		f.mu.Unlock()
	}()
	t := time.NewTimer(f.o.Timeout)
	defer t.Stop()
	// On a datagram link the Ping may be lost: send it again once a
	// second until the timeout (§6.6.3 leaves loss to the sender).
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := l.sendMessage(raw); err != nil {
			return false
		}
		select {
		case <-ch:
			return true
		case <-t.C:
			return false
		case <-l.done:
			select {
			case <-ch:
				return true
			default:
				return false
			}
		case <-tick.C:
			if l.stream {
				continue
			}
		}
	}
}

// pingTwice pings on l and, when the first Ping goes unanswered on a live
// link, once more: a target may answer a reconnected peer's first
// requests on the link it has not yet seen closed (both links carry the
// same Node-ID). A late answer is counted, not a failure.
func (f *fuzzer) pingTwice(l *link) bool {
	if f.ping(l) {
		return true
	}
	if !l.alive() || !f.ping(l) {
		return false
	}
	f.count(func(s *Stats) { s.LatePings++ })
	return true
}

// probe checks the target on a new link: "" when it answers a Ping,
// else the failure kind. A new link the target closes before answering
// is tried again (a target may close a peer's new link while it tears
// down the previous one); three such links in a row are a failure.
func (f *fuzzer) probe(ctx context.Context) (kind, detail string) {
	var err error
	closed := 0
	for range 3 {
		var l *link
		if l, err = f.connect(ctx); err == nil {
			ok := f.pingTwice(l)
			alive := l.alive()
			l.Close()
			if ok {
				return "", ""
			}
			if alive {
				return "target-unresponsive", "a new link was accepted but its Pings were not answered"
			}
			closed++
			f.countGone(l)
			continue
		}
		if ctx.Err() != nil {
			return "", ""
		}
		time.Sleep(500 * time.Millisecond)
	}
	if closed > 0 && err == nil {
		return "target-unresponsive", fmt.Sprintf("%d new links in a row were closed before they answered a Ping", closed)
	}
	return "target-down", fmt.Sprintf("no new link: %v", err)
}

// Run fuzzes the target until Options.Duration passed, MaxInputs were
// sent, ctx was cancelled or it found a failure. It returns an error only
// when it could not start: bad options, or a target that refuses the first
// link or does not answer the first Ping.
func Run(ctx context.Context, o Options) (*Report, error) {
	f, err := newFuzzer(o)
	if err != nil {
		return nil, err
	}
	o = f.o
	rep := &Report{Target: o.Target, Transport: string(o.Transport), Seed: o.Seed}
	f.started = time.Now()
	cur, err := f.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("netfuzz: cannot open a link to %s: %w", o.Target, err)
	}
	if !f.ping(cur) {
		cur.Close()
		return nil, fmt.Errorf("netfuzz: %s does not answer a Ping before fuzzing", o.Target)
	}
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	var prev, batch []Input
	lastProgress := time.Now()
	deadline := f.started.Add(o.Duration)
	for ctx.Err() == nil && time.Now().Before(deadline) && (o.MaxInputs <= 0 || f.stats.Inputs < o.MaxInputs) {
		prev, batch = batch, nil
		poisoned := false
		for range o.Batch {
			if cur == nil || !cur.alive() || poisoned {
				if cur != nil {
					if !cur.alive() && !poisoned {
						f.countGone(cur)
					}
					cur.Close()
					cur = nil
				}
				if cur, err = f.connect(ctx); err != nil {
					break
				}
				poisoned = false
			}
			in := f.gen.next(cur.seq)
			batch = append(batch, in)
			for _, r := range in.Records {
				if cur.write(r) != nil {
					break
				}
			}
			poisoned = in.Desync && cur.stream
			f.count(func(s *Stats) {
				s.Inputs++
				s.Bytes += int64(in.size())
				s.Sent[in.Body]++
			})
		}
		// Liveness: the current link if it is usable, then a new one.
		kind, detail := "", ""
		if cur != nil && cur.alive() && !poisoned {
			if !f.pingTwice(cur) {
				if cur.alive() {
					kind, detail = "link-unresponsive", "a live link stopped answering Pings"
				} else {
					f.countGone(cur)
				}
			}
		}
		if kind == "" && (cur == nil || !cur.alive() || poisoned) {
			kind, detail = f.probe(ctx)
		}
		if cur != nil && (!cur.alive() || poisoned) {
			cur.Close()
			cur = nil
		}
		if kind != "" && ctx.Err() == nil {
			if cur != nil {
				cur.Close()
				cur = nil
			}
			if kind == "link-unresponsive" {
				if k, _ := f.probe(ctx); k == "" {
					detail += " (a new link is answered)"
				} else {
					detail += " (nor is a new link)"
				}
			}
			rep.Stats = f.snapshot()
			fl := f.triage(ctx, kind, detail, append(prev, batch...))
			if fl.Reproduced || !o.KeepGoing {
				rep.Failure = fl
				return rep, nil
			}
			rep.Unreproduced = append(rep.Unreproduced, Unreproduced{At: rep.Stats.Elapsed, Inputs: rep.Stats.Inputs, Kind: fl.Kind, Detail: fl.Detail})
			prev, batch = nil, nil
			continue
		}
		if o.Progress != nil && time.Since(lastProgress) >= o.ProgressEvery {
			lastProgress = time.Now()
			o.Progress(f.snapshot())
		}
	}
	rep.Stats = f.snapshot()
	return rep, nil
}

// countGone counts a link that ended: closed by the target, or closed by
// the fuzzer after a write stalled (the target stopped reading it).
func (f *fuzzer) countGone(l *link) {
	if l.stalled.Load() {
		f.count(func(s *Stats) { s.Stalled++ })
		return
	}
	f.count(func(s *Stats) { s.Closed++ })
}

func (f *fuzzer) count(fn func(*Stats)) {
	f.mu.Lock()
	fn(&f.stats)
	f.mu.Unlock()
}

// snapshot copies the counters.
func (f *fuzzer) snapshot() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Answers, s.Sent = make(map[string]int, len(f.stats.Answers)), make(map[string]int, len(f.stats.Sent))
	for k, v := range f.stats.Answers {
		s.Answers[k] = v
	}
	for k, v := range f.stats.Sent {
		s.Sent[k] = v
	}
	s.Elapsed = time.Since(f.started).Seconds()
	if s.Elapsed > 0 {
		s.Rate = float64(s.Inputs) / s.Elapsed
	}
	return s
}

// String is the progress line of s.
func (s Stats) String() string {
	kinds := make([]string, 0, len(s.Sent))
	for k := range s.Sent {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%6.0fs %8d inputs %7.1f/s  links %d (closed by target %d, stalled %d)  late pings %d  answer codes %d  message types %d/%d",
		s.Elapsed, s.Inputs, s.Rate, s.Links, s.Closed, s.Stalled, s.LatePings, len(s.Answers), len(kinds), len(bodies))
}

// reproduce replays records on a new link and reports whether the target
// then fails: it stops answering Pings on that link, or a new link is
// refused or not answered. It first waits up to RecoverWait for the target
// to answer on a new link. errGone: the target never came back.
func (f *fuzzer) reproduce(ctx context.Context, in *Input) (bool, error) {
	deadline := time.Now().Add(f.o.RecoverWait)
	for {
		kind, _ := f.probe(ctx)
		if kind == "" {
			break
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if time.Now().After(deadline) {
			return false, errGone
		}
		time.Sleep(time.Second)
	}
	l, err := f.connect(ctx)
	if err != nil {
		return false, nil
	}
	defer l.Close()
	for _, r := range in.Records {
		if l.write(r) != nil {
			break
		}
	}
	if !(in.Desync && l.stream) && l.alive() {
		if !f.pingTwice(l) && l.alive() {
			return true, nil
		}
	}
	kind, _ := f.probe(ctx)
	return kind != "", ctx.Err()
}

var errGone = errors.New("the target did not come back")

// triage finds the input among recent that makes the target fail,
// minimises it and writes the reproducer.
func (f *fuzzer) triage(ctx context.Context, kind, detail string, recent []Input) *Failure {
	fl := &Failure{Kind: kind, Detail: detail}
	all := Input{What: fmt.Sprintf("the %d inputs before the failure, in order", len(recent))}
	for _, in := range recent {
		all.Records = append(all.Records, in.Records...)
		all.Desync = all.Desync || in.Desync
	}
	fl.Input = &all
	// The newest first: the failure showed after the last batch.
	for i := len(recent) - 1; i >= 0 && ctx.Err() == nil; i-- {
		fl.Replays++
		ok, err := f.reproduce(ctx, &recent[i])
		if err != nil {
			fl.Detail += "; replay stopped: " + err.Error()
			break
		}
		if ok {
			fl.Input, fl.Reproduced = &recent[i], true
			break
		}
	}
	if !fl.Reproduced && ctx.Err() == nil {
		fl.Replays++
		if ok, _ := f.reproduce(ctx, &all); ok {
			fl.Reproduced = true
		}
	}
	fl.What = fl.Input.What
	fl.InputHex = hexRecords(fl.Input.Records)
	if fl.Reproduced {
		m := f.minimize(ctx, *fl.Input, &fl.Replays)
		fl.Minimized = &m
		fl.MinimizedHex = hexRecords(m.Records)
	}
	if f.o.Out != "" {
		if err := f.writeReproducer(ctx, fl); err != nil {
			fl.Detail += "; writing the reproducer: " + err.Error()
		}
	}
	return fl
}

func hexRecords(recs [][]byte) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = hex.EncodeToString(r)
	}
	return out
}

// minimize shrinks in while it still reproduces: it drops records, then
// list entries, options, extensions and fields of the message in each data
// frame (§6.3.2, §6.3.3), then chunks of bytes.
func (f *fuzzer) minimize(ctx context.Context, in Input, replays *int) Input {
	budget := f.o.MinimizeBudget
	try := func(c Input) bool {
		if budget <= 0 || ctx.Err() != nil {
			return false
		}
		budget--
		*replays++
		ok, _ := f.reproduce(ctx, &c)
		return ok
	}
	// Records.
	for i := len(in.Records) - 1; i >= 0 && len(in.Records) > 1; i-- {
		c := in
		c.Records = append(append([][]byte(nil), in.Records[:i]...), in.Records[i+1:]...)
		if try(c) {
			in = c
		}
	}
	// Fields, then bytes, of each data frame's message.
	for i := range in.Records {
		for progress := true; progress; {
			progress = false
			for _, msg := range f.reductions(in.Records[i]) {
				c := in
				c.Records = append([][]byte(nil), in.Records...)
				c.Records[i] = reframe(in.Records[i], msg)
				if try(c) {
					in, progress = c, true
					break
				}
			}
		}
		for chunk := frameLen(in.Records[i]) / 2; chunk >= 1; chunk /= 2 {
			for off := 0; ; {
				rec := in.Records[i]
				msg := frameMessage(rec)
				if msg == nil || off >= len(msg) {
					break
				}
				end := min(off+chunk, len(msg))
				cut := append(append([]byte(nil), msg[:off]...), msg[end:]...)
				fixLength(cut)
				c := in
				c.Records = append([][]byte(nil), in.Records...)
				c.Records[i] = reframe(rec, cut)
				if try(c) {
					in = c
				} else {
					off += chunk
				}
			}
		}
	}
	in.What = "minimised: " + describe(in)
	return in
}

// frameMessage is the message in a record that is exactly one data
// frame, else nil.
func frameMessage(rec []byte) []byte {
	if len(rec) < 8 || wire.FramedMessageType(rec[0]) != wire.FrameData {
		return nil
	}
	n := int(rec[5])<<16 | int(rec[6])<<8 | int(rec[7])
	if 8+n != len(rec) {
		return nil
	}
	return rec[8:]
}

func frameLen(rec []byte) int { return len(frameMessage(rec)) }

// reframe puts msg into a data frame with rec's sequence number.
func reframe(rec, msg []byte) []byte {
	return frame(binary.BigEndian.Uint32(rec[1:5]), msg)
}

// fixLength sets the forwarding header's length field (§6.3.2) of a
// message that starts with the RELOAD token.
func fixLength(msg []byte) {
	if len(msg) >= 20 && binary.BigEndian.Uint32(msg) == wire.ReloToken {
		binary.BigEndian.PutUint32(msg[16:20], uint32(len(msg)))
	}
}

// reductions are smaller variants of the message in rec: each list entry,
// option and extension dropped, the body emptied or halved, the
// certificates dropped.
func (f *fuzzer) reductions(rec []byte) [][]byte {
	msg := frameMessage(rec)
	if msg == nil {
		return nil
	}
	var m wire.Message
	if _, err := m.Decode(msg); err != nil {
		// The header alone may still decode: drop its list entries.
		return nil
	}
	var out [][]byte
	add := func(edit func(c *wire.Message)) {
		var c wire.Message
		if _, err := c.Decode(msg); err != nil {
			return
		}
		edit(&c)
		if b, err := c.Append(nil); err == nil && len(b) < len(msg) {
			out = append(out, b)
		}
	}
	for i := range m.Header.Via {
		add(func(c *wire.Message) { c.Header.Via = append(c.Header.Via[:i:i], c.Header.Via[i+1:]...) })
	}
	for i := range m.Header.Destinations {
		if len(m.Header.Destinations) > 1 {
			add(func(c *wire.Message) {
				c.Header.Destinations = append(c.Header.Destinations[:i:i], c.Header.Destinations[i+1:]...)
			})
		}
	}
	for i := range m.Header.Options {
		add(func(c *wire.Message) { c.Header.Options = append(c.Header.Options[:i:i], c.Header.Options[i+1:]...) })
	}
	for i := range m.Contents.Extensions {
		add(func(c *wire.Message) {
			c.Contents.Extensions = append(c.Contents.Extensions[:i:i], c.Contents.Extensions[i+1:]...)
		})
	}
	if len(m.Contents.Body) > 0 {
		add(func(c *wire.Message) { c.Contents.Body = nil })
		add(func(c *wire.Message) { c.Contents.Body = c.Contents.Body[:len(c.Contents.Body)/2] })
	}
	if len(m.Security.Certificates) > 0 {
		add(func(c *wire.Message) { c.Security.Certificates = nil })
	}
	if len(m.Security.Signature.Value) > 0 {
		add(func(c *wire.Message) { c.Security = wire.SecurityBlock{} })
	}
	return out
}

// describe says what a minimised input holds.
func describe(in Input) string {
	var parts []string
	for _, rec := range in.Records {
		msg := frameMessage(rec)
		if msg == nil {
			parts = append(parts, fmt.Sprintf("%d-byte record", len(rec)))
			continue
		}
		var m wire.Message
		if _, err := m.Decode(msg); err != nil {
			var h wire.ForwardingHeader
			if _, herr := h.Decode(msg); herr == nil {
				parts = append(parts, fmt.Sprintf("%d-byte message (ttl %d, via %d, destinations %d, options %d) whose contents do not decode: %v",
					len(msg), h.TTL, len(h.Via), len(h.Destinations), len(h.Options), err))
			} else {
				parts = append(parts, fmt.Sprintf("%d-byte message that does not decode: %v", len(msg), err))
			}
			continue
		}
		parts = append(parts, fmt.Sprintf("%v, %d bytes: ttl %d, via %d, destinations %d, options %d, extensions %d, body %d bytes",
			m.Contents.Code, len(msg), m.Header.TTL, len(m.Header.Via), len(m.Header.Destinations), len(m.Header.Options),
			len(m.Contents.Extensions), len(m.Contents.Body)))
	}
	return strings.Join(parts, "; ")
}

// writeReproducer writes to Options.Out: input.hex (the records, one per
// line), input.pcap and input.pcap.keys (a replay of it, captured), and
// the replay command in command.txt.
func (f *fuzzer) writeReproducer(ctx context.Context, fl *Failure) error {
	if err := os.MkdirAll(f.o.Out, 0o755); err != nil {
		return err
	}
	in := fl.Input
	if fl.Minimized != nil {
		in = fl.Minimized
	}
	hexPath := filepath.Join(f.o.Out, "input.hex")
	if err := WriteInput(hexPath, in, fmt.Sprintf("failure: %s (%s)\ntarget %s over %s, seed %d, reproduced: %v",
		fl.Kind, fl.Detail, f.o.Target, f.o.Transport, f.o.Seed, fl.Reproduced)); err != nil {
		return err
	}
	fl.Files = append(fl.Files, hexPath)
	if fl.Minimized != nil {
		orig := filepath.Join(f.o.Out, "original.hex")
		if err := WriteInput(orig, fl.Input, "the input before minimisation"); err != nil {
			return err
		}
		fl.Files = append(fl.Files, orig)
	}
	pcapPath := filepath.Join(f.o.Out, "input.pcap")
	if _, err := f.capture(ctx, in, pcapPath); err != nil {
		return err
	}
	fl.Files = append(fl.Files, pcapPath, pcapPath+".keys")
	fl.Command = "reload fuzz --replay " + hexPath
	if f.o.ReplayArgs != "" {
		fl.Command += " " + f.o.ReplayArgs
	}
	cmdPath := filepath.Join(f.o.Out, "command.txt")
	if err := os.WriteFile(cmdPath, []byte(fl.Command+"\n"), 0o644); err != nil {
		return err
	}
	fl.Files = append(fl.Files, cmdPath)
	return nil
}

// capture replays in once more with the traffic written to a pcap file
// and the (D)TLS secrets to a key log beside it.
func (f *fuzzer) capture(ctx context.Context, in *Input, path string) (bool, error) {
	pf, err := os.Create(path)
	if err != nil {
		return false, err
	}
	defer pf.Close()
	kf, err := os.OpenFile(path+".keys", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	defer kf.Close()
	c, err := capture.New(pf, capture.SentAndReceived)
	if err != nil {
		return false, err
	}
	f.d.capture, f.d.keyLog = c, kf
	defer func() { f.d.capture, f.d.keyLog = nil, nil }()
	failed, err := f.reproduce(ctx, in)
	if err != nil {
		return failed, err
	}
	return failed, c.Err()
}
