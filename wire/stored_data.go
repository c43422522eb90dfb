package wire

import "strconv"

// KindID identifies a Kind of stored data (RFC 6940 §6.5.4.1, §14.6, IANA
// "RELOAD Data Kind-ID"):
//
//	typedef uint32 KindId;
type KindID uint32

// Registered Kind-IDs. The data model each uses is in IANAKindModels.
const (
	KindInvalid           KindID = 0x0
	KindSIPRegistration   KindID = 0x1   // RFC 7904 §7, DICTIONARY
	KindTURNService       KindID = 0x2   // RFC 6940 §9, SINGLE
	KindCertificateByNode KindID = 0x3   // RFC 6940 §8, ARRAY
	KindAccessControlList KindID = 0x4   // RFC 8076 §7, ARRAY
	KindCertificateByUser KindID = 0x10  // RFC 6940 §8, ARRAY
	KindREDIR             KindID = 0x104 // RFC 7374 §6, DICTIONARY
	KindCoAPRegistration  KindID = 0x105 // RFC 7650 §8.1, DICTIONARY
	KindCoAPCaching       KindID = 0x106 // RFC 7650 §8.2, SINGLE
)

// Kind-ID ranges (RFC 6940 §14.6).
const (
	KindPrivateFirst KindID = 0xf0000001 // first private-use Kind-ID
	KindPrivateLast  KindID = 0xfffffffe // last private-use Kind-ID
)

func (k KindID) String() string {
	switch k {
	case KindInvalid:
		return "INVALID"
	case KindSIPRegistration:
		return "SIP-REGISTRATION"
	case KindTURNService:
		return "TURN-SERVICE"
	case KindCertificateByNode:
		return "CERTIFICATE_BY_NODE"
	case KindAccessControlList:
		return "ACCESS-CONTROL-LIST"
	case KindCertificateByUser:
		return "CERTIFICATE_BY_USER"
	case KindREDIR:
		return "REDIR"
	case KindCoAPRegistration:
		return "CoAP-REGISTRATION"
	case KindCoAPCaching:
		return "CoAP-CACHING"
	}
	return "KindID(0x" + strconv.FormatUint(uint64(k), 16) + ")"
}

// DataModel is the data model of a Kind (RFC 6940 §7.2, §14.7). It is
// never on the wire: the Kind's definition (the overlay configuration)
// gives it, and it selects the form of StoredDataValue, MetaDataValue and
// the model_specifier of StoredDataSpecifier. The numbers are this
// package's own; the configuration names them by the strings String
// returns.
type DataModel uint8

// Data models.
const (
	ModelInvalid    DataModel = 0
	ModelSingle     DataModel = 1 // single value, "SINGLE"
	ModelArray      DataModel = 2 // array, "ARRAY"
	ModelDictionary DataModel = 3 // dictionary, "DICTIONARY"
)

func (m DataModel) String() string {
	switch m {
	case ModelInvalid:
		return "INVALID"
	case ModelSingle:
		return "SINGLE"
	case ModelArray:
		return "ARRAY"
	case ModelDictionary:
		return "DICTIONARY"
	}
	return "DataModel(" + strconv.Itoa(int(m)) + ")"
}

// ParseDataModel maps a configuration data-model name (RFC 6940 §11.1,
// §14.7) to a DataModel; EXP-DATA and unknown names give false.
func ParseDataModel(s string) (DataModel, bool) {
	switch s {
	case "SINGLE":
		return ModelSingle, true
	case "ARRAY":
		return ModelArray, true
	case "DICTIONARY":
		return ModelDictionary, true
	}
	return ModelInvalid, false
}

// known reports whether m is one of the three models this package can
// decode.
func (m DataModel) known() bool { return m >= ModelSingle && m <= ModelDictionary }

