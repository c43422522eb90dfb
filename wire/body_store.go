package wire

// This file holds the bodies of the storage methods Store, Fetch, Stat and
// Find (RFC 6940 §7.4) and their per-Kind parts; the stored values
// themselves are in stored_data.go.
//
// The data model of a Kind is not on the wire, yet the layout of stored
// values depends on it. Decoders therefore take a KindModels decode
// parameter (field Models, nil meaning IANAKindModels). The values of a
// Kind whose model Models does not know cannot be delimited one by one
// (StoredDataValue has no length of its own), so StoreKindData,
// FetchKindResponse and StatKindResponse keep the whole values list of such
// a Kind raw in RawValues; it round-trips byte for byte. Encoders do not
// consult Models: the values carry their model (StoredDataValue.Model).

// listParams are the decode parameters a list hands to each element.
type listParams struct {
	models KindModels
	idLen  int
	model  DataModel
}

// listElem is an element type of the lists decoded by decodeList.
type listElem[T any] interface {
	*T
	Decode(b []byte) (int, error)
	Append(b []byte) ([]byte, error)
	Len() int
	setParams(p listParams)
}

// decodeList decodes elements filling b exactly into list, reusing its
// capacity and, within it, the old elements' own lists. field names the
// list in errors; base is the offset of b in the buffer being decoded.
func decodeList[T any, P listElem[T]](list []T, b []byte, p listParams, field string, base int) ([]T, error) {
	list = list[:0]
	for off := 0; off < len(b); {
		var e *T
		list, e = growSlice(list)
		P(e).setParams(p)
		n, err := P(e).Decode(b[off:])
		if err != nil {
			return list[:len(list)-1], indexErr(err, field, len(list)-1, base+off)
		}
		off += n
	}
	return list, nil
}

// appendList appends each element of list.
func appendList[T any, P listElem[T]](b []byte, list []T, field string) ([]byte, error) {
	var err error
	for i := range list {
		if b, err = P(&list[i]).Append(b); err != nil {
			return b, indexErr(err, field, i, 0)
		}
	}
	return b, nil
}

// listLen is the encoded size of the elements of list.
func listLen[T any, P listElem[T]](list []T) int {
	n := 0
	for i := range list {
		n += P(&list[i]).Len()
	}
	return n
}

// decodeListBody decodes a message body that is a single list with a
// length prefix of width bytes and fills b exactly. body is the type name,
// field the path of the list.
func decodeListBody[T any, P listElem[T]](list []T, b []byte, width int, p listParams, body, field string) ([]T, int, error) {
	r := NewReader(b)
	v, err := r.readVec(width)
	if err != nil {
		return list, 0, fieldErr(err, field, 0)
	}
	if !r.Empty() {
		return list, 0, fieldErr(ErrTrailingData, body, r.Offset())
	}
	list, err = decodeList[T, P](list, v, p, field, width)
	if err != nil {
		return list, 0, err
	}
	return list, r.Offset(), nil
}

// appendListBody is the encoder matching decodeListBody.
func appendListBody[T any, P listElem[T]](b []byte, list []T, width int, field string) ([]byte, error) {
	b, mark := BeginVec(b, width)
	b, err := appendList[T, P](b, list, field)
	if err != nil {
		return b, err
	}
	if b, err = EndVec(b, mark, width); err != nil {
		return b, fieldErr(err, field, 0)
	}
	return b, nil
}

func (s *StoredData) setParams(p listParams)     { s.Value.Model = p.model }
func (s *StoredMetaData) setParams(p listParams) { s.Metadata.Model = p.model }

// decodeKindValues reads the layout shared by StoreKindData,
// FetchKindResponse and StatKindResponse: kind, a uint64 generation named
// gen, and values<0..2^32-1> decoded with the Kind's model, or kept raw
// when models does not know it.
func decodeKindValues[T any, P listElem[T]](b []byte, models KindModels, gen string,
	kind *KindID, generation *uint64, values *[]T, raw *[]byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	g, err := r.ReadU64()
	if err != nil {
		return 0, fieldErr(err, gen, 4)
	}
	v, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "values", 12)
	}
	*kind, *generation = KindID(k), g
	p := listParams{model: lookupModel(models, *kind)}
	if p.model == ModelInvalid {
		*values, *raw = (*values)[:0], v
		return r.Offset(), nil
	}
	*raw = nil
	if *values, err = decodeList[T, P](*values, v, p, "values", 16); err != nil {
		return 0, err
	}
	return r.Offset(), nil
}

