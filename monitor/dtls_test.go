package monitor_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/goreload/reload/monitor"
	"github.com/goreload/reload/node/nodetest"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/transport"
	"github.com/goreload/reload/wire"
)

type peerVerifier struct{ v *security.Verifier }

func (p peerVerifier) VerifyPeer(chain []*x509.Certificate) ([]wire.NodeID, error) {
	nc, err := p.v.Trust().VerifyChain(chain, time.Now())
	if err != nil {
		return nil, err
	}
	return nc.NodeIDs, nil
}

// A DTLS peer that sends a data frame again under its old sequence
// number (a retransmission that §6.6.3.1 numbers anew) is reported: DTLS
// itself drops replayed records, so the frame was sent twice. The link
// is a real DTLS-UDP-SR-NO-ICE link with the monitor as its observer;
// the peer writes frames by hand over pion's DTLS.
func TestDTLSRetransmissionUnderSameSequence(t *testing.T) {
	ov, err := nodetest.NewOverlay("test.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ov.Identities(2)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := ov.Config.Trust()
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	mon := monitor.New(monitor.Config{Out: log, Self: ids[0].NodeID(), Verifier: security.NewVerifier(trust, 16)})
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cert := ids[0].TLSCertificate()
	type res struct {
		l   *transport.Link
		err error
	}
	done := make(chan res, 1)
	go func() {
		// The Attach requester is the DTLS server (§6.5.1.13).
		l, err := transport.NewDTLSLink(ctx, srv, cli.LocalAddr(), transport.Requester, ids[1].NodeID(),
			&transport.Config{Certificate: &cert, Verifier: peerVerifier{security.NewVerifier(trust, 16)}, Observer: mon})
		done <- res{l, err}
	}()
	pcert := ids[1].TLSCertificate()
	conn, err := dtls.ClientWithOptions(cli, srv.LocalAddr(),
		dtls.WithCertificates(pcert),
		dtls.WithInsecureSkipVerify(true), // the test plays the peer under test
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.l.Close()
	send := func(f wire.FramedMessage) {
		t.Helper()
		b, err := f.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	msg := []byte("a message")
	send(wire.FramedMessage{Type: wire.FrameData, Sequence: 0, Message: msg})
	send(wire.FramedMessage{Type: wire.FrameData, Sequence: 1, Message: msg})
	send(wire.FramedMessage{Type: wire.FrameData, Sequence: 1, Message: msg}) // again, same number
	send(wire.FramedMessage{Type: wire.FrameData, Sequence: 2, Message: msg})
	waitFor(t, 15*time.Second, "frame.seq-reused", func() bool { return mon.Count(monitor.FrameSeqReused) > 0 })
	// The link delivered all four: the monitor changed nothing.
	for range 4 {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := r.l.Receive(rctx)
		rcancel()
		if err != nil || string(m) != string(msg) {
			t.Fatalf("receive: %q, %v", m, err)
		}
	}
	if got := mon.Total(); got != 1 {
		t.Errorf("%d deviations, want 1:\n%s", got, log.String())
	}
	var d monitor.Deviation
	if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &d); err != nil {
		t.Fatal(err)
	}
	if d.Check != "frame.seq-reused" || d.Link != "DTLS-UDP-SR-NO-ICE" || d.Peer != ids[1].NodeID().String() || !strings.Contains(d.Section, "§6.6.3.1") {
		t.Errorf("line %+v", d)
	}
}
