package diag

import (
	"net/netip"
	"time"

	"github.com/goreload/reload/wire"
)

// Stats provides the local facts a Server reports (RFC 7851 §5.3). Every
// method returns ok false when the value is not known; the kind is then
// left out of the response, which RFC 7851 §5.2 allows ("the request could
// not be accommodated"), rather than sent with a made-up value. Methods may
// be called concurrently.
//
// LocalStats is the implementation a node normally uses.
type Stats interface {
	// StatusInfo is the congestion level, 0 (no load) to 15 (congested).
	StatusInfo() (level uint8, ok bool)
	// RoutingTableSize is the number of peers in the routing table.
	RoutingTableSize() (n uint32, ok bool)
	// ProcessPower is the processing power in MIPS.
	ProcessPower() (mips uint64, ok bool)
	// UpstreamBandwidth and DownstreamBandwidth are the provisioned or
	// maximum bandwidths (not the available ones) in kbit/s.
	UpstreamBandwidth() (kbps uint64, ok bool)
	DownstreamBandwidth() (kbps uint64, ok bool)
	// SoftwareVersion names the software, without NUL; RFC 7851 §5.3
	// suggests "App/1.0 (Platform; OS-or-CPU) Vendor/0.7 (Comment)".
	SoftwareVersion() (s string, ok bool)
	// MachineUptime is how long the underlying system has been up.
	MachineUptime() (d time.Duration, ok bool)
	// AppUptime is how long the RELOAD application has been up.
	AppUptime() (d time.Duration, ok bool)
	// MemoryFootprint is the memory used by the program, in bytes.
	MemoryFootprint() (bytes uint64, ok bool)
	// DatasizeStored is the number of bytes of data stored by the node.
	DatasizeStored() (bytes uint64, ok bool)
	// InstancesStored is the number of stored instances of each Kind-ID.
	InstancesStored() (perKind map[wire.KindID]uint64, ok bool)
	// MessagesSentRcvd is the number of messages sent and received, entry
	// i for message code i.
	MessagesSentRcvd() (perCode []wire.SentRcvd, ok bool)
	// EWMABytesSent and EWMABytesRcvd are exponentially weighted averages of
	// the bytes sent and received per second.
	EWMABytesSent() (bytesPerSecond uint32, ok bool)
	EWMABytesRcvd() (bytesPerSecond uint32, ok bool)
	// UnderlayHop is the number of IP hops to the overlay neighbor next.
	UnderlayHop(next wire.NodeID) (hops uint8, ok bool)
	// BatteryStatus is the BATTERY_STATUS byte: top bit clear when the
	// peer runs on battery, the other bits application-defined.
	BatteryStatus() (status uint8, ok bool)
	// UnderlayAddresses are the addresses the peer is reachable at
	// (KindUnderlayAddress).
	UnderlayAddresses() (addrs []netip.AddrPort, ok bool)
}

// NoStats is a Stats that knows nothing: every kind is left out.
type NoStats struct{}

func (NoStats) StatusInfo() (uint8, bool)                       { return 0, false }
func (NoStats) RoutingTableSize() (uint32, bool)                { return 0, false }
func (NoStats) ProcessPower() (uint64, bool)                    { return 0, false }
func (NoStats) UpstreamBandwidth() (uint64, bool)               { return 0, false }
func (NoStats) DownstreamBandwidth() (uint64, bool)             { return 0, false }
func (NoStats) SoftwareVersion() (string, bool)                 { return "", false }
func (NoStats) MachineUptime() (time.Duration, bool)            { return 0, false }
func (NoStats) AppUptime() (time.Duration, bool)                { return 0, false }
func (NoStats) MemoryFootprint() (uint64, bool)                 { return 0, false }
func (NoStats) DatasizeStored() (uint64, bool)                  { return 0, false }
func (NoStats) InstancesStored() (map[wire.KindID]uint64, bool) { return nil, false }
func (NoStats) MessagesSentRcvd() ([]wire.SentRcvd, bool)       { return nil, false }
func (NoStats) EWMABytesSent() (uint32, bool)                   { return 0, false }
func (NoStats) EWMABytesRcvd() (uint32, bool)                   { return 0, false }
func (NoStats) UnderlayHop(wire.NodeID) (uint8, bool)           { return 0, false }
func (NoStats) BatteryStatus() (uint8, bool)                    { return 0, false }
func (NoStats) UnderlayAddresses() ([]netip.AddrPort, bool)     { return nil, false }
