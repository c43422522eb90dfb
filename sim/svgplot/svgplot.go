package svgplot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
)

// Series is one line of a Chart.
type Series struct {
	Name  string
	X, Y  []float64
	Color string // CSS colour; default from a palette
	// Dash is an SVG stroke-dasharray ("6 4"); empty draws a solid line.
	Dash string
	// Markers draws a dot at each point.
	Markers bool
}

// VLine is a labelled vertical line at X.
type VLine struct {
	X     float64
	Label string
	Color string
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	// Log2X puts x on a base-2 logarithmic scale, ticked at powers of 2.
	Log2X bool
	// YMin and YMax fix the y range when YMax > YMin; otherwise it covers
	// the data (and 0 when ZeroY).
	YMin, YMax float64
	ZeroY      bool
	// YSuffix is appended to y tick labels ("%").
	YSuffix string
	Series  []Series
	VLines  []VLine
	// Width and Height in pixels (default 720 by 450).
	Width, Height int
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

const (
	marginLeft   = 72
	marginRight  = 24
	marginTop    = 44
	marginBottom = 56
)

// SVG renders the chart.
func (c *Chart) SVG() []byte {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 450
	}
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)

	// Data ranges.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			if i >= len(s.Y) || !finite(s.X[i]) || !finite(s.Y[i]) || (c.Log2X && s.X[i] <= 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	for _, v := range c.VLines {
		if finite(v.X) && (!c.Log2X || v.X > 0) {
			xmin, xmax = math.Min(xmin, v.X), math.Max(xmax, v.X)
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if c.ZeroY {
		ymin = math.Min(ymin, 0)
	}
	if c.YMax > c.YMin {
		ymin, ymax = c.YMin, c.YMax
	}

	// Ticks and the final ranges.
	var xticks []float64
	if c.Log2X {
		lo, hi := math.Floor(math.Log2(xmin)), math.Ceil(math.Log2(xmax))
		if hi == lo {
			hi++
		}
		step := math.Max(1, math.Ceil((hi-lo)/10))
		for e := lo; e <= hi; e += step {
			xticks = append(xticks, math.Exp2(e))
		}
		xmin, xmax = math.Exp2(lo), math.Exp2(hi)
	} else {
		xticks, xmin, xmax = niceTicks(xmin, xmax, 10)
	}
	var yticks []float64
	if c.YMax > c.YMin {
		yticks, _, _ = niceTicks(ymin, ymax, 8)
		yticks = inside(yticks, ymin, ymax)
	} else {
		yticks, ymin, ymax = niceTicks(ymin, ymax, 8)
	}

	px := func(x float64) float64 {
		if c.Log2X {
			return marginLeft + pw*(math.Log2(x)-math.Log2(xmin))/(math.Log2(xmax)-math.Log2(xmin))
		}
		return marginLeft + pw*(x-xmin)/(xmax-xmin)
	}
	py := func(y float64) float64 {
		return marginTop + ph*(1-(y-ymin)/(ymax-ymin))
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">
<rect width="100%%" height="100%%" fill="white"/>
`, w, h, w, h)
	text := func(x, y float64, anchor, extra, s string) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, extra, esc(s))
	}
	text(float64(w)/2, 26, "middle", ` font-size="16" font-weight="bold"`, c.Title)

	// Grid and tick labels.
	for _, t := range xticks {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", x, marginTop, x, marginTop+ph)
		text(x, marginTop+ph+18, "middle", "", label(t))
	}
	for _, t := range yticks {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", marginLeft, y, marginLeft+pw, y)
		text(marginLeft-8, y+4, "end", "", label(t)+c.YSuffix)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", marginLeft, marginTop, pw, ph)
	text(marginLeft+pw/2, float64(h)-14, "middle", "", c.XLabel)
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">%s</text>`+"\n",
		marginTop+ph/2, marginTop+ph/2, esc(c.YLabel))

	// Clip the data to the plot area.
	fmt.Fprintf(&b, `<clipPath id="plot"><rect x="%d" y="%d" width="%.1f" height="%.1f"/></clipPath>`+"\n", marginLeft, marginTop, pw, ph)
	b.WriteString(`<g clip-path="url(#plot)">` + "\n")
	for i, v := range c.VLines {
		if !finite(v.X) || v.X < xmin || v.X > xmax {
			continue
		}
		col := v.Color
		if col == "" {
			col = "#777"
		}
		x := px(v.X)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="3 3"/>`+"\n", x, marginTop, x, marginTop+ph, col)
		// Labels go right of their line, or left of it in the right part
		// of the plot, one row each so that close lines stay legible.
		lx, anchor := x+4, "start"
		if x > marginLeft+0.6*pw {
			lx, anchor = x-4, "end"
		}
		text(lx, marginTop+14+16*float64(i), anchor, fmt.Sprintf(` fill="%s" font-size="12" stroke="white" stroke-width="3" paint-order="stroke"`, col), v.Label)
	}
	for i, s := range c.Series {
		col := s.Color
		if col == "" {
			col = palette[i%len(palette)]
		}
		var pts bytes.Buffer
		for j := range s.X {
			if j >= len(s.Y) || !finite(s.X[j]) || !finite(s.Y[j]) || (c.Log2X && s.X[j] <= 0) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.X[j]), py(s.Y[j]))
		}
		dash := ""
		if s.Dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.Dash)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", col, dash, bytes.TrimSpace(pts.Bytes()))
		if s.Markers {
			for j := range s.X {
				if j < len(s.Y) && finite(s.X[j]) && finite(s.Y[j]) && (!c.Log2X || s.X[j] > 0) {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(s.X[j]), py(s.Y[j]), col)
				}
			}
		}
	}
	b.WriteString("</g>\n")

	// Legend, top left inside the plot.
	if len(c.Series) > 0 {
		lw := 0
		for _, s := range c.Series {
			lw = max(lw, len([]rune(s.Name)))
		}
		bw, bh := float64(lw)*7.4+44, float64(len(c.Series))*20+8
		lx, ly := float64(marginLeft)+10, float64(marginTop)+10
		if c.legendRight() {
			lx = marginLeft + pw - bw - 10
		}
		if c.legendBottom(ymin, ymax) {
			ly = marginTop + ph - bh - 10
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="white" fill-opacity="0.9" stroke="#bbb"/>`+"\n", lx, ly, bw, bh)
		for i, s := range c.Series {
			col := s.Color
			if col == "" {
				col = palette[i%len(palette)]
			}
			y := ly + 14 + float64(i)*20
			dash := ""
			if s.Dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.Dash)
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx+8, y, lx+32, y, col, dash)
			if s.Markers {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", lx+20, y, col)
			}
			text(lx+38, y+4, "start", "", s.Name)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// legendRight places the legend on the right when a vertical line is
