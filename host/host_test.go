package host_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/host"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/mem"
	st "github.com/goreload/reload/storage/storagetest"
	"github.com/goreload/reload/topology"
	"github.com/goreload/reload/topology/chord"
	"github.com/goreload/reload/wire"
)

// tnode is one host driven by hand, with a real chord (HostTimeouts: the
// host reports timeouts) and a certificate of the test PKI.
type tnode struct {
	id     wire.NodeID
	h      *host.Host
	ch     *chord.Chord
	signer security.Signer
	now    time.Time
}

func newNode(t *testing.T, prefix string, adjust func(*chord.Config)) *tnode {
	t.Helper()
	pki := st.NewPKI(t)
	id := idOf(t, prefix)
	cfg := chord.DefaultConfig(id, rand.New(rand.NewPCG(1, 2)))
	cfg.HostTimeouts = true
	if adjust != nil {
		adjust(&cfg)
	}
	c, err := chord.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &tnode{id: id, ch: c, now: st.Now}
	n.signer = security.Signer{NodeID: id, Cert: pki.Identity(t, "", id).Cert}
	n.h, err = host.New(host.Config{Plugin: c, Kinds: st.Kinds(t), Backend: mem.New(), Verifier: pki.Verifier(),
		Clock: func() time.Time { return n.now }})
	if err != nil {
		t.Fatal(err)
	}
	n.take() // the first Ready: the initial Routes
	return n
}

// take returns the host's Readies until it has nothing more, advancing.
func (n *tnode) take() []host.Ready {
	var out []host.Ready
	for n.h.HasReady() {
		out = append(out, n.h.Ready())
		n.h.Advance()
	}
	return out
}

// all merges Readies.
func all(rds []host.Ready) host.Ready {
	var m host.Ready
	for _, r := range rds {
		m.Events = append(m.Events, r.Events...)
		m.Messages = append(m.Messages, r.Messages...)
		m.Answers = append(m.Answers, r.Answers...)
		if r.Routes != nil {
			m.Routes = r.Routes
		}
	}
	return m
}

func (n *tnode) requester() storage.Requester { return storage.Requester{Signer: n.signer} }

func nodeDests(ids ...wire.NodeID) []wire.Destination {
	d := make([]wire.Destination, len(ids))
	for i := range ids {
		d[i] = wire.NodeDest(&ids[i])
	}
	return d
}

func plusOne(id wire.NodeID) wire.ResourceID {
	next := topology.Add(id, wire.MustNodeID(append(make([]byte, 15), 1)))
	return wire.ResourceID(slices.Clone(next.Bytes()))
}

func sameDest(a, b []wire.Destination) bool {
	return slices.EqualFunc(a, b, func(x, y wire.Destination) bool {
		return x.Type == y.Type && string(x.ID) == string(y.ID)
	})
}

func codes(ms []host.Message) []wire.MessageCode {
	var out []wire.MessageCode
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}

func encode(t *testing.T, b interface{ Append([]byte) ([]byte, error) }) []byte {
	t.Helper()
	out, err := b.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJoinAttachesToAdmittingPeerFirst: RFC 6940 §10.5 step 2, "JN SHOULD
// send an Attach request to the Admitting Peer (AP) for Resource-ID n+1"
// (through the bootstrap peer, step 1), and step 5, "JN MUST send a Join
// to AP": the JoinReq waits for the Attach and then goes directly to the
// peer that answered it, whichever it is.
func TestJoinAttachesToAdmittingPeerFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		ap   string // the peer that answers the Attach
	}{
		{"admitting peer is the bootstrap peer", "40"},
		{"admitting peer found through the bootstrap peer", "c0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newNode(t, "80", nil)
			boot, ap := idOf(t, "40"), idOf(t, tc.ap)
			b.h.LinkUp(boot)
			b.take()
			if err := b.h.Join(boot); err != nil {
				t.Fatal(err)
			}
			rd := all(b.take())
			if len(rd.Messages) != 1 || !rd.Messages[0].Attach {
				t.Fatalf("Join: want one Attach, got %v", codes(rd.Messages))
			}
			at := rd.Messages[0]
			want := append(nodeDests(boot), wire.ResourceDest(plusOne(b.id)))
			if !sameDest(at.Dest, want) || at.Code != wire.CodeAttachReq {
				t.Fatalf("Attach to %v, want %v (§10.5 step 2)", at.Dest, want)
			}
			// Nothing more while the Attach is under way.
			for range 100 {
				b.h.Tick()
			}
			if rd := all(b.take()); len(rd.Messages) != 0 {
				t.Fatalf("while attaching: %v", codes(rd.Messages))
			}
			b.h.Attached(at.Token, ap)
			rd = all(b.take())
			if len(rd.Messages) != 1 {
				t.Fatalf("after Attached: %v, want the JoinReq", codes(rd.Messages))
			}
			j := rd.Messages[0]
			if j.Code != wire.CodeJoinReq || j.To != ap || !sameDest(j.Dest, nodeDests(ap)) || j.Attach {
				t.Fatalf("JoinReq to %v dest %v, want directly to %v (§10.5 step 5)", j.To, j.Dest, ap)
			}
			var jr wire.JoinReq
			jr.IDLen = 16
			if _, err := jr.Decode(j.Body); err != nil || jr.JoiningPeerID != b.id {
				t.Fatalf("JoinReq body: %+v %v", jr, err)
			}
			if !b.h.Linked(ap) {
				t.Fatalf("no link to the admitting peer after Attached")
			}
		})
	}
}

