package security

import (
	"errors"
	"testing"
)

// A certificate removed from the cache is needed again (RFC 6940 §6.3.4):
// a message without it in its SecurityBlock asks for it to be fetched,
// and once added again it verifies.
func TestCertCacheRemove(t *testing.T) {
	v := NewVerifier(testTrust(t), 0)
	id := validIdentity(t, ecKeys()[1], 1)
	if _, err := v.AddCertificate(id.Chain, testNow); err != nil {
		t.Fatal(err)
	}
	m := pingMessage(t, id, randomNodeID(t))
	m.Security.Certificates = nil
	want := Expect{NodeID: id.NodeID()}
	if _, err := v.Verify(m, want, testNow); err != nil {
		t.Fatalf("cached: %v", err)
	}
	if !v.Cache().Remove(id.Chain[0]) || v.Cache().Len() != 0 {
		t.Fatalf("Remove: len %d", v.Cache().Len())
	}
	if v.Cache().Remove(id.Chain[0]) {
		t.Fatal("removed twice")
	}
	var need *CertificateNeededError
	if _, err := v.Verify(m, want, testNow); !errors.As(err, &need) || need.NodeID != id.NodeID() || need.Kind != KindCertificateByNode {
		t.Fatalf("after Remove: %v, want a CertificateNeededError for CERTIFICATE_BY_NODE %v", err, id.NodeID())
	}
	sid := id.SignerIdentity()
	if _, _, ok := v.Cache().Lookup(&sid); ok {
		t.Fatal("lookup after Remove")
	}
	if _, err := v.AddCertificate(id.Chain, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(m, want, testNow); err != nil {
		t.Fatalf("added again: %v", err)
	}
}
