package config

import (
	"errors"
	"testing"
)

// redirDoc is a configuration whose REDIR kind element carries the given
// redir:branching-factor elements (RFC 7374 §8).
func redirDoc(bf ...string) []byte {
	s := `<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base" xmlns:redir="urn:ietf:params:xml:ns:p2p:redir">` +
		`<configuration instance-name="x.example"><mandatory-extension>urn:ietf:params:xml:ns:p2p:redir</mandatory-extension>` +
		`<required-kinds><kind-block><kind name="REDIR"><data-model>DICTIONARY</data-model><access-control>NODE-ID-MATCH</access-control>` +
		`<max-count>100</max-count><max-size>1000</max-size>`
	for _, b := range bf {
		s += `<redir:branching-factor>` + b + `</redir:branching-factor>`
	}
	return []byte(s + `</kind></kind-block></required-kinds></configuration></overlay>`)
}

// TestRedirBranchingFactor: redir:branching-factor inside the REDIR kind
// element (RFC 7374 §8) reaches KindInfo; absent it is 0 (the user of
// the Kind applies the default 10); a value below 2 is refused.
func TestRedirBranchingFactor(t *testing.T) {
	for _, c := range []struct {
		bf   []string
		want int
		bad  bool
	}{
		{nil, 0, false},
		{[]string{"4"}, 4, false},
		{[]string{" 10 "}, 10, false},
		{[]string{"1"}, 0, true},
		{[]string{"x"}, 0, true},
	} {
		o, err := Parse(redirDoc(c.bf...))
		if err != nil {
			t.Fatalf("%v: Parse: %v", c.bf, err)
		}
		ks, err := o.Configurations[0].Kinds()
		if c.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v: Kinds() = %v, want ErrInvalid", c.bf, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", c.bf, err)
		}
		info, ok := ks.Lookup(0x104)
		if !ok || info.BranchingFactor != c.want {
			t.Errorf("%v: branching factor %d (%v), want %d", c.bf, info.BranchingFactor, ok, c.want)
		}
	}
}
