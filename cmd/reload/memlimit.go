package main

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit is the value of reload node's --memory-limit: a soft limit
// on the memory the Go runtime holds (heap, goroutine stacks, the
// runtime's own data; not the binary's pages, which every process of the
// binary shares), set with debug.SetMemoryLimit, as the GOMEMLIMIT
// environment variable does. Near the limit the collector runs more
// often, trading CPU for memory; it is soft, so a node whose live data
// needs more still works (the runtime caps the collector's share of the
// CPU instead of failing).
type memoryLimit struct {
	bytes int64
	set   bool
}

const memoryLimitHelp = "a soft limit of `SIZE` on the memory the Go runtime of this node holds (heap and goroutine stacks, not the binary's shared pages), " +
	"for example 16MiB or 1GiB (units B, KiB, MiB, GiB; KB, MB, GB are powers of 1000), or off: near it the garbage collector runs more often, trading CPU for memory, " +
	"which suits many small nodes on one host; a node whose stored data needs more keeps working, the collector then taking at most about half the CPU " +
	"(default: the GOMEMLIMIT environment variable, or no limit)"

func (m *memoryLimit) String() string {
	switch {
	case m == nil || !m.set:
		return ""
	case m.bytes == math.MaxInt64:
		return "off"
	}
	return strconv.FormatInt(m.bytes, 10) + "B"
}

func (m *memoryLimit) Set(s string) error {
	if strings.EqualFold(s, "off") {
		m.bytes, m.set = math.MaxInt64, true
		return nil
	}
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	m.bytes, m.set = v, true
	return nil
}

// apply sets the limit when the flag was given and returns what undoes
// it (for a node run inside a longer-lived process, such as a test).
func (m *memoryLimit) apply() (restore func()) {
	if !m.set {
		return func() {}
	}
	prev := debug.SetMemoryLimit(m.bytes)
	return func() { debug.SetMemoryLimit(prev) }
}

// minMemoryLimit is the smallest limit accepted: below it the collector
// would run all the time for the runtime's own few MiB.
const minMemoryLimit = 4 << 20

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so that "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseByteSize reads a size such as 16MiB, 1.5GiB, 500MB or 20000000
// (bytes), as GOMEMLIMIT writes them.
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	if num == "" {
		return 0, fmt.Errorf("size %q: want a number with a unit such as 16MiB, or off", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with a unit such as 16MiB, or off", s)
	}
	b := f * float64(mult)
	switch {
	case b >= math.MaxInt64:
		return 0, errors.New("size " + strconv.Quote(s) + ": too large")
	case b < minMemoryLimit:
		return 0, fmt.Errorf("size %q: below the smallest limit, 4MiB", s)
	}
	return int64(b), nil
}
