package transport

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/goreload/reload/wire"
)

func fragHeader(t *testing.T, f []byte) (wire.ForwardingHeader, int) {
	t.Helper()
	var h wire.ForwardingHeader
	n, err := h.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return h, n
}

func TestFragment(t *testing.T) {
	msg := pingMessage(t, 7, 5000, nodeID(1), nodeID(2))
	tests := []struct {
		name  string
		size  int
		count int
	}{
		{"fits", len(msg), 1},
		{"two", len(msg) - 1, 2},
		{"mtu 1200", 1200, 5},
		{"small", 400, 0}, // computed below
		{"header only room", 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frags, err := Fragment(msg, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if tt.count > 0 && len(frags) != tt.count {
				t.Fatalf("%d fragments, want %d", len(frags), tt.count)
			}
			if len(frags) == 1 {
				if !bytes.Equal(frags[0], msg) {
					t.Fatal("single fragment differs from the message")
				}
				return
			}
			var body []byte
			sizes := map[int]bool{}
			for i, f := range frags {
				if len(f) > tt.size {
					t.Fatalf("fragment %d is %d bytes > %d", i, len(f), tt.size)
				}
				h, n := fragHeader(t, f)
				if int(h.Length) != len(f) {
					t.Fatalf("fragment %d length field %d, size %d", i, h.Length, len(f))
				}
				if h.Fragment&wire.FragmentHistoric == 0 || h.FragmentOffsetBytes() != len(body) ||
					h.LastFragment() != (i == len(frags)-1) {
					t.Fatalf("fragment %d field %#x at body offset %d", i, h.Fragment, len(body))
				}
				if len(f)-n < MinFragmentBody {
					t.Fatalf("fragment %d body %d < 256", i, len(f)-n)
				}
				if i < len(frags)-1 {
					sizes[len(f)] = true
				}
				body = append(body, f[n:]...)
			}
			if len(sizes) != 1 {
				t.Fatalf("fragments not equal-sized: %v", sizes)
			}
			_, n := fragHeader(t, msg)
			if !bytes.Equal(body, msg[n:]) {
				t.Fatal("fragment bodies do not add up to the message body")
			}
		})
	}
}