// TestFailedReachesThePluginAsTimeout: the transaction layer is the only
// timer (RFC 6940 §6.2.1): while a request of the plugin's is outstanding,
// Ticks far beyond chord's RequestTimeout change nothing; Failed is taken
// as the timeout, and the Join is retried through the next bootstrap
// peer (§11.4).
func TestFailedReachesThePluginAsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fail returns the token to fail: the Attach, or the JoinReq
		// after the Attach succeeded.
		fail func(t *testing.T, b *tnode, attach host.Message) uint64
	}{
		{"Attach fails", func(t *testing.T, b *tnode, at host.Message) uint64 { return at.Token }},
		{"JoinReq times out", func(t *testing.T, b *tnode, at host.Message) uint64 {
			b.h.Attached(at.Token, idOf(t, "40"))
			rd := all(b.take())
			if len(rd.Messages) != 1 || rd.Messages[0].Code != wire.CodeJoinReq {
				t.Fatalf("after Attached: %v", codes(rd.Messages))
			}
			return rd.Messages[0].Token
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newNode(t, "80", func(c *chord.Config) { c.RequestTimeout = time.Second })
			boot1, boot2 := idOf(t, "40"), idOf(t, "c0")
			b.h.LinkUp(boot1)
			b.h.LinkUp(boot2)
			b.take()
			if err := b.h.Join(boot1, boot2); err != nil {
				t.Fatal(err)
			}
			rd := all(b.take())
			if len(rd.Messages) != 1 || !rd.Messages[0].Attach {
				t.Fatalf("Join: %v", codes(rd.Messages))
			}
			tok := tc.fail(t, b, rd.Messages[0])
			pending := b.h.Pending()
			// 1000 ticks of 100 ms: a hundred request timeouts.
			for range 1000 {
				b.h.Tick()
			}
			if rd := all(b.take()); len(rd.Messages) != 0 || b.h.Pending() != pending {
				t.Fatalf("Ticks while the request is outstanding sent %v (pending %d, was %d)", codes(rd.Messages), b.h.Pending(), pending)
			}
			b.h.Failed(tok, errors.New("no answer"))
			b.h.Tick()
			rd = all(b.take())
			if len(rd.Messages) != 1 || !rd.Messages[0].Attach {
				t.Fatalf("after Failed: %v, want a new join Attach", codes(rd.Messages))
			}
			want := append(nodeDests(boot2), wire.ResourceDest(plusOne(b.id)))
			if !sameDest(rd.Messages[0].Dest, want) {
				t.Fatalf("retry Attach %v, want through the next bootstrap peer %v", rd.Messages[0].Dest, want)
			}
		})
	}
}

// started is a peer that started the overlay and stores values of the
// users given (USER-MATCH, §7.3.1) through Deliver.
func started(t *testing.T, prefix string, users ...string) *tnode {
	t.Helper()
	a := newNode(t, prefix, nil)
	if err := a.h.Start(); err != nil {
		t.Fatal(err)
	}
	a.take()
	pki := st.NewPKI(t)
	for i, u := range users {
		full := u + "@" + st.Overlay
		res := storage.UserResourceID(storage.ChordHash, full)
		id := pki.Identity(t, full, wire.MustNodeID(append(make([]byte, 15), byte(i+1))))
		sd := st.Signed(t, id, res, st.KindSmall, st.Millis(a.now), 3600, st.Single("v"+u))
		a.h.Deliver(host.Request{Token: 9000 + uint64(i), Code: wire.CodeStoreReq, Body: encode(t, st.Req(res, st.KindSmall, 0, sd)), From: st.Requester(id)})
		rd := all(a.take())
		if len(rd.Answers) != 1 || rd.Answers[0].Code != wire.CodeStoreAns {
			t.Fatalf("store %s: %+v", u, rd.Answers)
		}
	}
	return a
}