// KindModels tells decoders the data model of each Kind. Bodies whose
// layout depends on it (StoreReq, FetchReq, FetchAns, StatReq, StatAns and
// their parts) take one as a decode parameter named Models; nil means
// IANAKindModels. An overlay's configuration implements it for its own
// Kinds. Model must not allocate: decoders call it once per Kind entry.
type KindModels interface {
	Model(kind KindID) (DataModel, bool)
}

// IANAKindModels knows the data models of the IANA-registered Kinds
// (KindSIPRegistration to KindCoAPCaching) and no others.
type IANAKindModels struct{}

// Model returns the data model of a registered Kind.
func (IANAKindModels) Model(kind KindID) (DataModel, bool) {
	switch kind {
	case KindTURNService, KindCoAPCaching:
		return ModelSingle, true
	case KindCertificateByNode, KindAccessControlList, KindCertificateByUser:
		return ModelArray, true
	case KindSIPRegistration, KindREDIR, KindCoAPRegistration:
		return ModelDictionary, true
	}
	return ModelInvalid, false
}

// lookupModel is the model models gives kind, or ModelInvalid when models
// does not know kind or gives a model this package cannot decode.
func lookupModel(models KindModels, kind KindID) DataModel {
	var m DataModel
	var ok bool
	if models == nil {
		m, ok = IANAKindModels{}.Model(kind)
	} else {
		m, ok = models.Model(kind)
	}
	if !ok || !m.known() {
		return ModelInvalid
	}
	return m
}

// ArrayAppendIndex, as the index of an array value in a Store, appends the
// value at the end of the array (RFC 6940 §7.4.1.1). As the last of an
// ArrayRange it means the final element (§7.4.2.1).
const ArrayAppendIndex uint32 = 0xffffffff

// DataValue is a stored value (RFC 6940 §7.2):
//
//	struct {
//	  Boolean                exists;
//	  opaque                 value<0..2^32-1>;
//	} DataValue;
//
// Value aliases the decoded input.
type DataValue struct {
	Exists bool
	Value  []byte
}

// Len is the encoded size.
func (d *DataValue) Len() int { return 5 + len(d.Value) }

// Decode reads a DataValue from the start of b.
func (d *DataValue) Decode(b []byte) (int, error) {
	r := NewReader(b)
	e, err := r.ReadBool()
	if err != nil {
		return 0, fieldErr(err, "exists", 0)
	}
	v, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "value", 1)
	}
	d.Exists, d.Value = e, v
	return r.Offset(), nil
}

// Append appends the encoding of d.
func (d *DataValue) Append(b []byte) ([]byte, error) {
	b = AppendBool(b, d.Exists)
	b, err := AppendVec32(b, d.Value)
	if err != nil {
		return b, fieldErr(err, "value", 1)
	}
	return b, nil
}

// ArrayEntry is one element of an array (RFC 6940 §7.2.2):
//
//	struct {
//	  uint32                  index;
//	  DataValue               value;
//	} ArrayEntry;
//
// An Index of ArrayAppendIndex in a Store appends. Value aliases the
// decoded input.
type ArrayEntry struct {
	Index uint32
	Value DataValue
}

// Len is the encoded size.
func (a *ArrayEntry) Len() int { return 4 + a.Value.Len() }

// Decode reads an ArrayEntry from the start of b.
func (a *ArrayEntry) Decode(b []byte) (int, error) {
	var key DictionaryKey
	return decodeSelect(b, ModelArray, &a.Value, &a.Index, &key)
}

// Append appends the encoding of a.
func (a *ArrayEntry) Append(b []byte) ([]byte, error) {
	return appendSelect(b, ModelArray, &a.Value, a.Index, nil)
}

// DictionaryKey is the key of a dictionary entry (RFC 6940 §7.2.3):
//
//	typedef opaque           DictionaryKey<0..2^16-1>;
//
// A decoded key aliases the input.
type DictionaryKey []byte

// Len is the encoded size.
func (k *DictionaryKey) Len() int { return 2 + len(*k) }

