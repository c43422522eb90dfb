package diag

import (
	"bufio"
	"bytes"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goreload/reload/wire"
)

// LocalConfig configures LocalStats. Every field is optional. The func
// fields are how the node layer feeds what only it knows (topology,
// storage, its addresses); a nil func leaves that kind unknown.
type LocalConfig struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Start is when the application started (APP_UPTIME); zero means when
	// NewLocalStats is called.
	Start time.Time
	// Software is the SOFTWARE_VERSION string; empty means
	// "goreload/VERSION (GOOS; GOARCH) GOVERSION".
	Software string
	// UpstreamKbps and DownstreamKbps are the provisioned bandwidths in
	// kbit/s; zero means unknown (the standard library cannot measure
	// them).
	UpstreamKbps, DownstreamKbps uint64
	// RoutingTableSize counts the peers in the routing table.
	RoutingTableSize func() int
	// DatasizeStored and InstancesStored describe the local store.
	DatasizeStored  func() uint64
	InstancesStored func() map[wire.KindID]uint64
	// Congestion overrides the STATUS_INFO level (0-15); nil derives it
	// from the load average.
	Congestion func() uint8
	// Addresses are the underlay addresses for KindUnderlayAddress.
	Addresses func() []netip.AddrPort
	// UnderlayHop counts the IP hops to an overlay neighbor, if the host
	// knows a way to (it needs more than the standard library).
	UnderlayHop func(next wire.NodeID) (uint8, bool)
	// EWMAPeriod and EWMAAlpha are the period and weight of the
	// EWMA_BYTES averages; zero means 5 s and 0.8 (RFC 7851 §5.3).
	EWMAPeriod time.Duration
	EWMAAlpha  float64
	// FS is the root file system where /proc and /sys are read; nil means
	// os.DirFS("/"). Tests give an fstest.MapFS.
	FS fs.FS
}

// LocalStats is the Stats of a process on Linux, measured with the standard
// library:
//
//   - STATUS_INFO: the higher of the 1- and 5-minute load averages
//     (/proc/loadavg) per CPU, scaled so one runnable task per CPU is 15;
//   - PROCESS_POWER: BogoMIPS of /proc/cpuinfo times runtime.NumCPU, or
//     failing that a short calibrated loop;
//   - MACHINE_UPTIME: /proc/uptime read once, advanced by the clock;
//   - APP_UPTIME: the clock since Start;
//   - MEMORY_FOOTPRINT: VmRSS of /proc/self/status, or failing that the
//     memory the Go runtime has mapped;
//   - BATTERY_STATUS: /sys/class/power_supply, with the capacity in
//     percent in the low 7 bits; unknown when no power supply is listed;
//   - MESSAGES_SENT_RCVD and EWMA_BYTES_*: the counters CountSent and
//     CountRcvd feed;
//   - SOFTWARE_VERSION: the module version from the build information.
//
// Bandwidths, underlay hops and the node's own tables come from LocalConfig
// and are unknown without it. Its methods are safe for concurrent use.
type LocalStats struct {
	cfg       LocalConfig
	now       func() time.Time
	start     time.Time
	boot      time.Time // now minus /proc/uptime, on the clock of now
	machineOK bool
	software  string

	mipsOnce sync.Once
	mips     uint64

	mu         sync.Mutex
	msgs       []wire.SentRcvd
	sent, rcvd ewma
}

// maxCodeEntries bounds MESSAGES_SENT_RCVD: 16 bytes an entry in a
// DiagnosticInfo of at most 65535 bytes.
const maxCodeEntries = 0xffff / 16

// NewLocalStats returns LocalStats for cfg.
func NewLocalStats(cfg LocalConfig) *LocalStats {
	s := &LocalStats{cfg: cfg, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.FS == nil {
		s.cfg.FS = os.DirFS("/")
	}
	if s.cfg.EWMAPeriod <= 0 {
		s.cfg.EWMAPeriod = 5 * time.Second
	}
	if s.cfg.EWMAAlpha <= 0 || s.cfg.EWMAAlpha > 1 {
		s.cfg.EWMAAlpha = 0.8
	}
	now := s.now()
	s.start = cfg.Start
	if s.start.IsZero() {
		s.start = now
	}
	s.sent.periodStart, s.rcvd.periodStart = now, now
	if up, ok := s.readUptime(); ok {
		s.boot, s.machineOK = now.Add(-up), true
	}
	s.software = cfg.Software
	if s.software == "" {
		s.software = defaultSoftware()
	}
	return s
}

func defaultSoftware() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/goreload/reload" && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "goreload/" + v + " (" + runtime.GOOS + "; " + runtime.GOARCH + ") " + runtime.Version()
}

