package sip

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

func TestNormalizeAOR(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"alice@example.com", "alice@example.com", nil},
		{"sip:alice@example.com", "alice@example.com", nil},
		{"SIPS:alice@Example.COM", "alice@example.com", nil},
		{"sip:Alice@example.com", "Alice@example.com", nil}, // user part is case-sensitive
		{"sip:alice@example.com:5070;transport=tcp?subject=x", "alice@example.com", nil},
		{`"Alice" <sip:alice@example.com>;tag=1`, "alice@example.com", nil},
		{"sip:al%69ce@example.com", "alice@example.com", nil}, // RFC 7904 §7: escapes decoded
		{"sip:+4940123;phone-context=x@example.com", "+4940123;phone-context=x@example.com", nil},
		{"sip:alice:secret@example.com", "alice@example.com", nil},
		{"sip:alice@[2001:db8::1]:5060", "alice@[2001:db8::1]", nil},
		{"sip:example.com", "", ErrBadAOR},
		{"tel:+4940123", "", ErrBadAOR},
		{"mailto:alice@example.com", "", ErrBadAOR},
		{"sip:@example.com", "", ErrBadAOR},
		{"sip:alice@", "", ErrBadAOR},
		{"<sip:alice@example.com", "", ErrBadAOR},
		{"sip:al%zzce@example.com", "", ErrBadAOR},
		// Fuzz regressions (testdata/fuzz/FuzzNormalizeAOR, FuzzDecodeRegistration).
		{"0@::", "", ErrBadAOR},
		{"000@0:000:00000", "", ErrBadAOR},
		{"0@\v?", "", ErrBadAOR},
		{"%0B000000@00000", "", ErrBadAOR},
		{"a@host:", "", ErrBadAOR},
		{"a@[::1", "", ErrBadAOR},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeAOR(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("NormalizeAOR(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestResourceIDForAOR(t *testing.T) {
	want := wire.ResourceIDFromName("bob@dht.example.com")
	for _, in := range []string{"bob@dht.example.com", "sip:bob@DHT.example.com", "<sips:bob@dht.example.com:5061>"} {
		got, err := ResourceIDForAOR(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ResourceIDForAOR(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	if len(want) != 16 {
		t.Errorf("Resource-ID has %d bytes, want 16 (CHORD-RELOAD)", len(want))
	}
}

func TestRegistrationValueRoundTrip(t *testing.T) {
	a, b := nodeID(0xa1), nodeID(0xb2)
	route := RouteRegistration("(sip.schemes=SIP)", wire.NodeDest(&a), wire.NodeDest(&b))
	uri, err := URIRegistration("sip:Sam@Example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		reg  wire.SipRegistration
		want Registration
	}{
		{"route", route, Registration{Key: a, Type: wire.SipRegistrationRoute, ContactPrefs: "(sip.schemes=SIP)",
			Destinations: []wire.Destination{wire.NodeDest(&a), wire.NodeDest(&b)}}},
		{"uri", uri, Registration{Key: a, Type: wire.SipRegistrationURI, URI: "Sam@example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := RegistrationValue(a, &tc.reg)
			if err != nil {
				t.Fatal(err)
			}
			// Through the wire: a StoredDataValue of the dictionary model.
			enc, err := v.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			dec := wire.StoredDataValue{Model: wire.ModelDictionary}
			if _, err := dec.Decode(enc); err != nil {
				t.Fatal(err)
			}
			got, ok, err := DecodeRegistration(&dec)
			if err != nil || !ok {
				t.Fatalf("DecodeRegistration: %v %v", ok, err)
			}
			if got.Key != tc.want.Key || got.Type != tc.want.Type || got.URI != tc.want.URI ||
				got.ContactPrefs != tc.want.ContactPrefs || !equalDests(got.Destinations, tc.want.Destinations) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	rm := RemovalValue(a)
	if _, ok, err := DecodeRegistration(&rm); ok || err != nil {
		t.Fatalf("removal: ok=%v err=%v", ok, err)
	}
	empty := RouteRegistration("")
	if _, err := RegistrationValue(a, &empty); !errors.Is(err, ErrBadRegistration) {
		t.Fatalf("empty destination list: %v", err)
	}
	if _, err := RegistrationValue(wire.NodeID{}, &route); !errors.Is(err, ErrBadRegistration) {
		t.Fatalf("zero key: %v", err)
	}
	bad := wire.DictionaryValue(wire.DictionaryKey(a.Bytes()), []byte{2, 0, 9, 1})
	if _, _, err := DecodeRegistration(&bad); !errors.Is(err, ErrBadRegistration) {
		t.Fatalf("truncated value: %v", err)
	}
}

func TestGRUU(t *testing.T) {
	a, b := nodeID(0x01), nodeID(0x02)
	g, err := MakeGRUU("sip:alice@Example.com", wire.NodeDest(&a), wire.NodeDest(&b))
	if err != nil {
		t.Fatal(err)
	}
	s := g.String()
	if !strings.HasPrefix(s, "alice@example.com;gr=") || strings.ContainsAny(s[len("alice@example.com;gr="):], "=;") {
		t.Fatalf("GRUU %q", s)
	}
	// RFC 7904 §6: '~' replaces the base64 pad '='.
	one, _ := MakeGRUU("alice@example.com", wire.NodeDest(&a)) // 18 bytes: no pad
	three := GRUU{AOR: "alice@example.com", Destinations: []wire.Destination{wire.NodeDest(&a), wire.NodeDest(&b), wire.NodeDest(&a)}}
	for _, x := range []GRUU{g, one, three} {
		for _, form := range []string{x.String(), x.URI(), "<" + x.URI() + ">", x.URI() + ";transport=tcp"} {
			p, isGRUU, err := ParseGRUU(form)
			if err != nil || !isGRUU {
				t.Fatalf("ParseGRUU(%q): %v %v", form, isGRUU, err)
			}
			if p.AOR != "alice@example.com" || !equalDests(p.Destinations, x.Destinations) {
				t.Fatalf("ParseGRUU(%q) = %+v", form, p)
			}
		}
	}
	c := wire.MustNodeID(bytes.Repeat([]byte{7}, 17))
	odd, _ := MakeGRUU("alice@example.com", wire.NodeDest(&c)) // 19 bytes of list: two pad characters
	if !strings.HasSuffix(odd.String(), "~~") {
		t.Fatalf("GRUU %q is not padded with '~'", odd.String())
	}
	if p, _, err := ParseGRUU(odd.URI()); err != nil || !equalDests(p.Destinations, odd.Destinations) {
		t.Fatalf("padded GRUU: %v", err)
	}
	if n, ok := g.Node(); !ok || n != b {
		t.Fatalf("terminal node %v", n)
	}
	if _, isGRUU, err := ParseGRUU("sip:alice@example.com"); isGRUU || err != nil {
		t.Fatalf("plain AOR: %v %v", isGRUU, err)
	}
	if _, isGRUU, err := ParseGRUU("sip:alice@example.com;gr=urn:uuid:f81d4fae"); !isGRUU || !errors.Is(err, ErrBadGRUU) {
		t.Fatalf("foreign GRUU: %v %v", isGRUU, err)
	}
	if _, err := MakeGRUU("alice@example.com"); !errors.Is(err, ErrBadGRUU) {
		t.Fatalf("empty list: %v", err)
	}
}

func TestGRUUPadding(t *testing.T) {
	// The RFC 7904 §6 example decodes with '~' as pad.
	raw, err := gruuEncoding.DecodeString("MDEyMzQ1Njc4OTAxMjM0NTY3ODk~")
	if err != nil || string(raw) != "01234567890123456789" {
		t.Fatalf("decode RFC example: %q %v", raw, err)
	}
}

func TestDomainPolicy(t *testing.T) {
	rfcPatterns := []string{`dht\.example\.com`, `.*\.my\.example`}
	tests := []struct {
		name string
		p    DomainPolicy
		aor  string
		ok   bool
	}{
		{"absent", DomainPolicy{}, "a@anything.org", true},
		{"disabled-own", DomainPolicy{Present: true, OverlayDomain: "overlay.example"}, "a@Overlay.Example", true},
		{"disabled-other", DomainPolicy{Present: true, OverlayDomain: "overlay.example"}, "a@dht.example.com", false},
		{"pattern-exact", DomainPolicy{Present: true, Enable: true, Patterns: rfcPatterns}, "sip:a@dht.example.com", true},
		{"pattern-suffix", DomainPolicy{Present: true, Enable: true, Patterns: rfcPatterns}, "a@x.y.my.example", true},
		{"pattern-anchored", DomainPolicy{Present: true, Enable: true, Patterns: rfcPatterns}, "a@dht.example.com.evil", false},
		{"pattern-dot", DomainPolicy{Present: true, Enable: true, Patterns: rfcPatterns}, "a@dhtxexample.com", false},
		{"enabled-none", DomainPolicy{Present: true, Enable: true}, "a@dht.example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := AllowsDomain(tc.p, tc.aor)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrDomainNotAllowed) {
				t.Fatalf("Allows(%q) = %v, want ok=%v", tc.aor, err, tc.ok)
			}
		})
	}
	if _, err := (DomainPolicy{Present: true, Enable: true, Patterns: []string{"("}}).Compile(); err == nil {
		t.Fatal("bad pattern compiled")
	}
}

// mapFetcher is a Fetcher over registrations by AOR.
type mapFetcher struct {
	n     *fakeNet
	calls int
	fail  map[string]error
}

func (m *mapFetcher) Fetch(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	m.calls++
	for aor, err := range m.fail {
		if bytes.Equal(wire.ResourceIDFromName(aor), res) {
			return nil, err
		}
	}
	return m.n.overlay(nodeID(0xff)).Fetch(ctx, res, kind)
}

func uriReg(t *testing.T, aor string) wire.SipRegistration {
	t.Helper()
	r, err := URIRegistration(aor)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	n1, n2, n3, n4 := nodeID(1), nodeID(2), nodeID(3), nodeID(4)
	route := func(prefs string, id wire.NodeID) wire.SipRegistration {
		return RouteRegistration(prefs, wire.NodeDest(&id))
	}
	hour := time.Hour
	t.Run("route", func(t *testing.T) {
		n := newFakeNet()
		n.put("alice@example.com", n1, route("", n1), hour)
		n.put("alice@example.com", n2, route("", n2), hour) // RFC 7904 §3.2: desk and cell phone
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "sip:alice@example.com")
		if err != nil || len(got) != 2 {
			t.Fatalf("%v %v", got, err)
		}
		if a, _ := got[0].Node(); a != n1 {
			t.Fatalf("order by key: %v", got)
		}
	})
	t.Run("redirect-chain", func(t *testing.T) {
		n := newFakeNet()
		n.put("alice@example.com", n1, uriReg(t, "sam@example.com"), hour)
		n.put("sam@example.com", n2, uriReg(t, "sip:pat@example.com"), hour)
		n.put("pat@example.com", n3, route("", n3), hour)
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "alice@example.com")
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		if got[0].AOR != "pat@example.com" || strings.Join(got[0].Chain, ">") != "alice@example.com>sam@example.com>pat@example.com" {
			t.Fatalf("target %+v", got[0])
		}
	})
	t.Run("loop", func(t *testing.T) {
		n := newFakeNet()
		n.put("a@example.com", n1, uriReg(t, "b@example.com"), hour)
		n.put("b@example.com", n2, uriReg(t, "c@example.com"), hour)
		n.put("c@example.com", n3, uriReg(t, "a@example.com"), hour)
		f := &mapFetcher{n: n}
		_, err := (&Resolver{Fetcher: f}).Resolve(ctx, "a@example.com")
		if !errors.Is(err, ErrRedirectLoop) {
			t.Fatalf("err = %v", err)
		}
		if f.calls != 3 {
			t.Fatalf("%d fetches, want 3 (each AOR once)", f.calls)
		}
	})
	t.Run("self-loop", func(t *testing.T) {
		n := newFakeNet()
		n.put("a@example.com", n1, uriReg(t, "sip:A@Example.com"), hour)
		n.put("a@example.com", n2, uriReg(t, "sip:a@EXAMPLE.com"), hour)
		if _, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "a@example.com"); !errors.Is(err, ErrRedirectLoop) && !errors.Is(err, ErrNoRegistration) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("loop-with-exit", func(t *testing.T) {
		n := newFakeNet()
		n.put("a@example.com", n1, uriReg(t, "b@example.com"), hour)
		n.put("b@example.com", n2, uriReg(t, "a@example.com"), hour)
		n.put("b@example.com", n3, route("", n3), hour)
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "a@example.com")
		if err != nil || len(got) != 1 || got[0].AOR != "b@example.com" {
			t.Fatalf("%v %v", got, err)
		}
	})
	t.Run("too-deep", func(t *testing.T) {
		n := newFakeNet()
		names := []string{"h0", "h1", "h2", "h3", "h4", "h5"}
		for i := 0; i+1 < len(names); i++ {
			n.put(names[i]+"@example.com", n1, uriReg(t, names[i+1]+"@example.com"), hour)
		}
		n.put("h5@example.com", n2, route("", n2), hour)
		if _, err := (&Resolver{Fetcher: &mapFetcher{n: n}, MaxHops: 4}).Resolve(ctx, "h0@example.com"); !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("MaxHops 4: %v", err)
		}
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}, MaxHops: 5}).Resolve(ctx, "h0@example.com")
		if err != nil || len(got) != 1 || len(got[0].Chain) != 6 {
			t.Fatalf("MaxHops 5: %v %v", got, err)
		}
	})
	t.Run("dedupe-and-prefs", func(t *testing.T) {
		n := newFakeNet()
		n.put("a@example.com", n1, route("(sip.schemes=SIPS)", n1), hour)
		n.put("a@example.com", n2, route("", n2), hour)
		n.put("a@example.com", n3, route("(sip.schemes=SIP)", n3), hour)
		n.put("a@example.com", n4, uriReg(t, "b@example.com"), hour)
		n.put("b@example.com", n4, route("(sip.schemes=SIP)", n3), hour) // same list as n3's: removed
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "a@example.com")
		if err != nil || len(got) != 3 {
			t.Fatalf("%v %v", got, err)
		}
		want := []wire.NodeID{n3, n2, n1}
		for i, w := range want {
			if g, _ := got[i].Node(); g != w {
				t.Fatalf("SIP order: target %d is %v, want %v", i, g, w)
			}
		}
		got, _ = (&Resolver{Fetcher: &mapFetcher{n: n}, SIPS: true}).Resolve(ctx, "a@example.com")
		if g, _ := got[0].Node(); g != n1 {
			t.Fatalf("SIPS first: %v", g)
		}
	})
	t.Run("gruu-no-fetch", func(t *testing.T) {
		f := &mapFetcher{n: newFakeNet()}
		g, _ := MakeGRUU("a@example.com", wire.NodeDest(&n2))
		got, err := (&Resolver{Fetcher: f}).Resolve(ctx, g.URI())
		if err != nil || len(got) != 1 || !got[0].GRUU || f.calls != 0 {
			t.Fatalf("%v %v fetches=%d", got, err, f.calls)
		}
	})
	t.Run("uri-to-gruu", func(t *testing.T) {
		n := newFakeNet()
		g, _ := MakeGRUU("b@example.com", wire.NodeDest(&n3))
		n.put("a@example.com", n1, wire.SipRegistration{Type: wire.SipRegistrationURI, URI: []byte(g.String())}, hour)
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "a@example.com")
		if err != nil || len(got) != 1 || !got[0].GRUU {
			t.Fatalf("%v %v", got, err)
		}
	})
	t.Run("none", func(t *testing.T) {
		if _, err := (&Resolver{Fetcher: &mapFetcher{n: newFakeNet()}}).Resolve(ctx, "x@example.com"); !errors.Is(err, ErrNoRegistration) {
			t.Fatal(err)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		n := newFakeNet()
		o := n.overlay(n1)
		if err := o.Store(ctx, wire.ResourceIDFromName("a@example.com"), Kind, []wire.StoredDataValue{RemovalValue(n1)}, hour); err != nil {
			t.Fatal(err)
		}
		if _, err := (&Resolver{Fetcher: &mapFetcher{n: n}}).Resolve(ctx, "a@example.com"); !errors.Is(err, ErrNoRegistration) {
			t.Fatal(err)
		}
	})
	t.Run("fetch-error", func(t *testing.T) {
		boom := errors.New("boom")
		n := newFakeNet()
		n.put("a@example.com", n1, uriReg(t, "b@example.com"), hour)
		n.put("a@example.com", n2, route("", n2), hour)
		f := &mapFetcher{n: n, fail: map[string]error{"b@example.com": boom}}
		got, err := (&Resolver{Fetcher: f}).Resolve(ctx, "a@example.com")
		if err != nil || len(got) != 1 {
			t.Fatalf("partial failure: %v %v", got, err)
		}
		f.fail["a@example.com"] = boom
		if _, err := (&Resolver{Fetcher: f}).Resolve(ctx, "a@example.com"); !errors.Is(err, boom) {
			t.Fatalf("fetch error: %v", err)
		}
	})
	t.Run("domain-policy", func(t *testing.T) {
		n := newFakeNet()
		n.put("a@example.com", n1, uriReg(t, "b@elsewhere.org"), hour)
		n.put("b@elsewhere.org", n2, route("", n2), hour)
		pol, _ := DomainPolicy{Present: true, OverlayDomain: "example.com"}.Compile()
		f := &mapFetcher{n: n}
		_, err := (&Resolver{Fetcher: f, Policy: pol}).Resolve(ctx, "a@example.com")
		if !errors.Is(err, ErrDomainNotAllowed) || f.calls != 1 {
			t.Fatalf("%v fetches=%d", err, f.calls)
		}
	})
	t.Run("max-targets", func(t *testing.T) {
		n := newFakeNet()
		for i := byte(1); i <= 20; i++ {
			id := nodeID(i)
			n.put("a@example.com", id, route("", id), hour)
		}
		got, err := (&Resolver{Fetcher: &mapFetcher{n: n}, MaxTargets: 5}).Resolve(ctx, "a@example.com")
		if err != nil || len(got) != 5 {
			t.Fatalf("%d %v", len(got), err)
		}
	})
}

// equalDests reports whether two destination lists are the same.
func equalDests(a, b []wire.Destination) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].ID, b[i].ID) {
			return false
		}
	}
	return true
}