// Decode reads a DictionaryKey from the start of b.
func (k *DictionaryKey) Decode(b []byte) (int, error) {
	r := NewReader(b)
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "", 0)
	}
	*k = v
	return r.Offset(), nil
}

// Append appends the encoding of k.
func (k *DictionaryKey) Append(b []byte) ([]byte, error) {
	b, err := AppendVec16(b, *k)
	if err != nil {
		return b, fieldErr(err, "", 0)
	}
	return b, nil
}

// DictionaryEntry is one entry of a dictionary (RFC 6940 §7.2.3):
//
//	struct {
//	  DictionaryKey          key;
//	  DataValue              value;
//	} DictionaryEntry;
//
// Key and Value alias the decoded input.
type DictionaryEntry struct {
	Key   DictionaryKey
	Value DataValue
}

// Len is the encoded size.
func (d *DictionaryEntry) Len() int { return 2 + len(d.Key) + d.Value.Len() }

// Decode reads a DictionaryEntry from the start of b.
func (d *DictionaryEntry) Decode(b []byte) (int, error) {
	var index uint32
	return decodeSelect(b, ModelDictionary, &d.Value, &index, &d.Key)
}

// Append appends the encoding of d.
func (d *DictionaryEntry) Append(b []byte) ([]byte, error) {
	return appendSelect(b, ModelDictionary, &d.Value, 0, d.Key)
}

// selectValue is the value of a select arm: *DataValue or *MetaData.
type selectValue interface {
	Decode(b []byte) (int, error)
	Append(b []byte) ([]byte, error)
}

// selectArm names the arm of a StoredDataValue or MetaDataValue select.
func selectArm(m DataModel) string {
	switch m {
	case ModelSingle:
		return "single_value_entry"
	case ModelArray:
		return "array_entry"
	}
	return "dictionary_entry"
}

// decodeSelect reads the arm for model m of a StoredDataValue or
// MetaDataValue, or an (Array|Dictionary)Entry(Meta): the index (array) or
// key (dictionary), then val. It sets the index and key of the other arms
// to zero. Error paths are relative to the arm.
func decodeSelect(b []byte, m DataModel, val selectValue, index *uint32, key *DictionaryKey) (int, error) {
	r := NewReader(b)
	var i uint32
	var k DictionaryKey
	var err error
	switch m {
	case ModelSingle:
	case ModelArray:
		if i, err = r.ReadU32(); err != nil {
			return 0, fieldErr(err, "index", 0)
		}
	case ModelDictionary:
		if k, err = r.ReadVec16(); err != nil {
			return 0, fieldErr(err, "key", 0)
		}
	default:
		return 0, fieldErr(ErrInvalid, "model", 0)
	}
	off := r.Offset()
	n, err := val.Decode(r.Peek())
	if err != nil {
		if m == ModelSingle {
			return 0, err // the value is the arm
		}
		return 0, fieldErr(err, "value", off)
	}
	*index, *key = i, k
	return off + n, nil
}

// appendSelect is the encoder matching decodeSelect; the index and key
// must be zero unless the arm has them.
func appendSelect(b []byte, m DataModel, val selectValue, index uint32, key DictionaryKey) ([]byte, error) {
	var err error
	switch m {
	case ModelSingle, ModelArray, ModelDictionary:
	default:
		return b, fieldErr(ErrInvalid, "model", 0)
	}
	if index != 0 && m != ModelArray {
		return b, fieldErr(ErrInvalid, "index", 0)
	}
	if len(key) != 0 && m != ModelDictionary {
		return b, fieldErr(ErrInvalid, "key", 0)
	}
	off := len(b)
	switch m {
	case ModelArray:
		b = AppendU32(b, index)
	case ModelDictionary:
		if b, err = AppendVec16(b, key); err != nil {
			return b, fieldErr(err, "key", 0)
		}
	}
	if m == ModelSingle {
		return val.Append(b)
	}
	voff := len(b) - off
	if b, err = val.Append(b); err != nil {
		return b, fieldErr(err, "value", voff)
	}
	return b, nil
}