// appendKindValues is the encoder matching decodeKindValues. At most one
// of values and raw may be non-empty.
func appendKindValues[T any, P listElem[T]](b []byte, kind KindID, generation uint64, values []T, raw []byte) ([]byte, error) {
	if len(values) > 0 && len(raw) > 0 {
		return b, fieldErr(ErrInvalid, "values", 12)
	}
	b = AppendU32(b, uint32(kind))
	b = AppendU64(b, generation)
	b, mark := BeginVec(b, 4)
	b = append(b, raw...)
	b, err := appendList[T, P](b, values, "values")
	if err != nil {
		return b, err
	}
	if b, err = EndVec(b, mark, 4); err != nil {
		return b, fieldErr(err, "values", 12)
	}
	return b, nil
}

// StoreKindData is the data of one Kind in a StoreReq (RFC 6940
// §7.4.1.1):
//
//	struct {
//	    KindId                 kind;
//	    uint64                 generation_counter;
//	    StoredData             values<0..2^32-1>;
//	} StoreKindData;
//
// Models is a decode parameter (nil means IANAKindModels) that Decode reads
// and does not overwrite. When Models knows Kind, Decode fills Values, each
// with Value.Model set to the Kind's model, and sets RawValues to nil;
// otherwise it leaves Values empty and keeps the encoded values list in
// RawValues. Append writes RawValues followed by Values, at most one of
// which may be non-empty (ErrInvalid otherwise). Decode reuses the capacity
// of Values; slices alias the input.
type StoreKindData struct {
	Models     KindModels
	Kind       KindID
	Generation uint64 // generation_counter
	Values     []StoredData
	RawValues  []byte
}

func (k *StoreKindData) setParams(p listParams) { k.Models = p.models }

// Len is the encoded size.
func (k *StoreKindData) Len() int { return 16 + len(k.RawValues) + listLen(k.Values) }

// Decode reads a StoreKindData from the start of b.
func (k *StoreKindData) Decode(b []byte) (int, error) {
	return decodeKindValues(b, k.Models, "generation_counter", &k.Kind, &k.Generation, &k.Values, &k.RawValues)
}

// Append appends the encoding of k.
func (k *StoreKindData) Append(b []byte) ([]byte, error) {
	return appendKindValues(b, k.Kind, k.Generation, k.Values, k.RawValues)
}

// StoreReq is the body of a Store request, code 7 (RFC 6940 §7.4.1.1):
//
//	struct {
//	    ResourceId             resource;
//	    uint8                  replica_number;
//	    StoreKindData          kind_data<0..2^32-1>;
//	} StoreReq;
//
// Models is a decode parameter handed to every StoreKindData (see there).
// Decode reuses the capacity of KindData and of the lists inside its
// elements, so decoding into a reused StoreReq does not allocate; slices
// alias the input.
type StoreReq struct {
	Models        KindModels
	Resource      ResourceID
	ReplicaNumber uint8
	KindData      []StoreKindData
}

// Len is the encoded size.
func (s *StoreReq) Len() int { return 6 + len(s.Resource) + listLen(s.KindData) }

// Decode reads a StoreReq that fills b exactly.
func (s *StoreReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	res, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "StoreReq.resource", 0)
	}
	rn, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "StoreReq.replica_number", r.Offset())
	}
	off := r.Offset()
	kd, err := r.ReadVec32()
	if err != nil {
		return 0, fieldErr(err, "StoreReq.kind_data", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "StoreReq", r.Offset())
	}
	s.Resource, s.ReplicaNumber = res, rn
	p := listParams{models: s.Models}
	if s.KindData, err = decodeList(s.KindData, kd, p, "StoreReq.kind_data", off+4); err != nil {
		return 0, err
	}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *StoreReq) Append(b []byte) ([]byte, error) {
	b, err := AppendVec8(b, s.Resource)
	if err != nil {
		return b, fieldErr(err, "StoreReq.resource", 0)
	}
	b = append(b, s.ReplicaNumber)
	return appendListBody(b, s.KindData, 4, "StoreReq.kind_data")
}

// StoreKindResponse is the answer for one Kind of a Store (RFC 6940
// §7.4.1.2):
//
//	struct {
//	  KindId                  kind;
//	  uint64                  generation_counter;
//	  NodeId                  replicas<0..2^16-1>;
//	} StoreKindResponse;
//
// The replicas are bare NodeIds of the overlay's length: IDLen is a decode
// parameter (0 means DefaultNodeIDLen) that Decode reads and does not
// overwrite, and Append requires every replica to have that length.
// Decode reuses the capacity of Replicas.
type StoreKindResponse struct {
	IDLen      int
	Kind       KindID
	Generation uint64 // generation_counter
	Replicas   []NodeID
}

