package conformance

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/wire"
)

// The storage checks of RFC 6940 §7 (and the SIP usage's registrations,
// RFC 7904). Each uses a Kind the overlay's configuration defines
// (required-kinds, §11.1) with the access policy the check needs, and is
// skipped with the reason when the configuration does not define it.
// Setting-up Stores the tester is entitled to make (at the hash of its
// own Node-ID or user name) must succeed; when the target refuses one,
// the check is skipped with the answer, because what it was to test
// cannot be reached.

// The array index the checks rewrite at the tester's own
// CERTIFICATE_BY_NODE resource, always with the tester's certificate and a
// newer storage_time (storeTime), so that they leave the array as
// store.roundtrip made it: other checks append to it, and max-count is
// small (4 in a configuration `reload overlay init` writes).
const (
	indexTooOld     = 0
	indexReplay     = 0
	indexGeneration = 0
)

// storeTime is a storage_time later than every one the tester used in
// this run: now, or 1 ms after the last.
func (r *runner) storeTime() time.Time {
	t := r.now().Truncate(time.Millisecond)
	if !t.After(r.lastStore) {
		t = r.lastStore.Add(time.Millisecond)
	}
	r.lastStore = t
	return t
}

// unknownKind is a private-use Kind-ID (§14.6) the checks expect no
// configuration to define.
const unknownKind wire.KindID = 0xf0c0ffee

// kindFor returns the configuration's definition of kind with access
// policy ac, or the reason a check cannot use it.
func (r *runner) kindFor(kind wire.KindID, ac config.AccessControl) (config.KindInfo, string) {
	if r.storeSkip != "" {
		return config.KindInfo{}, r.storeSkip
	}
	kinds, err := r.o.Config.Kinds()
	if err != nil {
		return config.KindInfo{}, fmt.Sprintf("the configuration's required-kinds: %v", err)
	}
	info, ok := kinds.Lookup(uint32(kind))
	if !ok {
		return config.KindInfo{}, fmt.Sprintf("the overlay's configuration does not define %v", kind)
	}
	if info.AccessControl != ac {
		return config.KindInfo{}, fmt.Sprintf("the configuration gives %v access control %s, not %s", kind, info.AccessControl, ac)
	}
	return info, ""
}

// signedValue is a StoredData of v at res signed by the tester at t.
func (r *runner) signedValue(res wire.ResourceID, kind wire.KindID, v wire.StoredDataValue, t time.Time) (wire.StoredData, error) {
	sd := wire.StoredData{StorageTime: uint64(t.UnixMilli()), Lifetime: 600, Value: v}
	err := storage.Sign(r.o.Identity, res, kind, &sd)
	return sd, err
}

// storeRequest is a Store of values of kind at res with generation gen.
func (r *runner) storeRequest(res wire.ResourceID, kind wire.KindID, gen uint64, values ...wire.StoredData) (*request, error) {
	req := wire.StoreReq{Resource: res, KindData: []wire.StoreKindData{{Kind: kind, Generation: gen, Values: values}}}
	body, err := req.Append(nil)
	if err != nil {
		return nil, err
	}
	return r.newRequest(wire.CodeStoreReq, body, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(res)}
	}), nil
}

// store sends a Store of values of kind at res with generation gen.
func (r *runner) store(ctx context.Context, check, what string, res wire.ResourceID, kind wire.KindID, gen uint64, values ...wire.StoredData) (*reply, error) {
	q, err := r.storeRequest(res, kind, gen, values...)
	if err != nil {
		return nil, err
	}
	return r.ask(ctx, check, what, q, r.o.Timeout)
}

// fits says whether a Store of values stays within max-message-size, so
// that the target judges the values and not the message.
func (r *runner) fits(res wire.ResourceID, kind wire.KindID, values ...wire.StoredData) bool {
	q, err := r.storeRequest(res, kind, 0, values...)
	if err != nil {
		return false
	}
	raw, err := r.encode(q, nil)
	return err == nil && len(raw) <= r.maxMsg
}

