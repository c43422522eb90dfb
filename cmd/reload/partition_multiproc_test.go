package main

// Partition healing (RFC 6940 §10.7.4.4) with separate `reload node`
// processes: two seeds each found a ring of their own, and the partition
// checks of the peers (--partition-check) merge them into one. The normal
// suite runs the two-sided and the one-sided case; RELOAD_FLOOD=1 adds a
// run with the checks off, where the rings must stay apart:
//
//	RELOAD_FLOOD=1 go test -count=1 -v -run TestMultiProcessPartitionHeals ./cmd/reload/

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goreload/reload/node"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// partProc is one `reload node` process of a partition run.
type partProc struct {
	name, nodeID, idDir      string
	listen, control, logPath string
	tokenPath                string
	check                    string // --partition-check
	cmd                      *exec.Cmd
	joined, done             chan struct{}
}

// partRun holds the processes of one partition run.
type partRun struct {
	t     *testing.T
	bin   string
	cfg   string
	procs []*partProc
	http  *http.Client
	spawn chan func()
}

// spawner forks from one goroutine locked to its OS thread, which lives
// until the run ends: Pdeathsig kills a child when the thread that forked
// it ends, so no node outlives a test that panics or times out.
func (r *partRun) spawner() {
	runtime.LockOSThread()
	for f := range r.spawn {
		f()
	}
}

// start runs p as a seed (no boot) or joining through boot.
func (r *partRun) start(p *partProc, boot string) error {
	args := []string{"node", "--config", r.cfg, "--identity", p.idDir, "--listen", p.listen,
		"--control", p.control, "--control-token", p.tokenPath, "--partition-check", p.check}
	if boot == "" {
		args = append(args, "--seed")
	} else {
		args = append(args, "--bootstrap", boot)
	}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== reload %s\n", strings.Join(args, " "))
	cmd := exec.Command(r.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.joined, p.done = make(chan struct{}), make(chan struct{})
	cmd.Stdout = &joinWatcher{w: logf, joined: p.joined}
	cmd.Stderr = logf
	errc := make(chan error, 1)
	r.spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		logf.Close()
		return err
	}
	p.cmd = cmd
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== exit: %v\n", err)
		logf.Close()
		close(p.done)
	}()
	return nil
}

// waitJoined waits until p printed that it joined.
func (r *partRun) waitJoined(ctx context.Context, p *partProc) error {
	select {
	case <-p.joined:
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited before joining (see %s)", p.name, p.logPath)
	case <-ctx.Done():
		return fmt.Errorf("%s: not joined: %w", p.name, ctx.Err())
	}
}

// status asks p's control API for its status.
func (r *partRun) status(ctx context.Context, p *partProc) (node.Status, error) {
	var st node.Status
	tok, err := os.ReadFile(p.tokenPath)
	if err != nil {
		return st, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.control+"/status", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := r.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: GET /status: %s: %s", p.name, resp.Status, strings.TrimSpace(string(b)))
	}
	return st, json.Unmarshal(b, &st)
}

// ringWrong lists the processes among procs whose successor and
// predecessor lists (CHORD-RELOAD, RFC 6940 §10.3: DefaultSuccessors and
// DefaultPredecessors, fewer in a smaller ring) are not those of the one
// ring of the Node-IDs of procs; none when they form that ring.
func (r *partRun) ringWrong(ctx context.Context, procs []*partProc) []string {
	ids := make([]string, len(procs))
	for i, p := range procs {
		ids[i] = p.nodeID
	}
	slices.Sort(ids)
	n := len(ids)
	var wrong []string
	for _, p := range procs {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := r.status(c, p)
		cancel()
		if err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %v", p.name, err))
			continue
		}
		idx, _ := slices.BinarySearch(ids, st.NodeID)
		var succ, pred []string
		for k := range min(chord.DefaultSuccessors, n-1) {
			succ = append(succ, ids[(idx+1+k)%n])
		}
		for k := range min(chord.DefaultPredecessors, n-1) {
			pred = append(pred, ids[((idx-1-k)%n+n)%n])
		}
		if !st.Joined || st.NodeID != p.nodeID || !slices.Equal(st.Successors, succ) || !slices.Equal(st.Predecessors, pred) {
			wrong = append(wrong, fmt.Sprintf("%s (%s): joined %v, successors %v, predecessors %v; want %v / %v",
				p.name, st.NodeID, st.Joined, st.Successors, st.Predecessors, succ, pred))
		}
	}
	return wrong
}

// dumpLogs logs the tail of every process's log.
func (r *partRun) dumpLogs() {
	for _, p := range r.procs {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			continue
		}
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		r.t.Logf("--- %s (%s) log tail:\n%s", p.name, p.nodeID, b)
	}
}

// TestMultiProcessPartitionHeals starts seed A and seed B as separate
// processes, so that they found two rings, and three peers joining each
// of them; every process looks for partitions every second (RFC 6940
// §10.7.4.4) and the two rings must become the one ring of all eight
// Node-IDs. Two-sided: the configuration lists both seeds as bootstrap
// nodes, so peers of either ring find the other. One-sided
// it lists only seed A; A and its peers look only through A and find
// nothing, B and its peers look through A and merge the rings from B's
// side. Off (RELOAD_FLOOD=1): two-sided, but with --partition-check -1
// the rings stay apart.
func TestMultiProcessPartitionHeals(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups and Pdeathsig: Linux only")
	}
	dir := t.TempDir()
	bin := buildReload(t, dir)
	for _, tc := range []struct {
		name     string
		twoSided bool
		check    string
	}{{"two-sided", true, "1s"}, {"one-sided", false, "1s"}, {"off", true, "-1s"}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.check != "1s" && os.Getenv("RELOAD_FLOOD") != "1" {
				t.Skip("set RELOAD_FLOOD=1 for the run without partition checks")
			}
			partitionHeals(t, bin, tc.twoSided, tc.check)
		})
	}
}

