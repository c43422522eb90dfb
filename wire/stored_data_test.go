package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The signatures of the storage vectors (testdata/vectors/stored_data.hex).
var (
	storeSig = Signature{
		Algorithm: AlgRSASHA256,
		Identity:  SignerIdentity{Type: IdentityCertHash, HashAlg: HashSHA256, Hash: []byte{0xde, 0xad, 0xbe, 0xef}},
		Value:     []byte{1, 2, 3},
	}
	storeSigNone = Signature{Algorithm: AlgNone, Identity: SignerIdentity{Type: IdentityNone}, Value: []byte{}}
)

// storeHex decodes hex written with spaces, for malformed-input tables.
func storeHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Model tags and wrappers: StoredDataValue, MetaDataValue, StoredData and
// StoredMetaData take their DataModel as a decode parameter, while the
// shared helpers decode into a new(T). A wrapper's Decode sets the model of
// its tag first.
type modelTag interface{ model() DataModel }

type (
	tagSingle struct{}
	tagArray  struct{}
	tagDict   struct{}
)

func (tagSingle) model() DataModel { return ModelSingle }
func (tagArray) model() DataModel  { return ModelArray }
func (tagDict) model() DataModel   { return ModelDictionary }

type sdvAs[M modelTag] struct{ StoredDataValue }

func (v *sdvAs[M]) Decode(b []byte) (int, error) {
	var m M
	v.Model = m.model()
	return v.StoredDataValue.Decode(b)
}

type mdvAs[M modelTag] struct{ MetaDataValue }

func (v *mdvAs[M]) Decode(b []byte) (int, error) {
	var m M
	v.Model = m.model()
	return v.MetaDataValue.Decode(b)
}

type sdAs[M modelTag] struct{ StoredData }

func (s *sdAs[M]) Decode(b []byte) (int, error) {
	var m M
	s.Value.Model = m.model()
	return s.StoredData.Decode(b)
}

type smdAs[M modelTag] struct{ StoredMetaData }

func (s *smdAs[M]) Decode(b []byte) (int, error) {
	var m M
	s.Metadata.Model = m.model()
	return s.StoredMetaData.Decode(b)
}

// malformedCase is an input that must fail with sentinel err at path.
type malformedCase struct {
	name string
	in   string // hex, spaces allowed
	err  error
	path string
}

// checkMalformed decodes each case into a new T and checks the sentinel
// and the field path.
func checkMalformed[T any, P interface {
	*T
	codec
}](t *testing.T, cases []malformedCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := P(new(T)).Decode(storeHex(c.in))
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Path != c.path {
				t.Errorf("path = %q, want %q", de.Path, c.path)
			}
		})
	}
}

// checkExact is the fuzz invariant of this file's types on top of
// checkRoundTrip: every encoding is canonical, so a successful Decode
// re-encodes to exactly the bytes it consumed (top-level bodies consume
// all of b), and a failure is a *DecodeError wrapping a sentinel.
func checkExact[T any, P interface {
	*T
	codec
}](t *testing.T, b []byte, top bool) {
	t.Helper()
	checkRoundTrip[T, P](t, b)
	v := P(new(T))
	n, err := v.Decode(b)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("%T is not a *DecodeError: %v", err, err)
		}
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTrailingData) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLong) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	if top && n != len(b) {
		t.Fatalf("top-level Decode consumed %d of %d bytes", n, len(b))
	}
	enc, err := v.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, b[:n]) {
		t.Fatalf("not canonical:\n in %x\nout %x", b[:n], enc)
	}
}