// CountSent records a message of code sent, n bytes long.
func (s *LocalStats) CountSent(code wire.MessageCode, n int) { s.count(code, n, true) }

// CountRcvd records a message of code received, n bytes long.
func (s *LocalStats) CountRcvd(code wire.MessageCode, n int) { s.count(code, n, false) }

func (s *LocalStats) count(code wire.MessageCode, n int, sent bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Error responses (0xffff) have no entry: the array would need 1 MiB.
	if int(code) < maxCodeEntries {
		for len(s.msgs) <= int(code) {
			s.msgs = append(s.msgs, wire.SentRcvd{})
		}
		if sent {
			s.msgs[code].Sent++
		} else {
			s.msgs[code].Rcvd++
		}
	}
	if n < 0 {
		n = 0
	}
	if sent {
		s.sent.add(now, uint64(n), s.cfg.EWMAPeriod, s.cfg.EWMAAlpha)
	} else {
		s.rcvd.add(now, uint64(n), s.cfg.EWMAPeriod, s.cfg.EWMAAlpha)
	}
}

// ewma is the average of RFC 7851 §5.3: every period, value = alpha x
// (bytes per second in the period) + (1 - alpha) x value, the first period
// giving its plain average.
type ewma struct {
	periodStart time.Time
	acc         uint64
	value       float64
	closed      bool // at least one period has ended
}

func (e *ewma) advance(now time.Time, period time.Duration, alpha float64) {
	for !now.Before(e.periodStart.Add(period)) {
		present := float64(e.acc) / period.Seconds()
		if e.closed {
			e.value = alpha*present + (1-alpha)*e.value
		} else {
			e.value, e.closed = present, true
		}
		e.acc = 0
		e.periodStart = e.periodStart.Add(period)
		// A long idle gap: the remaining empty periods only decay the value.
		if idle := now.Sub(e.periodStart) / period; idle > 64 {
			e.value *= math.Pow(1-alpha, float64(idle))
			e.periodStart = e.periodStart.Add(idle * period)
		}
	}
}

func (e *ewma) add(now time.Time, n uint64, period time.Duration, alpha float64) {
	e.advance(now, period, alpha)
	e.acc += n
}

func (e *ewma) read(now time.Time, period time.Duration, alpha float64) (uint32, bool) {
	e.advance(now, period, alpha)
	v := e.value
	if !e.closed {
		// Within the first period: the plain average so far.
		el := now.Sub(e.periodStart).Seconds()
		if el <= 0 {
			return 0, false
		}
		v = float64(e.acc) / el
	}
	if v >= math.MaxUint32 {
		return math.MaxUint32, true
	}
	return uint32(math.Round(v)), true
}

// EWMABytesSent implements Stats.
func (s *LocalStats) EWMABytesSent() (uint32, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent.read(now, s.cfg.EWMAPeriod, s.cfg.EWMAAlpha)
}

// EWMABytesRcvd implements Stats.
func (s *LocalStats) EWMABytesRcvd() (uint32, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvd.read(now, s.cfg.EWMAPeriod, s.cfg.EWMAAlpha)
}

// MessagesSentRcvd implements Stats; it is known (maybe all zero) from the
// start.
func (s *LocalStats) MessagesSentRcvd() ([]wire.SentRcvd, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wire.SentRcvd{}, s.msgs...), true
}

// StatusInfo implements Stats.
func (s *LocalStats) StatusInfo() (uint8, bool) {
	if s.cfg.Congestion != nil {
		return min(s.cfg.Congestion(), 15), true
	}
	b, err := fs.ReadFile(s.cfg.FS, "proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	var load float64
	for _, x := range f[:2] {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil || v < 0 {
			return 0, false
		}
		load = max(load, v)
	}
	level := math.Ceil(load / float64(runtime.NumCPU()) * 15)
	return uint8(min(level, 15)), true
}

// RoutingTableSize implements Stats.
func (s *LocalStats) RoutingTableSize() (uint32, bool) {
	if s.cfg.RoutingTableSize == nil {
		return 0, false
	}
	return uint32(max(s.cfg.RoutingTableSize(), 0)), true
}

// ProcessPower implements Stats.
func (s *LocalStats) ProcessPower() (uint64, bool) {
	s.mipsOnce.Do(func() {
		if per, ok := s.bogoMIPS(); ok {
			s.mips = uint64(math.Ceil(per * float64(runtime.NumCPU())))
			return
		}
		s.mips = calibrateMIPS() * uint64(runtime.NumCPU())
	})
	return s.mips, s.mips > 0
}

// bogoMIPS is the BogoMIPS of the first CPU listed in /proc/cpuinfo.
func (s *LocalStats) bogoMIPS() (float64, bool) {
	b, err := fs.ReadFile(s.cfg.FS, "proc/cpuinfo")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "bogomips") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil && f > 0
		}
	}
	return 0, false
}