func (s *StoreKindResponse) setParams(p listParams) { s.IDLen = p.idLen }

// Len is the encoded size.
func (s *StoreKindResponse) Len() int {
	n := 14
	for i := range s.Replicas {
		n += s.Replicas[i].Len()
	}
	return n
}

// Decode reads a StoreKindResponse from the start of b.
func (s *StoreKindResponse) Decode(b []byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	g, err := r.ReadU64()
	if err != nil {
		return 0, fieldErr(err, "generation_counter", 4)
	}
	list, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "replicas", 12)
	}
	s.Kind, s.Generation = KindID(k), g
	s.Replicas = s.Replicas[:0]
	lr := NewReader(list)
	for !lr.Empty() {
		o := lr.Offset()
		id, err := lr.ReadNodeID(s.IDLen)
		if err != nil {
			return 0, indexErr(err, "replicas", len(s.Replicas), 14+o)
		}
		s.Replicas = append(s.Replicas, id)
	}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *StoreKindResponse) Append(b []byte) ([]byte, error) {
	b = AppendU32(b, uint32(s.Kind))
	b = AppendU64(b, s.Generation)
	b, mark := BeginVec(b, 2)
	var err error
	for i := range s.Replicas {
		if s.Replicas[i].Len() != nodeIDLen(s.IDLen) {
			return b, indexErr(ErrInvalid, "replicas", i, 14)
		}
		if b, err = AppendNodeID(b, s.Replicas[i]); err != nil {
			return b, indexErr(err, "replicas", i, 14)
		}
	}
	if b, err = EndVec(b, mark, 2); err != nil {
		return b, fieldErr(err, "replicas", 12)
	}
	return b, nil
}

// StoreAns is the body of a Store answer, code 8 (RFC 6940 §7.4.1.2); it
// is also the error_info of Error_Generation_Counter_Too_Low:
//
//	struct {
//	  StoreKindResponse       kind_responses<0..2^16-1>;
//	} StoreAns;
//
// IDLen is a decode parameter handed to every StoreKindResponse. Decode
// reuses the capacity of KindResponses and of their Replicas.
type StoreAns struct {
	IDLen         int
	KindResponses []StoreKindResponse
}

// Len is the encoded size.
func (s *StoreAns) Len() int { return 2 + listLen(s.KindResponses) }

// Decode reads a StoreAns that fills b exactly.
func (s *StoreAns) Decode(b []byte) (n int, err error) {
	p := listParams{idLen: s.IDLen}
	s.KindResponses, n, err = decodeListBody(s.KindResponses, b, 2, p, "StoreAns", "StoreAns.kind_responses")
	return n, err
}

// Append appends the encoding of s.
func (s *StoreAns) Append(b []byte) ([]byte, error) {
	return appendListBody(b, s.KindResponses, 2, "StoreAns.kind_responses")
}

func (s *StoredDataSpecifier) setParams(p listParams) { s.Models = p.models }

// FetchReq is the body of a Fetch request, code 9 (RFC 6940 §7.4.2.1):
//
//	struct {
//	  ResourceId              resource;
//	  StoredDataSpecifier     specifiers<0..2^16-1>;
//	} FetchReq;
//
// Models is a decode parameter handed to every StoredDataSpecifier (see
// there). Decode reuses the capacity of Specifiers and of their lists.
type FetchReq struct {
	Models     KindModels
	Resource   ResourceID
	Specifiers []StoredDataSpecifier
}

// Len is the encoded size.
func (f *FetchReq) Len() int { return 3 + len(f.Resource) + listLen(f.Specifiers) }

// Decode reads a FetchReq that fills b exactly.
func (f *FetchReq) Decode(b []byte) (int, error) { return f.decode(b, "FetchReq") }

// Append appends the encoding of f.
func (f *FetchReq) Append(b []byte) ([]byte, error) { return f.append(b, "FetchReq") }

func (f *FetchReq) decode(b []byte, body string) (int, error) {
	r := NewReader(b)
	res, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, body+".resource", 0)
	}
	f.Resource = res
	p := listParams{models: f.Models}
	var n int
	f.Specifiers, n, err = decodeListBody(f.Specifiers, r.Peek(), 2, p, body, body+".specifiers")
	if err != nil {
		return 0, fieldErr(err, "", r.Offset())
	}
	return r.Offset() + n, nil
}

func (f *FetchReq) append(b []byte, body string) ([]byte, error) {
	b, err := AppendVec8(b, f.Resource)
	if err != nil {
		return b, fieldErr(err, body+".resource", 0)
	}
	return appendListBody(b, f.Specifiers, 2, body+".specifiers")
}

