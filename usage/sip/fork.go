package sip

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Parallel forking (RFC 3261 §16.5–16.10). An INVITE that starts a dialog
// and has more than one target (several peers registered the AOR, or
// several local user agents bound it) is proxied statefully: one client
// branch per target, all at once; provisional responses and every 2xx go
// upstream at once, the first 2xx ends the search and CANCELs the other
// branches, and when no branch answers the best final response goes
// upstream (§16.7 step 6). Everything else stays transaction-stateless.

// SIP timers (RFC 3261 §17.1.1.2, §16.6 step 11).
const (
	timerT1 = 500 * time.Millisecond
	timerB  = 64 * timerT1
	// timerC bounds how long a branch may ring (RFC 3261 §16.6 step 11:
	// more than 3 minutes).
	timerC = 181 * time.Second
	// forkLinger keeps a finished fork so that retransmissions of the
	// INVITE and responses, and the ACK, are absorbed (RFC 3261 §17.2.1
	// Timer H, 64*T1).
	forkLinger = 64 * timerT1
)

// branchTarget is where one branch of a fork goes.
type branchTarget struct {
	uri sip.Uri // the new Request-URI (RFC 3261 §16.5)
	h   hop     // a link (h.dests), a TCP stream or a UDP address
	sid uint64  // the TCP stream of a local user agent, if any
}

// Branch states (RFC 3261 §17.1.1).
const (
	brCalling = iota
	brProceeding
	brCompleted
)

type forkBranch struct {
	target branchTarget
	req    *sip.Request // as sent, our Via on top; nil until sent
	s      *stream      // nil for UDP
	out    []byte       // the INVITE as sent, for UDP retransmission
	state  int
	// cancel is set once the branch is to be cancelled; a CANCEL goes
	// out as soon as a provisional response came (RFC 3261 §16.10).
	cancel     bool
	cancelSent bool
	cancelOut  []byte
	cancelDone bool
	sentAt     time.Time
	cancelAt   time.Time // when the CANCEL went out
	lastProv   time.Time // the last provisional response (Timer C)
	nextRetx   time.Time
	interval   time.Duration
}

// fork is one forked INVITE: the server transaction towards the caller
// and the client branches towards the targets.
type fork struct {
	f      *Frontend
	key    string // the server transaction key (RFC 3261 §17.2.3)
	prefix string // the branch of every client branch starts with it
	req    *sip.Request
	src    source

	mu       sync.Mutex
	branches []*forkBranch
	best     *sip.Response // best final non-2xx so far
	answered bool          // a 2xx went upstream
	done     bool          // a final response went upstream
	lastUp   []byte        // the last non-2xx response sent upstream
	doneAt   time.Time
	wake     chan struct{}
}

// serverKey is the RFC 3261 §17.2.3 key of a request's server
// transaction, ACK and CANCEL mapping to the INVITE's; "" for a branch
// without the magic cookie.
func serverKey(req *sip.Request) string {
	v := req.Via()
	if v == nil {
		return ""
	}
	b := v.Params.GetOr("branch", "")
	if !strings.HasPrefix(b, "z9hG4bK") {
		return ""
	}
	return b + "|" + v.SentBy()
}

// isForking reports whether req may be forked: an INVITE outside a dialog.
func isForking(req *sip.Request) bool {
	return req.Method == sip.INVITE && !req.To().Params.Has("tag")
}

// upstreamFork handles a request of an existing fork's server transaction:
// a retransmitted INVITE, the ACK of a non-2xx final response or a CANCEL.
// It reports false when req belongs to no fork.
func (f *Frontend) upstreamFork(req *sip.Request, src source) bool {
	switch req.Method {
	case sip.INVITE, sip.ACK, sip.CANCEL:
	default:
		return false
	}
	k := serverKey(req)
	if k == "" {
		return false
	}
	f.mu.Lock()
	fk := f.forks[k]
	f.mu.Unlock()
	if fk == nil {
		return false
	}
	switch req.Method {
	case sip.INVITE:
		fk.mu.Lock()
		last := fk.lastUp
		fk.mu.Unlock()
		if last != nil {
			f.sendTo(src, last)
		} else {
			f.reply(req, src, 100, "Trying")
		}
	case sip.ACK:
		// The ACK of the non-2xx final response we sent; the branches'
		// responses were acknowledged by us already (§16.7 step 3).
	case sip.CANCEL:
		// RFC 3261 §16.10: answer the CANCEL, cancel every pending branch;
		// the 487s they give make the final response.
		f.reply(req, src, 200, "OK")
		fk.mu.Lock()
		if !fk.done {
			for _, b := range fk.branches {
				fk.cancelBranch(b)
			}
		}
		fk.mu.Unlock()
		fk.kick()
	}
	return true
}

