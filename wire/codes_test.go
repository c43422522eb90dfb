package wire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// An error this node answers with (ProtocolError) goes on the wire as an
// ErrorResponse (RFC 6940 §6.3.3.1) and comes back out of
// ParseErrorAnswer as a RemoteError with the same code and info, naming
// the peer that signed it.
func TestErrorAnswerRoundTrip(t *testing.T) {
	from := MustNodeID(bytes.Repeat([]byte{0xab}, 16))
	for _, pe := range []*ProtocolError{
		{Code: ErrCodeNotFound, Info: []byte("no such resource")},
		{Code: ErrCodeForbidden},
		{Code: ErrCodeUnderlayDestinationUnreachable, Info: []byte{0, 1, 0xff}},
		{Code: ErrorCode(0x7777), Info: []byte("unregistered code")},
	} {
		er := pe.Response()
		body, err := er.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		re := ParseErrorAnswer(body, from)
		if re.Code != pe.Code || !bytes.Equal(re.Info, pe.Info) || re.From != from || re.Err != nil {
			t.Errorf("%v: parsed %+v", pe, re)
		}
		if back := re.Response(); back.Code != pe.Code || !bytes.Equal(back.Info, pe.Info) {
			t.Errorf("%v: response %+v", pe, back)
		}
		// Info is the RemoteError's own copy, not the message buffer.
		if len(body) > 4 {
			body[4] ^= 0xff
			if !bytes.Equal(re.Info, pe.Info) {
				t.Errorf("%v: Info aliases the answer body", pe)
			}
		}
		if code, ok := ErrorCodeOf(re); !ok || code != pe.Code {
			t.Errorf("ErrorCodeOf(%v) = %v, %v", re, code, ok)
		}
	}
}

// A body that is not an ErrorResponse is still an error answer, but one
// without a code: ErrorCodeOf says so, and the decode error is wrapped.
func TestParseErrorAnswerMalformed(t *testing.T) {
	for _, tc := range []struct {
		body []byte
		want error
	}{
		{nil, ErrTruncated},
		{[]byte{0, 3, 0, 5, 'a'}, ErrTruncated},
		{[]byte{0, 3, 0, 0, 1}, ErrTrailingData},
	} {
		re := ParseErrorAnswer(tc.body, NodeID{})
		if !errors.Is(re, tc.want) || re.Code != ErrCodeInvalid || re.Info != nil {
			t.Errorf("%x: %+v, want a RemoteError wrapping %v", tc.body, re, tc.want)
		}
		if code, ok := ErrorCodeOf(re); ok {
			t.Errorf("%x: ErrorCodeOf = %v, true", tc.body, code)
		}
		if pe := re.Relay(); pe.Code != ErrCodeInvalidMessage || !errors.Is(pe, tc.want) {
			t.Errorf("%x: relayed as %v", tc.body, pe)
		}
	}
}

// coded stands for another layer's error with a code, such as a local
// request timeout.
type coded struct{}

func (coded) Error() string                { return "timed out" }
func (coded) ErrorCode() (ErrorCode, bool) { return ErrCodeRequestTimeout, true }

// ErrorCodeOf reads the code of a local refusal, a remote answer or
// another layer's coded error, through wrapping; the outermost one wins.
func TestErrorCodeOf(t *testing.T) {
	remote := &RemoteError{Code: ErrCodeNotFound}
	for _, tc := range []struct {
		err  error
		code ErrorCode
		ok   bool
	}{
		{nil, 0, false},
		{errors.New("no route"), 0, false},
		{&ProtocolError{Code: ErrCodeForbidden}, ErrCodeForbidden, true},
		{fmt.Errorf("store: %w", &ProtocolError{Code: ErrCodeDataTooLarge}), ErrCodeDataTooLarge, true},
		{remote, ErrCodeNotFound, true},
		{fmt.Errorf("fetch: %w", remote), ErrCodeNotFound, true},
		{remote.Relay(), ErrCodeNotFound, true},
		{&ProtocolError{Code: ErrCodeInvalidMessage, Err: remote}, ErrCodeInvalidMessage, true},
		{fmt.Errorf("ping: %w", coded{}), ErrCodeRequestTimeout, true},
	} {
		if code, ok := ErrorCodeOf(tc.err); code != tc.code || ok != tc.ok {
			t.Errorf("ErrorCodeOf(%v) = %v, %v; want %v, %v", tc.err, code, ok, tc.code, tc.ok)
		}
	}
	// A remote answer is not a code to answer with.
	if _, ok := errors.AsType[*ProtocolError](fmt.Errorf("fetch: %w", remote)); ok {
		t.Error("a RemoteError is a ProtocolError")
	}
}