// selectLen is the encoded size of a select arm around a value of size n.
func selectLen(m DataModel, n int, key DictionaryKey) int {
	switch m {
	case ModelArray:
		return 4 + n
	case ModelDictionary:
		return 2 + len(key) + n
	}
	return n
}

// armErr puts the arm name of a known model in front of an error from the
// select helpers.
func armErr(err error, m DataModel) error {
	if err == nil || !m.known() {
		return err
	}
	return fieldErr(err, selectArm(m), 0)
}

// StoredDataValue is the value of a StoredData (RFC 6940 §7.2):
//
//	struct {
//	  select (DataModel) {
//	    case single_value:
//	      DataValue             single_value_entry;
//
//	    case array:
//	      ArrayEntry            array_entry;
//
//	    case dictionary:
//	      DictionaryEntry       dictionary_entry;
//
//	    /* This structure may be extended */
//	  };
//	} StoredDataValue;
//
// Model selects the arm. It is not on the wire, so it is a decode
// parameter: Decode reads it and does not overwrite it (StoreKindData and
// FetchKindResponse set it from their Kind). Index is used only by the
// array model and Key only by the dictionary model; the other must be zero.
// A model other than the three is ErrInvalid: with no length of its own, an
// unknown arm cannot be delimited, so the lists holding values keep unknown
// Kinds raw instead. Value and Key alias the decoded input.
type StoredDataValue struct {
	Model DataModel
	Value DataValue
	Index uint32
	Key   DictionaryKey
}

// SingleValue is a single-value StoredDataValue that exists.
func SingleValue(v []byte) StoredDataValue {
	return StoredDataValue{Model: ModelSingle, Value: DataValue{Exists: true, Value: v}}
}

// ArrayValue is an array StoredDataValue at index that exists.
func ArrayValue(index uint32, v []byte) StoredDataValue {
	return StoredDataValue{Model: ModelArray, Index: index, Value: DataValue{Exists: true, Value: v}}
}

// DictionaryValue is a dictionary StoredDataValue under key that exists.
func DictionaryValue(key DictionaryKey, v []byte) StoredDataValue {
	return StoredDataValue{Model: ModelDictionary, Key: key, Value: DataValue{Exists: true, Value: v}}
}

// Len is the encoded size.
func (v *StoredDataValue) Len() int { return selectLen(v.Model, v.Value.Len(), v.Key) }

// Decode reads a StoredDataValue of model v.Model from the start of b.
func (v *StoredDataValue) Decode(b []byte) (int, error) {
	n, err := decodeSelect(b, v.Model, &v.Value, &v.Index, &v.Key)
	return n, armErr(err, v.Model)
}

// Append appends the encoding of v.
func (v *StoredDataValue) Append(b []byte) ([]byte, error) {
	b, err := appendSelect(b, v.Model, &v.Value, v.Index, v.Key)
	return b, armErr(err, v.Model)
}

// StoredData is one stored value with its metadata and signature (RFC 6940
// §7):
//
//	struct {
//	  uint32                  length;
//	  uint64                  storage_time;
//	  uint32                  lifetime;
//	  StoredDataValue         value;
//	  Signature               signature;
//	} StoredData;
//
// length, the size of the rest of the structure, is computed by Append and
// checked by Decode: the value and signature must fill it exactly.
// StorageTime is in milliseconds since the Unix epoch, Lifetime in seconds.
// Value.Model is a decode parameter (see StoredDataValue). The slices alias
// the decoded input; Clone copies them.
type StoredData struct {
	StorageTime uint64
	Lifetime    uint32
	Value       StoredDataValue
	Signature   Signature
}

// Len is the encoded size.
func (s *StoredData) Len() int { return 16 + s.Value.Len() + s.Signature.Len() }

