package wire

import (
	"bytes"
	"errors"
	"testing"
)

// kindModelMap is a test configuration of Kind data models.
type kindModelMap map[KindID]DataModel

func (m kindModelMap) Model(k KindID) (DataModel, bool) {
	d, ok := m[k]
	return d, ok
}

// Expected values of the body vectors (see the .hex files for the bytes).
var (
	storeKindDataYWant = StoreKindData{Kind: KindCertificateByNode, Generation: 107, Values: []StoredData{
		{StorageTime: 0x0000_0189_3e4c_5a01, Lifetime: 86400, Value: ArrayValue(0, []byte("foo")), Signature: storeSig},
		{StorageTime: 0x0000_0189_3e4c_5a02, Lifetime: 33200, Value: ArrayValue(1, []byte("bar")), Signature: storeSig},
	}}
	storeReqWant = StoreReq{Resource: ResourceID{0x12, 0x34}, KindData: []StoreKindData{
		{Kind: KindTURNService, Generation: 99, Values: []StoredData{storedDataWant}},
		storeKindDataYWant,
	}}
	// the values of the private-use Kind 0xf0000001 in
	// store_req_unknown_kind.hex, when configured as a dictionary
	unknownKindValue = StoredData{
		StorageTime: 0x0000_0189_3e4c_5a03, Lifetime: 3600,
		Value: DictionaryValue(DictionaryKey("k"), []byte("v")), Signature: storeSig,
	}
	replica1              = MustNodeID(storeHex("00112233445566778899aabbccddeeff"))
	replica2              = MustNodeID(storeHex("ffeeddccbbaa99887766554433221100"))
	storeKindResponseWant = StoreKindResponse{Kind: KindSIPRegistration, Generation: 5, Replicas: []NodeID{replica1, replica2}}
	storeAnsWant          = StoreAns{KindResponses: []StoreKindResponse{
		storeKindResponseWant,
		{Kind: KindCertificateByNode, Generation: 256},
	}}
	fetchReqWant = FetchReq{Resource: ResourceID{0x12, 0x34}, Specifiers: []StoredDataSpecifier{
		{Kind: KindTURNService, Model: ModelSingle},
		specifierArrayWant,
		{Kind: KindSIPRegistration, Model: ModelDictionary, Generation: 9, Keys: []DictionaryKey{DictionaryKey("key1"), {}}},
		{Kind: 0xf0000002, Model: ModelInvalid, Raw: []byte{0xde, 0xad}},
	}}
	fetchKindResponseWant = FetchKindResponse{Kind: KindCertificateByNode, Generation: 108, Values: []StoredData{
		{Value: StoredDataValue{Model: ModelArray}, Signature: storeSigNone},
		{StorageTime: 0x0000_0189_3e4c_5a02, Lifetime: 33200, Value: ArrayValue(1, []byte("bar")), Signature: storeSig},
	}}
	statReqWant = StatReq{Resource: ResourceID{0x12, 0x34}, Specifiers: []StoredDataSpecifier{
		{Kind: KindCoAPCaching, Model: ModelSingle, Generation: 4},
		{Kind: KindREDIR, Model: ModelDictionary},
	}}
	statKindResponseWant = StatKindResponse{Kind: KindCertificateByNode, Generation: 108, Values: []StoredMetaData{storedMetaDataWant}}
	statAnsWant          = StatAns{KindResponses: []StatKindResponse{statKindResponseWant}}
	findReqWant          = FindReq{Resource: ResourceID{0x12, 0x34}, Kinds: []KindID{KindSIPRegistration, KindCertificateByNode, KindREDIR}}
	findKindDataWant     = FindKindData{Kind: KindSIPRegistration, Closest: ResourceID{0x12, 0x34, 0x56}}
	findAnsWant          = FindAns{Results: []FindKindData{findKindDataWant, {Kind: 0xf0000001, Closest: ResourceID{}}}}
)

