package svgplot

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestSVGWellFormed(t *testing.T) {
	for _, c := range []*Chart{
		{Title: "a < b & c", Log2X: true, ZeroY: true, Series: []Series{{Name: "x", X: []float64{16, 64, 4096}, Y: []float64{2, 3, 6}, Markers: true}}},
		{YMin: 70, YMax: 102, YSuffix: "%", VLines: []VLine{{X: 0, Label: "t0"}}, Series: []Series{{Name: "y", X: []float64{-5, 0, 5}, Y: []float64{100, 70, 100}, Dash: "4 2"}}},
		{Title: "empty"},
	} {
		b := c.SVG()
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q: %v\n%s", c.Title, err, b)
			}
		}
		if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Inf") {
			t.Errorf("%q: non-finite coordinates\n%s", c.Title, b)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	ticks, lo, hi := niceTicks(0.3, 9.6, 8)
	if lo != 0 || hi != 10 || len(ticks) < 5 || ticks[0] != 0 || ticks[len(ticks)-1] != 10 {
		t.Errorf("ticks %v over [%v, %v]", ticks, lo, hi)
	}
}
