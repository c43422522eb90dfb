package nodetest

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Overlay is a CA and a configuration for one overlay.
type Overlay struct {
	Name   string
	CA     *security.CA
	Config *config.Configuration
	Now    time.Time
	// KeyAlgorithm is the key algorithm of the identities Identity and
	// Identities make: ECDSA P-256 (the zero value) or, for example,
	// security.KeyEd25519. The CA stays ECDSA.
	KeyAlgorithm security.KeyAlgorithm
}

// NewOverlay creates an overlay named name with a fresh ECDSA CA whose
// root is in the configuration. mutate, when not nil, may change the
// configuration before use.
func NewOverlay(name string, mutate func(*config.Configuration)) (*Overlay, error) {
	now := time.Now()
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	ca, err := security.NewCA(key, name+" test CA", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	if err != nil {
		return nil, err
	}
	c := config.New(name)
	c.RootCerts = [][]byte{ca.Cert.Raw}
	c.ClientsPermitted = true
	c.RequiredKinds = config.StandardKinds()
	// Stabilise every 5 s instead of every 10 minutes (RFC 6940 §10.7.4.3
	// leaves chord-update-interval to the overlay), so that tests see a
	// ring repaired after lost Updates within seconds.
	c.ChordUpdateInterval = 5 * time.Second
	if mutate != nil {
		mutate(c)
	}
	return &Overlay{Name: name, CA: ca, Config: c, Now: now}, nil
}

// Identity enrols a node with a random Node-ID and the user name user,
// with a key of o.KeyAlgorithm.
func (o *Overlay) Identity(user string) (*security.Identity, error) {
	return o.IdentityWith(user, o.KeyAlgorithm)
}

// IdentityWith is Identity with a key of algorithm alg.
func (o *Overlay) IdentityWith(user string, alg security.KeyAlgorithm) (*security.Identity, error) {
	return o.enrol(user, alg, 1)
}

// IdentityWithNodeIDs is Identity with a certificate that carries n
// random Node-IDs (RFC 6940 §11.3: an enrollment server may hand out
// several); the identity signs as the first.
func (o *Overlay) IdentityWithNodeIDs(user string, n int) (*security.Identity, error) {
	return o.enrol(user, o.KeyAlgorithm, n)
}

func (o *Overlay) enrol(user string, alg security.KeyAlgorithm, n int) (*security.Identity, error) {
	key, err := security.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	ids := make([]wire.NodeID, n)
	for i := range ids {
		var b [wire.DefaultNodeIDLen]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if ids[i], err = wire.NodeIDFromBytes(b[:]); err != nil {
			return nil, err
		}
	}
	der, err := o.CA.Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: ids, User: user + "@" + o.Name, Overlay: o.Name,
		NotBefore: o.Now.Add(-time.Hour), NotAfter: o.Now.Add(7 * 24 * time.Hour),
	})
	if err != nil {
		return nil, err
	}
	return security.NewIdentity(key, [][]byte{der})
}

// Identities enrols n nodes named node1..nodeN.
func (o *Overlay) Identities(n int) ([]*security.Identity, error) {
	out := make([]*security.Identity, n)
	for i := range out {
		id, err := o.Identity(fmt.Sprintf("node%d", i+1))
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}