func joinReq(t *testing.T, from wire.NodeID) []byte {
	return encode(t, &wire.JoinReq{JoiningPeerID: from, IDLen: 16})
}

// TestDirectRequestWaitsForAttach: neighbours are connected (RFC 6940
// §10.6): a request of the plugin's to a neighbour without a link waits
// for an Attach to it, one Attach for all that wait; it goes out when the
// Attach succeeds and fails when the Attach fails, as a timeout the
// plugin acts on (the neighbour is taken for failed, §10.7.1).
func TestDirectRequestWaitsForAttach(t *testing.T) {
	for _, attachOK := range []bool{true, false} {
		name := map[bool]string{true: "Attach succeeds", false: "Attach fails"}[attachOK]
		t.Run(name, func(t *testing.T) {
			a := started(t, "40", "alice") // alice is at 6d…, in (40, 80]
			b := newNode(t, "80", nil)
			a.h.Deliver(host.Request{Token: 1, Code: wire.CodeJoinReq, Body: joinReq(t, b.id), From: b.requester()})
			rd := all(a.take())
			if len(rd.Answers) != 1 || rd.Answers[0].Code != wire.CodeJoinAns {
				t.Fatalf("JoinReq answered %+v", rd.Answers)
			}
			var attach []host.Message
			for _, m := range rd.Messages {
				if m.Attach {
					attach = append(attach, m)
					continue
				}
				t.Errorf("%v to %v sent without a link", m.Code, m.To)
			}
			if len(attach) != 1 || attach[0].To != b.id || !sameDest(attach[0].Dest, nodeDests(b.id)) {
				t.Fatalf("want one Attach to b, got %+v", attach)
			}
			if attachOK {
				a.h.Attached(attach[0].Token, b.id)
				rd = all(a.take())
				got := codes(rd.Messages)
				if !slices.Contains(got, wire.CodeStoreReq) || !slices.Contains(got, wire.CodeUpdateReq) {
					t.Fatalf("after Attached: %v, want the transfer Store and the Update", got)
				}
				for _, m := range rd.Messages {
					if m.To != b.id || m.Attach {
						t.Errorf("%v to %v", m.Code, m.To)
					}
				}
				if !a.h.Linked(b.id) || !a.ch.InTable(b.id) {
					t.Fatalf("b not linked or not in the table")
				}
				return
			}
			a.h.Failed(attach[0].Token, errors.New("ice failed"))
			rd = all(a.take())
			if !slices.ContainsFunc(rd.Events, func(e topology.Event) bool {
				return e.Type == topology.EventNeighborRemoved && e.Peer == b.id
			}) {
				t.Fatalf("after the Attach failed: events %+v, want b removed", rd.Events)
			}
			if a.ch.InTable(b.id) || a.h.Pending() != 0 {
				t.Fatalf("b still in the table, or %d requests still pending", a.h.Pending())
			}
		})
	}
}

// TestClientAttachesToResponsiblePeer: a client's RouteQuery for its own
// Node-ID is routed to Resource-ID n, the peer that controls that region
// (RFC 6940 §6.1.1), not to Node-ID n, which no peer has; the client then
// attaches to the responsible peer that answered (§3.2).
func TestClientAttachesToResponsiblePeer(t *testing.T) {
	e := newNode(t, "90", func(c *chord.Config) { c.Client = true })
	boot, resp, other := idOf(t, "80"), idOf(t, "c0"), idOf(t, "a0")
	e.h.LinkUp(boot)
	e.take()
	if err := e.h.Join(boot); err != nil {
		t.Fatal(err)
	}
	rd := all(e.take())
	if len(rd.Messages) != 1 || rd.Messages[0].Code != wire.CodeRouteQueryReq {
		t.Fatalf("Join: %v", codes(rd.Messages))
	}
	q := rd.Messages[0]
	want := append(nodeDests(boot), wire.ResourceDest(wire.ResourceID(slices.Clone(e.id.Bytes()))))
	if !sameDest(q.Dest, want) {
		t.Fatalf("RouteQuery to %v, want %v (§6.1.1)", q.Dest, want)
	}

	t.Run("answer from a peer that names another", func(t *testing.T) {
		// Not the responsible peer itself: no Attach to it; the client
		// asks the peer it names.
		e.h.Answered(q.Token, other, wire.CodeRouteQueryAns, encode(t, &wire.ChordRouteQueryAns{NextPeer: resp, IDLen: 16}))
		rd := all(e.take())
		if len(rd.Messages) != 1 || rd.Messages[0].Attach || rd.Messages[0].Code != wire.CodeRouteQueryReq {
			t.Fatalf("got %v, want a RouteQuery", codes(rd.Messages))
		}
		q = rd.Messages[0]
		want := append(nodeDests(resp), wire.ResourceDest(wire.ResourceID(slices.Clone(e.id.Bytes()))))
		if !sameDest(q.Dest, want) {
			t.Fatalf("RouteQuery to %v, want %v", q.Dest, want)
		}
	})
	t.Run("answer from the responsible peer", func(t *testing.T) {
		e.h.Answered(q.Token, resp, wire.CodeRouteQueryAns, encode(t, &wire.ChordRouteQueryAns{NextPeer: resp, IDLen: 16}))
		rd := all(e.take())
		if !slices.ContainsFunc(rd.Events, func(ev topology.Event) bool { return ev.Type == topology.EventJoined && ev.Peer == resp }) {
			t.Errorf("events %+v, want joined peer=%v", rd.Events, resp)
		}
		if len(rd.Messages) != 1 || !rd.Messages[0].Attach || rd.Messages[0].To != resp || !sameDest(rd.Messages[0].Dest, nodeDests(resp)) {
			t.Fatalf("got %+v, want an Attach to the responsible peer (§3.2)", rd.Messages)
		}
		e.h.Attached(rd.Messages[0].Token, resp)
		e.take()
		if !e.h.Linked(resp) || e.h.Pending() != 0 {
			t.Fatalf("linked %v, pending %d", e.h.Linked(resp), e.h.Pending())
		}
	})
}

