package conformance

import (
	"testing"

	"go.uber.org/goleak"
)

// Every connection, listener and engine a test starts is gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
