package storage

import (
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// permitURIMatch decides URI-MATCH and URI-NODE-MATCH (RFC 7650 §9). Not implemented yet: every
// Store of such a Kind is refused with Error_Forbidden.
func permitURIMatch(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	return false
}