// TestTransferStoresBeforeMessagesAndAnswer: the topology contract has
// the Stores of EventTransfer leave before the plugin's messages of the
// same Ready (the Update that makes the joining node part of the ring,
// RFC 6940 §10.5 step 7) and before the answer to the Join: the data is
// there before the joining node is responsible for it (step 6).
func TestTransferStoresBeforeMessagesAndAnswer(t *testing.T) {
	// alice 6d…, judy 76…, bob 7b… fall in (40, 80]; dave 95… does not.
	a := started(t, "40", "alice", "judy", "bob", "dave")
	b := newNode(t, "80", nil)
	a.h.LinkUp(b.id) // b Attached to a before its Join (§10.5 step 2)
	a.take()
	a.h.Deliver(host.Request{Token: 77, Code: wire.CodeJoinReq, Body: joinReq(t, b.id), From: b.requester()})
	rds := a.take()
	if len(rds) != 1 {
		t.Fatalf("%d Readies, want one", len(rds))
	}
	rd := rds[0]
	ti := slices.IndexFunc(rd.Events, func(e topology.Event) bool { return e.Type == topology.EventTransfer })
	if ti < 0 || rd.Events[ti].Peer != b.id {
		t.Fatalf("events %+v, want transfer to b", rd.Events)
	}
	transfers, firstTopology := 0, -1
	for i, m := range rd.Messages {
		switch m.Purpose {
		case host.Transfer:
			transfers++
			if firstTopology >= 0 {
				t.Errorf("transfer Store %d after the plugin's %v (message %d)", i, rd.Messages[firstTopology].Code, firstTopology)
			}
			if m.Code != wire.CodeStoreReq || m.To != b.id {
				t.Errorf("transfer %v to %v", m.Code, m.To)
			}
			var req wire.StoreReq
			req.Models = st.Kinds(t)
			if _, err := req.Decode(m.Body); err != nil || req.ReplicaNumber == 0 || !rd.Events[ti].Range.Contains(req.Resource) {
				t.Errorf("transfer Store %+v (%v): want a replica Store in the range", req, err)
			}
			if len(m.Certificates) == 0 {
				t.Errorf("transfer Store without the values' certificates (§6.3.4)")
			}
		case host.Topology:
			if firstTopology < 0 {
				firstTopology = i
			}
		}
	}
	if transfers != 3 || firstTopology < 0 {
		t.Fatalf("%d transfer Stores (want 3, one per resource) and plugin messages at %d: %v", transfers, firstTopology, codes(rd.Messages))
	}
	if len(rd.Answers) != 1 || rd.Answers[0].Token != 77 || rd.Answers[0].Code != wire.CodeJoinAns {
		t.Fatalf("answers %+v, want the JoinAns after the messages", rd.Answers)
	}
}