// near the left edge.
func (c *Chart) legendRight() bool {
	return len(c.VLines) > 0
}

// legendBottom places the legend at the bottom when the data keep to
// the top of the plot at its left or right end (where the legend goes).
func (c *Chart) legendBottom(ymin, ymax float64) bool {
	right := c.legendRight()
	for _, s := range c.Series {
		n := len(s.Y)
		if n == 0 {
			continue
		}
		i := 0
		if right {
			i = n - 1
		}
		if (s.Y[i]-ymin)/(ymax-ymin) > 0.6 {
			return true
		}
	}
	return false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// label formats a tick value without needless digits.
func label(v float64) string {
	if math.Abs(v) < 1e-9 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// niceTicks returns about n round tick values covering [lo, hi] and the
// range they span.
func niceTicks(lo, hi float64, n int) (ticks []float64, min, max float64) {
	if hi <= lo {
		if lo == 0 {
			hi = 1
		} else {
			lo, hi = lo-math.Abs(lo)*0.1, hi+math.Abs(hi)*0.1
		}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	min, max = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for t := min; t <= max+step/2; t += step {
		ticks = append(ticks, math.Round(t/step)*step)
	}
	return ticks, min, max
}

func inside(ts []float64, lo, hi float64) []float64 {
	var out []float64
	for _, t := range ts {
		if t >= lo-1e-9 && t <= hi+1e-9 {
			out = append(out, t)
		}
	}
	return out
}
