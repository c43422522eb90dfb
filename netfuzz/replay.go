package netfuzz

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteInput writes in to path: comment lines starting with "#" (note,
// then what the input is), then each record as one line of hex.
func WriteInput(path string, in *Input, note string) error {
	var b strings.Builder
	for _, line := range strings.Split(note, "\n") {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	fmt.Fprintf(&b, "# %s\n", in.What)
	if in.Desync {
		b.WriteString("# desync: breaks the framing of a stream link\n")
	}
	fmt.Fprintf(&b, "# %d record(s), each written to the link with one write, as hex:\n", len(in.Records))
	for _, r := range in.Records {
		b.WriteString(hex.EncodeToString(r))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ReadInput reads a file written by WriteInput.
func ReadInput(path string) (*Input, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	in := &Input{What: filepath.Base(path)}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "# desync:") {
				in.Desync = true
			}
			continue
		}
		rec, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not hex: %w", path, n, err)
		}
		in.Records = append(in.Records, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(in.Records) == 0 {
		return nil, fmt.Errorf("%s holds no record", path)
	}
	return in, nil
}

// ReplayResult is what a replay found.
type ReplayResult struct {
	Input  string `json:"input"`
	Failed bool   `json:"failed"`
	Detail string `json:"detail"`
}

// Replay sends the input in path to the target on a new link, then checks
// as Run does that the target still answers a Ping on that link and on a
// new one. When pcap is set, the traffic is written there and the (D)TLS
// secrets to pcap+".keys".
func Replay(ctx context.Context, o Options, path, pcap string) (*ReplayResult, error) {
	in, err := ReadInput(path)
	if err != nil {
		return nil, err
	}
	if o.RecoverWait <= 0 {
		o.RecoverWait = time.Second
	}
	f, err := newFuzzer(o)
	if err != nil {
		return nil, err
	}
	f.started = time.Now()
	l, err := f.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("netfuzz: cannot open a link to %s: %w", o.Target, err)
	}
	ok := f.ping(l)
	l.Close()
	if !ok {
		return nil, fmt.Errorf("netfuzz: %s does not answer a Ping before the replay", o.Target)
	}
	res := &ReplayResult{Input: path}
	if pcap != "" {
		if res.Failed, err = f.capture(ctx, in, pcap); err != nil {
			return nil, err
		}
	} else {
		res.Failed, err = f.reproduce(ctx, in)
		if err != nil {
			return nil, err
		}
	}
	if res.Failed {
		res.Detail = "the target stopped answering after the input"
	} else {
		res.Detail = "the target still answers"
	}
	return res, nil
}
