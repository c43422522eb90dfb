package main

// The multi-process soak: real `reload node` processes on loopback,
// started, killed (SIGKILL) and restarted with their identity and durable
// data directory, observed only through their control APIs and SIP front
// ends. The normal suite runs a scaled-down version (16 processes, 20 s of
// churn); the full run is
//
//	RELOAD_SOAK=1 go test -count=1 -v -run TestMultiProcess -timeout 30m ./cmd/reload/
//
// and the scale can be set with RELOAD_SOAK_N (processes),
// RELOAD_SOAK_CHURN (fraction killed per round), RELOAD_SOAK_INTERVAL
// (time between rounds), RELOAD_SOAK_DURATION (length of the churn run),
// RELOAD_SOAK_VALUES (stored values), RELOAD_SOAK_AORS (SIP registrations)
// and RELOAD_SOAK_JOIN_PARALLEL (processes joining at once).
// RELOAD_BIN names a prebuilt reload binary instead of building one;
// RELOAD_SOAK_VERBOSE=1 runs the nodes with -v (debug logs);
// RELOAD_SOAK_LOG names a file that receives the run's report lines;
// RELOAD_SOAK_KEEP names a directory to copy the node logs to at the end.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/usage/sip/sipua"
	"github.com/goreload/reload/wire"
)

// soakParams is the scale of a multi-process run.
type soakParams struct {
	N            int           // processes
	Churn        float64       // fraction of the processes killed per round
	Interval     time.Duration // between churn rounds
	Duration     time.Duration // of the churn run
	Values       int           // stored values
	AORs         int           // SIP registrations
	JoinParallel int           // processes joining at once
	Fetchers     int           // concurrent fetch loops during churn
	Idle         time.Duration // quiet time before RSS is read
}

// selfTune (RELOAD_SOAK_SELFTUNE=1) makes the overlay a self-tuning one
// (RFC 7363) and checks each process's network size estimate after the
// initial convergence.
var selfTune = os.Getenv("RELOAD_SOAK_SELFTUNE") == "1"

// selfTuning waits until every process has recalculated its self-tuning
// parameters a few times and logs how its network size estimate (RFC
// 7363 §6.1, §6.5) compares with the number of processes; an estimate
// off by more than a factor of three (small rings see few gaps, see
// TestSelfTuningNodes) fails the run.
func (s *soak) selfTuning(ctx context.Context, fatal func(string, ...any)) {
	n := float64(s.p.N)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var est []float64
		var bad string
		for _, q := range s.joinedPeers() {
			var st node.Status
			if err := s.control(ctx, q, "GET", "/status", nil, nil, &st); err != nil || st.SelfTuning == nil {
				bad = fmt.Sprintf("%s: no self-tuning status (%v)", q.name, err)
				break
			}
			est = append(est, st.SelfTuning.NetworkSize)
			if st.SelfTuning.NetworkSize < n/3 || st.SelfTuning.NetworkSize > 3*n {
				bad = fmt.Sprintf("%s estimates %.0f", q.name, st.SelfTuning.NetworkSize)
			}
		}
		if bad == "" || time.Now().After(deadline) {
			sort.Float64s(est)
			if len(est) > 0 {
				mean := 0.0
				for _, e := range est {
					mean += e
				}
				mean /= float64(len(est))
				s.logf("self-tuning: %d processes; network size estimates min %.0f median %.0f mean %.1f max %.0f",
					s.p.N, est[0], est[len(est)/2], mean, est[len(est)-1])
			}
			if bad != "" {
				fatal("self-tuning: %s", bad)
			}
			return
		}
		time.Sleep(time.Second)
	}
}

func soakParamsFromEnv(t *testing.T) soakParams {
	p := soakParams{N: 16, Churn: 0.1, Interval: 5 * time.Second, Duration: 20 * time.Second, Values: 100, AORs: 4, JoinParallel: 4, Fetchers: 2}
	if os.Getenv("RELOAD_SOAK") == "1" {
		p = soakParams{N: 100, Churn: 0.1, Interval: 5 * time.Second, Duration: 60 * time.Second, Values: 500, AORs: 10, JoinParallel: 8, Fetchers: 4}
	}
	num := func(name string, dst *int) {
		if s := os.Getenv(name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 {
				t.Fatalf("%s=%q: want a non-negative integer", name, s)
			}
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		if s := os.Getenv(name); s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v < 0 {
				t.Fatalf("%s=%q: want a duration such as 5s", name, s)
			}
			*dst = v
		}
	}
	num("RELOAD_SOAK_N", &p.N)
	num("RELOAD_SOAK_VALUES", &p.Values)
	num("RELOAD_SOAK_AORS", &p.AORs)
	num("RELOAD_SOAK_JOIN_PARALLEL", &p.JoinParallel)
	dur("RELOAD_SOAK_INTERVAL", &p.Interval)
	dur("RELOAD_SOAK_DURATION", &p.Duration)
	dur("RELOAD_SOAK_IDLE", &p.Idle)
	if s := os.Getenv("RELOAD_SOAK_CHURN"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v >= 1 {
			t.Fatalf("RELOAD_SOAK_CHURN=%q: want a fraction in [0, 1)", s)
		}
		p.Churn = v
	}
	switch {
	case p.N < 2:
		t.Fatal("RELOAD_SOAK_N must be at least 2")
	case p.Values < 1:
		t.Fatal("RELOAD_SOAK_VALUES must be at least 1")
	case p.Values > p.N*20:
		t.Fatalf("RELOAD_SOAK_VALUES must be at most 20 per process (TURN-SERVICE NODE-MULTIPLE slots): %d", p.N*20)
	case p.Interval <= 0:
		t.Fatal("RELOAD_SOAK_INTERVAL must be positive")
	}
	p.AORs = min(p.AORs, p.N)
	p.JoinParallel = max(p.JoinParallel, 1)
	return p
}

