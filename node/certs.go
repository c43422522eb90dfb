package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// The Certificate Store Usage (RFC 6940 §8) on a running node: once
// joined, the node stores its certificate under CERTIFICATE_BY_NODE at
// H(Node-ID) and CERTIFICATE_BY_USER at H(user name), and stores it again
// before the lifetime runs out; and when a signature names a certificate
// that is neither in the message's SecurityBlock nor cached (§6.3.4), it
// fetches the certificate from there, validates it against the overlay's
// trust anchors and adds it to the (bounded) certificate cache of the
// verifier.
const (
	// certLifetime is the lifetime of the stored certificates; they are
	// stored again after certRefresh, well before it ends.
	certLifetime = time.Hour
	certRefresh  = certLifetime / 2
	// certFetchTimeout bounds the fetch of one missing certificate;
	// maxCertFetches the fetches running at once (more are refused until
	// one ends: a flood of messages naming unknown certificates must not
	// turn into as many Fetches).
	certFetchTimeout = 10 * time.Second
	maxCertFetches   = 16
	// certFailHold is how long a certificate that could not be fetched is
	// not asked for again; at most maxCertFailures are remembered.
	certFailHold    = 30 * time.Second
	maxCertFailures = 1024
)

// certState is the node's Certificate Store Usage state. Safe for
// concurrent use.
type certState struct {
	once sync.Once
	// storedUntil is when this node's certificate, last stored under
	// CERTIFICATE_BY_NODE, expires there (unix nanoseconds; 0: not
	// stored).
	storedUntil atomic.Int64
	// fetched counts certificates fetched from the overlay and added.
	fetched atomic.Uint64

	mu       sync.Mutex
	inflight map[string]chan struct{}
	failed   map[string]time.Time
}

// certKey names the certificate a SignerIdentity names.
func certKey(sid *wire.SignerIdentity) string {
	return fmt.Sprintf("%d/%d/%x", sid.Type, sid.HashAlg, sid.Hash)
}

// CertificateStored reports whether this node's certificate is stored in
// the overlay under CERTIFICATE_BY_NODE (RFC 6940 §8): the last Store of
// it succeeded and its lifetime has not run out.
func (n *Node) CertificateStored() bool {
	return time.Now().UnixNano() < n.certs.storedUntil.Load()
}

// omitCertificate is the rule of Config.OmitCertificates for a request
// with code sent through the API: leave this node's certificate out once
// any receiver can fetch it, that is once it is stored in the overlay.
// Overlay maintenance (Join, Update, Leave, Attach, the host's replica
// Stores) always carries it: those go to neighbours and joining nodes,
// which may not yet route a Fetch.
func (n *Node) omitCertificate(code wire.MessageCode) bool {
	if !n.cfg.OmitCertificates || !n.CertificateStored() {
		return false
	}
	switch code {
	case wire.CodeJoinReq, wire.CodeLeaveReq, wire.CodeUpdateReq, wire.CodeAttachReq, wire.CodeRouteQueryReq, wire.CodeProbeReq, wire.CodeConfigUpdateReq:
		return false
	}
	return true
}

// startCertificateStore starts, once, the loop that stores this node's
// certificate and stores it again every certRefresh.
func (n *Node) startCertificateStore() {
	n.certs.once.Do(func() {
		n.async(func() {
			for {
				wait := certRefresh
				if err := n.storeCertificate(n.ctx); err != nil {
					if n.ctx.Err() != nil {
						return
					}
					// Retry sooner: the ring may still be settling.
					wait = 5 * time.Second
					n.log.Warn("storing this node's certificate (RFC 6940 §8) failed; retrying", "retry_in", wait, "err", err)
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-n.ctx.Done():
					t.Stop()
					return
				}
			}
		})
	})
}

