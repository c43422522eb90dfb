package flood

import (
	"os"
	"runtime"
)

// Big reports whether the larger flood runs were asked for
// (RELOAD_FLOOD set).
func Big() bool { return os.Getenv("RELOAD_FLOOD") != "" }

// HeapMiB is the live heap after a collection, in MiB.
func HeapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}