// TestJoiningNodeTakesTransferBeforeJoinAns is the other end of the
// order above: the admitting peer's Stores (§10.5 step 6) reach the
// joining node before its JoinAns and Update, over the link to the peer
// the JoinReq went to; they must not be refused as replicas from a
// stranger (§10.4).
func TestJoiningNodeTakesTransferBeforeJoinAns(t *testing.T) {
	a := started(t, "40", "alice")
	b := newNode(t, "80", nil)
	b.h.LinkUp(a.id)
	b.take()
	if err := b.h.Join(a.id); err != nil {
		t.Fatal(err)
	}
	at := all(b.take()).Messages[0]
	b.h.Attached(at.Token, a.id)
	join := all(b.take()).Messages[0]

	a.h.LinkUp(b.id)
	a.take()
	a.h.Deliver(host.Request{Token: 1, Code: wire.CodeJoinReq, Body: joinReq(t, b.id), From: b.requester()})
	rd := all(a.take())
	var stores []host.Message
	for _, m := range rd.Messages {
		if m.Purpose == host.Transfer {
			stores = append(stores, m)
		}
	}
	if len(stores) != 1 {
		t.Fatalf("transfer Stores %v", codes(stores))
	}
	b.h.Deliver(host.Request{Token: 5, Code: wire.CodeStoreReq, Body: stores[0].Body,
		From: storage.Requester{Signer: a.signer, Certificates: stores[0].Certificates}})
	ans := all(b.take()).Answers
	if len(ans) != 1 || ans[0].Code != wire.CodeStoreAns {
		t.Fatalf("the joining node refused the admitting peer's transfer: %+v (err %v)", ans, ans[0].Err)
	}
	// A stranger's replica Store is still refused.
	c := newNode(t, "c0", nil)
	b.h.Deliver(host.Request{Token: 6, Code: wire.CodeStoreReq, Body: stores[0].Body,
		From: storage.Requester{Signer: c.signer, Certificates: stores[0].Certificates}})
	if ans := all(b.take()).Answers; len(ans) != 1 || errCode(t, ans[0]) != wire.ErrCodeForbidden {
		t.Fatalf("a stranger's replica Store: %+v", ans)
	}
	b.h.Answered(join.Token, a.id, wire.CodeJoinAns, encode(t, &wire.JoinAns{}))
	b.take()
}

func errCode(t *testing.T, a host.Answer) wire.ErrorCode {
	t.Helper()
	if a.Code != wire.CodeError {
		return 0
	}
	var e wire.ErrorResponse
	if _, err := e.Decode(a.Body); err != nil {
		t.Fatalf("bad ErrorResponse: %v", err)
	}
	var pe *wire.ProtocolError
	if !errors.As(a.Err, &pe) {
		if c, ok := wire.ErrorCodeOf(a.Err); !ok || c != e.Code {
			t.Errorf("Answer.Err %v does not carry the code %v", a.Err, e.Code)
		}
	} else if pe.Code != e.Code {
		t.Errorf("Answer.Err code %v, body %v", pe.Code, e.Code)
	}
	return e.Code
}

// TestReplicaCountIsThePlugins: an original Store is replicated to the
// plugin's replica set (RFC 6940 §10.4): chord's Config.Replicas
// successors, replica_number 1, 2, …, before the StoreAns.
func TestReplicaCountIsThePlugins(t *testing.T) {
	for _, replicas := range []int{1, 2, 3} {
		t.Run("replicas="+string(rune('0'+replicas)), func(t *testing.T) {
			b := newBus(t, func(c *chord.Config) { c.Replicas = replicas })
			for _, p := range []struct{ name, id string }{{"a", "40"}, {"b", "80"}, {"c", "c0"}, {"d", "f0"}} {
				b.add(p.name, p.id, false)
			}
			a := b.node("a")
			if err := a.h.Start(); err != nil {
				t.Fatal(err)
			}
			b.process(a)
			for _, n := range []string{"b", "c", "d"} {
				nd := b.node(n)
				b.connect(nd, a)
				if err := nd.h.Join(a.id); err != nil {
					t.Fatal(err)
				}
				b.process(nd)
				b.run()
			}
			b.ticks(50)
			// alice's value is at 6d…: b (80) is responsible, and its
			// successors are c, d, a.
			resp := b.node("b")
			if s := resp.ch.Successors(); len(s) != 3 {
				t.Fatalf("b's successors %s", b.names(s))
			}
			resp.keep = true
			r := b.store(a, "alice", "hello")
			if !r.done || r.code != wire.CodeStoreAns || r.from != resp.id {
				t.Fatalf("store: %+v", r)
			}
			var sent []host.Message
			answered := false
			for _, rd := range resp.kept {
				for _, m := range rd.Messages {
					if m.Purpose == host.Replica {
						if answered {
							t.Errorf("replica Store after the StoreAns")
						}
						sent = append(sent, m)
					}
				}
				if len(rd.Answers) > 0 {
					answered = true
				}
			}
			succ := resp.ch.Successors()
			if len(sent) != replicas {
				t.Fatalf("%d replica Stores, want Replicas=%d", len(sent), replicas)
			}
			for i, m := range sent {
				req := wire.StoreReq{Models: b.kinds}
				if _, err := req.Decode(m.Body); err != nil {
					t.Fatal(err)
				}
				if m.To != succ[i] || int(req.ReplicaNumber) != i+1 {
					t.Errorf("replica %d: to %s number %d, want to %s number %d", i, b.name(m.To), req.ReplicaNumber, b.name(succ[i]), i+1)
				}
			}
		})
	}
}

