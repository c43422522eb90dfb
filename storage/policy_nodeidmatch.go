package storage

import (
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// permitNodeIDMatch decides NODE-ID-MATCH (RFC 7374 §5). Not implemented yet: every
// Store of such a Kind is refused with Error_Forbidden.
func permitNodeIDMatch(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	return false
}
