package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// signedOverlay is an overlay as "reload overlay init" makes it: a CA in
// root-cert, the standard kinds each signed by the configuration and kind
// signer, the configuration signed by it, and the max-message-size init
// writes.
type signedOverlay struct {
	ov     *nodetest.Overlay
	signer *security.Identity
	doc    []byte                // the signed document
	cfg    *config.Configuration // parsed from doc
}

func newSignedOverlay(t *testing.T) *signedOverlay {
	t.Helper()
	ov, err := nodetest.NewOverlay("test.example.org", func(c *config.Configuration) {
		c.MaxMessageSize = config.RecommendedMaxMessageSize
	})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ov.Identity("admin")
	if err != nil {
		t.Fatal(err)
	}
	c := ov.Config
	c.ConfigurationSigners = []string{signer.NodeID().String()}
	c.KindSigners = []string{signer.NodeID().String()}
	c.EnrollmentServers = []string{"https://localhost:8443/enroll"}
	doc := &config.Document{Configurations: []*config.Configuration{c}}
	for i := range c.RequiredKinds {
		if err := doc.SignKind(c, &c.RequiredKinds[i], signer, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := doc.Sign(c, signer, ""); err != nil {
		t.Fatal(err)
	}
	raw, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	so := &signedOverlay{ov: ov, signer: signer, doc: raw}
	so.cfg = parseConfig(t, so, raw)
	if _, err := so.cfg.VerifySignature(nil, time.Now()); err != nil {
		t.Fatalf("the initial document does not verify: %v", err)
	}
	return so
}

func parseConfig(t *testing.T, so *signedOverlay, raw []byte) *config.Configuration {
	t.Helper()
	d, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Configuration(so.ov.Name)
	if c == nil {
		t.Fatal("no configuration for the overlay")
	}
	return c
}

// resign is what an operator does to publish a new configuration: take
// the document, bump the sequence (RFC 6940 §6.3.2.1), change what edit
// changes and sign it again with id.
func resign(t *testing.T, so *signedOverlay, raw []byte, id *security.Identity, edit func(*config.Configuration)) []byte {
	t.Helper()
	d, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Configuration(so.ov.Name)
	c.Sequence = config.NextSequence(c.Sequence)
	if edit != nil {
		edit(c)
	}
	if err := d.Sign(c, id, ""); err != nil {
		t.Fatal(err)
	}
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// startSigned starts one real node per identity on loopback, each with
// the signed document, over TLS links; the first seeds the ring.
func startSigned(t *testing.T, so *signedOverlay, ids []*security.Identity) *cluster {
	t.Helper()
	return startNodes(t, so.ov, ids, func(_ int, cfg *Config) {
		cfg.Overlay, cfg.ConfigDocument = parseConfig(t, so, so.doc), so.doc
	})
}

// sequences are the configuration sequences the nodes hold.
func sequences(nodes []*Node) []uint16 {
	out := make([]uint16, len(nodes))
	for i, nd := range nodes {
		c, _ := nd.Configuration()
		out[i] = c.Sequence
	}
	return out
}

// waitUntil polls cond for up to d; the error of the last poll is
// returned when it never held.
func waitUntil(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RFC 6940 §6.5.4, §6.3.2.1, §11.1: the operator bumps the configuration's
// sequence, signs it again and hands it to ONE running peer of a 4-peer
// overlay (real nodes, real TLS links, the sizes "reload overlay init"
// writes). The document, a realistic one with a root certificate and the
// standard signed kinds, is larger than RFC 6940's default
// max-message-size of 5000 bytes; every peer ends up with the new
// sequence, and the overlay keeps routing under it.
func TestConfigUpdateReachesEveryPeer(t *testing.T) {
	so := newSignedOverlay(t)
	if len(so.doc) <= config.DefaultMaxMessageSize {
		t.Fatalf("the document is %d bytes: not the realistic size this test is about", len(so.doc))
	}
	ids, err := so.ov.Identities(4)
	if err != nil {
		t.Fatal(err)
	}
	c := startSigned(t, so, ids)
	if err := waitUntil(60*time.Second, c.converged); err != nil {
		t.Fatalf("ring did not converge: %v", err)
	}

	next := resign(t, so, so.doc, so.signer, func(c *config.Configuration) {
		c.OverlayReliabilityTimer = 2 * time.Second // a visible change
	})
	t.Logf("configuration document: %d bytes, max-message-size %d", len(next), so.cfg.MaxMessageSize)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	got, err := c.nodes[2].UpdateConfig(ctx, next)
	if err != nil {
		t.Fatalf("UpdateConfig: %v", err)
	}
	if got.Sequence != 1 {
		t.Fatalf("installed sequence %d, want 1", got.Sequence)
	}
	err = waitUntil(60*time.Second, func() error {
		for i, s := range sequences(c.nodes) {
			if s != 1 {
				return fmt.Errorf("node %d still has sequence %d (all: %v)", i, s, sequences(c.nodes))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, nd := range c.nodes {
		cfg, doc := nd.Configuration()
		if cfg.OverlayReliabilityTimer != 2*time.Second || string(doc) != string(next) {
			t.Errorf("node %d: timer %v, document of %d bytes", i, cfg.OverlayReliabilityTimer, len(doc))
		}
	}
	// The overlay works under the new configuration.
	if err := waitUntil(60*time.Second, c.converged); err != nil {
		t.Fatalf("ring after the update: %v", err)
	}
	c.pingAll(ctx, t, "after the update: ")
}

// RFC 6940 §6.5.4.2, §11.1: a ConfigUpdate is processed only when the
// document is signed by a configuration-signer of the configuration in
// force. An enrolled attacker, a real node of the overlay, sends a peer a
// document of its own making (valid XML, a higher sequence, itself listed
// as configuration-signer, signed with its own key): it is answered with
// Error_Forbidden and no peer changes its configuration. A replay of the
// document in force is Error_Config_Too_Old; the attacker's own node
// refuses the forged document from its operator API too.
func TestConfigUpdateFromAttackerRefused(t *testing.T) {
	so := newSignedOverlay(t)
	honest, err := so.ov.Identities(3)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := so.ov.Identity("mallory")
	if err != nil {
		t.Fatal(err)
	}
	c := startSigned(t, so, append(honest, mallory))
	attacker, peers := c.nodes[3], c.nodes[:3]

	forged := resign(t, so, so.doc, mallory, func(c *config.Configuration) {
		c.Sequence = 40
		c.ConfigurationSigners = []string{mallory.NodeID().String()}
		c.KindSigners = []string{mallory.NodeID().String()}
		c.BadNodes = []string{peers[0].ID().String()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		doc  []byte
		want wire.ErrorCode
	}{
		{"forged document", forged, wire.ErrCodeForbidden},
		{"replayed document", so.doc, wire.ErrCodeConfigTooOld},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := (&wire.ConfigUpdateReq{Type: wire.ConfigUpdateConfig, ConfigData: tc.doc}).Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, victim := range peers {
				id := victim.ID()
				_, err := attacker.Engine().Request(ctx, []wire.Destination{wire.NodeDest(&id)}, wire.CodeConfigUpdateReq, body)
				var re *wire.RemoteError
				if !errors.As(err, &re) || re.Code != tc.want {
					t.Fatalf("ConfigUpdate to %v: %v, want %v", id, err, tc.want)
				}
			}
		})
	}
	if _, err := attacker.UpdateConfig(ctx, forged); !errors.Is(err, config.ErrNotSigner) {
		t.Errorf("UpdateConfig with the forged document: %v, want ErrNotSigner", err)
	}
	for i, nd := range c.nodes {
		if cfg, doc := nd.Configuration(); cfg.Sequence != 0 || string(doc) != string(so.doc) {
			t.Errorf("node %d holds sequence %d", i, cfg.Sequence)
		}
	}
	// The peers still route and answer: the first peer was not made a
	// bad node by the forged document.
	for _, a := range peers {
		id := peers[0].ID()
		if _, err := a.Ping(ctx, wire.NodeDest(&id)); err != nil {
			t.Fatalf("ping %v: %v", id, err)
		}
	}
}
