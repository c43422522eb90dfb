package coap

import (
	"context"
	"net"
	"time"

	"github.com/goreload/reload/wire"
)

// Kinds and the Application-ID of the CoAP usage (RFC 7650 §11).
const (
	KindRegistration = wire.KindCoAPRegistration
	KindCaching      = wire.KindCoAPCaching
	// AppCoAP is the Application-ID of AppAttach connections carrying
	// CoAP (§6); not registered by the RFC, see the package documentation.
	AppCoAP uint16 = 5683
)

// Overlay is what the CoAP usage needs from the RELOAD node. The node
// layer implements it.
type Overlay interface {
	// LocalNodeID is this node's Node-ID, the dictionary key of its
	// registrations and the Node_ID of its values.
	LocalNodeID() wire.NodeID

	// Store stores values of kind at resource with the given lifetime,
	// signed by this node. An error means the Store was not accepted
	// (e.g. Error_Forbidden from URI-NODE-MATCH, see wire.ErrorCodeOf).
	Store(ctx context.Context, resource wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error

	// Fetch fetches every value of kind at resource. It must return only
	// existing, unexpired values that passed the checks of RFC 6940
	// §7.4.2.2, including the Kind's access policy (URI-MATCH or
	// URI-NODE-MATCH), so that no node can plant a registration for a
	// URI its certificate does not hold.
	Fetch(ctx context.Context, resource wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error)

	// AppAttach routes an AppAttach for Application-ID app along dest and
	// returns the connection to the node at its end, secured with (D)TLS
	// and mutual certificate authentication (the application secures an
	// AppAttach connection itself, RFC 6940 §6.5.2), the peer's
	// certificate carrying that Node-ID. The node accepts the other end
	// the same way before calling Frontend.ServeConn.
	AppAttach(ctx context.Context, dest []wire.Destination, app uint16) (net.Conn, error)
}
