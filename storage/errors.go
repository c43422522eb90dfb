package storage

import (
	"errors"
	"fmt"

	"github.com/goreload/reload/wire"
)

// Sentinel causes. The handlers return them wrapped in a
// *wire.ProtocolError carrying the RELOAD error code to answer with; test
// with errors.Is for the cause and errors.As for the code.
var (
	// ErrUnknownKind: a Kind-ID the KindTable does not know
	// (Error_Unknown_Kind).
	ErrUnknownKind = errors.New("storage: unknown kind")
	// ErrDuplicateKind: a Kind-ID appears twice where the RFC forbids it
	// (Error_Invalid_Message).
	ErrDuplicateKind = errors.New("storage: kind repeated")
	// ErrBadRequest: a request breaks a rule of RFC 6940 §7.4 other than
	// those below, such as a value of the wrong data model or overlapping
	// array ranges (Error_Invalid_Message).
	ErrBadRequest = errors.New("storage: malformed request")
	// ErrNotResponsible: this peer is not responsible for the Resource-ID
	// of an original Store or of a Find (Error_Not_Found).
	ErrNotResponsible = errors.New("storage: not responsible for resource")
	// ErrReplicaRejected: a replica Store came from a node that cannot
	// plausibly hold the resource, or this peer does not expect to hold
	// it (Error_Forbidden).
	ErrReplicaRejected = errors.New("storage: replica store not accepted")
	// ErrNotPermitted: the signer of a value, or of an original Store,
	// is not allowed by the Kind's access control policy
	// (Error_Forbidden).
	ErrNotPermitted = errors.New("storage: not permitted by access control policy")
	// ErrGeneration: a generation counter in an original Store differs
	// from the stored one (Error_Generation_Counter_Too_Low).
	ErrGeneration = errors.New("storage: generation counter mismatch")
	// ErrTooOld: a value's storage_time is older than that of the value
	// it would replace (Error_Data_Too_Old).
	ErrTooOld = errors.New("storage: storage time not newer than stored value")
	// ErrTooLarge: a value exceeds the Kind's max-size, or the values
	// of a Kind exceed its max-count (Error_Data_Too_Large).
	ErrTooLarge = errors.New("storage: data exceeds the kind's limits")
)

func protoErr(code wire.ErrorCode, info []byte, cause error, format string, args ...any) *wire.ProtocolError {
	if format != "" {
		cause = fmt.Errorf("%w: "+format, append([]any{cause}, args...)...)
	}
	return &wire.ProtocolError{Code: code, Info: info, Err: cause}
}

// unknownKindInfo is the error_info of Error_Unknown_Kind (RFC 6940
// §7.4.1.2): KindId unknown_kinds<0..2^8-1>. At most 63 Kind-IDs fit;
// further ones are left out.
func unknownKindInfo(kinds []wire.KindID) []byte {
	n := min(len(kinds), 255/4)
	b := make([]byte, 1, 1+4*n)
	b[0] = byte(4 * n)
	for _, k := range kinds[:n] {
		b = wire.AppendU32(b, uint32(k))
	}
	return b
}

// UnknownKinds decodes the error_info of an Error_Unknown_Kind answer.
func UnknownKinds(info []byte) ([]wire.KindID, error) {
	r := wire.NewReader(info)
	list, err := r.ReadVec8()
	if err != nil {
		return nil, err
	}
	if !r.Empty() || len(list)%4 != 0 {
		return nil, wire.ErrTrailingData
	}
	kinds := make([]wire.KindID, 0, len(list)/4)
	lr := wire.NewReader(list)
	for !lr.Empty() {
		k, _ := lr.ReadU32()
		kinds = append(kinds, wire.KindID(k))
	}
	return kinds, nil
}
