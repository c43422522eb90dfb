package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goreload/reload/wire"
)

// maxMessage bounds one SIP message on any transport.
const maxMessage = 64 << 10

// Source transports of a message.
const (
	tUDP  = "UDP"
	tTCP  = "TCP"
	tLink = "TLS" // an AppAttach connection; RELOAD links are (D)TLS
)

// source is where a message came from.
type source struct {
	transport string  // tUDP, tTCP or tLink
	addr      string  // remote ip:port for UDP and TCP
	s         *stream // nil for UDP
}

// stream is a connection carrying SIP as a byte stream: a TCP connection
// of a local user agent, or an AppAttach connection to another peer (a
// link). Writes go through a queue so that a reader never blocks on the
// other side's reader (net.Pipe has no buffer).
type stream struct {
	id   uint64
	conn net.Conn
	node wire.NodeID // links: the remote peer
	link bool
	addr string // UA connections: remote address
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (s *stream) close() {
	s.once.Do(func() {
		close(s.done)
		s.conn.Close()
	})
}

func (s *stream) send(b []byte) error {
	select {
	case s.out <- b:
		return nil
	case <-s.done:
		return net.ErrClosed
	}
}

func (s *stream) transport() string {
	if s.link {
		return tLink
	}
	return tTCP
}

func (f *Frontend) addStream(c net.Conn, node wire.NodeID, link bool) (*stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return nil, ErrFrontendClosed
	}
	f.nextID++
	s := &stream{id: f.nextID, conn: c, node: node, link: link,
		out: make(chan []byte, 256), done: make(chan struct{})}
	f.streams[s.id] = s
	if link {
		if node.Valid() {
			f.byNode[node] = s
		}
	} else {
		s.addr = c.RemoteAddr().String()
		f.byAddr[s.addr] = s
	}
	f.wg.Add(2)
	go f.writeLoop(s)
	go f.readLoop(s)
	return s, nil
}

func (f *Frontend) removeStream(s *stream) {
	s.close()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.streams, s.id)
	if s.link && f.byNode[s.node] == s {
		delete(f.byNode, s.node)
	}
	if !s.link && f.byAddr[s.addr] == s {
		delete(f.byAddr, s.addr)
	}
}

func (f *Frontend) writeLoop(s *stream) {
	defer f.wg.Done()
	for {
		select {
		case b := <-s.out:
			if b == nil { // close after what was queued before
				f.removeStream(s)
				return
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := s.conn.Write(b); err != nil {
				f.log.Debug("sip: stream write", "stream", s.id, "err", err)
				f.removeStream(s)
				return
			}
		case <-s.done:
			return
		}
	}
}

// readLoop frames SIP messages on a stream by their Content-Length (RFC
// 3261 §18.3), so that a message that fails to parse can be answered with
// 400 without losing the framing.
func (f *Frontend) readLoop(s *stream) {
	defer f.wg.Done()
	defer f.removeStream(s)
	src := source{transport: s.transport(), addr: s.addr, s: s}
	base := make([]byte, 0, 16384)
	buf := base
	tmp := make([]byte, 16384)
	for {
		for {
			msg, n, err := frameStream(buf)
			if err != nil {
				f.log.Debug("sip: bad framing", "stream", s.id, "err", err)
				if out := badRequestRaw(buf); out != nil {
					_ = s.send(out)
				}
				// The framing is lost: drop the connection once the 400
				// is written.
				_ = s.send(nil)
				<-s.done
				return
			}
			if n == 0 {
				break
			}
			buf = buf[n:]
			if msg != nil {
				f.receive(bytes.Clone(msg), src)
			}
		}
		base = append(base[:0], buf...) // compact; messages were copied out
		buf = base
		n, err := s.conn.Read(tmp)
		if n > 0 {
			buf = append(buf, tmp[:n]...)
		}
		if err != nil {
			return
		}
	}
}

// frameStream cuts the next message from b. It returns n == 0 when more
// bytes are needed, msg == nil with n > 0 for skipped keep-alive CRLFs.
func frameStream(b []byte) (msg []byte, n int, err error) {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i > 0 {
		return nil, i, nil
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxMessage {
			return nil, 0, errors.New("sip: header section too long")
		}
		return nil, 0, nil
	}
	hdr := b[:end+4]
	cl, err := contentLength(hdr)
	if err != nil {
		return nil, 0, err
	}
	total := end + 4 + cl
	if total > maxMessage {
		return nil, 0, fmt.Errorf("sip: message of %d bytes too long", total)
	}
	if len(b) < total {
		return nil, 0, nil
	}
	return b[:total:total], total, nil
}

// contentLength reads Content-Length (or "l") from a header section; a
// stream message without it has no body.
func contentLength(hdr []byte) (int, error) {
	for _, line := range strings.Split(string(hdr), "\r\n")[1:] {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, "content-length") || strings.EqualFold(name, "l") {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("sip: bad Content-Length %q", val)
			}
			return n, nil
		}
	}
	return 0, nil
}