// storeOK is a setting-up Store that must succeed: it returns the
// generation counter, or false after skipping res with the reason.
func (r *runner) storeOK(ctx context.Context, res *Result, check, what string, resID wire.ResourceID, kind wire.KindID, values ...wire.StoredData) (uint64, bool) {
	p, err := r.store(ctx, check, what, resID, kind, 0, values...)
	switch {
	case err != nil:
		res.Got = "connection failed"
		fail(res, "%s: %v", what, err)
		return 0, false
	case p == nil:
		res.Got = "nothing"
		fail(res, "%s: no answer within %v", what, r.o.Timeout)
		return 0, false
	case p.decErr != nil || p.msg.Contents.Code != wire.CodeStoreAns:
		res.Got = p.describe()
		skip(res, "the target refused a Store the tester is entitled to make (%s), so this check cannot be reached: %s", what, p.describe())
		return 0, false
	}
	var sa wire.StoreAns
	sa.IDLen = r.idLen
	if _, err := sa.Decode(p.msg.Contents.Body); err != nil || len(sa.KindResponses) == 0 {
		res.Got = p.describe()
		fail(res, "%s: StoreAns body: %v", what, err)
		return 0, false
	}
	return sa.KindResponses[0].Generation, true
}

// wantError passes res when p is the error code want, and fails it
// otherwise; it reports whether the answer was right.
func wantError(res *Result, p *reply, err error, want wire.ErrorCode, wait time.Duration) bool {
	switch {
	case err != nil:
		res.Got = "connection failed"
		fail(res, "%v", err)
		return false
	case p == nil:
		res.Got = "nothing"
		fail(res, "no %v within %v", want, wait)
		return false
	}
	res.Got = p.describe()
	code, ok := p.errorCode()
	switch {
	case !ok && p.decErr == nil && p.msg.Contents.Code == wire.CodeStoreAns:
		fail(res, "the target accepted the Store, want %v", want)
	case !ok:
		fail(res, "want %v", want)
	case code != want:
		fail(res, "answered %v, want %v", code, want)
	default:
		pass(res, "answered %v", code)
		return true
	}
	return false
}

// fetchValues fetches spec at res and returns the values of its Kind.
func (r *runner) fetchValues(ctx context.Context, check string, res wire.ResourceID, spec wire.StoredDataSpecifier) ([]wire.StoredData, *reply, error) {
	fr := wire.FetchReq{Resource: res, Specifiers: []wire.StoredDataSpecifier{spec}}
	body, err := fr.Append(nil)
	if err != nil {
		return nil, nil, err
	}
	q := r.newRequest(wire.CodeFetchReq, body, func(m *wire.Message) {
		m.Header.Destinations = []wire.Destination{wire.ResourceDest(res)}
	})
	p, err := r.ask(ctx, check, "Fetch", q, r.o.Timeout)
	if err != nil || p == nil {
		return nil, p, err
	}
	if p.decErr != nil || p.msg.Contents.Code != wire.CodeFetchAns {
		return nil, p, fmt.Errorf("the Fetch was answered %s", p.describe())
	}
	var fa wire.FetchAns
	if _, err := fa.Decode(p.msg.Contents.Body); err != nil {
		return nil, p, fmt.Errorf("FetchAns body: %w", err)
	}
	var out []wire.StoredData
	for _, kr := range fa.KindResponses {
		if kr.Kind == spec.Kind {
			out = append(out, kr.Values...)
		}
	}
	return out, p, nil
}

func arraySpec(kind wire.KindID, i uint32) wire.StoredDataSpecifier {
	return wire.StoredDataSpecifier{Kind: kind, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: i, Last: i}}}
}

// ownNodeResource is where NODE-MATCH lets the tester write.
func (r *runner) ownNodeResource() wire.ResourceID {
	return storage.NodeResourceID(storage.ChordHash, r.self)
}

func (r *runner) certValue(i uint32) wire.StoredDataValue {
	return wire.ArrayValue(i, r.o.Identity.Chain[0])
}

func checkStoreTooOld(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByNode, config.AccessNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	resID, now := r.ownNodeResource(), r.storeTime()
	res.Sent = fmt.Sprintf("Store at CERTIFICATE_BY_NODE index %d with storage_time now, then one with storage_time 10 s earlier", indexTooOld)
	sd, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexTooOld), now)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	if _, ok := r.storeOK(ctx, res, "store.too-old", "the first Store", resID, wire.KindCertificateByNode, sd); !ok {
		return
	}
	old, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexTooOld), now.Add(-10*time.Second))
	if err != nil {
		fail(res, "%v", err)
		return
	}
	p, err := r.store(ctx, "store.too-old", "Store with an older storage_time", resID, wire.KindCertificateByNode, 0, old)
	wantError(res, p, err, wire.ErrCodeDataTooOld, r.o.Timeout)
}

