package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example: two peers on loopback store, fetch, are
// refused where PRESENCE's access control and max-size say, and ping.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"PRESENCE: kind-id 0xF0000001, DICTIONARY, USER-NODE-MATCH, max-count 8, max-size 256",
		`<kind id="4026531841">`,
		"1. alice stored",
		"2. bob fetched alice's presence",
		"3. bob's store under alice's name was refused: Error_Forbidden",
		"4. a 332-byte presence was refused: Error_Data_Too_Large",
		"5. bob pinged alice's peer",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
