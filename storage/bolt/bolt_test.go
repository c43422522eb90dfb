package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/storage/backendtest"
	"github.com/goreload/reload/storage/bolt"
)

func open(t *testing.T, path string) *bolt.Backend {
	t.Helper()
	b, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}
