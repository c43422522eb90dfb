package sip

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/goreload/reload/wire"
)

func registrationSeeds(f *testing.F) {
	a, b := nodeID(0x11), nodeID(0x22)
	route := RouteRegistration("(sip.schemes=SIP)", wire.NodeDest(&a), wire.NodeDest(&b))
	uri, _ := URIRegistration("sip:sam@example.org")
	unknown := wire.SipRegistration{Type: 7, Raw: []byte("future")}
	for _, r := range []wire.SipRegistration{route, uri, unknown} {
		enc, err := r.Append(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{2, 0, 3, 0, 0, 0})
}

// FuzzDecodeRegistration decodes a SIP-REGISTRATION value as fetched; when
// it decodes, re-encoding what was understood must decode to the same
// registration.
func FuzzDecodeRegistration(f *testing.F) {
	registrationSeeds(f)
	key := nodeID(0x33)
	f.Fuzz(func(t *testing.T, b []byte) {
		v := wire.DictionaryValue(wire.DictionaryKey(key.Bytes()), b)
		r, ok, err := DecodeRegistration(&v)
		if err != nil || !ok {
			return
		}
		if r.Key != key {
			t.Fatalf("key %v", r.Key)
		}
		var again wire.SipRegistration
		switch r.Type {
		case wire.SipRegistrationRoute:
			again = RouteRegistration(r.ContactPrefs, r.Destinations...)
		case wire.SipRegistrationURI:
			again = wire.SipRegistration{Type: r.Type, URI: []byte(r.URI)}
		default:
			again = wire.SipRegistration{Type: r.Type, Raw: r.Raw}
		}
		v2, err := RegistrationValue(key, &again)
		if err != nil {
			if r.Type == wire.SipRegistrationRoute && len(r.Destinations) == 0 {
				return
			}
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		r2, ok, err := DecodeRegistration(&v2)
		if err != nil || !ok {
			t.Fatalf("re-decode: %v", err)
		}
		if r2.Type != r.Type || r2.URI != r.URI || r2.ContactPrefs != r.ContactPrefs ||
			!equalDests(r2.Destinations, r.Destinations) || !bytes.Equal(r2.Raw, r.Raw) {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
	})
}

// FuzzParseGRUU parses GRUUs; a parsed GRUU must print and parse back to
// the same AOR and destination list.
func FuzzParseGRUU(f *testing.F) {
	a := nodeID(0x44)
	g, _ := MakeGRUU("alice@example.com", wire.NodeDest(&a))
	f.Add(g.URI())
	f.Add("alice@example.com;gr=MDEyMzQ1Njc4OTAxMjM0NTY3ODk~")
	f.Add("<sip:bob@example.com;gr=urn:uuid:1;transport=tcp>")
	f.Fuzz(func(t *testing.T, s string) {
		g, isGRUU, err := ParseGRUU(s)
		if err != nil || !isGRUU {
			return
		}
		back, isGRUU, err := ParseGRUU(g.URI())
		if err != nil || !isGRUU || back.AOR != g.AOR || !equalDests(back.Destinations, g.Destinations) {
			t.Fatalf("%q -> %q -> %+v, %v", s, g.URI(), back, err)
		}
	})
}

// FuzzNormalizeAOR: a normalised AOR has one '@', a lower-case domain, and
// normalises to itself when it holds no '%'.
func FuzzNormalizeAOR(f *testing.F) {
	for _, s := range []string{"sip:Alice@Example.COM:5060;transport=tcp", "<sips:a%40b@c>", "alice@example.com", "tel:+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeAOR(s)
		if err != nil {
			return
		}
		if strings.Count(n, "@") != 1 || AORDomain(n) != strings.ToLower(AORDomain(n)) {
			t.Fatalf("%q -> %q", s, n)
		}
		if !strings.Contains(n, "%") && !strings.ContainsAny(n, "<>\"") {
			if again, err := NormalizeAOR(n); err != nil || again != n {
				t.Fatalf("%q -> %q -> %q, %v", s, n, again, err)
			}
		}
	})
}

// FuzzFrontendReceive feeds arbitrary datagrams to a front end's message
// handling: it must neither panic nor stop answering.
func FuzzFrontendReceive(f *testing.F) {
	f.Add([]byte(request("OPTIONS", "sip:bob@example.com", "a")))
	f.Add([]byte(request("INVITE", "sip:bob@example.com", "b")))
	f.Add([]byte(request("REGISTER", "sip:example.com", "c", "Contact: <sip:bob@127.0.0.1:9>", "Expires: 0")))
	f.Add([]byte(request("BYE", "sip:127.0.0.1:9", "d", "Route: <sip:127.0.0.1:1;lr;rlnode=0101>")))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKrl\r\n\r\n"))
	n := newFakeNet()
	fe := n.newPeer(f, 1, nil)
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sink.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		fe.receive(bytes.Clone(b), source{transport: tUDP, addr: sink.LocalAddr().String()})
	})
}
