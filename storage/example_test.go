package storage_test

import (
	"fmt"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// A Kind table is a value built from the overlay configuration
// (KindTableFromConfig) or by hand, as here: the Kinds of RFC 6940 itself
// and one private Kind (RFC 6940 §7.4.5, a Kind-ID from the private-use
// range of §14.6).
func ExampleNewKindTable() {
	presence := storage.Kind{
		ID: 0xF0000001, Model: wire.ModelDictionary, Policy: storage.PolicyUserNodeMatch,
		MaxCount: 8, MaxSize: 256,
	}
	kinds, err := storage.NewKindTable(append(storage.BaseKinds(), presence)...)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range kinds.IDs() {
		k, _ := kinds.Lookup(id)
		fmt.Printf("%-10s %-19s %-10v %v\n", fmt.Sprintf("0x%x", uint32(k.ID)), k.Name, k.Model, k.Policy)
	}
	// The policies' Resource-IDs: USER-MATCH and USER-NODE-MATCH store
	// under the hash of the signer's user name (§7.3.1, §7.3.3).
	fmt.Println(storage.UserResourceID(storage.ChordHash, "alice@overlay.example.org"))
	// Output:
	// 0x2        TURN-SERVICE        SINGLE     NODE-MULTIPLE
	// 0x3        CERTIFICATE_BY_NODE ARRAY      NODE-MATCH
	// 0x10       CERTIFICATE_BY_USER ARRAY      USER-MATCH
	// 0xf0000001                     DICTIONARY USER-NODE-MATCH
	// 6df379fb05075b13ada5f9d9ae9fbaa0
}
