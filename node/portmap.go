package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/goreload/reload/internal/portmap"
	"github.com/goreload/reload/transport"
	pionnet "github.com/pion/transport/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// PortMapConfig turns on port mapping: the node asks the NAT gateway in
// front of it (UPnP IGD or NAT-PMP, whichever answers first) to forward a
// UDP port to it, and offers the mapped address in its Attaches as a
// server-reflexive ICE candidate (RFC 6940 §6.5.1.1), so that peers
// outside the NAT reach it directly. The mapping is leased, renewed at
// half the lease and removed on Close. It needs Config.ICE. Opt-in, as in
// go-libp2p (libp2p.NATPortMap): it changes the gateway's state.
type PortMapConfig struct {
	// Port is the local UDP port to map (0: a free one). ICE sessions
	// share this one socket for the mapped candidate.
	Port int
	// Gateway is the NAT-PMP gateway (default: the default route's).
	Gateway string
	// Lease asked for (default 1 hour).
	Lease time.Duration
}

// PortMapStatus is the state of the port mapping in Status.
type PortMapStatus struct {
	// Method is "upnp" or "nat-pmp" once a gateway answered.
	Method   string `json:"method,omitempty"`
	Internal string `json:"internal"`
	// Mapped is the public address, empty until mapped.
	Mapped string `json:"mapped,omitempty"`
	Error  string `json:"error,omitempty"`
}

type portMapState struct {
	mp   *transport.MappedPort
	keep *portmap.Keeper
}

var descPortMapped = desc("portmap_mapped", "1 while the NAT gateway maps this node's ICE port (UPnP IGD or NAT-PMP), by method and mapped address.", "method", "mapped")

type portMapCollector struct{ n *Node }

func (c portMapCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descPortMapped }

func (c portMapCollector) Collect(ch chan<- prometheus.Metric) {
	pm := c.n.portMap
	if pm == nil {
		return
	}
	m, ok := pm.keep.Mapping()
	v, method, mapped := 0.0, "", ""
	if ok {
		v, method, mapped = 1, m.Method, m.External.String()
	}
	ch <- prometheus.MustNewConstMetric(descPortMapped, prometheus.GaugeValue, v, method, mapped)
}

// setupPortMap opens the mapped socket on nw, hands it to ICE and starts
// keeping the mapping. It runs in New.
func (n *Node) setupPortMap(ice *transport.ICEConfig, nw pionnet.Net) error {
	pc := n.cfg.PortMap
	if pc == nil {
		return nil
	}
	if ice == nil {
		return errors.New("node: port mapping needs ICE")
	}
	if ice.RelayOnly {
		return errors.New("node: port mapping and relay-only ICE exclude each other")
	}
	if pc.Port < 0 || pc.Port > 65535 {
		return fmt.Errorf("node: port mapping: bad port %d", pc.Port)
	}
	var gw netip.Addr
	if pc.Gateway != "" {
		a, err := netip.ParseAddr(pc.Gateway)
		if err != nil || !a.Is4() {
			return fmt.Errorf("node: port mapping: gateway %q is not an IPv4 address", pc.Gateway)
		}
		gw = a
	}
	sock, err := nw.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: pc.Port})
	if err != nil {
		return fmt.Errorf("node: port mapping: %w", err)
	}
	mp, err := transport.NewMappedPort(sock, nil)
	if err != nil {
		_ = sock.Close()
		return err
	}
	st := &portMapState{mp: mp}
	st.keep = portmap.Keep(portmap.KeepConfig{
		Config:   portmap.Config{Gateway: gw},
		Protocol: "udp", Port: mp.Port(), Lease: pc.Lease,
		OnChange: func(m portmap.Mapping, ok bool) {
			if ok {
				mp.SetExternal(m.External, m.Internal.Addr())
				n.log.Info("port mapped by the NAT gateway", "method", m.Method, "internal", m.Internal.String(), "mapped", m.External.String())
			} else {
				mp.SetExternal(netip.AddrPort{}, netip.Addr{})
				n.log.Warn("port mapping lost", "mapped", m.External.String())
			}
		},
		OnError: func(err error) { n.log.Debug("port mapping", "err", err) },
	})
	ice.Mapped = mp
	n.portMap = st
	n.held.push(func() error {
		err := st.keep.Close()
		return errors.Join(err, mp.Close())
	})
	n.met.reg.MustRegister(portMapCollector{n})
	return nil
}

// portMapStatus is the Status entry, nil without port mapping.
func (n *Node) portMapStatus() *PortMapStatus {
	pm := n.portMap
	if pm == nil {
		return nil
	}
	s := &PortMapStatus{Internal: fmt.Sprintf(":%d", pm.mp.Port())}
	if m, ok := pm.keep.Mapping(); ok {
		s.Method, s.Internal, s.Mapped = m.Method, m.Internal.String(), m.External.String()
	} else if err := pm.keep.Err(); err != nil {
		s.Error = err.Error()
	}
	return s
}