// Decode reads a StoredData from the start of b.
func (s *StoredData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	body, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "length", 0)
	}
	br := NewReader(body)
	t, err := br.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "storage_time", 4)
	}
	l, err := br.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "lifetime", 12)
	}
	vn, err := s.Value.Decode(br.Peek())
	if err != nil {
		return 0, fieldErr(err, "value", 16)
	}
	sn, err := s.Signature.Decode(body[12+vn:])
	if err != nil {
		return 0, fieldErr(err, "signature", 16+vn)
	}
	if 12+vn+sn != len(body) {
		return 0, fieldErr(ErrTrailingData, "length", 16+vn+sn)
	}
	s.StorageTime, s.Lifetime = t, l
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *StoredData) Append(b []byte) ([]byte, error) {
	b, mark := BeginVec(b, 4)
	b = AppendU64(b, s.StorageTime)
	b = AppendU32(b, s.Lifetime)
	b, err := s.Value.Append(b)
	if err != nil {
		return b, fieldErr(err, "value", 16)
	}
	if b, err = s.Signature.Append(b); err != nil {
		return b, fieldErr(err, "signature", 16)
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "length", 0)
	}
	return b, nil
}

// Clone returns a copy of s that shares no memory with it (one allocation
// holds every byte slice).
func (s *StoredData) Clone() StoredData {
	c := *s
	id := &c.Signature.Identity
	buf := make([]byte, 0, len(c.Value.Value.Value)+len(c.Value.Key)+len(id.Hash)+len(id.Raw)+len(c.Signature.Value))
	buf, c.Value.Value.Value = cloneBytes(buf, c.Value.Value.Value)
	buf, c.Value.Key = cloneBytes(buf, c.Value.Key)
	buf, id.Hash = cloneBytes(buf, id.Hash)
	buf, id.Raw = cloneBytes(buf, id.Raw)
	_, c.Signature.Value = cloneBytes(buf, c.Signature.Value)
	return c
}

// cloneBytes copies v to the end of buf (which has room for it) and
// returns the copy, full-sliced so appending to it cannot overwrite the
// next copy; nil stays nil.
func cloneBytes(buf, v []byte) ([]byte, []byte) {
	if v == nil {
		return buf, nil
	}
	n := len(buf)
	buf = append(buf, v...)
	return buf, buf[n:len(buf):len(buf)]
}

// MetaData describes a stored value without carrying it (RFC 6940
// §7.4.3.2):
//
//	struct {
//	  Boolean                exists;
//	  uint32                 value_length;
//	  HashAlgorithm          hash_algorithm;
//	  opaque                 hash_value<0..255>;
//	} MetaData;
//
// HashValue is the digest of the DataValue's value including its 4-byte
// length prefix; it aliases the decoded input.
type MetaData struct {
	Exists        bool
	ValueLength   uint32
	HashAlgorithm HashAlgorithm
	HashValue     []byte
}

// Len is the encoded size.
func (m *MetaData) Len() int { return 7 + len(m.HashValue) }

// Decode reads a MetaData from the start of b.
func (m *MetaData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	e, err := r.ReadBool()
	if err != nil {
		return 0, fieldErr(err, "exists", 0)
	}
	l, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "value_length", 1)
	}
	h, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "hash_algorithm", 5)
	}
	v, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "hash_value", 6)
	}
	*m = MetaData{Exists: e, ValueLength: l, HashAlgorithm: HashAlgorithm(h), HashValue: v}
	return r.Offset(), nil
}

// Append appends the encoding of m.
func (m *MetaData) Append(b []byte) ([]byte, error) {
	b = AppendBool(b, m.Exists)
	b = AppendU32(b, m.ValueLength)
	b = append(b, byte(m.HashAlgorithm))
	b, err := AppendVec8(b, m.HashValue)
	if err != nil {
		return b, fieldErr(err, "hash_value", 6)
	}
	return b, nil
}

