package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/node"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// KindPresence is the Kind-ID of PRESENCE, from the private-use range.
const KindPresence wire.KindID = 0xF0000001

// presenceKind is the kind element of the configuration (RFC 6940 §11.1):
// an id attribute (private kinds have no IANA name), data model, access
// control and the two limits every kind element must carry.
var presenceKind = config.Kind{
	ID:            uint32(KindPresence),
	DataModel:     config.DataModelDictionary,
	AccessControl: config.AccessUserNodeMatch,
	MaxCount:      8,
	MaxSize:       256,
}

// Presence is the value stored for one device.
type Presence struct {
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

const overlayName = "presence.example.org"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customkind:", err)
		os.Exit(1)
	}
}

// overlay is what an overlay operator makes: the CA that enrols nodes and
// the signed configuration document.
type overlay struct {
	ca  *security.CA
	doc []byte
}

// newOverlay creates the CA, the configuration signer and the signed
// configuration document with PRESENCE in its required-kinds.
func newOverlay(now time.Time) (*overlay, error) {
	caKey, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	ca, err := security.NewCA(caKey, overlayName+" enrollment CA", now.Add(-time.Hour), now.AddDate(0, 0, 30))
	if err != nil {
		return nil, err
	}
	o := &overlay{ca: ca}
	signer, err := o.enrol("admin", now)
	if err != nil {
		return nil, err
	}

	c := config.New(overlayName)
	c.RootCerts = [][]byte{ca.Cert.Raw}
	c.Expiration = now.AddDate(0, 0, 30).UTC().Truncate(time.Second)
	c.ConfigurationSigners = []string{signer.NodeID().String()}
	c.KindSigners = []string{signer.NodeID().String()}
	c.RequiredKinds = append(config.StandardKinds(), config.KindBlock{Kind: presenceKind})
	d := &config.Document{Configurations: []*config.Configuration{c}}
	// Each kind-block carries a kind-signature by a kind signer (§11.1);
	// the configuration is signed last, since the kinds are inside it.
	for i := range c.RequiredKinds {
		if err := d.SignKind(c, &c.RequiredKinds[i], signer, ""); err != nil {
			return nil, err
		}
	}
	if err := d.Sign(c, signer, ""); err != nil {
		return nil, err
	}
	if o.doc, err = d.Marshal(); err != nil {
		return nil, err
	}
	return o, nil
}

// enrol issues a node certificate for user@overlay with a random Node-ID,
// as an enrollment server does (§11.3).
func (o *overlay) enrol(user string, now time.Time) (*security.Identity, error) {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	var b [wire.DefaultNodeIDLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id, err := wire.NodeIDFromBytes(b[:])
	if err != nil {
		return nil, err
	}
	der, err := o.ca.Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: []wire.NodeID{id}, User: user + "@" + overlayName, Overlay: overlayName,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 7),
	})
	if err != nil {
		return nil, err
	}
	return security.NewIdentity(key, [][]byte{der})
}

// loadConfig is what a node does with a configuration document it fetched:
// parse it, check the configuration's signature and every kind-signature,
// and find the kinds it defines.
func loadConfig(doc []byte, now time.Time, out io.Writer) (*config.Configuration, error) {
	d, err := config.Parse(doc)
	if err != nil {
		return nil, err
	}
	c := d.Configuration(overlayName)
	if c == nil {
		return nil, errors.New("no configuration for " + overlayName)
	}
	if _, err := c.VerifySignature(nil, now); err != nil {
		return nil, fmt.Errorf("configuration signature: %w", err)
	}
	kinds, err := c.VerifiedKinds(now)
	if err != nil {
		return nil, err
	}
	info, ok := kinds.Lookup(uint32(KindPresence))
	if !ok {
		return nil, errors.New("the configuration lacks PRESENCE")
	}
	fmt.Fprintf(out, "configuration of %s: %d bytes, signed; %d kinds\n", c.InstanceName, len(doc), kinds.Len())
	fmt.Fprintf(out, "  PRESENCE: kind-id 0x%08X, %s, %s, max-count %d, max-size %d, kind-signature by %s\n",
		info.ID, info.DataModel, info.AccessControl, info.MaxCount, info.MaxSize, info.Signer)
	if i := strings.Index(string(doc), `<kind id="`); i >= 0 {
		el := string(doc[i:])
		if j := strings.Index(el, "</kind>"); j >= 0 {
			for _, line := range strings.Split(el[:j+len("</kind>")], "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "<kind") && !strings.HasPrefix(line, "</kind") {
					line = "  " + line
				}
				fmt.Fprintf(out, "    %s\n", line)
			}
		}
	}
	return c, nil
}

