package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// waitCached polls until the bootstrap cache file in dir lists a peer.
func waitCached(t *testing.T, dir string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := loadBootCache(dir)
		if err != nil {
			t.Fatal(err)
		}
		if a := c.addrs(); len(a) > 0 {
			return a
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no peer in the bootstrap cache")
	return nil
}

// A node keeps the peers it dialled in DataDir (RFC 6940 §11.4) and,
// restarted, joins through them when its configured bootstrap node is
// gone; restarted as a seed with that cache, it joins the overlay it was
// part of instead of founding a second ring.
func TestBootstrapCache_Sec11_4(t *testing.T) {
	dir := t.TempDir()
	c := startCluster(t, 4, func(i int, cfg *Config) {
		if i == 3 {
			cfg.DataDir = dir
		}
	})
	c.waitConverged(t, 30*time.Second)
	waitCached(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	restart := func(i int, mod func(*Config)) {
		t.Helper()
		old := c.nodes[i]
		cfg := old.cfg
		cfg.ListenTLS = ""
		mod(&cfg)
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		nd, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = nd
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-nd.Joined():
		case <-ctx.Done():
			t.Fatalf("node %d did not join after its restart", i)
		}
	}
	// Node 3's configured bootstrap node now has nobody listening.
	dead := freeAddr(t, "tcp")
	restart(3, func(cfg *Config) { cfg.Bootstrap = []string{dead} })
	c.waitConverged(t, 30*time.Second)
	// Restarted as a seed, it joins the three others through its cache
	// instead of founding a ring of its own.
	restart(3, func(cfg *Config) { cfg.Seed, cfg.Bootstrap = true, nil })
	c.waitConverged(t, 30*time.Second)
}

// A cache file that cannot be parsed is reported and ignored.
func TestBootstrapCacheCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bootCacheFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadBootCache(dir)
	if err == nil {
		t.Fatal("no error for a corrupt cache file")
	}
	if len(c.addrs()) != 0 {
		t.Fatalf("corrupt cache gave %v", c.addrs())
	}
	for i := range 2 * maxBootCache {
		if err := c.note(fmt.Sprintf("127.0.0.1:%d", 1000+i), wire.NodeID{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.addrs()); n != maxBootCache {
		t.Fatalf("%d cached, want at most %d", n, maxBootCache)
	}
}
