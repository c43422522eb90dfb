package wire

import (
	"errors"
	"strconv"
)

// MessageCode is the message_code of MessageContents (RFC 6940 §6.3.3,
// §14.8). Requests are odd; the answer is the request code plus one.
type MessageCode uint16

// Message codes (IANA "RELOAD Message Codes"; PathTrack from RFC 7851
// §9.3, which Wireshark places at 0x65/0x66 by mistake).
const (
	CodeInvalid         MessageCode = 0x0000
	CodeProbeReq        MessageCode = 0x0001
	CodeProbeAns        MessageCode = 0x0002
	CodeAttachReq       MessageCode = 0x0003
	CodeAttachAns       MessageCode = 0x0004
	CodeStoreReq        MessageCode = 0x0007
	CodeStoreAns        MessageCode = 0x0008
	CodeFetchReq        MessageCode = 0x0009
	CodeFetchAns        MessageCode = 0x000a
	CodeFindReq         MessageCode = 0x000d
	CodeFindAns         MessageCode = 0x000e
	CodeJoinReq         MessageCode = 0x000f
	CodeJoinAns         MessageCode = 0x0010
	CodeLeaveReq        MessageCode = 0x0011
	CodeLeaveAns        MessageCode = 0x0012
	CodeUpdateReq       MessageCode = 0x0013
	CodeUpdateAns       MessageCode = 0x0014
	CodeRouteQueryReq   MessageCode = 0x0015
	CodeRouteQueryAns   MessageCode = 0x0016
	CodePingReq         MessageCode = 0x0017
	CodePingAns         MessageCode = 0x0018
	CodeStatReq         MessageCode = 0x0019
	CodeStatAns         MessageCode = 0x001a
	CodeAppAttachReq    MessageCode = 0x001d
	CodeAppAttachAns    MessageCode = 0x001e
	CodeConfigUpdateReq MessageCode = 0x0021
	CodeConfigUpdateAns MessageCode = 0x0022
	CodeExpAReq         MessageCode = 0x0023
	CodeExpAAns         MessageCode = 0x0024
	CodeExpBReq         MessageCode = 0x0025
	CodeExpBAns         MessageCode = 0x0026
	CodePathTrackReq    MessageCode = 0x0027
	CodePathTrackAns    MessageCode = 0x0028
	CodeError           MessageCode = 0xffff
)

var codeNames = map[MessageCode]string{
	CodeInvalid: "invalidMessageCode", CodeProbeReq: "probe_req", CodeProbeAns: "probe_ans",
	CodeAttachReq: "attach_req", CodeAttachAns: "attach_ans", CodeStoreReq: "store_req",
	CodeStoreAns: "store_ans", CodeFetchReq: "fetch_req", CodeFetchAns: "fetch_ans",
	CodeFindReq: "find_req", CodeFindAns: "find_ans", CodeJoinReq: "join_req", CodeJoinAns: "join_ans",
	CodeLeaveReq: "leave_req", CodeLeaveAns: "leave_ans", CodeUpdateReq: "update_req",
	CodeUpdateAns: "update_ans", CodeRouteQueryReq: "route_query_req", CodeRouteQueryAns: "route_query_ans",
	CodePingReq: "ping_req", CodePingAns: "ping_ans", CodeStatReq: "stat_req", CodeStatAns: "stat_ans",
	CodeAppAttachReq: "app_attach_req", CodeAppAttachAns: "app_attach_ans",
	CodeConfigUpdateReq: "config_update_req", CodeConfigUpdateAns: "config_update_ans",
	CodeExpAReq: "exp_a_req", CodeExpAAns: "exp_a_ans", CodeExpBReq: "exp_b_req", CodeExpBAns: "exp_b_ans",
	CodePathTrackReq: "path_track_req", CodePathTrackAns: "path_track_ans", CodeError: "error",
}

func (c MessageCode) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "MessageCode(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

// IsRequest reports whether c is a request code (odd, below 0x8000).
func (c MessageCode) IsRequest() bool { return c&1 == 1 && c < 0x8000 }

// IsAnswer reports whether c is an answer code (even, non-zero, below
// 0x8000) or the error code.
func (c MessageCode) IsAnswer() bool { return c == CodeError || (c != 0 && c&1 == 0 && c < 0x8000) }

// Answer is the answer code paired with request code c.
func (c MessageCode) Answer() MessageCode { return c + 1 }

// Method is the request code of c's method (c itself for a request).
func (c MessageCode) Method() MessageCode {
	if c.IsAnswer() && c != CodeError {
		return c - 1
	}
	return c
}

// ErrorCode is the error_code of an ErrorResponse (RFC 6940 §6.3.3.1,
// §14.9; RFC 7851 §9.4).
type ErrorCode uint16

