package mem_test

import (
	"testing"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/backendtest"
	"github.com/goreload/reload/storage/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) storage.Backend { return mem.New() })
}
