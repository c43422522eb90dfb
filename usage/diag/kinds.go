package diag

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goreload/reload/wire"
)

// KindUnderlayAddress is this implementation's local diagnostic kind (RFC
// 7851 §5.1 leaves 0xf000-0xfffe to each overlay) for the underlay
// addresses of the responding peer. It is asked for with a
// DiagnosticExtension with empty contents; the value is a sequence of
// IpAddressPort (RFC 6940 §6.3.1.1) packed end to end. A peer returns it only
// when its Policy discloses addresses and the requester may read the kind.
const KindUnderlayAddress wire.DiagnosticKindID = 0xf000

// BaseKinds are the base kinds RFC 7851 §5.3 defines, in order.
var BaseKinds = []wire.DiagnosticKindID{
	wire.DiagStatusInfo, wire.DiagRoutingTableSize, wire.DiagProcessPower,
	wire.DiagUpstreamBandwidth, wire.DiagDownstreamBandwidth,
	wire.DiagSoftwareVersion, wire.DiagMachineUptime, wire.DiagAppUptime,
	wire.DiagMemoryFootprint, wire.DiagDatasizeStored,
	wire.DiagInstancesStored, wire.DiagMessagesSentRcvd,
	wire.DiagEWMABytesSent, wire.DiagEWMABytesRcvd, wire.DiagUnderlayHop,
	wire.DiagBatteryStatus,
}

// KindName is the RFC 7851 name of k (or of this package's local kind), or
// its number in hexadecimal.
func KindName(k wire.DiagnosticKindID) string {
	if k == KindUnderlayAddress {
		return "UNDERLAY_ADDRESS"
	}
	return k.String()
}

// ParseKinds reads a comma-separated list of diagnostic kinds, as a command
// line gives it: RFC 7851 names (case-insensitive, with or without
// underscores, e.g. "MEMORY_FOOTPRINT", "memoryfootprint"), numbers
// ("0x9", "9"), the local "underlay_address", or "all" for every base kind
// of RFC 7851 §5.3. Duplicates are dropped; order is kept.
func ParseKinds(s string) ([]wire.DiagnosticKindID, error) {
	var out []wire.DiagnosticKindID
	seen := map[wire.DiagnosticKindID]bool{}
	add := func(k wire.DiagnosticKindID) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "all") {
			for _, k := range BaseKinds {
				add(k)
			}
			continue
		}
		k, ok := kindByName(f)
		if !ok {
			n, err := strconv.ParseUint(f, 0, 16)
			if err != nil {
				return nil, fmt.Errorf("diag: unknown diagnostic kind %q", f)
			}
			k = wire.DiagnosticKindID(n)
		}
		if err := checkRequestable(k); err != nil {
			return nil, err
		}
		add(k)
	}
	return out, nil
}

func normName(s string) string {
	return strings.ToUpper(strings.NewReplacer("_", "", "-", "").Replace(s))
}

func kindByName(s string) (wire.DiagnosticKindID, bool) {
	n := normName(s)
	if n == normName(KindName(KindUnderlayAddress)) {
		return KindUnderlayAddress, true
	}
	for _, k := range BaseKinds {
		if normName(k.String()) == n {
			return k, true
		}
	}
	return 0, false
}

// checkRequestable reports whether k can be asked for at all: through its
// dMFlags bit (0x0001-0x003e) or a DiagnosticExtension (0x0040-0xfffe).
func checkRequestable(k wire.DiagnosticKindID) error {
	if _, ok := k.Flag(); ok || !k.IsBase() && k != wire.DiagReservedLast {
		return nil
	}
	return fmt.Errorf("diag: diagnostic kind %#04x is reserved", uint16(k))
}

// splitKinds turns requested kinds into the dMFlags and extension list of a
// DiagnosticsRequest (RFC 7851 §5.1: kinds 0x0000-0x003f only as flags).
func splitKinds(kinds []wire.DiagnosticKindID) (wire.DMFlags, []wire.DiagnosticExtension, error) {
	var flags wire.DMFlags
	var exts []wire.DiagnosticExtension
	for _, k := range kinds {
		if err := checkRequestable(k); err != nil {
			return 0, nil, err
		}
		if f, ok := k.Flag(); ok {
			flags |= f
			continue
		}
		dup := false
		for _, e := range exts {
			dup = dup || e.Kind == k
		}
		if !dup {
			exts = append(exts, wire.DiagnosticExtension{Kind: k})
		}
	}
	return flags, exts, nil
}