// Error codes.
const (
	ErrCodeInvalid                        ErrorCode = 0x00
	ErrCodeForbidden                      ErrorCode = 0x02
	ErrCodeNotFound                       ErrorCode = 0x03
	ErrCodeRequestTimeout                 ErrorCode = 0x04
	ErrCodeGenerationCounterTooLow        ErrorCode = 0x05
	ErrCodeIncompatibleWithOverlay        ErrorCode = 0x06
	ErrCodeUnsupportedForwardingOption    ErrorCode = 0x07
	ErrCodeDataTooLarge                   ErrorCode = 0x08
	ErrCodeDataTooOld                     ErrorCode = 0x09
	ErrCodeTTLExceeded                    ErrorCode = 0x0a
	ErrCodeMessageTooLarge                ErrorCode = 0x0b
	ErrCodeUnknownKind                    ErrorCode = 0x0c
	ErrCodeUnknownExtension               ErrorCode = 0x0d
	ErrCodeResponseTooLarge               ErrorCode = 0x0e
	ErrCodeConfigTooOld                   ErrorCode = 0x0f
	ErrCodeConfigTooNew                   ErrorCode = 0x10
	ErrCodeInProgress                     ErrorCode = 0x11
	ErrCodeExpA                           ErrorCode = 0x12
	ErrCodeExpB                           ErrorCode = 0x13
	ErrCodeInvalidMessage                 ErrorCode = 0x14
	ErrCodeUnderlayDestinationUnreachable ErrorCode = 0x15
	ErrCodeUnderlayTimeExceeded           ErrorCode = 0x16
	ErrCodeMessageExpired                 ErrorCode = 0x17
	ErrCodeUpstreamMisrouting             ErrorCode = 0x18
	ErrCodeLoopDetected                   ErrorCode = 0x19
	ErrCodeTTLHopsExceeded                ErrorCode = 0x1a
)

var errorCodeNames = map[ErrorCode]string{
	ErrCodeInvalid: "invalidErrorCode", ErrCodeForbidden: "Error_Forbidden", ErrCodeNotFound: "Error_Not_Found",
	ErrCodeRequestTimeout: "Error_Request_Timeout", ErrCodeGenerationCounterTooLow: "Error_Generation_Counter_Too_Low",
	ErrCodeIncompatibleWithOverlay: "Error_Incompatible_with_Overlay", ErrCodeUnsupportedForwardingOption: "Error_Unsupported_Forwarding_Option",
	ErrCodeDataTooLarge: "Error_Data_Too_Large", ErrCodeDataTooOld: "Error_Data_Too_Old", ErrCodeTTLExceeded: "Error_TTL_Exceeded",
	ErrCodeMessageTooLarge: "Error_Message_Too_Large", ErrCodeUnknownKind: "Error_Unknown_Kind", ErrCodeUnknownExtension: "Error_Unknown_Extension",
	ErrCodeResponseTooLarge: "Error_Response_Too_Large", ErrCodeConfigTooOld: "Error_Config_Too_Old", ErrCodeConfigTooNew: "Error_Config_Too_New",
	ErrCodeInProgress: "Error_In_Progress", ErrCodeExpA: "Error_Exp_A", ErrCodeExpB: "Error_Exp_B", ErrCodeInvalidMessage: "Error_Invalid_Message",
	ErrCodeUnderlayDestinationUnreachable: "Error_Underlay_Destination_Unreachable", ErrCodeUnderlayTimeExceeded: "Error_Underlay_Time_Exceeded",
	ErrCodeMessageExpired: "Error_Message_Expired", ErrCodeUpstreamMisrouting: "Error_Upstream_Misrouting",
	ErrCodeLoopDetected: "Error_Loop_Detected", ErrCodeTTLHopsExceeded: "Error_TTL_Hops_Exceeded",
}