// ArrayEntryMeta is the metadata of an array element (RFC 6940
// §7.4.3.2):
//
//	struct {
//	  uint32                 index;
//	  MetaData               value;
//	} ArrayEntryMeta;
type ArrayEntryMeta struct {
	Index uint32
	Value MetaData
}

// Len is the encoded size.
func (a *ArrayEntryMeta) Len() int { return 4 + a.Value.Len() }

// Decode reads an ArrayEntryMeta from the start of b.
func (a *ArrayEntryMeta) Decode(b []byte) (int, error) {
	var key DictionaryKey
	return decodeSelect(b, ModelArray, &a.Value, &a.Index, &key)
}

// Append appends the encoding of a.
func (a *ArrayEntryMeta) Append(b []byte) ([]byte, error) {
	return appendSelect(b, ModelArray, &a.Value, a.Index, nil)
}

// DictionaryEntryMeta is the metadata of a dictionary entry (RFC 6940
// §7.4.3.2):
//
//	struct {
//	  DictionaryKey          key;
//	  MetaData               value;
//	} DictionaryEntryMeta;
//
// Key aliases the decoded input.
type DictionaryEntryMeta struct {
	Key   DictionaryKey
	Value MetaData
}

// Len is the encoded size.
func (d *DictionaryEntryMeta) Len() int { return 2 + len(d.Key) + d.Value.Len() }

// Decode reads a DictionaryEntryMeta from the start of b.
func (d *DictionaryEntryMeta) Decode(b []byte) (int, error) {
	var index uint32
	return decodeSelect(b, ModelDictionary, &d.Value, &index, &d.Key)
}

// Append appends the encoding of d.
func (d *DictionaryEntryMeta) Append(b []byte) ([]byte, error) {
	return appendSelect(b, ModelDictionary, &d.Value, 0, d.Key)
}

// MetaDataValue is the metadata counterpart of StoredDataValue (RFC 6940
// §7.4.3.2):
//
//	struct {
//	  select (DataModel) {
//	    case single_value:
//	      MetaData              single_value_entry;
//
//	    case array:
//	      ArrayEntryMeta        array_entry;
//
//	    case dictionary:
//	      DictionaryEntryMeta   dictionary_entry;
//
//	    /* This structure may be extended */
//	  };
//	} MetaDataValue;
//
// Model is a decode parameter exactly as in StoredDataValue, and Index and
// Key are used the same way.
type MetaDataValue struct {
	Model DataModel
	Value MetaData
	Index uint32
	Key   DictionaryKey
}

// Len is the encoded size.
func (v *MetaDataValue) Len() int { return selectLen(v.Model, v.Value.Len(), v.Key) }

// Decode reads a MetaDataValue of model v.Model from the start of b.
func (v *MetaDataValue) Decode(b []byte) (int, error) {
	n, err := decodeSelect(b, v.Model, &v.Value, &v.Index, &v.Key)
	return n, armErr(err, v.Model)
}

// Append appends the encoding of v.
func (v *MetaDataValue) Append(b []byte) ([]byte, error) {
	b, err := appendSelect(b, v.Model, &v.Value, v.Index, v.Key)
	return b, armErr(err, v.Model)
}

// StoredMetaData is the metadata of one StoredData (RFC 6940 §7.4.3.2):
//
//	struct {
//	  uint32                  value_length;
//	  uint64                  storage_time;
//	  uint32                  lifetime;
//	  MetaDataValue           metadata;
//	} StoredMetaData;
//
// The RFC says the fields are "the same as the corresponding fields in
// StoredData", so value_length is read as StoredData's length: the size of
// the rest of this structure. Append computes it and Decode requires the
// metadata to fill it exactly (Wireshark reads it the same way; the length
// of the stored value itself is MetaData.ValueLength). Metadata.Model is a
// decode parameter.
type StoredMetaData struct {
	StorageTime uint64
	Lifetime    uint32
	Metadata    MetaDataValue
}