// startFork proxies req to every target at once. It returns at once; the
// fork runs until its final response and lingers to absorb
// retransmissions.
func (f *Frontend) startFork(req *sip.Request, src source, targets []branchTarget) {
	k := serverKey(req)
	if k == "" {
		// No RFC 3261 branch to match the CANCEL and ACK against: go to
		// the first target only, statelessly.
		t := targets[0]
		req.Recipient = t.uri
		f.forwardTarget(req, src, t)
		return
	}
	f.mu.Lock()
	if _, dup := f.forks[k]; dup {
		f.mu.Unlock()
		return
	}
	f.forkSeq++
	fk := &fork{f: f, key: k, req: req, src: src,
		prefix: f.forkBranchPrefix() + strconv.FormatUint(f.forkSeq, 36) + ".",
		wake:   make(chan struct{}, 1)}
	for _, t := range targets {
		fk.branches = append(fk.branches, &forkBranch{target: t, interval: timerT1})
	}
	f.forks[k] = fk
	f.forksByPrefix[fk.prefix] = fk
	f.mu.Unlock()

	// RFC 3261 §16.2: a stateful proxy answers an INVITE with 100 at
	// once, so that the caller stops retransmitting.
	f.reply(req, src, 100, "Trying")
	f.wg.Add(1)
	go fk.run()
}

// forwardTarget sends req statelessly to one branch target.
func (f *Frontend) forwardTarget(req *sip.Request, src source, t branchTarget) {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
	defer cancel()
	if t.sid != 0 {
		f.mu.Lock()
		s := f.streams[t.sid]
		f.mu.Unlock()
		if s != nil {
			f.send(ctx, req, src, t.h, s)
			return
		}
	}
	f.forward(ctx, req, src, t.h)
}

func (fk *fork) kick() {
	select {
	case fk.wake <- struct{}{}:
	default:
	}
}

// run sends the branches, then drives retransmissions and timers until
// the fork has finished and lingered.
func (fk *fork) run() {
	f := fk.f
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.forks, fk.key)
		delete(f.forksByPrefix, fk.prefix)
		f.mu.Unlock()
	}()
	// Clone the branch requests one after another: sipgo's Clone shares
	// some header values with the original.
	reqs := make([]*sip.Request, len(fk.branches))
	for i := range reqs {
		reqs[i] = fk.req.Clone()
	}
	var wg sync.WaitGroup
	for i := range fk.branches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fk.sendBranch(i, reqs[i])
		}()
	}
	wg.Wait()
	t := time.NewTicker(timerT1 / 5)
	defer t.Stop()
	for {
		now := time.Now()
		fk.mu.Lock()
		fk.tick(now)
		over := fk.done && fk.allCompleted() && now.Sub(fk.doneAt) >= forkLinger ||
			fk.done && now.Sub(fk.doneAt) >= timerB+forkLinger
		fk.mu.Unlock()
		if over {
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		case <-fk.wake:
		}
	}
}

// sendBranch builds branch i's request (RFC 3261 §16.6) and sends it.
func (fk *fork) sendBranch(i int, req *sip.Request) {
	f := fk.f
	b := fk.branches[i]
	req.Recipient = b.target.uri
	out := f.prepare(req, fk.src, b.target.h, fk.prefix+strconv.Itoa(i))
	fk.mu.Lock()
	b.req, b.out = req, out
	fk.mu.Unlock()
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.RequestTimeout)
	defer cancel()
	var s *stream
	var err error
	switch {
	case b.target.sid != 0:
		f.mu.Lock()
		s = f.streams[b.target.sid]
		f.mu.Unlock()
		if s == nil {
			s, err = f.tcpTo(ctx, b.target.h.addr)
		}
	case b.target.h.transport == tLink:
		s, err = f.link(ctx, b.target.h.dests)
	case b.target.h.transport == tTCP:
		s, err = f.tcpTo(ctx, b.target.h.addr)
	}
	fk.mu.Lock()
	defer fk.mu.Unlock()
	if err != nil {
		f.log.Debug("sip: fork branch", "hop", b.target.h, "err", err)
		// RFC 3261 §16.7 step 6 counts a branch that could not be reached
		// as a 503 from it (converted to 500 if it is chosen).
		b.state = brCompleted
		fk.consider(fk.synth(b, 503, "Service Unavailable"))
		return
	}
	b.s = s
	now := time.Now()
	b.sentAt, b.nextRetx = now, now.Add(b.interval)
	fk.write(b, out)
}