func (c ErrorCode) String() string {
	if s, ok := errorCodeNames[c]; ok {
		return s
	}
	return "ErrorCode(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

// ProtocolError is a RELOAD error to be answered with an ErrorResponse:
// the code and info this node puts on the wire, and the cause for logs. It
// means "answer with Code", and only that: an error answer received from
// another peer is a *RemoteError, and a request that got no answer in time
// is the forwarding layer's own timeout error. ErrorCodeOf reads the code
// of any of them.
type ProtocolError struct {
	Code ErrorCode
	Info []byte
	Err  error
}

func (e *ProtocolError) Error() string {
	s := "reload: " + e.Code.String()
	if len(e.Info) > 0 {
		s += " (" + printable(e.Info) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Response is the ErrorResponse body this error is answered with.
func (e *ProtocolError) Response() ErrorResponse { return ErrorResponse{Code: e.Code, Info: e.Info} }

// ErrorCode returns e.Code (see ErrorCodeOf).
func (e *ProtocolError) ErrorCode() (ErrorCode, bool) { return e.Code, true }

// RemoteError reports that a peer answered a request with an error
// response (RFC 6940 §6.3.3.1): the error_code and error_info it sent and
// the Node-ID that signed the answer. ParseErrorAnswer makes it.
//
// It is not a *ProtocolError. The codes of §6.3.3.1 describe the answering
// node's own view of the request it received ("the requesting node does
// not have permission", "the resource or node cannot be found"), so a node
// whose request failed downstream must not answer its own requester with
// the downstream peer's code as if it were its own: a handler that returns
// a RemoteError (bare or wrapped, without a *ProtocolError in front) is
// answered with Error_Invalid_Message, the code §6.3.3.1 keeps for what
// "does not fit the other error codes", with an error_info naming the
// downstream code. A handler that means to pass the code on, having
// checked that it holds for its own answer too, says so with Relay.
type RemoteError struct {
	Code ErrorCode
	Info []byte
	// From is the Node-ID that signed the error answer (zero when
	// unknown).
	From NodeID
	// Err is set only when the body of the error answer is not a
	// well-formed ErrorResponse; Code is then ErrCodeInvalid and Info
	// empty.
	Err error
}

// ParseErrorAnswer is the error a peer's error answer reports: body is the
// message body of an answer with message code CodeError (RFC 6940
// §6.3.3.1), from the Node-ID that signed it. It returns a *RemoteError
// with the answer's code and a copy of its info; when body does not decode
// as an ErrorResponse, the *RemoteError has Code ErrCodeInvalid and the
// decode error in Err. It is the one place an ErrorResponse becomes a Go
// error.
func ParseErrorAnswer(body []byte, from NodeID) *RemoteError {
	var er ErrorResponse
	if _, err := er.Decode(body); err != nil {
		return &RemoteError{Code: ErrCodeInvalid, From: from, Err: err}
	}
	var info []byte
	if len(er.Info) > 0 {
		info = append([]byte(nil), er.Info...)
	}
	return &RemoteError{Code: er.Code, Info: info, From: from}
}

func (e *RemoteError) Error() string {
	s := "reload: error answer"
	if !e.From.IsZero() {
		s += " from " + e.From.String()
	}
	if e.Err != nil {
		return s + ": malformed ErrorResponse: " + trimPrefix(e.Err.Error())
	}
	s += ": " + e.Code.String()
	if len(e.Info) > 0 {
		s += " (" + printable(e.Info) + ")"
	}
	return s
}

// Unwrap returns the decode error of a malformed error answer, else nil.
func (e *RemoteError) Unwrap() error { return e.Err }

// ErrorCode returns the code the peer answered with; ok is false when the
// answer's body did not decode (see ErrorCodeOf).
func (e *RemoteError) ErrorCode() (ErrorCode, bool) { return e.Code, e.Err == nil }

// Response is the ErrorResponse the peer sent (Code ErrCodeInvalid and no
// info when it did not decode).
func (e *RemoteError) Response() ErrorResponse { return ErrorResponse{Code: e.Code, Info: e.Info} }

// Relay makes this node answer with the remote peer's code and info as its
// own, the explicit choice of a handler that acts for the remote peer (for
// example the answer of a local plugin that speaks for this node). An
// answer whose body did not decode is relayed as Error_Invalid_Message.
func (e *RemoteError) Relay() *ProtocolError {
	if e.Err != nil {
		return &ProtocolError{Code: ErrCodeInvalidMessage, Info: []byte("malformed error response"), Err: e}
	}
	return &ProtocolError{Code: e.Code, Info: e.Info, Err: e}
}

// ErrorCodeOf returns the RELOAD error code that err carries, for callers
// that only show the code or treat a local refusal and a remote one alike:
// the code of the first error in err's chain (errors.As order) that has an
// ErrorCode() (ErrorCode, bool) method: a *ProtocolError (this node
// refuses with the code), a *RemoteError (a peer answered with it), or
// another layer's error, such as the forwarding layer's request timeout,
// which reports Error_Request_Timeout. ok is false when err carries no
// code, or is an error answer whose body did not decode. A caller that
// must know who chose the code uses errors.As with *RemoteError or
// *ProtocolError instead.
func ErrorCodeOf(err error) (code ErrorCode, ok bool) {
	var c interface{ ErrorCode() (ErrorCode, bool) }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return 0, false
}

func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + hexString(b)
		}
	}
	return string(b)
}

// ErrorResponse is the body of an error message, code 0xffff (RFC 6940
// §6.3.3.1):
//
//	public struct {
//	  uint16             error_code;
//	  opaque             error_info<0..2^16-1>;
//	} ErrorResponse;
//
// Info aliases the decoded input.
type ErrorResponse struct {
	Code ErrorCode
	Info []byte
}

// Len is the encoded size.
func (e *ErrorResponse) Len() int { return 4 + len(e.Info) }

// Decode reads an ErrorResponse that fills b exactly.
func (e *ErrorResponse) Decode(b []byte) (int, error) {
	r := NewReader(b)
	c, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "ErrorResponse.error_code", 0)
	}
	info, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "ErrorResponse.error_info", 2)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "ErrorResponse", r.Offset())
	}
	e.Code, e.Info = ErrorCode(c), info
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *ErrorResponse) Append(b []byte) ([]byte, error) {
	b = AppendU16(b, uint16(e.Code))
	b, err := AppendVec16(b, e.Info)
	if err != nil {
		return b, fieldErr(err, "ErrorResponse.error_info", 2)
	}
	return b, nil
}
