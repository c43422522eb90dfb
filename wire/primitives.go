package wire

import "encoding/binary"

// Reader reads big-endian RELOAD presentation-language fields (RFC 6940
// §6.3.1) from a byte slice. It never allocates and never copies: slices it
// returns alias the input. Offset reports how far it has read, so callers
// can locate errors.
//
// Every Read method returns ErrTruncated when the input ends early and
// leaves the Reader unchanged in that case.
type Reader struct {
	buf []byte
	off int
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{buf: b} }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// Empty reports whether every byte has been read.
func (r *Reader) Empty() bool { return r.off == len(r.buf) }

// Offset is the number of bytes read so far.
func (r *Reader) Offset() int { return r.off }

// Rest returns the unread bytes and consumes them.
func (r *Reader) Rest() []byte {
	b := r.buf[r.off:]
	r.off = len(r.buf)
	return b
}

// Peek returns the unread bytes without consuming them.
func (r *Reader) Peek() []byte { return r.buf[r.off:] }

// Skip consumes n bytes.
func (r *Reader) Skip(n int) error {
	if n < 0 || n > r.Len() {
		return ErrTruncated
	}
	r.off += n
	return nil
}

// ReadU8 reads a uint8.
func (r *Reader) ReadU8() (uint8, error) {
	if r.Len() < 1 {
		return 0, ErrTruncated
	}
	v := r.buf[r.off]
	r.off++
	return v, nil
}

// ReadU16 reads a big-endian uint16.
func (r *Reader) ReadU16() (uint16, error) {
	if r.Len() < 2 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint16(r.buf[r.off:])
	r.off += 2
	return v, nil
}

// ReadU24 reads a big-endian 24-bit unsigned integer.
func (r *Reader) ReadU24() (uint32, error) {
	if r.Len() < 3 {
		return 0, ErrTruncated
	}
	b := r.buf[r.off:]
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	r.off += 3
	return v, nil
}

// ReadU32 reads a big-endian uint32.
func (r *Reader) ReadU32() (uint32, error) {
	if r.Len() < 4 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint32(r.buf[r.off:])
	r.off += 4
	return v, nil
}

// ReadU64 reads a big-endian uint64.
func (r *Reader) ReadU64() (uint64, error) {
	if r.Len() < 8 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint64(r.buf[r.off:])
	r.off += 8
	return v, nil
}

// ReadFixed reads exactly n bytes (a fixed-length opaque x[n]).
func (r *Reader) ReadFixed(n int) ([]byte, error) {
	if n < 0 || n > r.Len() {
		return nil, ErrTruncated
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

// vecAt returns the n bytes that follow a prefix of width bytes at the
// read position, or ErrTruncated, leaving the Reader unchanged on error.
func (r *Reader) vecAt(width, n int) ([]byte, error) {
	if n > len(r.buf)-r.off-width {
		return nil, ErrTruncated
	}
	start := r.off + width
	r.off = start + n
	return r.buf[start : start+n : start+n], nil
}

// ReadVec8 reads an opaque x<0..2^8-1>.
func (r *Reader) ReadVec8() ([]byte, error) {
	if r.off >= len(r.buf) {
		return nil, ErrTruncated
	}
	return r.vecAt(1, int(r.buf[r.off]))
}

// ReadVec16 reads an opaque x<0..2^16-1>.
func (r *Reader) ReadVec16() ([]byte, error) {
	if len(r.buf)-r.off < 2 {
		return nil, ErrTruncated
	}
	return r.vecAt(2, int(binary.BigEndian.Uint16(r.buf[r.off:])))
}

// ReadVec24 reads an opaque x<0..2^24-1>.
func (r *Reader) ReadVec24() ([]byte, error) {
	if len(r.buf)-r.off < 3 {
		return nil, ErrTruncated
	}
	b := r.buf[r.off:]
	return r.vecAt(3, int(b[0])<<16|int(b[1])<<8|int(b[2]))
}

// ReadVec32 reads an opaque x<0..2^32-1>.
func (r *Reader) ReadVec32() ([]byte, error) {
	if len(r.buf)-r.off < 4 {
		return nil, ErrTruncated
	}
	return r.vecAt(4, int(binary.BigEndian.Uint32(r.buf[r.off:])))
}

// ReadBool reads a Boolean (RFC 6940 §6.3.1.1); values other than 0 and 1
// are ErrInvalid.
func (r *Reader) ReadBool() (bool, error) {
	if r.Len() < 1 {
		return false, ErrTruncated
	}
	switch r.buf[r.off] {
	case 0:
		r.off++
		return false, nil
	case 1:
		r.off++
		return true, nil
	}
	return false, ErrInvalid
}

// AppendU8 appends v.
func AppendU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendU16 appends v big-endian.
func AppendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendU24 appends the low 24 bits of v big-endian.
func AppendU24(b []byte, v uint32) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

// AppendU32 appends v big-endian.
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendU64 appends v big-endian.
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendBool appends a Boolean.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// maxVec is the largest length a prefix of width bytes can hold.
func maxVec(width int) int { return 1<<(8*width) - 1 }

// BeginVec reserves a length prefix of width bytes (1 to 4) and returns the
// extended slice and a mark to give to EndVec once the body is appended.
func BeginVec(b []byte, width int) ([]byte, int) {
	mark := len(b)
	for range width {
		b = append(b, 0)
	}
	return b, mark
}

// EndVec backfills the prefix reserved by BeginVec with the length of what
// was appended since. It returns ErrTooLong when that does not fit.
func EndVec(b []byte, mark, width int) ([]byte, error) {
	n := len(b) - mark - width
	if n < 0 {
		return b, ErrInvalid
	}
	if n > maxVec(width) {
		return b, ErrTooLong
	}
	for i := width - 1; i >= 0; i-- {
		b[mark+i] = byte(n)
		n >>= 8
	}
	return b, nil
}

// appendVec appends data with a length prefix of width bytes.
func appendVec(b []byte, width int, data []byte) ([]byte, error) {
	n := len(data)
	if n > maxVec(width) {
		return b, ErrTooLong
	}
	for i := width - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return append(b, data...), nil
}

// AppendVec8 appends an opaque x<0..2^8-1>.
func AppendVec8(b, data []byte) ([]byte, error) { return appendVec(b, 1, data) }

// AppendVec16 appends an opaque x<0..2^16-1>.
func AppendVec16(b, data []byte) ([]byte, error) { return appendVec(b, 2, data) }

// AppendVec24 appends an opaque x<0..2^24-1>.
func AppendVec24(b, data []byte) ([]byte, error) { return appendVec(b, 3, data) }

// AppendVec32 appends an opaque x<0..2^32-1>.
func AppendVec32(b, data []byte) ([]byte, error) { return appendVec(b, 4, data) }

// readVec reads an opaque vector with a length prefix of width bytes (1 to
// 4).
func (r *Reader) readVec(width int) ([]byte, error) {
	switch width {
	case 1:
		return r.ReadVec8()
	case 2:
		return r.ReadVec16()
	case 3:
		return r.ReadVec24()
	}
	return r.ReadVec32()
}