func TestKindIDString(t *testing.T) {
	for k, want := range map[KindID]string{
		KindSIPRegistration: "SIP-REGISTRATION", KindTURNService: "TURN-SERVICE",
		KindCertificateByNode: "CERTIFICATE_BY_NODE", KindAccessControlList: "ACCESS-CONTROL-LIST",
		KindCertificateByUser: "CERTIFICATE_BY_USER", KindREDIR: "REDIR",
		KindCoAPRegistration: "CoAP-REGISTRATION", KindCoAPCaching: "CoAP-CACHING",
		KindInvalid: "INVALID", 0xf0000001: "KindID(0xf0000001)",
	} {
		if got := k.String(); got != want {
			t.Errorf("KindID(%d).String() = %q, want %q", uint32(k), got, want)
		}
	}
}

func TestDataModel(t *testing.T) {
	for _, m := range []DataModel{ModelSingle, ModelArray, ModelDictionary} {
		got, ok := ParseDataModel(m.String())
		if !ok || got != m {
			t.Errorf("ParseDataModel(%q) = %v, %v", m.String(), got, ok)
		}
	}
	if _, ok := ParseDataModel("EXP-DATA"); ok {
		t.Error("ParseDataModel(EXP-DATA) succeeded")
	}
	if s := DataModel(9).String(); s != "DataModel(9)" {
		t.Errorf("String = %q", s)
	}
	// RFC 7904 §7, 6940 §8-9, 8076 §7, 7374 §6, 7650 §8.
	for k, want := range map[KindID]DataModel{
		KindSIPRegistration: ModelDictionary, KindTURNService: ModelSingle,
		KindCertificateByNode: ModelArray, KindAccessControlList: ModelArray,
		KindCertificateByUser: ModelArray, KindREDIR: ModelDictionary,
		KindCoAPRegistration: ModelDictionary, KindCoAPCaching: ModelSingle,
	} {
		if got, ok := (IANAKindModels{}).Model(k); !ok || got != want {
			t.Errorf("IANAKindModels.Model(%v) = %v, %v; want %v", k, got, ok, want)
		}
	}
	for _, k := range []KindID{KindInvalid, 5, 0xf0000001} {
		if _, ok := (IANAKindModels{}).Model(k); ok {
			t.Errorf("IANAKindModels knows %v", k)
		}
	}
}

// DataValue

var dataValueWant = DataValue{Exists: true, Value: []byte("abc")}

func TestDecodeDataValue(t *testing.T) {
	checkGolden(t, loadVector(t, "data_value"), &dataValueWant)
}

func TestAppendDataValue(t *testing.T) {
	b, err := (&DataValue{}).Append([]byte{0xee})
	if err != nil || !bytes.Equal(b, storeHex("ee 00 00000000")) {
		t.Errorf("Append(empty) = %x, %v", b, err)
	}
}

func TestDecodeDataValueTruncated(t *testing.T) {
	checkTruncated[DataValue](t, loadVector(t, "data_value"))
}

func TestDecodeDataValueMalformed(t *testing.T) {
	checkMalformed[DataValue](t, []malformedCase{
		{"exists not boolean", "02 00000000", ErrInvalid, "exists"},
		{"value past end", "01 00000004 616263", ErrTruncated, "value"},
	})
}

func FuzzDecodeDataValue(f *testing.F) {
	f.Add(loadVector(f, "data_value"))
	f.Add(storeHex("00 00000000"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[DataValue](t, b, false) })
}

// ArrayEntry

var arrayEntryWant = ArrayEntry{Index: 2, Value: DataValue{Exists: true, Value: []byte("foo")}}

func TestDecodeArrayEntry(t *testing.T) {
	checkGolden(t, loadVector(t, "array_entry"), &arrayEntryWant)
}

func TestAppendArrayEntry(t *testing.T) {
	e := ArrayEntry{Index: ArrayAppendIndex, Value: DataValue{Exists: true, Value: []byte{7}}}
	b, err := e.Append(nil)
	if err != nil || !bytes.Equal(b, storeHex("ffffffff 01 00000001 07")) {
		t.Errorf("Append = %x, %v", b, err)
	}
}

func TestDecodeArrayEntryTruncated(t *testing.T) {
	checkTruncated[ArrayEntry](t, loadVector(t, "array_entry"))
}