// partitionHeals runs rings B and A one after the other, with the
// configuration listing both seeds (twoSided) or seed A only, every
// process with --partition-check check, and waits for one ring of all
// (checks on) or makes sure the rings stay apart (checks off).
func partitionHeals(t *testing.T, bin string, twoSided bool, check string) {
	const n = 8 // node1 seed A, node2 seed B, node3-5 join A, node6-8 join B
	dir := t.TempDir()
	ports := freePorts(t, 2*n)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	seedA, seedB := addr(0), addr(2)
	ovDir := filepath.Join(dir, "overlay")
	initArgs := []string{"overlay", "init", "--dir", ovDir, "--name", "partition.example.org", "--nodes", strconv.Itoa(n),
		"--bootstrap", seedA}
	if twoSided {
		initArgs = append(initArgs, "--bootstrap", seedB)
	}
	initOut, err := exec.Command(bin, initArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("reload overlay init: %v\n%s", err, initOut)
	}
	ids := map[string]string{} // account -> Node-ID, from init's listing
	for _, line := range strings.Split(string(initOut), "\n") {
		if f := strings.Fields(line); len(f) == 4 && strings.HasPrefix(f[0], "node") {
			ids[f[0]] = f[1]
		}
	}
	r := &partRun{t: t, bin: bin, cfg: filepath.Join(ovDir, fileConfig), spawn: make(chan func()),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 5 * time.Second}}}
	go r.spawner()
	for i := range n {
		name := "node" + strconv.Itoa(i+1)
		if _, err := wire.ParseNodeID(ids[name]); err != nil {
			t.Fatalf("no Node-ID for %s in the output of reload overlay init:\n%s", name, initOut)
		}
		r.procs = append(r.procs, &partProc{name: name, nodeID: ids[name], idDir: filepath.Join(ovDir, dirNodes, name),
			listen: addr(2 * i), control: addr(2*i + 1), logPath: filepath.Join(dir, name+".log"),
			tokenPath: filepath.Join(dir, name+".token"), check: check})
	}
	t.Cleanup(func() {
		for _, p := range r.procs {
			if p.cmd != nil {
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
		close(r.spawn)
		r.http.CloseIdleConnections()
	})
	defer func() {
		if t.Failed() {
			r.dumpLogs()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Ring B first, complete: seed B and three peers through it (in the
	// two-sided case their checks through seed A fail while A is down).
	// Then ring A, which can meet ring B only through partition checks:
	// no process has a --bootstrap of the other ring.
	ringA := []*partProc{r.procs[0], r.procs[2], r.procs[3], r.procs[4]}
	ringB := []*partProc{r.procs[1], r.procs[5], r.procs[6], r.procs[7]}
	startRing := func(ring []*partProc) {
		t.Helper()
		if err := r.start(ring[0], ""); err != nil {
			t.Fatalf("start %s: %v", ring[0].name, err)
		}
		if err := r.waitJoined(ctx, ring[0]); err != nil {
			t.Fatal(err)
		}
		for _, p := range ring[1:] {
			if err := r.start(p, ring[0].listen); err != nil {
				t.Fatalf("start %s: %v", p.name, err)
			}
		}
		for _, p := range ring[1:] {
			if err := r.waitJoined(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitRing := func(procs []*partProc, what string, since time.Time) {
		t.Helper()
		deadline := since.Add(120 * time.Second)
		for {
			wrong := r.ringWrong(ctx, procs)
			if len(wrong) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not formed within %v:\n%s", what, time.Since(since).Round(time.Second), strings.Join(wrong, "\n"))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	tb := time.Now()
	startRing(ringB)
	waitRing(ringB, "ring B", tb)
	ringBTime := time.Since(tb)

	t0 := time.Now() // a second ring is founded: the partition begins
	startRing(ringA)
	joined := time.Since(t0)
	// How far the merge got while ring A's peers joined.
	bSide := "seed B's status unknown"
	if st, err := r.status(ctx, r.procs[1]); err == nil {
		k := 0
		for _, id := range slices.Concat(st.Successors, st.Predecessors) {
			if slices.ContainsFunc(ringA, func(p *partProc) bool { return p.nodeID == id }) {
				k++
			}
		}
		bSide = fmt.Sprintf("then %d of seed B's %d neighbours were of ring A", k, len(st.Successors)+len(st.Predecessors))
	}
	if strings.HasPrefix(check, "-") {
		// No checks: nothing joins the rings, which stay two while
		// ring A completes and a few seconds more.
		waitRing(ringA, "ring A", t0)
		time.Sleep(5 * time.Second)
		for _, ring := range [][]*partProc{ringA, ringB} {
			if wrong := r.ringWrong(ctx, ring); len(wrong) > 0 {
				t.Fatalf("without partition checks the rings changed:\n%s", strings.Join(wrong, "\n"))
			}
		}
		t.Logf("partition checks off: rings A and B still apart %.1fs after ring A's seed's start", time.Since(t0).Seconds())
		return
	}
	waitRing(r.procs, "one ring of all processes", t0)
	healed := time.Since(t0)
	side := "two-sided"
	if !twoSided {
		side = "one-sided"
	}
	t.Logf("partition heal, %s: ring B of 4 processes formed in %.1fs; ring A's 4 joined %.1fs after its seed's start (%s); one ring of %d %.1fs after ring A's seed's start, %.1fs after its last join",
		side, ringBTime.Seconds(), joined.Seconds(), bSide, n, healed.Seconds(), (healed - joined).Seconds())
}
