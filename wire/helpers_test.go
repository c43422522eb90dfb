package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// codec is the Decode/Append/Len triple every PDU type has.
type codec interface {
	Decode([]byte) (int, error)
	Append([]byte) ([]byte, error)
	Len() int
}

// loadVector reads testdata/vectors/NAME.hex from the repository root: hex
// digits with '#' comments and any white space.
func loadVector(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	return parseHexVector(t, string(raw))
}

func parseHexVector(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad hex vector: %v", err)
	}
	return b
}

// checkGolden decodes vec into a fresh T, compares it with want, and
// appends want to compare the bytes with vec: the vector is checked in both
// directions.
func checkGolden[T any, P interface {
	*T
	codec
}](t *testing.T, vec []byte, want P) {
	t.Helper()
	got := P(new(T))
	n, err := got.Decode(vec)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n != len(vec) {
		t.Fatalf("Decode consumed %d of %d bytes", n, len(vec))
	}
	if !equalish(got, want) {
		t.Errorf("Decode mismatch:\n got %+v\nwant %+v", got, want)
	}
	enc, err := want.Append(nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !bytes.Equal(enc, vec) {
		t.Errorf("Append mismatch:\n got %x\nwant %x", enc, vec)
	}
	if want.Len() != len(vec) {
		t.Errorf("Len = %d, want %d", want.Len(), len(vec))
	}
}

// checkRoundTrip is the fuzz invariant: if b decodes, the value encodes to
// Len() bytes, and those bytes decode to an equal value that encodes the
// same again.
func checkRoundTrip[T any, P interface {
	*T
	codec
}](t testing.TB, b []byte) {
	t.Helper()
	v := P(new(T))
	n, err := v.Decode(b)
	if err != nil {
		return
	}
	if n < 0 || n > len(b) {
		t.Fatalf("Decode returned n=%d for %d bytes", n, len(b))
	}
	enc, err := v.Append(nil)
	if err != nil {
		t.Fatalf("Append after successful Decode: %v", err)
	}
	if len(enc) != v.Len() {
		t.Fatalf("len(Append) = %d, Len() = %d", len(enc), v.Len())
	}
	w := P(new(T))
	if _, err := w.Decode(enc); err != nil {
		t.Fatalf("re-Decode: %v\n%x", err, enc)
	}
	if !equalish(v, w) {
		t.Fatalf("re-Decode mismatch:\n first %+v\nsecond %+v", v, w)
	}
	enc2, err := w.Append(nil)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("second Append differs: %v\n%x\n%x", err, enc, enc2)
	}
}

// checkTruncated: every strict prefix of a valid encoding fails with
// ErrTruncated and a *DecodeError.
func checkTruncated[T any, P interface {
	*T
	codec
}](t *testing.T, vec []byte) {
	t.Helper()
	for i := range len(vec) {
		v := P(new(T))
		_, err := v.Decode(vec[:i])
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrTruncated", i, len(vec), err)
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("prefix of %d bytes: %T is not a *DecodeError", i, err)
		}
	}
}

// equalish compares decoded values treating nil and empty slices alike.
func equalish(a, b any) bool {
	return reflect.DeepEqual(normalize(reflect.ValueOf(a)), normalize(reflect.ValueOf(b)))
}

func normalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return normalize(v.Elem())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := make([]any, v.NumField())
		for i := range out {
			f := v.Field(i)
			if !f.CanInterface() {
				// unexported: compare via a copy of the whole struct
				out[i] = reflectUnexported(v, i)
				continue
			}
			out[i] = normalize(f)
		}
		return out
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	}
	if v.CanInterface() {
		return v.Interface()
	}
	return nil
}

func reflectUnexported(v reflect.Value, i int) any {
	f := v.Field(i)
	switch f.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return f.Uint()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f.Int()
	case reflect.Bool:
		return f.Bool()
	case reflect.String:
		return f.String()
	case reflect.Array:
		out := make([]any, f.Len())
		for j := range out {
			out[j] = reflectUnexported2(f.Index(j))
		}
		return out
	}
	return nil
}

func reflectUnexported2(f reflect.Value) any {
	switch f.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return f.Uint()
	}
	return nil
}
