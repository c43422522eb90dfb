// Package fuzz holds cross-layer fuzz harnesses for the RELOAD stack
// (bytes through the codec into the layers above). Per-decoder fuzz targets
// live beside their decoders as FuzzDecodeX.
package fuzz
