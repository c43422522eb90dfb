package diag

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/goreload/reload/wire"
)

// RFC 7851 §5.3: the first period gives its plain average, then
// sent = alpha x present + (1 - alpha) x last, every period.
func TestEWMA(t *testing.T) {
	clk := newClock()
	s := NewLocalStats(LocalConfig{Now: clk.Now, FS: fstest.MapFS{}})
	if _, ok := s.EWMABytesSent(); ok {
		t.Fatal("EWMA known at time zero")
	}
	step := func(d time.Duration, sent int, want uint32) {
		t.Helper()
		clk.Advance(d)
		if sent > 0 {
			s.CountSent(wire.CodeStoreReq, sent)
		}
		got, ok := s.EWMABytesSent()
		if !ok || got != want {
			t.Fatalf("EWMA_BYTES_SENT = %d, %v; want %d", got, ok, want)
		}
	}
	step(time.Second, 5000, 5000) // 5000 bytes in the first second
	step(3*time.Second, 0, 1250)  // 5000 bytes over 4 s so far
	step(time.Second, 0, 1000)    // first period closed: 5000/5
	step(time.Second, 10000, 1000)
	step(4*time.Second, 0, 1800)  // 0.8*2000 + 0.2*1000
	step(5*time.Second, 0, 360)   // 0.8*0 + 0.2*1800
	step(time.Hour, 0, 0)         // decayed away
	step(5*time.Second, 50000, 0) // still the closed value
	step(5*time.Second, 0, 8000)  // 0.8*10000
	if r, ok := s.EWMABytesRcvd(); !ok || r != 0 {
		t.Fatalf("EWMA_BYTES_RCVD = %d, %v", r, ok)
	}
}

func TestMessagesSentRcvd(t *testing.T) {
	s := NewLocalStats(LocalConfig{FS: fstest.MapFS{}})
	s.CountSent(wire.CodePingReq, 10)
	s.CountSent(wire.CodePingReq, 10)
	s.CountRcvd(wire.CodePingAns, 10)
	s.CountRcvd(wire.CodeError, 10) // no entry for 0xffff
	m, ok := s.MessagesSentRcvd()
	if !ok || len(m) != int(wire.CodePingAns)+1 || m[wire.CodePingReq] != (wire.SentRcvd{Sent: 2}) || m[wire.CodePingAns] != (wire.SentRcvd{Rcvd: 1}) {
		t.Fatalf("MESSAGES_SENT_RCVD = %v", m)
	}
}

func TestLocalStatsProc(t *testing.T) {
	clk := newClock()
	fs := procFS()
	fs["proc/loadavg"] = &fstest.MapFile{Data: []byte("0.10 0.20 9.00 1/100 4242\n")}
	s := NewLocalStats(LocalConfig{Now: clk.Now, FS: fs, UpstreamKbps: 100_000})
	clk.Advance(90 * time.Second)
	if d, ok := s.MachineUptime(); !ok || d != 3600500*time.Millisecond+90*time.Second {
		t.Errorf("MachineUptime = %v", d)
	}
	if d, ok := s.AppUptime(); !ok || d != 90*time.Second {
		t.Errorf("AppUptime = %v", d)
	}
	if m, ok := s.MemoryFootprint(); !ok || m != 20480*1024 {
		t.Errorf("MemoryFootprint = %d", m)
	}
	if p, ok := s.ProcessPower(); !ok || p != 4000*uint64(runtime.NumCPU()) {
		t.Errorf("ProcessPower = %d", p)
	}
	want := uint8(min(math.Ceil(0.2/float64(runtime.NumCPU())*15), 15))
	if l, ok := s.StatusInfo(); !ok || l != want {
		t.Errorf("StatusInfo = %d, want %d", l, want)
	}
	if b, ok := s.UpstreamBandwidth(); !ok || b != 100_000 {
		t.Errorf("UpstreamBandwidth = %d", b)
	}
	for name, f := range map[string]func() (uint64, bool){
		"DownstreamBandwidth": s.DownstreamBandwidth, "DatasizeStored": s.DatasizeStored,
	} {
		if _, ok := f(); ok {
			t.Errorf("%s known without configuration", name)
		}
	}
	if _, ok := s.RoutingTableSize(); ok {
		t.Error("RoutingTableSize known without configuration")
	}
	if _, ok := s.UnderlayHop(testID(1)); ok {
		t.Error("UnderlayHop known")
	}
	if _, ok := s.BatteryStatus(); ok {
		t.Error("BatteryStatus known without a power supply")
	}
	if v, _ := NewLocalStats(LocalConfig{}).SoftwareVersion(); !strings.HasPrefix(v, "goreload/") || !strings.Contains(v, runtime.GOOS) {
		t.Errorf("default SoftwareVersion = %q", v)
	}
	c := NewLocalStats(LocalConfig{FS: fs, Congestion: func() uint8 { return 99 }})
	if l, _ := c.StatusInfo(); l != 15 {
		t.Errorf("StatusInfo with Congestion 99 = %d", l)
	}
}

// Without /proc the values that need it are unknown, except memory and
// processing power, which the runtime can still give.
func TestLocalStatsNoProc(t *testing.T) {
	s := NewLocalStats(LocalConfig{FS: fstest.MapFS{}})
	if _, ok := s.MachineUptime(); ok {
		t.Error("MachineUptime known without /proc/uptime")
	}
	if _, ok := s.StatusInfo(); ok {
		t.Error("StatusInfo known without /proc/loadavg")
	}
	if m, ok := s.MemoryFootprint(); !ok || m == 0 {
		t.Errorf("MemoryFootprint fallback = %d, %v", m, ok)
	}
	if p, ok := s.ProcessPower(); !ok || p == 0 {
		t.Errorf("ProcessPower calibration = %d, %v", p, ok)
	}
}

func TestBatteryStatus(t *testing.T) {
	const dir = "sys/class/power_supply/"
	f := func(kv ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for i := 0; i < len(kv); i += 2 {
			m[dir+kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1] + "\n")}
		}
		return m
	}
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want uint8
		ok   bool
	}{
		{"none", fstest.MapFS{}, 0, false},
		{"discharging", f("BAT0/type", "Battery", "BAT0/status", "Discharging", "BAT0/capacity", "57"), 57, true},
		{"charging", f("BAT0/type", "Battery", "BAT0/status", "Charging", "BAT0/capacity", "90", "AC/type", "Mains", "AC/online", "1"), 0x80 | 90, true},
		{"mains only", f("AC/type", "Mains", "AC/online", "1"), 0x80, true},
		{"mains offline", f("AC/type", "Mains", "AC/online", "0"), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NewLocalStats(LocalConfig{FS: tc.fs}).BatteryStatus()
			if got != tc.want || ok != tc.ok {
				t.Fatalf("BatteryStatus = %#x, %v; want %#x, %v", got, ok, tc.want, tc.ok)
			}
			if ok && wire.OnBattery(got) != (tc.name == "discharging") {
				t.Fatalf("OnBattery(%#x)", got)
			}
		})
	}
}

func TestInstancesArray(t *testing.T) {
	a := instancesArray(map[wire.KindID]uint64{1: 5, 4: 2, 0xf0000001: 9, 7: 0})
	if len(a) != 5 || a[1] != 5 || a[4] != 2 {
		t.Fatalf("instancesArray = %v", a)
	}
	if a := instancesArray(nil); len(a) != 0 {
		t.Fatalf("instancesArray(nil) = %v", a)
	}
}
