package storage

import (
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// permitUserChainACL decides USER-CHAIN-ACL (RFC 8076 §6.3). Not implemented yet: every
// Store of such a Kind is refused with Error_Forbidden.
func permitUserChainACL(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	return false
}
