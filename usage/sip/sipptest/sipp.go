package sipptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Require returns the path of sipp, or skips the test when it is not
// installed, unless CI=true, in which case the test fails.
func Require(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("sipp not found (install sip-tester): %v", err)
		}
		tb.Skipf("sipp not found: %v", err)
	}
	return p
}

// FreePort returns a port that was free on 127.0.0.1 for both UDP and TCP
// a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("no free port")
	return 0
}

// Proc is a running sipp.
type Proc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
	// Dir is the working directory, where sipp writes its trace files.
	Dir string
}

// Start runs sipp with args in dir (a fresh temporary directory when
// empty). It adds -nostdin, and a control port of its own so that several
// instances can run at once.
func Start(ctx context.Context, tb testing.TB, dir string, args ...string) *Proc {
	tb.Helper()
	bin := Require(tb)
	if dir == "" {
		dir = tb.TempDir()
	}
	all := append([]string{"-nostdin", "-cp", strconv.Itoa(FreePort(tb))}, args...)
	p := &Proc{Dir: dir, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, all...)
	p.cmd.Dir = dir
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = &p.out
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("sipp: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Wait waits for sipp to exit; an exit status other than 0 (all calls
// successful) is an error that carries the tail of its output.
func (p *Proc) Wait() error {
	<-p.done
	if p.err != nil {
		return fmt.Errorf("sipp %s: %w\n%s", strings.Join(p.cmd.Args[1:], " "), p.err, tail(p.out.String(), 3000))
	}
	return nil
}

// Exited reports whether sipp has exited already (a UAS that could not
// bind its port exits at once).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is what sipp printed so far (after Wait: everything).
func (p *Proc) Output() string { return p.out.String() }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Run starts sipp and waits for it.
func Run(ctx context.Context, tb testing.TB, dir string, args ...string) (*Proc, error) {
	tb.Helper()
	p := Start(ctx, tb, dir, args...)
	return p, p.Wait()
}

// Scenario returns the absolute path of a scenario file.
func Scenario(tb testing.TB, path string) string {
	tb.Helper()
	a, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// ReadRTT reads the response times of one rtd (e.g. "setup"; empty for
// all) from a -trace_rtt file:
//
//	Date_ms;response_time_ms;rtd_no
//	1700000000123.456000;1.234000;setup
func ReadRTT(r io.Reader, rtd string) ([]time.Duration, error) {
	var out []time.Duration
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ";")
		if len(f) < 3 || f[0] == "Date_ms" {
			continue
		}
		if rtd != "" && f[2] != rtd {
			continue
		}
		ms, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("sipptest: rtt line %q: %w", sc.Text(), err)
		}
		out = append(out, time.Duration(ms*float64(time.Millisecond)))
	}
	return out, sc.Err()
}

// RTTFiles returns the -trace_rtt files sipp wrote in dir.
func RTTFiles(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
}

// ReadRTTDir reads every -trace_rtt file in dir.
func ReadRTTDir(dir, rtd string) ([]time.Duration, error) {
	files, err := RTTFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("sipptest: no *_rtt.csv in " + dir)
	}
	var all []time.Duration
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		d, err := ReadRTT(fh, rtd)
		fh.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, d...)
	}
	return all, nil
}

// Stats is the last row of a -trace_stat file, by column name.
type Stats map[string]string

// ReadStats reads the last data row of a -trace_stat CSV (';'-separated,
// header row first).
func ReadStats(r io.Reader) (Stats, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var head, last []string
	for sc.Scan() {
		f := strings.Split(strings.TrimRight(sc.Text(), ";"), ";")
		if head == nil {
			head = f
			continue
		}
		if len(f) > 1 {
			last = f
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if head == nil || last == nil {
		return nil, errors.New("sipptest: empty statistics file")
	}
	s := Stats{}
	for i, h := range head {
		if i < len(last) {
			s[h] = last[i]
		}
	}
	return s, nil
}

// Int is a numeric column of s (e.g. "SuccessfulCall(C)").
func (s Stats) Int(col string) (int, error) {
	v, ok := s[col]
	if !ok {
		return 0, fmt.Errorf("sipptest: no column %q", col)
	}
	return strconv.Atoi(strings.TrimSpace(v))
}

// Summary is a set of call set-up times.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize computes nearest-rank percentiles.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Summary{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

func (s Summary) String() string {
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", s.N, s.P50, s.P99, s.Max)
}

// ReadSetupFromMessages computes call set-up times (first INVITE sent to
// first 200 for it received, per Call-ID) from the message log of a UAC
// sipp run with -trace_msg, whose timestamps have microsecond resolution
// where -trace_rtt has only milliseconds (and sipp's clock ticks coarser
// still on some kernels).
func ReadSetupFromMessages(r io.Reader) ([]time.Duration, error) {
	const layout = "2006-01-02 15:04:05.000000"
	type call struct {
		invite, ok time.Time
	}
	calls := map[string]*call{}
	var order []string
	var (
		ts       time.Time
		dir      string // "sent" or "received"
		first    string
		inHeader bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "----"):
			stamp := strings.TrimSpace(strings.TrimLeft(line, "- "))
			t, err := time.ParseInLocation(layout, stamp, time.Local)
			if err != nil {
				return nil, fmt.Errorf("sipptest: message log timestamp %q: %w", stamp, err)
			}
			ts, dir, first, inHeader = t, "", "", false
		case dir == "" && strings.Contains(line, "message sent"):
			dir = "sent"
		case dir == "" && strings.Contains(line, "message received"):
			dir = "received"
		case dir != "" && first == "" && line != "":
			first, inHeader = line, true
		case inHeader && line == "":
			inHeader = false
		case inHeader && (strings.HasPrefix(strings.ToLower(line), "call-id:") || strings.HasPrefix(strings.ToLower(line), "i:")):
			_, id, _ := strings.Cut(line, ":")
			id = strings.TrimSpace(id)
			c := calls[id]
			if c == nil {
				c = &call{}
				calls[id] = c
				order = append(order, id)
			}
			switch {
			case dir == "sent" && strings.HasPrefix(first, "INVITE ") && c.invite.IsZero():
				c.invite = ts
			case dir == "received" && strings.HasPrefix(first, "SIP/2.0 200") && c.ok.IsZero() && !c.invite.IsZero():
				c.ok = ts // the 200 of the INVITE: the BYE's comes later
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []time.Duration
	for _, id := range order {
		if c := calls[id]; !c.invite.IsZero() && !c.ok.IsZero() {
			out = append(out, c.ok.Sub(c.invite))
		}
	}
	return out, nil
}

// WaitUDP waits until something (a sipp just started) has bound the UDP
// port on 127.0.0.1, or the timeout passes.
func WaitUDP(port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return true
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