// unknownKindRaw is the raw values list of store_req_unknown_kind.hex.
func unknownKindRaw(t testing.TB) []byte { return loadVector(t, "store_req_unknown_kind")[23:] }

// checkErrAt checks the sentinel, path and offset of a decode error.
func checkErrAt(t *testing.T, err, want error, path string, off int) {
	t.Helper()
	var de *DecodeError
	if !errors.Is(err, want) || !errors.As(err, &de) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if de.Path != path || (off >= 0 && de.Offset != off) {
		t.Errorf("error at %q byte %d, want %q byte %d", de.Path, de.Offset, path, off)
	}
}

// checkStoredDataModels is the fuzz invariant of a decoded values list: a
// Kind IANA knows has values of its model and no raw list; any other has
// only the raw list.
func checkStoredDataModels(t *testing.T, kind KindID, values []StoredData, raw []byte) {
	t.Helper()
	m := lookupModel(nil, kind)
	if m == ModelInvalid {
		if len(values) != 0 || raw == nil {
			t.Fatalf("unknown %v: %d values, raw %x", kind, len(values), raw)
		}
		return
	}
	if raw != nil {
		t.Fatalf("known %v kept raw", kind)
	}
	for i := range values {
		if values[i].Value.Model != m {
			t.Fatalf("%v values[%d] has model %v, want %v", kind, i, values[i].Value.Model, m)
		}
	}
}

// StoreKindData

func TestDecodeStoreKindData(t *testing.T) {
	checkGolden(t, loadVector(t, "store_kind_data"), &storeKindDataYWant)
}

func TestAppendStoreKindData(t *testing.T) {
	k := StoreKindData{Kind: 0xf0000001, Values: storeKindDataYWant.Values, RawValues: []byte{1}}
	_, err := k.Append(nil)
	var de *DecodeError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "values" {
		t.Errorf("values and raw values: err = %v", err)
	}
	k = StoreKindData{Kind: KindCertificateByNode, Values: []StoredData{{}}}
	if _, err = k.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "values[0].value.model" {
		t.Errorf("value without model: err = %v", err)
	}
}

func TestDecodeStoreKindDataTruncated(t *testing.T) {
	checkTruncated[StoreKindData](t, loadVector(t, "store_kind_data"))
}

func TestDecodeStoreKindDataMalformed(t *testing.T) {
	checkMalformed[StoreKindData](t, []malformedCase{
		{"values past end", "00000003 0000000000000000 00000001", ErrTruncated, "values"},
		{"partial value", "00000003 0000000000000000 00000002 0000", ErrTruncated, "values[0].length"},
		{"value exists", "00000003 0000000000000000 00000015 00000011 0000000000000000 00000000 00000000 02",
			ErrInvalid, "values[0].value.array_entry.value.exists"},
	})
}

func FuzzDecodeStoreKindData(f *testing.F) {
	f.Add(loadVector(f, "store_kind_data"))
	f.Add(loadVector(f, "store_req_unknown_kind")[7:])
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[StoreKindData](t, b, false)
		var k StoreKindData
		if _, err := k.Decode(b); err == nil {
			checkStoredDataModels(t, k.Kind, k.Values, k.RawValues)
		}
	})
}

// StoreReq

func TestDecodeStoreReq(t *testing.T) {
	checkGolden(t, loadVector(t, "store_req"), &storeReqWant)
}

