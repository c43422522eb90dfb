package conformance

import (
	"io"

	"github.com/goreload/reload/transport/capture"
)

// Capture writes what the tester sends and receives on its sockets as a
// pcap file (link type Ethernet), with synthetic Ethernet, IP and TCP or
// UDP headers around each payload: TLS records on TCP, DTLS datagrams on
// UDP, encrypted as on the wire. With the key log the tester writes
// alongside (Options.KeyLog), Wireshark decrypts them and, with "Decode
// As" RELOAD framing on the target's port, dissects the messages.
// It is safe for concurrent use.
type Capture = capture.Capture

// NewCapture writes the pcap file header to w and returns a Capture
// appending packets to it. Only the tester's end is wrapped, so it records
// both directions.
func NewCapture(w io.Writer) (*Capture, error) {
	return capture.New(w, capture.SentAndReceived)
}