// storeCertificate stores this node's certificate under
// CERTIFICATE_BY_NODE and CERTIFICATE_BY_USER (RFC 6940 §8). A
// certificate already in the array is stored again at its index (a
// refresh); a new one goes at the end of the list.
func (n *Node) storeCertificate(ctx context.Context) error {
	id := n.cfg.Identity
	der := id.Chain[0]
	h := n.store.Hash()
	var errs []error
	for _, t := range []struct {
		kind wire.KindID
		res  wire.ResourceID
	}{
		{wire.KindCertificateByNode, storage.NodeResourceID(h, id.NodeID())},
		{wire.KindCertificateByUser, storage.UserResourceID(h, id.Cert.User)},
	} {
		if t.kind == wire.KindCertificateByUser && id.Cert.User == "" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, certFetchTimeout)
		index := wire.ArrayAppendIndex
		if r, err := n.fetch(cctx, t.res, []wire.StoredDataSpecifier{storage.CertificateSpecifier(t.kind)}, false); err == nil {
			index = certIndex(r, der, index)
		}
		start := time.Now()
		v := wire.StoredDataValue{Model: wire.ModelArray, Index: index, Value: wire.DataValue{Exists: true, Value: der}}
		_, err := n.store1(cctx, t.res, t.kind, []wire.StoredDataValue{v}, certLifetime, false)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", t.kind, err))
			continue
		}
		if t.kind == wire.KindCertificateByNode {
			n.certs.storedUntil.Store(start.Add(certLifetime).UnixNano())
		}
	}
	return errors.Join(errs...)
}

// certIndex is the array index that holds der in a Fetch result, or def.
func certIndex(r *FetchResult, der []byte, def uint32) uint32 {
	for _, kr := range r.KindResponses {
		for _, sd := range kr.Values {
			if v := sd.Value.Value; v.Exists && string(v.Value) == string(der) {
				return sd.Value.Index
			}
		}
	}
	return def
}

// onCertificateNeeded is told (on the engine's loop) of a message dropped
// because its signer's certificate is unknown: it fetches the certificate
// in the background, and the sender's retransmission (§6.2.1) is then
// verified with it.
func (n *Node) onCertificateNeeded(need *security.CertificateNeededError) {
	if n.ctx.Err() != nil {
		return
	}
	need = &security.CertificateNeededError{Identity: need.Identity, Kind: need.Kind, NodeID: need.NodeID, User: need.User}
	n.async(func() {
		if err := n.FetchCertificate(n.ctx, need); err != nil && n.ctx.Err() == nil {
			n.log.Warn("signer certificate not obtained (RFC 6940 §6.3.4, §8); its messages are dropped", "signer", needName(need), "err", err)
		}
	})
}

func needName(need *security.CertificateNeededError) string {
	if !need.NodeID.IsZero() {
		return need.NodeID.String()
	}
	return need.User
}

// Errors of FetchCertificate.
var (
	ErrCertificateNotFound = errors.New("node: certificate not found in the Certificate Store (RFC 6940 §8)")
	ErrCertificateBusy     = errors.New("node: too many certificate fetches at once")
	ErrCertificateRecent   = errors.New("node: certificate fetch failed recently; not retried yet")
)

