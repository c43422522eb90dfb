package config

import (
	"errors"
	"testing"
)

// TestSelfTuningConfig: RFC 7363 §7's element and namespace turn
// self-tuning on, survive writing and parsing, and a bad value is refused.
func TestSelfTuningConfig(t *testing.T) {
	c := New("overlay.example.org")
	if on, _, err := c.SelfTuning(); on || err != nil {
		t.Fatalf("default: on=%v err=%v", on, err)
	}
	c.SetSelfTuning(6)
	on, peers, err := c.SelfTuning()
	if !on || peers != 6 || err != nil {
		t.Fatalf("after SetSelfTuning(6): %v %d %v", on, peers, err)
	}
	doc, err := (&Document{Configurations: []*Configuration{c}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	p := d.Configurations[0]
	if on, peers, err := p.SelfTuning(); !on || peers != 6 || err != nil {
		t.Fatalf("parsed: %v %d %v\n%s", on, peers, err, doc)
	}
	p.Extensions[len(p.Extensions)-1].Inner = []byte("-1")
	if _, _, err := p.SelfTuning(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad value: %v", err)
	}
	c.SetSelfTuning(0)
	if on, peers, _ := c.SelfTuning(); !on || peers != DefaultPeersToProbe {
		t.Fatalf("namespace only: %v %d", on, peers)
	}
}
