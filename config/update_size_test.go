package config

import (
	"errors"
	"testing"
)

func TestCheckUpdateSize(t *testing.T) {
	for _, tc := range []struct {
		max    uint32
		doc    int
		tooBig bool
	}{
		{DefaultMaxMessageSize, 7000, true},
		{DefaultMaxMessageSize, DefaultMaxMessageSize - ConfigUpdateReserve, false},
		{DefaultMaxMessageSize, DefaultMaxMessageSize - ConfigUpdateReserve + 1, true},
		{RecommendedMaxMessageSize, 10000, false},
		{RecommendedMaxMessageSize, RecommendedMaxMessageSize, true},
		{0, 1 << 20, false}, // no limit
	} {
		c := New("size.example.org")
		c.MaxMessageSize = tc.max
		err := c.CheckUpdateSize(tc.doc)
		if got := errors.Is(err, ErrDocumentTooLarge); got != tc.tooBig || (err != nil) != tc.tooBig {
			t.Errorf("max %d, document %d: %v", tc.max, tc.doc, err)
		}
	}
}