// The overlay made for the run.
const soakOverlay = "soak.example.org"

// soakPeer is one `reload node` process slot: its identity, ports and
// data directory stay the same across restarts.
type soakPeer struct {
	i                       int
	name                    string // account: node<i>, certificate user node<i>@overlay
	idDir, dataDir, logPath string
	listen, control, sipUDP string
	nodeID                  string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	joined   chan struct{} // closed when it printed "joined the overlay"
	started  time.Time
	gen      int  // incremented on every start and kill
	up       bool // started and not killed
	restarts int
}

// state returns whether the peer is running and has joined, and its
// generation.
func (p *soakPeer) state() (joined bool, gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.up {
		return false, p.gen
	}
	select {
	case <-p.joined:
		return true, p.gen
	default:
		return false, p.gen
	}
}

// joinWatcher copies a node's stdout to its log and closes joined at the
// line the node prints once it is part of the ring.
type joinWatcher struct {
	w      io.Writer
	buf    []byte
	joined chan struct{}
	once   sync.Once
}

func (j *joinWatcher) Write(b []byte) (int, error) {
	j.buf = append(j.buf, b...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			break
		}
		if strings.TrimSpace(string(j.buf[:i])) == "joined the overlay" {
			j.once.Do(func() { close(j.joined) })
		}
		j.buf = j.buf[i+1:]
	}
	return j.w.Write(b)
}

// soak drives the processes.
type soak struct {
	t      *testing.T
	p      soakParams
	bin    string
	dir    string
	cfg    string
	peers  []*soakPeer
	http   *http.Client
	spawn  chan func()
	rngMu  sync.Mutex
	rng    *rand.Rand
	events *os.File
}