func checkStoreReplay(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByNode, config.AccessNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	resID := r.ownNodeResource()
	res.Sent = fmt.Sprintf("StoredData A (time t) then B (later) at CERTIFICATE_BY_NODE index %d, then A again, byte for byte", indexReplay)
	a, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexReplay), r.storeTime())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	b, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexReplay), r.storeTime())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	if _, ok := r.storeOK(ctx, res, "store.replay", "the Store of A", resID, wire.KindCertificateByNode, a); !ok {
		return
	}
	if _, ok := r.storeOK(ctx, res, "store.replay", "the Store of B", resID, wire.KindCertificateByNode, b); !ok {
		return
	}
	p, err := r.store(ctx, "store.replay", "replayed Store of A", resID, wire.KindCertificateByNode, 0, a)
	if !wantError(res, p, err, wire.ErrCodeDataTooOld, r.o.Timeout) {
		return
	}
	vals, _, err := r.fetchValues(ctx, "store.replay", resID, arraySpec(wire.KindCertificateByNode, indexReplay))
	if err != nil {
		fail(res, "the replay was refused, but the Fetch that follows failed: %v", err)
		return
	}
	for _, v := range vals {
		if v.Value.Index == indexReplay && v.StorageTime != b.StorageTime {
			fail(res, "the replay was refused, yet index %d now holds storage_time %d, not B's %d", indexReplay, v.StorageTime, b.StorageTime)
			return
		}
	}
	pass(res, "answered Error_Data_Too_Old, and B is still stored")
}

func checkStoreGeneration(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByNode, config.AccessNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	resID := r.ownNodeResource()
	res.Sent = "two Stores at CERTIFICATE_BY_NODE, then a third with a generation counter below the current one"
	var gen uint64
	for i := range 2 {
		sd, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexGeneration), r.storeTime())
		if err != nil {
			fail(res, "%v", err)
			return
		}
		g, ok := r.storeOK(ctx, res, "store.generation", fmt.Sprintf("Store %d", i+1), resID, wire.KindCertificateByNode, sd)
		if !ok {
			return
		}
		gen = g
	}
	if gen < 2 {
		fail(res, "generation counter %d after two Stores that changed the data (§7.4.1.1: it goes up with each)", gen)
		return
	}
	sd, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(indexGeneration), r.storeTime())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	res.Sent = fmt.Sprintf("two Stores at CERTIFICATE_BY_NODE (generation now %d), then a third with generation %d", gen, gen-1)
	p, err := r.store(ctx, "store.generation", "Store with a low generation counter", resID, wire.KindCertificateByNode, gen-1, sd)
	if !wantError(res, p, err, wire.ErrCodeGenerationCounterTooLow, r.o.Timeout) {
		return
	}
	// §7.4.1.2: the error_info MUST be a StoreAns with the current
	// generation counter of each Kind.
	re := wire.ParseErrorAnswer(p.msg.Contents.Body, wire.NodeID{})
	var sa wire.StoreAns
	sa.IDLen = r.idLen
	if _, err := sa.Decode(re.Info); err != nil {
		fail(res, "the error_info is not a StoreAns (§7.4.1.2 MUST): %v", err)
		return
	}
	for _, kr := range sa.KindResponses {
		if kr.Kind == wire.KindCertificateByNode {
			if kr.Generation < gen {
				fail(res, "the error_info gives generation %d, below the %d of the last Store", kr.Generation, gen)
				return
			}
			pass(res, "answered Error_Generation_Counter_Too_Low with the current generation %d in error_info", kr.Generation)
			return
		}
	}
	fail(res, "the error_info's StoreAns has no entry for CERTIFICATE_BY_NODE (§7.4.1.2 MUST)")
}