// calibrateMIPS estimates the millions of instructions per second of one
// CPU by timing a dependent loop of simple integer operations for about
// 20 ms. It is a rough figure, used only when the kernel gives none.
func calibrateMIPS() uint64 {
	const opsPerIter = 6 // three shifts, three xors
	x, n := uint64(88172645463325252), uint64(0)
	start := time.Now()
	var el time.Duration
	for el < 20*time.Millisecond {
		for range 1 << 14 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		n += 1 << 14
		el = time.Since(start)
	}
	if x == 0 { // never true; keeps the loop from being optimized away
		return 0
	}
	return uint64(math.Ceil(float64(n*opsPerIter) / el.Seconds() / 1e6))
}

// UpstreamBandwidth implements Stats.
func (s *LocalStats) UpstreamBandwidth() (uint64, bool) {
	return s.cfg.UpstreamKbps, s.cfg.UpstreamKbps > 0
}

// DownstreamBandwidth implements Stats.
func (s *LocalStats) DownstreamBandwidth() (uint64, bool) {
	return s.cfg.DownstreamKbps, s.cfg.DownstreamKbps > 0
}

// SoftwareVersion implements Stats.
func (s *LocalStats) SoftwareVersion() (string, bool) { return s.software, true }

func (s *LocalStats) readUptime() (time.Duration, bool) {
	b, err := fs.ReadFile(s.cfg.FS, "proc/uptime")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v < 0 || v > 1e12 {
		return 0, false
	}
	return time.Duration(v * float64(time.Second)), true
}

// MachineUptime implements Stats.
func (s *LocalStats) MachineUptime() (time.Duration, bool) {
	if !s.machineOK {
		return 0, false
	}
	return s.now().Sub(s.boot), true
}

// AppUptime implements Stats.
func (s *LocalStats) AppUptime() (time.Duration, bool) {
	return max(s.now().Sub(s.start), 0), true
}

// MemoryFootprint implements Stats.
func (s *LocalStats) MemoryFootprint() (uint64, bool) {
	if b, err := fs.ReadFile(s.cfg.FS, "proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			v, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil && kb < math.MaxUint64/1024 {
					return kb * 1024, true
				}
			}
			break
		}
	}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		return sample[0].Value.Uint64(), true
	}
	return 0, false
}

// DatasizeStored implements Stats.
func (s *LocalStats) DatasizeStored() (uint64, bool) {
	if s.cfg.DatasizeStored == nil {
		return 0, false
	}
	return s.cfg.DatasizeStored(), true
}

// InstancesStored implements Stats.
func (s *LocalStats) InstancesStored() (map[wire.KindID]uint64, bool) {
	if s.cfg.InstancesStored == nil {
		return nil, false
	}
	return s.cfg.InstancesStored(), true
}

// UnderlayHop implements Stats.
func (s *LocalStats) UnderlayHop(next wire.NodeID) (uint8, bool) {
	if s.cfg.UnderlayHop == nil {
		return 0, false
	}
	return s.cfg.UnderlayHop(next)
}

// UnderlayAddresses implements Stats.
func (s *LocalStats) UnderlayAddresses() ([]netip.AddrPort, bool) {
	if s.cfg.Addresses == nil {
		return nil, false
	}
	a := s.cfg.Addresses()
	return a, len(a) > 0
}

// BatteryStatus implements Stats from /sys/class/power_supply: a battery
// that is discharging means "on battery" (top bit clear), any other battery
// state or a mains supply that is online means "not on battery" (top bit
// set). The low 7 bits carry the battery capacity in percent when known.
// Without any power supply listed (most servers and containers) it is
// unknown.
func (s *LocalStats) BatteryStatus() (uint8, bool) {
	const dir = "sys/class/power_supply"
	ents, err := fs.ReadDir(s.cfg.FS, dir)
	if err != nil {
		return 0, false
	}
	read := func(name, attr string) string {
		b, _ := fs.ReadFile(s.cfg.FS, dir+"/"+name+"/"+attr)
		return strings.TrimSpace(string(b))
	}
	mains, found := false, false
	var status uint8
	for _, e := range ents {
		switch read(e.Name(), "type") {
		case "Mains":
			mains = mains || read(e.Name(), "online") == "1"
		case "Battery":
			if found {
				continue
			}
			found = true
			status = 0x80
			if read(e.Name(), "status") == "Discharging" {
				status = 0
			}
			if c, err := strconv.ParseUint(read(e.Name(), "capacity"), 10, 8); err == nil && c <= 100 {
				status |= uint8(c)
			}
		}
	}
	switch {
	case found:
		return status, true
	case mains:
		return 0x80, true
	}
	return 0, false
}

var _ Stats = (*LocalStats)(nil)
