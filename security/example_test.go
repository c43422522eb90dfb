package security_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// Create an enrollment CA and a node identity, sign a message as the node
// and verify it as any other node of the overlay does (RFC 6940 §6.3.4,
// §11.3).
func Example() {
	const overlay = "overlay.example.org"
	now := time.Now()

	// The overlay's enrollment CA.
	caKey, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		fmt.Println(err)
		return
	}
	ca, err := security.NewCA(caKey, overlay+" CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}

	// A node certificate: the Node-ID and user name go into the
	// subjectAltName (reload:// URI and rfc822Name).
	key, err := security.GenerateKey(security.KeyECDSAP256)
	if err != nil {
		fmt.Println(err)
		return
	}
	nodeID := wire.MustNodeID([]byte{0x5e, 0xed, 15: 1})
	der, err := ca.Issue(security.CertRequest{
		PublicKey: key.Public(), NodeIDs: []wire.NodeID{nodeID}, User: "alice@" + overlay, Overlay: overlay,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := security.NewIdentity(key, [][]byte{der})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("identity", id.NodeID(), id.Cert.User)

	// Sign: overlay hash, transaction id and the encoded MessageContents.
	contents, _ := (&wire.MessageContents{Code: wire.CodePingReq, Body: []byte{0, 0}}).Append(nil)
	var sb wire.SecurityBlock
	if err := id.SignMessage(&sb, wire.OverlayHash(overlay), 42, contents); err != nil {
		fmt.Println(err)
		return
	}

	// Verify with the overlay's trust: its name and root certificates.
	trust, err := security.NewTrust(overlay, [][]byte{ca.Cert.Raw})
	if err != nil {
		fmt.Println(err)
		return
	}
	v := security.NewVerifier(trust, 0)
	signer, err := v.VerifyMessage(wire.OverlayHash(overlay), 42, contents, &sb, security.Expect{}, now)
	fmt.Println("verified:", signer, err)

	// Any change to the signed bytes fails with Error_Forbidden.
	_, err = v.VerifyMessage(wire.OverlayHash(overlay), 43, contents, &sb, security.Expect{}, now)
	var pe *wire.ProtocolError
	fmt.Println("tampered:", errors.Is(err, security.ErrBadSignature), errors.As(err, &pe) && pe.Code == wire.ErrCodeForbidden)
	// Output:
	// identity 5eed0000000000000000000000000001 alice@overlay.example.org
	// verified: 5eed0000000000000000000000000001 (alice@overlay.example.org) <nil>
	// tampered: true true
}