// TestEveryRequestAnsweredOnce: every request delivered to the host is
// answered exactly once, whatever the host's state, the code or the body:
// malformed bodies and codes the host does not handle get
// Error_Invalid_Message (RFC 6940 §6.3.3.1).
func TestEveryRequestAnsweredOnce(t *testing.T) {
	idle := func(t *testing.T) *tnode { return newNode(t, "40", nil) }
	peer := func(t *testing.T) *tnode { return started(t, "40") }
	client := func(t *testing.T) *tnode {
		e := newNode(t, "40", func(c *chord.Config) { c.Client = true })
		e.h.LinkUp(idOf(t, "80"))
		if err := e.h.Join(idOf(t, "80")); err != nil {
			t.Fatal(err)
		}
		e.take()
		return e
	}
	from := newNode(t, "80", nil)
	garbage := []byte{0xff, 0xff, 0xff}
	for _, state := range []struct {
		name string
		mk   func(*testing.T) *tnode
	}{{"idle", idle}, {"peer", peer}, {"client", client}} {
		for _, tc := range []struct {
			name string
			code wire.MessageCode
			body []byte
			from storage.Requester
			// want is the error code, if the case calls for one in
			// every state (0: any answer).
			want wire.ErrorCode
		}{
			{"join empty", wire.CodeJoinReq, nil, from.requester(), 0},
			{"join garbage", wire.CodeJoinReq, garbage, from.requester(), 0},
			{"leave garbage", wire.CodeLeaveReq, garbage, from.requester(), 0},
			{"update garbage", wire.CodeUpdateReq, garbage, from.requester(), 0},
			{"route query garbage", wire.CodeRouteQueryReq, garbage, from.requester(), 0},
			{"probe garbage", wire.CodeProbeReq, garbage, from.requester(), wire.ErrCodeInvalidMessage},
			{"join from nobody", wire.CodeJoinReq, joinReq(t, from.id), storage.Requester{}, 0},
			{"store garbage", wire.CodeStoreReq, garbage, from.requester(), wire.ErrCodeInvalidMessage},
			{"fetch garbage", wire.CodeFetchReq, garbage, from.requester(), wire.ErrCodeInvalidMessage},
			{"stat garbage", wire.CodeStatReq, garbage, from.requester(), wire.ErrCodeInvalidMessage},
			{"find garbage", wire.CodeFindReq, garbage, from.requester(), wire.ErrCodeInvalidMessage},
			{"store empty", wire.CodeStoreReq, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"attach", wire.CodeAttachReq, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"ping", wire.CodePingReq, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"app attach", wire.CodeAppAttachReq, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"config update", wire.CodeConfigUpdateReq, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"an answer code", wire.CodeJoinAns, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"an error", wire.CodeError, nil, from.requester(), wire.ErrCodeInvalidMessage},
			{"unknown code", wire.MessageCode(0x7777), nil, from.requester(), wire.ErrCodeInvalidMessage},
		} {
			t.Run(state.name+"/"+tc.name, func(t *testing.T) {
				n := state.mk(t)
				n.h.Deliver(host.Request{Token: 4242, Code: tc.code, Body: tc.body, From: tc.from})
				var got []host.Answer
				for _, rd := range n.take() {
					got = append(got, rd.Answers...)
				}
				if len(got) != 1 || got[0].Token != 4242 {
					t.Fatalf("answers %+v, want exactly one for token 4242", got)
				}
				if got[0].Code != wire.CodeError {
					if tc.want != 0 {
						t.Fatalf("answered %v, want %v", got[0].Code, tc.want)
					}
					return
				}
				if c := errCode(t, got[0]); tc.want != 0 && c != tc.want {
					t.Fatalf("error %v, want %v", c, tc.want)
				}
				if got[0].Err == nil {
					t.Errorf("error answer without Err")
				}
			})
		}
	}
}

