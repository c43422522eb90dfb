package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/usage/coap"
	"github.com/goreload/reload/wire"
)

// coapKinds adds the CoAP usage's Kinds (RFC 7650 §8) to a configuration.
func coapKinds(c *config.Configuration) {
	c.RequiredKinds = append(c.RequiredKinds,
		config.KindBlock{Kind: config.Kind{Name: "CoAP-REGISTRATION", DataModel: config.DataModelDictionary, AccessControl: config.AccessURINodeMatch, MaxCount: 16, MaxSize: 4096}},
		config.KindBlock{Kind: config.Kind{Name: "CoAP-CACHING", DataModel: config.DataModelSingle, AccessControl: config.AccessURIMatch, MaxCount: 1, MaxSize: 4096}},
	)
}

// coapIdentity enrols a node whose certificate holds the coap: URIs (RFC
// 7650 §9).
func coapIdentity(t *testing.T, ov *nodetest.Overlay, user string, uris ...string) *security.Identity {
	t.Helper()
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	var b [wire.DefaultNodeIDLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	der, err := ov.CA.Issue(security.CertRequest{PublicKey: key.Public(), NodeIDs: []wire.NodeID{wire.MustNodeID(b[:])},
		User: user + "@" + ov.Name, Overlay: ov.Name, NotBefore: ov.Now.Add(-time.Hour), NotAfter: ov.Now.Add(24 * time.Hour), CoAPURIs: uris})
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// coapGet asks the front end at addr for proxyURI (RFC 7252 §5.7.2).
func coapGet(ctx context.Context, t *testing.T, addr, proxyURI string) (codes.Code, string) {
	t.Helper()
	cc, err := udp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req, err := cc.NewGetRequest(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.ReleaseMessage(req)
	req.SetOptionString(message.ProxyURI, proxyURI)
	resp, err := cc.Do(req)
	if err != nil {
		t.Fatalf("GET %s via %s: %v", proxyURI, addr, err)
	}
	defer cc.ReleaseMessage(resp)
	var body []byte
	if resp.Body() != nil {
		body, _ = io.ReadAll(resp.Body())
	}
	return resp.Code(), string(body)
}

func linkQuery(q string) message.Option {
	return message.Option{ID: message.URIQuery, Value: []byte(q)}
}

// TestCoAPThroughOverlay: RFC 7650 §4-§7 end to end. A go-coap device
// registers with its proxy node A, which stores the CoAP-REGISTRATION; a
// go-coap client asks node B with a Proxy-Uri; B looks the device up,
// AppAttaches to A and gets the device's answer. A node whose certificate
// does not hold the URI cannot register it (URI-NODE-MATCH), an unknown
// device is 4.04, and once the device sleeps its cached measurement
// (CoAP-CACHING, URI-MATCH) answers.
func TestCoAPThroughOverlay(t *testing.T) {
	t.Run("TLS", func(t *testing.T) { testCoAPThroughOverlay(t, nil) })
	// AppAttach over ICE gives a DTLS connection: CoAP's RFC 8323 framing
	// runs over its records.
	t.Run("DTLS-ICE", func(t *testing.T) { testCoAPThroughOverlay(t, iceLoopback) })
}

func testCoAPThroughOverlay(t *testing.T, mod func(int, *Config)) {
	ov, err := nodetest.NewOverlay("coap.example.org", coapKinds)
	if err != nil {
		t.Fatal(err)
	}
	ids := []*security.Identity{
		coapIdentity(t, ov, "proxy", "coap://dev1/", "coap://dev1/temp"),
		coapIdentity(t, ov, "client"),
		coapIdentity(t, ov, "rogue"),
	}
	c := startNodes(t, ov, ids, func(i int, cfg *Config) {
		if mod != nil {
			mod(i, cfg)
		}
		cfg.CoAP = &CoAPConfig{Addr: "127.0.0.1:0", NoSec: true, DeviceTimeout: time.Second}
	})
	c.waitConverged(t, 60*time.Second)
	pn, rn, rogue := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The device: a go-coap endpoint that registers and then answers
	// the proxy's requests on the same socket.
	r := mux.NewRouter()
	_ = r.Handle("/temp", mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("21.5")))
	}))
	dev, err := udp.Dial(pn.CoAP().Addr().String(), options.WithMux(r))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	post := func(d *udpclient.Conn, path string, body string, q ...string) codes.Code {
		t.Helper()
		opts := make([]message.Option, len(q))
		for i := range q {
			opts[i] = linkQuery(q[i])
		}
		resp, err := d.Post(ctx, path, message.AppLinkFormat, strings.NewReader(body), opts...)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer d.ReleaseMessage(resp)
		return resp.Code()
	}
	if code := post(dev, "/rd", `</temp>;rt="temperature-c"`, "ep=dev1", "lt=600"); code != codes.Created {
		t.Fatalf("registration: %v", code)
	}

	t.Run("read through the overlay", func(t *testing.T) {
		code, body := coapGet(ctx, t, rn.CoAP().Addr().String(), "coap://dev1/temp")
		if code != codes.Content || body != "21.5" {
			t.Fatalf("got %v %q", code, body)
		}
		// The proxy's own directory, with its Node-ID as host.
		code, body = coapGet(ctx, t, rn.CoAP().Addr().String(), "coap://"+pn.ID().String()+"/.well-known/core")
		if code != codes.Content || !strings.Contains(body, "<coap://dev1/>") {
			t.Fatalf("directory: %v %q", code, body)
		}
	})

	t.Run("unknown device", func(t *testing.T) {
		code, body := coapGet(ctx, t, rn.CoAP().Addr().String(), "coap://nodev/temp")
		if code != codes.NotFound {
			t.Fatalf("got %v %q, want 4.04", code, body)
		}
	})

	t.Run("registration by a node not holding the URI", func(t *testing.T) {
		d2, err := udp.Dial(rogue.CoAP().Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		if code := post(d2, "/rd", "</temp>", "ep=dev1"); code != codes.Forbidden {
			t.Fatalf("front end of a node without the URI: %v, want 4.03", code)
		}
		// And straight into the overlay: the storing peer refuses it.
		id := rogue.ID()
		reg := wire.CoAPRegistration{NodeID: id, URIs: []byte("</evil>"), IDLen: id.Len()}
		val, err := reg.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := storage.CoAPResourceID(storage.ChordHash, coap.DeviceURI("dev1"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rogue.Store(ctx, res, coap.KindRegistration, []wire.StoredDataValue{wire.DictionaryValue(id.Bytes(), val)}, time.Minute)
		if code, ok := wire.ErrorCodeOf(err); !ok || code != wire.ErrCodeForbidden {
			t.Fatalf("Store by a node not matching the URI: %v, want Error_Forbidden", err)
		}
	})

	t.Run("cached value of a sleeping device", func(t *testing.T) {
		resp, err := dev.Put(ctx, "/rd-cache", message.TextPlain, strings.NewReader("20.0"),
			linkQuery("ep=dev1"), linkQuery("href=/temp"), message.Option{ID: message.MaxAge, Value: []byte{120}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code() != codes.Changed {
			t.Fatalf("cache: %v", resp.Code())
		}
		dev.ReleaseMessage(resp)
		dev.Close() // the device goes to sleep
		code, body := coapGet(ctx, t, rn.CoAP().Addr().String(), "coap://dev1/temp")
		if code != codes.Content || body != "20.0" {
			t.Fatalf("got %v %q, want the cached 20.0", code, body)
		}
	})
}

// TestCoAPAppAttachSecurity: the CoAP connection over AppAttach needs a
// certificate of the overlay carrying the Node-ID that signed the
// AppAttach (RFC 6940 §6.5.2, §13.6.3); another node's is refused.
func TestCoAPAppAttachSecurity(t *testing.T) {
	ov, err := nodetest.NewOverlay("coapsec.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ov.Config.Trust()
	if err != nil {
		t.Fatal(err)
	}
	a, b, other := coapIdentity(t, ov, "a"), coapIdentity(t, ov, "b"), coapIdentity(t, ov, "other")
	side := func(id *security.Identity) coapOverlay {
		return coapOverlay{n: &Node{cfg: Config{Identity: id}}, trust: tr}
	}
	for _, tc := range []struct {
		name                    string
		expectClient, expectSrv wire.NodeID
		ok                      bool
	}{
		{"right Node-IDs", b.NodeID(), a.NodeID(), true},
		{"server is not the node attached to", other.NodeID(), a.NodeID(), false},
		{"client is not the requester", b.NodeID(), other.NodeID(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srvErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				sc, err := side(b).secure(ctx, c, true, tc.expectSrv)
				if err == nil {
					_, err = sc.Write([]byte("x"))
					sc.Close()
				}
				srvErr <- err
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cc, cerr := side(a).secure(ctx, c, false, tc.expectClient)
			if cerr == nil {
				var buf [1]byte
				_, cerr = io.ReadFull(cc, buf[:])
				cc.Close()
			}
			serr := <-srvErr
			if tc.ok && (cerr != nil || serr != nil) {
				t.Fatalf("client %v, server %v", cerr, serr)
			}
			if !tc.ok && cerr == nil && serr == nil {
				t.Fatal("connection accepted")
			}
		})
	}
}
