package storage

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/goreload/reload/wire"
)

// Synthetic is the value a Fetch returns for a value the peer has no
// knowledge of (RFC 6940 §7.4.2.2): exists false, empty, with the empty
// signature (identity none, algorithm {0, 0}, no signature value).
func Synthetic(model wire.DataModel, index uint32, key wire.DictionaryKey) wire.StoredData {
	return wire.StoredData{
		Value:     wire.StoredDataValue{Model: model, Index: index, Key: key},
		Signature: wire.Signature{Algorithm: wire.AlgNone, Identity: wire.SignerIdentity{Type: wire.IdentityNone}},
	}
}

// HandleFetch handles a Fetch request (RFC 6940 §7.4.2) at now. The
// answer has one FetchKindResponse per specifier, in order. A specifier
// whose generation equals the stored counter gets no values; otherwise
// every selected value is returned as stored, with its lifetime lowered to
// what is left of it, and values the peer does not have are synthesised
// (Synthetic): a single value that is absent; array indices in the
// requested ranges up to the array's last index; requested dictionary
// keys. An empty list of dictionary keys selects every entry; an empty
// list of array ranges selects nothing.
//
// Errors: Error_Unknown_Kind listing every unknown Kind-ID;
// Error_Invalid_Message for an array range with first > last or ranges
// that overlap.
func (s *Store) HandleFetch(req *wire.FetchReq, now time.Time) (wire.FetchAns, error) {
	ans, _, err := s.HandleFetchCerts(req, now)
	return ans, err
}

// HandleFetchCerts is HandleFetch that also returns the certificates of
// the signers of the values in the answer, each once, for the answer's
// SecurityBlock: RFC 6940 §6.3.4 says the bucket must carry every
// certificate needed to verify the signatures inside the message, and
// §7.4.2.2 makes the fetching node verify every value.
func (s *Store) HandleFetchCerts(req *wire.FetchReq, now time.Time) (wire.FetchAns, []wire.GenericCertificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSpecifiers(req.Specifiers); err != nil {
		return wire.FetchAns{}, nil, err
	}
	nowMs := unixMillis(now)
	var certs [][]byte
	ans := wire.FetchAns{Models: s.kinds, KindResponses: make([]wire.FetchKindResponse, len(req.Specifiers))}
	for i := range req.Specifiers {
		kr := &ans.KindResponses[i]
		kr.Models, kr.Kind = s.kinds, req.Specifiers[i].Kind
		gen, err := s.selectValues(req.Resource, &req.Specifiers[i], nowMs, func(sd wire.StoredData, cert []byte) {
			kr.Values = append(kr.Values, sd)
			certs = appendCert(certs, cert)
		})
		if err != nil {
			return wire.FetchAns{}, nil, err
		}
		kr.Generation = gen
	}
	return ans, genericCerts(certs), nil
}

// StatHash is the hash algorithm of the MetaData a Stat returns.
const StatHash = wire.HashSHA256

// HandleStat handles a Stat request (RFC 6940 §7.4.3): the values a Fetch
// with the same specifiers would return, as metadata. hash_value is the
// SHA-256 of the DataValue's value with its 4-byte length prefix. Errors
// are those of HandleFetch.
func (s *Store) HandleStat(req *wire.StatReq, now time.Time) (wire.StatAns, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSpecifiers(req.Specifiers); err != nil {
		return wire.StatAns{}, err
	}
	nowMs := unixMillis(now)
	ans := wire.StatAns{Models: s.kinds, KindResponses: make([]wire.StatKindResponse, len(req.Specifiers))}
	for i := range req.Specifiers {
		kr := &ans.KindResponses[i]
		kr.Models, kr.Kind = s.kinds, req.Specifiers[i].Kind
		gen, err := s.selectValues(req.Resource, &req.Specifiers[i], nowMs, func(sd wire.StoredData, _ []byte) {
			kr.Values = append(kr.Values, metaData(&sd))
		})
		if err != nil {
			return wire.StatAns{}, err
		}
		kr.Generation = gen
	}
	return ans, nil
}

// metaData is the StoredMetaData of sd.
func metaData(sd *wire.StoredData) wire.StoredMetaData {
	v := sd.Value.Value.Value
	h := sha256.New()
	h.Write(wire.AppendU32(nil, uint32(len(v))))
	h.Write(v)
	return wire.StoredMetaData{
		StorageTime: sd.StorageTime,
		Lifetime:    sd.Lifetime,
		Metadata: wire.MetaDataValue{
			Model: sd.Value.Model, Index: sd.Value.Index, Key: sd.Value.Key,
			Value: wire.MetaData{Exists: sd.Value.Value.Exists, ValueLength: uint32(len(v)), HashAlgorithm: StatHash, HashValue: h.Sum(nil)},
		},
	}
}