// StatReq is the body of a Stat request, code 25 (RFC 6940 §7.4.3.1). It
// has the fields of FetchReq:
//
//	struct {
//	  ResourceId              resource;
//	  StoredDataSpecifier     specifiers<0..2^16-1>;
//	} StatReq;
type StatReq FetchReq

// Len is the encoded size.
func (s *StatReq) Len() int { return (*FetchReq)(s).Len() }

// Decode reads a StatReq that fills b exactly.
func (s *StatReq) Decode(b []byte) (int, error) { return (*FetchReq)(s).decode(b, "StatReq") }

// Append appends the encoding of s.
func (s *StatReq) Append(b []byte) ([]byte, error) { return (*FetchReq)(s).append(b, "StatReq") }

// FetchKindResponse is the answer for one Kind of a Fetch (RFC 6940
// §7.4.2.2):
//
//	struct {
//	  KindId                 kind;
//	  uint64                 generation;
//	  StoredData             values<0..2^32-1>;
//	} FetchKindResponse;
//
// Models, Values and RawValues work as in StoreKindData.
type FetchKindResponse struct {
	Models     KindModels
	Kind       KindID
	Generation uint64
	Values     []StoredData
	RawValues  []byte
}

func (f *FetchKindResponse) setParams(p listParams) { f.Models = p.models }

// Len is the encoded size.
func (f *FetchKindResponse) Len() int { return 16 + len(f.RawValues) + listLen(f.Values) }

// Decode reads a FetchKindResponse from the start of b.
func (f *FetchKindResponse) Decode(b []byte) (int, error) {
	return decodeKindValues(b, f.Models, "generation", &f.Kind, &f.Generation, &f.Values, &f.RawValues)
}

// Append appends the encoding of f.
func (f *FetchKindResponse) Append(b []byte) ([]byte, error) {
	return appendKindValues(b, f.Kind, f.Generation, f.Values, f.RawValues)
}

// FetchAns is the body of a Fetch answer, code 10 (RFC 6940 §7.4.2.2):
//
//	struct {
//	  FetchKindResponse      kind_responses<0..2^32-1>;
//	} FetchAns;
//
// Models is a decode parameter handed to every FetchKindResponse. Decode
// reuses the capacity of KindResponses and of the lists inside them.
type FetchAns struct {
	Models        KindModels
	KindResponses []FetchKindResponse
}

// Len is the encoded size.
func (f *FetchAns) Len() int { return 4 + listLen(f.KindResponses) }

// Decode reads a FetchAns that fills b exactly.
func (f *FetchAns) Decode(b []byte) (n int, err error) {
	p := listParams{models: f.Models}
	f.KindResponses, n, err = decodeListBody(f.KindResponses, b, 4, p, "FetchAns", "FetchAns.kind_responses")
	return n, err
}

// Append appends the encoding of f.
func (f *FetchAns) Append(b []byte) ([]byte, error) {
	return appendListBody(b, f.KindResponses, 4, "FetchAns.kind_responses")
}

// StatKindResponse is the answer for one Kind of a Stat (RFC 6940
// §7.4.3.2):
//
//	struct {
//	  KindId                 kind;
//	  uint64                 generation;
//	  StoredMetaData         values<0..2^32-1>;
//	} StatKindResponse;
//
// Models, Values and RawValues work as in StoreKindData (StoredMetaData
// has no length of its own either).
type StatKindResponse struct {
	Models     KindModels
	Kind       KindID
	Generation uint64
	Values     []StoredMetaData
	RawValues  []byte
}

func (s *StatKindResponse) setParams(p listParams) { s.Models = p.models }

// Len is the encoded size.
func (s *StatKindResponse) Len() int { return 16 + len(s.RawValues) + listLen(s.Values) }

// Decode reads a StatKindResponse from the start of b.
func (s *StatKindResponse) Decode(b []byte) (int, error) {
	return decodeKindValues(b, s.Models, "generation", &s.Kind, &s.Generation, &s.Values, &s.RawValues)
}

// Append appends the encoding of s.
func (s *StatKindResponse) Append(b []byte) ([]byte, error) {
	return appendKindValues(b, s.Kind, s.Generation, s.Values, s.RawValues)
}

// StatAns is the body of a Stat answer, code 26 (RFC 6940 §7.4.3.2):
//
//	struct {
//	  StatKindResponse      kind_responses<0..2^32-1>;
//	} StatAns;
//
// Models is a decode parameter handed to every StatKindResponse. Decode
// reuses the capacity of KindResponses and of the lists inside them.
type StatAns struct {
	Models        KindModels
	KindResponses []StatKindResponse
}

