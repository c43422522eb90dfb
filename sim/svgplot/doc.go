// Package svgplot draws the simulator's line charts as standalone SVG
// files with the standard library only: axes with round ticks (a linear
// or base-2 logarithmic x axis), a grid, lines with optional markers and
// dashes, vertical marker lines and a legend.
package svgplot