// synth is a response this proxy makes for branch b (a timeout, an
// unreachable target), as if it came from the branch.
func (fk *fork) synth(b *forkBranch, code int, reason string) *sip.Response {
	r := sip.NewResponseFromRequest(b.req, code, reason, nil)
	if to := r.To(); to != nil && !to.Params.Has("tag") {
		to.Params.Add("tag", fk.f.tag+"f")
	}
	return r
}

func (fk *fork) write(b *forkBranch, out []byte) {
	if b.s != nil {
		if err := b.s.send(out); err != nil {
			fk.f.log.Debug("sip: fork send", "err", err)
		}
		return
	}
	fk.f.writeUDP(b.target.h.addr, out)
}

// tick retransmits over UDP (RFC 3261 §17.1.1.2 Timer A, §9.1 for
// CANCEL) and applies Timers B and C. Called with fk.mu held.
func (fk *fork) tick(now time.Time) {
	for _, b := range fk.branches {
		if b.sentAt.IsZero() || b.state == brCompleted {
			continue // not sent yet, or done
		}
		switch {
		case b.state == brCalling && now.Sub(b.sentAt) >= timerB:
			// Timer B: the branch times out as a 408 (§16.7 step 6).
			b.state = brCompleted
			fk.consider(fk.synth(b, 408, "Request Timeout"))
			continue
		case b.cancelSent && now.Sub(b.cancelAt) >= timerB:
			// RFC 3261 §9.1: no final response 64*T1 after the CANCEL;
			// the branch is given up.
			b.state = brCompleted
			fk.consider(fk.synth(b, 408, "Request Timeout"))
			continue
		case b.state == brProceeding && now.Sub(b.lastProv) >= timerC:
			// Timer C (§16.6 step 11, §16.7 step 2: reset by each
			// provisional response): ringing too long.
			fk.cancelBranch(b)
		}
		if b.s != nil || now.Before(b.nextRetx) {
			continue
		}
		switch {
		case b.state == brCalling:
			fk.f.writeUDP(b.target.h.addr, b.out)
		case b.cancelSent && !b.cancelDone:
			fk.f.writeUDP(b.target.h.addr, b.cancelOut)
		default:
			continue
		}
		b.interval *= 2
		if b.state != brCalling && b.interval > 4*time.Second {
			b.interval = 4 * time.Second // T2 for the CANCEL
		}
		b.nextRetx = now.Add(b.interval)
	}
}

func (fk *fork) allCompleted() bool {
	for _, b := range fk.branches {
		if b.state != brCompleted {
			return false
		}
	}
	return true
}

// cancelBranch cancels a branch now if it has had a provisional
// response, or as soon as it has one (RFC 3261 §16.10). Called with
// fk.mu held.
func (fk *fork) cancelBranch(b *forkBranch) {
	if b.state == brCompleted || b.cancelSent {
		return
	}
	b.cancel = true
	if b.state != brProceeding || b.req == nil {
		return
	}
	c := cancelFor(b.req)
	b.cancelOut = []byte(c.String())
	b.cancelSent = true
	b.cancelAt = time.Now()
	b.interval = timerT1
	b.nextRetx = b.cancelAt.Add(b.interval)
	fk.write(b, b.cancelOut)
}

