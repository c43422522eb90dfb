package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// namespace is the custom record namespace: keys are /bench/<name>.
const namespace = "bench"

// acceptAll is the validator a user of a custom namespace writes when
// any value will do: no signature, the first value wins.
type acceptAll struct{}

func (acceptAll) Validate(string, []byte) error        { return nil }
func (acceptAll) Select(string, [][]byte) (int, error) { return 0, nil }

type libp2pSystem struct {
	hosts []host.Host
	dhts  []*dht.IpfsDHT
	run   string // distinguishes keys of one process's runs
}

func (s *libp2pSystem) start(ctx context.Context, n int) error {
	s.run = strconv.FormatInt(time.Now().UnixNano(), 36)
	var seed peer.AddrInfo
	for i := range n {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport),
		)
		if err != nil {
			return err
		}
		s.hosts = append(s.hosts, h)
		opts := []dht.Option{
			dht.Mode(dht.ModeServer),
			dht.ProtocolPrefix("/goreload-bench"),
			dht.NamespacedValidator(namespace, acceptAll{}),
		}
		if i > 0 {
			opts = append(opts, dht.BootstrapPeers(seed))
		}
		d, err := dht.New(h, opts...)
		if err != nil {
			return err
		}
		s.dhts = append(s.dhts, d)
		if i == 0 {
			seed = peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
			continue
		}
		if err := h.Connect(ctx, seed); err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		if err := d.Bootstrap(ctx); err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
	}
	// Ready: every routing table holds all the other peers.
	for {
		full := true
		for _, d := range s.dhts {
			if d.RoutingTable().Size() < n-1 {
				full = false
				// A refresh looks up the own key and random keys per
				// bucket, which finds the peers that joined later.
				d.RefreshRoutingTable()
			}
		}
		if full {
			return nil
		}
		select {
		case <-ctx.Done():
			sizes := make([]int, len(s.dhts))
			for i, d := range s.dhts {
				sizes[i] = d.RoutingTable().Size()
			}
			return fmt.Errorf("routing tables not full (sizes %v): %w", sizes, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// pair puts value from one host and gets it from another, with the
// DHT's default options.
func (s *libp2pSystem) pair(ctx context.Context, j int, value []byte) error {
	from, to := pairNodes(j, len(s.hosts))
	key := "/" + namespace + "/" + s.run + "-" + strconv.Itoa(j)
	if err := s.dhts[from].PutValue(ctx, key, value); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	got, err := s.dhts[to].GetValue(ctx, key)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if !bytes.Equal(got, value) {
		return fmt.Errorf("get: got %q, want %q", got, value)
	}
	return nil
}

func (s *libp2pSystem) conns() int {
	n := 0
	for _, h := range s.hosts {
		n += len(h.Network().Conns())
	}
	return n
}

func (s *libp2pSystem) close() {
	for _, d := range s.dhts {
		d.Close()
	}
	for _, h := range s.hosts {
		h.Close()
	}
}