// Len is the encoded size.
func (s *StoredMetaData) Len() int { return 16 + s.Metadata.Len() }

// Decode reads a StoredMetaData from the start of b.
func (s *StoredMetaData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	body, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "value_length", 0)
	}
	br := NewReader(body)
	t, err := br.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "storage_time", 4)
	}
	l, err := br.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "lifetime", 12)
	}
	n, err := s.Metadata.Decode(br.Peek())
	if err != nil {
		return 0, fieldErr(err, "metadata", 16)
	}
	if 12+n != len(body) {
		return 0, fieldErr(ErrTrailingData, "value_length", 16+n)
	}
	s.StorageTime, s.Lifetime = t, l
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *StoredMetaData) Append(b []byte) ([]byte, error) {
	b, mark := BeginVec(b, 4)
	b = AppendU64(b, s.StorageTime)
	b = AppendU32(b, s.Lifetime)
	b, err := s.Metadata.Append(b)
	if err != nil {
		return b, fieldErr(err, "metadata", 16)
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "value_length", 0)
	}
	return b, nil
}

// ArrayRange is a range of array indices to fetch (RFC 6940 §7.4.2.1):
//
//	struct {
//	  int32            first;
//	  int32            last;
//	} ArrayRange;
//
// The RFC declares int32 but its text uses 0xffffffff for "the final
// element" and requires first <= last, which only makes sense unsigned, so
// the fields are uint32 (the bytes are the same either way). Decode does
// not check first <= last or overlaps: storage does.
type ArrayRange struct {
	First uint32
	Last  uint32
}

// Len is the encoded size.
func (a *ArrayRange) Len() int { return 8 }

// Decode reads an ArrayRange from the start of b.
func (a *ArrayRange) Decode(b []byte) (int, error) {
	r := NewReader(b)
	f, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "first", 0)
	}
	l, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "last", 4)
	}
	a.First, a.Last = f, l
	return 8, nil
}

// Append appends the encoding of a.
func (a *ArrayRange) Append(b []byte) ([]byte, error) {
	return AppendU32(AppendU32(b, a.First), a.Last), nil
}

// StoredDataSpecifier selects values of one Kind to fetch or stat (RFC
// 6940 §7.4.2.1):
//
//	struct {
//	  KindId                  kind;
//	  uint64                  generation;
//	  uint16                  length;
//
//	  select (DataModel) {
//	    case single_value: ;    /* Empty */
//
//	    case array:
//	         ArrayRange       indices<0..2^16-1>;
//
//	    case dictionary:
//	         DictionaryKey    keys<0..2^16-1>;
//
//	    /* This structure may be extended */
//
//	  } model_specifier;
//	} StoredDataSpecifier;
//
// Models is a decode parameter (nil means IANAKindModels) that Decode reads
// and does not overwrite; Decode sets Model to the model it gives Kind, or
// ModelInvalid when it does not know Kind. Append and Len use Model, not
// Models: Indices for ARRAY, Keys for DICTIONARY, nothing for SINGLE, and
// for any other model Raw, the whole model_specifier as received, so that
// specifiers of unknown Kinds round-trip byte for byte. The lists of the
// arms not in use must be empty. length is computed by Append; Decode
// requires the model_specifier to fill it exactly. Keys and Raw alias the
// decoded input; Decode reuses the capacity of Indices and Keys.
type StoredDataSpecifier struct {
	Models     KindModels
	Kind       KindID
	Model      DataModel
	Generation uint64
	Indices    []ArrayRange
	Keys       []DictionaryKey
	Raw        []byte
}

// Len is the encoded size.
func (s *StoredDataSpecifier) Len() int {
	switch s.Model {
	case ModelSingle:
		return 14
	case ModelArray:
		return 16 + 8*len(s.Indices)
	case ModelDictionary:
		n := 16
		for i := range s.Keys {
			n += 2 + len(s.Keys[i])
		}
		return n
	}
	return 14 + len(s.Raw)
}

