package config

import (
	"errors"
	"fmt"
)

// ConfigUpdateReserve is the room a ConfigUpdate request (RFC 6940
// §6.5.4) takes besides the configuration document it carries: a
// forwarding header (§6.3.2) with 64 Node-IDs of 16 bytes in its
// destination and via lists (38 + 64·18 = 1,190 bytes), the framing of
// the message contents and of ConfigUpdateReq (18 bytes), and a security
// block (§6.3.4) with a 2 KiB certificate and a 512-byte signature
// (2,606 bytes): 3,814 bytes, rounded up to 4 KiB.
const ConfigUpdateReserve = 4096

// ErrDocumentTooLarge reports a configuration document that a
// ConfigUpdate cannot carry within max-message-size.
var ErrDocumentTooLarge = errors.New("config: configuration document too large for max-message-size")

// CheckUpdateSize reports whether a ConfigUpdate carrying a document of
// docLen bytes fits c's max-message-size (0 is taken as no limit, as the
// links do): it must hold the document plus ConfigUpdateReserve. Every
// message is bounded by max-message-size (§11.1, §6.6), the ConfigUpdate
// that pushes a new configuration to the overlay included; a document
// that fails this check can be handed to nodes only out of band.
func (c *Configuration) CheckUpdateSize(docLen int) error {
	if c.MaxMessageSize == 0 {
		return nil
	}
	if need := docLen + ConfigUpdateReserve; int64(need) > int64(c.MaxMessageSize) {
		return fmt.Errorf("%w: a ConfigUpdate carrying this %d-byte document needs up to %d bytes, max-message-size is %d",
			ErrDocumentTooLarge, docLen, need, c.MaxMessageSize)
	}
	return nil
}