func (s *soak) randN(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *soak) logf(format string, args ...any) {
	line := fmt.Sprintf("%s "+format, append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	s.t.Log(line)
	if s.events != nil {
		fmt.Fprintln(s.events, line)
	}
}

// spawner starts processes from one goroutine locked to its OS thread:
// Pdeathsig kills a child when the thread that forked it ends, and this
// thread lives as long as the test process, so no node outlives a test
// that panics or times out.
func (s *soak) spawner() {
	runtime.LockOSThread()
	for f := range s.spawn {
		f()
	}
}

// start runs the peer's process; boot are bootstrap addresses, none for
// the seed.
func (s *soak) start(p *soakPeer, boot []string) error {
	args := []string{"node", "--config", s.cfg, "--identity", p.idDir, "--listen", p.listen, "--control", p.control,
		"--control-token", p.tokenPath(), "--data", p.dataDir, "--sip-udp", p.sipUDP}
	if len(boot) == 0 {
		args = append(args, "--seed")
	}
	if os.Getenv("RELOAD_SOAK_VERBOSE") == "1" {
		args = append(args, "-v")
	}
	// More flags for every process, such as --memory-limit 16MiB.
	args = append(args, strings.Fields(os.Getenv("RELOAD_SOAK_NODE_ARGS"))...)
	for _, b := range boot {
		args = append(args, "--bootstrap", b)
	}
	logf, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start: reload %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	joined := make(chan struct{})
	cmd.Stdout = &joinWatcher{w: logf, joined: joined}
	cmd.Stderr = logf
	errc := make(chan error, 1)
	s.spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== %s exit: %v\n", time.Now().Format(time.RFC3339Nano), err)
		logf.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done, p.joined, p.started, p.up = cmd, done, joined, time.Now(), true
	p.gen++
	p.mu.Unlock()
	return nil
}

// kill sends SIGKILL to the peer's process group and waits for it to end.
func (s *soak) kill(p *soakPeer) {
	p.mu.Lock()
	cmd, done, up := p.cmd, p.done, p.up
	p.up = false
	p.gen++
	p.mu.Unlock()
	if !up || cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// waitJoined waits until the peer's current process has joined, and
// returns the time from its start.
func (s *soak) waitJoined(ctx context.Context, p *soakPeer) (time.Duration, error) {
	p.mu.Lock()
	joined, done, started := p.joined, p.done, p.started
	p.mu.Unlock()
	select {
	case <-joined:
		return time.Since(started), nil
	case <-done:
		return 0, fmt.Errorf("%s exited before joining (see %s)", p.name, p.logPath)
	case <-ctx.Done():
		return 0, fmt.Errorf("%s: not joined: %w", p.name, ctx.Err())
	}
}

// bootstrapFor picks up to n joined peers other than p.
func (s *soak) bootstrapFor(p *soakPeer, n int) []string {
	var cand []*soakPeer
	for _, q := range s.peers {
		if q == p {
			continue
		}
		if j, _ := q.state(); j {
			cand = append(cand, q)
		}
	}
	s.rngMu.Lock()
	s.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	s.rngMu.Unlock()
	var out []string
	for _, q := range cand[:min(n, len(cand))] {
		out = append(out, q.listen)
	}
	return out
}

// joinedPeers lists the peers that are running and joined.
func (s *soak) joinedPeers() []*soakPeer {
	var out []*soakPeer
	for _, p := range s.peers {
		if j, _ := p.state(); j {
			out = append(out, p)
		}
	}
	return out
}

func (s *soak) randomJoined() *soakPeer {
	live := s.joinedPeers()
	if len(live) == 0 {
		return nil
	}
	return live[s.randN(len(live))]
}

// tokenPath is the file holding the bearer token of the peer's control
// API; the node makes it on its first start and keeps it.
func (p *soakPeer) tokenPath() string { return filepath.Join(p.dataDir, "control.token") }

// control calls a peer's control API.
func (s *soak) control(ctx context.Context, p *soakPeer, method, path string, q url.Values, body []byte, out any) error {
	u := "http://" + p.control + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	tok, err := os.ReadFile(p.tokenPath())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

// ringState asks every joined peer for its status and counts those whose
// first successor and predecessor are not the neighbours in the sorted
// ring of live Node-IDs (bad), and those whose neighbour lists are not
// complete and exact (partial).
func (s *soak) ringState(ctx context.Context) (live, bad, partial int, wrong []string, err error) {
	peers := s.joinedPeers()
	sts := make([]node.Status, len(peers))
	errs := make([]error, len(peers))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			errs[i] = s.control(c, p, "GET", "/status", nil, nil, &sts[i])
		}()
	}
	wg.Wait()
	// A peer killed meanwhile is not part of the ring.
	var ids []string
	var ok []node.Status
	for i, p := range peers {
		if j, _ := p.state(); !j {
			continue
		}
		if errs[i] != nil {
			return 0, 0, 0, nil, fmt.Errorf("%s: %w", p.name, errs[i])
		}
		ids = append(ids, sts[i].NodeID)
		ok = append(ok, sts[i])
	}
	sort.Strings(ids)
	n := len(ids)
	for _, st := range ok {
		idx := sort.SearchStrings(ids, st.NodeID)
		if !st.Joined || len(st.Successors) == 0 || len(st.Predecessors) == 0 ||
			st.Successors[0] != ids[(idx+1)%n] || st.Predecessors[0] != ids[(idx-1+n)%n] {
			bad++
			partial++
			wrong = append(wrong, fmt.Sprintf("%s: joined %v, successors %v, predecessors %v; want %s / %s",
				st.NodeID, st.Joined, st.Successors, st.Predecessors, ids[(idx+1)%n], ids[(idx-1+n)%n]))
			continue
		}
		ns, np := chord.DefaultSuccessors, chord.DefaultPredecessors
		if t := st.SelfTuning; t != nil {
			ns, np = t.Successors, t.Predecessors // RFC 7363 §6.2
		}
		full := len(st.Successors) == min(ns, n-1) && len(st.Predecessors) == min(np, n-1)
		for k, id := range st.Successors {
			full = full && id == ids[(idx+1+k)%n]
		}
		for k, id := range st.Predecessors {
			full = full && id == ids[((idx-1-k)%n+n)%n]
		}
		if !full {
			partial++
		}
	}
	return n, bad, partial, wrong, nil
}

// reportStuck logs, for a restarted peer that has not joined yet, its own
// links and every joined peer that lists its Node-ID as a successor,
// predecessor or finger: those route its old range, and maybe its own
// join, to a process that cannot route.
func (s *soak) reportStuck(ctx context.Context, p *soakPeer) {
	if j, _ := p.state(); j {
		return
	}
	var self node.Status
	if err := s.control(ctx, p, "GET", "/status", nil, nil, &self); err != nil {
		s.logf("%s not joined after 20s; status: %v", p.name, err)
		return
	}
	var links []string
	for _, l := range self.Links {
		links = append(links, l.NodeID)
	}
	var holders []string
	for _, q := range s.joinedPeers() {
		var st node.Status
		if q == p || s.control(ctx, q, "GET", "/status", nil, nil, &st) != nil {
			continue
		}
		var in []string
		for what, l := range map[string][]string{"successor": st.Successors, "predecessor": st.Predecessors, "finger": st.Fingers} {
			if slices.Contains(l, p.nodeID) {
				in = append(in, what)
			}
		}
		if len(in) > 0 {
			sort.Strings(in)
			linked := false
			for _, l := range st.Links {
				linked = linked || l.NodeID == p.nodeID
			}
			holders = append(holders, fmt.Sprintf("%s (%s, linked %v)", q.name, strings.Join(in, "+"), linked))
		}
	}
	s.logf("%s (%s) not joined after 20s: links to %v; listed by %v", p.name, p.nodeID, links, holders)
}

// converge polls the ring until every live peer's first neighbours are
// right (the convergence time returned) and then until every neighbour
// list is (the second time), or until ctx ends.
func (s *soak) converge(ctx context.Context, what string) (first, full time.Duration, err error) {
	t0 := time.Now()
	last := ""
	for {
		live, bad, partial, wrong, err := s.ringState(ctx)
		state := fmt.Sprintf("%d live, %d with wrong neighbours, %d with incomplete lists", live, bad, partial)
		if err == nil && state != last {
			s.logf("%s: ring %s (%.1fs)", what, state, time.Since(t0).Seconds())
			last = state
		}
		if err == nil && bad == 0 && first == 0 {
			first = time.Since(t0)
		}
		if err == nil && partial == 0 {
			return first, time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("ring not converged: %s", state)
				for _, w := range wrong {
					s.logf("%s: wrong neighbours at %s", what, w)
				}
			}
			return first, 0, fmt.Errorf("%s: %w", what, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// soakValue is one stored TURN-SERVICE value: NODE-MULTIPLE lets each
// node store at 20 Resource-IDs H(Node-ID || i) spread over the ring.
type soakValue struct {
	res   string // resource:HEX
	value string
}

func (s *soak) storeValue(ctx context.Context, owner *soakPeer, slot int, value string) (soakValue, error) {
	id, err := wire.ParseNodeID(owner.nodeID)
	if err != nil {
		return soakValue{}, err
	}
	v := soakValue{res: "resource:" + hex.EncodeToString(storage.NodeMultipleResourceID(storage.ChordHash, id, slot)), value: value}
	q := url.Values{"resource": {v.res}, "kind": {"TURN-SERVICE"}, "lifetime": {"86400"}}
	var out struct {
		Kinds []struct {
			Replicas []string `json:"replicas"`
		} `json:"kinds"`
	}
	return v, s.control(ctx, owner, "POST", "/store", q, []byte(value), &out)
}

// fetchOutcome classifies one fetch.
type fetchOutcome int

const (
	fetchOK      fetchOutcome = iota
	fetchMissing              // the overlay answered without the value
	fetchError                // no answer (error, timeout)
	fetchVoid                 // the asking peer was killed meanwhile
)

func (s *soak) fetchValue(ctx context.Context, p *soakPeer, v soakValue) (fetchOutcome, error) {
	_, gen := p.state()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out struct {
		Values []struct {
			Exists bool   `json:"exists"`
			Value  string `json:"value"`
		} `json:"values"`
	}
	err := s.control(c, p, "GET", "/fetch", url.Values{"resource": {v.res}, "kind": {"TURN-SERVICE"}}, nil, &out)
	if j, g := p.state(); !j || g != gen {
		return fetchVoid, err
	}
	if err != nil {
		return fetchError, err
	}
	for _, x := range out.Values {
		if x.Exists && x.Value == v.value {
			return fetchOK, nil
		}
	}
	return fetchMissing, fmt.Errorf("%d values, none is %q", len(out.Values), v.value)
}

// register sends a SIP REGISTER for the peer's own AOR (its certificate
// user, as USER-NODE-MATCH requires) to its SIP front end and waits for
// the final response.
// calls has every phone call the next one's AOR through its own peer's
// front end (INVITE, 200, ACK, BYE through the overlay; a call is tried
// up to three times) and returns the calls that failed.
func (s *soak) calls(ctx context.Context, when string, phones []*sipua.Phone) (failed []string) {
	var setup durStats
	for i, ph := range phones {
		callee := phones[(i+1)%len(phones)]
		user, _, _ := strings.Cut(callee.AOR(), "@")
		var err error
		for range 3 {
			c, cancel := context.WithTimeout(ctx, 20*time.Second)
			var call sipua.Call
			call, err = ph.Call(c, user)
			cancel()
			if err == nil {
				setup = append(setup, call.Setup)
				break
			}
			time.Sleep(time.Second) // back-off between the three tries of a call against the live overlay
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s -> %s: %v", ph.AOR(), callee.AOR(), err))
		}
	}
	s.logf("SIP calls %s: %d of %d connected; setup %s", when, len(setup), len(phones), setup)
	return failed
}

// registrationResolvable fetches the SIP-REGISTRATION kind at the AOR of
// reg through p and reports whether reg's entry (keyed by its Node-ID) is
// there.
func (s *soak) registrationResolvable(ctx context.Context, p, reg *soakPeer) error {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out struct {
		Values []struct {
			Key    string `json:"key"`
			Exists bool   `json:"exists"`
		} `json:"values"`
	}
	if err := s.control(c, p, "GET", "/fetch", url.Values{"resource": {reg.name + "@" + soakOverlay}, "kind": {"SIP-REGISTRATION"}}, nil, &out); err != nil {
		return err
	}
	for _, v := range out.Values {
		if v.Exists && strings.EqualFold(v.Key, reg.nodeID) {
			return nil
		}
	}
	return fmt.Errorf("no registration of %s among %d values", reg.name, len(out.Values))
}

// rss reads the resident set size of a process in KiB.
func rss(pid int) int { return procStatus(pid, "VmRSS:") }

// procStatus reads one KiB field of a process's /proc/<pid>/status:
// VmRSS is RssAnon (the process's own memory: heap, stacks) plus RssFile
// (the binary's pages, the same file for every process, so shared).
func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return 0
}

// durStats summarises durations.
type durStats []time.Duration

func (d durStats) String() string {
	if len(d) == 0 {
		return "none"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	q := func(f float64) time.Duration { return s[int(math.Ceil(f*float64(len(s))))-1] }
	r := func(x time.Duration) string { return fmt.Sprintf("%.2fs", x.Seconds()) }
	return fmt.Sprintf("n=%d min %s median %s p90 %s max %s mean %s", len(s), r(s[0]), r(q(0.5)), r(q(0.9)), r(s[len(s)-1]), r(sum/time.Duration(len(s))))
}

// freePorts finds n distinct loopback ports free for TCP and UDP, below
// the kernel's ephemeral range (32768 and up by default on Linux), so
// that the nodes' own outgoing connections and port-0 sockets of other
// programs cannot take them between a kill and a restart.
func freePorts(t *testing.T, n int) []int {
	var out []int
	base := 10000 + rand.IntN(15000)
	for port := base; len(out) < n; port++ {
		if port >= 32768 {
			t.Fatalf("not %d free ports from %d below 32768", n, base)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		out = append(out, port)
	}
	return out
}

// buildReload builds the reload command once for the run, or takes
// RELOAD_BIN.
func buildReload(t *testing.T, dir string) string {
	if bin := os.Getenv("RELOAD_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "reload")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestMultiProcess runs an overlay of separate `reload node` processes on
// loopback: they join one by one, the ring converges, values are stored
// and SIP AORs registered, a share of the processes is killed and
// restarted at every round of a churn run while fetches go on, and then
// every value and registration must still be found.
func TestMultiProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups and Pdeathsig: Linux only")
	}
	p := soakParamsFromEnv(t)
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	dir := t.TempDir()
	s := &soak{t: t, p: p, dir: dir, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 5 * time.Second}},
		spawn: make(chan func()), rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	go s.spawner()
	t.Cleanup(func() {
		for _, q := range s.peers {
			s.kill(q)
		}
		close(s.spawn)
		s.http.CloseIdleConnections()
		if s.events != nil {
			s.events.Close()
		}
	})
	if out := os.Getenv("RELOAD_SOAK_LOG"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		s.events = f
	}
	s.logf("multi-process run: %d processes, churn %.0f%% every %s for %s, %d values, %d AORs (GOMAXPROCS %d, %d CPUs)",
		p.N, p.Churn*100, p.Interval, p.Duration, p.Values, p.AORs, runtime.GOMAXPROCS(0), runtime.NumCPU())

	// The binary and the overlay: CA, signed configuration, identities.
	s.bin = buildReload(t, dir)
	ovDir := filepath.Join(dir, "overlay")
	initArgs := []string{"overlay", "init", "--dir", ovDir, "--name", soakOverlay, "--nodes", strconv.Itoa(p.N)}
	if selfTune {
		initArgs = append(initArgs, "--self-tuning", "4") // RFC 7363
	}
	initCmd := exec.Command(s.bin, initArgs...)
	initOut, err := initCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reload overlay init: %v\n%s", err, initOut)
	}
	s.cfg = filepath.Join(ovDir, fileConfig)
	ids := map[string]string{} // account -> Node-ID, from init's listing
	for _, line := range strings.Split(string(initOut), "\n") {
		if f := strings.Fields(line); len(f) == 4 && strings.HasPrefix(f[0], "node") {
			ids[f[0]] = f[1]
		}
	}
	ports := freePorts(t, 3*p.N)
	for i := range p.N {
		name := "node" + strconv.Itoa(i+1)
		q := &soakPeer{i: i, name: name, nodeID: ids[name],
			idDir:   filepath.Join(ovDir, dirNodes, name),
			dataDir: filepath.Join(dir, "data", name), logPath: filepath.Join(dir, "logs", name+".log"),
			listen: "127.0.0.1:" + strconv.Itoa(ports[3*i]), control: "127.0.0.1:" + strconv.Itoa(ports[3*i+1]),
			sipUDP: "127.0.0.1:" + strconv.Itoa(ports[3*i+2])}
		if _, err := wire.ParseNodeID(q.nodeID); err != nil {
			t.Fatalf("no Node-ID for %s in the output of reload overlay init:\n%s", name, initOut)
		}
		if err := os.MkdirAll(q.dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(q.logPath), 0o700); err != nil {
			t.Fatal(err)
		}
		s.peers = append(s.peers, q)
	}
	failed := false
	defer func() {
		s.keepLogs()
		if failed || t.Failed() {
			s.dumpLogs()
		}
	}()
	fatal := func(format string, args ...any) {
		failed = true
		t.Fatalf(format, args...)
	}

	// Join: the seed, then the others through the seed and two joined
	// peers each, JoinParallel at a time.
	t0 := time.Now()
	if err := s.start(s.peers[0], nil); err != nil {
		fatal("start seed: %v", err)
	}
	jctx, jcancel := context.WithTimeout(ctx, 2*time.Minute)
	if _, err := s.waitJoined(jctx, s.peers[0]); err != nil {
		jcancel()
		fatal("seed: %v", err)
	}
	jcancel()
	var joinTimes durStats
	var jmu sync.Mutex
	var jerr error
	sem := make(chan struct{}, p.JoinParallel)
	var wg sync.WaitGroup
	for _, q := range s.peers[1:] {
		sem <- struct{}{}
		boot := append([]string{s.peers[0].listen}, s.bootstrapFor(q, 2)...)
		boot = slices.Compact(boot)
		if err := s.start(q, boot); err != nil {
			fatal("start %s: %v", q.name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			d, err := s.waitJoined(c, q)
			jmu.Lock()
			defer jmu.Unlock()
			if err != nil {
				jerr = errors.Join(jerr, err)
				return
			}
			joinTimes = append(joinTimes, d)
		}()
	}
	wg.Wait()
	if jerr != nil {
		fatal("join: %v", jerr)
	}
	allJoined := time.Since(t0)
	s.logf("join: %d processes joined in %.1fs; per process (start to joined): %s", p.N, allJoined.Seconds(), joinTimes)
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Minute)
	conv1, conv1Full, err := s.converge(cctx, "initial convergence")
	ccancel()
	if err != nil {
		fatal("%v", err)
	}
	s.logf("initial convergence: first neighbours right %.1fs, all neighbour lists %.1fs after the last join", conv1.Seconds(), conv1Full.Seconds())
	if selfTune {
		s.selfTuning(ctx, fatal)
	}

	// Values: TURN-SERVICE at H(Node-ID || slot), stored through the
	// owner's control API.
	var values []soakValue
	var vmu sync.Mutex
	var storeErrs []error
	slots := make([]int, p.N)
	type job struct {
		owner *soakPeer
		slot  int
		value string
	}
	jobs := make(chan job)
	ts := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var v soakValue
				var err error
				for attempt := range 3 {
					c, cancel := context.WithTimeout(ctx, 30*time.Second)
					v, err = s.storeValue(c, j.owner, j.slot, j.value)
					cancel()
					if err == nil {
						break
					}
					time.Sleep(time.Duration(attempt+1) * time.Second) // back-off before a retry against the live overlay
				}
				vmu.Lock()
				if err != nil {
					storeErrs = append(storeErrs, fmt.Errorf("%s slot %d: %w", j.owner.name, j.slot, err))
				} else {
					values = append(values, v)
				}
				vmu.Unlock()
			}
		}()
	}
	for k := range p.Values {
		i := s.randN(p.N)
		for slots[i] >= 20 {
			i = (i + 1) % p.N
		}
		slots[i]++
		jobs <- job{s.peers[i], slots[i], fmt.Sprintf("soak-value-%d-%x", k, s.randN(1<<30))}
	}
	close(jobs)
	wg.Wait()
	if len(storeErrs) > 0 {
		fatal("%d of %d stores failed: %v", len(storeErrs), p.Values, errors.Join(storeErrs...))
	}
	s.logf("stored %d values in %.1fs", len(values), time.Since(ts).Seconds())

	// SIP: a phone per AOR, registered at its own peer's front end.
	var registrars []*soakPeer
	var phones []*sipua.Phone
	for _, k := range rand.Perm(p.N)[:p.AORs] {
		q := s.peers[k]
		pw, err := readSIPPassword(q.idDir, q.name) // written by reload overlay init
		if err != nil {
			fatal("SIP: %v", err)
		}
		ph, err := sipua.New(sipua.Config{User: q.name, Password: pw, Domain: soakOverlay, Proxy: q.sipUDP})
		if err != nil {
			fatal("SIP: %v", err)
		}
		defer ph.Close()
		c, cancel := context.WithTimeout(ctx, 40*time.Second)
		err = ph.Register(c, time.Hour)
		cancel()
		if err != nil {
			fatal("SIP: REGISTER %s: %v", q.name, err)
		}
		registrars = append(registrars, q)
		phones = append(phones, ph)
	}
	for _, q := range registrars {
		if err := s.registrationResolvable(ctx, s.randomJoined(), q); err != nil {
			fatal("SIP registration before churn: %v", err)
		}
	}
	s.logf("SIP: %d AORs registered and resolvable", len(registrars))
	if failed := s.calls(ctx, "before churn", phones); len(failed) > 0 {
		fatal("SIP calls before churn failed:\n%s", strings.Join(failed, "\n"))
	}

	// Churn: every Interval, kill a random share of the joined processes
	// with SIGKILL and start them again at once with the same identity,
	// ports and data directory; meanwhile fetch without pause.
	var counts [4]atomic.Int64
	stopFetch := make(chan struct{})
	var fwg sync.WaitGroup
	var ferrMu sync.Mutex
	ferrSample := map[string]int{}
	for range p.Fetchers {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			for {
				select {
				case <-stopFetch:
					return
				default:
				}
				q := s.randomJoined()
				if q == nil { // every process restarting: look again soon, or stop
					select {
					case <-stopFetch:
						return
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				o, err := s.fetchValue(ctx, q, values[s.randN(len(values))])
				counts[o].Add(1)
				if err != nil && o != fetchVoid {
					ferrMu.Lock()
					msg := strings.Join(strings.Fields(err.Error()), " ")
					if len(msg) > 120 {
						msg = msg[:120]
					}
					ferrSample[msg]++
					ferrMu.Unlock()
				}
			}
		}()
	}
	perRound := max(1, int(math.Round(p.Churn*float64(p.N))))
	var rejoinTimes durStats
	var rmu sync.Mutex
	var rejoinErr error
	var rwg sync.WaitGroup
	churnStart := time.Now()
	kills := 0
	for round := 1; time.Since(churnStart) < p.Duration && ctx.Err() == nil; round++ {
		tr := time.Now()
		live := s.joinedPeers()
		s.rngMu.Lock()
		s.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		s.rngMu.Unlock()
		victims := live[:min(perRound, len(live)-1)]
		var names []string
		for _, q := range victims {
			names = append(names, q.name)
			s.kill(q)
			kills++
		}
		for _, q := range victims {
			boot := s.bootstrapFor(q, 3)
			if len(boot) == 0 { // never --seed on a restart: that would split the ring
				boot = []string{s.peers[(q.i+1)%p.N].listen}
			}
			if err := s.start(q, boot); err != nil {
				fatal("restart %s: %v", q.name, err)
			}
			q.restarts++
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				c, cancel := context.WithTimeout(ctx, 3*time.Minute)
				defer cancel()
				// A restart that has not joined after 20 s is stuck:
				// say which peers still route to its Node-ID.
				stuck := time.AfterFunc(20*time.Second, func() { s.reportStuck(c, q) })
				d, err := s.waitJoined(c, q)
				stuck.Stop()
				rmu.Lock()
				defer rmu.Unlock()
				if err != nil {
					rejoinErr = errors.Join(rejoinErr, err)
					return
				}
				rejoinTimes = append(rejoinTimes, d)
			}()
		}
		s.logf("churn round %d: killed and restarted %s", round, strings.Join(names, " "))
		select {
		case <-time.After(time.Until(tr.Add(p.Interval))):
		case <-ctx.Done():
		}
	}
	churnTime := time.Since(churnStart)
	close(stopFetch)
	fwg.Wait()
	rwg.Wait()
	if rejoinErr != nil {
		fatal("rejoin after restart: %v", rejoinErr)
	}
	s.logf("churn: %d kills in %.1fs; rejoin (start to joined): %s", kills, churnTime.Seconds(), rejoinTimes)
	s.logf("fetches during churn: %d ok, %d answered without the value, %d failed, %d void (asking peer killed)",
		counts[fetchOK].Load(), counts[fetchMissing].Load(), counts[fetchError].Load(), counts[fetchVoid].Load())
	for msg, n := range ferrSample {
		s.logf("  %dx %s", n, msg)
	}

	cctx, ccancel = context.WithTimeout(ctx, 5*time.Minute)
	conv2, conv2Full, err := s.converge(cctx, "re-convergence")
	ccancel()
	if err != nil {
		fatal("%v", err)
	}
	s.logf("re-convergence after churn: first neighbours right %.1fs, all neighbour lists %.1fs", conv2.Seconds(), conv2Full.Seconds())

	// Every value and registration, each fetched from a random peer; a
	// miss is tried again at other peers before it counts as lost.
	var lost []string
	var lmu sync.Mutex
	firstTry := atomic.Int64{}
	vj := make(chan soakValue)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range vj {
				var err error
				ok := false
				for attempt := range 4 {
					o, e := s.fetchValue(ctx, s.randomJoined(), v)
					if o == fetchOK {
						ok = true
						if attempt == 0 {
							firstTry.Add(1)
						}
						break
					}
					err = e
					time.Sleep(time.Second) // back-off before another peer is asked; first-try hits are reported
				}
				if !ok {
					lmu.Lock()
					lost = append(lost, fmt.Sprintf("%s: %v", v.res, err))
					lmu.Unlock()
				}
			}
		}()
	}
	for _, v := range values {
		vj <- v
	}
	close(vj)
	wg.Wait()
	var sipLost []string
	for _, q := range registrars {
		var err error
		for range 4 {
			if err = s.registrationResolvable(ctx, s.randomJoined(), q); err == nil {
				break
			}
			time.Sleep(time.Second) // back-off before another peer is asked
		}
		if err != nil {
			sipLost = append(sipLost, fmt.Sprintf("%s (restarted %d times): %v", q.name, q.restarts, err))
		}
	}
	s.logf("after churn: %d of %d values found (%d at the first try), %d lost; %d of %d AORs resolvable",
		len(values)-len(lost), len(values), firstTry.Load(), len(lost), len(registrars)-len(sipLost), len(registrars))
	restarted := 0
	for _, q := range registrars {
		if q.restarts > 0 {
			restarted++
		}
	}
	s.logf("SIP: %d of the %d callees' peers were restarted during churn; their phones did not register again", restarted, len(registrars))
	sipLost = append(sipLost, s.calls(ctx, "after churn", phones)...)

	if d := p.Idle; d > 0 {
		// RELOAD_SOAK_IDLE: let the processes idle before their RSS is
		// read, so that it is an idle node's and not one under load.
		s.logf("idling %v before reading RSS", d)
		time.Sleep(d)
	}
	var rs, anon []int
	for _, q := range s.peers {
		q.mu.Lock()
		if q.up && q.cmd != nil {
			if v := rss(q.cmd.Process.Pid); v > 0 {
				rs = append(rs, v)
				anon = append(anon, procStatus(q.cmd.Process.Pid, "RssAnon:"))
			}
		}
		q.mu.Unlock()
	}
	if len(rs) > 0 {
		for _, x := range []struct {
			what string
			v    []int
		}{{"RSS", rs}, {"RssAnon (private; the rest is mostly the binary's pages, which all processes share)", anon}} {
			slices.Sort(x.v)
			sum := 0
			for _, v := range x.v {
				sum += v
			}
			s.logf("%s per process: min %.1f MiB, median %.1f MiB, max %.1f MiB, total %.0f MiB", x.what,
				float64(x.v[0])/1024, float64(x.v[len(x.v)/2])/1024, float64(x.v[len(x.v)-1])/1024, float64(sum)/1024)
		}
	}
	s.logRuntimeMemory(ctx)
	if len(lost) > 0 {
		fatal("%d values lost:\n%s", len(lost), strings.Join(lost, "\n"))
	}
	if len(sipLost) > 0 {
		fatal("%d SIP registrations not resolvable or calls failed:\n%s", len(sipLost), strings.Join(sipLost, "\n"))
	}
}