// Decode reads a StoredDataSpecifier from the start of b.
func (s *StoredDataSpecifier) Decode(b []byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	g, err := r.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "generation", 4)
	}
	spec, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "length", 12)
	}
	s.Kind, s.Generation = KindID(k), g
	s.Model = lookupModel(s.Models, s.Kind)
	s.Indices, s.Keys, s.Raw = s.Indices[:0], s.Keys[:0], nil
	sr := NewReader(spec)
	switch s.Model {
	case ModelSingle:
	case ModelArray:
		list, err := sr.ReadVec16()
		if err != nil {
			return 0, fieldErr(err, "model_specifier.indices", 14)
		}
		for o := 0; o < len(list); o += 8 {
			var a *ArrayRange
			s.Indices, a = growSlice(s.Indices)
			if _, err := a.Decode(list[o:]); err != nil {
				return 0, indexErr(err, "model_specifier.indices", len(s.Indices)-1, 16+o)
			}
		}
	case ModelDictionary:
		list, err := sr.ReadVec16()
		if err != nil {
			return 0, fieldErr(err, "model_specifier.keys", 14)
		}
		lr := NewReader(list)
		for !lr.Empty() {
			o := lr.Offset()
			key, err := lr.ReadVec16()
			if err != nil {
				return 0, indexErr(err, "model_specifier.keys", len(s.Keys), 16+o)
			}
			s.Keys = append(s.Keys, key)
		}
	default:
		s.Raw = sr.Rest()
	}
	if !sr.Empty() {
		return 0, fieldErr(ErrTrailingData, "model_specifier", 14+sr.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *StoredDataSpecifier) Append(b []byte) ([]byte, error) {
	var other int // bytes in the lists of the arms not in use
	switch s.Model {
	case ModelSingle:
		other = len(s.Indices) + len(s.Keys) + len(s.Raw)
	case ModelArray:
		other = len(s.Keys) + len(s.Raw)
	case ModelDictionary:
		other = len(s.Indices) + len(s.Raw)
	default:
		other = len(s.Indices) + len(s.Keys)
	}
	if other != 0 {
		return b, fieldErr(ErrInvalid, "model_specifier", 14)
	}
	b = AppendU32(b, uint32(s.Kind))
	b = AppendU64(b, s.Generation)
	b, outer := BeginVec(b, 2)
	var err error
	switch s.Model {
	case ModelSingle:
	case ModelArray:
		var mark int
		b, mark = BeginVec(b, 2)
		for i := range s.Indices {
			b, _ = s.Indices[i].Append(b)
		}
		if b, err = EndVec(b, mark, 2); err != nil {
			return b, fieldErr(err, "model_specifier.indices", 14)
		}
	case ModelDictionary:
		var mark int
		b, mark = BeginVec(b, 2)
		for i := range s.Keys {
			if b, err = AppendVec16(b, s.Keys[i]); err != nil {
				return b, indexErr(err, "model_specifier.keys", i, 16)
			}
		}
		if b, err = EndVec(b, mark, 2); err != nil {
			return b, fieldErr(err, "model_specifier.keys", 14)
		}
	default:
		b = append(b, s.Raw...)
	}
	if b, err = EndVec(b, outer, 2); err != nil {
		return b, fieldErr(err, "length", 12)
	}
	return b, nil
}

// growSlice extends s by one element and returns a pointer to it. Within
// capacity the element keeps its old contents, so its own lists keep their
// capacity for the Decode that overwrites it.
func growSlice[T any](s []T) ([]T, *T) {
	if len(s) < cap(s) {
		s = s[:len(s)+1]
	} else {
		var zero T
		s = append(s, zero)
	}
	return s, &s[len(s)-1]
}
