package webui

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestContrast: the page's colours meet WCAG 2.1 AA (success criteria
// 1.4.3 and 1.4.11): text at least 4.5:1 against the backgrounds it is
// drawn on, the ring's marks and the focus ring at least 3:1 against
// white.
func TestContrast(t *testing.T) {
	css, err := fs.ReadFile(Static, "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+):\s*(#[0-9a-fA-F]{3,6})\b`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	color := func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		t.Fatalf("style.css defines no --%s", name)
		return ""
	}
	text := [][2]string{
		{color("fg"), color("bg")}, {color("fg"), color("panel")},
		{color("muted"), color("bg")}, {color("muted"), color("panel")},
		{"#a40e26", color("panel")}, {"#14532d", color("panel")}, // #status, #status.ok
		{"#ffffff", "#1a7f37"}, {"#ffffff", "#57606a"}, // buttons, disabled buttons
	}
	for _, p := range text {
		if r := contrast(t, p[0], p[1]); r < 4.5 {
			t.Errorf("text %s on %s: %.2f:1, want at least 4.5:1", p[0], p[1], r)
		}
	}
	for _, name := range []string{"self", "succ", "pred", "finger", "other", "path", "focus"} {
		if r := contrast(t, color(name), "#ffffff"); r < 3 {
			t.Errorf("--%s %s on white: %.2f:1, want at least 3:1", name, color(name), r)
		}
	}
}

// contrast is the WCAG 2.1 contrast ratio of two sRGB colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	h := hex[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
