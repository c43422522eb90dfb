package fuzz

import (
	"bytes"
	"testing"

	"github.com/goreload/reload/wire"
	"github.com/goreload/reload/wire/wiretest"
)

// FuzzMessage runs hostile bytes through the whole codec as a destination
// does: the message, then its body by message code and its extensions.
// Whatever decodes must re-encode to the same bytes, because every field
// (unknown ones included) is kept.
func FuzzMessage(f *testing.F) {
	for _, s := range wiretest.Samples() {
		b, err := s.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m wire.Message
		n, err := m.Decode(b)
		if err != nil {
			return
		}
		enc, err := m.Append(nil)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("message re-encodes differently:\n%x\n%x", b[:n], enc)
		}
		if m.Header.IsFragment() {
			return
		}
		if body, ok := wire.NewBody(m.Contents.Code, 16); ok {
			if bn, err := body.Decode(m.Contents.Body); err == nil {
				if bn != len(m.Contents.Body) {
					t.Fatalf("%s body: consumed %d of %d", m.Contents.Code, bn, len(m.Contents.Body))
				}
				benc, err := body.Append(nil)
				if err != nil {
					t.Fatalf("%s body Append: %v", m.Contents.Code, err)
				}
				if !bytes.Equal(benc, m.Contents.Body) || body.Len() != len(benc) {
					t.Fatalf("%s body re-encodes differently:\n%x\n%x", m.Contents.Code, m.Contents.Body, benc)
				}
			}
		}
		for _, e := range m.Contents.Extensions {
			if v, ok := wire.NewExtension(e.Type, m.Contents.Code); ok {
				if _, err := v.Decode(e.Contents); err == nil {
					if _, err := v.Append(nil); err != nil {
						t.Fatalf("extension Append: %v", err)
					}
				}
			}
		}
	})
}

// FuzzFrame feeds a stream of frames as a TLS link delivers it.
func FuzzFrame(f *testing.F) {
	dgs, err := wiretest.Framed(wiretest.Samples()[:4])
	if err != nil {
		f.Fatal(err)
	}
	var stream []byte
	for _, d := range dgs {
		stream = append(stream, d.Payload...)
	}
	f.Add(stream)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			var fr wire.FramedMessage
			n, err := fr.Decode(b)
			if err != nil {
				return
			}
			if n <= 0 {
				t.Fatal("no progress")
			}
			if fr.Type == wire.FrameData {
				var m wire.Message
				_, _ = m.Decode(fr.Message)
			}
			b = b[n:]
		}
	})
}
