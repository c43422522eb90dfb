package node

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/usage/redir"
	"github.com/goreload/reload/wire"
)

// withRedir adds the REDIR Kind (RFC 7374 §6) with a branching factor of
// 4 (§8) to an overlay configuration.
func withRedir(c *config.Configuration) {
	c.RequiredKinds = append(c.RequiredKinds, config.KindBlock{Kind: config.Kind{
		Name: "REDIR", DataModel: config.DataModelDictionary, AccessControl: config.AccessNodeIDMatch,
		MaxCount: 64, MaxSize: 1024,
		Extensions: []config.Element{{Name: xml.Name{Space: config.NamespaceRedir, Local: "branching-factor"}, Inner: []byte("4")}},
	}})
}

// successorOf is the provider a lookup of key must find (RFC 7374 §4.5):
// the lowest Node-ID at or above key, else the lowest of all.
func successorOf(providers []wire.NodeID, key wire.NodeID) wire.NodeID {
	s := slices.SortedFunc(slices.Values(providers), func(a, b wire.NodeID) int { return a.Compare(b) })
	for _, p := range s {
		if p.Compare(key) >= 0 {
			return p
		}
	}
	return s[0]
}

// below is the Node-ID just below id (id minus one).
func below(id wire.NodeID) wire.NodeID {
	b := slices.Clone(id.Bytes())
	for i := len(b) - 1; i >= 0; i-- {
		b[i]--
		if b[i] != 0xff {
			break
		}
	}
	return wire.MustNodeID(b)
}

// TestServiceDiscovery: real nodes over TLS. Three providers register in
// the ReDiR tree (RFC 7374 §4.3); a fourth node, not a provider, finds
// for every key the provider that is its closest successor (§4.5); the
// storing peers enforce NODE-ID-MATCH (§5), so a forged record is
// refused; a provider that unregisters is gone at once (§4.6), and one
// that stops refreshing is gone once its records' lifetime has run out
// (§4.4).
func TestServiceDiscovery(t *testing.T) {
	c := startClusterOverlay(t, withRedir, 5, nil)
	c.waitConverged(t, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const ns = "voice-mail"
	providers := c.nodes[:3]
	seeker := c.nodes[4]
	var ids []wire.NodeID
	registered := time.Now()
	for i, p := range providers {
		// Provider 0 refreshes 4 s records (at 3.6 s), provider 2's
		// 3 s records will expire when it stops refreshing.
		life := []time.Duration{4 * time.Second, time.Minute, 3 * time.Second}[i]
		reg, err := p.RegisterService(ctx, ns, life)
		if err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
		if _, ok := reg.Stored[0]; !ok && len(ids) == 0 {
			t.Errorf("the first provider did not reach the root: %v", reg.Stored)
		}
		ids = append(ids, p.ID())
	}
	if got := providers[0].Services(); !slices.Equal(got, []string{ns}) {
		t.Errorf("Services() = %v", got)
	}

	check := func(live []wire.NodeID) error {
		keys := []wire.NodeID{seeker.ID()}
		for _, id := range ids {
			keys = append(keys, id, below(id))
		}
		for _, k := range keys {
			l, err := seeker.LookupService(ctx, ns, k)
			if err != nil {
				return err
			}
			if want := successorOf(live, k); l.Provider.NodeID != want {
				return errors.New("lookup " + k.String() + " found " + l.Provider.NodeID.String() + ", want " + want.String())
			}
			if d := l.Provider.Destinations(); len(d) != 1 || d[0].Type != wire.DestNode {
				return errors.New("provider record without its node destination")
			}
		}
		return nil
	}
	if err := check(ids); err != nil {
		t.Fatal(err)
	}

	// NODE-ID-MATCH: the seeker cannot store a record keyed by a
	// provider's Node-ID, nor its own record in a tree node whose
	// intervals miss its Node-ID.
	victim := ids[0]
	forged := wire.RedirServiceProvider{Namespace: []byte(ns)}
	fb, _ := forged.Append(nil)
	root := storage.ChordHash(wire.RedirResourceName([]byte(ns), 0, 0))
	_, err := seeker.Store(ctx, root, wire.KindREDIR, []wire.StoredDataValue{wire.DictionaryValue(victim.Bytes(), fb)}, time.Minute)
	if code, _ := wire.ErrorCodeOf(err); code != wire.ErrCodeForbidden {
		t.Errorf("forged record keyed by another Node-ID: %v, want Error_Forbidden", err)
	}
	// Level 1 has 4 tree nodes; the one after the seeker's does not hold it.
	self := seeker.ID()
	wrong := (redir.Tree{Branching: 4, Bits: 128, Hash: storage.ChordHash}).Node(1, redir.Key(self)) + 1
	own := wire.RedirServiceProvider{Namespace: []byte(ns), Level: 1, Node: wrong % 4}
	ob, _ := own.Append(nil)
	_, err = seeker.Store(ctx, storage.ChordHash(wire.RedirResourceName([]byte(ns), 1, wrong%4)), wire.KindREDIR,
		[]wire.StoredDataValue{wire.DictionaryValue(self.Bytes(), ob)}, time.Minute)
	if code, _ := wire.ErrorCodeOf(err); code != wire.ErrCodeForbidden {
		t.Errorf("record in a tree node whose intervals miss the Node-ID: %v, want Error_Forbidden", err)
	}

	// The control API answers a lookup as JSON.
	srv := httptest.NewServer(seeker.ControlHandler(ControlOptions{Token: "0123456789abcdef0123456789abcdef"}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/service/lookup?namespace="+ns+"&key="+ids[1].String(), nil)
	req.Header.Set("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pj providerJSON
	if err := json.NewDecoder(resp.Body).Decode(&pj); err != nil || resp.StatusCode != http.StatusOK || pj.NodeID != ids[1].String() {
		t.Errorf("control lookup: %d %+v %v", resp.StatusCode, pj, err)
	}
	resp.Body.Close()

	// §4.6: removed records are gone at once.
	if err := providers[1].UnregisterService(ctx, ns); err != nil {
		t.Fatal(err)
	}
	live := []wire.NodeID{ids[0], ids[2]}
	if err := check(live); err != nil {
		t.Fatalf("after unregistering provider 1: %v", err)
	}

	// §4.4: provider 2 stops refreshing; its 3 s records expire.
	if !providers[2].StopService(ns) {
		t.Fatal("StopService: not registered")
	}
	live = []wire.NodeID{ids[0]}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check(live)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider 2 still found after its lifetime: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Provider 0's refreshes keep it found past its records' lifetime.
	time.Sleep(time.Until(registered.Add(9 * time.Second)))
	if err := check(live); err != nil {
		t.Fatalf("provider 0 lost despite refreshing: %v", err)
	}
}

// TestServiceDiscoveryNeedsRedirKind: without the REDIR Kind in the
// configuration, registration and lookup fail with ErrNoRedirKind before
// sending anything.
func TestServiceDiscoveryNeedsRedirKind(t *testing.T) {
	c := startCluster(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.nodes[0].RegisterService(ctx, "voice-mail", 0); !errors.Is(err, ErrNoRedirKind) {
		t.Errorf("RegisterService: %v, want ErrNoRedirKind", err)
	}
	if _, err := c.nodes[0].LookupService(ctx, "voice-mail", wire.NodeID{}); !errors.Is(err, ErrNoRedirKind) {
		t.Errorf("LookupService: %v, want ErrNoRedirKind", err)
	}
}