// Len is the encoded size.
func (s *StatAns) Len() int { return 4 + listLen(s.KindResponses) }

// Decode reads a StatAns that fills b exactly.
func (s *StatAns) Decode(b []byte) (n int, err error) {
	p := listParams{models: s.Models}
	s.KindResponses, n, err = decodeListBody(s.KindResponses, b, 4, p, "StatAns", "StatAns.kind_responses")
	return n, err
}

// Append appends the encoding of s.
func (s *StatAns) Append(b []byte) ([]byte, error) {
	return appendListBody(b, s.KindResponses, 4, "StatAns.kind_responses")
}

// FindReq is the body of a Find request, code 13 (RFC 6940 §7.4.4.1):
//
//	struct {
//	  ResourceId                 resource;
//	  KindId                     kinds<0..2^8-1>;
//	} FindReq;
//
// Decode does not reject repeated Kinds (the RFC makes that an error of
// the request, not of its encoding). Decode reuses the capacity of Kinds;
// Resource aliases the input.
type FindReq struct {
	Resource ResourceID
	Kinds    []KindID
}

// Len is the encoded size.
func (f *FindReq) Len() int { return 2 + len(f.Resource) + 4*len(f.Kinds) }

// Decode reads a FindReq that fills b exactly.
func (f *FindReq) Decode(b []byte) (int, error) {
	r := NewReader(b)
	res, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "FindReq.resource", 0)
	}
	off := r.Offset()
	list, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "FindReq.kinds", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "FindReq", r.Offset())
	}
	f.Resource = res
	f.Kinds = f.Kinds[:0]
	lr := NewReader(list)
	for !lr.Empty() {
		o := lr.Offset()
		k, err := lr.ReadU32()
		if err != nil {
			return 0, indexErr(err, "FindReq.kinds", len(f.Kinds), off+1+o)
		}
		f.Kinds = append(f.Kinds, KindID(k))
	}
	return r.Offset(), nil
}

// Append appends the encoding of f.
func (f *FindReq) Append(b []byte) ([]byte, error) {
	b, err := AppendVec8(b, f.Resource)
	if err != nil {
		return b, fieldErr(err, "FindReq.resource", 0)
	}
	b, mark := BeginVec(b, 1)
	for _, k := range f.Kinds {
		b = AppendU32(b, uint32(k))
	}
	if b, err = EndVec(b, mark, 1); err != nil {
		return b, fieldErr(err, "FindReq.kinds", 1+len(f.Resource))
	}
	return b, nil
}

// FindKindData is the answer for one Kind of a Find (RFC 6940 §7.4.4.2):
//
//	struct {
//	  KindId                      kind;
//	  ResourceId                  closest;
//	} FindKindData;
//
// Closest aliases the decoded input.
type FindKindData struct {
	Kind    KindID
	Closest ResourceID
}

func (f *FindKindData) setParams(listParams) {}

// Len is the encoded size.
func (f *FindKindData) Len() int { return 5 + len(f.Closest) }

// Decode reads a FindKindData from the start of b.
func (f *FindKindData) Decode(b []byte) (int, error) {
	r := NewReader(b)
	k, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "kind", 0)
	}
	c, err := r.ReadVec8()
	if err != nil {
		return 0, fieldErr(err, "closest", 4)
	}
	f.Kind, f.Closest = KindID(k), c
	return r.Offset(), nil
}

// Append appends the encoding of f.
func (f *FindKindData) Append(b []byte) ([]byte, error) {
	b = AppendU32(b, uint32(f.Kind))
	b, err := AppendVec8(b, f.Closest)
	if err != nil {
		return b, fieldErr(err, "closest", 4)
	}
	return b, nil
}

// FindAns is the body of a Find answer, code 14 (RFC 6940 §7.4.4.2):
//
//	struct {
//	  FindKindData                results<0..2^16-1>;
//	} FindAns;
//
// Decode reuses the capacity of Results.
type FindAns struct {
	Results []FindKindData
}

// Len is the encoded size.
func (f *FindAns) Len() int { return 2 + listLen(f.Results) }

// Decode reads a FindAns that fills b exactly.
func (f *FindAns) Decode(b []byte) (n int, err error) {
	f.Results, n, err = decodeListBody(f.Results, b, 2, listParams{}, "FindAns", "FindAns.results")
	return n, err
}

// Append appends the encoding of f.
func (f *FindAns) Append(b []byte) ([]byte, error) {
	return appendListBody(b, f.Results, 2, "FindAns.results")
}