func TestDecodeArrayEntryMalformed(t *testing.T) {
	checkMalformed[ArrayEntry](t, []malformedCase{
		{"exists not boolean", "00000000 ff 00000000", ErrInvalid, "value.exists"},
		{"value past end", "00000000 01 00000001", ErrTruncated, "value.value"},
	})
}

func FuzzDecodeArrayEntry(f *testing.F) {
	f.Add(loadVector(f, "array_entry"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[ArrayEntry](t, b, false) })
}

// DictionaryKey

func TestDecodeDictionaryKey(t *testing.T) {
	want := DictionaryKey("key1")
	checkGolden(t, loadVector(t, "dictionary_key"), &want)
}

func TestAppendDictionaryKey(t *testing.T) {
	k := DictionaryKey(make([]byte, 0x10000))
	if _, err := k.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("Append(64 KiB key) err = %v, want ErrTooLong", err)
	}
}

func TestDecodeDictionaryKeyTruncated(t *testing.T) {
	checkTruncated[DictionaryKey](t, loadVector(t, "dictionary_key"))
}

func TestDecodeDictionaryKeyMalformed(t *testing.T) {
	checkMalformed[DictionaryKey](t, []malformedCase{
		{"key past end", "0005 6b657931", ErrTruncated, ""},
	})
}

func FuzzDecodeDictionaryKey(f *testing.F) {
	f.Add(loadVector(f, "dictionary_key"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[DictionaryKey](t, b, false) })
}

// DictionaryEntry

var dictionaryEntryWant = DictionaryEntry{Key: DictionaryKey("key1"), Value: DataValue{}}

func TestDecodeDictionaryEntry(t *testing.T) {
	checkGolden(t, loadVector(t, "dictionary_entry"), &dictionaryEntryWant)
}

func TestAppendDictionaryEntry(t *testing.T) {
	e := DictionaryEntry{Key: make(DictionaryKey, 0x10000)}
	if _, err := e.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeDictionaryEntryTruncated(t *testing.T) {
	checkTruncated[DictionaryEntry](t, loadVector(t, "dictionary_entry"))
}

func TestDecodeDictionaryEntryMalformed(t *testing.T) {
	checkMalformed[DictionaryEntry](t, []malformedCase{
		{"key past end", "000a 6b657931 00 00000000", ErrTruncated, "key"},
		{"exists not boolean", "0001 6b 05 00000000", ErrInvalid, "value.exists"},
	})
}

func FuzzDecodeDictionaryEntry(f *testing.F) {
	f.Add(loadVector(f, "dictionary_entry"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[DictionaryEntry](t, b, false) })
}

// StoredDataValue: each arm encodes exactly as the entry structure it
// holds, so the entry vectors serve.

func TestDecodeStoredDataValue(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		checkGolden(t, loadVector(t, "data_value"), &sdvAs[tagSingle]{SingleValue([]byte("abc"))})
	})
	t.Run("array", func(t *testing.T) {
		checkGolden(t, loadVector(t, "array_entry"), &sdvAs[tagArray]{ArrayValue(2, []byte("foo"))})
	})
	t.Run("dictionary", func(t *testing.T) {
		want := StoredDataValue{Model: ModelDictionary, Key: DictionaryKey("key1")}
		checkGolden(t, loadVector(t, "dictionary_entry"), &sdvAs[tagDict]{want})
	})
	t.Run("decode parameter kept, other arms cleared", func(t *testing.T) {
		v := StoredDataValue{Model: ModelArray, Key: DictionaryKey("stale")}
		if _, err := v.Decode(loadVector(t, "array_entry")); err != nil {
			t.Fatal(err)
		}
		if v.Model != ModelArray || v.Key != nil || v.Index != 2 {
			t.Errorf("got %+v", v)
		}
	})
}