// logRuntimeMemory logs where the Go runtime of one running process
// keeps its memory (heap, stacks, its own data), from the Go collector's
// metrics on the control API.
func (s *soak) logRuntimeMemory(ctx context.Context) {
	var p *soakPeer
	for _, q := range s.peers {
		q.mu.Lock()
		up := q.up && q.cmd != nil
		q.mu.Unlock()
		if up {
			p = q
			break
		}
	}
	if p == nil {
		return
	}
	tok, err := os.ReadFile(p.tokenPath())
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.control+"/metrics", nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := s.http.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, m := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes",
			"go_memstats_heap_released_bytes", "go_memstats_next_gc_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"} {
			if v, ok := strings.CutPrefix(line, m+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				if m == "go_goroutines" {
					parts = append(parts, fmt.Sprintf("%s %.0f", m, f))
				} else {
					parts = append(parts, fmt.Sprintf("%s %.1f MiB", strings.TrimPrefix(m, "go_memstats_"), f/(1<<20)))
				}
			}
		}
	}
	s.logf("Go runtime of %s: %s", p.name, strings.Join(parts, ", "))
}

// keepLogs copies the node logs to the directory RELOAD_SOAK_KEEP names.
func (s *soak) keepLogs() {
	if keep := os.Getenv("RELOAD_SOAK_KEEP"); keep != "" {
		if out, err := exec.Command("cp", "-r", filepath.Join(s.dir, "logs"), keep).CombinedOutput(); err != nil {
			s.t.Logf("keeping the logs: %v %s", err, out)
		}
	}
}

// dumpLogs logs the tail of every node's log.
func (s *soak) dumpLogs() {
	for _, q := range s.peers {
		b, err := os.ReadFile(q.logPath)
		if err != nil {
			continue
		}
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		s.t.Logf("--- %s (%s) log tail:\n%s", q.name, q.nodeID, b)
	}
}