// checkSpecifiers resolves the Kinds of the specifiers (re-decoding those
// decoded without their model) and checks array ranges.
func (s *Store) checkSpecifiers(specs []wire.StoredDataSpecifier) error {
	var unknown []wire.KindID
	for i := range specs {
		sp := &specs[i]
		k, ok := s.kinds.Lookup(sp.Kind)
		if !ok {
			if !slices.Contains(unknown, sp.Kind) {
				unknown = append(unknown, sp.Kind)
			}
			continue
		}
		if sp.Model != k.Model {
			if err := s.redecodeSpecifier(sp); err != nil {
				return err
			}
		}
		if k.Model == wire.ModelArray {
			if err := checkRanges(sp.Indices); err != nil {
				return err
			}
		}
	}
	if len(unknown) > 0 {
		return protoErr(wire.ErrCodeUnknownKind, unknownKindInfo(unknown), ErrUnknownKind, "%v", unknown)
	}
	return nil
}

// redecodeSpecifier decodes sp again with the Store's KindTable.
func (s *Store) redecodeSpecifier(sp *wire.StoredDataSpecifier) error {
	enc, err := sp.Append(nil)
	if err == nil {
		again := wire.StoredDataSpecifier{Models: s.kinds}
		if _, err = again.Decode(enc); err == nil {
			*sp = again
			return nil
		}
	}
	return protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "specifier of kind %v: %v", sp.Kind, err)
}

// checkRanges enforces RFC 6940 §7.4.2.1: first <= last, no overlaps.
func checkRanges(rs []wire.ArrayRange) error {
	for _, r := range rs {
		if r.First > r.Last {
			return protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "array range %d > %d", r.First, r.Last)
		}
	}
	if len(rs) < 2 {
		return nil
	}
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b wire.ArrayRange) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].First <= sorted[i-1].Last {
			return protoErr(wire.ErrCodeInvalidMessage, nil, ErrBadRequest, "array ranges overlap at %d", sorted[i].First)
		}
	}
	return nil
}

// selectValues calls fn with each value sp selects at res, as answered
// at nowMs, and returns the slot's generation counter.
func (s *Store) selectValues(res wire.ResourceID, sp *wire.StoredDataSpecifier, nowMs int64, fn func(sd wire.StoredData, cert []byte)) (uint64, error) {
	k, _ := s.kinds.Lookup(sp.Kind)
	gen, err := s.backend.Generation(res, k.ID)
	if err != nil {
		return 0, err
	}
	if sp.Generation != 0 && sp.Generation == gen {
		return gen, nil // the requester is up to date (§7.4.2.1)
	}
	var live []*Record
	err = s.backend.Scan(res, k.ID, func(r *Record) bool {
		if r.Expires > nowMs {
			live = append(live, r)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	switch k.Model {
	case wire.ModelSingle:
		if len(live) > 0 {
			fn(outgoing(live[len(live)-1], nowMs), live[len(live)-1].Cert)
		} else {
			fn(Synthetic(wire.ModelSingle, 0, nil), nil)
		}
	case wire.ModelArray:
		if len(live) == 0 {
			break
		}
		last := live[len(live)-1].Data.Value.Index
		for _, r := range sp.Indices {
			if r.First > last {
				continue
			}
			hi := min(r.Last, last)
			// live is sorted by index: find the first at or after r.First.
			j, _ := slices.BinarySearchFunc(live, r.First, func(rec *Record, idx uint32) int {
				switch {
				case rec.Data.Value.Index < idx:
					return -1
				case rec.Data.Value.Index > idx:
					return 1
				}
				return 0
			})
			for idx := r.First; ; idx++ {
				if j < len(live) && live[j].Data.Value.Index == idx {
					fn(outgoing(live[j], nowMs), live[j].Cert)
					j++
				} else {
					fn(Synthetic(wire.ModelArray, idx, nil), nil)
				}
				if idx == hi {
					break
				}
			}
		}
	case wire.ModelDictionary:
		if len(sp.Keys) == 0 {
			for _, r := range live {
				fn(outgoing(r, nowMs), r.Cert)
			}
			break
		}
		for _, key := range sp.Keys {
			j, found := slices.BinarySearchFunc(live, key, func(rec *Record, key wire.DictionaryKey) int {
				return bytes.Compare(rec.Data.Value.Key, key)
			})
			if found {
				fn(outgoing(live[j], nowMs), live[j].Cert)
			} else {
				fn(Synthetic(wire.ModelDictionary, 0, bytes.Clone(key)), nil)
			}
		}
	}
	return gen, nil
}
