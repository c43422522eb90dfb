package sip

import (
	"context"
	"net"
	"time"

	"github.com/goreload/reload/wire"
)

// Overlay is what the SIP usage needs from the RELOAD node. The node layer
// implements it; this package never imports transport, forwarding or
// topology.
type Overlay interface {
	// LocalNodeID is this peer's Node-ID, the dictionary key of its
	// registrations and the terminal entry of their destination lists.
	LocalNodeID() wire.NodeID

	// Store stores values (dictionary entries of kind, here Kind) at
	// resource with the given lifetime. Signing, replica handling and
	// generation counters are done below; an error means the Store was
	// not accepted (e.g. Error_Forbidden from USER-NODE-MATCH, which
	// wire.ErrorCodeOf reads from the storing peer's *wire.RemoteError).
	Store(ctx context.Context, resource wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error

	// Fetch fetches every value of kind at resource (no dictionary keys
	// named, RFC 7904 §4.2 step 1). It must return only values that
	// passed the checks of RFC 6940 §7.4.2.2: a signature that verifies
	// with a trusted, unexpired certificate, by a signer the Kind's access
	// policy lets write there (USER-NODE-MATCH for SIP-REGISTRATION, RFC
	// 7904 §3.3), so that a peer on the path to an AOR cannot plant a
	// route to itself. A resource or Kind with no data is an empty result
	// with a nil error. Values whose lifetime has run out must not be
	// returned.
	Fetch(ctx context.Context, resource wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error)

	// AppAttach routes an AppAttach for Application-ID app (AppSIP or
	// AppSIPS) along dest, runs ICE and (D)TLS, and returns the
	// connection to the peer at the end of dest, whose certificate must
	// carry that Node-ID (RFC 7904 §5.1). The connection carries SIP as a
	// byte stream.
	AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error)
}

// Fetcher is the part of Overlay a Resolver uses.
type Fetcher interface {
	Fetch(ctx context.Context, resource wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error)
}