// TestRoutesOnlyWhenChanged: Ready.Routes is a new snapshot when the
// routing state changed, and nil otherwise, so that a driver publishes
// each snapshot once.
func TestRoutesOnlyWhenChanged(t *testing.T) {
	a := newNode(t, "40", nil)
	b := newNode(t, "80", nil)
	step := func(name string, f func(), want bool) {
		t.Helper()
		f()
		rd := all(a.take())
		if (rd.Routes != nil) != want {
			t.Errorf("%s: Routes set %v, want %v", name, rd.Routes != nil, want)
		}
	}
	step("tick while idle", a.h.Tick, false)
	var prev topology.Routes
	step("Start", func() {
		if err := a.h.Start(); err != nil {
			t.Fatal(err)
		}
	}, true)
	prev = a.ch.Routes()
	step("ticks", func() {
		for range 10 {
			a.h.Tick()
		}
	}, false)
	step("fetch", func() {
		body := encode(t, &wire.FetchReq{Resource: wire.ResourceID(make([]byte, 16)), Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindSmall, Model: wire.ModelSingle}}})
		a.h.Deliver(host.Request{Token: 1, Code: wire.CodeFetchReq, Body: body, From: b.requester()})
	}, false)
	step("link up of a stranger", func() { a.h.LinkUp(b.id) }, false)
	step("JoinReq (b enters the tables)", func() {
		a.h.Deliver(host.Request{Token: 2, Code: wire.CodeJoinReq, Body: joinReq(t, b.id), From: b.requester()})
	}, true)
	if a.ch.Routes() == prev {
		t.Errorf("the snapshot did not change with the tables")
	}
	rt := a.ch.Routes()
	k := idOf(t, "70")
	d := wire.ResourceDest(wire.ResourceID(slices.Clone(k.Bytes())))
	if next, local, err := rt.Route(&d); err != nil || local || next != b.id {
		t.Errorf("new snapshot routes 70… to %v local=%v err=%v, want b", next, local, err)
	}
	step("link down of b", func() { a.h.LinkDown(b.id) }, true)
}