func TestAppendStoredDataValue(t *testing.T) {
	for _, c := range []struct {
		name string
		v    StoredDataValue
		err  error
		path string
	}{
		{"no model", StoredDataValue{Value: dataValueWant}, ErrInvalid, "model"},
		{"single with key", StoredDataValue{Model: ModelSingle, Key: DictionaryKey("k")}, ErrInvalid, "single_value_entry.key"},
		{"single with index", StoredDataValue{Model: ModelSingle, Index: 1}, ErrInvalid, "single_value_entry.index"},
		{"array with key", StoredDataValue{Model: ModelArray, Key: DictionaryKey("k")}, ErrInvalid, "array_entry.key"},
		{"dictionary with index", StoredDataValue{Model: ModelDictionary, Index: 1}, ErrInvalid, "dictionary_entry.index"},
		{"key too long", DictionaryValue(make(DictionaryKey, 0x10000), nil), ErrTooLong, "dictionary_entry.key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Append(nil)
			var de *DecodeError
			if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Path != c.path {
				t.Errorf("err = %v, want %v at %q", err, c.err, c.path)
			}
		})
	}
	dv := DictionaryValue(DictionaryKey("key1"), nil)
	b, err := dv.Append(nil)
	if err != nil || !bytes.Equal(b, storeHex("0004 6b657931 01 00000000")) {
		t.Errorf("Append(dictionary) = %x, %v", b, err)
	}
}

func TestDecodeStoredDataValueTruncated(t *testing.T) {
	checkTruncated[sdvAs[tagSingle]](t, loadVector(t, "data_value"))
	checkTruncated[sdvAs[tagArray]](t, loadVector(t, "array_entry"))
	checkTruncated[sdvAs[tagDict]](t, loadVector(t, "dictionary_entry"))
}

func TestDecodeStoredDataValueMalformed(t *testing.T) {
	checkMalformed[StoredDataValue](t, []malformedCase{
		{"no model", "01 00000000", ErrInvalid, "model"},
	})
	checkMalformed[sdvAs[tagSingle]](t, []malformedCase{
		{"single exists", "02 00000000", ErrInvalid, "single_value_entry.exists"},
	})
	checkMalformed[sdvAs[tagArray]](t, []malformedCase{
		{"array exists", "00000001 02 00000000", ErrInvalid, "array_entry.value.exists"},
		{"array index", "000000", ErrTruncated, "array_entry.index"},
	})
	checkMalformed[sdvAs[tagDict]](t, []malformedCase{
		{"dictionary key", "0002 6b", ErrTruncated, "dictionary_entry.key"},
		{"dictionary value", "0001 6b 01 00000002 76", ErrTruncated, "dictionary_entry.value.value"},
	})
}

func FuzzDecodeStoredDataValue(f *testing.F) {
	f.Add(loadVector(f, "data_value"))
	f.Add(loadVector(f, "array_entry"))
	f.Add(loadVector(f, "dictionary_entry"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[sdvAs[tagSingle]](t, b, false)
		checkExact[sdvAs[tagArray]](t, b, false)
		checkExact[sdvAs[tagDict]](t, b, false)
	})
}

// StoredData

var storedDataWant = StoredData{
	StorageTime: 0x0000_0189_3e4c_5a00,
	Lifetime:    86400,
	Value:       SingleValue([]byte("abc")),
	Signature:   storeSig,
}

func TestDecodeStoredData(t *testing.T) {
	checkGolden(t, loadVector(t, "stored_data"), &sdAs[tagSingle]{storedDataWant})
}

func TestAppendStoredData(t *testing.T) {
	s := storedDataWant
	s.Value.Model = ModelInvalid
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Append without model: err = %v, want ErrInvalid", err)
	}
	s.Value = ArrayValue(ArrayAppendIndex, []byte("x"))
	b, err := s.Append([]byte{0xee})
	if err != nil {
		t.Fatal(err)
	}
	var got StoredData
	got.Value.Model = ModelArray
	if n, err := got.Decode(b[1:]); err != nil || n != len(b)-1 || n != s.Len() || !equalish(&got, &s) {
		t.Errorf("round trip: n=%d err=%v got %+v", n, err, got)
	}
}

