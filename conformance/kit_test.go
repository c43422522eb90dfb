package conformance

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// expect checks the status of each listed check and, for skips, that the
// reason mentions want.
func expect(t *testing.T, rep *Report, status Status, want string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		res, ok := rep.Result(id)
		switch {
		case !ok:
			t.Errorf("%s: not run", id)
		case res.Status != status:
			t.Errorf("%s: %s (%s; got %s), want %s", id, res.Status, res.Detail, res.Got, status)
		case want != "" && !strings.Contains(res.Detail, want):
			t.Errorf("%s: %s %q, want a reason mentioning %q", id, res.Status, res.Detail, want)
		}
	}
}

// A peer that allows one link per Node-ID: with one identity the checks
// that need a link of their own reuse the kit's and pass; with a pair
// they get a link of their own and pass; with a "pair" whose second
// identity has the first's Node-ID the target refuses that link, and the
// checks skip with the reason instead of failing (or, for err.too-large,
// passing on a closed link).
func TestBrokenPeerOneLinkPerNode(t *testing.T) {
	linkChecks := []string{"frame.seq", "frame.ack", "frame.ack-mask", "err.too-large"}
	for _, tc := range []struct {
		name   string
		tr     Transport
		second byte // 0: no second identity
		status Status
		reason string
		checks []string
	}{
		{"tls-one-identity", TLS, 0, Pass, "", linkChecks},
		{"dtls-one-identity", DTLS, 0, Pass, "", []string{"frame.seq", "frame.ack", "frame.ack-mask", "frame.retransmit"}},
		{"tls-pair", TLS, secondID, Pass, "", linkChecks},
		{"tls-pair-same-node-id", TLS, testerID, Skip, "second identity", linkChecks},
		{"dtls-pair-same-node-id", DTLS, testerID, Skip, "second identity", []string{"frame.seq", "frame.retransmit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBroken(t, tc.tr, defects{oneLinkPerNode: true})
			rep := runWith(t, b.addr, tc.tr, SystemNetwork{}, func(o *Options) {
				if tc.second != 0 {
					o.Second = ident(t, tc.second)
				}
			}, append([]string{"ping.answer"}, tc.checks...)...)
			expect(t, rep, Pass, "", "ping.answer")
			expect(t, rep, tc.status, tc.reason, tc.checks...)
			b.mu.Lock()
			refused := b.refused
			b.mu.Unlock()
			if (tc.status == Skip) != (refused > 0) {
				t.Errorf("the peer refused %d links", refused)
			}
		})
	}
}

// err.too-large passes only on Error_Message_Too_Large: a peer that
// closes the link without it fails the check.
func TestBrokenPeerTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      defects
		second byte
		status Status
	}{
		{"error-then-close", defects{}, 0, Pass},
		{"error-then-close-pair", defects{}, secondID, Pass},
		{"close-only", defects{closeOnTooLarge: true}, 0, Fail},
		{"close-only-pair", defects{closeOnTooLarge: true}, secondID, Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBroken(t, TLS, tc.d)
			rep := runWith(t, b.addr, TLS, SystemNetwork{}, func(o *Options) {
				if tc.second != 0 {
					o.Second = ident(t, tc.second)
				}
			}, "ping.answer", "err.too-large")
			expect(t, rep, Pass, "", "ping.answer")
			expect(t, rep, tc.status, "", "err.too-large")
		})
	}
}

// storeChecks are the storage checks a peer that stores whatever it is
// sent fails.
var storeChecks = []string{
	"store.forbidden", "store.forbidden.user-match", "store.forbidden.user-node-match", "store.forbidden.node-multiple",
	"store.user-match", "store.too-old", "store.replay", "store.generation", "store.too-large", "store.unknown-kind",
	"store.forged", "sip.register-uri", "sip.register-route",
}

// A peer that answers every Store with a StoreAns, and every Fetch with
// nothing, fails every storage check: none passes on the answer code
// alone.
func TestBrokenPeerStorage(t *testing.T) {
	b := startBroken(t, TLS, defects{storeAcceptAll: true})
	rep := runAgainst(t, b.addr, TLS, SystemNetwork{}, storeChecks...)
	expect(t, rep, Fail, "", storeChecks...)
}

// Without the Kinds in the overlay's configuration, the checks that need
// them skip with the reason.
func TestStorageChecksNeedKinds(t *testing.T) {
	tg := startTarget(t, false)
	rep := runWith(t, tg.addr, TLS, tg.net, func(o *Options) { o.Config.RequiredKinds = nil }, storeChecks[1:]...)
	expect(t, rep, Skip, "does not define", slices.DeleteFunc(slices.Clone(storeChecks[1:]), func(id string) bool { return id == "store.unknown-kind" })...)
	expect(t, rep, Pass, "", "store.unknown-kind")
}

// The JSON report's field names are a published schema (doc.go): this
// pins them. A change here is a change of SchemaVersion.
func TestReportJSONSchema(t *testing.T) {
	rep := &Report{Target: "192.0.2.1:6084", Transport: "tls", Overlay: "o", Self: "11", Second: "33", PeerNodeID: "22",
		Started: time.Unix(0, 0).UTC(), Results: []Result{{ID: "ping.answer", Section: "RFC 6940 §6.5.3", Title: "t",
			Status: Pass, Sent: "s", Got: "g", Detail: "d", Duration: time.Millisecond}}}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for s := range m {
			k = append(k, s)
		}
		slices.Sort(k)
		return k
	}
	if got, want := keys(doc), []string{"overlay", "peer_node_id", "results", "schema_version", "second_node_id",
		"self_node_id", "started", "summary", "target", "transport"}; !reflect.DeepEqual(got, want) {
		t.Errorf("report fields %v, want %v", got, want)
	}
	if doc["schema_version"] != float64(1) || SchemaVersion != 1 {
		t.Errorf("schema_version %v", doc["schema_version"])
	}
	res := doc["results"].([]any)[0].(map[string]any)
	if got, want := keys(res), []string{"detail", "duration_ns", "got", "id", "section", "sent", "status", "title"}; !reflect.DeepEqual(got, want) {
		t.Errorf("result fields %v, want %v", got, want)
	}
	sum := doc["summary"].(map[string]any)
	if got, want := keys(sum), []string{"fail", "pass", "skip", "total"}; !reflect.DeepEqual(got, want) {
		t.Errorf("summary fields %v, want %v", got, want)
	}
	if sum["pass"] != float64(1) || sum["total"] != float64(1) {
		t.Errorf("summary %v", sum)
	}
	for _, s := range []Status{Pass, Fail, Skip} {
		if s != "pass" && s != "fail" && s != "skip" {
			t.Errorf("status %q", s)
		}
	}
}
