package storagetest

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// Overlay is the overlay name of the test certificates.
const Overlay = "overlay.example.org"

// Now is the fixed "now" of the tests.
var Now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Test Kinds beside BaseKinds and SIP-REGISTRATION.
const (
	KindSmall    wire.KindID = 0xf0000001 // SINGLE, USER-MATCH, max-size 16
	KindList     wire.KindID = 0xf0000002 // ARRAY, USER-MATCH, max-count 3
	KindDict     wire.KindID = 0xf0000003 // DICTIONARY, USER-MATCH, max-count 3
	KindNodeDict wire.KindID = 0xf0000004 // DICTIONARY, NODE-MATCH
)

// Kinds is BaseKinds, SIP-REGISTRATION (dictionary, USER-NODE-MATCH,
// RFC 7904 §3.3) and the test Kinds above.
func Kinds(tb testing.TB) *storage.KindTable {
	tb.Helper()
	ks := append(storage.BaseKinds(),
		storage.Kind{ID: wire.KindSIPRegistration, Name: "SIP-REGISTRATION", Model: wire.ModelDictionary, Policy: storage.PolicyUserNodeMatch},
		storage.Kind{ID: KindSmall, Model: wire.ModelSingle, Policy: storage.PolicyUserMatch, MaxSize: 16},
		storage.Kind{ID: KindList, Model: wire.ModelArray, Policy: storage.PolicyUserMatch, MaxCount: 3},
		storage.Kind{ID: KindDict, Model: wire.ModelDictionary, Policy: storage.PolicyUserMatch, MaxCount: 3},
		storage.Kind{ID: KindNodeDict, Model: wire.ModelDictionary, Policy: storage.PolicyNodeMatch},
	)
	t, err := storage.NewKindTable(ks...)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// PKI is an enrollment CA for Overlay and the Trust built on it.
type PKI struct {
	CA    *security.CA
	Trust *security.Trust
}

var (
	pkiOnce = sync.OnceValues(newPKI)
	keyMu   sync.Mutex
)

func newPKI() (*PKI, error) {
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	ca, err := security.NewCA(key, "storage test CA", Now.Add(-24*time.Hour), Now.Add(365*24*time.Hour))
	if err != nil {
		return nil, err
	}
	tr, err := security.NewTrust(Overlay, [][]byte{ca.Cert.Raw})
	if err != nil {
		return nil, err
	}
	return &PKI{CA: ca, Trust: tr}, nil
}

// NewPKI returns the shared test PKI.
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	p, err := pkiOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Verifier is a new Verifier (empty cache) for the PKI.
func (p *PKI) Verifier() *security.Verifier { return security.NewVerifier(p.Trust, 0) }

// NodeID is a deterministic 16-byte Node-ID made of b.
func NodeID(b byte) wire.NodeID { return wire.MustNodeID(bytes.Repeat([]byte{b}, 16)) }

// Identity issues a certificate for user ("" for none) with the Node-IDs
// and returns an identity signing as the first one.
func (p *PKI) Identity(tb testing.TB, user string, ids ...wire.NodeID) *security.Identity {
	tb.Helper()
	return p.IdentityValid(tb, user, Now.Add(-time.Hour), Now.Add(24*time.Hour), ids...)
}

// IdentityValid is Identity with a validity period.
func (p *PKI) IdentityValid(tb testing.TB, user string, nb, na time.Time, ids ...wire.NodeID) *security.Identity {
	tb.Helper()
	keyMu.Lock()
	key, err := security.GenerateKey(security.KeyECDSAP256)
	keyMu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	der, err := p.CA.Issue(security.CertRequest{PublicKey: key.Public(), NodeIDs: ids, User: user, Overlay: Overlay, NotBefore: nb, NotAfter: na})
	if err != nil {
		tb.Fatal(err)
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// Requester is id as the verified signer of a request carrying its
// certificates.
func Requester(id *security.Identity) storage.Requester {
	return storage.Requester{Signer: security.Signer{NodeID: id.NodeID(), Cert: id.Cert}, Certificates: id.Certificates()}
}

// Signed is a StoredData holding v, stored at st (milliseconds) for
// lifetime seconds, signed by id for kind at res.
func Signed(tb testing.TB, id *security.Identity, res wire.ResourceID, kind wire.KindID, st uint64, lifetime uint32, v wire.StoredDataValue) wire.StoredData {
	tb.Helper()
	sd := wire.StoredData{StorageTime: st, Lifetime: lifetime, Value: v}
	if err := storage.Sign(id, res, kind, &sd); err != nil {
		tb.Fatal(err)
	}
	return sd
}

// Single, Array and Dict are existing values of each model.
func Single(v string) wire.StoredDataValue { return wire.SingleValue([]byte(v)) }

// Array is an array entry at index.
func Array(index uint32, v string) wire.StoredDataValue { return wire.ArrayValue(index, []byte(v)) }

// Dict is a dictionary entry.
func Dict(key []byte, v string) wire.StoredDataValue {
	return wire.StoredDataValue{Model: wire.ModelDictionary, Key: key, Value: wire.DataValue{Exists: true, Value: []byte(v)}}
}

// Req is a StoreReq of one Kind.
func Req(res wire.ResourceID, kind wire.KindID, gen uint64, values ...wire.StoredData) *wire.StoreReq {
	return &wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: kind, Generation: gen, Values: values}}}
}

