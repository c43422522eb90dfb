package portmap

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// ErrNoDefaultRoute reports a host without an IPv4 default route.
var ErrNoDefaultRoute = errors.New("portmap: no IPv4 default gateway")

// DefaultGateway is the gateway of the IPv4 default route, read from
// /proc/net/route (Linux). Elsewhere set Config.Gateway.
func DefaultGateway() (netip.Addr, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %w (set the gateway explicitly)", ErrNoDefaultRoute, err)
	}
	defer f.Close()
	return parseRoutes(f)
}

// parseRoutes reads the table of /proc/net/route: Iface, Destination,
// Gateway, Flags, … with addresses in host byte order (hex).
func parseRoutes(r io.Reader) (netip.Addr, error) {
	const rtfGateway = 0x2
	s := bufio.NewScanner(r)
	first := true
	for s.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(s.Text())
		if len(f) < 4 || f[1] != "00000000" {
			continue
		}
		gw, err := hex.DecodeString(f[2])
		if err != nil || len(gw) != 4 {
			continue
		}
		flags, err := hex.DecodeString(fmt.Sprintf("%08s", f[3]))
		if err != nil || len(flags) != 4 || binary.BigEndian.Uint32(flags)&rtfGateway == 0 {
			continue
		}
		// The kernel prints the address in its (little-endian) order.
		a := netip.AddrFrom4([4]byte{gw[3], gw[2], gw[1], gw[0]})
		if !a.IsUnspecified() {
			return a, nil
		}
	}
	return netip.Addr{}, ErrNoDefaultRoute
}
