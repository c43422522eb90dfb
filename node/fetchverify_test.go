package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// forgingFetch makes a node a malicious responsible peer: it answers
// every Fetch with the real values it stores plus what forge adds (with
// the certificates forge returns in the SecurityBlock). The answer is
// signed by the node itself, as a real enrolled member would sign it.
func forgingFetch(n *Node, forge func(req *wire.FetchReq, ans *wire.FetchAns) []wire.GenericCertificate) forwarding.Handler {
	return func(ctx context.Context, in *forwarding.Incoming) ([]byte, error) {
		req := wire.FetchReq{Models: n.kinds}
		if _, err := req.Decode(in.Body); err != nil {
			return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: err}
		}
		ans, certs, err := n.store.HandleFetchCerts(&req, time.Now())
		if err != nil {
			return nil, err
		}
		in.ReplyCertificates = append(certs, forge(&req, &ans)...)
		return ans.Append(nil)
	}
}

// RFC 6940 §7.4.2.2: "Upon receipt of a FetchAns message, nodes MUST
// verify the signatures on all the received values. Any values with
// invalid signatures (including expired certificates) MUST be
// discarded." An enrolled member that is responsible for a victim's AOR
// answers Fetches of its SIP registrations with forged routes to itself;
// the fetching node, and the SIP usage on it, must see only the victim's
// real registration, be told the answer was partial, count and log the
// discards with the responder's Node-ID.
func TestFetchDiscardsForgedValues(t *testing.T) {
	logs := &lockedBuffer{}
	c := startCluster(t, 3, func(i int, cfg *Config) {
		if i == 0 {
			cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
	})
	c.waitConverged(t, 30*time.Second)
	fetcher, attacker := c.nodes[0], c.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A victim user whose AOR the attacker is responsible for. The
	// victim runs as a client, so that it takes no part of the ring.
	var victimUser string
	for i := 0; ; i++ {
		u := fmt.Sprintf("victim%d", i)
		var mine bool
		attacker.onLoop(func() { mine = attacker.ch.Responsible(wire.ResourceIDFromName(u + "@" + c.ov.Name)) })
		if mine {
			victimUser = u
			break
		}
	}
	vid, err := c.ov.Identity(victimUser)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := New(Config{Overlay: c.ov.Config, Identity: vid, Client: true, TickLength: 50 * time.Millisecond,
		Bootstrap: []string{c.nodes[1].Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	if err := victim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-victim.Joined()
	aor := victimUser + "@" + c.ov.Name
	res := wire.ResourceIDFromName(aor)
	victimID := victim.ID()
	route := "sip:" + victimUser + "@127.0.0.1:5070"
	if _, err := victim.Store(ctx, res, wire.KindSIPRegistration, []wire.StoredDataValue{wire.DictionaryValue(victimID.Bytes(), []byte(route))}, time.Hour); err != nil {
		t.Fatalf("victim's registration: %v", err)
	}

	// An identity of the victim's user name whose certificate has
	// expired: a value it signed verifies, but §7.4.2.2 counts an expired
	// certificate as an invalid signature.
	expired := expiredIdentity(t, c, victimUser)
	attackerID := attacker.ID()
	rogue := []byte("sip:" + victimUser + "@127.0.0.66:5060")

	attacker.Handle(wire.CodeFetchReq, forgingFetch(attacker, func(req *wire.FetchReq, ans *wire.FetchAns) []wire.GenericCertificate {
		kr := &ans.KindResponses[0]
		if kr.Kind != wire.KindSIPRegistration || len(kr.Values) != 1 {
			return nil
		}
		real := kr.Values[0]
		now := uint64(time.Now().UnixMilli())

		// 1. The victim's key and identity, random signature bytes.
		randomSig := real.Clone()
		randomSig.Value.Value.Value = rogue
		randomSig.StorageTime = now
		randomSig.Signature.Value = make([]byte, len(real.Signature.Value))
		_, _ = rand.Read(randomSig.Signature.Value)
		// 2. The victim's real signature over another route.
		moved := real.Clone()
		moved.Value.Value.Value = rogue
		// 3. Signed by the attacker, under the victim's key and under
		// its own (the USER-NODE-MATCH policy refuses both: the AOR is
		// not the attacker's user name).
		own := wire.StoredData{StorageTime: now + 1, Lifetime: 3600, Value: wire.DictionaryValue(bytes.Clone(victimID.Bytes()), rogue)}
		if err := storage.Sign(attacker.cfg.Identity, res, wire.KindSIPRegistration, &own); err != nil {
			panic(err)
		}
		ownKey := wire.StoredData{StorageTime: now, Lifetime: 3600, Value: wire.DictionaryValue(attackerID.Bytes(), rogue)}
		if err := storage.Sign(attacker.cfg.Identity, res, wire.KindSIPRegistration, &ownKey); err != nil {
			panic(err)
		}
		// 4. The synthetic (empty) signature on a value that claims to
		// exist.
		synthetic := storage.Synthetic(wire.ModelDictionary, 0, expiredNodeID(expired))
		synthetic.Value.Value = wire.DataValue{Exists: true, Value: rogue}
		// 5. A valid signature of the victim's user whose certificate
		// has expired.
		exp := wire.StoredData{StorageTime: now, Lifetime: 3600, Value: wire.DictionaryValue(expiredNodeID(expired), rogue)}
		if err := storage.Sign(expired, res, wire.KindSIPRegistration, &exp); err != nil {
			panic(err)
		}
		kr.Values = append(kr.Values, randomSig, moved, own, ownKey, synthetic, exp)
		return expired.Certificates()
	}))

	fa, err := fetcher.FetchAll(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if fa.From != attackerID {
		t.Fatalf("answered by %s, want the attacker %s", fa.From, attackerID)
	}
	if len(fa.KindResponses) != 1 || len(fa.KindResponses[0].Values) != 1 ||
		string(fa.KindResponses[0].Values[0].Value.Value.Value) != route {
		t.Fatalf("fetched values %+v, want only the victim's own", fa.KindResponses)
	}
	if !fa.Partial() || len(fa.Discarded) != 6 {
		t.Fatalf("discarded %v, want 6 values", fa.Discarded)
	}
	reasons := map[string]error{"random signature": security.ErrBadSignature, "moved value": security.ErrBadSignature, "expired certificate": security.ErrCertExpired}
	for what, want := range reasons {
		found := false
		for _, d := range fa.Discarded {
			if errors.Is(d.Err, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no discard with %v among %v", what, want, fa.Discarded)
		}
	}
	for _, d := range fa.Discarded {
		if !errors.Is(d.Err, storage.ErrFetchedValue) {
			t.Errorf("discard %v does not wrap ErrFetchedValue", d)
		}
	}
	if got := fetcher.met.fetchDiscarded.Load(); got != 6 {
		t.Errorf("reload_fetched_values_discarded_total = %d, want 6", got)
	}
	if l := logs.String(); !strings.Contains(l, "fetched value discarded") || !strings.Contains(l, attackerID.String()) {
		t.Errorf("discards not logged with the responder's Node-ID:\n%s", l)
	}

	// The SIP usage sees the victim's route only (RFC 7904 §5: a call
	// for the AOR goes to the routes its registrations name).
	sd, err := sipOverlay{fetcher}.Fetch(ctx, res, wire.KindSIPRegistration)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range sd {
		if bytes.Equal(v.Value.Value.Value, rogue) {
			t.Fatalf("the SIP usage was given the forged route %q", rogue)
		}
	}
	if len(sd) != 1 {
		t.Fatalf("SIP usage got %d registrations, want the victim's one", len(sd))
	}
}

// expiredIdentity enrols user with a certificate that expired an hour ago.
func expiredIdentity(t *testing.T, c *cluster, user string) *security.Identity {
	t.Helper()
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	var b [wire.DefaultNodeIDLen]byte
	_, _ = rand.Read(b[:])
	nid, err := wire.NodeIDFromBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	der, err := c.ov.CA.Issue(security.CertRequest{PublicKey: key.Public(), NodeIDs: []wire.NodeID{nid},
		User: user + "@" + c.ov.Name, Overlay: c.ov.Name, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func expiredNodeID(id *security.Identity) []byte {
	n := id.NodeID()
	return bytes.Clone(n.Bytes())
}
