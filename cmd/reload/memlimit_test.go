package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16MiB", 16 << 20, true},
		{"1.5GiB", 3 << 29, true},
		{"500MB", 500e6, true},
		{"20000000", 20e6, true},
		{"20000000B", 20e6, true},
		{" 8 MiB ", 8 << 20, true},
		{"4096KiB", 4 << 20, true},
		{"1KiB", 0, false}, // below the smallest limit
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"NaNMiB", 0, false},
		{"InfGiB", 0, false},
		{"1e30TiB", 0, false},
		{"12 apples", 0, false},
	} {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// --memory-limit sets the runtime's soft limit and undoes it; off lifts a
// GOMEMLIMIT; without the flag nothing changes.
func TestMemoryLimitFlag(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	var unset memoryLimit
	unset.apply()()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("without the flag the limit changed: %d, was %d", got, before)
	}
	for _, tc := range []struct {
		in   string
		want int64
	}{{"64MiB", 64 << 20}, {"off", math.MaxInt64}, {"OFF", math.MaxInt64}} {
		var m memoryLimit
		if err := m.Set(tc.in); err != nil {
			t.Fatalf("Set(%q): %v", tc.in, err)
		}
		restore := m.apply()
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("--memory-limit %s: runtime limit %d, want %d", tc.in, got, tc.want)
		}
		restore()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("--memory-limit %s: limit after restore %d, want %d", tc.in, got, before)
		}
	}
	var m memoryLimit
	if err := m.Set("a lot"); err == nil {
		t.Error("Set(\"a lot\") succeeded")
	}
}