// run makes the overlay, starts two peers and uses PRESENCE through them.
func run(ctx context.Context, out io.Writer) error {
	now := time.Now()
	ov, err := newOverlay(now)
	if err != nil {
		return err
	}
	conf, err := loadConfig(ov.doc, now, out)
	if err != nil {
		return err
	}

	// alice's peer starts the ring; bob's joins through it.
	var peers []*node.Node
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	for _, user := range []string{"alice", "bob"} {
		id, err := ov.enrol(user, now)
		if err != nil {
			return err
		}
		cfg := node.Config{Overlay: conf, ConfigDocument: ov.doc, Identity: id, ListenTLS: "127.0.0.1:0"}
		if len(peers) == 0 {
			cfg.Seed = true
		} else {
			cfg.Bootstrap = []string{peers[0].Addr()}
		}
		p, err := node.New(cfg)
		if err != nil {
			return err
		}
		peers = append(peers, p)
		if err := p.Start(ctx); err != nil {
			return err
		}
		select {
		case <-p.Joined():
		case <-ctx.Done():
			return fmt.Errorf("%s's peer did not join: %w", user, ctx.Err())
		}
		fmt.Fprintf(out, "%s's peer %s joined, links on %s\n", user, p.ID(), p.Addr())
	}
	alice, bob := peers[0], peers[1]

	// 1. alice stores her presence: at the Resource-ID of her user name,
	// under her Node-ID (USER-NODE-MATCH).
	res := wire.ResourceIDFromName("alice@" + overlayName)
	aliceID := alice.ID()
	v, _ := json.Marshal(Presence{Status: "available", Note: "at my desk"})
	sa, err := alice.Store(ctx, res, KindPresence, []wire.StoredDataValue{wire.DictionaryValue(aliceID.Bytes(), v)}, time.Hour)
	if err != nil {
		return fmt.Errorf("alice stores her presence: %w", err)
	}
	for _, kr := range sa.KindResponses {
		fmt.Fprintf(out, "1. alice stored %s at %s: generation %d, replicas %v\n", v, res, kr.Generation, kr.Replicas)
	}

	// 2. bob fetches every device's presence of alice.
	fa, err := bob.FetchAll(ctx, res, KindPresence)
	if err != nil {
		return fmt.Errorf("bob fetches alice's presence: %w", err)
	}
	for _, kr := range fa.KindResponses {
		for _, sd := range kr.Values {
			var p Presence
			if err := json.Unmarshal(sd.Value.Value.Value, &p); err != nil {
				return fmt.Errorf("alice's presence: %w", err)
			}
			fmt.Fprintf(out, "2. bob fetched alice's presence: device %x is %s (%s)\n", []byte(sd.Value.Key), p.Status, p.Note)
		}
	}

	// 3. bob may not write under alice's name.
	bobID := bob.ID()
	fake, _ := json.Marshal(Presence{Status: "away"})
	_, err = bob.Store(ctx, res, KindPresence, []wire.StoredDataValue{wire.DictionaryValue(bobID.Bytes(), fake)}, time.Hour)
	// The storing peer's refusal is its error answer, a *wire.RemoteError.
	var re *wire.RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeForbidden {
		return fmt.Errorf("bob's store under alice's name: got %v, want Error_Forbidden", err)
	}
	fmt.Fprintf(out, "3. bob's store under alice's name was refused: %v\n", re.Code)

	// 4. max-size bounds each value.
	big, _ := json.Marshal(Presence{Status: "available", Note: strings.Repeat("x", 300)})
	_, err = alice.Store(ctx, res, KindPresence, []wire.StoredDataValue{wire.DictionaryValue(aliceID.Bytes(), big)}, time.Hour)
	if !errors.As(err, &re) || re.Code != wire.ErrCodeDataTooLarge {
		return fmt.Errorf("a %d-byte presence: got %v, want Error_Data_Too_Large", len(big), err)
	}
	fmt.Fprintf(out, "4. a %d-byte presence was refused: %v (max-size %d)\n", len(big), re.Code, presenceKind.MaxSize)

	// 5. bob pings alice's peer through the overlay.
	pr, err := bob.Ping(ctx, wire.NodeDest(&aliceID))
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	fmt.Fprintf(out, "5. bob pinged alice's peer: answer from %s, %d hops\n", pr.From, pr.Hops)
	return nil
}