// FetchCertificate obtains the certificate need names (RFC 6940 §6.3.4):
// from the certificates this peer stores, else by a Fetch of
// CERTIFICATE_BY_NODE at H(Node-ID) (then CERTIFICATE_BY_USER at H(user)
// when need names a user). The certificate is validated against the
// overlay's trust anchors before the verifier caches it; one that does
// not validate is refused with the security error (Error_Forbidden).
// Concurrent calls for one certificate share one fetch.
func (n *Node) FetchCertificate(ctx context.Context, need *security.CertificateNeededError) error {
	key := certKey(&need.Identity)
	now := time.Now()
	n.certs.mu.Lock()
	if n.certs.inflight == nil {
		n.certs.inflight, n.certs.failed = map[string]chan struct{}{}, map[string]time.Time{}
	}
	if until, ok := n.certs.failed[key]; ok {
		if now.Before(until) {
			n.certs.mu.Unlock()
			return ErrCertificateRecent
		}
		delete(n.certs.failed, key)
	}
	if ch, ok := n.certs.inflight[key]; ok {
		n.certs.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(n.certs.inflight) >= maxCertFetches {
		n.certs.mu.Unlock()
		return ErrCertificateBusy
	}
	ch := make(chan struct{})
	n.certs.inflight[key] = ch
	n.certs.mu.Unlock()

	err := n.fetchCertificate(ctx, need)
	n.certs.mu.Lock()
	delete(n.certs.inflight, key)
	if err != nil && ctx.Err() == nil {
		if len(n.certs.failed) >= maxCertFailures {
			clear(n.certs.failed)
		}
		n.certs.failed[key] = time.Now().Add(certFailHold)
	}
	n.certs.mu.Unlock()
	close(ch)
	return err
}

func (n *Node) fetchCertificate(ctx context.Context, need *security.CertificateNeededError) error {
	now := time.Now()
	if der, ok, err := n.store.LocalCertificate(&need.Identity, now); err == nil && ok {
		if _, err := n.verifier.AddCertificate([][]byte{der}, now); err == nil {
			return nil
		}
	}
	var tries []*security.CertificateNeededError
	if !need.NodeID.IsZero() {
		tries = append(tries, &security.CertificateNeededError{NodeID: need.NodeID})
	}
	if need.User != "" {
		tries = append(tries, &security.CertificateNeededError{User: need.User})
	}
	if len(tries) == 0 {
		return fmt.Errorf("%w: the signature names no Node-ID or user to look it up by", ErrCertificateNotFound)
	}
	var errs []error
	for _, t := range tries {
		res, kind, _ := storage.CertificateResource(n.store.Hash(), t)
		// The certificate is taken from the answer as it came, not
		// after the values' signatures are checked: it is trusted for
		// chaining to the overlay's CA (below), whoever stored it, and
		// its own signature is what VerifyFetch would need it for.
		req := wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{storage.CertificateSpecifier(kind)}}
		fa := wire.FetchAns{Models: n.kinds}
		fctx, cancel := context.WithTimeout(ctx, certFetchTimeout)
		a, err := n.resourceAnswer(fctx, res, wire.CodeFetchReq, &req, &fa, false)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("fetch %v: %w", kind, err))
			continue
		}
		var values []wire.StoredData
		for _, kr := range fa.KindResponses {
			if kr.Kind == kind {
				values = append(values, kr.Values...)
			}
		}
		der, ok := storage.MatchCertificate(&need.Identity, values)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %v at %v from %v", ErrCertificateNotFound, kind, res, a.Signer.NodeID))
			continue
		}
		// Validated here against the overlay's CA: a certificate that
		// someone stored is not trusted for being stored.
		if _, err := n.verifier.AddCertificate([][]byte{der}, time.Now()); err != nil {
			return fmt.Errorf("fetched certificate refused: %w", err)
		}
		n.certs.fetched.Add(1)
		return nil
	}
	return errors.Join(errs...)
}

// maxSignerFetches bounds the certificates fetched for the values of one
// Fetch answer.
const maxSignerFetches = 8

// fetchSignerCertificates fetches the missing certificates (§6.3.4) of
// the signers of values VerifyFetch discarded, where the value names its
// signer: a dictionary entry keyed by a Node-ID, as USER-NODE-MATCH Kinds
// (SIP-REGISTRATION, RFC 7904 §3.2) key an entry by the Node-ID that
// stored it. The certificate is looked up under CERTIFICATE_BY_NODE and
// must be the one the signature names. It reports whether any was added.
func (n *Node) fetchSignerCertificates(ctx context.Context, ds []storage.Discarded) bool {
	added, tried := false, 0
	for _, d := range ds {
		need, ok := errors.AsType[*security.CertificateNeededError](d.Err)
		if !ok || d.Model != wire.ModelDictionary || tried >= maxSignerFetches {
			continue
		}
		id, err := wire.NodeIDFromBytes(d.Key)
		if err != nil || (n.cfg.Overlay.NodeIDLength > 0 && id.Len() != n.cfg.Overlay.NodeIDLength) {
			continue
		}
		tried++
		err = n.FetchCertificate(ctx, &security.CertificateNeededError{Identity: need.Identity, Kind: security.KindCertificateByNode, NodeID: id})
		if err != nil {
			n.log.Warn("certificate of a fetched value's signer not obtained (RFC 6940 §6.3.4, §8)", "signer", id.String(), "err", err)
			continue
		}
		added = true
	}
	return added
}

// requestOptions are the options of a request with code sent through the
// API; omit false keeps this node's certificate in whatever the rule.
func (n *Node) requestOptions(code wire.MessageCode, omit bool) forwarding.RequestOptions {
	return forwarding.RequestOptions{OmitOwnCertificate: omit && n.omitCertificate(code)}
}
