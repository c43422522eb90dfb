package wire

import (
	"errors"
	"strconv"
)

// Sentinel decode and encode errors. Every error returned by a Decode or
// Append method in this package wraps exactly one of them; test with
// errors.Is.
var (
	// ErrTruncated: the input ends before the structure does.
	ErrTruncated = errors.New("wire: truncated")
	// ErrTrailingData: bytes are left over inside a length-prefixed field
	// or after a structure that must fill its window exactly.
	ErrTrailingData = errors.New("wire: trailing data")
	// ErrTooLong: a value does not fit the length prefix of its field.
	ErrTooLong = errors.New("wire: too long")
	// ErrInvalid: a field holds a value the RFC forbids.
	ErrInvalid = errors.New("wire: invalid value")
)

// DecodeError locates a decode failure: the field path (for example
// "ForwardingHeader.destination_list[1].length") and the byte offset,
// relative to the start of the buffer given to the outermost Decode, at
// which the failing field starts.
type DecodeError struct {
	Path   string
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return "wire: " + e.Path + " at byte " + strconv.Itoa(e.Offset) + ": " + trimPrefix(e.Err.Error())
}

// Unwrap returns the sentinel (or other cause).
func (e *DecodeError) Unwrap() error { return e.Err }

func trimPrefix(s string) string {
	if len(s) > 6 && s[:6] == "wire: " {
		return s[6:]
	}
	return s
}

// fieldErr makes err a *DecodeError for field at offset. When err already
// is a *DecodeError (from a nested structure), field becomes the head of its
// path and offset is added to its offset, so paths and offsets compose from
// the innermost structure outwards.
func fieldErr(err error, field string, offset int) error {
	var de *DecodeError
	if errors.As(err, &de) {
		if de.Path == "" {
			de.Path = field
		} else if field != "" {
			if de.Path[0] == '[' {
				de.Path = field + de.Path
			} else {
				de.Path = field + "." + de.Path
			}
		}
		de.Offset += offset
		return de
	}
	return &DecodeError{Path: field, Offset: offset, Err: err}
}

// indexErr is fieldErr for the i-th element of a list field.
func indexErr(err error, field string, i, offset int) error {
	return fieldErr(err, field+"["+strconv.Itoa(i)+"]", offset)
}

// FieldErr wraps err with a field name and the offset at which that field
// starts, composing with nested DecodeErrors. Usage packages that build
// their own structures on the primitives use it to report field paths the
// same way this package does.
func FieldErr(err error, field string, offset int) error { return fieldErr(err, field, offset) }

// IndexErr is FieldErr for the i-th element of a list field.
func IndexErr(err error, field string, i, offset int) error { return indexErr(err, field, i, offset) }
