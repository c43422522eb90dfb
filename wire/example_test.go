package wire_test

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/goreload/reload/wire"
)

// pingRequest builds an unsigned Ping request from a node to a Node-ID,
// as in RFC 6940 §6.3.2 and §6.5.3.
func pingRequest() ([]byte, error) {
	to := wire.MustNodeID([]byte{0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	body, err := (&wire.PingReq{}).Append(nil)
	if err != nil {
		return nil, err
	}
	m := wire.Message{
		Header: wire.ForwardingHeader{
			Overlay:       wire.OverlayHash("overlay.example.org"),
			Version:       wire.Version10,
			TTL:           wire.DefaultTTL,
			Fragment:      wire.FragmentUnfragmed,
			TransactionID: 0x0102030405060708,
			Destinations:  []wire.Destination{wire.NodeDest(&to)},
		},
		Contents: wire.MessageContents{Code: wire.CodePingReq, Body: body},
		// Unsigned, for the example: signer identity "none" (§6.3.4). A
		// node signs with security.Identity.SignMessage instead.
		Security: wire.SecurityBlock{Signature: wire.Signature{Identity: wire.SignerIdentity{Type: wire.IdentityNone}}},
	}
	// Append fills in the length field.
	return m.Append(nil)
}

// Build a message: fill in a Message and Append it.
func ExampleMessage_Append() {
	b, err := pingRequest()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(b), "bytes")
	// relo_token, overlay hash, configuration sequence, version, TTL, ...
	fmt.Println(hex.EncodeToString(b[:12]), "...")
	// Output:
	// 77 bytes
	// d2454c4f9aa32b8d00000a64 ...
}

// Decode a message from bytes, then its body by message code.
func ExampleMessage_Decode() {
	b, err := pingRequest()
	if err != nil {
		fmt.Println(err)
		return
	}
	var m wire.Message
	if _, err := m.Decode(b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Contents.Code, "to", m.Header.Destinations[0], "ttl", m.Header.TTL)
	body, ok := wire.NewBody(m.Contents.Code, wire.DefaultNodeIDLen)
	if !ok {
		fmt.Println("no body type for", m.Contents.Code)
		return
	}
	if _, err := body.Decode(m.Contents.Body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T\n", body)
	// Output:
	// ping_req to node:0a0b0c0d000000000000000000000001 ttl 100
	// *wire.PingReq
}

// A malformed message gives a *wire.DecodeError naming the field and the
// byte offset, wrapping one of the sentinel errors.
func ExampleDecodeError() {
	b, _ := pingRequest()
	var m wire.Message
	_, err := m.Decode(b[:50])
	fmt.Println(err)
	fmt.Println(errors.Is(err, wire.ErrTruncated))
	// Output:
	// wire: ForwardingHeader.destination_list at byte 38: truncated
	// true
}