func TestStoredDataClone(t *testing.T) {
	vec := loadVector(t, "stored_data")
	var s StoredData
	s.Value.Model = ModelSingle
	if _, err := s.Decode(vec); err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	for i := range vec {
		vec[i] = 0
	}
	if !equalish(&c, &storedDataWant) {
		t.Errorf("clone changed with its source:\n got %+v\nwant %+v", c, storedDataWant)
	}
	if c.Value.Key != nil || c.Signature.Identity.Raw != nil {
		t.Error("Clone made nil slices non-nil")
	}
}

func TestDecodeStoredDataTruncated(t *testing.T) {
	checkTruncated[sdAs[tagSingle]](t, loadVector(t, "stored_data"))
}

func TestDecodeStoredDataMalformed(t *testing.T) {
	vec := hex.EncodeToString(loadVector(t, "stored_data"))
	checkMalformed[sdAs[tagSingle]](t, []malformedCase{
		{"length past end", "00000025" + vec[8:], ErrTruncated, "length"},
		{"length too short for storage_time", "00000004 00000000", ErrTruncated, "storage_time"},
		{"length too short for lifetime", "0000000a 0000000000000000 0000", ErrTruncated, "lifetime"},
		{"trailing byte inside length", "00000025" + vec[8:] + "00", ErrTrailingData, "length"},
		{"value", "0000000d 0000000000000000 00000000 02", ErrInvalid, "value.single_value_entry.exists"},
		{"signature", "00000018 0000000000000000 00000000 0000000000 0000 00 0000 0000", ErrInvalid, "signature.identity.identity_type"},
	})
	checkMalformed[StoredData](t, []malformedCase{
		{"no model", "0000000d 0000000000000000 00000000 00", ErrInvalid, "value.model"},
	})
}

func FuzzDecodeStoredData(f *testing.F) {
	f.Add(loadVector(f, "stored_data"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[sdAs[tagSingle]](t, b, false)
		checkExact[sdAs[tagArray]](t, b, false)
		checkExact[sdAs[tagDict]](t, b, false)
	})
}

// MetaData family

var metaDataWant = MetaData{Exists: true, ValueLength: 3, HashAlgorithm: HashSHA1, HashValue: []byte{0xa1, 0xb2, 0xc3, 0xd4}}

func TestDecodeMetaData(t *testing.T) {
	checkGolden(t, loadVector(t, "meta_data"), &metaDataWant)
}

