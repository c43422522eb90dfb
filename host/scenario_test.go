package host_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output")

// TestScenario runs the scripts of testdata/*.txt on a bus of hosts (see
// bus_test.go). Each block is a command line, a "----" line and the
// expected output up to a blank line; lines starting with # before a
// command are comments. Rewrite the expected output with
//
//	go test ./host -run TestScenario -update
//
// Commands:
//
//	peers a=40 b=80   hosts named a, b with Node-IDs 40…, 80… (hex prefixes)
//	clients e=90      the same for clients (RFC 6940 §3.2)
//	start a           a starts the overlay
//	join b via a,c    b dials a and c and joins through them (§10.5)
//	tick N            N ticks of 100 ms on every host
//	store a USER VAL  a stores VAL as USER's single value (USER-MATCH)
//	fetch a USER      a fetches it
//	fail a            a dies; its links go down at the other ends
//	mute a            a hangs: links stay up, nothing is answered
//	unmute a          a works again
//	lose prune        the bus loses the requests of these purposes (none: no more)
//	replicas N        hosts added next prune with Config.Replicas N
//	pruned a b        the values each host has pruned (Store.Pruned)
//	ready a [only=X]  the Readies of a since the last ready (lines containing X)
//	clear             forget the Readies so far
//	ring              every live node's neighbours and range
//	data a b          the values each host holds
//	links a b         the nodes each host knows a link to
func TestScenario(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type block struct {
	comments []string
	cmd      string
	want     string
}

func parseScenario(t *testing.T, path string) []block {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	var cur block
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			cur.comments = append(cur.comments, line)
			continue
		}
		cur.cmd = line
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s: %q not followed by ----", path, line)
		}
		var out []string
		for sc.Scan() && sc.Text() != "" {
			out = append(out, sc.Text())
		}
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, cur)
		cur = block{}
	}
	return blocks
}

func runScenario(t *testing.T, path string) {
	b := newBus(t, nil)
	blocks := parseScenario(t, path)
	var out strings.Builder
	for i, bl := range blocks {
		got := strings.TrimRight(exec(b, bl.cmd), "\n")
		if got == "" {
			got = "ok"
		}
		if !*update && got != bl.want {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", path, bl.cmd, got, bl.want)
		}
		blocks[i].want = got
		for _, c := range bl.comments {
			out.WriteString(c + "\n")
		}
		out.WriteString(bl.cmd + "\n----\n" + got + "\n\n")
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs one command and returns its output.
func exec(b *bus, line string) string {
	t := b.t
	f := strings.Fields(line)
	var out strings.Builder
	must := func(err error) {
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		}
	}
	switch f[0] {
	case "peers", "clients":
		for _, a := range f[1:] {
			name, prefix, ok := strings.Cut(a, "=")
			if !ok {
				t.Fatalf("%s: want name=hexprefix, got %q", f[0], a)
			}
			b.add(name, prefix, f[0] == "clients")
		}
	case "start":
		n := b.node(f[1])
		must(n.h.Start())
		b.process(n)
		b.run()
	case "join":
		if len(f) != 4 || f[2] != "via" {
			t.Fatalf("usage: join X via A,B")
		}
		n := b.node(f[1])
		var via []wire.NodeID
		for _, v := range strings.Split(f[3], ",") {
			p := b.node(v)
			if p.alive {
				b.connect(n, p)
			}
			via = append(via, p.id)
		}
		must(n.h.Join(via...))
		b.process(n)
		b.run()
	case "tick":
		k, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatal(err)
		}
		b.ticks(k)
	case "store":
		r := b.store(b.node(f[1]), f[2], f[3])
		switch {
		case !r.done:
			out.WriteString("no answer\n")
		case r.code == wire.CodeError:
			fmt.Fprintf(&out, "%s from %s\n", b.errorText(r.body), b.name(r.from))
		default:
			a := wire.StoreAns{IDLen: 16}
			if _, err := a.Decode(r.body); err != nil {
				t.Fatal(err)
			}
			for _, k := range a.KindResponses {
				fmt.Fprintf(&out, "stored at %s: generation %d, replicas %s\n", b.name(r.from), k.Generation, b.names(k.Replicas))
			}
		}
	case "fetch":
		r := b.fetch(b.node(f[1]), f[2])
		switch {
		case !r.done:
			out.WriteString("no answer\n")
		case r.code == wire.CodeError:
			fmt.Fprintf(&out, "%s from %s\n", b.errorText(r.body), b.name(r.from))
		default:
			a := wire.FetchAns{Models: b.kinds}
			if _, err := a.Decode(r.body); err != nil {
				t.Fatal(err)
			}
			for _, k := range a.KindResponses {
				for _, v := range k.Values {
					if !v.Value.Value.Exists {
						fmt.Fprintf(&out, "%s: none at %s\n", f[2], b.name(r.from))
						continue
					}
					fmt.Fprintf(&out, "%s=%q from %s\n", f[2], v.Value.Value.Value, b.name(r.from))
				}
			}
		}
	case "fail":
		b.fail(b.node(f[1]))
	case "mute":
		b.node(f[1]).mute = true
	case "lose":
		b.lose = map[host.Purpose]bool{}
		for _, p := range f[1:] {
			for q := host.Purpose(0); q < host.NumPurposes; q++ {
				if q.String() == p {
					b.lose[q] = true
				}
			}
		}
	case "unmute":
		b.node(f[1]).mute = false
	case "replicas":
		k, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatal(err)
		}
		b.replicas = k
	case "pruned":
		for _, name := range f[1:] {
			fmt.Fprintf(&out, "%s: %d values pruned\n", name, b.node(name).h.Store().Pruned())
		}
	case "ready":
		var only string
		var names []string
		for _, a := range f[1:] {
			if v, ok := strings.CutPrefix(a, "only="); ok {
				only = v
			} else {
				names = append(names, a)
			}
		}
		for _, name := range names {
			n := b.node(name)
			var head string
			for _, l := range n.log {
				if !strings.HasPrefix(l, " ") {
					head = l
					continue
				}
				if only != "" && !strings.Contains(l, only) {
					continue
				}
				if head != "" {
					fmt.Fprintf(&out, "%s %s\n", name, head)
					head = ""
				}
				out.WriteString(l + "\n")
			}
			n.log = nil
		}
	case "clear":
		for _, n := range b.order {
			n.log = nil
		}
	case "ring":
		for _, n := range b.order {
			switch {
			case !n.alive:
				fmt.Fprintf(&out, "%s: failed\n", n.name)
			case n.client:
				fmt.Fprintf(&out, "%s: client of %s\n", n.name, b.name(n.ch.AttachedPeer()))
			default:
				r, _ := n.ch.ResponsibleRange()
				fmt.Fprintf(&out, "%s: %s pred=%s succ=%s range=%s\n", n.name, n.ch.State(), b.names(n.ch.Predecessors()), b.names(n.ch.Successors()), b.rng(r))
			}
		}
	case "links":
		for _, name := range f[1:] {
			n := b.node(name)
			var ls []wire.NodeID
			for _, o := range b.order {
				if n.h.Linked(o.id) {
					ls = append(ls, o.id)
				}
			}
			fmt.Fprintf(&out, "%s: %s\n", name, b.names(ls))
		}
	case "data":
		for _, name := range f[1:] {
			fmt.Fprintf(&out, "%s: %s\n", name, b.data(b.node(name)))
		}
	default:
		t.Fatalf("unknown command %q", line)
	}
	return out.String()
}
