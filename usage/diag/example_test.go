package diag_test

import (
	"fmt"

	"github.com/goreload/reload/usage/diag"
)

// Diagnostic kinds (RFC 7851 §5.3) by name or number, as `reload ping
// --diag` takes them.
func ExampleParseKinds() {
	kinds, err := diag.ParseKinds("software_version, app_uptime,0x9")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range kinds {
		fmt.Printf("0x%04x %s\n", uint16(k), diag.KindName(k))
	}
	_, err = diag.ParseKinds("no_such_kind")
	fmt.Println(err != nil)
	// Output:
	// 0x0006 SOFTWARE_VERSION
	// 0x0008 APP_UPTIME
	// 0x0009 MEMORY_FOOTPRINT
	// true
}
