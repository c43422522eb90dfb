package sip

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that front ends leave no goroutine behind once closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
