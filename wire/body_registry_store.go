package wire

// newStoreBody maps the storage message codes (RFC 6940 §7.4) to their
// bodies; data models come from IANAKindModels.
func newStoreBody(c MessageCode, idLen int) (Body, bool) {
	switch c {
	case CodeStoreReq:
		return &StoreReq{}, true
	case CodeStoreAns:
		return &StoreAns{IDLen: idLen}, true
	case CodeFetchReq:
		return &FetchReq{}, true
	case CodeFetchAns:
		return &FetchAns{}, true
	case CodeStatReq:
		return &StatReq{}, true
	case CodeStatAns:
		return &StatAns{}, true
	case CodeFindReq:
		return &FindReq{}, true
	case CodeFindAns:
		return &FindAns{}, true
	}
	return nil, false
}