func checkStoreTooLarge(ctx context.Context, r *runner, res *Result) {
	info, why := r.kindFor(wire.KindCertificateByNode, config.AccessNodeMatch)
	if why != "" {
		skip(res, "%s", why)
		return
	}
	resID, now := r.ownNodeResource(), r.now()
	cert := r.o.Identity.Chain[0]
	var values []wire.StoredData
	if info.MaxSize > 0 {
		v := make([]byte, info.MaxSize+1)
		copy(v, cert)
		sd, err := r.signedValue(resID, wire.KindCertificateByNode, wire.ArrayValue(wire.ArrayAppendIndex, v), now)
		if err != nil {
			fail(res, "%v", err)
			return
		}
		if r.fits(resID, wire.KindCertificateByNode, sd) {
			values = append(values, sd)
			res.Sent = fmt.Sprintf("Store of a %d-byte CERTIFICATE_BY_NODE value (max-size %d)", len(v), info.MaxSize)
		}
	}
	if values == nil && info.MaxCount > 0 && info.MaxCount < 1000 {
		for i := range info.MaxCount + 1 {
			sd, err := r.signedValue(resID, wire.KindCertificateByNode, wire.ArrayValue(wire.ArrayAppendIndex, cert), now.Add(time.Duration(i)*time.Millisecond))
			if err != nil {
				fail(res, "%v", err)
				return
			}
			values = append(values, sd)
		}
		if r.fits(resID, wire.KindCertificateByNode, values...) {
			res.Sent = fmt.Sprintf("Store of %d CERTIFICATE_BY_NODE values (max-count %d)", len(values), info.MaxCount)
		} else {
			values = nil
		}
	}
	if values == nil {
		skip(res, "neither max-size (%d) nor max-count (%d) of CERTIFICATE_BY_NODE can be exceeded within max-message-size %d", info.MaxSize, info.MaxCount, r.maxMsg)
		return
	}
	p, err := r.store(ctx, "store.too-large", res.Sent, resID, wire.KindCertificateByNode, 0, values...)
	wantError(res, p, err, wire.ErrCodeDataTooLarge, r.o.Timeout)
}