func TestDecodeStoreReqUnknownKind(t *testing.T) {
	vec := loadVector(t, "store_req_unknown_kind")
	t.Run("raw", func(t *testing.T) {
		want := StoreReq{Resource: ResourceID{0xab}, ReplicaNumber: 1, KindData: []StoreKindData{
			{Kind: 0xf0000001, Generation: 1, RawValues: unknownKindRaw(t)},
		}}
		checkGolden(t, vec, &want)
	})
	t.Run("configured", func(t *testing.T) {
		models := kindModelMap{0xf0000001: ModelDictionary}
		got := StoreReq{Models: models}
		if _, err := got.Decode(vec); err != nil {
			t.Fatal(err)
		}
		want := StoreReq{Models: models, Resource: ResourceID{0xab}, ReplicaNumber: 1, KindData: []StoreKindData{
			{Models: models, Kind: 0xf0000001, Generation: 1, Values: []StoredData{unknownKindValue}},
		}}
		if !equalish(&got, &want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if got.KindData[0].RawValues != nil {
			t.Error("RawValues set for a configured Kind")
		}
		enc, err := got.Append(nil)
		if err != nil || !bytes.Equal(enc, vec) {
			t.Errorf("Append = %x, %v", enc, err)
		}
	})
	t.Run("configured model not decodable", func(t *testing.T) {
		got := StoreReq{Models: kindModelMap{0xf0000001: DataModel(4)}}
		if _, err := got.Decode(vec); err != nil || !bytes.Equal(got.KindData[0].RawValues, unknownKindRaw(t)) {
			t.Errorf("err = %v, raw = %x", err, got.KindData[0].RawValues)
		}
	})
	t.Run("configured as array", func(t *testing.T) {
		// The dictionary bytes do not parse as an array entry.
		got := StoreReq{Models: kindModelMap{0xf0000001: ModelArray}}
		_, err := got.Decode(vec)
		checkErrAt(t, err, ErrTruncated, "StoreReq.kind_data[0].values[0].value.array_entry.value.value", 44)
	})
}

func TestDecodeStoreReqReuse(t *testing.T) {
	var got StoreReq
	big := storeReq10()
	enc, _ := big.Append(nil)
	if _, err := got.Decode(enc); err != nil {
		t.Fatal(err)
	}
	got.KindData[0].RawValues = []byte("stale")
	if _, err := got.Decode(loadVector(t, "store_req")); err != nil {
		t.Fatal(err)
	}
	if !equalish(&got, &storeReqWant) {
		t.Errorf("decoding into a reused StoreReq:\n got %+v\nwant %+v", got, storeReqWant)
	}
}

func TestAppendStoreReq(t *testing.T) {
	r := StoreReq{Resource: make(ResourceID, 256)}
	var de *DecodeError
	if _, err := r.Append(nil); !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "StoreReq.resource" {
		t.Errorf("long resource: err = %v", err)
	}
	r = StoreReq{KindData: []StoreKindData{{}, {Values: []StoredData{{}}}}}
	if _, err := r.Append(nil); !errors.As(err, &de) || de.Path != "StoreReq.kind_data[1].values[0].value.model" {
		t.Errorf("bad value: err = %v", err)
	}
}

func TestDecodeStoreReqTruncated(t *testing.T) {
	checkTruncated[StoreReq](t, loadVector(t, "store_req"))
	checkTruncated[StoreReq](t, loadVector(t, "store_req_unknown_kind"))
}

func TestDecodeStoreReqMalformed(t *testing.T) {
	checkMalformed[StoreReq](t, []malformedCase{
		{"resource past end", "05 1234", ErrTruncated, "StoreReq.resource"},
		{"no replica_number", "01 12", ErrTruncated, "StoreReq.replica_number"},
		{"trailing byte", "01 12 00 00000000 00", ErrTrailingData, "StoreReq"},
		{"partial kind_data", "01 12 00 00000004 00000002", ErrTruncated, "StoreReq.kind_data[0].generation_counter"},
	})
	vec := loadVector(t, "store_req")
	vec[100] = 2 // kind_data[1].values[0].value.array_entry.value.exists
	_, err := new(StoreReq).Decode(vec)
	checkErrAt(t, err, ErrInvalid, "StoreReq.kind_data[1].values[0].value.array_entry.value.exists", 100)
}

func FuzzDecodeStoreReq(f *testing.F) {
	f.Add(loadVector(f, "store_req"))
	f.Add(loadVector(f, "store_req_unknown_kind"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[StoreReq](t, b, true)
		var r StoreReq
		if _, err := r.Decode(b); err == nil {
			for i := range r.KindData {
				checkStoredDataModels(t, r.KindData[i].Kind, r.KindData[i].Values, r.KindData[i].RawValues)
			}
		}
	})
}

// storeReq10 is a StoreReq of one array Kind with 10 values of 100 bytes.
func storeReq10() StoreReq {
	r := StoreReq{Resource: ResourceIDFromName("alice"), KindData: []StoreKindData{{Kind: KindCertificateByNode, Generation: 7}}}
	for i := range 10 {
		r.KindData[0].Values = append(r.KindData[0].Values, StoredData{
			StorageTime: 1_700_000_000_000 + uint64(i),
			Lifetime:    3600,
			Value:       ArrayValue(uint32(i), bytes.Repeat([]byte{byte(i)}, 100)),
			Signature:   storeSig,
		})
	}
	return r
}

func TestStoreReqZeroAlloc(t *testing.T) {
	r := storeReq10()
	enc, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got StoreReq
	if _, err := got.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if !equalish(&got, &r) {
		t.Fatalf("got %+v", got)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := got.Decode(enc); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Decode into a reused StoreReq: %v allocs, want 0", n)
	}
	buf := make([]byte, 0, len(enc))
	if n := testing.AllocsPerRun(100, func() {
		if buf, err = got.Append(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Append into a buffer with room: %v allocs, want 0", n)
	}
}

func TestFetchAnsZeroAlloc(t *testing.T) {
	vec := loadVector(t, "fetch_ans")
	var got FetchAns
	if _, err := got.Decode(vec); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = got.Decode(vec) }); n != 0 {
		t.Errorf("Decode into a reused FetchAns: %v allocs, want 0", n)
	}
}

func BenchmarkDecodeStoreReq10(b *testing.B) {
	r := storeReq10()
	enc, err := r.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	var got StoreReq
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := got.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendStoreReq10(b *testing.B) {
	r := storeReq10()
	buf := make([]byte, 0, r.Len())
	b.ReportAllocs()
	b.SetBytes(int64(r.Len()))
	for b.Loop() {
		var err error
		if buf, err = r.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// StoreKindResponse and StoreAns

func TestDecodeStoreKindResponse(t *testing.T) {
	checkGolden(t, loadVector(t, "store_kind_response"), &storeKindResponseWant)
}

func TestAppendStoreKindResponse(t *testing.T) {
	r := StoreKindResponse{IDLen: 20, Replicas: []NodeID{replica1}}
	var de *DecodeError
	if _, err := r.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "replicas[0]" {
		t.Errorf("16-byte replica with IDLen 20: err = %v", err)
	}
	r = StoreKindResponse{Replicas: []NodeID{{}}}
	if _, err := r.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero NodeID: err = %v", err)
	}
}

func TestDecodeStoreKindResponseTruncated(t *testing.T) {
	checkTruncated[StoreKindResponse](t, loadVector(t, "store_kind_response"))
}

func TestDecodeStoreKindResponseMalformed(t *testing.T) {
	checkMalformed[StoreKindResponse](t, []malformedCase{
		{"partial replica", "00000001 0000000000000000 0011 00112233445566778899aabbccddeeff 00", ErrTruncated, "replicas[1]"},
		{"replicas past end", "00000001 0000000000000000 0010 00", ErrTruncated, "replicas"},
	})
}

func FuzzDecodeStoreKindResponse(f *testing.F) {
	f.Add(loadVector(f, "store_kind_response"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[StoreKindResponse](t, b, false)
		var r StoreKindResponse
		if _, err := r.Decode(b); err == nil {
			for i := range r.Replicas {
				if r.Replicas[i].Len() != DefaultNodeIDLen {
					t.Fatalf("replica of %d bytes", r.Replicas[i].Len())
				}
			}
		}
	})
}

func TestDecodeStoreAns(t *testing.T) {
	checkGolden(t, loadVector(t, "store_ans"), &storeAnsWant)
}

func TestDecodeStoreAnsIDLen(t *testing.T) {
	id20 := MustNodeID(bytes.Repeat([]byte{0x5a}, 20))
	in := StoreAns{IDLen: 20, KindResponses: []StoreKindResponse{{IDLen: 20, Kind: 1, Replicas: []NodeID{id20, id20}}}}
	enc, err := in.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := StoreAns{IDLen: 20}
	if _, err := got.Decode(enc); err != nil || !equalish(&got, &in) {
		t.Errorf("IDLen 20: err = %v, got %+v", err, got)
	}
	// The same bytes read with 16-byte Node-IDs: 40 is not a multiple of 16.
	_, err = new(StoreAns).Decode(enc)
	checkErrAt(t, err, ErrTruncated, "StoreAns.kind_responses[0].replicas[2]", 2+14+32)
	bad := StoreAns{IDLen: 3}
	_, err = bad.Decode(enc)
	checkErrAt(t, err, ErrInvalid, "StoreAns.kind_responses[0].replicas[0]", 16)
}

func TestAppendStoreAns(t *testing.T) {
	a := StoreAns{KindResponses: make([]StoreKindResponse, 0x10000/14+1)}
	if _, err := a.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeStoreAnsTruncated(t *testing.T) {
	checkTruncated[StoreAns](t, loadVector(t, "store_ans"))
}

func TestDecodeStoreAnsMalformed(t *testing.T) {
	checkMalformed[StoreAns](t, []malformedCase{
		{"trailing byte", "0000 00", ErrTrailingData, "StoreAns"},
		{"partial response", "0004 00000001", ErrTruncated, "StoreAns.kind_responses[0].generation_counter"},
		{"replicas past response", "000e 00000001 0000000000000000 0010", ErrTruncated, "StoreAns.kind_responses[0].replicas"},
	})
}

func FuzzDecodeStoreAns(f *testing.F) {
	f.Add(loadVector(f, "store_ans"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[StoreAns](t, b, true) })
}

// FetchReq and StatReq

func TestDecodeFetchReq(t *testing.T) {
	checkGolden(t, loadVector(t, "fetch_req"), &fetchReqWant)
}

func TestDecodeFetchReqConfigured(t *testing.T) {
	models := kindModelMap{0xf0000002: ModelSingle, KindTURNService: ModelArray}
	got := FetchReq{Models: models}
	_, err := got.Decode(loadVector(t, "fetch_req"))
	// TURN-SERVICE is now an array Kind: its empty model_specifier lacks
	// the indices list.
	checkErrAt(t, err, ErrTruncated, "FetchReq.specifiers[0].model_specifier.indices", 5+14)
	models[KindTURNService] = ModelSingle
	models[0xf0000002] = ModelDictionary
	got = FetchReq{Models: models}
	_, err = got.Decode(loadVector(t, "fetch_req"))
	// 0xf0000002's "de ad" is not a keys list.
	checkErrAt(t, err, ErrTruncated, "FetchReq.specifiers[3].model_specifier.keys", 5+14+32+24+14)
}

func TestAppendFetchReq(t *testing.T) {
	f := FetchReq{Specifiers: []StoredDataSpecifier{{Model: ModelSingle, Keys: []DictionaryKey{{}}}}}
	var de *DecodeError
	if _, err := f.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "FetchReq.specifiers[0].model_specifier" {
		t.Errorf("err = %v", err)
	}
	f = FetchReq{Resource: make(ResourceID, 256)}
	if _, err := f.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeFetchReqTruncated(t *testing.T) {
	checkTruncated[FetchReq](t, loadVector(t, "fetch_req"))
}

func TestDecodeFetchReqMalformed(t *testing.T) {
	checkMalformed[FetchReq](t, []malformedCase{
		{"resource past end", "03 1234", ErrTruncated, "FetchReq.resource"},
		{"trailing byte", "00 0000 00", ErrTrailingData, "FetchReq"},
		{"specifier", "00 0010 00000002 0000000000000000 0002 0000", ErrTrailingData, "FetchReq.specifiers[0].model_specifier"},
	})
	_, err := new(FetchReq).Decode(storeHex("01 ff 0000 00"))
	checkErrAt(t, err, ErrTrailingData, "FetchReq", 4)
}

func FuzzDecodeFetchReq(f *testing.F) {
	f.Add(loadVector(f, "fetch_req"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[FetchReq](t, b, true) })
}

func TestDecodeStatReq(t *testing.T) {
	checkGolden(t, loadVector(t, "stat_req"), &statReqWant)
}

func TestAppendStatReq(t *testing.T) {
	s := StatReq{Specifiers: []StoredDataSpecifier{{Model: ModelArray, Raw: []byte{1}}}}
	var de *DecodeError
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "StatReq.specifiers[0].model_specifier" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeStatReqTruncated(t *testing.T) {
	checkTruncated[StatReq](t, loadVector(t, "stat_req"))
}

func TestDecodeStatReqMalformed(t *testing.T) {
	checkMalformed[StatReq](t, []malformedCase{
		{"resource past end", "01", ErrTruncated, "StatReq.resource"},
		{"trailing byte", "00 0000 00", ErrTrailingData, "StatReq"},
		{"specifier", "00 0004 00000002", ErrTruncated, "StatReq.specifiers[0].generation"},
	})
}

func FuzzDecodeStatReq(f *testing.F) {
	f.Add(loadVector(f, "stat_req"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[StatReq](t, b, true) })
}

// FetchKindResponse and FetchAns

func TestDecodeFetchKindResponse(t *testing.T) {
	checkGolden(t, loadVector(t, "fetch_kind_response"), &fetchKindResponseWant)
}

func TestAppendFetchKindResponse(t *testing.T) {
	f := FetchKindResponse{Values: []StoredData{{Value: SingleValue(nil)}}, RawValues: []byte{0}}
	if _, err := f.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestDecodeFetchKindResponseTruncated(t *testing.T) {
	checkTruncated[FetchKindResponse](t, loadVector(t, "fetch_kind_response"))
}

func TestDecodeFetchKindResponseMalformed(t *testing.T) {
	checkMalformed[FetchKindResponse](t, []malformedCase{
		{"generation", "00000003 00000000", ErrTruncated, "generation"},
		{"value signature", "00000003 0000000000000000 0000001c 00000018 0000000000000000 00000000 00000000 0000000000 0000 03 0001",
			ErrTruncated, "values[0].signature.identity.length"},
	})
}

func FuzzDecodeFetchKindResponse(f *testing.F) {
	f.Add(loadVector(f, "fetch_kind_response"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[FetchKindResponse](t, b, false)
		var k FetchKindResponse
		if _, err := k.Decode(b); err == nil {
			checkStoredDataModels(t, k.Kind, k.Values, k.RawValues)
		}
	})
}

func TestDecodeFetchAns(t *testing.T) {
	want := FetchAns{KindResponses: []FetchKindResponse{
		fetchKindResponseWant,
		{Kind: 0xf0000001, Generation: 2, RawValues: unknownKindRaw(t)},
	}}
	checkGolden(t, loadVector(t, "fetch_ans"), &want)
}

func TestDecodeFetchAnsConfigured(t *testing.T) {
	models := kindModelMap{0xf0000001: ModelDictionary, KindCertificateByNode: ModelArray}
	got := FetchAns{Models: models}
	vec := loadVector(t, "fetch_ans")
	if _, err := got.Decode(vec); err != nil {
		t.Fatal(err)
	}
	if r := got.KindResponses[1]; r.RawValues != nil || len(r.Values) != 1 || !equalish(&r.Values[0], &unknownKindValue) || r.Models == nil {
		t.Errorf("configured Kind: %+v", r)
	}
	if enc, err := got.Append(nil); err != nil || !bytes.Equal(enc, vec) {
		t.Errorf("Append = %x, %v", enc, err)
	}
}

func TestAppendFetchAns(t *testing.T) {
	f := FetchAns{KindResponses: []FetchKindResponse{{}, {Values: []StoredData{{}}}}}
	var de *DecodeError
	if _, err := f.Append(nil); !errors.As(err, &de) || de.Path != "FetchAns.kind_responses[1].values[0].value.model" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeFetchAnsTruncated(t *testing.T) {
	checkTruncated[FetchAns](t, loadVector(t, "fetch_ans"))
}

func TestDecodeFetchAnsMalformed(t *testing.T) {
	checkMalformed[FetchAns](t, []malformedCase{
		{"trailing byte", "00000000 00", ErrTrailingData, "FetchAns"},
		{"response", "00000004 00000003", ErrTruncated, "FetchAns.kind_responses[0].generation"},
	})
}

func FuzzDecodeFetchAns(f *testing.F) {
	f.Add(loadVector(f, "fetch_ans"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[FetchAns](t, b, true)
		var a FetchAns
		if _, err := a.Decode(b); err == nil {
			for i := range a.KindResponses {
				r := &a.KindResponses[i]
				checkStoredDataModels(t, r.Kind, r.Values, r.RawValues)
			}
		}
	})
}

// StatKindResponse and StatAns

func TestDecodeStatKindResponse(t *testing.T) {
	checkGolden(t, loadVector(t, "stat_kind_response"), &statKindResponseWant)
}

func TestAppendStatKindResponse(t *testing.T) {
	s := StatKindResponse{Values: []StoredMetaData{{}}}
	var de *DecodeError
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "values[0].metadata.model" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeStatKindResponseTruncated(t *testing.T) {
	checkTruncated[StatKindResponse](t, loadVector(t, "stat_kind_response"))
}

func TestDecodeStatKindResponseMalformed(t *testing.T) {
	checkMalformed[StatKindResponse](t, []malformedCase{
		{"values past end", "00000003 0000000000000000 00000001", ErrTruncated, "values"},
		{"metadata", "00000003 0000000000000000 0000001b 00000017 0000000000000000 00000000 00000000 01 00000000 00 01",
			ErrTruncated, "values[0].metadata.array_entry.value.hash_value"},
	})
}

func FuzzDecodeStatKindResponse(f *testing.F) {
	f.Add(loadVector(f, "stat_kind_response"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[StatKindResponse](t, b, false) })
}

func TestDecodeStatAns(t *testing.T) {
	checkGolden(t, loadVector(t, "stat_ans"), &statAnsWant)
}

func TestDecodeStatAnsUnknownKind(t *testing.T) {
	vec := storeHex("00000013 f0000003 0000000000000001 00000003 aabbcc")
	want := StatAns{KindResponses: []StatKindResponse{{Kind: 0xf0000003, Generation: 1, RawValues: []byte{0xaa, 0xbb, 0xcc}}}}
	checkGolden(t, vec, &want)
}

func TestAppendStatAns(t *testing.T) {
	s := StatAns{KindResponses: []StatKindResponse{{RawValues: []byte{1}, Values: []StoredMetaData{{}}}}}
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestDecodeStatAnsTruncated(t *testing.T) {
	checkTruncated[StatAns](t, loadVector(t, "stat_ans"))
}

func TestDecodeStatAnsMalformed(t *testing.T) {
	checkMalformed[StatAns](t, []malformedCase{
		{"trailing byte", "00000000 00", ErrTrailingData, "StatAns"},
		{"response", "00000002 0000", ErrTruncated, "StatAns.kind_responses[0].kind"},
	})
}

func FuzzDecodeStatAns(f *testing.F) {
	f.Add(loadVector(f, "stat_ans"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[StatAns](t, b, true)
		var a StatAns
		if _, err := a.Decode(b); err == nil {
			for i := range a.KindResponses {
				r := &a.KindResponses[i]
				m := lookupModel(nil, r.Kind)
				if (m == ModelInvalid) != (r.RawValues != nil) {
					t.Fatalf("%v: model %v, raw %x", r.Kind, m, r.RawValues)
				}
				for j := range r.Values {
					if r.Values[j].Metadata.Model != m {
						t.Fatalf("%v values[%d]: model %v", r.Kind, j, r.Values[j].Metadata.Model)
					}
				}
			}
		}
	})
}

// FindReq, FindKindData, FindAns

func TestDecodeFindReq(t *testing.T) {
	checkGolden(t, loadVector(t, "find_req"), &findReqWant)
}

func TestAppendFindReq(t *testing.T) {
	f := FindReq{Kinds: make([]KindID, 64)}
	var de *DecodeError
	if _, err := f.Append(nil); !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "FindReq.kinds" {
		t.Errorf("64 kinds: err = %v", err)
	}
	f = FindReq{Resource: make(ResourceID, 256)}
	if _, err := f.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("long resource: err = %v", err)
	}
}

func TestDecodeFindReqTruncated(t *testing.T) {
	checkTruncated[FindReq](t, loadVector(t, "find_req"))
}

func TestDecodeFindReqMalformed(t *testing.T) {
	checkMalformed[FindReq](t, []malformedCase{
		{"partial kind", "00 05 00000001 00", ErrTruncated, "FindReq.kinds[1]"},
		{"kinds past end", "00 05 00000001", ErrTruncated, "FindReq.kinds"},
		{"trailing byte", "00 00 00", ErrTrailingData, "FindReq"},
	})
	_, err := new(FindReq).Decode(storeHex("01 aa 06 00000001 0000"))
	checkErrAt(t, err, ErrTruncated, "FindReq.kinds[1]", 7)
}

func FuzzDecodeFindReq(f *testing.F) {
	f.Add(loadVector(f, "find_req"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[FindReq](t, b, true) })
}

func TestDecodeFindKindData(t *testing.T) {
	checkGolden(t, loadVector(t, "find_kind_data"), &findKindDataWant)
}

func TestAppendFindKindData(t *testing.T) {
	f := FindKindData{Closest: make(ResourceID, 256)}
	if _, err := f.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeFindKindDataTruncated(t *testing.T) {
	checkTruncated[FindKindData](t, loadVector(t, "find_kind_data"))
}

func TestDecodeFindKindDataMalformed(t *testing.T) {
	checkMalformed[FindKindData](t, []malformedCase{
		{"closest past end", "00000001 04 123456", ErrTruncated, "closest"},
	})
}

func FuzzDecodeFindKindData(f *testing.F) {
	f.Add(loadVector(f, "find_kind_data"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[FindKindData](t, b, false) })
}

func TestDecodeFindAns(t *testing.T) {
	checkGolden(t, loadVector(t, "find_ans"), &findAnsWant)
}

func TestAppendFindAns(t *testing.T) {
	f := FindAns{Results: []FindKindData{{}, {Closest: make(ResourceID, 256)}}}
	var de *DecodeError
	if _, err := f.Append(nil); !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "FindAns.results[1].closest" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeFindAnsTruncated(t *testing.T) {
	checkTruncated[FindAns](t, loadVector(t, "find_ans"))
}

func TestDecodeFindAnsMalformed(t *testing.T) {
	checkMalformed[FindAns](t, []malformedCase{
		{"trailing byte", "0000 00", ErrTrailingData, "FindAns"},
		{"closest past result", "0006 00000001 0301", ErrTruncated, "FindAns.results[0].closest"},
	})
}

func FuzzDecodeFindAns(f *testing.F) {
	f.Add(loadVector(f, "find_ans"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[FindAns](t, b, true) })
}