func (f *Frontend) serveUDP() {
	defer f.wg.Done()
	buf := make([]byte, maxMessage)
	for {
		n, addr, err := f.udp.ReadFrom(buf)
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		data := buf[:n]
		if len(bytes.Trim(data, "\r\n\t ")) == 0 {
			continue // keep-alive
		}
		f.receive(bytes.Clone(data), source{transport: tUDP, addr: addr.String()})
	}
}

func (f *Frontend) acceptTCP() {
	defer f.wg.Done()
	for {
		c, err := f.tcp.Accept()
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if _, err := f.addStream(c, wire.NodeID{}, false); err != nil {
			c.Close()
			return
		}
	}
}

// receive parses one message and hands it on. A request that does not
// parse, or lacks what RFC 3261 §8.1.1 requires, is answered with 400.
func (f *Frontend) receive(data []byte, src source) {
	defer func() {
		// Defence in depth: a parser bug on hostile input must not take
		// the node down.
		if r := recover(); r != nil {
			f.log.Error("sip: panic handling message", "src", src.addr, "panic", r)
		}
	}()
	msg, err := f.parser.ParseSIP(data)
	if err != nil {
		f.log.Debug("sip: parse", "src", src.addr, "err", err)
		if out := badRequestRaw(data); out != nil {
			f.sendTo(src, out)
		}
		return
	}
	msg.SetTransport(src.transport)
	msg.SetSource(src.addr)
	switch m := msg.(type) {
	case *sip.Response:
		f.handleResponse(m, src)
	case *sip.Request:
		if err := checkRequest(m); err != nil {
			f.log.Debug("sip: bad request", "src", src.addr, "err", err)
			if m.Method != sip.ACK {
				if out := badRequestRaw(data); out != nil {
					f.sendTo(src, out)
				}
			}
			return
		}
		if src.transport != tLink {
			fixVia(m.Via(), src.addr)
		}
		if to := m.To(); to != nil && to.Params.Has("tag") && m.Method != sip.CANCEL {
			// In-dialog: handle in order, so that ACK stays before BYE.
			f.handleRequest(m, src)
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.handleRequest(m, src)
		}()
	}
}

// checkRequest checks the header fields every request needs (RFC 3261
// §8.1.1) and that they parsed.
func checkRequest(r *sip.Request) error {
	switch {
	case r.Via() == nil:
		return errors.New("no Via")
	case r.From() == nil:
		return errors.New("no From")
	case r.To() == nil:
		return errors.New("no To")
	case r.CallID() == nil:
		return errors.New("no Call-ID")
	case r.CSeq() == nil:
		return errors.New("no CSeq")
	case r.CSeq().MethodName != r.Method:
		return errors.New("the CSeq method differs from the request method")
	case r.Recipient.Scheme != "sip" && r.Recipient.Scheme != "sips":
		return fmt.Errorf("unsupported Request-URI scheme %q", r.Recipient.Scheme)
	case r.Recipient.Host == "":
		return errors.New("request-URI without host")
	case !r.Via().Params.Has("branch"):
		return errors.New("top Via without branch")
	}
	if h := r.GetHeader("Max-Forwards"); h != nil && r.MaxForwards() == nil {
		return errors.New("bad Max-Forwards")
	}
	return nil
}

// fixVia adds received and rport to the top Via of a request from a user
// agent (RFC 3261 §18.2.1, RFC 3581 §4).
func fixVia(v *sip.ViaHeader, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if v.Host != host {
		v.Params.Add("received", host)
	}
	if val, ok := v.Params.Get("rport"); ok && val == "" {
		v.Params.Add("rport", port)
	}
}

// badRequestRaw builds a 400 for bytes that do not parse as a valid
// request, copying the Via, From, To, Call-ID and CSeq lines it can find.
// It returns nil for responses, ACKs and anything without a request line
// and a Via, which get no answer.
func badRequestRaw(data []byte) []byte {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\n")
	if len(lines) == 0 {
		return nil
	}
	first := strings.Fields(strings.TrimSpace(lines[0]))
	if len(first) != 3 || !strings.HasPrefix(first[2], "SIP/") || strings.HasPrefix(first[0], "SIP/") ||
		strings.EqualFold(first[0], "ACK") {
		return nil
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 400 Bad Request\r\n")
	hasVia := false
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			hasVia = true
		case "from", "f", "to", "t", "call-id", "i", "cseq":
		default:
			continue
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	if !hasVia {
		return nil
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}