// TestStorageErrorCodes: storage requests are answered with the RELOAD
// error codes of RFC 6940 §6.3.3.1 and §7.
func TestStorageErrorCodes(t *testing.T) {
	pki := st.NewPKI(t)
	alice := "alice@" + st.Overlay
	aliceNode := wire.MustNodeID(append(make([]byte, 15), 9))
	aliceID := pki.Identity(t, alice, aliceNode)
	mallory := pki.Identity(t, "mallory@"+st.Overlay, wire.MustNodeID(append(make([]byte, 15), 10)))
	res := storage.UserResourceID(storage.ChordHash, alice) // 6d…
	sd := func(stime uint64, v string) wire.StoredData {
		return st.Signed(t, aliceID, res, st.KindSmall, stime, 3600, st.Single(v))
	}
	base := st.Millis(st.Now)
	for _, tc := range []struct {
		name string
		// at is the peer the request is delivered to: "40" alone in
		// the ring, or "80" with predecessor 40, responsible for
		// (40, 80] only.
		at   string
		code wire.MessageCode
		body func() []byte
		from storage.Requester
		want wire.ErrorCode
	}{
		{"store accepted", "40", wire.CodeStoreReq, func() []byte { return encode(t, st.Req(res, st.KindSmall, 0, sd(base+1, "x"))) }, st.Requester(aliceID), 0},
		{"not responsible", "80", wire.CodeStoreReq, func() []byte {
			r := storage.UserResourceID(storage.ChordHash, "dave@"+st.Overlay) // 95…
			return encode(t, st.Req(r, st.KindSmall, 0, st.Signed(t, aliceID, r, st.KindSmall, base, 3600, st.Single("x"))))
		}, st.Requester(aliceID), wire.ErrCodeNotFound},
		{"unknown kind", "40", wire.CodeStoreReq, func() []byte {
			return encode(t, st.Req(res, 0xf00000ff, 0, st.Signed(t, aliceID, res, 0xf00000ff, base, 3600, st.Single("x"))))
		}, st.Requester(aliceID), wire.ErrCodeUnknownKind},
		{"signed by another user", "40", wire.CodeStoreReq, func() []byte {
			return encode(t, st.Req(res, st.KindSmall, 0, st.Signed(t, mallory, res, st.KindSmall, base, 3600, st.Single("x"))))
		}, st.Requester(mallory), wire.ErrCodeForbidden},
		{"unsigned request", "40", wire.CodeStoreReq, func() []byte { return encode(t, st.Req(res, st.KindSmall, 0, sd(base, "x"))) }, storage.Requester{}, wire.ErrCodeForbidden},
		{"too large", "40", wire.CodeStoreReq, func() []byte {
			return encode(t, st.Req(res, st.KindSmall, 0, sd(base+2, "0123456789abcdefg")))
		}, st.Requester(aliceID), wire.ErrCodeDataTooLarge},
		{"too old", "40", wire.CodeStoreReq, func() []byte { return encode(t, st.Req(res, st.KindSmall, 0, sd(base, "old"))) }, st.Requester(aliceID), wire.ErrCodeDataTooOld},
		{"generation too low", "40", wire.CodeStoreReq, func() []byte { return encode(t, st.Req(res, st.KindSmall, 7, sd(base+3, "x"))) }, st.Requester(aliceID), wire.ErrCodeGenerationCounterTooLow},
		{"replica from a stranger", "40", wire.CodeStoreReq, func() []byte {
			r := st.Req(res, st.KindSmall, 1, sd(base+4, "x"))
			r.ReplicaNumber = 1
			return encode(t, r)
		}, st.Requester(mallory), wire.ErrCodeForbidden},
		{"fetch unknown kind", "40", wire.CodeFetchReq, func() []byte {
			return encode(t, &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: 0xf00000ff, Model: wire.ModelSingle}}})
		}, st.Requester(aliceID), wire.ErrCodeUnknownKind},
		{"fetch", "40", wire.CodeFetchReq, func() []byte {
			return encode(t, &wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: st.KindSmall, Model: wire.ModelSingle}}})
		}, st.Requester(aliceID), 0},
		{"stat unknown kind", "40", wire.CodeStatReq, func() []byte {
			return encode(t, &wire.StatReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{{Kind: 0xf00000ff, Model: wire.ModelSingle}}})
		}, st.Requester(aliceID), wire.ErrCodeUnknownKind},
		{"find", "40", wire.CodeFindReq, func() []byte {
			return encode(t, &wire.FindReq{Resource: res, Kinds: []wire.KindID{st.KindSmall}})
		}, st.Requester(aliceID), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n *tnode
			if tc.at == "40" {
				n = started(t, "40")
				// A value stored at base+1, generation 1, for the
				// too-old and generation cases.
				n.h.Deliver(host.Request{Token: 1, Code: wire.CodeStoreReq, Body: encode(t, st.Req(res, st.KindSmall, 0, sd(base+1, "x"))), From: st.Requester(aliceID)})
				if a := all(n.take()).Answers; len(a) != 1 || a[0].Code != wire.CodeStoreAns {
					t.Fatalf("first store: %+v", a)
				}
			} else {
				n = newNode(t, "80", nil)
				p := idOf(t, "40")
				n.h.LinkUp(p)
				if err := n.h.Join(p); err != nil {
					t.Fatal(err)
				}
				n.h.Attached(all(n.take()).Messages[0].Token, p)
				j := all(n.take()).Messages[0]
				n.h.Answered(j.Token, p, wire.CodeJoinAns, encode(t, &wire.JoinAns{}))
				for range 40 { // no Update from the admitting peer: joined after a request timeout
					n.h.Tick()
				}
				n.take()
				if r, ok := n.ch.ResponsibleRange(); !ok || r.Start != p {
					t.Fatalf("80 not a peer responsible for (40, 80]: %v %v", r, ok)
				}
			}
			n.h.Deliver(host.Request{Token: 2, Code: tc.code, Body: tc.body(), From: tc.from})
			a := all(n.take()).Answers
			if len(a) != 1 || a[0].Token != 2 {
				t.Fatalf("answers %+v", a)
			}
			if got := errCode(t, a[0]); got != tc.want {
				t.Fatalf("error code %v, want %v (answer %v, err %v)", got, tc.want, a[0].Code, a[0].Err)
			}
		})
	}
}

// TestInputWhileCarryingOutReadyIsKept: a driver that gives the host an
// input while it carries out a Ready (a request that fails at once when
// it starts it, as node's shell does) finds the host's reaction in the
// next Ready. Before, Advance dropped it: a Detached event that came from
// such a failure was lost, and the node never rejoined.
func TestInputWhileCarryingOutReadyIsKept(t *testing.T) {
	n := newNode(t, "40", nil)
	if err := n.h.Join(idOf(t, "80")); err != nil {
		t.Fatal(err)
	}
	if !n.h.HasReady() {
		t.Fatal("no Ready after Join")
	}
	rd := n.h.Ready()
	if len(rd.Messages) != 1 || !rd.Messages[0].Attach {
		t.Fatalf("Join's Ready: %+v, want the Attach to the admitting peer", rd.Messages)
	}
	// While the driver carries it out, a request arrives and is answered
	// at once.
	n.h.Deliver(host.Request{Token: 7, Code: wire.CodeFetchReq, Body: []byte{0xff}})
	n.h.Advance()
	next := all(n.take())
	if len(next.Answers) != 1 || next.Answers[0].Token != 7 || next.Answers[0].Code != wire.CodeError {
		t.Fatalf("the answer given while the Ready was carried out: %+v", next.Answers)
	}
}