func TestReassemble(t *testing.T) {
	msg := pingMessage(t, 9, 6000, nodeID(1), nodeID(2))
	frags, err := Fragment(msg, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Refragment one fragment further, as a transit hop with a smaller MTU.
	var all [][]byte
	for i, f := range frags {
		if i == 2 {
			sub, err := Fragment(f, 500)
			if err != nil || len(sub) < 2 {
				t.Fatalf("refragment: %d, %v", len(sub), err)
			}
			all = append(all, sub...)
			continue
		}
		all = append(all, f)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		order := rng.Perm(len(all))
		r := NewReassembler(ReassemblyConfig{})
		var got []byte
		for j, i := range order {
			w, err := r.Add(1, all[i], t0)
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			if w != nil && j != len(order)-1 {
				t.Fatalf("trial %d: complete after %d of %d", trial, j+1, len(all))
			}
			got = w
			if j%3 == 0 { // duplicates are harmless
				if w, err := r.Add(1, all[i], t0); err != nil || w != nil && j != len(order)-1 {
					t.Fatalf("duplicate: %v", err)
				}
			}
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("trial %d: reassembled message differs", trial)
		}
		if r.Buffered() != 0 || r.Incomplete() != 0 {
			t.Fatalf("trial %d: %d bytes left", trial, r.Buffered())
		}
	}
	// A whole message passes through.
	r := NewReassembler(ReassemblyConfig{})
	if w, err := r.Add(1, msg, t0); err != nil || !bytes.Equal(w, msg) {
		t.Fatalf("whole message: %v", err)
	}
}

// mutate returns a copy of fragment f with the fragment field and body
// changed.
func mutate(t *testing.T, f []byte, field uint32, body []byte) []byte {
	t.Helper()
	h, n := fragHeader(t, f)
	h.Fragment = field
	if body == nil {
		body = f[n:]
	}
	out, err := h.AppendMessage(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReassembleRejects(t *testing.T) {
	msg := pingMessage(t, 11, 3000, nodeID(1), nodeID(2))
	frags, err := Fragment(msg, 1200)
	if err != nil || len(frags) != 3 {
		t.Fatalf("%d fragments, %v", len(frags), err)
	}
	h1, n1 := fragHeader(t, frags[1])
	off1 := uint32(h1.FragmentOffsetBytes())
	body1 := frags[1][n1:]
	flip := append([]byte(nil), body1...)
	flip[0] ^= 1
	tests := []struct {
		name string
		adds [][]byte
		want error
	}{
		{"overlap", [][]byte{frags[0], mutate(t, frags[1], wire.FragmentHistoric|(off1-1), nil)}, ErrFragmentOverlap},
		{"same offset other bytes", [][]byte{frags[1], mutate(t, frags[1], wire.FragmentHistoric|off1, flip)}, ErrFragmentOverlap},
		{"two ends", [][]byte{frags[2], mutate(t, frags[1], wire.FragmentHistoric|wire.FragmentLast|off1, nil)}, ErrFragmentOverlap},
		{"past the end", [][]byte{frags[1][:0:0], frags[2], mutate(t, frags[2], wire.FragmentHistoric|(off1+5000), nil)}, ErrFragmentOverlap},
		{"too large", [][]byte{mutate(t, frags[1], wire.FragmentHistoric|0xffff00, nil)}, ErrFragmentTooLarge},
		{"empty middle", [][]byte{mutate(t, frags[1], wire.FragmentHistoric|off1, []byte{})}, ErrFragmentInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReassembler(ReassemblyConfig{})
			var err error
			for _, a := range tt.adds {
				if len(a) == 0 {
					continue
				}
				if _, err = r.Add(1, a, t0); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if r.Buffered() != 0 || r.Incomplete() != 0 {
				t.Fatalf("rejected message left %d bytes", r.Buffered())
			}
		})
	}
}

func TestReassembleLimits(t *testing.T) {
	msg := pingMessage(t, 12, 3000, nodeID(1), nodeID(2))
	frags, _ := Fragment(msg, 1200)
	msg2 := pingMessage(t, 13, 3000, nodeID(1), nodeID(2))
	frags2, _ := Fragment(msg2, 1200)

	r := NewReassembler(ReassemblyConfig{PerLink: 2000, Total: 3000})
	if _, err := r.Add(1, frags[0], t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(1, frags2[0], t0); !errors.Is(err, ErrReassemblyFull) {
		t.Fatalf("per-link limit: %v", err)
	}
	if _, err := r.Add(2, frags2[0], t0); err != nil {
		t.Fatalf("other link: %v", err)
	}
	if _, err := r.Add(3, frags2[1], t0); !errors.Is(err, ErrReassemblyFull) {
		t.Fatalf("global limit: %v", err)
	}
	// Timeout: 15 s after the first fragment, both incomplete messages go.
	if d := r.Deadline(); d != t0.Add(DefaultReassemblyTimeout) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	if n := r.Expire(t0.Add(DefaultReassemblyTimeout - time.Millisecond)); n != 0 {
		t.Fatalf("expired %d early", n)
	}
	if n := r.Expire(t0.Add(DefaultReassemblyTimeout)); n != 2 || r.Buffered() != 0 {
		t.Fatalf("expired %d, %d bytes left", n, r.Buffered())
	}
	// A late fragment starts over and does not complete the message.
	if w, err := r.Add(1, frags[1], t0.Add(20*time.Second)); w != nil || err != nil {
		t.Fatalf("late fragment: %v", err)
	}
}

func BenchmarkReassemble(b *testing.B) {
	msg := pingMessage(b, 1, 60000, nodeID(1), nodeID(2))
	frags, _ := Fragment(msg, 1200)
	r := NewReassembler(ReassemblyConfig{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		for _, f := range frags {
			if _, err := r.Add(1, f, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
}