// cancelFor is the CANCEL of a request (RFC 3261 §9.1): the same
// Request-URI, Call-ID, To, From, CSeq number, the top Via only, and the
// Route set.
func cancelFor(req *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, *req.Recipient.Clone())
	c.AppendHeader(req.Via().Clone())
	sip.CopyHeaders("Route", req, c)
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(req.From()))
	c.AppendHeader(sip.HeaderClone(req.To()))
	c.AppendHeader(sip.HeaderClone(req.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	return c
}

// ackFor is the ACK of a non-2xx final response to req (RFC 3261
// §17.1.1.3): the top Via and Route set of the INVITE, the To of the
// response.
func ackFor(req *sip.Request, res *sip.Response) *sip.Request {
	a := sip.NewRequest(sip.ACK, *req.Recipient.Clone())
	a.AppendHeader(req.Via().Clone())
	sip.CopyHeaders("Route", req, a)
	mf := sip.MaxForwardsHeader(70)
	a.AppendHeader(&mf)
	a.AppendHeader(sip.HeaderClone(req.From()))
	a.AppendHeader(sip.HeaderClone(res.To()))
	a.AppendHeader(sip.HeaderClone(req.CallID()))
	a.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
	a.SetBody(nil)
	return a
}

// forkResponse hands a response to the fork whose branch it names. It
// reports false when the branch is no fork's.
func (f *Frontend) forkResponse(res *sip.Response, branch string) bool {
	if !strings.HasPrefix(branch, f.forkBranchPrefix()) {
		return false
	}
	p, idx, ok := splitForkBranch(branch)
	if !ok {
		return true
	}
	f.mu.Lock()
	fk := f.forksByPrefix[p]
	f.mu.Unlock()
	if fk == nil {
		return true // a late response of a finished fork
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(fk.branches) {
		return true
	}
	fk.onResponse(i, res)
	return true
}

// forkBranchPrefix starts the branch of every fork's client branches:
// "z9hG4bK<tag>.fk<seq>.<i>"; the stateless branches are
// "z9hG4bK<tag>.<hex>", which has no 'k'.
func (f *Frontend) forkBranchPrefix() string { return "z9hG4bK" + f.tag + ".fk" }

// splitForkBranch splits "z9hG4bK<tag>.fk<seq>.<i>" into its prefix (with
// the last dot) and i.
func splitForkBranch(branch string) (prefix, idx string, ok bool) {
	j := strings.LastIndexByte(branch, '.')
	if j < 0 {
		return "", "", false
	}
	return branch[:j+1], branch[j+1:], true
}

// onResponse is RFC 3261 §16.7 for a response on branch i.
func (fk *fork) onResponse(i int, res *sip.Response) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	b := fk.branches[i]
	if b.req == nil {
		return
	}
	if cs := res.CSeq(); cs == nil || cs.MethodName == sip.CANCEL {
		b.cancelDone = true // the answer to our CANCEL
		return
	}
	code := res.StatusCode
	switch {
	case code < 200:
		if b.state == brCompleted {
			return
		}
		b.state, b.lastProv = brProceeding, time.Now()
		if b.cancel && !b.cancelSent {
			fk.cancelBranch(b)
		}
		if code == 100 || fk.done {
			return // 100 is hop by hop (§16.7 step 5)
		}
		fk.upstream(res)
	case code < 300:
		// Every 2xx goes upstream at once, the first ends the fork
		// (§16.7 steps 5 and 10); the caller ACKs each 2xx end to end.
		b.state = brCompleted
		fk.upstream(res)
		if !fk.done {
			fk.done, fk.answered, fk.doneAt = true, true, time.Now()
			for _, o := range fk.branches {
				fk.cancelBranch(o)
			}
		}
	default:
		// A non-2xx final response is acknowledged by this proxy's
		// client transaction, retransmissions too (§17.1.1.3).
		fk.write(b, []byte(ackFor(b.req, res).String()))
		if b.state == brCompleted {
			return
		}
		b.state = brCompleted
		fk.consider(res)
	}
	fk.kick()
}

// consider stores a final non-2xx response and, when every branch is
// done and none answered, sends the best one upstream (§16.7 step 6).
// Called with fk.mu held.
func (fk *fork) consider(res *sip.Response) {
	if fk.best == nil || better(res.StatusCode, fk.best.StatusCode) {
		fk.best = res
	}
	if res.StatusCode >= 600 && !fk.done {
		// §16.7 step 10: a 6xx cancels the other branches.
		for _, b := range fk.branches {
			fk.cancelBranch(b)
		}
	}
	if fk.done || !fk.allCompleted() {
		return
	}
	fk.done, fk.doneAt = true, time.Now()
	best := fk.best.Clone()
	if best.StatusCode == 503 {
		// §16.7 step 6: a 503 chosen becomes 500.
		best.StatusCode, best.Reason = 500, "Server Internal Error"
	}
	fk.lastUp = fk.upstream(best)
}

// better reports whether a final status code a is a better response to
// send upstream than b (§16.7 step 6): a 6xx first, then the lowest
// class; within a class the first kept.
func better(a, b int) bool {
	ca, cb := a/100, b/100
	switch {
	case cb == 6:
		return false
	case ca == 6:
		return true
	}
	return ca < cb
}

// upstream sends a branch's response to the caller: our Via off, then
// along the remaining Via (§16.7 step 9). It returns the bytes sent.
func (fk *fork) upstream(res *sip.Response) []byte {
	// The Via of the response to our server transaction is the request's
	// (RFC 3261 §8.2.6.2): put it back from the request rather than trust
	// what the branch returned below ours.
	res = res.Clone()
	for res.Via() != nil {
		res.RemoveHeader("Via")
	}
	for _, h := range fk.req.GetHeaders("Via") {
		res.AppendHeader(sip.HeaderClone(h))
	}
	next := res.Via()
	if next == nil {
		return nil
	}
	out := []byte(res.String())
	if fk.src.s != nil {
		_ = fk.src.s.send(out)
		return out
	}
	fk.f.writeUDP(viaAddr(next), out)
	return out
}
