package chord_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goreload/reload/sim"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output")

// scenario runs one script of testdata/*.txt on a simulator. Each block is
// a command line, a "----" line, and the expected output up to a blank
// line. Node names are hex prefixes of their 16-byte Node-IDs.
type scenario struct {
	t        *testing.T
	s        *sim.Sim
	names    map[wire.NodeID]string
	periodic map[wire.NodeID]bool
	client   map[wire.NodeID]bool
	cursor   map[wire.NodeID]int
	trace    *strings.Builder
}

func TestScenarios(t *testing.T) {
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
		switch {
		case cur.cmd == "" && (strings.HasPrefix(line, "#") || line == ""):
			cur.comments = append(cur.comments, line)
		case cur.cmd == "":
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
	}
	return blocks
}

func runScenario(t *testing.T, path string) {
	sn := &scenario{t: t, names: map[wire.NodeID]string{}, periodic: map[wire.NodeID]bool{}, client: map[wire.NodeID]bool{}, cursor: map[wire.NodeID]int{}}
	sn.s = sim.New(sim.Config{Seed: 1, DetectDelay: 5, Chord: func(c *chord.Config) {
		c.Reactive = !sn.periodic[c.ID]
		c.Client = sn.client[c.ID]
		c.UpdateInterval = 60e9 // one minute of virtual time, to keep scripts short
	}})
	sn.s.Trace = func(at int64, from, to wire.NodeID, code wire.MessageCode) {
		if sn.trace != nil {
			fmt.Fprintf(sn.trace, "t=%d %s -> %s %v\n", at, sn.name(from), sn.name(to), code)
		}
	}
	blocks := parseScenario(t, path)
	var out strings.Builder
	for i, b := range blocks {
		got := strings.TrimRight(sn.exec(b.cmd), "\n")
		if got == "" {
			got = "ok"
		}
		blocks[i].want = got
		if !*update && got != b.want {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", path, b.cmd, got, b.want)
		}
		for _, c := range b.comments {
			out.WriteString(c + "\n")
		}
		out.WriteString(b.cmd + "\n----\n" + got + "\n\n")
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (sn *scenario) id(name string) wire.NodeID {
	b := make([]byte, 16)
	for i := 0; i+1 < len(name)+1 && i/2 < 16 && i < len(name); i += 2 {
		v, err := strconv.ParseUint(name[i:min(i+2, len(name))], 16, 8)
		if err != nil {
			sn.t.Fatalf("bad node name %q", name)
		}
		b[i/2] = byte(v)
	}
	return wire.MustNodeID(b)
}

func (sn *scenario) name(id wire.NodeID) string {
	if n, ok := sn.names[id]; ok {
		return n
	}
	return strings.TrimRight(id.String(), "0")
}

func (sn *scenario) list(ids []wire.NodeID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = sn.name(id)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (sn *scenario) rng(r topology.Range) string {
	if r.IsZero() {
		return "()"
	}
	return "(" + sn.name(r.Start) + "," + sn.name(r.End) + "]"
}

// isError prints an error answer.
func (sn *scenario) isError(out *strings.Builder, x *sim.Exchange) bool {
	if !x.Done {
		out.WriteString("no answer\n")
		return true
	}
	if x.Code != wire.CodeError {
		return false
	}
	var e wire.ErrorResponse
	if _, err := e.Decode(x.Body); err != nil {
		fmt.Fprintf(out, "bad error answer: %v\n", err)
		return true
	}
	fmt.Fprintf(out, "error %v from %s: %s\n", e.Code, sn.name(x.From), e.Info)
	return true
}

// inject sends a request with body from node f[1] directly to node f[2]
// and prints its answer, with the messages the plugins exchange meanwhile
// when the command has the argument trace.
func (sn *scenario) inject(out *strings.Builder, f []string, code wire.MessageCode, body []byte) {
	if slices.Contains(f[3:], "trace") {
		sn.trace = out
	}
	x := sn.s.Request(sn.id(f[1]), sn.id(f[2]), nil, code, body)
	sn.s.RunUntil(100, 1, func() bool { return x.Done })
	sn.s.Run(4)
	sn.trace = nil
	if !sn.isError(out, x) {
		fmt.Fprintf(out, "%v from %s\n", x.Code, sn.name(x.From))
	}
}

// exec runs one command and returns its output.
func (sn *scenario) exec(line string) string {
	f := strings.Fields(line)
	s := sn.s
	var out strings.Builder
	arg := func(key string) (string, bool) {
		for _, a := range f[1:] {
			if v, ok := strings.CutPrefix(a, key+"="); ok {
				return v, true
			}
			if a == key {
				return "", true
			}
		}
		return "", false
	}
	must := func(err error) {
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		}
	}
	switch f[0] {
	case "nodes", "clients":
		_, periodic := arg("periodic")
		for _, n := range f[1:] {
			if strings.Contains(n, "=") || n == "periodic" {
				continue
			}
			id := sn.id(n)
			sn.names[id] = n
			sn.periodic[id] = periodic
			sn.client[id] = f[0] == "clients"
			_, err := s.Add(id)
			must(err)
		}
	case "start":
		must(s.Start(sn.id(f[1])))
	case "join":
		via, _ := arg("via")
		must(s.Join(sn.id(f[1]), sn.id(via)))
	case "run":
		n, _ := strconv.Atoi(f[1])
		if _, ok := arg("trace"); ok {
			sn.trace = &out
		}
		s.Run(int64(n))
		sn.trace = nil
	case "settle":
		t0 := s.Now
		if s.Settle(3, 3, 20000) {
			fmt.Fprintf(&out, "converged after %d ticks\n", s.Now-t0)
		} else {
			fmt.Fprintf(&out, "NOT converged after %d ticks\n", s.Now-t0)
		}
	case "ring":
		for _, id := range s.Peers() {
			n := s.Node(id)
			r, _ := n.Chord.ResponsibleRange()
			fmt.Fprintf(&out, "%s: pred=%s succ=%s range=%s\n", sn.name(id), sn.list(n.Chord.Predecessors()), sn.list(n.Chord.Successors()), sn.rng(r))
		}
		if ok, bad := s.Converged(3, 3); bad == nil {
			fmt.Fprintf(&out, "all %d peers match the brute-force ring\n", ok)
		} else {
			fmt.Fprintf(&out, "%d peers match the brute-force ring; %s does not\n", ok, sn.name(bad.ID))
		}
	case "fingers":
		n := s.Node(sn.id(f[1]))
		fmt.Fprintf(&out, "%s\n", sn.list(n.Chord.Fingers()))
	case "state":
		for _, a := range f[1:] {
			n := s.Node(sn.id(a))
			fmt.Fprintf(&out, "%s: %s alive=%v\n", a, n.Chord.State(), n.Alive)
		}
	case "events":
		for _, a := range f[1:] {
			id := sn.id(a)
			n := s.Node(id)
			for _, e := range n.Events[sn.cursor[id]:] {
				fmt.Fprintf(&out, "%s: %v", a, e.Type)
				if !e.Peer.IsZero() {
					fmt.Fprintf(&out, " peer=%s", sn.name(e.Peer))
				}
				if !e.Range.IsZero() {
					fmt.Fprintf(&out, " range=%s", sn.rng(e.Range))
				}
				out.WriteString("\n")
			}
			sn.cursor[id] = len(n.Events)
		}
	case "lookup":
		key, _ := arg("key")
		k := sn.id(key)
		l := s.Lookup(sn.id(f[1]), k.Bytes())
		s.RunUntil(200, 1, func() bool { return l.Done || l.Lost != "" })
		path := append([]wire.NodeID{l.From}, l.Path...)
		fmt.Fprintf(&out, "%s: %s, %d hops", key, strings.Join(strings.Fields(strings.Trim(sn.list(path), "[]")), " -> "), l.Hops)
		switch {
		case l.OK:
			out.WriteString(", reached the responsible peer\n")
		case l.Done:
			fmt.Fprintf(&out, ", WRONG peer %s (responsible %s)\n", sn.name(l.At), sn.name(s.ResponsibleFor(k.Bytes())))
		default:
			fmt.Fprintf(&out, ", lost: %s\n", l.Lost)
		}
	case "fail":
		s.Fail(sn.id(f[1]))
	case "leave":
		must(s.Leave(sn.id(f[1])))
	case "cut":
		s.Cut(sn.id(f[1]), sn.id(f[2]))
	case "heal":
		s.Heal(sn.id(f[1]), sn.id(f[2]))
	case "isolate":
		s.Isolate(sn.id(f[1]))
	case "reconnect":
		s.Reconnect(sn.id(f[1]))
	case "probe":
		var types []wire.ProbeInformationType
		for _, a := range f[3:] {
			for t := wire.ProbeInformationType(1); t < 5; t++ {
				if t.String() == a {
					types = append(types, t)
				}
			}
		}
		body, _ := (&wire.ProbeReq{RequestedInfo: types}).Append(nil)
		x := s.Request(sn.id(f[1]), sn.id(f[2]), nil, wire.CodeProbeReq, body)
		s.RunUntil(100, 1, func() bool { return x.Done })
		if sn.isError(&out, x) {
			break
		}
		var a wire.ProbeAns
		if _, err := a.Decode(x.Body); err != nil {
			fmt.Fprintf(&out, "answer %v: %v\n", x.Code, err)
			break
		}
		for _, p := range a.ProbeInfo {
			fmt.Fprintf(&out, "%v=%d\n", p.Type, p.Value)
		}
	case "routequery":
		key, _ := arg("key")
		_, su := arg("send_update")
		k := sn.id(key)
		body, _ := (&wire.RouteQueryReq{SendUpdate: su, Destination: wire.ResourceDest(wire.ResourceID(k.Bytes()))}).Append(nil)
		x := s.Request(sn.id(f[1]), sn.id(f[2]), nil, wire.CodeRouteQueryReq, body)
		if su {
			sn.trace = &out
		}
		s.RunUntil(100, 1, func() bool { return x.Done })
		s.Run(2)
		sn.trace = nil
		if sn.isError(&out, x) {
			break
		}
		a := wire.ChordRouteQueryAns{}
		if _, err := a.Decode(x.Body); err != nil {
			fmt.Fprintf(&out, "answer %v: %v\n", x.Code, err)
			break
		}
		fmt.Fprintf(&out, "next_peer=%s\n", sn.name(a.NextPeer))
	case "route":
		n := s.Node(sn.id(f[1]))
		for _, key := range f[2:] {
			k := sn.id(key)
			d := wire.ResourceDest(wire.ResourceID(k.Bytes()))
			next, local, err := n.Chord.Route(&d)
			switch {
			case err != nil:
				fmt.Fprintf(&out, "%s: %v\n", key, err)
			case local:
				fmt.Fprintf(&out, "%s: local\n", key)
			default:
				fmt.Fprintf(&out, "%s: next=%s\n", key, sn.name(next))
			}
		}
	case "update":
		// update FROM TO preds=a,b succs=c: FROM sends TO an Update
		// (neighbors) with those sets, whatever FROM's own state.
		u := wire.ChordUpdate{Type: wire.ChordUpdateNeighbors, IDLen: 16}
		for key, dst := range map[string]*[]wire.NodeID{"preds": &u.Predecessors, "succs": &u.Successors} {
			if v, ok := arg(key); ok && v != "" {
				for _, n := range strings.Split(v, ",") {
					*dst = append(*dst, sn.id(n))
				}
			}
		}
		body, _ := u.Append(nil)
		sn.inject(&out, f, wire.CodeUpdateReq, body)
	case "joinreq":
		// joinreq FROM TO: FROM sends TO a Join for its own Node-ID
		// directly, not routed to the responsible peer.
		body, _ := (&wire.JoinReq{JoiningPeerID: sn.id(f[1]), IDLen: 16}).Append(nil)
		sn.inject(&out, f, wire.CodeJoinReq, body)
	case "neighbors":
		for _, a := range f[1:] {
			n := s.Node(sn.id(a))
			fmt.Fprintf(&out, "%s: pred=%s succ=%s fingers=%s\n", a, sn.list(n.Chord.Predecessors()), sn.list(n.Chord.Successors()), sn.list(n.Chord.Fingers()))
		}
	case "accept":
		// accept NODE from=X: whether NODE takes a replica Store from X.
		from, _ := arg("from")
		fmt.Fprintf(&out, "replica from %s: %v\n", from, s.Node(sn.id(f[1])).Chord.AcceptReplica(nil, sn.id(from)))
	case "replicas":
		n := s.Node(sn.id(f[1]))
		k := sn.id(f[2])
		fmt.Fprintf(&out, "%s\n", sn.list(n.Chord.ReplicaSet(k.Bytes())))
	default:
		sn.t.Fatalf("unknown command %q", line)
	}
	return out.String()
}