// Ring is a Topology whose answers tests set.
type Ring struct {
	mu sync.Mutex
	// Owns decides Responsible; nil means responsible for everything.
	Owns func(wire.ResourceID) bool
	// Replicas is the ReplicaSet of every resource.
	Replicas []wire.NodeID
	// Senders are the nodes AcceptReplica accepts (for every resource).
	Senders []wire.NodeID
}

// Responsible implements storage.Topology.
func (r *Ring) Responsible(res wire.ResourceID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Owns == nil || r.Owns(res)
}

// ReplicaSet implements storage.Topology.
func (r *Ring) ReplicaSet(wire.ResourceID) []wire.NodeID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.Replicas)
}

// AcceptReplica implements storage.Topology.
func (r *Ring) AcceptReplica(_ wire.ResourceID, from wire.NodeID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.Senders, from)
}

// FakeVerifier accepts a StoredData signature whose value starts with
// "ok" and whose identity hash is a Node-ID: the signer is that Node-ID
// with a certificate for User and that Node-ID. Fuzzers use it to reach
// the rules behind signature checks.
type FakeVerifier struct{ User string }

// VerifyData implements storage.Verifier.
func (f FakeVerifier) VerifyData(_ []byte, _ uint32, _ uint64, _ []byte, sig *wire.Signature, _ []wire.GenericCertificate, _ security.Expect, _ time.Time) (security.Signer, error) {
	if !bytes.HasPrefix(sig.Value, []byte("ok")) || sig.Identity.Type != wire.IdentityCertHash {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: security.ErrBadSignature}
	}
	id, err := wire.NodeIDFromBytes(sig.Identity.Hash)
	if err != nil {
		return security.Signer{}, &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: security.ErrBadIdentity}
	}
	return security.Signer{NodeID: id, Cert: &security.NodeCert{NodeIDs: []wire.NodeID{id}, User: f.User, NotAfter: Now.Add(time.Hour)}}, nil
}

// AddCertificate implements storage.Verifier; it accepts nothing.
func (FakeVerifier) AddCertificate([][]byte, time.Time) (*security.NodeCert, error) {
	return nil, security.ErrUntrusted
}

// FakeSignature is the signature FakeVerifier accepts, naming id.
func FakeSignature(id wire.NodeID) wire.Signature {
	return wire.Signature{
		Algorithm: wire.SignatureAndHashAlgorithm{Hash: wire.HashSHA256, Signature: wire.SigECDSA},
		Identity:  wire.SignerIdentity{Type: wire.IdentityCertHash, HashAlg: wire.HashSHA256, Hash: slices.Clone(id.Bytes())},
		Value:     []byte("ok"),
	}
}

// Millis is t in milliseconds since the Unix epoch, as storage_time.
func Millis(t time.Time) uint64 { return uint64(t.UnixMilli()) }

// U32 is a big-endian uint32, for resource names.
func U32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