func TestAppendMetaData(t *testing.T) {
	m := MetaData{HashValue: make([]byte, 256)}
	if _, err := m.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeMetaDataTruncated(t *testing.T) {
	checkTruncated[MetaData](t, loadVector(t, "meta_data"))
}

func TestDecodeMetaDataMalformed(t *testing.T) {
	checkMalformed[MetaData](t, []malformedCase{
		{"exists not boolean", "03 00000000 00 00", ErrInvalid, "exists"},
		{"hash past end", "01 00000000 02 14 00", ErrTruncated, "hash_value"},
	})
}

func FuzzDecodeMetaData(f *testing.F) {
	f.Add(loadVector(f, "meta_data"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[MetaData](t, b, false) })
}

var arrayEntryMetaWant = ArrayEntryMeta{Index: 1, Value: metaDataWant}

func TestDecodeArrayEntryMeta(t *testing.T) {
	checkGolden(t, loadVector(t, "array_entry_meta"), &arrayEntryMetaWant)
}

func TestAppendArrayEntryMeta(t *testing.T) {
	e := ArrayEntryMeta{Value: MetaData{HashValue: make([]byte, 256)}}
	var de *DecodeError
	if _, err := e.Append(nil); !errors.Is(err, ErrTooLong) || !errors.As(err, &de) || de.Path != "value.hash_value" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeArrayEntryMetaTruncated(t *testing.T) {
	checkTruncated[ArrayEntryMeta](t, loadVector(t, "array_entry_meta"))
}

func TestDecodeArrayEntryMetaMalformed(t *testing.T) {
	checkMalformed[ArrayEntryMeta](t, []malformedCase{
		{"exists not boolean", "00000000 09 00000000 00 00", ErrInvalid, "value.exists"},
	})
}

func FuzzDecodeArrayEntryMeta(f *testing.F) {
	f.Add(loadVector(f, "array_entry_meta"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[ArrayEntryMeta](t, b, false) })
}

var dictionaryEntryMetaWant = DictionaryEntryMeta{Key: DictionaryKey("key1")}

func TestDecodeDictionaryEntryMeta(t *testing.T) {
	checkGolden(t, loadVector(t, "dictionary_entry_meta"), &dictionaryEntryMetaWant)
}

func TestAppendDictionaryEntryMeta(t *testing.T) {
	e := DictionaryEntryMeta{Key: make(DictionaryKey, 0x10000)}
	if _, err := e.Append(nil); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestDecodeDictionaryEntryMetaTruncated(t *testing.T) {
	checkTruncated[DictionaryEntryMeta](t, loadVector(t, "dictionary_entry_meta"))
}

func TestDecodeDictionaryEntryMetaMalformed(t *testing.T) {
	checkMalformed[DictionaryEntryMeta](t, []malformedCase{
		{"key past end", "0003 6b", ErrTruncated, "key"},
		{"hash past end", "0000 01 00000000 02 01", ErrTruncated, "value.hash_value"},
	})
}

func FuzzDecodeDictionaryEntryMeta(f *testing.F) {
	f.Add(loadVector(f, "dictionary_entry_meta"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[DictionaryEntryMeta](t, b, false) })
}

func TestDecodeMetaDataValue(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		checkGolden(t, loadVector(t, "meta_data"), &mdvAs[tagSingle]{MetaDataValue{Model: ModelSingle, Value: metaDataWant}})
	})
	t.Run("array", func(t *testing.T) {
		want := MetaDataValue{Model: ModelArray, Index: 1, Value: metaDataWant}
		checkGolden(t, loadVector(t, "array_entry_meta"), &mdvAs[tagArray]{want})
	})
	t.Run("dictionary", func(t *testing.T) {
		want := MetaDataValue{Model: ModelDictionary, Key: DictionaryKey("key1")}
		checkGolden(t, loadVector(t, "dictionary_entry_meta"), &mdvAs[tagDict]{want})
	})
}

func TestAppendMetaDataValue(t *testing.T) {
	v := MetaDataValue{Model: ModelArray, Key: DictionaryKey("k")}
	if _, err := v.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	v = MetaDataValue{}
	if _, err := v.Append(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no model: err = %v, want ErrInvalid", err)
	}
}

func TestDecodeMetaDataValueTruncated(t *testing.T) {
	checkTruncated[mdvAs[tagSingle]](t, loadVector(t, "meta_data"))
	checkTruncated[mdvAs[tagArray]](t, loadVector(t, "array_entry_meta"))
	checkTruncated[mdvAs[tagDict]](t, loadVector(t, "dictionary_entry_meta"))
}

func TestDecodeMetaDataValueMalformed(t *testing.T) {
	checkMalformed[MetaDataValue](t, []malformedCase{
		{"no model", "01 00000000 00 00", ErrInvalid, "model"},
	})
	checkMalformed[mdvAs[tagArray]](t, []malformedCase{
		{"array exists", "00000001 02 00000000 00 00", ErrInvalid, "array_entry.value.exists"},
	})
	checkMalformed[mdvAs[tagDict]](t, []malformedCase{
		{"dictionary hash", "0000 01 00000000 00 05", ErrTruncated, "dictionary_entry.value.hash_value"},
	})
}

func FuzzDecodeMetaDataValue(f *testing.F) {
	f.Add(loadVector(f, "meta_data"))
	f.Add(loadVector(f, "array_entry_meta"))
	f.Add(loadVector(f, "dictionary_entry_meta"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[mdvAs[tagSingle]](t, b, false)
		checkExact[mdvAs[tagArray]](t, b, false)
		checkExact[mdvAs[tagDict]](t, b, false)
	})
}

var storedMetaDataWant = StoredMetaData{
	StorageTime: 0x0000_0189_3e4c_5a02,
	Lifetime:    33200,
	Metadata:    MetaDataValue{Model: ModelArray, Index: 1, Value: metaDataWant},
}

func TestDecodeStoredMetaData(t *testing.T) {
	checkGolden(t, loadVector(t, "stored_meta_data"), &smdAs[tagArray]{storedMetaDataWant})
}

func TestAppendStoredMetaData(t *testing.T) {
	s := storedMetaDataWant
	s.Metadata.Model = ModelDictionary
	var de *DecodeError
	if _, err := s.Append(nil); !errors.Is(err, ErrInvalid) || !errors.As(err, &de) || de.Path != "metadata.dictionary_entry.index" {
		t.Errorf("dictionary with index: err = %v", err)
	}
}

func TestDecodeStoredMetaDataTruncated(t *testing.T) {
	checkTruncated[smdAs[tagArray]](t, loadVector(t, "stored_meta_data"))
}

func TestDecodeStoredMetaDataMalformed(t *testing.T) {
	checkMalformed[smdAs[tagArray]](t, []malformedCase{
		{"metadata", "00000017 0000000000000000 00000000 00000000 07 00000000 00 00", ErrInvalid, "metadata.array_entry.value.exists"},
		{"lifetime", "0000000b 0000000000000000 000000", ErrTruncated, "lifetime"},
		{"value_length past end", "00000018 0000000000000000 00000000 00000000 01 00000000 00 00", ErrTruncated, "value_length"},
		{"trailing byte inside value_length", "00000018 0000000000000000 00000000 00000000 01 00000000 00 00 ff", ErrTrailingData, "value_length"},
	})
}

func FuzzDecodeStoredMetaData(f *testing.F) {
	f.Add(loadVector(f, "stored_meta_data"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[smdAs[tagSingle]](t, b, false)
		checkExact[smdAs[tagArray]](t, b, false)
		checkExact[smdAs[tagDict]](t, b, false)
	})
}

// ArrayRange

func TestDecodeArrayRange(t *testing.T) {
	checkGolden(t, loadVector(t, "array_range"), &ArrayRange{First: 0, Last: ArrayAppendIndex})
}

func TestAppendArrayRange(t *testing.T) {
	b, err := (&ArrayRange{First: 1, Last: 2}).Append([]byte{9})
	if err != nil || !bytes.Equal(b, storeHex("09 00000001 00000002")) {
		t.Errorf("Append = %x, %v", b, err)
	}
}

func TestDecodeArrayRangeTruncated(t *testing.T) {
	checkTruncated[ArrayRange](t, loadVector(t, "array_range"))
}

func TestDecodeArrayRangeMalformed(t *testing.T) {
	checkMalformed[ArrayRange](t, []malformedCase{
		{"last cut", "00000000 ffff", ErrTruncated, "last"},
	})
}

func FuzzDecodeArrayRange(f *testing.F) {
	f.Add(loadVector(f, "array_range"))
	f.Fuzz(func(t *testing.T, b []byte) { checkExact[ArrayRange](t, b, false) })
}

// StoredDataSpecifier

var specifierArrayWant = StoredDataSpecifier{
	Kind: KindCertificateByNode, Model: ModelArray, Generation: 107,
	Indices: []ArrayRange{{0, 2}, {5, ArrayAppendIndex}},
}

func TestDecodeStoredDataSpecifier(t *testing.T) {
	checkGolden(t, loadVector(t, "stored_data_specifier"), &specifierArrayWant)
}

func TestAppendStoredDataSpecifier(t *testing.T) {
	for _, c := range []struct {
		name string
		s    StoredDataSpecifier
		err  error
	}{
		{"single with indices", StoredDataSpecifier{Model: ModelSingle, Indices: []ArrayRange{{}}}, ErrInvalid},
		{"single with raw", StoredDataSpecifier{Model: ModelSingle, Raw: []byte{1}}, ErrInvalid},
		{"array with keys", StoredDataSpecifier{Model: ModelArray, Keys: []DictionaryKey{{}}}, ErrInvalid},
		{"dictionary with raw", StoredDataSpecifier{Model: ModelDictionary, Raw: []byte{1}}, ErrInvalid},
		{"unknown with keys", StoredDataSpecifier{Keys: []DictionaryKey{{}}}, ErrInvalid},
		{"too many indices", StoredDataSpecifier{Model: ModelArray, Indices: make([]ArrayRange, 0x2000)}, ErrTooLong},
		{"key too long", StoredDataSpecifier{Model: ModelDictionary, Keys: []DictionaryKey{make([]byte, 0x10000)}}, ErrTooLong},
		{"raw too long", StoredDataSpecifier{Raw: make([]byte, 0x10000)}, ErrTooLong},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.s.Append(nil); !errors.Is(err, c.err) {
				t.Errorf("err = %v, want %v", err, c.err)
			}
		})
	}
	// An empty array specifier still carries the (empty) indices list.
	s := StoredDataSpecifier{Kind: 3, Model: ModelArray}
	b, err := s.Append(nil)
	if err != nil || !bytes.Equal(b, storeHex("00000003 0000000000000000 0002 0000")) || s.Len() != len(b) {
		t.Errorf("Append(empty array) = %x, %v", b, err)
	}
}

