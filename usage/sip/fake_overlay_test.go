package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

// fakeNet is an in-memory overlay: a map-backed store honouring lifetimes
// and dictionary keys, and AppAttach over net.Pipe to the peer's front end.
type fakeNet struct {
	mu      sync.Mutex
	data    map[string]map[string]fakeEntry // resource|kind -> dictionary key -> entry
	peers   map[wire.NodeID]*Frontend
	attachs int
	fetches int
	// storeErr, when set, is every Store's error (a refusal by the
	// storing peer).
	storeErr error
}

type fakeEntry struct {
	v       wire.StoredDataValue
	stored  time.Time
	expires time.Time
}

func newFakeNet() *fakeNet {
	return &fakeNet{data: map[string]map[string]fakeEntry{}, peers: map[wire.NodeID]*Frontend{}}
}

type fakeOverlay struct {
	n  *fakeNet
	id wire.NodeID
}

func nodeID(i byte) wire.NodeID {
	b := bytes.Repeat([]byte{i}, 16)
	return wire.MustNodeID(b)
}

func (n *fakeNet) overlay(id wire.NodeID) *fakeOverlay { return &fakeOverlay{n: n, id: id} }

func (o *fakeOverlay) LocalNodeID() wire.NodeID { return o.id }

func (o *fakeOverlay) Store(_ context.Context, res wire.ResourceID, kind wire.KindID, vals []wire.StoredDataValue, lifetime time.Duration) error {
	o.n.mu.Lock()
	defer o.n.mu.Unlock()
	if o.n.storeErr != nil {
		return o.n.storeErr
	}
	k := fmt.Sprintf("%x|%d", []byte(res), kind)
	m := o.n.data[k]
	if m == nil {
		m = map[string]fakeEntry{}
		o.n.data[k] = m
	}
	now := time.Now()
	for _, v := range vals {
		if v.Model != wire.ModelDictionary {
			return errors.New("fake: SIP-REGISTRATION is a dictionary")
		}
		// USER-NODE-MATCH: the dictionary key is the storing node.
		if !bytes.Equal(v.Key, o.id.Bytes()) {
			return errors.New("fake: Error_Forbidden: key is not the storing node")
		}
		c := wire.StoredDataValue{Model: v.Model, Key: bytes.Clone(v.Key),
			Value: wire.DataValue{Exists: v.Value.Exists, Value: bytes.Clone(v.Value.Value)}}
		m[string(v.Key)] = fakeEntry{v: c, stored: now, expires: now.Add(lifetime)}
	}
	return nil
}

// put stores a value under any key, bypassing access control (to build
// redirect chains and loops in tests).
func (n *fakeNet) put(aor string, key wire.NodeID, reg wire.SipRegistration, lifetime time.Duration) {
	v, err := RegistrationValue(key, &reg)
	if err != nil {
		panic(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	k := fmt.Sprintf("%x|%d", []byte(wire.ResourceIDFromName(aor)), Kind)
	if n.data[k] == nil {
		n.data[k] = map[string]fakeEntry{}
	}
	now := time.Now()
	n.data[k][string(v.Key)] = fakeEntry{v: v, stored: now, expires: now.Add(lifetime)}
}

func (o *fakeOverlay) Fetch(_ context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	o.n.mu.Lock()
	defer o.n.mu.Unlock()
	o.n.fetches++
	now := time.Now()
	var out []wire.StoredData
	for _, e := range o.n.data[fmt.Sprintf("%x|%d", []byte(res), kind)] {
		if !now.Before(e.expires) {
			continue
		}
		out = append(out, wire.StoredData{
			StorageTime: uint64(e.stored.UnixMilli()),
			Lifetime:    uint32(e.expires.Sub(e.stored) / time.Second),
			Value:       e.v,
		})
	}
	return out, nil
}

func (o *fakeOverlay) AppAttach(_ context.Context, dests []wire.Destination, app uint16) (net.Conn, error) {
	node, ok := TerminalNode(dests)
	if !ok {
		return nil, errors.New("fake: no node")
	}
	if app != AppSIP && app != AppSIPS {
		return nil, errors.New("fake: bad application")
	}
	o.n.mu.Lock()
	fe := o.n.peers[node]
	o.n.attachs++
	o.n.mu.Unlock()
	if fe == nil {
		return nil, fmt.Errorf("fake: no peer %v", node)
	}
	a, b := net.Pipe()
	go fe.ServeConn(o.id, b)
	return a, nil
}

// newPeer starts a front end for node i on loopback UDP and TCP, without
// authentication unless mod sets Credentials (and clears NoAuth).
func (n *fakeNet) newPeer(t testing.TB, i byte, mod func(*Config)) *Frontend {
	t.Helper()
	id := nodeID(i)
	cfg := Config{
		Overlay:    n.overlay(id),
		UDPAddr:    "127.0.0.1:0",
		TCPAddr:    "127.0.0.1:0",
		Domain:     "example.com",
		MinExpires: time.Second,
		// These tests are about routing; auth_test.go turns
		// authentication on.
		NoAuth: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	fe, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.peers[id] = fe
	n.mu.Unlock()
	t.Cleanup(func() { fe.Close() })
	return fe
}
