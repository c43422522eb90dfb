package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Phone is one SIP user agent bound to a UDP socket on loopback (or the
// address given), using one front end as its registrar and outbound
// proxy.
type Phone struct {
	user, domain string
	proxy        *net.UDPAddr
	conn         net.PacketConn
	ua           *sipgo.UserAgent
	srv          *sipgo.Server
	cli          *sipgo.Client
	dialogs      *sipgo.DialogServerCache
	contact      sip.ContactHeader
	ring         time.Duration
	auth         sipgo.DigestAuth
	answered     atomic.Int64 // calls answered with 200
	ended        atomic.Int64 // calls ended by BYE
}

// Config configures a Phone.
type Config struct {
	User, Domain string // the AOR user@domain
	// Proxy is the UDP address of the front end (registrar and outbound
	// proxy).
	Proxy string
	// Listen is the UDP address of the phone (default 127.0.0.1:0).
	Listen string
	// Password is the user's digest password (RFC 3261 §22): the phone
	// answers a 401 or 407 challenge of the front end with it. Empty:
	// the phone cannot authenticate.
	Password string
	// Ring is how long the phone rings (180) before it answers (200);
	// default 20 ms.
	Ring time.Duration
	// Logger receives sipgo's logs (default: discarded).
	Logger *slog.Logger
}

// New opens the phone's socket and starts answering calls.
func New(cfg Config) (*Phone, error) {
	if cfg.User == "" || cfg.Domain == "" {
		return nil, errors.New("sipua: user and domain are required")
	}
	proxy, err := net.ResolveUDPAddr("udp", cfg.Proxy)
	if err != nil {
		return nil, fmt.Errorf("sipua: proxy %q: %w", cfg.Proxy, err)
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		return nil, fmt.Errorf("sipua: %w", err)
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.User), sipgo.WithUserAgentHostname(cfg.Domain))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log),
		sipgo.WithClientHostname(local.IP.String()), sipgo.WithClientPort(local.Port),
		sipgo.WithClientConnectionAddr(local.String()))
	if err != nil {
		ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	p := &Phone{
		user: cfg.User, domain: cfg.Domain, proxy: proxy, conn: conn, ua: ua, srv: srv, cli: cli,
		contact: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: cfg.User, Host: local.IP.String(), Port: local.Port}},
		ring:    cfg.Ring,
		auth:    sipgo.DigestAuth{Username: cfg.User, Password: cfg.Password},
	}
	if p.ring == 0 {
		p.ring = 20 * time.Millisecond
	}
	p.dialogs = sipgo.NewDialogServerCache(cli, p.contact)
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dialogs.ReadAck(req, tx) })
	srv.OnBye(p.onBye)
	go func() { _ = srv.ServeUDP(conn) }()
	// Requests leave from the listening socket (WithClientConnectionAddr),
	// which the transport layer knows once ServeUDP has registered it.
	for i := 0; ; i++ {
		if c, _ := ua.TransportLayer().GetConnection("udp", local.String()); c != nil {
			break
		}
		if i == 1000 {
			p.Close()
			return nil, errors.New("sipua: the SIP transport did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return p, nil
}

// Addr is the phone's UDP address, the contact it registers.
func (p *Phone) Addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

// AOR is the phone's address of record, user@domain.
func (p *Phone) AOR() string { return p.user + "@" + p.domain }

// Answered is the number of calls this phone answered with 200 OK.
func (p *Phone) Answered() int { return int(p.answered.Load()) }

// Ended is the number of calls to this phone ended by the caller's BYE.
func (p *Phone) Ended() int { return int(p.ended.Load()) }

// Close stops answering and closes the socket.
func (p *Phone) Close() error {
	err := p.ua.Close() // closes the transport layer and with it the socket
	if cerr := p.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Register binds the phone's contact to its AOR at the front end for
// expires (RFC 3261 §10; 0 removes the binding).
func (p *Phone) Register(ctx context.Context, expires time.Duration) error {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: p.domain})
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: p.domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	c := p.contact
	req.AppendHeader(&c)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.SetDestination(p.proxy.String())
	res, err := p.cli.Do(ctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) && p.auth.Password != "" {
		// Answer the challenge once, in a new transaction with the next
		// CSeq (RFC 3261 §22.2).
		res, err = p.cli.DoDigestAuth(ctx, req, res, p.auth)
	}
	if err != nil {
		return fmt.Errorf("sipua: REGISTER %s: %w", p.AOR(), err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("sipua: REGISTER %s: %d %s", p.AOR(), res.StatusCode, res.Reason)
	}
	return nil
}

// Call is the outcome of one call placed with Phone.Call.
type Call struct {
	// Responses are the status codes received for the INVITE, in order.
	Responses []int
	// Setup is the time from sending the INVITE to its 200 OK.
	Setup time.Duration
	// Total is the time from INVITE to the 200 OK of the BYE.
	Total time.Duration
}

// Call calls the AOR callee@domain through the front end: INVITE with an
// SDP offer, waits for 200 OK, sends ACK, then BYE, and waits for its
// 200 OK. A final response other than 2xx is an error naming it.
func (p *Phone) Call(ctx context.Context, callee string) (Call, error) {
	var call Call
	target := sip.Uri{Scheme: "sip", User: callee, Host: p.domain}
	req := sip.NewRequest(sip.INVITE, target)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(p.sdp())
	req.SetDestination(p.proxy.String())
	d := sipgo.DialogUA{Client: p.cli, ContactHDR: p.contact}
	t0 := time.Now()
	sess, err := d.WriteInvite(ctx, req)
	if err != nil {
		return call, fmt.Errorf("sipua: INVITE %s: %w", callee, err)
	}
	defer sess.Close()
	err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.auth.Username, Password: p.auth.Password, OnResponse: func(r *sip.Response) error {
		call.Responses = append(call.Responses, r.StatusCode)
		return nil
	}})
	if err != nil {
		var re *sipgo.ErrDialogResponse
		if errors.As(err, &re) {
			return call, fmt.Errorf("sipua: INVITE %s: %d %s", callee, re.Res.StatusCode, re.Res.Reason)
		}
		return call, fmt.Errorf("sipua: INVITE %s: %w", callee, err)
	}
	call.Setup = time.Since(t0)
	if err := sess.Ack(ctx); err != nil {
		return call, fmt.Errorf("sipua: ACK: %w", err)
	}
	if err := sess.Bye(ctx); err != nil {
		return call, fmt.Errorf("sipua: BYE: %w", err)
	}
	call.Total = time.Since(t0)
	return call, nil
}

func (p *Phone) sdp() []byte {
	a := p.Addr()
	return []byte("v=0\r\no=" + p.user + " 1 1 IN IP4 " + a.IP.String() + "\r\ns=-\r\nc=IN IP4 " + a.IP.String() +
		"\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	sess, err := p.dialogs.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, err.Error(), nil))
		return
	}
	if err := sess.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		return
	}
	time.Sleep(p.ring)
	// RespondSDP sends 200 OK and waits for the ACK (RFC 3261 §13.3.1.4);
	// the dialog then lives on until BYE.
	p.answered.Add(1)
	_ = sess.RespondSDP(p.sdp())
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := p.dialogs.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	p.ended.Add(1)
}
