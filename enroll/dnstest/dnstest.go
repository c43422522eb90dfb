package dnstest

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server is a DNS server on a loopback UDP port.
type Server struct {
	// Addr is the server's host:port, for enroll.NewResolver.
	Addr string

	conn    net.PacketConn
	done    chan struct{}
	queries atomic.Int64

	mu    sync.Mutex
	srv   map[string][]dnsmessage.SRVResource
	addrs map[string][]netip.Addr
}

// Start starts a server on 127.0.0.1 and stops it when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{
		Addr: conn.LocalAddr().String(), conn: conn, done: make(chan struct{}),
		srv: map[string][]dnsmessage.SRVResource{}, addrs: map[string][]netip.Addr{},
	}
	go s.serve()
	tb.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

// canonical is name in lower case with the trailing dot.
func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

// AddSRV adds an SRV record for name (e.g. _reload-config._tcp.example.org).
func (s *Server) AddSRV(name string, priority, weight, port uint16, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := canonical(name)
	s.srv[n] = append(s.srv[n], dnsmessage.SRVResource{
		Priority: priority, Weight: weight, Port: port, Target: dnsmessage.MustNewName(canonical(target)),
	})
}

// AddAddr adds an A (IPv4) or AAAA (IPv6) record for name.
func (s *Server) AddAddr(name string, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := canonical(name)
	s.addrs[n] = append(s.addrs[n], ip)
}

// Queries is the number of queries answered so far.
func (s *Server) Queries() int { return int(s.queries.Load()) }

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp, ok := s.answer(buf[:n]); ok {
			s.queries.Add(1)
			_, _ = s.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query; ok is false for input that is
// not a query with one question.
func (s *Server) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := canonical(q.Name.String())
	s.mu.Lock()
	srvs, addrs := s.srv[name], s.addrs[name]
	s.mu.Unlock()

	// Authoritative: Go's resolver takes a non-authoritative answer
	// without recursion for a lame referral.
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if srvs == nil && addrs == nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch q.Type {
	case dnsmessage.TypeSRV:
		for _, r := range srvs {
			if b.SRVResource(rr, r) != nil {
				return nil, false
			}
		}
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		for _, ip := range addrs {
			switch {
			case q.Type == dnsmessage.TypeA && ip.Is4():
				err = b.AResource(rr, dnsmessage.AResource{A: ip.As4()})
			case q.Type == dnsmessage.TypeAAAA && ip.Is6() && !ip.Is4In6():
				err = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: ip.As16()})
			}
			if err != nil {
				return nil, false
			}
		}
	}
	out, err := b.Finish()
	return out, err == nil
}
