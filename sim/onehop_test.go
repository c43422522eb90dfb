package sim

import (
	"slices"
	"testing"

	"github.com/goreload/reload/topology/onehop"
	"github.com/goreload/reload/wire"
)

// topoFigures are what TestOneHopBesideChord measures for one plugin.
type topoFigures struct {
	name                string
	lookups, ok         int
	duringHops          float64 // mean hops of the lookups that succeeded during churn
	settledOK           int
	settledHops         float64
	maxSettledHops      int
	quietPerPeerPerHour float64 // maintenance of the settled ring without churn
	maint               int     // topology requests delivered during the churn phase
	maintPerPeerPerHour float64 // the same per live peer and hour of virtual time
}

// maintenance counts the topology requests delivered (Join, Leave,
// Update, RouteQuery, Probe, Ping, Attach): the plugin's upkeep.
func maintenance(st *Stats) int {
	n := 0
	for _, c := range []wire.MessageCode{wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeUpdateReq, wire.CodeRouteQueryReq,
		wire.CodeProbeReq, wire.CodePingReq, wire.CodeAttachReq} {
		n += st.ByCode[c]
	}
	return n
}

// churnRun grows a ring of n peers with the named topology plugin, then
// for 'rounds' rounds of 'every' ticks fails one random peer, joins a new
// one and issues lookups from random peers; after the churn it lets the
// ring settle and measures lookups again.
func churnRun(t testing.TB, topo string, seed uint64, n, rounds int, every, quiet int64) topoFigures {
	t.Helper()
	s := New(Config{Seed: seed, Topology: topo, Rejoin: true, DropEvents: true})
	s.Grow(n, 10)
	s.Run(300)
	f := topoFigures{name: topo}
	before := maintenance(&s.Stats)
	t0 := s.Now
	var ls []*Lookup
	for range rounds {
		peers := s.Peers()
		s.Fail(peers[s.Rand.IntN(len(peers))])
		id := s.RandomID()
		if _, err := s.Add(id); err != nil {
			t.Fatal(err)
		}
		peers = s.Peers()
		if err := s.Join(id, peers[s.Rand.IntN(len(peers))]); err != nil {
			t.Fatal(err)
		}
		for range every / 10 {
			live := s.Peers()
			for range 2 {
				k := s.RandomID()
				ls = append(ls, s.Lookup(live[s.Rand.IntN(len(live))], k.Bytes()))
			}
			s.Run(10)
		}
	}
	s.Run(3 * s.Timeout())
	f.maint = maintenance(&s.Stats) - before
	hours := float64(s.Now-t0) * s.TickLength().Hours()
	f.maintPerPeerPerHour = float64(f.maint) / float64(len(s.Peers())) / hours
	f.lookups = len(ls)
	f.ok, f.duringHops = LookupStats(ls)
	s.Run(1200)
	settled := s.Lookups(1000, 500)
	f.settledOK, f.settledHops = LookupStats(settled)
	for _, l := range settled {
		f.maxSettledHops = max(f.maxSettledHops, l.Hops)
	}
	before, t0 = maintenance(&s.Stats), s.Now
	s.Run(quiet)
	f.quietPerPeerPerHour = float64(maintenance(&s.Stats)-before) / float64(len(s.Peers())) / (float64(s.Now-t0) * s.TickLength().Hours())
	return f
}

// TestOneHopBesideChord runs the same churn on a 20-peer ring with
// ONE-HOP and with CHORD-RELOAD and reports hops per lookup and the
// maintenance traffic of each (BenchmarkTopologyPlugins does it for 50
// peers). ONE-HOP routes every lookup of a settled ring in one hop, at
// the price of a membership that every join and failure touches.
func TestOneHopBesideChord(t *testing.T) {
	n, rounds, quiet := 20, 10, int64(3000)
	var figs []topoFigures
	for _, topo := range []string{chordName, onehop.Name} {
		figs = append(figs, churnRun(t, topo, 11, n, rounds, 100, quiet))
	}
	t.Logf("%d peers, %d rounds of 10 s: one failure, one join, 20 lookups each", n, rounds)
	t.Logf("%-13s %8s %10s %11s %10s %11s %13s %13s", "plugin", "lookups", "ok-churn", "hops-churn", "ok-settled", "hops-settl", "maint/peer/h", "quiet/peer/h")
	for _, f := range figs {
		t.Logf("%-13s %8d %9.1f%% %11.3f %9.1f%% %11.3f %13.0f %13.1f", f.name, f.lookups, 100*float64(f.ok)/float64(f.lookups), f.duringHops,
			100*float64(f.settledOK)/1000, f.settledHops, f.maintPerPeerPerHour, f.quietPerPeerPerHour)
	}
	oh := figs[1]
	if oh.settledOK != 1000 {
		t.Errorf("ONE-HOP: %d/1000 lookups of the settled ring succeeded", oh.settledOK)
	}
	if oh.maxSettledHops > 1 {
		t.Errorf("ONE-HOP: a lookup of the settled ring took %d hops, want at most 1", oh.maxSettledHops)
	}
	if rate := float64(oh.ok) / float64(oh.lookups); rate < 0.95 {
		t.Errorf("ONE-HOP: only %.1f%% of lookups succeeded during churn", 100*rate)
	}
}

// TestOneHopFullMembership: a grown ONE-HOP ring has full, exact
// membership at every peer, and Converged holds for its neighbour sets.
func TestOneHopFullMembership(t *testing.T) {
	s := New(Config{Seed: 5, Topology: onehop.Name})
	s.Grow(30, 10)
	if !s.Settle(3, 3, 2000) {
		t.Fatal("ONE-HOP ring did not settle")
	}
	live := s.Peers()
	for _, id := range live {
		want := slices.DeleteFunc(slices.Clone(live), func(x wire.NodeID) bool { return x == id })
		if got := s.Node(id).Plugin.(*onehop.OneHop).Members(); !slices.Equal(got, want) {
			t.Fatalf("%v: %d members, want %d", id, len(got), len(want))
		}
	}
	if _, err := New(Config{Topology: "NO-SUCH"}).Add(s.RandomID()); err == nil {
		t.Fatal("unknown topology accepted")
	}
}

// BenchmarkTopologyPlugins is TestOneHopBesideChord's measurement on a
// 50-peer ring, 30 rounds of churn and 20 minutes without: per plugin,
// hops per lookup during churn and settled, lookups that succeeded, and
// topology requests delivered per peer and hour with and without churn.
// The run is deterministic, so one iteration suffices:
//
//	go test -run '^$' -bench BenchmarkTopologyPlugins -benchtime 1x ./sim/
func BenchmarkTopologyPlugins(b *testing.B) {
	for _, topo := range []string{chordName, onehop.Name} {
		b.Run(topo, func(b *testing.B) {
			var f topoFigures
			for b.Loop() {
				f = churnRun(b, topo, 11, 50, 30, 100, 12000)
			}
			b.ReportMetric(f.duringHops, "hops/lookup-churn")
			b.ReportMetric(f.settledHops, "hops/lookup-settled")
			b.ReportMetric(100*float64(f.ok)/float64(f.lookups), "%ok-churn")
			b.ReportMetric(f.maintPerPeerPerHour, "maint/peer/h-churn")
			b.ReportMetric(f.quietPerPeerPerHour, "maint/peer/h-quiet")
		})
	}
}