func checkStoreUnknownKind(ctx context.Context, r *runner, res *Result) {
	if r.storeSkip != "" {
		skip(res, "%s", r.storeSkip)
		return
	}
	if kinds, err := r.o.Config.Kinds(); err == nil {
		if _, ok := kinds.Lookup(uint32(unknownKind)); ok {
			skip(res, "the configuration defines Kind %v, the one this check expects to be unknown", unknownKind)
			return
		}
	}
	resID := r.ownNodeResource()
	sd, err := r.signedValue(resID, unknownKind, wire.SingleValue([]byte("conformance")), r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	res.Sent = fmt.Sprintf("Store of Kind %#x, which the configuration does not define", uint32(unknownKind))
	p, err := r.store(ctx, "store.unknown-kind", res.Sent, resID, unknownKind, 0, sd)
	if !wantError(res, p, err, wire.ErrCodeUnknownKind, r.o.Timeout) {
		return
	}
	// §7.4.1.2: error_info lists every unrecognised Kind.
	re := wire.ParseErrorAnswer(p.msg.Contents.Body, wire.NodeID{})
	ids, err := storage.UnknownKinds(re.Info)
	if err != nil {
		fail(res, "error_info is not a list of Kind-IDs (§7.4.1.2): %v", err)
		return
	}
	for _, id := range ids {
		if id == unknownKind {
			pass(res, "answered Error_Unknown_Kind listing %#x", uint32(unknownKind))
			return
		}
	}
	fail(res, "error_info lists %v, not %#x (§7.4.1.2: all the unrecognised Kinds)", ids, uint32(unknownKind))
}

// expectForbidden sends one value of kind at resID and passes on
// Error_Forbidden.
func (r *runner) expectForbidden(ctx context.Context, res *Result, check string, resID wire.ResourceID, kind wire.KindID, v wire.StoredDataValue) {
	sd, err := r.signedValue(resID, kind, v, r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	p, err := r.store(ctx, check, res.Sent, resID, kind, 0, sd)
	wantError(res, p, err, wire.ErrCodeForbidden, r.o.Timeout)
}

// otherName is a resource name no certificate of the tester carries.
func otherName(overlay string) []byte {
	return fmt.Appendf(nil, "conformance-%016x@%s", rand64(), overlay)
}

func checkForbiddenUserMatch(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByUser, config.AccessUserMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	name := otherName(r.o.Config.InstanceName)
	res.Sent = fmt.Sprintf("Store of CERTIFICATE_BY_USER (USER-MATCH) under the hash of user %q, not ours", name)
	r.expectForbidden(ctx, res, "store.forbidden.user-match", storage.ChordHash(name), wire.KindCertificateByUser,
		wire.ArrayValue(wire.ArrayAppendIndex, r.o.Identity.Chain[0]))
}

func checkForbiddenUserNodeMatch(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindSIPRegistration, config.AccessUserNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	user := r.userName()
	if user == "" {
		skip(res, "the tester's certificate carries no user name (rfc822Name), which USER-NODE-MATCH needs")
		return
	}
	// The right resource, the wrong dictionary key: §7.3.3 requires the
	// key to be the signer's Node-ID.
	reg := wire.SipRegistration{Type: wire.SipRegistrationURI, URI: otherName(r.o.Config.InstanceName)}
	b, err := reg.Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	peer := r.peer
	res.Sent = fmt.Sprintf("Store of SIP-REGISTRATION (USER-NODE-MATCH) under our user %q with dictionary key %v, the target's Node-ID", user, peer)
	r.expectForbidden(ctx, res, "store.forbidden.user-node-match", storage.UserResourceID(storage.ChordHash, user), wire.KindSIPRegistration,
		wire.DictionaryValue(wire.DictionaryKey(peer.Bytes()), b))
}

func checkForbiddenNodeMultiple(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindTURNService, config.AccessNodeMultiple); why != "" {
		skip(res, "%s", why)
		return
	}
	// H(target's Node-ID || 1): whatever the encoding of i, never a
	// resource of the tester's.
	resID := storage.NodeMultipleResourceID(storage.ChordHash, r.peer, 1)
	ts := wire.TurnServer{Iteration: 1, ServerAddress: []byte{1, 6, 127, 0, 0, 1, 0x0d, 0x96}}
	b := append([]byte{ts.Iteration}, ts.ServerAddress...)
	res.Sent = "Store of TURN-SERVICE (NODE-MULTIPLE) under H(target's Node-ID || 1)"
	r.expectForbidden(ctx, res, "store.forbidden.node-multiple", resID, wire.KindTURNService, wire.SingleValue(b))
}

func (r *runner) userName() string {
	nc, err := r.trust.VerifyChainDER(r.o.Identity.Chain, r.now())
	if err != nil {
		return ""
	}
	return nc.User
}

func checkStoreForged(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByNode, config.AccessNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	resID := r.ownNodeResource()
	sd, err := r.signedValue(resID, wire.KindCertificateByNode, r.certValue(wire.ArrayAppendIndex), r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	// Change the value after signing: the request is signed correctly,
	// the StoredData's signature no longer matches its value.
	forged := append([]byte(nil), sd.Value.Value.Value...)
	forged[len(forged)-1] ^= 0x5a
	sd.Value.Value.Value = forged
	res.Sent = "Store at our CERTIFICATE_BY_NODE resource of a value changed after it was signed (request signature valid)"
	p, err := r.store(ctx, "store.forged", res.Sent, resID, wire.KindCertificateByNode, 0, sd)
	if !wantError(res, p, err, wire.ErrCodeForbidden, r.o.Timeout) {
		return
	}
	vals, _, err := r.fetchValues(ctx, "store.forged", resID, wire.StoredDataSpecifier{
		Kind: wire.KindCertificateByNode, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}})
	if err != nil {
		fail(res, "the forged value was refused, but the Fetch that follows failed: %v", err)
		return
	}
	for _, v := range vals {
		if bytes.Equal(v.Value.Value.Value, forged) {
			fail(res, "answered Error_Forbidden, yet a Fetch returns the forged value at index %d", v.Value.Index)
			return
		}
	}
	pass(res, "answered Error_Forbidden, and the forged value is not stored")
}

func checkStoreUserMatch(ctx context.Context, r *runner, res *Result) {
	if _, why := r.kindFor(wire.KindCertificateByUser, config.AccessUserMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	user := r.userName()
	if user == "" {
		skip(res, "the tester's certificate carries no user name, which USER-MATCH needs")
		return
	}
	resID := storage.UserResourceID(storage.ChordHash, user)
	sd, err := r.signedValue(resID, wire.KindCertificateByUser, wire.ArrayValue(wire.ArrayAppendIndex, r.o.Identity.Chain[0]), r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	res.Sent = fmt.Sprintf("Store of our certificate, CERTIFICATE_BY_USER (USER-MATCH), under our user %q; then Fetch", user)
	p, err := r.store(ctx, "store.user-match", "Store", resID, wire.KindCertificateByUser, 0, sd)
	if !answerOrFail(res, p, err, wire.CodeStoreAns, r.o.Timeout) {
		return
	}
	vals, fp, err := r.fetchValues(ctx, "store.user-match", resID, wire.StoredDataSpecifier{
		Kind: wire.KindCertificateByUser, Model: wire.ModelArray, Indices: []wire.ArrayRange{{First: 0, Last: wire.ArrayAppendIndex}}})
	if err != nil || fp == nil {
		res.Got = "StoreAns; Fetch failed"
		fail(res, "Fetch: %v", err)
		return
	}
	r.verifyReturned(res, fp, resID, wire.KindCertificateByUser, vals, sd.StorageTime, r.o.Identity.Chain[0])
}

// verifyReturned passes res when vals hold the value want stored at
// storage time t, its signature intact.
func (r *runner) verifyReturned(res *Result, fp *reply, resID wire.ResourceID, kind wire.KindID, vals []wire.StoredData, t uint64, want []byte) {
	for i := range vals {
		v := &vals[i]
		if !v.Value.Value.Exists || !bytes.Equal(v.Value.Value.Value, want) || v.StorageTime != t {
			continue
		}
		enc, err := v.Value.Append(nil)
		if err != nil {
			fail(res, "%v", err)
			return
		}
		res.Got = fmt.Sprintf("StoreAns; FetchAns with our value (%d bytes)", len(want))
		if _, err := r.verifier.VerifyData(resID, uint32(kind), v.StorageTime, enc, &v.Signature,
			fp.msg.Security.Certificates, security.Expect{NodeID: r.self}, r.now()); err != nil {
			fail(res, "the fetched value's signature does not verify: %v", err)
			return
		}
		pass(res, "stored and fetched back intact, signature intact")
		return
	}
	res.Got = fmt.Sprintf("StoreAns; FetchAns with %d values, none ours", len(vals))
	fail(res, "the stored value was not returned intact by Fetch")
}

func (r *runner) checkSIPRegistration(ctx context.Context, res *Result, check string, reg wire.SipRegistration) {
	if _, why := r.kindFor(wire.KindSIPRegistration, config.AccessUserNodeMatch); why != "" {
		skip(res, "%s", why)
		return
	}
	user := r.userName()
	if user == "" {
		skip(res, "the tester's certificate carries no user name, which SIP-REGISTRATION (USER-NODE-MATCH) needs")
		return
	}
	b, err := reg.Append(nil)
	if err != nil {
		fail(res, "%v", err)
		return
	}
	resID := storage.UserResourceID(storage.ChordHash, user)
	key := wire.DictionaryKey(r.self.Bytes())
	sd, err := r.signedValue(resID, wire.KindSIPRegistration, wire.DictionaryValue(key, b), r.now())
	if err != nil {
		fail(res, "%v", err)
		return
	}
	res.Sent = fmt.Sprintf("Store of a %v SIP-REGISTRATION under our AOR %q, key our Node-ID; then Fetch of that key", reg.Type, user)
	p, err := r.store(ctx, check, "Store", resID, wire.KindSIPRegistration, 0, sd)
	if !answerOrFail(res, p, err, wire.CodeStoreAns, r.o.Timeout) {
		return
	}
	vals, fp, err := r.fetchValues(ctx, check, resID, wire.StoredDataSpecifier{
		Kind: wire.KindSIPRegistration, Model: wire.ModelDictionary, Keys: []wire.DictionaryKey{key}})
	if err != nil || fp == nil {
		res.Got = "StoreAns; Fetch failed"
		fail(res, "Fetch: %v", err)
		return
	}
	for i := range vals {
		if !bytes.Equal(vals[i].Value.Key, key) {
			fail(res, "the Fetch of key %x returned key %x", []byte(key), []byte(vals[i].Value.Key))
			return
		}
	}
	r.verifyReturned(res, fp, resID, wire.KindSIPRegistration, vals, sd.StorageTime, b)
	if res.Status == Pass {
		res.Detail = "registration stored and fetched back byte for byte, signature intact"
	}
}

func checkSIPRegisterURI(ctx context.Context, r *runner, res *Result) {
	reg := wire.SipRegistration{Type: wire.SipRegistrationURI, URI: otherName(r.o.Config.InstanceName)}
	r.checkSIPRegistration(ctx, res, "sip.register-uri", reg)
}

func checkSIPRegisterRoute(ctx context.Context, r *runner, res *Result) {
	self := r.self
	reg := wire.SipRegistration{Type: wire.SipRegistrationRoute, ContactPrefs: []byte("(sip.schemes=SIP)"),
		Destinations: []wire.Destination{wire.NodeDest(&self)}}
	r.checkSIPRegistration(ctx, res, "sip.register-route", reg)
}