func TestDecodeStoredDataSpecifierTruncated(t *testing.T) {
	checkTruncated[StoredDataSpecifier](t, loadVector(t, "stored_data_specifier"))
}

func TestDecodeStoredDataSpecifierMalformed(t *testing.T) {
	checkMalformed[StoredDataSpecifier](t, []malformedCase{
		{"length past end", "00000003 0000000000000000 0003 0000", ErrTruncated, "length"},
		{"bytes after indices", "00000003 0000000000000000 0003 0000 ff", ErrTrailingData, "model_specifier"},
		{"indices past length", "00000003 0000000000000000 0002 0008", ErrTruncated, "model_specifier.indices"},
		{"partial range", "00000003 0000000000000000 0009 0007 00000000 000000", ErrTruncated, "model_specifier.indices[0].last"},
		{"single not empty", "00000002 0000000000000000 0001 ff", ErrTrailingData, "model_specifier"},
		{"key past list", "00000001 0000000000000000 0004 0002 0001", ErrTruncated, "model_specifier.keys[0]"},
		{"bytes after keys", "00000001 0000000000000000 0005 0002 0000 ff", ErrTrailingData, "model_specifier"},
	})
}

func FuzzDecodeStoredDataSpecifier(f *testing.F) {
	f.Add(loadVector(f, "stored_data_specifier"))
	f.Add(storeHex("00000001 0000000000000009 000a 0008 0004 6b657931 0000"))
	f.Add(storeHex("f0000002 0000000000000000 0002 dead"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkExact[StoredDataSpecifier](t, b, false)
		var s StoredDataSpecifier
		if _, err := s.Decode(b); err == nil {
			if want := lookupModel(nil, s.Kind); s.Model != want {
				t.Fatalf("Model = %v for %v, want %v", s.Model, s.Kind, want)
			}
			if s.Model.known() && s.Raw != nil {
				t.Fatal("Raw set for a known Kind")
			}
		}
	})
}
